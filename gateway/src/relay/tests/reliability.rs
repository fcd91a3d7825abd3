//! What schema 1.02 promises (inputs applied once, outputs replayed after a Sync or a
//! reconnect, a bounded absence) and the bandwidth limit.

use std::time::Duration;

use axt_proto::{
    client_frame::ClientMessageType,
    status::{AgentResult, ClosedReason},
};
use tokio::time::Instant;

use super::*;
use crate::relay::{socket::mem, state::MAX_DETACH, End, RelayEvent};

#[tokio::test(start_paused = true)]
async fn a_1_02_client_comes_back_and_the_output_it_missed_is_replayed() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    speak_1_02(&mut rig.client).await;
    rig.client
        .send(to_client_v102(ClientMessageType::Input, 1, 0, b"a"))
        .await;
    let mut agent = rig.agent(false).await;
    agent.send(from_agent(b"one")).await;
    assert_eq!(agent_input(&mut agent).await, b"a");
    let first = client_output(&mut rig.client).await;
    assert_eq!(
        (first.output_seq(), first.payload.as_slice()),
        (1, &b"one"[..])
    );
    // The client drops; the agent goes on talking.
    let away = std::mem::replace(&mut rig.client, mem::pair(1).1);
    drop(away);
    agent.send(from_agent(b"two")).await;
    agent.send(from_agent(b"three")).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let mut client = rig.reconnect().await;
    // It says it has output 1 and has sent inputs up to 2 (2 went down with the old
    // connection). It then resends 1 (already applied: not applied twice) and 2.
    client
        .send(to_client_v102(ClientMessageType::Sync, 2, 1, b""))
        .await;
    let two = client_output(&mut client).await;
    let three = client_output(&mut client).await;
    assert_eq!(
        [
            (two.output_seq(), two.payload),
            (three.output_seq(), three.payload)
        ],
        [(2, b"two".to_vec()), (3, b"three".to_vec())]
    );
    let sync = client_frame_of(&mut client, ClientMessageType::Sync).await;
    assert_eq!(sync.input_seq(), 2, "resend from input 2");
    client
        .send(to_client_v102(ClientMessageType::Input, 1, 3, b"a"))
        .await;
    client
        .send(to_client_v102(ClientMessageType::Input, 2, 3, b"b"))
        .await;
    assert_eq!(agent_input(&mut agent).await, b"b");
    rig.client = client;
    rig.event(RelayEvent::AgentResult(AgentResult::Ok)).await;
    drop(agent);
    let (end, record) = rig.ended().await;
    assert!(matches!(end, End::Result(_)));
    assert_eq!(record.bytes_in, 2, "input 1 counted once");
}

#[tokio::test(start_paused = true)]
async fn an_unnumbered_input_does_not_let_a_resent_one_apply_twice() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    speak_1_02(&mut rig.client).await;
    let mut agent = rig.agent(false).await;
    rig.client
        .send(to_client_v102(ClientMessageType::Input, 1, 0, b"a"))
        .await;
    assert_eq!(agent_input(&mut agent).await, b"a");
    rig.client
        .send(to_client_v102(ClientMessageType::Input, 0, 0, b"z"))
        .await;
    assert_eq!(agent_input(&mut agent).await, b"z");
    // Input 1 again (a resend after a reconnect): already applied, so dropped; 2 goes on.
    rig.client
        .send(to_client_v102(ClientMessageType::Input, 1, 0, b"a"))
        .await;
    rig.client
        .send(to_client_v102(ClientMessageType::Input, 2, 0, b"b"))
        .await;
    assert_eq!(agent_input(&mut agent).await, b"b");
}

#[tokio::test(start_paused = true)]
async fn a_1_01_connection_cannot_be_taken_over_by_a_reconnect() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    rig.client
        .send(to_client(ClientMessageType::Input, b"a"))
        .await;
    let agent = rig.agent(false).await;
    agent.send(from_agent(b"one")).await;
    client_output(&mut rig.client).await;
    // Someone with the URL and the channel id tries to take the connection over.
    let mut intruder = rig.reconnect().await;
    assert_eq!(closed_reason(&mut intruder).await, "ResumeRefused");
    // The client keeps its connection.
    agent.send(from_agent(b"two")).await;
    assert_eq!(client_output(&mut rig.client).await.payload, b"two");
}

#[tokio::test(start_paused = true)]
async fn a_1_02_client_away_too_long_is_closed() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    speak_1_02(&mut rig.client).await;
    let agent = rig.agent(false).await;
    agent.send(from_agent(b"$ ")).await;
    client_output(&mut rig.client).await;
    let start = Instant::now();
    drop(std::mem::replace(&mut rig.client, mem::pair(1).1));
    // The agent keeps the idle timer away; the detach deadline still ends it.
    let chatter = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if agent.tx.send(from_agent(b".")).await.is_err() {
                break;
            }
        }
    });
    let (end, record) = rig.ended().await;
    chatter.abort();
    assert!(matches!(end, End::ClientClosed));
    assert_eq!(record.closed_reason, Some(ClosedReason::ClientClosed));
    let away = start.elapsed();
    assert!(
        away >= MAX_DETACH && away < MAX_DETACH + Duration::from_secs(1),
        "{away:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_sync_replays_what_was_not_acknowledged() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    speak_1_02(&mut rig.client).await;
    let agent = rig.agent(false).await;
    for chunk in [&b"1"[..], b"2", b"3"] {
        agent.send(from_agent(chunk)).await;
    }
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.push(client_output(&mut rig.client).await.output_seq());
    }
    assert_eq!(seen, [1, 2, 3]);
    // Acknowledging 1 with a keep-alive lets it go; a Sync from 1 replays 2 and 3 only.
    rig.client
        .send(to_client_v102(ClientMessageType::Input, 0, 1, b""))
        .await;
    rig.client
        .send(to_client_v102(ClientMessageType::Sync, 0, 1, b""))
        .await;
    let mut replayed = Vec::new();
    while replayed.len() < 2 {
        replayed.push(client_output(&mut rig.client).await.output_seq());
    }
    assert_eq!(replayed, [2, 3]);
}

#[tokio::test(start_paused = true)]
async fn output_is_paced_to_the_session_rate() {
    let limited = Session {
        port: Some(22),
        rate: Some(10_000),
    };
    let mut rig = Rig::start(&limited, TestHost::default());
    let agent = rig.agent(false).await;
    // The client is told the rate it may send at, 80 000 bit/s.
    let rate_told = loop {
        let status = client_frame_of(&mut rig.client, ClientMessageType::Status).await;
        if status.payload[0] == 7 {
            break status.payload;
        }
    };
    assert_eq!(axt_proto::status::parse_rate(&rate_told), Some(80_000));
    assert_eq!(
        rate_told.len(),
        5,
        "a state byte and a 4-byte big-endian rate, always"
    );
    let start = Instant::now();
    let feeder = tokio::spawn(async move {
        for _ in 0..50 {
            agent.send(from_agent(&[7u8; 1000])).await;
        }
        agent
    });
    let mut received = 0;
    while received < 50_000 {
        received += client_output(&mut rig.client).await.payload.len();
    }
    let elapsed = start.elapsed().as_secs_f64();
    // 50 kB at 10 kB/s after a burst of a tenth of a second's worth: 4.9 s.
    assert!((4.85..4.95).contains(&elapsed), "{elapsed}");
    drop(feeder);
}

/// Bytes of Output the client gets until the relay closes it.
async fn everything(peer: &mut super::MemPeer) -> usize {
    let mut bytes = 0;
    while let Some(msg) = peer.recv(PATIENCE).await {
        if let axum::extract::ws::Message::Binary(b) = msg {
            let frame = axt_proto::client_frame::ClientFrame::decode(&b).unwrap();
            if frame.kind == ClientMessageType::Output {
                bytes += frame.payload.len();
            }
        }
    }
    bytes
}

#[tokio::test(start_paused = true)]
async fn a_paced_result_overtaking_its_output_loses_nothing() {
    let limited = Session {
        port: Some(22),
        rate: Some(10_000),
    };
    let mut rig = Rig::start(&limited, TestHost::default());
    let agent = rig.agent(true).await;
    // 100 kB take 10 s at this rate; the agent's report arrives long before they are through.
    let start = Instant::now();
    let feeder = tokio::spawn(async move {
        for _ in 0..100 {
            agent.send(from_agent(&[1u8; 1000])).await;
        }
        agent
    });
    rig.event(RelayEvent::AgentResult(AgentResult::Ok)).await;
    let agent = feeder.await.unwrap();
    drop(agent); // then the agent closes its data channel
    assert_eq!(everything(&mut rig.client).await, 100_000);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(9_800),
        "paced, not cut: {took:?}"
    );
    let (end, record) = rig.ended().await;
    assert!(matches!(end, End::Result(AgentResult::Ok)));
    assert_eq!(record.bytes_out, 100_000);
}

#[tokio::test(start_paused = true)]
async fn a_stock_agent_still_talking_after_the_clients_close_is_heard_out() {
    let limited = Session {
        port: Some(22),
        rate: Some(204_800),
    };
    let mut rig = Rig::start(&limited, TestHost::default());
    // No half-close: a stock agent. It paces itself, a 1024-byte frame every 40 ms.
    let agent = rig.agent(false).await;
    agent.send(from_agent(b"")).await;
    rig.client
        .send(to_client(ClientMessageType::Close, b"1"))
        .await;
    let talker = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(40));
        for _ in 0..200 {
            tick.tick().await;
            agent.send(from_agent(&[2u8; 1024])).await;
        }
        agent // kept open and quiet: the target said all it had to say
    });
    assert_eq!(everything(&mut rig.client).await, 200 * 1024);
    let (end, _) = rig.ended().await;
    assert!(matches!(end, End::ClientClosed));
    drop(talker);
}
