//! Child processes of a run: each started with its output in a log file, killed (by its own
//! pid) when its guard drops, and waited on through what it writes, with a deadline.

use std::{
    fs::File,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _};

/// How long a service gets to come up before the run fails.
pub const STARTUP: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);

/// A running child; killed and reaped on drop, so that no service outlives the run.
pub struct Proc {
    name: String,
    child: Child,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
}

impl Proc {
    /// Starts `command` with stdout and stderr appended to `<logs>/<name>.log`.
    pub fn spawn(name: &str, mut command: Command, logs: &Path) -> anyhow::Result<Self> {
        let log = logs.join(format!("{name}.log"));
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {name} ({:?})", command.get_program()))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log,
        })
    }

    /// The process id (for `perf record -p`, `strace -p`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the log has a line containing `needle`; returns what follows the needle on
    /// that line, with terminal colour codes removed. Fails early if the process exits.
    pub fn wait_for(&mut self, needle: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + STARTUP;
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let text = strip_ansi(&text);
            if let Some(line) = text.lines().find(|l| l.contains(needle)) {
                let at = line.find(needle).unwrap_or(0) + needle.len();
                return Ok(line[at..].trim().to_owned());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before saying {needle:?}; its log:\n{}",
                    self.name,
                    tail(&text)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not say {needle:?} within {STARTUP:?}; its log:\n{}",
                    self.name,
                    tail(&text)
                );
            }
            thread::sleep(POLL);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for a file to exist and be non-empty; returns its trimmed content.
pub fn wait_for_file(path: &Path) -> anyhow::Result<String> {
    let deadline = Instant::now() + STARTUP;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if !text.trim().is_empty() {
                return Ok(text.trim().to_owned());
            }
        }
        if Instant::now() > deadline {
            bail!("{} did not appear within {STARTUP:?}", path.display());
        }
        thread::sleep(POLL);
    }
}

/// A loopback port that was free a moment ago, for a service that must be told its address
/// before it starts (the gateway's URL goes into the control plane's configuration).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Runs `command` to completion; returns its stdout, or fails with its stderr.
pub fn output(command: &mut Command) -> anyhow::Result<String> {
    let program = format!("{:?}", command.get_program());
    let out = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `name` on `PATH`, then in `~/.cargo/bin` (where `cargo install` puts it).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let cargo_bin = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin"));
    std::env::split_paths(&path)
        .chain(cargo_bin)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Removes ANSI escape sequences (bore colours its log even into a file).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters… final byte in @..~
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_are_removed() {
        let line = "\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m listening at 127.0.0.1:47931";
        assert_eq!(strip_ansi(line), "2026  INFO listening at 127.0.0.1:47931");
    }
}
