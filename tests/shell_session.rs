//! Shell sessions end to end: StartTerminalSession, `axt session` on a real terminal, the
//! gateway, the real `axt-agent`, a real shell in a real PTY — and back.

use std::time::Duration;

use axt_e2e::{bin, pty::Terminal, Stack};

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn a_shell_session_types_resizes_and_exits() {
    let mut stack = Stack::start(&[], &[]).await;
    let instance = stack.agent(&[]).await;
    let env = stack.cli_env();
    let mut term = tokio::task::spawn_blocking(move || {
        let mut term = Terminal::spawn(
            &bin("axt"),
            &["session", "--instance", &instance],
            &env,
            100,
            30,
        );
        // Typed before anything is shown: the gateway holds it until the shell can take it.
        term.type_text("echo early-$((1+1))\r");
        term.expect("early-2", LIMIT);
        term.type_text("echo hello-$((6*7))\r");
        term.expect("hello-42", LIMIT);
        term.type_text("stty size; echo size-shown\r");
        term.expect("30 100", LIMIT);
        term.resize(120, 40);
        // The resize travels beside the typed text, not in order with it: ask until the new
        // size shows (each answer is a new line, so an old "30 100" cannot satisfy this).
        term.expect_after_retries("stty size\r", "40 120", 20, LIMIT);
        term.type_text("exit\r");
        assert_eq!(term.wait(LIMIT), 0, "{}", term.screen);
        term
    })
    .await
    .unwrap();
    assert!(term.screen.contains("Exit"), "{}", term.screen);
    term.screen.clear();

    let (_, listed) = stack
        .api()
        .call("DescribeTerminalSessions", &[("RegionId", axt_e2e::REGION)])
        .await;
    let session = &listed["Sessions"]["Session"][0];
    let connection = &session["Connections"]["Connection"][0];
    assert_eq!(connection["Status"], "Terminated", "{listed}");
    assert_eq!(connection["ClosedReason"], "AgentSocketClosed", "{listed}");
    let id = session["SessionId"].as_str().unwrap().to_owned();
    let record = stack.plane.store.connections(&id).await.unwrap();
    assert!(
        record[0].bytes_in > 0 && record[0].bytes_out > 0,
        "{record:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_line_runs_instead_of_the_shell() {
    let mut stack = Stack::start(&[], &[]).await;
    let instance = stack.agent(&[]).await;
    let started = stack
        .start_session(&[
            ("InstanceId.1", &instance),
            ("CommandLine", "sh -c 'echo cmd-$((2*21)); tty'"),
        ])
        .await;
    let url = started["WebSocketUrl"].as_str().unwrap().to_owned();
    let env = stack.cli_env();
    let term = tokio::task::spawn_blocking(move || {
        let mut term = Terminal::spawn(&bin("axt"), &["session", "--wss-url", &url], &env, 80, 24);
        term.expect("cmd-42", LIMIT);
        term.expect("/dev/pts/", LIMIT);
        assert_eq!(term.wait(LIMIT), 0, "{}", term.screen);
        term
    })
    .await
    .unwrap();
    drop(term);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_token_and_an_offline_agent_are_clear_errors() {
    let mut stack = Stack::start(&[], &[]).await;
    let instance = stack.agent(&[]).await;
    let started = stack.start_session(&[("InstanceId.1", &instance)]).await;
    let url = started["WebSocketUrl"].as_str().unwrap();
    let forged = format!("{}0000", &url[..url.len() - 4]);
    let env = stack.cli_env();
    let out = std::process::Command::new(bin("axt"))
        .args(["session", "--wss-url", &forged])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("InvalidToken") && stderr.contains("403"),
        "{stderr}"
    );

    // A session whose agent went away after StartTerminalSession ends with the reason, and the
    // record says so.
    let started = stack.start_session(&[("InstanceId.1", &instance)]).await;
    let url = started["WebSocketUrl"].as_str().unwrap().to_owned();
    stack.stop_agents();
    let gateway = stack.gateway.clone();
    let offline = instance.clone();
    axt_e2e::wait_for(LIMIT, move || !gateway.kicks.online(&offline)).await;
    let out = std::process::Command::new(bin("axt"))
        .args(["session", "--wss-url", &url])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("AgentNotOnline"),
        "{out:?}"
    );
    assert_eq!(
        stack
            .connection_end(started["SessionId"].as_str().unwrap())
            .await,
        ("Failed".to_owned(), "AgentNotOnline".to_owned())
    );
    // From then on no session is dispatched to it: the control plane knows no gateway holds
    // its agent's kick channel.
    let (status, body) = stack
        .api()
        .call(
            "StartTerminalSession",
            &[("RegionId", axt_e2e::REGION), ("InstanceId.1", &instance)],
        )
        .await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (500, Some("InternalError.Dispatch")),
        "{body}"
    );
}
