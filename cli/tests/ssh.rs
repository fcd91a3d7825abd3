//! `axt ssh` as a ProxyCommand: bytes piped through the echo gateway come back on stdout and
//! nothing else does; a session it started is ended; a refused one exits 1 with the code.

mod common;

use std::process::Stdio;

use axt_proto::internal::RefusalCode;
use common::{
    echo::{EchoGateway, Ending},
    finish, TestPlane, PATIENCE,
};
use tokio::{io::AsyncWriteExt as _, process::Command};

/// Runs `cmd` with `input` piped to stdin (then closed); returns exit code, stdout, stderr.
async fn pipe_through(mut cmd: Command, input: Vec<u8>) -> (Option<i32>, Vec<u8>, String) {
    let mut child = cmd.stdin(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Written while stdout is read, as ssh does: the echo comes back during the writing.
    tokio::spawn(async move {
        let _ = stdin.write_all(&input).await;
        // Dropping the pipe is the end of input.
    });
    let out = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("axt ssh did not exit in time")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), out.stdout, stderr)
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        out.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    out.truncate(len);
    out
}

#[tokio::test]
async fn bytes_piped_through_ssh_wss_url_come_back_on_stdout_and_it_exits_0() {
    for ending in [Ending::Exit, Ending::CloseOnly] {
        let mut gateway = EchoGateway::start(ending).await;
        let home = tempfile::tempdir().unwrap();
        let mut cmd = common::axt(home.path());
        cmd.args(["ssh", "--wss-url", &gateway.url("tok-ssh")]);
        let data = random_bytes(200 * 1024 + 3);
        let (code, stdout, stderr) = pipe_through(cmd, data.clone()).await;
        assert_eq!(code, Some(0), "{ending:?}: {stderr}");
        assert!(
            stdout == data,
            "{} bytes back for {}",
            stdout.len(),
            data.len()
        );
        assert!(stderr.is_empty(), "{stderr}");
        let served = gateway.served().await;
        assert!(served.sent_close, "{served:?}");
        assert_eq!(served.query, "sessionId=s-test&token=tok-ssh");
    }
}

#[tokio::test]
async fn when_the_gateway_ends_first_ssh_exits_at_once_with_stdin_still_open() {
    for (why, code) in [("Exit", 0), ("AgentTimeout", 1)] {
        let gateway = EchoGateway::start(Ending::AfterFirstInput(why)).await;
        let home = tempfile::tempdir().unwrap();
        let mut child = common::axt(home.path())
            .args(["ssh", "--wss-url", &gateway.url("tok")])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        // Kept open (and so not closed by wait_with_output): a pending read of stdin must
        // not keep axt alive.
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello").await.unwrap();
        let out = tokio::time::timeout(PATIENCE, child.wait_with_output())
            .await
            .expect("axt ssh did not exit in time")
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{why}: {stderr}");
        assert_eq!(out.stdout, b"hello");
        if code == 1 {
            assert!(
                stderr.contains("AgentTimeout: session closed for agent timeout."),
                "{stderr}"
            );
        }
        drop(stdin);
    }
}

#[tokio::test]
async fn ssh_instance_starts_a_port_session_and_ends_it() {
    let mut gateway = EchoGateway::start(Ending::Exit).await;
    let plane = TestPlane::start(&format!("ws://{}", gateway.addr)).await;
    let home = tempfile::tempdir().unwrap();
    let instance = plane.ready_instance(home.path()).await;

    let mut cmd = plane.axt(home.path());
    cmd.args(["ssh", "--instance", &instance]);
    let (code, stdout, stderr) = pipe_through(cmd, b"SSH-2.0-test\r\n".to_vec()).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, b"SSH-2.0-test\r\n");
    let served = gateway.served().await;
    assert_eq!(
        plane.verify(&served.query).await,
        Some(RefusalCode::SessionEnded),
        "the session was ended"
    );
}

#[tokio::test]
async fn a_refused_session_or_websocket_exits_1_with_the_reason_on_stderr() {
    let plane = TestPlane::start("ws://127.0.0.1:9").await;
    let home = tempfile::tempdir().unwrap();
    let child = plane
        .axt(home.path())
        .args(["ssh", "--instance", "i-nowhere", "--port", "2222"])
        .spawn()
        .unwrap();
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.starts_with("InvalidInstance.NotFound: "),
        "{}",
        out.stderr
    );

    let gateway = EchoGateway::start(Ending::Exit).await;
    gateway.refuse_next(1);
    let mut cmd = common::axt(home.path());
    cmd.args(["ssh", "--wss-url", &gateway.url("tok")]);
    let (code, stdout, stderr) = pipe_through(cmd, Vec::new()).await;
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty());
    assert!(stderr.contains("HTTP 403 Forbidden"), "{stderr}");
}
