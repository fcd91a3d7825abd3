//! The real `axt-agent` binary: `register` runs to completion, `run` is a child process that
//! is killed when the test ends.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
};

use super::{Luban, WAIT};

/// The user sessions run as: the current user, or, as root (which sessions may not use), a
/// test account created once.
pub fn session_user() -> String {
    static USER: OnceLock<String> = OnceLock::new();
    USER.get_or_init(|| {
        let uid = nix::unistd::Uid::effective();
        if !uid.is_root() {
            return nix::unistd::User::from_uid(uid).unwrap().unwrap().name;
        }
        let name = "axt-test-user";
        if nix::unistd::User::from_name(name).unwrap().is_none() {
            let _ = Command::new("useradd")
                .args(["-m", "-s", "/bin/bash", name])
                .status();
        }
        assert!(
            nix::unistd::User::from_name(name).unwrap().is_some(),
            "could not create {name}"
        );
        name.into()
    })
    .clone()
}

/// The binary.
pub fn agent_bin() -> &'static str {
    env!("CARGO_BIN_EXE_axt-agent")
}

/// Runs `axt-agent register` against `server`, plain; returns (success, stdout, stderr).
pub async fn register(
    server: SocketAddr,
    state_dir: &Path,
    code: &str,
    extra: &[&str],
) -> (bool, String, String) {
    let output = tokio::process::Command::new(agent_bin())
        .args([
            "register",
            "--plain",
            "--server",
            &server.to_string(),
            "--activation-code",
            code,
        ])
        .args(["--activation-id", "act-test", "--state-dir"])
        .arg(state_dir)
        .args(extra)
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A running `axt-agent run`, killed on drop, when its log is shown if the test failed (or
/// `AXT_TEST_SHOW_AGENT_LOG` is set).
pub struct Agent {
    child: tokio::process::Child,
    log: PathBuf,
}

impl Agent {
    pub fn start(state_dir: &Path, extra: &[&str]) -> Self {
        let log = state_dir.with_extension("log");
        let child = tokio::process::Command::new(agent_bin())
            .args(["run", "--state-dir"])
            .arg(state_dir)
            .args(["--default-user", &session_user()])
            .args(extra)
            .env(
                "RUST_LOG",
                "debug,hyper=info,reqwest=info,tungstenite=info,tokio_tungstenite=info",
            )
            .stdin(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Self { child, log }
    }

    /// Registers in a fresh directory under `root` and starts the agent.
    pub async fn registered(luban: &Luban, root: &Path, extra: &[&str]) -> Self {
        let state = root.join("state");
        let (ok, _, stderr) = register(luban.addr, &state, "good", &[]).await;
        assert!(ok, "register failed: {stderr}");
        Self::start(&state, extra)
    }
}

impl Agent {
    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("the agent already exited");
        let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    }

    /// Waits (bounded) for the process to exit.
    pub async fn wait_exit(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the agent did not exit")
            .unwrap()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // SIGKILL now; tokio reaps the process in the background.
        let _ = self.child.start_kill();
        if std::thread::panicking() || std::env::var_os("AXT_TEST_SHOW_AGENT_LOG").is_some() {
            eprintln!(
                "--- agent log ---\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}
