//! `/session/events` on a real gateway listener, against a stand-in control plane that knows
//! one session and one token: a wrong token gets exactly the refusal `/session` gives, a
//! missing one a 400, and the right one a WebSocket of the session's events as JSON text —
//! payloads only when asked for — checked with `VerifyToken` alone (no channel allocated).

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use axt_gateway::observe::{events::Dir, events::Frame, Event, Kind};
use axt_proto::internal::{
    ChannelGrant, OpenChannel, Refusal, RefusalCode, SessionView, Verified, VerifyToken,
};
use axum::{http::StatusCode, response::IntoResponse, routing::post, Json, Router};
use clap::Parser as _;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt as _};

const SESSION: &str = "s-events";
const TOKEN: &str = "the-right-token";
const PATIENCE: Duration = Duration::from_secs(20);

fn view() -> SessionView {
    SessionView {
        session_id: SESSION.into(),
        region_id: "cn-test".into(),
        instance_id: "i-test".into(),
        instance_ids: vec!["i-test".into()],
        state: axt_proto::status::SessionState::Pending,
        url_expires_at: i64::MAX / 2,
        port_number: None,
        target_server: String::new(),
        command_line: String::new(),
        username: String::new(),
        rate_limit: None,
        encryption: None,
    }
}

fn refused() -> axum::response::Response {
    let refusal = Refusal::new(RefusalCode::InvalidToken, "no such session or token");
    (StatusCode::FORBIDDEN, Json(refusal)).into_response()
}

/// A control plane that knows [`SESSION`] with [`TOKEN`], counting channel allocations.
async fn control_plane(opened: Arc<AtomicUsize>) -> SocketAddr {
    let router = Router::new()
        .route(
            "/internal/v1/sessions/verify",
            post(|Json(r): Json<VerifyToken>| async move {
                match r.token == TOKEN {
                    true => Json(Verified { session: view() }).into_response(),
                    false => refused(),
                }
            }),
        )
        .route(
            "/internal/v1/channels/open",
            post(move |Json(r): Json<OpenChannel>| async move {
                opened.fetch_add(1, Ordering::Relaxed);
                match r.token == TOKEN {
                    // Never reached by these tests: only wrong tokens go to /session.
                    true => Json(None::<ChannelGrant>).into_response(),
                    false => refused(),
                }
            }),
        )
        .route(
            "/internal/v1/gateways/started",
            post(|| async { Json(json!({})) }),
        )
        .route(
            "/internal/v1/gateways/lease",
            post(|| async { Json(json!({"leaseSecs": 30})) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

struct Lab {
    gateway: axt_gateway::Background,
    opened: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

async fn lab() -> Lab {
    let opened = Arc::new(AtomicUsize::new(0));
    let cp = control_plane(opened.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = axt_gateway::Config::parse_from([
        "axt-gateway".to_owned(),
        "--plain".into(),
        "--data-dir".into(),
        dir.path().display().to_string(),
        "--control-plane".into(),
        format!("http://{cp}"),
        "--internal-token".into(),
        "internal".into(),
    ]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = axt_gateway::Gateway::open(config).await.unwrap();
    let gateway = gateway.spawn(listener).unwrap();
    Lab {
        gateway,
        opened,
        _dir: dir,
    }
}

/// A WebSocket upgrade request to `path` on the gateway.
async fn upgrade(lab: &Lab, path: &str) -> reqwest::Response {
    let url = format!("http://{}{path}", lab.gateway.addr);
    let request = reqwest::Client::new()
        .get(url)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    tokio::time::timeout(PATIENCE, request.send())
        .await
        .expect("no answer in time")
        .unwrap()
}

/// The next text message of a server's WebSocket (server frames are not masked).
async fn text(socket: &mut (impl AsyncRead + Unpin)) -> Value {
    let read = async {
        let mut head = [0u8; 2];
        socket.read_exact(&mut head).await.unwrap();
        assert_eq!(head[0], 0x81, "a whole text message");
        let len = match head[1] & 0x7f {
            126 => u64::from(socket.read_u16().await.unwrap()),
            127 => socket.read_u64().await.unwrap(),
            n => u64::from(n),
        };
        let mut body = vec![0u8; len as usize];
        socket.read_exact(&mut body).await.unwrap();
        serde_json::from_slice(&body).unwrap()
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("no event in time")
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_refused_as_on_the_session_path() {
    let lab = lab().await;
    let query = format!("sessionId={SESSION}&token=wrong");
    let events = upgrade(&lab, &format!("/session/events?{query}")).await;
    let session = upgrade(&lab, &format!("/session?{query}")).await;
    assert_eq!(events.status(), StatusCode::FORBIDDEN);
    assert_eq!(events.status(), session.status());
    let (events, session): (Value, Value) =
        (events.json().await.unwrap(), session.json().await.unwrap());
    assert_eq!(events, session);
    assert_eq!(events["code"], "InvalidToken");
    let missing = upgrade(&lab, &format!("/session/events?sessionId={SESSION}")).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        lab.opened.load(Ordering::Relaxed),
        1,
        "only /session allocates"
    );
}

#[tokio::test]
async fn the_right_token_streams_the_sessions_events_payloads_only_when_asked() {
    let lab = lab().await;
    let observe = &lab.gateway.shared.observe;
    observe.token_checked(SESSION, None, "new connection");
    let frame = Event::new(Kind::Frame, Some("c-1")).with_frame(Frame {
        dir: Dir::ClientToAgent,
        kind: "Input".into(),
        seq: 3,
        ack: Some(2),
        payload: b"hello".to_vec(),
    });
    observe.publish(SESSION, frame);
    for (round, (query, payload)) in [("", None), ("&payloads=1", Some("aGVsbG8="))]
        .into_iter()
        .enumerate()
    {
        let path = format!("/session/events?sessionId={SESSION}&token={TOKEN}{query}");
        let response = upgrade(&lab, &path).await;
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        let mut socket = response.upgrade().await.unwrap();
        let first = text(&mut socket).await;
        assert_eq!(
            (first["kind"].as_str(), first["detail"].as_str()),
            (Some("token-check"), Some("new connection"))
        );
        let second = text(&mut socket).await;
        assert_eq!(second["kind"], "frame");
        assert_eq!(second["dir"], "client-to-agent");
        assert_eq!(
            (
                second["type"].as_str(),
                second["seq"].as_u64(),
                second["ack"].as_u64()
            ),
            (Some("Input"), Some(3), Some(2))
        );
        assert_eq!(second["size"], 5);
        assert_eq!(second["payload"].as_str(), payload);
        // The spec pulls of earlier rounds are in the backlog; this round's comes live.
        for _ in 0..round {
            assert_eq!(text(&mut socket).await["kind"], "spec-pull");
        }
        observe.spec_pulled(SESSION, "c-1");
        let live = text(&mut socket).await;
        assert_eq!(
            (live["kind"].as_str(), live["channelId"].as_str()),
            (Some("spec-pull"), Some("c-1"))
        );
    }
    assert_eq!(
        lab.opened.load(Ordering::Relaxed),
        0,
        "watching allocates nothing"
    );
}
