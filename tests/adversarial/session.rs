//! The clients' `/session` WebSocket, on a session of its own next to the neighbour's: upgrades
//! with a missing, wrong or foreign token, or a reconnect onto the neighbour's channel (all
//! refused before any channel is made); then accepted connections sent garbage, truncated
//! frames, absurd id lengths, text frames, frames for the neighbour's channel, out-of-order
//! 1.02 sequence numbers and Syncs, an oversized message and WebSocket frames that break the
//! protocol. A connection either goes on working or is ended — a Status 5 or a close — within
//! a bounded time; none is left behind.

use axt_e2e::{
    adversary::{ws_connect, ws_end, ws_frame, LIMIT},
    client::RawClient,
    REGION,
};
use axt_proto::{
    client_frame::{resize_payload, ClientFrame, ClientMessageType},
    status::ChannelState,
};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::{
    protocol::{frame::coding::CloseCode, CloseFrame},
    Message,
};

use super::{blocking, luban::broken_frames, Ctx};

pub async fn attack(ctx: &Ctx) {
    let (session, url) = ctx.session().await;
    let token = form_urlencoded::parse(url.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();
    refused_upgrades(ctx, &session, &token).await;
    garbage_frames(ctx, &url).await;
    text_frames(ctx, &url).await;
    out_of_order(ctx, &url).await;
    oversized(ctx, &url).await;
    broken_websocket_frames(ctx, &url).await;

    // Ending the session ends whatever of it is still relayed (a 1.02 connection whose socket
    // dropped waits for its client); then only the neighbour's channel is left: no relay
    // leaked from the attacks.
    let (status, body) = ctx
        .stack
        .api()
        .call(
            "EndTerminalSession",
            &[("RegionId", REGION), ("SessionId", &session)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (gateway, neighbour) = (ctx.stack.gateway.clone(), ctx.neighbour_channel.clone());
    axt_e2e::wait_for(LIMIT, || {
        gateway.channels.live_channels() == [neighbour.clone()]
    })
    .await;
}

/// Upgrades refused before any channel is made: the channels the gateway relays are the same
/// before and after.
async fn refused_upgrades(ctx: &Ctx, session: &str, token: &str) {
    let live = ctx.stack.gateway.channels.live_channels().len();
    let neighbour = (&ctx.neighbour_session, &ctx.neighbour_channel);
    let forged = uuid::Uuid::new_v4().to_string();
    let cases = [
        ("nothing", "/session".to_owned(), 400),
        ("no token", format!("/session?sessionId={session}"), 400),
        ("no session", format!("/session?token={token}"), 400),
        (
            "a wrong token",
            format!("/session?sessionId={session}&token={forged}"),
            403,
        ),
        (
            "a short token",
            format!("/session?sessionId={session}&token=x"),
            403,
        ),
        (
            "a 6 KiB token",
            format!("/session?sessionId={session}&token={}", "t".repeat(6144)),
            403,
        ),
        (
            "the neighbour's session with this token",
            format!("/session?sessionId={}&token={token}", neighbour.0),
            403,
        ),
        (
            "a reconnect onto the neighbour's channel",
            format!(
                "/session?sessionId={session}&token={token}&channelId={}",
                neighbour.1
            ),
            404,
        ),
        (
            "the neighbour's channel with a wrong token",
            format!(
                "/session?sessionId={}&token={forged}&channelId={}",
                neighbour.0, neighbour.1
            ),
            403,
        ),
        (
            "not UTF-8",
            "/session?sessionId=%FF&token=%FE%80".to_owned(),
            403,
        ),
    ];
    for (what, path, expected) in cases {
        match RawClient::connect(&ctx.wss_url(&path), &ctx.stack.ca, false).await {
            Ok(_) => panic!("/session with {what} was accepted"),
            Err(refused) => assert_eq!(refused.0, expected, "{what}: {}", refused.1),
        }
    }
    // A valid URL, but no upgrade.
    let plain = format!("/session?sessionId={session}&token={token}");
    let status = ctx
        .https
        .get(ctx.gw_url(&plain))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_client_error(), "{status}");
    assert_eq!(ctx.stack.gateway.channels.live_channels().len(), live);
}

/// A 1.01 connection sent garbage of every kind, then a command: the garbage was ignored and
/// the session works; then a client Close with a garbage payload ends it (Ctrl-D to the shell).
async fn garbage_frames(ctx: &Ctx, url: &str) {
    let mut client = RawClient::connect(url, &ctx.stack.ca, false).await.unwrap();
    client
        .expect_status(ChannelState::Opened as u8, LIMIT)
        .await;
    let valid = ClientFrame::v101(ClientMessageType::Input, 0, b"echo cut\r".to_vec())
        .encode()
        .unwrap();
    let mut garbage: Vec<Vec<u8>> = (0..30).map(|n| valid[..n].to_vec()).collect();
    for _ in 0..20 {
        let n = ctx.below(200);
        garbage.push(ctx.bytes(n));
    }
    // Ids longer than the message that carries them.
    let mut absurd = valid.clone();
    absurd[8] = 255;
    garbage.push(absurd.clone());
    absurd.truncate(40);
    garbage.push(absurd);
    let mut both = vec![0u8; 8];
    both.extend([255; 256]);
    garbage.push(both);
    // Types no client sends, and Resizes that are no size.
    for kind in [1, 4, 5, 99, u32::MAX] {
        let f = ClientFrame::v101(ClientMessageType::from_code(kind), 0, b"x".to_vec());
        garbage.push(f.encode().unwrap());
    }
    for payload in [
        resize_payload(0, 0),
        vec![0xff; 4],
        b"{\"cols\":65535,\"rows\":65535}".to_vec(),
        b"{\"cols\":1e308,\"rows\":-1}".to_vec(),
        vec![1, 2, 3],
    ] {
        let f = ClientFrame::v101(ClientMessageType::Resize, 0, payload);
        garbage.push(f.encode().unwrap());
    }
    // Input for the neighbour's channel: not this connection's, and never the neighbour's.
    let mut hijack = ClientFrame::v101(
        ClientMessageType::Input,
        0,
        b"echo hijack-$((6*7))\r".to_vec(),
    );
    hijack.channel_id.clone_from(&ctx.neighbour_channel);
    garbage.push(hijack.encode().unwrap());
    for bytes in garbage {
        client.send_raw(bytes).await;
    }
    client.input("echo alive-$((6*7))\r").await;
    client.expect_output("alive-42", LIMIT).await;
    assert!(!client.output_text().contains("hijack-42"));

    let close = ClientFrame::v101(ClientMessageType::Close, 9, ctx.bytes(64));
    client.send_raw(close.encode().unwrap()).await;
    client
        .expect_status(ChannelState::Closed as u8, LIMIT)
        .await;
    assert!(
        client.expect_end(LIMIT).await,
        "the connection was never ended"
    );
}

/// Text messages, which the gateway reads like binary ones: text that is no frame is ignored,
/// and a frame whose bytes all happen to be text is applied. A WebSocket close with a code of
/// the application range then ends the connection.
async fn text_frames(ctx: &Ctx, url: &str) {
    let mut socket = ws_connect(url, &ctx.stack.ca, &[]).await.unwrap();
    let garbage = ctx.text(500);
    for text in [
        garbage,
        "{\"type\":0}".into(),
        String::new(),
        "\0".repeat(29),
    ] {
        socket.send(Message::Text(text.into())).await.unwrap();
    }
    let mut frame = ClientFrame::v101(
        ClientMessageType::Input,
        0,
        b"echo text-$((6*7))\r".to_vec(),
    );
    frame.created_ms = 0x0101_0101_0101_0101; // every byte below 0x80
    let text = String::from_utf8(frame.encode().unwrap()).unwrap();
    socket.send(Message::Text(text.into())).await.unwrap();
    let deadline = tokio::time::Instant::now() + LIMIT;
    let mut output = Vec::new();
    while !String::from_utf8_lossy(&output).contains("text-42") {
        let msg = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("a frame sent as text was not applied")
            .expect("the connection ended")
            .unwrap();
        if let Message::Binary(bytes) = msg {
            let frame = ClientFrame::decode(&bytes).expect("the gateway sent a malformed frame");
            if frame.kind == ClientMessageType::Output {
                output.extend(frame.payload);
            }
        }
    }
    let close = CloseFrame {
        code: CloseCode::Library(4999),
        reason: "\u{fffd}".into(),
    };
    let _ = socket.send(Message::Close(Some(close))).await;
    assert!(
        ws_end(&mut socket, LIMIT).await.is_some(),
        "a closed connection stayed open"
    );
}

/// A 1.02 frame with explicit sequence numbers.
fn v102(kind: ClientMessageType, input: u32, output: u32, payload: &str) -> Vec<u8> {
    ClientFrame::v102(kind, "", input, output, payload.as_bytes().to_vec())
        .encode()
        .unwrap()
}

/// A 1.02 connection out of order: a Sync before anything, inputs numbered backwards (a
/// resend, dropped) and acknowledgements far in the future; then a Sync storm, which ends it.
async fn out_of_order(ctx: &Ctx, url: &str) {
    use ClientMessageType::{Input, Sync};
    let mut client = RawClient::connect(url, &ctx.stack.ca, true).await.unwrap();
    client.send_raw(v102(Sync, 0, 0, "")).await;
    client.send_raw(v102(Sync, u32::MAX, u32::MAX, "")).await;
    client
        .send_raw(v102(Input, 5, 0, "echo first-$((6*7))\r"))
        .await;
    client
        .send_raw(v102(Input, 3, 0, "echo back-$((6*7))\r"))
        .await;
    client
        .send_raw(v102(Input, 5, 0, "echo again-$((6*7))\r"))
        .await;
    client
        .send_raw(v102(Input, 6, u32::MAX, "echo future-$((6*7))\r"))
        .await;
    client.send_raw(v102(Sync, 6, 1 << 31, "")).await;
    client.expect_output("first-42", LIMIT).await;
    client.expect_output("future-42", LIMIT).await;
    let seen = client.output_text();
    assert!(
        !seen.contains("back-42") && !seen.contains("again-42"),
        "a resent input was applied twice:\n{seen}"
    );
    // The same Sync again and again with nothing new between: a client that lost its place.
    for _ in 0..40 {
        client.send_raw(v102(Sync, 0, 7, "")).await;
    }
    let reason = client
        .expect_status(ChannelState::Closed as u8, LIMIT)
        .await;
    assert_eq!(reason, "SyncStorm");
    assert!(
        client.expect_end(LIMIT).await,
        "the connection was never ended"
    );
}

/// A message past the 1 MiB cap, from a 1.01 and a 1.02 client: each socket is closed.
async fn oversized(ctx: &Ctx, url: &str) {
    for v102 in [false, true] {
        let mut client = RawClient::connect(url, &ctx.stack.ca, v102).await.unwrap();
        let mut frame = ClientFrame::v101(ClientMessageType::Input, 0, Vec::new())
            .encode()
            .unwrap();
        frame.resize((1 << 20) + 64, b'a');
        client.send_raw(frame).await;
        assert!(
            client.expect_end(LIMIT).await,
            "an oversized message left the socket open (1.02: {v102})"
        );
    }
}

/// Accepted connections, each then sent one WebSocket frame that breaks RFC 6455: closed.
async fn broken_websocket_frames(ctx: &Ctx, url: &str) {
    let path = url.split_once("/session").unwrap().1.to_owned();
    let frames = broken_frames().into_iter().chain([(
        "a ping of 200 bytes",
        ws_frame(0x89, &[0; 200], 200, Some([1; 4])),
    )]);
    for (what, frame) in frames {
        let (target, path) = (ctx.gw.clone(), format!("/session{path}"));
        let end = blocking(move || {
            let mut conn = target.connect();
            let up = conn.ws_upgrade(&target.host(), &path, &[]);
            assert_eq!(up.status("session upgrade"), 101, "{up:?}");
            conn.send(&frame);
            conn.ws_end(LIMIT)
        })
        .await;
        assert!(end.is_some(), "/session sent {what} stayed open");
    }
}
