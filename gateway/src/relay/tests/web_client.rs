//! The relay as the official web client sees it. That client reads before it writes, decodes
//! every frame in the 1.02 layout whatever schema it carries, numbers its Resize as input 1,
//! drops an Output that is not the next one and asks again with a Sync, and answers every Sync
//! of ours by resending — so the relay must number Outputs from 1 without a gap, replay on
//! request, and never send a Sync the client did not make necessary.

use axt_proto::{
    client_frame::{resize_payload, ClientFrame, ClientMessageType},
    status::{AgentResult, ClosedReason},
};

use super::*;
use crate::relay::{client_side::MAX_REPLAY_BYTES, frames::MAX_CLIENT_PAYLOAD, End, RelayEvent};

/// The web client's reader: the next frame, which must not be a Sync. An Output numbered past
/// `last + 1` would be dropped for a Sync, and one at or below `last` would be shown a second
/// time (the client only warns); only the early empty Output (number 0) may do the latter.
async fn web_read(peer: &mut MemPeer, last: &mut u32) -> ClientFrame {
    let frame = client_frame(peer).await;
    assert_ne!(
        frame.kind,
        ClientMessageType::Sync,
        "the web client resends on every Sync"
    );
    if frame.kind == ClientMessageType::Output {
        let seq = frame.output_seq();
        assert!(seq <= *last + 1, "a gap: output {seq} after {last}");
        assert!(
            seq == *last + 1 || frame.payload.is_empty(),
            "output {seq} shown twice"
        );
        *last = seq;
    }
    frame
}

/// Reads until an Output carrying `payload`.
async fn web_output(peer: &mut MemPeer, last: &mut u32, payload: &[u8]) -> ClientFrame {
    loop {
        let frame = web_read(peer, last).await;
        if frame.kind == ClientMessageType::Output && frame.payload == payload {
            return frame;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_web_client_sees_every_output_once_in_order_and_is_never_asked_to_resend() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    let mut agent = rig.agent(false).await;
    let mut last = 0;
    // It says nothing until the first output arrives.
    agent.send(from_agent(b"$ ")).await;
    web_output(&mut rig.client, &mut last, b"$ ").await;
    rig.client
        .send(to_client_v102(
            ClientMessageType::Resize,
            1,
            last,
            &resize_payload(100, 30),
        ))
        .await;
    rig.client
        .send(to_client_v102(ClientMessageType::Input, 2, last, b"ls\r"))
        .await;
    assert_eq!(agent_input(&mut agent).await, b"ls\r");
    agent.send(from_agent(b"a b c\r\n$ ")).await;
    let answer = web_output(&mut rig.client, &mut last, b"a b c\r\n$ ").await;
    assert_eq!(answer.input_seq(), 2, "the Output acknowledges input 2");
    rig.event(RelayEvent::AgentResult(AgentResult::Ok)).await;
    drop(agent);
    // To the end, nothing the client would resend for or drop.
    while let Some(msg) = rig.client.recv(PATIENCE).await {
        if let Message::Binary(bytes) = msg {
            let frame = ClientFrame::decode(&bytes).unwrap();
            assert_ne!(frame.kind, ClientMessageType::Sync);
            if frame.kind == ClientMessageType::Output {
                assert_eq!(frame.output_seq(), last + 1);
                last = frame.output_seq();
            }
        }
    }
    let (end, record) = rig.ended().await;
    assert!(matches!(end, End::Result(AgentResult::Ok)));
    assert_eq!(record.bytes_in, 3);
}

#[tokio::test(start_paused = true)]
async fn a_web_client_that_missed_an_output_gets_it_again_with_its_number() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    let agent = rig.agent(false).await;
    let mut last = 0;
    agent.send(from_agent(b"one")).await;
    let one = web_output(&mut rig.client, &mut last, b"one").await;
    agent.send(from_agent(b"two")).await;
    agent.send(from_agent(b"three")).await;
    web_output(&mut rig.client, &mut last, b"three").await;
    // As if "two" had been dropped: the client asks for everything after "one".
    rig.client
        .send(to_client_v102(
            ClientMessageType::Sync,
            0,
            one.output_seq(),
            b"",
        ))
        .await;
    let mut replayed = Vec::new();
    while replayed.len() < 2 {
        let frame = client_frame(&mut rig.client).await;
        assert_ne!(
            frame.kind,
            ClientMessageType::Sync,
            "it sent no input: none to ask for"
        );
        if frame.kind == ClientMessageType::Output {
            replayed.push((frame.output_seq(), frame.payload));
        }
    }
    assert_eq!(
        replayed,
        [
            (one.output_seq() + 1, b"two".to_vec()),
            (one.output_seq() + 2, b"three".to_vec())
        ]
    );
    // New output goes on from where the numbering was.
    agent.send(from_agent(b"four")).await;
    web_output(&mut rig.client, &mut last, b"four").await;
}

#[tokio::test(start_paused = true)]
async fn a_client_asking_for_output_no_longer_kept_is_told_so() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    let agent = rig.agent(false).await;
    let chunk = vec![b'x'; MAX_CLIENT_PAYLOAD];
    let mut last = 0;
    // More than is kept, with nothing acknowledged: the oldest goes.
    let mut sent = 0;
    while sent <= MAX_REPLAY_BYTES + chunk.len() {
        agent.send(from_agent(&chunk)).await;
        sent += chunk.len();
        loop {
            if web_read(&mut rig.client, &mut last).await.payload == chunk {
                break;
            }
        }
    }
    rig.client
        .send(to_client_v102(ClientMessageType::Sync, 0, 0, b""))
        .await;
    assert_eq!(closed_reason(&mut rig.client).await, "OutputLost");
    let (end, record) = rig.ended().await;
    assert!(matches!(end, End::OutputLost));
    assert_eq!(
        record.closed_reason,
        Some(ClosedReason::MessageFormatInvalid)
    );
    drop(agent);
}

#[tokio::test(start_paused = true)]
async fn a_client_that_keeps_asking_for_nothing_new_is_let_go() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    let agent = rig.agent(false).await;
    let mut last = 0;
    agent.send(from_agent(b"$ ")).await;
    web_output(&mut rig.client, &mut last, b"$ ").await;
    // A few repeats are a slow client; seventeen in a row with nothing new between is a loop.
    for _ in 0..18 {
        rig.client
            .send(to_client_v102(ClientMessageType::Sync, 0, last, b""))
            .await;
    }
    assert_eq!(closed_reason(&mut rig.client).await, "SyncStorm");
    let (end, record) = rig.ended().await;
    assert!(matches!(end, End::SyncStorm));
    assert_eq!(
        record.closed_reason,
        Some(ClosedReason::MessageFormatInvalid)
    );
    drop(agent);
}
