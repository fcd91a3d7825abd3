//! `axt session` against a fake gateway driven step by step: what it sends (1.01 frames, one
//! sequence counter, Close at the end of piped input), and how each way a session ends is shown.

mod common;

use std::process::Stdio;

use axt_proto::client_frame::ClientMessageType::{Close, Input, Output, Status};
use common::{axt, finish, recv, send, FakeGateway, TestPlane};
use futures_util::SinkExt as _;
use tokio::io::AsyncWriteExt as _;
use tokio_tungstenite::tungstenite::{
    http::StatusCode,
    protocol::{frame::coding::CloseCode, CloseFrame},
    Message,
};

/// `axt session --wss-url` on `gateway` with `stdin` piped in and then closed.
fn spawn_session(
    gateway: &FakeGateway,
    home: &std::path::Path,
    stdin: &[u8],
) -> tokio::process::Child {
    let mut child = axt(home)
        .args(["session", "--wss-url", &gateway.url("tok-1")])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    tokio::spawn(async move {
        pipe.write_all(&input).await.unwrap();
        // Dropping the pipe is the end of input.
    });
    child
}

#[tokio::test]
async fn a_piped_session_sends_input_then_close_and_exits_0_on_exit() {
    let gateway = FakeGateway::start().await;
    let home = tempfile::tempdir().unwrap();
    let child = spawn_session(&gateway, home.path(), b"echo hi; exit\n");

    let (ws, request) = gateway.accept(None).await;
    let mut ws = ws.unwrap();
    assert_eq!(request.uri().path(), "/session");
    assert_eq!(request.uri().query(), Some("sessionId=s-test&token=tok-1"));
    assert_eq!(request.headers()["x-acs-session-token"], "tok-1");

    send(&mut ws, Status, &[3]).await;
    send(&mut ws, Output, b"welcome\r\n").await;
    // Input frames (however the pipe was cut) and then one Close, numbered 0, 1, 2, …
    let mut typed = Vec::new();
    let mut expected_seq = 0;
    loop {
        let frame = recv(&mut ws).await;
        assert_eq!(frame.seq, expected_seq);
        expected_seq += 1;
        match frame.kind {
            Input => typed.extend_from_slice(&frame.payload),
            Close => {
                assert_eq!(frame.payload, b"1");
                break;
            }
            other => panic!("unexpected {other:?} without a terminal"),
        }
    }
    assert_eq!(typed, b"echo hi; exit\n");
    // Output still flows after the Close, until the session ends.
    send(&mut ws, Output, b"hi\r\nlogout\r\n").await;
    send(&mut ws, Status, b"\x05Exit").await;

    let out = finish(child).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "welcome\r\nhi\r\nlogout\r\n");
    assert!(
        out.stderr.contains("\r\nExit: session closed."),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn status_frames_end_the_session_with_their_reason() {
    // (gateway's last frames, exit code, what stderr says)
    let cases: [(&[&[u8]], i32, &str); 4] = [
        (
            &[b"\x05AgentTimeout"],
            1,
            "AgentTimeout: session closed for agent timeout.",
        ),
        (&[b"\x02the agent is offline"], 1, "the agent is offline"),
        (&[b"\x05SomethingNew"], 1, "SomethingNew: session closed."),
        // Rates never matter to a shell, not even unreadable or zero ones; Opened, Exited and
        // an empty Status are ignored too.
        (
            &[
                b"\x07",
                b"\x07\x00",
                b"\x07\x00\x00\x00\x00\x00",
                b"",
                b"\x06",
                b"\x05Exit",
            ],
            0,
            "Exit: session closed.",
        ),
    ];
    for (frames, code, said) in cases {
        let gateway = FakeGateway::start().await;
        let home = tempfile::tempdir().unwrap();
        let child = spawn_session(&gateway, home.path(), b"");
        let mut ws = gateway.accept(None).await.0.unwrap();
        send(&mut ws, Output, b"").await;
        for frame in frames {
            send(&mut ws, Status, frame).await;
        }
        let out = finish(child).await;
        assert_eq!(out.code, Some(code), "{said}: {}", out.stderr);
        assert!(out.stderr.contains(said), "{said} not in {}", out.stderr);
    }
}

#[tokio::test]
async fn a_server_close_a_bad_frame_and_a_refused_upgrade_exit_1_with_a_reason() {
    let home = tempfile::tempdir().unwrap();

    let gateway = FakeGateway::start().await;
    let child = spawn_session(&gateway, home.path(), b"");
    let mut ws = gateway.accept(None).await.0.unwrap();
    let bye = CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    };
    ws.send(Message::Close(Some(bye))).await.unwrap();
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains("the gateway closed the connection (1000 bye)"),
        "{}",
        out.stderr
    );

    // 28 bytes: the length that wedges the stock client's reader for good.
    let gateway = FakeGateway::start().await;
    let child = spawn_session(&gateway, home.path(), b"");
    let mut ws = gateway.accept(None).await.0.unwrap();
    ws.send(Message::binary(vec![1u8; 28])).await.unwrap();
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("malformed frame"), "{}", out.stderr);

    let gateway = FakeGateway::start().await;
    let child = spawn_session(&gateway, home.path(), b"");
    let mut refusal = tokio_tungstenite::tungstenite::handshake::server::ErrorResponse::new(Some(
        r#"{"Code":"InvalidToken","Message":"the token has expired"}"#.to_owned(),
    ));
    *refusal.status_mut() = StatusCode::FORBIDDEN;
    let (ws, _) = gateway.accept(Some(refusal)).await;
    assert!(ws.is_none());
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains(
            "the gateway refused the session: HTTP 403 Forbidden: InvalidToken: the token has expired"
        ),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn session_instance_starts_a_session_and_opens_its_url() {
    let gateway = FakeGateway::start().await;
    let plane = TestPlane::start(&format!("ws://{}", gateway.addr)).await;
    let home = tempfile::tempdir().unwrap();
    let instance = plane.ready_instance(home.path()).await;

    let child = plane
        .axt(home.path())
        .args(["session", "--instance", &instance, "--username", "ecs-user"])
        .spawn()
        .unwrap();
    let (ws, request) = gateway.accept(None).await;
    let mut ws = ws.unwrap();
    let query = request.uri().query().unwrap().to_owned();
    assert!(query.starts_with("sessionId=s-"), "{query}");
    let token = query.split("token=").nth(1).unwrap();
    assert_eq!(request.headers()["x-acs-session-token"], token);
    send(&mut ws, Output, b"$ ").await;
    send(&mut ws, Status, b"\x05Exit").await;
    let out = finish(child).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "$ ");

    // A refusal by the API is the service's error, and no WebSocket is opened.
    let child = plane
        .axt(home.path())
        .args(["session", "--instance", "i-nowhere"])
        .spawn()
        .unwrap();
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.starts_with("InvalidInstance.NotFound: "),
        "{}",
        out.stderr
    );
}
