//! The relay's observer hook: a session's steps and frames on its event bus, in order, and the
//! asciicast recording of a shell connection — once per output even when it is replayed, and
//! nothing at all of an encrypted or a port connection.

use std::{sync::Arc, time::Duration};

use axt_proto::{
    client_frame::{resize_payload, ClientMessageType},
    internal::{AppendRecording, Encryption, EncryptionMode},
    status::AgentResult,
};
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedReceiver;

use super::*;
use crate::{
    observe::{
        testing::{lines, policy, recording, Appends},
        Event, Item, Observe, Subscription,
    },
    relay::{End, DEFAULT_KEY_EXCHANGE_TYPE},
};

const SESSION: &str = "s-test";

/// An observed relay: the rig, the session's subscription, the recorder's appends.
struct Observed {
    observe: Arc<Observe>,
    rig: Rig,
    watching: Subscription,
    appends: UnboundedReceiver<AppendRecording>,
}

fn observed(grant: ChannelGrant, record_input: bool) -> Observed {
    let (appender, appends) = Appends::new();
    let observe = Observe::new(policy(record_input), appender);
    let watching = observe.subscribe(SESSION).unwrap();
    // What the session surface says before the relay exists.
    observe.token_checked(SESSION, None, "new connection");
    observe.channel_opened(SESSION, CHANNEL, "allocated");
    let tap = observe.tap(&grant, false);
    let rig = Rig::start_with(grant, 0, TestHost::default(), |relay| relay.with_tap(tap));
    Observed {
        observe,
        rig,
        watching,
        appends,
    }
}

async fn next_event(watching: &mut Subscription) -> Arc<Event> {
    match tokio::time::timeout(PATIENCE, watching.next()).await {
        Ok(Some(Item::Event(event))) => event,
        other => panic!("no event: {other:?}"),
    }
}

/// An event in a line: its kind, and a frame's direction, type, seq/ack and size, or its detail.
fn summary(event: &Event) -> String {
    let json: Value = serde_json::from_str(&event.to_json(false)).unwrap();
    assert!(json.get("payload").is_none(), "payloads hidden: {json}");
    let mut line = json["kind"].as_str().unwrap().to_owned();
    if let Some(frame) = &event.frame {
        let ack = frame.ack.map_or("-".to_owned(), |a| a.to_string());
        let (dir, size) = (frame.dir.as_str(), frame.payload.len());
        line += &format!(" {dir} {} {}/{ack} {size}B", frame.kind, frame.seq);
    }
    if let Some(detail) = &event.detail {
        line += &format!(" {detail}");
    }
    line
}

/// Summaries of the events up to one of `kind` (included).
async fn until(watching: &mut Subscription, kind: &str) -> Vec<String> {
    let mut seen = vec![];
    loop {
        let event = next_event(watching).await;
        seen.push(summary(&event));
        if event.kind.as_str() == kind {
            return seen;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_shell_sessions_steps_and_frames_arrive_in_order() {
    let Observed {
        observe,
        mut rig,
        mut watching,
        mut appends,
    } = observed(grant(&SHELL), false);
    let resize = resize_payload(120, 40);
    let (resize, input) = (
        to_client_v102(ClientMessageType::Resize, 1, 0, &resize),
        to_client_v102(ClientMessageType::Input, 2, 0, b"ls\r"),
    );
    rig.client.send(resize).await;
    rig.client.send(input).await;
    let mut start = until(&mut watching, "frame").await; // the early Output
    start.extend(until(&mut watching, "kick").await);
    start.extend(until(&mut watching, "frame").await);
    let input = next_event(&mut watching).await;
    start.push(summary(&input));
    assert_eq!(
        start,
        [
            "token-check new connection",
            "channel-open allocated",
            "frame agent-to-client Output 0/0 0B",
            "kick kick_vm session start c-test",
            "frame client-to-agent Resize 1/0 4B",
            "frame client-to-agent Input 2/0 3B",
        ]
    );
    let shown: Value = serde_json::from_str(&input.to_json(true)).unwrap();
    assert_eq!(shown["payload"], "bHMN", "base64 of ls\\r, when asked for");
    // The agent pulls its spec (the agent surface says so) and opens the data channel.
    observe.spec_pulled(SESSION, CHANNEL);
    let agent = rig.agent(false).await;
    agent.send(from_agent(b"$ ")).await;
    assert_eq!(client_output(&mut rig.client).await.payload, b"$ ");
    rig.event(RelayEvent::AgentResult(AgentResult::Ok)).await;
    drop(agent);
    let (end, _) = rig.ended().await;
    assert!(matches!(end, End::Result(AgentResult::Ok)));
    assert_eq!(
        until(&mut watching, "closed").await,
        [
            "spec-pull",
            "data-channel opened",
            "status agent-to-client Status 0/0 1B Opened",
            "frame agent-to-client Output 1/2 2B",
            "status agent-to-client Status 0/0 5B Exit",
            "closed AgentSocketClosed",
        ]
    );
    // The recording: the size the client gave first, the output, no input (not asked for).
    let cast = lines(&recording(&mut appends).await);
    assert_eq!(
        (cast[0]["width"].as_u64(), cast[0]["height"].as_u64()),
        (Some(120), Some(40))
    );
    assert_eq!(
        (cast[1][1].as_str(), cast[1][2].as_str()),
        (Some("o"), Some("$ "))
    );
    assert_eq!(cast.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn replayed_output_and_resent_input_are_recorded_once() {
    let Observed {
        mut rig,
        mut appends,
        ..
    } = observed(grant(&SHELL), true);
    speak_1_02(&mut rig.client).await;
    let mut agent = rig.agent(false).await;
    agent.send(from_agent(b"one")).await;
    client_output(&mut rig.client).await;
    // Input 1, not acknowledging output 1 yet: it stays kept for a replay.
    rig.client
        .send(to_client_v102(ClientMessageType::Input, 1, 0, b"a"))
        .await;
    assert_eq!(agent_input(&mut agent).await, b"a");
    // The client says it has nothing and resends its input: both come again on the wire.
    rig.client
        .send(to_client_v102(ClientMessageType::Sync, 1, 0, b""))
        .await;
    rig.client
        .send(to_client_v102(ClientMessageType::Input, 1, 0, b"a"))
        .await;
    assert_eq!(client_output(&mut rig.client).await.payload, b"one");
    rig.event(RelayEvent::AgentResult(AgentResult::Ok)).await;
    drop(agent);
    rig.ended().await;
    let cast = recording(&mut appends).await;
    let events: Vec<Value> = lines(&cast)[1..]
        .iter()
        .map(|l| json!([l[1], l[2]]))
        .collect();
    assert_eq!(events, [json!(["o", "one"]), json!(["i", "a"])]);
}

/// Runs a session with output both ways and returns whether anything was appended.
async fn anything_recorded(mut observed: Observed, key_exchange: bool) -> bool {
    let rig = &mut observed.rig;
    if key_exchange {
        let hello = to_client(
            ClientMessageType::Other(DEFAULT_KEY_EXCHANGE_TYPE),
            b"\x00{}",
        );
        rig.client.send(hello).await;
    }
    rig.client
        .send(to_client(ClientMessageType::Input, b"x"))
        .await;
    let agent = rig.agent(false).await;
    agent.send(from_agent(b"output")).await;
    client_output(&mut rig.client).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    rig.event(RelayEvent::AgentResult(AgentResult::Ok)).await;
    drop(agent);
    observed.rig.ended().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    observed.appends.try_recv().is_ok()
}

#[tokio::test(start_paused = true)]
async fn encrypted_and_port_connections_are_not_recorded() {
    let mut encrypted = grant(&SHELL);
    encrypted.session.encryption = Some(Encryption {
        mode: EncryptionMode::Auto,
        kms_key_id: String::new(),
    });
    assert!(
        !anything_recorded(observed(encrypted, true), false).await,
        "encrypted"
    );
    let port = Session {
        port: Some(22),
        rate: None,
    };
    assert!(
        !anything_recorded(observed(grant(&port), true), false).await,
        "port"
    );
    // A key exchange on a shell the session did not say was encrypted: the relay sees it.
    assert!(
        !anything_recorded(observed(grant(&SHELL), true), true).await,
        "key exchange"
    );
    assert!(
        anything_recorded(observed(grant(&SHELL), true), false).await,
        "a plain shell"
    );
}
