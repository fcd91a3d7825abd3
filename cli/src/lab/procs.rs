//! The lab's processes: started in the background (a process group of their own, no
//! terminal, output in a log file each), waited for by what they write, and stopped by pid.
//!
//! Every wait is bounded and watches the process it waits for: a service that dies while
//! starting fails `axt lab up` at once, with the end of its log.

use std::{
    fs,
    io::{Read as _, Seek as _, SeekFrom},
    net::SocketAddr,
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{bail, Context as _};
use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};

use super::state::Process;

/// Environment variables that would send the services' HTTP through a proxy: nothing in the
/// lab goes through one.
const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);

/// A command for `program`, run through `launcher` when there is one (`ip netns exec NS`,
/// which execs: the pid is the program's), without a terminal and without proxy settings.
pub fn command(launcher: &[String], program: &Path) -> Command {
    let mut cmd = match launcher.split_first() {
        Some((first, rest)) => {
            let mut cmd = Command::new(first);
            cmd.args(rest).arg(program);
            cmd
        }
        None => Command::new(program),
    };
    cmd.stdin(Stdio::null());
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    // An error at start-up should read as one line in the log, not as a backtrace.
    cmd.env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE");
    cmd
}

/// A started service and its record.
pub struct Started {
    pub child: Child,
    pub record: Process,
    pub log: PathBuf,
}

/// Starts `cmd` in the background: its own process group (a Ctrl-C in the terminal of
/// `axt lab up` does not reach it), stdout and stderr appended to `log`.
pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> anyhow::Result<Started> {
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    cmd.stdout(file.try_clone()?).stderr(file).process_group(0);
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {name} ({:?})", cmd.get_program()))?;
    let pid = child.id();
    let start_time = start_time(pid).unwrap_or(0);
    Ok(Started {
        child,
        record: Process {
            name: name.to_owned(),
            pid,
            start_time,
        },
        log: log.to_owned(),
    })
}

/// Field 22 of `/proc/<pid>/stat` (the start time, in clock ticks after boot), and whether
/// the process is a zombie.
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

/// Whether `process` still runs: its pid exists, is not a zombie, and started when recorded.
pub fn alive(process: &Process) -> bool {
    stat(process.pid).is_some_and(|(start, zombie)| !zombie && start == process.start_time)
}

/// Stops `processes`: SIGTERM, up to `grace` to exit, then SIGKILL and up to 5 s more.
/// Returns those that survived both (none, normally).
pub async fn stop(processes: &[Process], grace: Duration) -> Vec<Process> {
    let signal_all = |signal: Signal| {
        for process in processes.iter().filter(|p| alive(p)) {
            let _ = kill(Pid::from_raw(process.pid as i32), signal);
        }
    };
    let wait = |limit: Duration| async move {
        let deadline = tokio::time::Instant::now() + limit;
        let mut tick = tokio::time::interval(POLL);
        while processes.iter().any(alive) && tokio::time::Instant::now() < deadline {
            tick.tick().await;
        }
    };
    signal_all(Signal::SIGTERM);
    wait(grace).await;
    if processes.iter().any(alive) {
        signal_all(Signal::SIGKILL);
        wait(Duration::from_secs(5)).await;
    }
    processes.iter().filter(|p| alive(p)).cloned().collect()
}

/// The last `lines` lines of `log`, indented, for an error message.
pub fn tail(log: &Path, lines: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let shown = &all[all.len().saturating_sub(lines)..];
    let mut out = format!("the end of {}:", log.display());
    for line in shown {
        out.push_str("\n    ");
        out.push_str(line);
    }
    out
}

/// Waits up to `limit` for `ready` to give a value, checking every 50 ms that `started` still
/// runs. `what` names the wait in errors.
pub async fn wait_until<T>(
    started: &mut Started,
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
        if let Some(status) = started.child.try_wait()? {
            bail!(
                "{} exited ({status}) before {what}; {}",
                started.record.name,
                tail(&started.log, 15)
            );
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "{} did not get to {what} within {limit:?}; {}",
                started.record.name,
                tail(&started.log, 15)
            );
        }
        tick.tick().await;
    }
}

/// A log file read from a point on: what a process wrote after that point.
pub struct LogWatch {
    path: PathBuf,
    offset: u64,
}

impl LogWatch {
    /// Watches `path` from its current end.
    pub fn from_end(path: &Path) -> Self {
        let offset = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        Self {
            path: path.to_owned(),
            offset,
        }
    }

    /// Watches `path` from its beginning.
    pub fn from_start(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            offset: 0,
        }
    }

    /// The first line written since the start of the watch that contains `needle`.
    pub fn find(&self, needle: &str) -> Option<String> {
        let mut file = fs::File::open(&self.path).ok()?;
        file.seek(SeekFrom::Start(self.offset)).ok()?;
        let mut text = String::new();
        file.read_to_string(&mut text).ok()?;
        text.lines()
            .find(|line| line.contains(needle))
            .map(str::to_owned)
    }
}

/// Whether something accepts TCP connections on `addr` (from this namespace).
pub fn listening(addr: SocketAddr) -> bool {
    std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// Runs `cmd` to completion within `limit`, its output appended to `log`; fails with the
/// log's end when it fails or takes longer (it is then killed).
pub async fn run_to_end(
    name: &str,
    cmd: Command,
    log: &Path,
    limit: Duration,
) -> anyhow::Result<()> {
    let mut started = spawn(name, cmd, log)?;
    let deadline = tokio::time::Instant::now() + limit;
    let mut tick = tokio::time::interval(POLL);
    loop {
        if let Some(status) = started.child.try_wait()? {
            if status.success() {
                return Ok(());
            }
            bail!("{name} failed ({status}); {}", tail(log, 15));
        }
        if tokio::time::Instant::now() >= deadline {
            let _ = started.child.kill();
            let _ = started.child.wait();
            bail!("{name} did not finish within {limit:?}; {}", tail(log, 15));
        }
        tick.tick().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_its_own_process_and_not_a_recycled_pid() {
        let me = std::process::id();
        let start = start_time(me).expect("this process has a start time");
        let record = Process {
            name: "me".into(),
            pid: me,
            start_time: start,
        };
        assert!(alive(&record));
        let impostor = Process {
            start_time: start + 1,
            ..record
        };
        assert!(!alive(&impostor), "another start time is another process");
    }

    #[tokio::test]
    async fn a_background_process_is_stopped_by_pid() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sleep.log");
        let mut cmd = command(&[], Path::new("/bin/sh"));
        cmd.args(["-c", "echo started; exec sleep 600"]);
        let mut started = spawn("sleeper", cmd, &log).unwrap();
        let watch = LogWatch::from_start(&log);
        wait_until(
            &mut started,
            "saying it started",
            Duration::from_secs(10),
            || watch.find("started"),
        )
        .await
        .unwrap();
        let record = started.record.clone();
        assert!(alive(&record));
        // Reaped by this process as it exits: `stop` must see it as gone once it is a zombie.
        let left = stop(std::slice::from_ref(&record), Duration::from_secs(5)).await;
        assert!(left.is_empty());
        let _ = started.child.wait();
        assert!(!alive(&record));
    }

    #[tokio::test]
    async fn a_failing_command_shows_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("fail.log");
        let mut cmd = command(&[], Path::new("/bin/sh"));
        cmd.args(["-c", "echo something broke; exit 3"]);
        let err = run_to_end("failing", cmd, &log, Duration::from_secs(10))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("something broke"), "{err}");
        let mut cmd = command(&[], Path::new("/bin/sh"));
        cmd.args(["-c", "exit 0"]);
        run_to_end("fine", cmd, &log, Duration::from_secs(10))
            .await
            .unwrap();
    }
}
