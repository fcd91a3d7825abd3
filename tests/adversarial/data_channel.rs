//! The agents' data channel (`/luban/session/backend?channelId=`): the neighbour's channel
//! asked for without an identity, with forged ones and by another genuine instance (all
//! refused); channels that do not exist; then the suite's own instance plays a hostile agent
//! for a session of its own — garbage, truncated, lying and oversized agent frames, a second
//! data channel for the same channel — while its client must only ever see well-formed frames;
//! and that instance reports a result for the neighbour's channel, which must not end it.

use std::time::Duration;

use axt_e2e::{
    adversary::{identity_headers, ws_connect, Signer, Ws, LIMIT},
    client::RawClient,
};
use axt_proto::{
    agent_frame::{AgentFrame, AgentMessageType},
    status::ChannelState,
};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;

use super::Ctx;

pub async fn attack(ctx: &Ctx) {
    fake_agent_session(ctx).await;
    refused_data_channels(ctx).await;
    foreign_result_report(ctx).await;
}

/// Opens the data channel for `channel_id` with `headers`.
async fn data_channel(
    ctx: &Ctx,
    channel_id: &str,
    headers: &[(String, String)],
) -> Result<Ws, (u16, String)> {
    let url = ctx.wss_url(&format!("/luban/session/backend?channelId={channel_id}"));
    ws_connect(&url, &ctx.stack.ca, headers).await
}

/// Data channels that must not open: 401 without a valid identity, 404 for a channel that is
/// not the caller's or not live (a query that is not UTF-8 names none).
async fn refused_data_channels(ctx: &Ctx) {
    let neighbour = ctx.neighbour_channel.clone();
    let impostor = Signer {
        instance_id: ctx.instance.clone(),
        machine_id: ctx.other.machine_id.clone(),
        key: ctx.other.key.clone(),
    };
    let now = axt_proto::now_ms().to_string();
    let stale = (axt_proto::now_ms() - 3_600_000).to_string();
    let random = axt_e2e::adversary::base64(&ctx.bytes(256));
    let cases: Vec<Refused> = vec![
        ("no identity", neighbour.clone(), Vec::new(), 401),
        (
            "a made-up instance",
            neighbour.clone(),
            identity_headers("mi-madeup0000000000", &now, "r-1", &random),
            401,
        ),
        ("another key", neighbour.clone(), impostor.headers(), 401),
        (
            "a stale timestamp",
            neighbour.clone(),
            ctx.other.headers_at(&stale, "r-2"),
            401,
        ),
        (
            "another instance",
            neighbour.clone(),
            ctx.other.headers(),
            404,
        ),
        (
            "no such channel",
            "c-nothing".into(),
            ctx.other.headers(),
            404,
        ),
        ("no channel id", String::new(), ctx.other.headers(), 404),
        (
            "an 8 KiB channel id",
            "c".repeat(8192),
            ctx.other.headers(),
            404,
        ),
        ("not UTF-8", "%FF%FE".into(), ctx.other.headers(), 404),
    ];
    for (what, channel, headers, expected) in cases {
        match data_channel(ctx, &channel, &headers).await {
            Ok(_) => panic!("a data channel with {what} was opened"),
            Err((status, text)) => assert_eq!(status, expected, "{what}: {text}"),
        }
    }
}

/// What is asked for, the channel, the identity headers, and the status of the refusal.
type Refused = (&'static str, String, Vec<(String, String)>, u16);

/// A start kick on the suite's kick channel: its channel id.
async fn next_start(kick: &mut Ws) -> String {
    loop {
        let msg = tokio::time::timeout(LIMIT, kick.next())
            .await
            .expect("no kick came")
            .expect("the kick channel ended")
            .unwrap();
        if let Message::Text(text) = msg {
            if let Some(id) = text.strip_prefix("kick_vm session start ") {
                let _ = kick
                    .send(Message::Text(format!("accept:{text}").into()))
                    .await;
                return id.trim().to_owned();
            }
        }
    }
}

/// An agent frame as bytes.
fn frame(kind: AgentMessageType, channel_id: &str, payload: &[u8]) -> Vec<u8> {
    AgentFrame::new(kind, channel_id, 0, payload.to_vec())
        .encode()
        .unwrap()
}

/// The suite's instance as a hostile agent: a session started for it, its kick taken on a kick
/// channel of the suite's, its data channel fed garbage. The client reads every frame the
/// gateway sends (`RawClient` fails on a malformed one); the session works through it all and
/// ends, when the data channel is closed for an oversized message, with a Status.
async fn fake_agent_session(ctx: &Ctx) {
    let other = &ctx.other.instance_id;
    let url = ctx.wss_url("/luban/notify_server");
    let mut kick = ws_connect(&url, &ctx.stack.ca, &ctx.other.headers())
        .await
        .unwrap();
    let gateway = ctx.stack.gateway.clone();
    axt_e2e::wait_for(LIMIT, || gateway.kicks.online(other)).await;
    let started = ctx.stack.start_session(&[("InstanceId.1", other)]).await;
    let url = started["WebSocketUrl"].as_str().unwrap();
    let mut client = RawClient::connect(url, &ctx.stack.ca, false).await.unwrap();
    let channel = next_start(&mut kick).await;

    let mut first = data_channel(ctx, &channel, &ctx.other.headers())
        .await
        .unwrap();
    client
        .expect_status(ChannelState::Opened as u8, LIMIT)
        .await;
    let mut garbage: Vec<Vec<u8>> = (0..60).map(|n| ctx.bytes(n)).collect();
    garbage.extend((0..20).map(|_| {
        let n = 60 + ctx.below(300);
        ctx.bytes(n)
    }));
    let mut lying = frame(AgentMessageType::Output, &channel, b"len");
    lying[56..60].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut undated = frame(AgentMessageType::Output, &channel, b"undated ");
    undated[40..48].fill(0);
    garbage.extend([
        lying,
        undated,
        frame(
            AgentMessageType::Output,
            &ctx.neighbour_channel,
            b"spoofed ",
        ),
        frame(AgentMessageType::Other(2), &channel, b"{\"cols\":-1}"),
        frame(AgentMessageType::Other(u32::MAX), &channel, &[0; 100]),
        frame(
            AgentMessageType::Output,
            &channel,
            b"\xff\xfe\x00\x1b[2J\xc3",
        ),
    ]);
    for bytes in garbage {
        first.send(Message::Binary(bytes.into())).await.unwrap();
    }
    let text = ctx.text(200);
    first.send(Message::Text(text.into())).await.unwrap();
    first
        .send(Message::Ping(b"keepalive".to_vec().into()))
        .await
        .unwrap();
    let ready = frame(AgentMessageType::Output, &channel, b"fake-ok");
    first.send(Message::Binary(ready.into())).await.unwrap();
    client.expect_output("fake-ok", LIMIT).await;

    // The other way: the client's input reaches the hostile agent as a well-formed frame.
    client.input("typed-by-the-client").await;
    let typed = loop {
        let msg = tokio::time::timeout(LIMIT, first.next())
            .await
            .expect("the client's input never came")
            .expect("the data channel ended")
            .unwrap();
        if let Message::Binary(bytes) = msg {
            let frame = AgentFrame::decode(&bytes).expect("the gateway sent a malformed frame");
            if frame.kind == AgentMessageType::Input && !frame.payload.is_empty() {
                break frame;
            }
        }
    };
    assert_eq!(typed.payload, b"typed-by-the-client");
    assert_eq!(typed.channel_id, channel);

    // A second data channel for the same channel, as a redial; then 100 KiB of output at once.
    let mut second = data_channel(ctx, &channel, &ctx.other.headers())
        .await
        .unwrap();
    let mut big = ctx.bytes(100 << 10);
    big.extend_from_slice(b"fake-end");
    let big = frame(AgentMessageType::Output, &channel, &big);
    second.send(Message::Binary(big.into())).await.unwrap();
    client
        .expect_output("fake-end", Duration::from_secs(20))
        .await;

    // Past the message cap the data channel is closed; no agent comes back, so the client is
    // told the connection ended.
    let oversized = vec![0u8; (1 << 20) + 1];
    let _ = second.send(Message::Binary(oversized.into())).await;
    let reason = client
        .expect_status(ChannelState::Closed as u8, LIMIT)
        .await;
    assert!(!reason.is_empty());
    assert!(
        client.expect_end(LIMIT).await,
        "the client was never let go"
    );
    drop((first, second, kick));
}

/// The suite's instance reports a result for the neighbour's channel: the gateway must not
/// hand it to the neighbour's relay (it is another instance's) nor record it, so the neighbour
/// goes on, still `Connected`.
async fn foreign_result_report(ctx: &Ctx) {
    for query in [
        format!(
            "channelId={}&status=Success&errorcode=Ok",
            ctx.neighbour_channel
        ),
        format!(
            "channelId={}&status=Failed&errorcode=Open_pty_failed",
            ctx.neighbour_channel
        ),
        "channelId=c-nothing&status=%FF&errorcode=%00%01".to_owned(),
    ] {
        let mut request = ctx
            .https
            .post(ctx.gw_url(&format!("/luban/api/v1/session/status?{query}")));
        for (name, value) in ctx.other.headers() {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        assert!(response.status().as_u16() < 500, "{query}: {response:?}");
    }
    // Nor may it end the neighbour's record.
    let record = ctx.stack.connection_end(&ctx.neighbour_session).await;
    assert_eq!(record, ("Connected".to_owned(), String::new()));
}
