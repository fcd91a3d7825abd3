//! The real `axt-agent` binary: `register` runs to completion, `run` is a supervised child
//! process that is killed when the test ends.

use std::{net::SocketAddr, path::Path};

use axt_kit::{process::Supervised, user::TemporaryUser};

use super::{Luban, WAIT};

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
pub struct Agent {
    process: Supervised,
    /// As root, the temporary account its sessions run as (removed after the agent is gone).
    user: Option<TemporaryUser>,
}

impl Agent {
    pub fn start(state_dir: &Path, extra: &[&str]) -> Self {
        let log = state_dir.with_extension("log");
        // Sessions may not run as root: as root, they get an account of the test's own.
        let user = nix::unistd::Uid::effective()
            .is_root()
            .then(|| TemporaryUser::create("axt-agent-").unwrap());
        let name = match &user {
            Some(user) => user.name().to_owned(),
            None => current_user(),
        };
        let mut cmd = axt_kit::process::command(&[], agent_bin());
        cmd.args(["run", "--state-dir"])
            .arg(state_dir)
            .args(["--default-user", &name])
            .args(extra)
            .env(
                "RUST_LOG",
                "debug,hyper=info,reqwest=info,tungstenite=info,tokio_tungstenite=info",
            );
        let process = Supervised::spawn("axt-agent", cmd, &log).unwrap();
        Self { process, user }
    }

    /// Who its sessions run as.
    pub fn user(&self) -> String {
        match &self.user {
            Some(user) => user.name().to_owned(),
            None => current_user(),
        }
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
        self.process.terminate();
    }

    /// Waits (bounded) for the process to exit.
    pub async fn wait_exit(&mut self) -> std::process::ExitStatus {
        self.process.wait_exit(WAIT).await.unwrap()
    }
}

/// The name of the user running the tests.
fn current_user() -> String {
    let uid = nix::unistd::Uid::effective();
    nix::unistd::User::from_uid(uid).unwrap().unwrap().name
}
