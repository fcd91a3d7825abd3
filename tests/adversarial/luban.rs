//! Every `/luban` path of the gateway: without identity headers, with forged ones (a made-up
//! instance and a signature of random bytes, the real agent's instance signed with another key,
//! a stale, a future and a non-numeric timestamp, a replayed request id), with garbage bodies
//! and queries; the kick channel with forged identities and, for an identity of the suite's
//! own, with garbage messages and broken WebSocket frames; and bytes on the TLS port that are
//! not TLS, or not HTTP, or never finish. Refusals only: 4xx, a close, never a 5xx.

use axt_e2e::adversary::{base64, identity_headers, ws_connect, ws_end, ws_frame, Signer, LIMIT};
use futures_util::SinkExt as _;
use tokio_tungstenite::tungstenite::Message;

use super::{blocking, exchange, expect_refused, Ctx};

/// Every route of the agent surface (`gateway/src/agent_surface/mod.rs`), the two WebSockets
/// last.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/luban/api/connection_detect"),
    ("POST", "/luban/api/instance/register"),
    ("POST", "/luban/api/instance/deregister"),
    ("GET", "/luban/api/heart-beat"),
    ("POST", "/luban/api/gshell"),
    ("POST", "/luban/api/v1/session/list"),
    ("POST", "/luban/api/v1/session/status"),
    ("POST", "/luban/api/v1/task/list"),
    ("POST", "/luban/api/v1/update/update_check"),
    ("POST", "/luban/api/metrics"),
    ("POST", "/luban/api/v1/exception/client_report"),
    (
        "POST",
        "/luban/api/instance/list_instance_state_configurations",
    ),
    ("GET", "/luban/notify_server"),
    ("GET", "/luban/session/backend"),
];

/// The routes that need no identity.
const OPEN: &[&str] = &[
    "/luban/api/connection_detect",
    "/luban/api/instance/register",
];

pub async fn attack(ctx: &Ctx) {
    garbage_with_a_genuine_identity(ctx).await;
    kick_channel_with_garbage(ctx).await;
    kick_channel_broken_frames(ctx).await;
    replayed_request_id(ctx).await;
    forged_identities(ctx).await;
    forged_kick_channels(ctx).await;
    not_tls_not_http(ctx).await;
}

/// Sends `method path?query` with `headers` and `body`; returns the status and body.
async fn call(
    ctx: &Ctx,
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> (u16, String) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = ctx
        .https
        .request(method, ctx.gw_url(path_and_query))
        .body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// The identity variants that must all be refused, each built fresh.
fn forgeries(ctx: &Ctx) -> Vec<(&'static str, Vec<(String, String)>)> {
    let now = axt_proto::now_ms();
    let random_signature = base64(&ctx.bytes(256));
    let request_id = || uuid::Uuid::new_v4().to_string();
    // The real agent's instance, signed with the suite's own key.
    let impostor = Signer {
        instance_id: ctx.instance.clone(),
        machine_id: ctx.other.machine_id.clone(),
        key: ctx.other.key.clone(),
    };
    vec![
        (
            "a made-up instance",
            identity_headers(
                "mi-madeup0000000000",
                &now.to_string(),
                &request_id(),
                &random_signature,
            ),
        ),
        ("another key", impostor.headers()),
        (
            "a stale timestamp",
            ctx.other
                .headers_at(&(now - 3_600_000).to_string(), &request_id()),
        ),
        (
            "a future timestamp",
            ctx.other
                .headers_at(&(now + 3_600_000).to_string(), &request_id()),
        ),
        (
            "a timestamp that is no number",
            ctx.other
                .headers_at("99999999999999999999999", &request_id()),
        ),
        (
            "an 8 KiB instance id",
            identity_headers(&"m".repeat(8192), &now.to_string(), &request_id(), "AAAA"),
        ),
    ]
}

/// Every path with each forged identity and a garbage body and query, and without identity
/// headers: refused (the two open routes answer, refusing the garbage in their own way).
async fn forged_identities(ctx: &Ctx) {
    for (method, path) in ROUTES {
        let mut variants = forgeries(ctx);
        variants.push(("no identity", Vec::new()));
        for (what, headers) in variants {
            let body = ctx.bytes(300);
            let query = format!("{path}?channelId=%FF{}&errorcode=%00", ctx.below(1000));
            let (status, text) = call(ctx, method, &query, &headers, body).await;
            let what = format!("{method} {path} with {what}");
            match *path {
                "/luban/api/connection_detect" => assert_eq!(status, 200, "{what}"),
                "/luban/api/instance/register" => {
                    assert_eq!(status, 200, "{what}: {text}");
                    assert!(!text.contains("\"code\":200"), "{what}: {text}");
                }
                _ => assert!((400..500).contains(&status), "{what}: {status} {text}"),
            }
        }
    }
}

/// A genuine identity (the suite's own instance) sending garbage bodies and queries to every
/// route it may call: answered or refused, never a server error. Its session pull for the
/// neighbour's channel must not give the neighbour's spec away.
async fn garbage_with_a_genuine_identity(ctx: &Ctx) {
    let neighbour = &ctx.neighbour_channel;
    for (method, path) in ROUTES {
        if OPEN.contains(path) || path.contains("deregister") || path.starts_with("/luban/notify") {
            continue;
        }
        for query in [
            format!("?channelId={}", ctx.text(40).replace(['&', '#', '%'], "")),
            format!("?channelId=&errorcode={}", "E".repeat(4096)),
            "?channelId=%FF%FE&status=%00&uptime=-1&index=99999999999999999999".to_owned(),
            format!("?channelId={neighbour}&channelId=c-other"),
        ] {
            let body = ctx.bytes(1024);
            let url = format!("{path}{query}");
            let (status, text) = call(ctx, method, &url, &ctx.other.headers(), body).await;
            assert!(
                status < 500,
                "{method} {path} (genuine identity, garbage): {status} {text}"
            );
        }
    }
    let list = format!("/luban/api/v1/session/list?channelId={neighbour}");
    let (status, text) = call(ctx, "POST", &list, &ctx.other.headers(), Vec::new()).await;
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(status, 200, "{text}");
    assert_eq!(answer["session"], serde_json::json!([]), "{text}");
    // Registration with bodies that are nearly right: refused in its body, never a 5xx.
    for body in [
        serde_json::json!({"activationCode": "x", "activationId": "y", "publicKey": "-----BEGIN garbage"}),
        serde_json::json!({"activationCode": 1, "publicKey": []}),
        serde_json::json!({"publicKey": base64(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")}),
    ] {
        let (status, text) = call(
            ctx,
            "POST",
            "/luban/api/instance/register",
            &[],
            body.to_string().into_bytes(),
        )
        .await;
        assert_eq!(status, 200, "{text}");
        assert!(!text.contains("\"code\":200"), "{body}: {text}");
    }
}

/// The same signed headers twice: the second use is refused.
async fn replayed_request_id(ctx: &Ctx) {
    let headers = ctx.other.headers();
    let path = "/luban/api/v1/update/update_check";
    let (first, text) = call(ctx, "POST", path, &headers, Vec::new()).await;
    assert_eq!(first, 200, "{text}");
    let (again, text) = call(ctx, "POST", path, &headers, Vec::new()).await;
    assert_eq!(again, 401, "a replayed request id: {text}");
}

/// The kick channel is always upgraded and the identity checked afterwards: every forgery (and
/// no identity at all) is closed with a policy violation, and the real agent keeps its own.
async fn forged_kick_channels(ctx: &Ctx) {
    let link = ctx.stack.gateway.kicks.link(&ctx.instance);
    let mut variants = forgeries(ctx);
    variants.push(("no identity", Vec::new()));
    for (what, headers) in variants {
        let url = ctx.wss_url("/luban/notify_server");
        match ws_connect(&url, &ctx.stack.ca, &headers).await {
            Ok(mut socket) => {
                let end = ws_end(&mut socket, LIMIT).await;
                assert_eq!(end, Some(Some(1008)), "a kick channel with {what}");
            }
            Err((status, text)) => {
                assert!((400..500).contains(&status), "{what}: {status} {text}")
            }
        }
    }
    assert_eq!(ctx.stack.gateway.kicks.link(&ctx.instance), link);
}

/// A genuine kick channel (the suite's instance) sent what no agent sends: binary messages,
/// replies to kicks never made, text that is no reply, then a message past the 4 KiB cap.
async fn kick_channel_with_garbage(ctx: &Ctx) {
    let url = ctx.wss_url("/luban/notify_server");
    let mut socket = ws_connect(&url, &ctx.stack.ca, &ctx.other.headers())
        .await
        .unwrap();
    let garbage = ctx.bytes(2048);
    let neighbour = &ctx.neighbour_channel;
    for msg in [
        Message::Binary(garbage.into()),
        Message::Text(format!("accept:kick_vm session start {neighbour}").into()),
        Message::Text(format!("reject:kick_vm session stop {neighbour}").into()),
        Message::Text("unknow:".into()),
        Message::Text(ctx.text(3000).into()),
        Message::Ping(vec![0; 100].into()),
        Message::Pong(Vec::new().into()),
    ] {
        let _ = socket.send(msg).await;
    }
    let _ = socket.send(Message::Text("x".repeat(8192).into())).await;
    assert!(
        ws_end(&mut socket, LIMIT).await.is_some(),
        "a kick channel sent a message past its cap stayed open"
    );
}

/// Genuine kick channels (the suite's instance), each then sent one WebSocket frame that
/// breaks the protocol: closed, every one.
async fn kick_channel_broken_frames(ctx: &Ctx) {
    for (what, frame) in broken_frames() {
        let (target, headers) = (ctx.gw.clone(), ctx.other.headers());
        let end = blocking(move || {
            let mut conn = target.connect();
            let up = conn.ws_upgrade(&target.host(), "/luban/notify_server", &headers);
            assert_eq!(up.status("kick channel upgrade"), 101, "{up:?}");
            conn.send(&frame);
            conn.ws_end(LIMIT)
        })
        .await;
        assert!(end.is_some(), "a kick channel sent {what} stayed open");
    }
}

/// One WebSocket frame of each way to break RFC 6455, as a client would send it.
pub fn broken_frames() -> Vec<(&'static str, Vec<u8>)> {
    let m = Some([0x12, 0x34, 0x56, 0x78]);
    let close = |payload: &[u8]| ws_frame(0x88, payload, payload.len() as u64, m);
    vec![
        ("reserved bits", ws_frame(0xf2, b"abc", 3, m)),
        ("an unmasked frame", ws_frame(0x82, b"abc", 3, None)),
        ("a 2^63-byte length", ws_frame(0x82, b"abc", 1 << 63, m)),
        ("a fragmented ping", ws_frame(0x09, b"p", 1, m)),
        ("opcode 3", ws_frame(0x83, b"abc", 3, m)),
        ("a continuation with no start", ws_frame(0x80, b"abc", 3, m)),
        (
            "text that is not UTF-8",
            ws_frame(0x81, b"\xff\xfe\xc3", 3, m),
        ),
        ("a 1-byte close", close(b"\x03")),
        ("close code 999", close(&999u16.to_be_bytes())),
        ("a close reason not UTF-8", close(b"\x03\xe8\xff\xfe")),
    ]
}

/// Bytes on the TLS port that are not TLS; a TLS connection that never says hello; TLS that
/// carries no HTTP; a head abandoned half-way. Each is closed (the header-read timeout is 2 s).
async fn not_tls_not_http(ctx: &Ctx) {
    let gw = ctx.gw.clone();
    let random = ctx.bytes(64 << 10);
    blocking(move || {
        let mut conn = gw.connect_tcp();
        conn.send(b"GET /luban/api/connection_detect HTTP/1.1\r\nHost: gw\r\n\r\n");
        assert!(conn.closed_within(LIMIT), "plain HTTP on the TLS port");
        let mut conn = gw.connect_tcp();
        conn.send(&random[..4096]);
        assert!(conn.closed_within(LIMIT), "garbage instead of a TLS hello");
        let mut conn = gw.connect_tcp();
        assert!(conn.closed_within(LIMIT), "no TLS hello at all");
        let mut conn = gw.connect();
        conn.send(b"GET /luban/api/heart-beat HTTP/1.1\r\nHost: gw\r\nx-acs-");
        assert!(conn.closed_within(LIMIT), "an abandoned head over TLS");
        let mut conn = gw.connect();
        conn.send(&random);
        assert!(conn.closed_within(LIMIT), "garbage over TLS");
    })
    .await;
    let random = ctx.bytes(512);
    let outcome = exchange(&ctx.gw, [random.as_slice(), b"\r\n\r\n"].concat()).await;
    expect_refused(&outcome, "a garbage request line over TLS");
}
