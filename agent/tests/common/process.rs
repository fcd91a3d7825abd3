//! The real `axt-agent` binary: `register` runs to completion, `run` is a supervised child
//! process that is killed when the test ends.

use std::{net::SocketAddr, os::unix::process::CommandExt as _, path::Path};

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

/// How to start an agent beyond its flags.
#[derive(Default)]
pub struct Start<'a> {
    /// More flags of `axt-agent run`.
    pub extra: &'a [&'a str],
    /// More variables in its environment.
    pub env: &'a [(&'a str, &'a str)],
    /// Run the agent itself as a temporary non-root account (the tests run as root), so that
    /// its sessions run as that account without `exec-as`. Needs root.
    pub unprivileged: bool,
}

impl Agent {
    pub fn start(state_dir: &Path, extra: &[&str]) -> Self {
        Self::start_with(
            state_dir,
            Start {
                extra,
                ..Start::default()
            },
        )
    }

    pub fn start_with(state_dir: &Path, start: Start<'_>) -> Self {
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
            .args(start.extra)
            .envs(start.env.iter().copied())
            .env(
                "RUST_LOG",
                "debug,hyper=info,reqwest=info,tungstenite=info,tokio_tungstenite=info",
            );
        if start.unprivileged {
            let account = nix::unistd::User::from_name(&name).unwrap().unwrap();
            hand_over(state_dir, &account);
            cmd.uid(account.uid.as_raw()).gid(account.gid.as_raw());
        }
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
        Self::registered_with(
            luban,
            root,
            Start {
                extra,
                ..Start::default()
            },
        )
        .await
    }

    /// [`Agent::registered`] with more than flags.
    pub async fn registered_with(luban: &Luban, root: &Path, start: Start<'_>) -> Self {
        let state = root.join("state");
        let (ok, _, stderr) = register(luban.addr, &state, "good", &[]).await;
        assert!(ok, "register failed: {stderr}");
        Self::start_with(&state, start)
    }

    /// The agent's pid.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Its log file.
    pub fn log(&self) -> &Path {
        self.process.log()
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

/// Gives `account` the state directory (every file in it) and a way through its parent, a
/// test's private temporary directory, so that an agent running as `account` can use it.
fn hand_over(state_dir: &Path, account: &nix::unistd::User) {
    use std::os::unix::fs::PermissionsExt as _;
    let own = |path: &Path| {
        nix::unistd::chown(path, Some(account.uid), Some(account.gid)).unwrap();
    };
    own(state_dir);
    for entry in std::fs::read_dir(state_dir).unwrap() {
        own(&entry.unwrap().path());
    }
    if let Some(parent) = state_dir.parent() {
        std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
}
