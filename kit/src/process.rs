//! Child processes under supervision: started with their output appended to a log file, made
//! ready by waiting on what they write or do (every wait bounded, and failing at once, with the
//! end of the log, if the process dies first), and ended by their own pid — on drop, unless
//! they were [detached](Supervised::detach) to outlive their starter (the lab's services).

mod log;

use std::{
    fs,
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::Duration,
};

use anyhow::{bail, Context as _};
use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};

use crate::wait::POLL;

pub use log::{strip_ansi, tail, LogWatch};

/// How many of its last lines a child's log shows when a test fails: enough for the agent's
/// debug log around the failure.
const FAILURE_LINES: usize = 200;

/// A command for `program`, run through `launcher` when there is one (`ip netns exec NS`,
/// which execs, so the child's pid is the program's), with no stdin, no proxy settings and no
/// backtraces (an error at start-up should read as one line in a log).
pub fn command(launcher: &[String], program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = match launcher.split_first() {
        Some((first, rest)) => {
            let mut cmd = Command::new(first);
            cmd.args(rest).arg(program);
            cmd
        }
        None => Command::new(program),
    };
    cmd.stdin(Stdio::null());
    for var in crate::PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd.env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE");
    cmd
}

/// What identifies a running process across restarts of its starter: its pid and the time it
/// started (a recycled pid has another).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// What it is (`gateway`, `instance-1`).
    pub name: String,
    pub pid: u32,
    /// Field 22 of `/proc/<pid>/stat`: clock ticks after boot.
    pub start_time: u64,
}

/// A running child, its output in a log file.
pub struct Supervised {
    name: String,
    child: Child,
    log: PathBuf,
    /// The log, kept open: readable even once its directory is removed.
    output: fs::File,
    /// Killed on drop unless detached.
    detached: bool,
}

impl Supervised {
    /// Starts `cmd` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, cmd: Command, log: &Path) -> anyhow::Result<Self> {
        Self::start(name, cmd, log, false)
    }

    /// Like [`Supervised::spawn`], in a process group of its own, so that a Ctrl-C in the
    /// starter's terminal does not reach it: for services that outlive their starter.
    pub fn spawn_in_own_group(name: &str, cmd: Command, log: &Path) -> anyhow::Result<Self> {
        Self::start(name, cmd, log, true)
    }

    fn start(name: &str, mut cmd: Command, log: &Path, own_group: bool) -> anyhow::Result<Self> {
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let output = file.try_clone()?;
        cmd.stdout(file.try_clone()?).stderr(file);
        if own_group {
            cmd.process_group(0);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {name} ({:?})", cmd.get_program()))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
            output,
            detached: false,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of its log, indented, for an error message.
    pub fn tail(&self, lines: usize) -> String {
        log::tail_of(&self.output, &self.log.display().to_string(), lines)
    }

    /// Its pid and start time.
    pub fn record(&self) -> Record {
        Record {
            name: self.name.clone(),
            pid: self.pid(),
            start_time: start_time(self.pid()).unwrap_or(0),
        }
    }

    /// Waits up to `limit` for `ready` to give a value, checking that the process still runs.
    /// `what` names the wait in errors, which end with the log's last lines.
    pub async fn ready<T>(
        &mut self,
        what: &str,
        limit: Duration,
        mut ready: impl FnMut() -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut tick = tokio::time::interval(POLL);
        loop {
            if let Some(value) = ready() {
                return Ok(value);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before {what}; {}",
                    self.name,
                    self.tail(15)
                );
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "{} did not get to {what} within {limit:?}; {}",
                    self.name,
                    self.tail(15)
                );
            }
            tick.tick().await;
        }
    }

    /// Waits up to `limit` for a line of the log containing `needle`; returns that line,
    /// without terminal colours.
    pub async fn line(&mut self, needle: &str, limit: Duration) -> anyhow::Result<String> {
        let watch = LogWatch::from_start(&self.log);
        let what = format!("saying {needle:?}");
        self.ready(&what, limit, || watch.find(needle)).await
    }

    /// Whether it has exited (and its status, reaped).
    pub fn try_wait(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let _ = kill(Pid::from_raw(self.pid() as i32), Signal::SIGTERM);
    }

    /// Sends SIGINT, as a Ctrl-C in its terminal would.
    pub fn interrupt(&self) {
        let _ = kill(Pid::from_raw(self.pid() as i32), Signal::SIGINT);
    }

    /// Waits up to `limit` for it to exit.
    pub async fn wait_exit(&mut self, limit: Duration) -> anyhow::Result<ExitStatus> {
        let child = &mut self.child;
        let status = crate::wait::until(limit, || child.try_wait().ok().flatten()).await;
        status.with_context(|| format!("{} did not exit within {limit:?}", self.name))
    }

    /// SIGKILL, and reaped.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Lets the process outlive this handle; returns its record, to stop it later by pid.
    pub fn detach(mut self) -> Record {
        self.detached = true;
        self.record()
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if self.detached {
            return;
        }
        self.kill();
        // A failing test shows what its children said; a passing one stays quiet.
        if std::thread::panicking() {
            eprintln!("--- {} ---\n{}", self.name, self.tail(FAILURE_LINES));
        }
    }
}

/// `/proc/<pid>/stat`: the start time, and whether the process is a zombie.
fn stat(pid: u32) -> Option<(u64, bool)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let zombie = fields.first() == Some(&"Z");
    Some((fields.get(19)?.parse().ok()?, zombie))
}

/// The start time of `pid`, if it runs.
pub fn start_time(pid: u32) -> Option<u64> {
    stat(pid).map(|(start, _)| start)
}

/// Whether `record`'s process still runs: its pid exists, is not a zombie, and started when
/// recorded.
pub fn alive(record: &Record) -> bool {
    stat(record.pid).is_some_and(|(start, zombie)| !zombie && start == record.start_time)
}

/// Stops processes by pid: SIGTERM, up to `grace` to exit, then SIGKILL and up to 5 s more.
/// Returns those that survived both (none, normally).
pub async fn stop(records: &[Record], grace: Duration) -> Vec<Record> {
    let signal_all = |signal: Signal| {
        for record in records.iter().filter(|p| alive(p)) {
            let _ = kill(Pid::from_raw(record.pid as i32), signal);
        }
    };
    let gone = || (!records.iter().any(alive)).then_some(());
    signal_all(Signal::SIGTERM);
    if crate::wait::until(grace, gone).await.is_none() {
        signal_all(Signal::SIGKILL);
        crate::wait::until(Duration::from_secs(5), gone).await;
    }
    records.iter().filter(|p| alive(p)).cloned().collect()
}

/// Runs `cmd` to completion within `limit`, its output appended to `log`; fails with the
/// log's end when it fails or takes longer (it is then killed).
pub async fn run_to_end(
    name: &str,
    cmd: Command,
    log: &Path,
    limit: Duration,
) -> anyhow::Result<()> {
    let mut started = Supervised::spawn(name, cmd, log)?;
    let status = started.wait_exit(limit).await?;
    if !status.success() {
        bail!("{name} failed ({status}); {}", started.tail(15));
    }
    Ok(())
}

/// Runs `work` on a runtime of its own: for callers without one (a benchmark's main thread).
pub fn block_on<F: std::future::Future>(work: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
        .block_on(work)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_its_own_process_and_not_a_recycled_pid() {
        let me = std::process::id();
        let start = start_time(me).expect("this process has a start time");
        let record = Record {
            name: "me".into(),
            pid: me,
            start_time: start,
        };
        assert!(alive(&record));
        let impostor = Record {
            start_time: start + 1,
            ..record
        };
        assert!(!alive(&impostor), "another start time is another process");
    }

    #[tokio::test]
    async fn a_detached_process_is_stopped_by_pid() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sleep.log");
        let mut cmd = command(&[], "/bin/sh");
        cmd.args(["-c", "echo started; exec sleep 600"]);
        let mut started = Supervised::spawn_in_own_group("sleeper", cmd, &log).unwrap();
        let line = started
            .line("started", Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(line, "started");
        let record = started.detach();
        assert!(alive(&record));
        let left = stop(std::slice::from_ref(&record), Duration::from_secs(5)).await;
        assert!(left.is_empty());
    }

    #[tokio::test]
    async fn a_process_that_dies_while_awaited_fails_the_wait_with_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("fail.log");
        let mut cmd = command(&[], "/bin/sh");
        cmd.args(["-c", "echo something broke; exit 3"]);
        let mut started = Supervised::spawn("failing", cmd, &log).unwrap();
        let err = started
            .line("ready", Duration::from_secs(10))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("exited") && err.contains("something broke"),
            "{err}"
        );
        let mut cmd = command(&[], "/bin/sh");
        cmd.args(["-c", "exit 0"]);
        run_to_end("fine", cmd, &log, Duration::from_secs(10))
            .await
            .unwrap();
        let mut cmd = command(&[], "/bin/sh");
        cmd.args(["-c", "exit 4"]);
        assert!(run_to_end("failing", cmd, &log, Duration::from_secs(10))
            .await
            .is_err());
    }

    #[tokio::test]
    async fn the_log_shown_on_failure_outlives_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("talker.log");
        let mut cmd = command(&[], "/bin/sh");
        cmd.args(["-c", "echo first; echo last; exec sleep 600"]);
        let mut talker = Supervised::spawn("talker", cmd, &log).unwrap();
        talker.line("last", Duration::from_secs(10)).await.unwrap();
        // A test's temporary directory may go before the children it holds.
        drop(dir);
        let shown = talker.tail(1);
        assert!(
            shown.contains("last") && !shown.contains("first"),
            "{shown}"
        );
    }
}
