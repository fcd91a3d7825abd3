//! `axt session --instance` ends the session it started (EndTerminalSession), so that it stops
//! counting against the region's limit: after the shell exits, and when the WebSocket never
//! opened (an untrusted certificate, a refused connection, a refused upgrade). A `--wss-url`
//! session is left alone. A certificate that fails verification is explained: pass the lab's CA.
//!
//! DescribeTerminalSessions shows connections, not the session's own state, so that state is
//! read from the control plane's database: `Ended`, or `Pending`/`Active` while it counts.

mod common;

use axt_control_plane::store::Store;
use axt_proto::{
    client_frame::ClientMessageType::{Output, Status},
    internal::OpenChannel,
    status::SessionState,
};
use common::{
    finish, send,
    tls::{assert_told_to_pass_the_ca, handshake_fails, lab_tls},
    FakeGateway, Outcome, TestPlane,
};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::{handshake::server::ErrorResponse, http::StatusCode};

/// The id and state of the one session `plane` holds.
async fn only_session(plane: &TestPlane, home: &std::path::Path) -> (String, SessionState) {
    let listed = plane.api(home, &["DescribeTerminalSessions"]).await;
    let sessions = listed["Sessions"]["Session"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{listed}");
    let id = sessions[0]["SessionId"].as_str().unwrap().to_owned();
    let store = Store::open(plane.dir.path()).await.unwrap();
    let state = store.session(&id).await.unwrap().unwrap().state;
    (id, state)
}

/// `axt session --instance` on a ready instance of `plane`, run to its end while `gateway`
/// (what stands where the WebSocketUrl points) plays its part. What `gateway` returns (its
/// socket) lives until `axt` is done: closing it early could reset what `axt` still reads.
async fn session_on<T>(
    plane: &TestPlane,
    home: &std::path::Path,
    global: &[&str],
    gateway: impl std::future::Future<Output = T>,
) -> Outcome {
    let instance = plane.ready_instance(home).await;
    let child = plane
        .axt(home)
        .args(global)
        .args(["session", "--instance", &instance])
        .spawn()
        .unwrap();
    let _held = gateway.await;
    finish(child).await
}

#[tokio::test]
async fn a_session_whose_shell_exits_is_ended() {
    let gateway = FakeGateway::start().await;
    let plane = TestPlane::start(&format!("ws://{}", gateway.addr)).await;
    let home = tempfile::tempdir().unwrap();
    let out = session_on(&plane, home.path(), &[], async {
        let (ws, request) = gateway.accept(None).await;
        let mut ws = ws.unwrap();
        // Allocated as a gateway does (Connecting), and never recorded closed: only the end of
        // the session closes it.
        let url = format!("ws://x/?{}", request.uri().query().unwrap());
        let param = |name: &str| {
            let url = reqwest::Url::parse(&url).unwrap();
            let value = url.query_pairs().find(|(n, _)| n == name).unwrap().1;
            value.into_owned()
        };
        let open = OpenChannel {
            session_id: param("sessionId"),
            token: param("token"),
            client_ip: "127.0.0.1".into(),
            gateway_id: "gw-test".into(),
            gateway_boot: "boot-1".into(),
            instance_id: None,
        };
        plane.gateway().call(&open).await.unwrap();
        send(&mut ws, Output, b"$ exit\r\n").await;
        send(&mut ws, Status, b"\x05Exit").await;
        ws
    })
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("Exit: session closed."),
        "{}",
        out.stderr
    );

    let (id, state) = only_session(&plane, home.path()).await;
    assert_eq!(state, SessionState::Ended);
    let listed = plane
        .api(
            home.path(),
            &["DescribeTerminalSessions", "--SessionId", &id],
        )
        .await;
    let connection = &listed["Sessions"]["Session"][0]["Connections"]["Connection"][0];
    assert_eq!(connection["Status"], "Terminated", "{listed}");
    assert_eq!(connection["ClosedReason"], "ClientClosed", "{listed}");
    assert_ne!(connection["EndTime"], "", "{listed}");
}

#[tokio::test]
async fn a_session_whose_websocket_is_refused_is_ended() {
    // The gateway refuses the upgrade.
    let gateway = FakeGateway::start().await;
    let plane = TestPlane::start(&format!("ws://{}", gateway.addr)).await;
    let home = tempfile::tempdir().unwrap();
    let out = session_on(&plane, home.path(), &[], async {
        let mut refusal = ErrorResponse::new(Some("no".to_owned()));
        *refusal.status_mut() = StatusCode::FORBIDDEN;
        assert!(gateway.accept(Some(refusal)).await.0.is_none());
    })
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("HTTP 403 Forbidden"), "{}", out.stderr);
    assert_eq!(
        only_session(&plane, home.path()).await.1,
        SessionState::Ended
    );

    // Nothing listens where the URL points.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = closed.local_addr().unwrap();
    drop(closed);
    let plane = TestPlane::start(&format!("ws://{nowhere}")).await;
    let out = session_on(&plane, home.path(), &[], async {}).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot open a WebSocket"),
        "{}",
        out.stderr
    );
    assert_eq!(
        only_session(&plane, home.path()).await.1,
        SessionState::Ended
    );
}

#[tokio::test]
async fn an_untrusted_gateway_certificate_ends_the_session_and_says_to_pass_the_ca() {
    let (_, acceptor) = lab_tls();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let home = tempfile::tempdir().unwrap();

    // No CA given.
    let plane = TestPlane::start(&format!("wss://{addr}")).await;
    let out = session_on(
        &plane,
        home.path(),
        &[],
        handshake_fails(&listener, &acceptor),
    )
    .await;
    assert_told_to_pass_the_ca(&out);
    assert_eq!(
        only_session(&plane, home.path()).await.1,
        SessionState::Ended
    );

    // The CA of another lab.
    let (other_ca, _) = lab_tls();
    let other = home.path().join("other-ca.pem");
    std::fs::write(&other, other_ca).unwrap();
    let other = other.display().to_string();
    let plane = TestPlane::start(&format!("wss://{addr}")).await;
    let out = session_on(
        &plane,
        home.path(),
        &["--ca-cert", &other],
        handshake_fails(&listener, &acceptor),
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let advice = format!("not even with the CA in {other}");
    assert!(out.stderr.contains(&advice), "{}", out.stderr);
    assert_eq!(
        only_session(&plane, home.path()).await.1,
        SessionState::Ended
    );
}

#[tokio::test]
async fn a_session_opened_by_its_url_is_left_alone() {
    let gateway = FakeGateway::start().await;
    let plane = TestPlane::start(&format!("ws://{}", gateway.addr)).await;
    let home = tempfile::tempdir().unwrap();
    let instance = plane.ready_instance(home.path()).await;
    let started = plane
        .api(
            home.path(),
            &["StartTerminalSession", "--InstanceId.1", &instance],
        )
        .await;
    let url = started["WebSocketUrl"].as_str().unwrap();
    let child = plane
        .axt(home.path())
        .args(["session", "--wss-url", url])
        .spawn()
        .unwrap();
    let mut ws = gateway.accept(None).await.0.unwrap();
    send(&mut ws, Status, b"\x05Exit").await;
    let out = finish(child).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // Whoever called StartTerminalSession ends it; the URL may serve other connections.
    assert_ne!(
        only_session(&plane, home.path()).await.1,
        SessionState::Ended
    );
}
