//! What a session's programs see of the agent's environment: only their user's login
//! variables, for shells and command lines alike, whether a root agent switches user through
//! `exec-as` or an unprivileged agent runs them as itself. The agent is started with secrets
//! in its environment, as a lab's entrypoint once gave it the admin AccessKey.

mod common;

use std::collections::BTreeMap;

use axt_agent::session::env::USER_PATH;
use axt_proto::spec::SessionSpec;
use axum::extract::ws::Message;
use common::{kick, process::Start, shell_spec, Agent, DataSocket, Luban, WAIT};

/// What the agent's environment holds on top of the test's own.
const AGENT_ENV: &[(&str, &str)] = &[
    ("AXT_TEST_SECRET", "axt-test-secret-4c7d1e"),
    ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIaxtEnvTest0001"),
    ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "alibaba-secret-93be5f"),
    ("SOME_SERVICE_TOKEN", "service-token-0a61d2"),
    // A plain locale name other than the fallback C.UTF-8: it must reach the session.
    ("LANG", "POSIX"),
];

/// Every variable a command-line session may see, and no other.
const LOGIN_VARS: &[&str] = &["HOME", "LANG", "LOGNAME", "PATH", "SHELL", "TERM", "USER"];

#[tokio::test]
async fn a_root_agent_gives_sessions_only_the_login_environment() {
    sessions_get_only_the_login_environment(false).await;
}

#[tokio::test]
async fn an_unprivileged_agent_gives_sessions_only_the_login_environment() {
    if !nix::unistd::Uid::effective().is_root() {
        // Running the agent as another account takes root; as root the test above and this
        // one cover both paths.
        return;
    }
    sessions_get_only_the_login_environment(true).await;
}

async fn sessions_get_only_the_login_environment(unprivileged: bool) {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let start = Start {
        env: AGENT_ENV,
        unprivileged,
        ..Start::default()
    };
    let agent = Agent::registered_with(&luban, root.path(), start).await;
    let user = nix::unistd::User::from_name(&agent.user())
        .unwrap()
        .unwrap();
    let home = user.dir.to_str().unwrap();
    let shell = user.shell.to_str().unwrap();
    let mut notify = luban.notify_socket().await;
    // The secrets really are in the agent's environment (read once it is connected, so after
    // its exec), so their absence below means something.
    let own = std::fs::read(format!("/proc/{}/environ", agent.pid())).unwrap();
    assert!(
        String::from_utf8_lossy(&own).contains("AXT_TEST_SECRET=axt-test-secret-4c7d1e"),
        "the agent was started without the secret"
    );

    // A command line runs `env` directly: its output is the whole environment.
    let spec = SessionSpec {
        cmd_content: "env".into(),
        ..shell_spec("c-env")
    };
    luban.set_spec("c-env", spec);
    kick(&mut notify, "kick_vm session start c-env").await;
    let (mut data, _) = luban.data_socket("c-env").await;
    let text = output_to_end(&mut data).await;
    assert_no_secret(&text);
    let env = parse(&text);
    assert_eq!(
        env.keys().map(String::as_str).collect::<Vec<_>>(),
        LOGIN_VARS,
        "{text:?}"
    );
    let name = agent.user();
    for (var, want) in [
        ("HOME", home),
        ("USER", &name),
        ("LOGNAME", &name),
        ("SHELL", shell),
        ("PATH", USER_PATH),
        ("TERM", "xterm-256color"),
        ("LANG", "POSIX"),
    ] {
        assert_eq!(env[var], want, "{var} in {text:?}");
    }
    assert_eq!(luban.status("c-env").await, ("Success".into(), "Ok".into()));

    // A login shell: bash adds variables of its own (PWD, SHLVL…), but none of the agent's.
    luban.set_spec("c-shell", shell_spec("c-shell"));
    kick(&mut notify, "kick_vm session start c-shell").await;
    let (mut data, _) = luban.data_socket("c-shell").await;
    data.input("env; echo env-$((3*3))-done\n").await;
    let frames = data.output_until("env-9-done").await;
    let text: String = frames
        .iter()
        .map(|f| String::from_utf8_lossy(&f.payload).into_owned())
        .collect();
    assert_no_secret(&text);
    let env = parse(&text);
    for (var, want) in [
        ("HOME", home),
        ("USER", &name),
        ("SHELL", shell),
        ("PATH", USER_PATH),
        ("TERM", "xterm-256color"),
    ] {
        assert_eq!(
            env.get(var).map(String::as_str),
            Some(want),
            "{var} in {text:?}"
        );
    }
    data.input("exit\n").await;
    assert_eq!(
        luban.status("c-shell").await,
        ("Success".into(), "Ok".into())
    );
}

/// Fails if any secret of [`AGENT_ENV`], by name or by value, is in `text`.
fn assert_no_secret(text: &str) {
    for (name, value) in AGENT_ENV.iter().filter(|(name, _)| *name != "LANG") {
        assert!(!text.contains(name), "{name} reached the session: {text:?}");
        assert!(
            !text.contains(value),
            "{name}'s value reached the session: {text:?}"
        );
    }
}

/// The `NAME=value` lines of `env`'s output on a terminal (a line may start after a bare CR
/// that ends the shell's terminal control sequences).
fn parse(text: &str) -> BTreeMap<String, String> {
    text.split(['\r', '\n'])
        .filter_map(|line| line.split_once('='))
        .filter(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// Every Output payload until the agent drops the data channel (the command ended).
async fn output_to_end(data: &mut DataSocket) -> String {
    let mut text = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let message = tokio::time::timeout_at(deadline, data.socket.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the data channel stayed open; got {:?}",
                    String::from_utf8_lossy(&text)
                )
            });
        match message {
            Some(Ok(Message::Binary(bytes))) => {
                let frame = axt_proto::agent_frame::AgentFrame::decode(&bytes).unwrap();
                text.extend_from_slice(&frame.payload);
            }
            Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            Some(Ok(_)) => {}
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}
