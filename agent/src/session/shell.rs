//! Shell sessions on a PTY (portable-pty). Its API is blocking, so the PTY is read on one
//! thread, written on another and waited for on a third; the async side talks to them over
//! bounded channels and signals the process group directly.

use std::{
    ffi::OsString,
    io::{Read as _, Write as _},
    path::{Path, PathBuf},
    time::Duration,
};

use axt_proto::status::AgentResult;
use nix::{sys::signal::Signal, unistd::Pid};
use portable_pty::{CommandBuilder, MasterPty, PtySize};
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use super::{
    chunk::{Utf8Chunker, SHELL_CHUNK},
    env,
    runner::{Event, INPUT_QUEUE, OUTPUT_QUEUE},
    user::RunAs,
};

/// Size of the PTY until the gateway sends one (the stock agent starts at 0×0, which
/// confuses full-screen programs; a set_size replaces this at once anyway).
const INITIAL_SIZE: (u16, u16) = (80, 24);
/// Bytes per PTY read; the stock agent reads 4095.
const READ_SIZE: usize = 4096;
/// How long a shell gets to exit on SIGHUP before its process group is killed.
const HANGUP_GRACE: Duration = Duration::from_secs(1);

/// Why a shell could not start: every case is `Open_pty_failed`.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// `cmdContent` that shell-style splitting rejects (an unclosed quote, say).
    #[error("malformed command line {0:?}")]
    MalformedCommand(String),
    /// A program that is not found or not executable.
    #[error("command {0:?} not found")]
    NotFound(String),
    /// The PTY or the child could not be created.
    #[error("PTY: {0}")]
    Pty(String),
}

/// The argv of a session: the user's login shell for an empty `cmdContent`, else the command
/// line split shell-style (and executed directly, not through a shell).
pub fn argv(cmd_content: &str, login_shell: &Path) -> Result<Vec<String>, ShellError> {
    if cmd_content.trim().is_empty() {
        return Ok(vec![login_shell.to_string_lossy().into_owned()]);
    }
    match shlex::split(cmd_content) {
        Some(words) if !words.is_empty() => Ok(words),
        _ => Err(ShellError::MalformedCommand(cmd_content.to_owned())),
    }
}

/// A shell running on a PTY.
pub struct Shell {
    master: Box<dyn MasterPty + Send>,
    input: mpsc::Sender<Vec<u8>>,
    pgid: Option<Pid>,
    exited: watch::Receiver<bool>,
}

impl Shell {
    /// Opens a PTY and starts `argv` on it as `user`. Blocking.
    pub fn spawn(
        argv: &[String],
        user: &RunAs,
    ) -> Result<(Self, mpsc::Receiver<Event>), ShellError> {
        let program = argv
            .first()
            .ok_or_else(|| ShellError::NotFound(String::new()))?;
        let env = env::login_env(user, std::env::var_os("LANG").as_deref());
        // Checked here, so that a missing program is Open_pty_failed as with the stock agent,
        // not a message on the terminal from exec-as; on the session's PATH, which is the one
        // exec-as (or portable-pty) searches.
        find_program(program, env::path_for(user.uid))
            .ok_or_else(|| ShellError::NotFound(program.clone()))?;
        let (cols, rows) = INITIAL_SIZE;
        let pair = portable_pty::native_pty_system()
            .openpty(pty_size(cols, rows))
            .map_err(|e| ShellError::Pty(e.to_string()))?;
        let command = command(argv, user, env).map_err(|e| ShellError::Pty(e.to_string()))?;
        let mut child = pair
            .slave
            .spawn_command(command)
            .map_err(|e| ShellError::Pty(e.to_string()))?;
        // The agent must not hold the slave open, or the master never sees the hang-up.
        drop(pair.slave);
        let pgid = child
            .process_id()
            .and_then(|pid| i32::try_from(pid).ok())
            .map(Pid::from_raw);
        let pty = |e: anyhow::Error| ShellError::Pty(e.to_string());
        let reader = pair.master.try_clone_reader().map_err(pty)?;
        let writer = pair.master.take_writer().map_err(pty)?;

        let (output_tx, output_rx) = mpsc::channel(OUTPUT_QUEUE);
        let (input_tx, input_rx) = mpsc::channel(INPUT_QUEUE);
        let (exited_tx, exited_rx) = watch::channel(false);
        let spawn = |name: &str, work: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(work)
                .map_err(|e| ShellError::Pty(e.to_string()))
        };
        spawn("pty-read", Box::new(move || read_pty(reader, output_tx)))?;
        spawn("pty-write", Box::new(move || write_pty(writer, input_rx)))?;
        spawn(
            "pty-wait",
            Box::new(move || {
                // Reaps the child; the session learns of the exit through the watch.
                let status = child.wait();
                debug!(?status, "shell exited");
                let _ = exited_tx.send(true);
            }),
        )?;
        let shell = Self {
            master: pair.master,
            input: input_tx,
            pgid,
            exited: exited_rx,
        };
        Ok((shell, output_rx))
    }

    /// The queue of input for the PTY.
    pub fn input_queue(&self) -> Option<mpsc::Sender<Vec<u8>>> {
        Some(self.input.clone())
    }

    /// Sets the terminal size (the child gets SIGWINCH).
    pub fn resize(&self, cols: u16, rows: u16) {
        if let Err(e) = self.master.resize(pty_size(cols, rows)) {
            warn!(error = %e, "resizing the PTY failed");
        }
    }

    /// Resolves once the child has exited and been reaped. Cancel-safe.
    pub async fn exited(&mut self) {
        let _ = self.exited.wait_for(|exited| *exited).await;
    }

    /// Ends the shell's whole process group: SIGHUP first (a shell passes it on to its jobs,
    /// as when a terminal closes), SIGKILL for what is left after a grace; then waits for the
    /// reaper.
    pub async fn terminate(mut self) {
        let Some(pgid) = self.pgid else { return };
        // ESRCH only means the group is already gone.
        let _ = nix::sys::signal::killpg(pgid, Signal::SIGHUP);
        let _ = tokio::time::timeout(HANGUP_GRACE, self.exited()).await;
        // Whatever the shell left behind goes too: its group, and every process still in its
        // session — interactive bash puts each job in a group of its own, and `nohup` jobs
        // ignore the hang-up.
        let _ = nix::sys::signal::killpg(pgid, Signal::SIGKILL);
        kill_session(pgid);
        if tokio::time::timeout(HANGUP_GRACE, self.exited())
            .await
            .is_err()
        {
            warn!(%pgid, "the shell did not exit after SIGKILL");
        }
    }
}

/// SIGKILLs every process whose session id is `sid` (the PTY child is a session leader, so its
/// pid is the session's id). Read from `/proc`; a process that vanished meanwhile is skipped.
fn kill_session(sid: nix::unistd::Pid) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command name (field 2) may hold spaces and parentheses: fields after it start
        // after the last ')'. Then: state, ppid, pgrp, session.
        let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        let session = after
            .split_whitespace()
            .nth(3)
            .and_then(|f| f.parse::<i32>().ok());
        if session == Some(sid.as_raw()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// The command the PTY runs: `argv` directly when no user change is needed, else through
/// `axt-agent exec-as`, since portable-pty cannot set a uid; with exactly the environment
/// `env` either way (exec-as passes its own on to the program unchanged).
fn command(
    argv: &[String],
    user: &RunAs,
    env: Vec<(&'static str, OsString)>,
) -> anyhow::Result<CommandBuilder> {
    let mut full: Vec<OsString> = Vec::new();
    if user.switch {
        full.push(std::env::current_exe()?.into_os_string());
        full.extend(["exec-as", "--user", &user.name, "--"].map(OsString::from));
    }
    full.extend(argv.iter().map(OsString::from));
    let mut command = CommandBuilder::from_argv(full);
    // from_argv starts from the agent's whole environment, which the stock agent passes on;
    // this one does not (see `env`).
    command.env_clear();
    for (name, value) in env {
        command.env(name, value);
    }
    let cwd = if user.home.is_dir() {
        user.home.clone()
    } else {
        PathBuf::from("/")
    };
    command.cwd(cwd);
    Ok(command)
}

/// The reader thread: PTY bytes → UTF-8-safe chunks → the output queue. `blocking_send`
/// is the back-pressure point: it parks this thread while the queue is full.
fn read_pty(mut reader: Box<dyn std::io::Read + Send>, output: mpsc::Sender<Event>) {
    let mut chunker = Utf8Chunker::new(SHELL_CHUNK);
    let mut buf = vec![0u8; READ_SIZE];
    loop {
        // Linux reports the hang-up of the last slave as EIO: both it and EOF end the shell.
        let n = match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for chunk in chunker.push(&buf[..n]) {
            if output.blocking_send(Event::Output(chunk)).is_err() {
                return; // the session is gone
            }
        }
    }
    for chunk in chunker.finish() {
        if output.blocking_send(Event::Output(chunk)).is_err() {
            return;
        }
    }
    let _ = output.blocking_send(Event::Ended(AgentResult::Ok));
}

/// The writer thread: input queue → PTY, until the session drops the queue.
fn write_pty(mut writer: Box<dyn std::io::Write + Send>, mut input: mpsc::Receiver<Vec<u8>>) {
    while let Some(bytes) = input.blocking_recv() {
        if let Err(e) = writer.write_all(&bytes).and_then(|()| writer.flush()) {
            debug!(error = %e, "PTY write failed");
            return;
        }
    }
}

fn pty_size(cols: u16, rows: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

/// The file `program` names: itself when it holds a slash, else the first match on `path`
/// (the session's PATH).
fn find_program(program: &str, path: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let executable = |path: &Path| {
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let path = PathBuf::from(program);
        return executable(&path).then_some(path);
    }
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| executable(candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_split_shell_style() {
        let bash = Path::new("/bin/bash");
        assert_eq!(argv("", bash).unwrap(), ["/bin/bash"]);
        assert_eq!(
            argv(r#"sh -c 'echo "a b"; tty' x\ y"#, bash).unwrap(),
            ["sh", "-c", r#"echo "a b"; tty"#, "x y"]
        );
        for malformed in [r#"echo "unclosed"#, "echo 'unclosed", "echo trailing\\"] {
            assert!(
                matches!(argv(malformed, bash), Err(ShellError::MalformedCommand(_))),
                "{malformed}"
            );
        }
    }

    #[test]
    fn programs_are_found_on_the_path() {
        let path = env::USER_PATH;
        assert!(find_program("sh", path).is_some());
        assert!(find_program("/bin/sh", path).is_some());
        assert!(find_program("axt-no-such-program", path).is_none());
        assert!(
            find_program("/etc/passwd", path).is_none(),
            "not executable"
        );
        // Only the given PATH is searched, not the agent's.
        assert!(find_program("sh", "/nonexistent").is_none());
    }
}
