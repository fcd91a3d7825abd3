//! The real `axt-agent` binary: `register` runs to completion, `run` is a supervised child
//! process that is killed when the test ends.

use std::{net::SocketAddr, path::Path, process::Command, sync::OnceLock};

use axt_kit::process::Supervised;

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

/// A running `axt-agent run`, killed (by its pid) on drop; its log, in a file, is shown when
/// the test fails.
pub struct Agent(Supervised);

impl Agent {
    pub fn start(state_dir: &Path, extra: &[&str]) -> Self {
        let log = state_dir.with_extension("log");
        let mut cmd = axt_kit::process::command(&[], agent_bin());
        cmd.args(["run", "--state-dir"])
            .arg(state_dir)
            .args(["--default-user", &session_user()])
            .args(extra)
            .env(
                "RUST_LOG",
                "debug,hyper=info,reqwest=info,tungstenite=info,tokio_tungstenite=info",
            );
        Self(Supervised::spawn("axt-agent", cmd, &log).unwrap())
    }

    /// Registers in a fresh directory under `root` and starts the agent.
    pub async fn registered(luban: &Luban, root: &Path, extra: &[&str]) -> Self {
        let state = root.join("state");
        let (ok, _, stderr) = register(luban.addr, &state, "good", &[]).await;
        assert!(ok, "register failed: {stderr}");
        Self::start(&state, extra)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        self.0.terminate();
    }

    /// Waits (bounded) for the process to exit.
    pub async fn wait_exit(&mut self) -> std::process::ExitStatus {
        self.0.wait_exit(WAIT).await.unwrap()
    }
}
