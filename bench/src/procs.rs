//! The benchmark's child processes, supervised by `axt_kit::process` (output in a log file
//! each, killed by pid when dropped), and the blocking waits a benchmark's main thread needs.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{bail, Context as _};
use axt_kit::process::{block_on, Supervised};

/// How long a service gets to come up before the run fails.
pub const STARTUP: Duration = Duration::from_secs(30);

/// Starts `command` with stdout and stderr appended to `<logs>/<name>.log`.
pub fn spawn(name: &str, mut command: Command, logs: &Path) -> anyhow::Result<Supervised> {
    command.stdin(Stdio::null());
    Supervised::spawn(name, command, &logs.join(format!("{name}.log")))
}

/// Waits until `process` logs a line containing `needle`; returns what follows the needle on
/// that line. Fails early if the process exits.
pub fn wait_for(process: &mut Supervised, needle: &str) -> anyhow::Result<String> {
    let line = block_on(process.line(needle, STARTUP))?;
    let at = line.find(needle).unwrap_or(0) + needle.len();
    Ok(line[at..].trim().to_owned())
}

/// Waits for a file to exist and be non-empty; returns its trimmed content.
pub fn wait_for_file(path: &Path) -> anyhow::Result<String> {
    let read = || {
        std::fs::read_to_string(path)
            .ok()
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty())
    };
    block_on(axt_kit::wait::until(STARTUP, read))
        .with_context(|| format!("{} did not appear within {STARTUP:?}", path.display()))
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

/// An `axt-agent` to start with [`start_agent`].
pub struct AgentSpec<'a> {
    /// Its process name (and log file).
    pub name: &'a str,
    /// The plain-ws gateway it registers with and dials.
    pub gw_addr: &'a str,
    pub region: &'a str,
    /// More arguments of `axt-agent run`.
    pub run_args: &'a [&'a str],
    pub rust_log: &'a str,
}

/// Registers an `axt-agent` (state in `<dir>/agent`) with `activation` (a CreateActivation
/// answer), runs it, and waits until its kick channel is open: the instance is then online.
/// Returns the process and its instance id.
pub fn start_agent(
    bin_dir: &Path,
    dir: &Path,
    spec: AgentSpec<'_>,
    activation: &serde_json::Value,
) -> anyhow::Result<(Supervised, String)> {
    let field = |name: &str| activation[name].as_str().unwrap_or_default().to_owned();
    let state = dir.join("agent");
    let mut register = Command::new(bin_dir.join("axt-agent"));
    register
        .args([
            "register",
            "--server",
            spec.gw_addr,
            "--region",
            spec.region,
        ])
        .arg("--plain")
        .args(["--activation-code", &field("ActivationCode")])
        .args(["--activation-id", &field("ActivationId")])
        .arg("--state-dir")
        .arg(&state);
    output(&mut register).context("registering the agent")?;
    let instance = wait_for_file(&state.join("instance-id"))?;
    let mut run = Command::new(bin_dir.join("axt-agent"));
    run.args(["run", "--state-dir"])
        .arg(&state)
        .args(spec.run_args)
        .env("RUST_LOG", spec.rust_log);
    let mut agent = spawn(spec.name, run, dir)?;
    wait_for(&mut agent, "kick channel open")?;
    Ok((agent, instance))
}
