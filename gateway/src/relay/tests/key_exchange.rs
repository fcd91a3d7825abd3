//! Key-exchange frames of encrypted sessions (docs/encryption.md §1, docs/protocol.md §6.12):
//! relayed unchanged both ways as soon as the data channel is there (not held like input, which
//! waits for the shell's first output), outside the 1.02 output
//! numbering and replay — and nothing the gateway makes up reaches an encrypted agent's Input.

use std::time::Duration;

use axt_proto::{
    agent_frame::{AgentFrame, AgentMessageType},
    client_frame::{ClientFrame, ClientMessageType},
    internal::{Encryption, EncryptionMode},
};
use axum::extract::ws::Message;
use tokio::time::Instant;

use super::*;
use crate::relay::DEFAULT_KEY_EXCHANGE_TYPE;

const KX: u32 = DEFAULT_KEY_EXCHANGE_TYPE;
/// A ClientHello as axt sends it; the gateway must not care what is inside.
const HELLO: &[u8] = b"\x00{\"cipherSuite\":\"AXT_ECDHE_WITH_AES_256_CBC\",\"encryptIV\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}";
/// An AgentHello.
const ANSWER: &[u8] = b"\x01{\"clientCertificate\":false}";

/// An encrypted shell session's relay, relaying key exchange as type `kx`.
fn encrypted(kx: u32) -> Rig {
    let mut grant = grant(&SHELL);
    grant.session.encryption = Some(Encryption {
        mode: EncryptionMode::Auto,
        kms_key_id: String::new(),
    });
    Rig::start_with(grant, 0, TestHost::default(), |relay| {
        relay.with_key_exchange_type(kx)
    })
}

fn kx_from_client(kind: u32, payload: &[u8]) -> Message {
    to_client(ClientMessageType::Other(kind), payload)
}

fn kx_from_agent(kind: u32, payload: &[u8]) -> Message {
    let frame = AgentFrame::new(AgentMessageType::Other(kind), CHANNEL, 0, payload.to_vec());
    Message::Binary(frame.encode().unwrap().into())
}

/// Client frames until one that is not an Output or a Status.
async fn client_other(peer: &mut MemPeer) -> ClientFrame {
    loop {
        let frame = client_frame(peer).await;
        if !matches!(
            frame.kind,
            ClientMessageType::Output | ClientMessageType::Status
        ) {
            return frame;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn key_exchange_is_relayed_both_ways_unchanged_and_not_held_like_input() {
    let mut rig = encrypted(KX);
    // Sent before the agent is there: the key exchange waits for the data channel only.
    rig.client.send(kx_from_client(KX, HELLO)).await;
    rig.client
        .send(to_client(ClientMessageType::Input, b"sealed-1"))
        .await;
    let mut agent = rig.agent(false).await;
    let start = Instant::now();
    let hello = agent_frame(&mut agent).await;
    assert_eq!(hello.kind, AgentMessageType::Other(KX));
    assert_eq!(hello.payload, HELLO, "unchanged");
    assert_eq!(start.elapsed(), Duration::ZERO, "not held: it is not input");

    agent.send(kx_from_agent(KX, ANSWER)).await;
    let answer = client_other(&mut rig.client).await;
    assert_eq!(answer.kind, ClientMessageType::Other(KX));
    assert_eq!(answer.payload, ANSWER, "unchanged");
    assert_eq!(answer.channel_id, CHANNEL);

    // Input waits for the agent's first output (its shell starts after the exchange).
    agent.send(from_agent(b"$ ")).await;
    let rate = agent_frame(&mut agent).await;
    assert_eq!(rate.kind, AgentMessageType::Status, "the rate goes first");
    assert_eq!(agent_input(&mut agent).await, b"sealed-1");

    // After the hold, a key-exchange frame keeps its place between inputs.
    for (kind, payload) in [
        (ClientMessageType::Input, &b"a"[..]),
        (ClientMessageType::Other(KX), b"\x02{}"),
        (ClientMessageType::Input, b"b"),
    ] {
        rig.client.send(to_client(kind, payload)).await;
    }
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let frame = agent_frame(&mut agent).await;
        if frame.kind != AgentMessageType::Input || !frame.payload.is_empty() {
            seen.push((frame.kind, frame.payload));
        }
    }
    assert_eq!(
        seen,
        [
            (AgentMessageType::Input, b"a".to_vec()),
            (AgentMessageType::Other(KX), b"\x02{}".to_vec()),
            (AgentMessageType::Input, b"b".to_vec()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_encrypted_sessions_input_waits_for_the_shell_not_for_the_key_exchange() {
    let rig = encrypted(KX);
    rig.client
        .send(to_client(ClientMessageType::Input, b"x"))
        .await;
    let mut agent = rig.agent(false).await;
    // The stock agent answers the exchange, and only then starts its shell: input that came
    // now would be dropped, so nothing is sent — not even after the usual hold.
    agent.send(kx_from_agent(KX, ANSWER)).await;
    let early = tokio::time::timeout(TIMERS.input_hold * 4, agent.recv(PATIENCE)).await;
    assert!(
        early.is_err(),
        "input released before the shell could take it"
    );
    agent.send(from_agent(b"$ ")).await;
    assert_eq!(agent_input(&mut agent).await, b"x");
}

#[tokio::test(start_paused = true)]
async fn the_configured_type_is_relayed_and_no_other() {
    let mut rig = encrypted(42);
    let mut agent = rig.agent(false).await;
    agent.send(from_agent(b"")).await; // ready
    rig.client.send(kx_from_client(KX, b"not-ours")).await;
    rig.client.send(kx_from_client(42, HELLO)).await;
    let frame = loop {
        let frame = agent_frame(&mut agent).await;
        if !matches!(
            frame.kind,
            AgentMessageType::Status | AgentMessageType::Input
        ) {
            break frame;
        }
    };
    assert_eq!(
        (frame.kind, frame.payload.as_slice()),
        (AgentMessageType::Other(42), HELLO)
    );
    agent.send(kx_from_agent(KX, b"dropped")).await;
    agent.send(kx_from_agent(42, ANSWER)).await;
    let answer = client_other(&mut rig.client).await;
    assert_eq!(
        (answer.kind, answer.payload.as_slice()),
        (ClientMessageType::Other(42), ANSWER)
    );
}

#[tokio::test(start_paused = true)]
async fn key_exchange_takes_no_output_number_and_is_never_replayed() {
    let mut rig = encrypted(KX);
    speak_1_02(&mut rig.client).await;
    let agent = rig.agent(false).await;
    agent.send(from_agent(b"one")).await;
    agent.send(kx_from_agent(KX, ANSWER)).await;
    agent.send(from_agent(b"two")).await;
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let frame = client_frame(&mut rig.client).await;
        if frame.kind != ClientMessageType::Status && !frame.payload.is_empty() {
            seen.push((frame.kind, frame.output_seq(), frame.payload));
        }
    }
    assert_eq!(
        seen,
        [
            (ClientMessageType::Output, 1, b"one".to_vec()),
            (ClientMessageType::Other(KX), 0, ANSWER.to_vec()),
            (ClientMessageType::Output, 2, b"two".to_vec()),
        ]
    );
    // A Sync from nothing replays the outputs alone.
    rig.client
        .send(to_client_v102(ClientMessageType::Sync, 0, 0, b""))
        .await;
    let mut replayed = Vec::new();
    while replayed.len() < 2 {
        let frame = client_frame(&mut rig.client).await;
        assert_ne!(frame.kind, ClientMessageType::Other(KX), "not replayed");
        if frame.kind == ClientMessageType::Output {
            replayed.push(frame.payload);
        }
    }
    assert_eq!(replayed, [b"one".to_vec(), b"two".to_vec()]);
}

#[tokio::test(start_paused = true)]
async fn a_close_on_an_encrypted_shell_injects_nothing() {
    let rig = encrypted(KX);
    let mut agent = rig.agent(false).await;
    agent.send(from_agent(b"")).await;
    rig.client
        .send(to_client(ClientMessageType::Close, b"1"))
        .await;
    rig.client
        .send(to_client(ClientMessageType::Input, b"sealed"))
        .await;
    // No Ctrl-D in the clear: the agent could not decrypt it.
    assert_eq!(agent_input(&mut agent).await, b"sealed");
}
