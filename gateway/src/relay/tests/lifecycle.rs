//! How a connection starts and ends: the input hold, every timer that ends it, and who is
//! told what.

use std::time::Duration;

use axt_proto::{
    agent_frame::AgentMessageType,
    client_frame::{resize_payload, ClientMessageType},
    kick::Kick,
    status::{AgentResult, ClosedReason, ConnectionStatus, SessionVerdict},
};
use axum::extract::ws::Message;
use tokio::time::Instant;

use super::*;
use crate::relay::{
    agent_side::DRAIN_LIMIT,
    driver::{AGENT_GRACE, AGENT_KEEPALIVE, CLOSE_LINGER, SEND_TIMEOUT, STOCK_CLOSE_GRACE},
    End, RelayEvent,
};

#[tokio::test(start_paused = true)]
async fn input_waits_for_the_agent_then_goes_after_its_rate_and_size() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    // The early empty Output, before anything else; the agent has been kicked by then.
    let early = client_frame(&mut rig.client).await;
    assert_eq!(
        (early.kind, early.payload.len()),
        (ClientMessageType::Output, 0)
    );
    assert_eq!(
        rig.host.kicks.lock().unwrap()[0],
        Kick::SessionStart(CHANNEL.into())
    );
    rig.client
        .send(to_client(
            ClientMessageType::Resize,
            &resize_payload(120, 40),
        ))
        .await;
    rig.client
        .send(to_client(ClientMessageType::Input, b"ls\r"))
        .await;
    let mut agent = rig.agent(false).await;
    let opened = client_frame_of(&mut rig.client, ClientMessageType::Status).await;
    assert_eq!(opened.payload, [3], "Status Opened");
    // Nothing reaches the agent during the hold; the hold ends at once on its first output.
    let start = Instant::now();
    agent.send(from_agent(b"$ ")).await;
    let rate = agent_frame(&mut agent).await;
    assert_eq!((rate.kind, rate.payload[0]), (AgentMessageType::Status, 7));
    let size = agent_frame(&mut agent).await;
    assert_eq!(size.kind, AgentMessageType::SetSize);
    assert_eq!(size.payload, br#"{"cols":120,"rows":40}"#);
    assert_eq!(agent_input(&mut agent).await, b"ls\r");
    assert_eq!(start.elapsed(), Duration::ZERO, "released by the output");
    let output = client_output(&mut rig.client).await;
    assert_eq!(output.payload, b"$ ");
    rig.event(RelayEvent::AgentResult(AgentResult::Ok)).await;
    drop(agent);
    assert_eq!(closed_reason(&mut rig.client).await, "Exit");
    let (end, record) = rig.ended().await;
    assert!(matches!(end, End::Result(AgentResult::Ok)));
    assert_eq!(
        (
            record.status,
            record.closed_reason,
            record.bytes_in,
            record.bytes_out
        ),
        (
            Some(ConnectionStatus::Terminated),
            Some(ClosedReason::AgentSocketClosed),
            3,
            2
        )
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_agent_gets_the_input_when_the_hold_ends() {
    let rig = Rig::start(&SHELL, TestHost::default());
    rig.client
        .send(to_client(ClientMessageType::Input, b"x"))
        .await;
    let mut agent = rig.agent(false).await;
    let start = Instant::now();
    assert_eq!(agent_input(&mut agent).await, b"x");
    assert_eq!(start.elapsed(), TIMERS.input_hold);
}

#[tokio::test(start_paused = true)]
async fn no_data_for_the_idle_timeout_ends_the_connection() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    let mut agent = rig.agent(false).await;
    agent.send(from_agent(b"$ ")).await;
    let start = Instant::now();
    // A keep-alive (an empty Input) counts as data and moves the deadline.
    tokio::time::sleep(Duration::from_secs(100)).await;
    rig.client
        .send(to_client(ClientMessageType::Input, b""))
        .await;
    assert_eq!(closed_reason(&mut rig.client).await, "AgentTimeout");
    assert_eq!(start.elapsed(), Duration::from_secs(100) + TIMERS.idle);
    let (end, record) = rig.ended().await;
    assert!(matches!(end, End::IdleTimeout));
    assert_eq!(record.closed_reason, Some(ClosedReason::IdleTimeout));
    // Meanwhile the agent was kept alive with empty Inputs, and told to stop at the end.
    let mut keepalives = 0;
    while let Some(msg) = agent.rx.recv().await {
        if let Message::Binary(bytes) = msg {
            let frame = AgentFrame::decode(&bytes).unwrap();
            if frame.kind == AgentMessageType::Input && frame.payload.is_empty() {
                keepalives += 1;
            }
        }
    }
    let expected = (TIMERS.idle.as_secs() + 100) / AGENT_KEEPALIVE.as_secs();
    assert_eq!(keepalives, expected);
}

#[tokio::test(start_paused = true)]
async fn an_agent_that_never_connects_times_out() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    let start = Instant::now();
    assert_eq!(closed_reason(&mut rig.client).await, "AgentTimeout");
    assert_eq!(start.elapsed(), TIMERS.delivery);
    let (end, record) = rig.ended().await;
    assert!(matches!(end, End::DeliveryTimeout));
    assert_eq!(
        (record.status, record.closed_reason),
        (
            Some(ConnectionStatus::Failed),
            Some(ClosedReason::DeliveryTimeout)
        )
    );
}

#[tokio::test(start_paused = true)]
async fn an_offline_agent_fails_at_once() {
    let host = TestHost {
        offline: true,
        ..Default::default()
    };
    let mut rig = Rig::start(&SHELL, host);
    assert_eq!(closed_reason(&mut rig.client).await, "AgentNotOnline");
    let (end, _) = rig.ended().await;
    assert!(matches!(end, End::AgentNotOnline));
}

#[tokio::test(start_paused = true)]
async fn a_lost_agent_has_a_grace_to_come_back_and_gets_what_was_typed_meanwhile() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    let agent = rig.agent(false).await;
    agent.send(from_agent(b"$ ")).await;
    client_output(&mut rig.client).await;
    drop(agent);
    rig.client
        .send(to_client(ClientMessageType::Input, b"typed while away"))
        .await;
    tokio::time::sleep(AGENT_GRACE - Duration::from_millis(1)).await;
    let mut agent = rig.agent(false).await;
    assert_eq!(agent_input(&mut agent).await, b"typed while away");
    // Lost again, for good this time.
    drop(agent);
    let start = Instant::now();
    assert_eq!(closed_reason(&mut rig.client).await, "AgentSocketClosed");
    assert_eq!(start.elapsed(), AGENT_GRACE);
    let (end, _) = rig.ended().await;
    assert!(matches!(end, End::AgentLost));
}

#[tokio::test(start_paused = true)]
async fn a_port_client_close_passes_after_a_grace_for_a_stock_agent() {
    let port = Session {
        port: Some(22),
        rate: None,
    };
    let mut rig = Rig::start(&port, TestHost::default());
    let mut agent = rig.agent(false).await;
    agent.send(from_agent(b"")).await;
    rig.client
        .send(to_client(ClientMessageType::Input, b"bye"))
        .await;
    rig.client
        .send(to_client(ClientMessageType::Close, b"1"))
        .await;
    assert_eq!(agent_input(&mut agent).await, b"bye");
    // Output still in flight is relayed during the grace.
    let start = Instant::now();
    agent.send(from_agent(b"late")).await;
    let late = client_output(&mut rig.client).await;
    assert_eq!(late.payload, b"late");
    // Then the gateway closes the WebSocket, as ali-instance-cli waits for it to.
    while !matches!(rig.client.recv(PATIENCE).await, Some(Message::Close(_))) {}
    assert_eq!(start.elapsed(), STOCK_CLOSE_GRACE);
    let (end, record) = rig.ended().await;
    assert!(matches!(end, End::ClientClosed));
    assert_eq!(record.closed_reason, Some(ClosedReason::ClientClosed));
}

#[tokio::test(start_paused = true)]
async fn a_port_client_close_half_closes_an_agent_that_can() {
    let port = Session {
        port: Some(22),
        rate: None,
    };
    let rig = Rig::start(&port, TestHost::default());
    let mut agent = rig.agent(true).await;
    agent.send(from_agent(b"")).await;
    rig.client
        .send(to_client(ClientMessageType::Close, b"1"))
        .await;
    loop {
        let frame = agent_frame(&mut agent).await;
        if frame.kind == AgentMessageType::CloseChannel {
            break;
        }
    }
    // No grace: the connection lives until the agent reports the target closed.
    tokio::time::sleep(STOCK_CLOSE_GRACE * 10).await;
    assert!(!rig.relay.is_finished());
    rig.event(RelayEvent::AgentResult(AgentResult::Ok)).await;
    drop(agent);
    let (end, _) = rig.ended().await;
    assert!(matches!(end, End::Result(AgentResult::Ok)));
}

#[tokio::test(start_paused = true)]
async fn end_terminal_session_reaches_the_live_connection() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    let mut agent = rig.agent(false).await;
    agent.send(from_agent(b"$ ")).await;
    rig.event(RelayEvent::SessionEnded(SessionVerdict::Ended))
        .await;
    assert_eq!(closed_reason(&mut rig.client).await, "SessionEnded");
    // The agent is told to stop and its data channel closed.
    while agent.rx.recv().await.is_some() {}
    let host = rig.host.clone();
    let (end, record) = rig.ended().await;
    assert!(matches!(end, End::SessionEnded));
    assert_eq!(record.closed_reason, Some(ClosedReason::ClientClosed));
    let kicks = host.kicks.lock().unwrap();
    assert_eq!(kicks.last(), Some(&Kick::SessionStop(CHANNEL.into())));
}

#[tokio::test(start_paused = true)]
async fn a_stopped_instance_fails_the_connection() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    rig.event(RelayEvent::SessionEnded(SessionVerdict::InstanceNotRunning))
        .await;
    assert_eq!(closed_reason(&mut rig.client).await, "InstanceNotRunning");
    let (_, record) = rig.ended().await;
    assert_eq!(record.status, Some(ConnectionStatus::Failed));
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_freezes_a_1_02_client_and_ends_a_1_01_one() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    speak_1_02(&mut rig.client).await;
    let _agent = rig.agent(false).await;
    client_frame_of(&mut rig.client, ClientMessageType::Status).await; // Opened
    rig.closing.send_replace(true);
    let frozen = client_frame_of(&mut rig.client, ClientMessageType::Status).await;
    assert_eq!(frozen.payload, [8], "Frozen");
    let close = rig.client.recv(PATIENCE).await;
    assert!(
        matches!(close, Some(Message::Close(Some(ref f))) if f.code == 1012),
        "{close:?}"
    );
    let host = rig.host.clone();
    let end = rig.relay.await.unwrap();
    assert!(matches!(end, End::GatewayShutdown));
    let records = host.records.lock().unwrap().clone();
    assert!(
        records
            .iter()
            .all(|r| r.status == Some(ConnectionStatus::Connected)),
        "a frozen connection stays Connected for its reconnect: {records:?}"
    );

    let mut rig = Rig::start(&SHELL, TestHost::default());
    rig.closing.send_replace(true);
    assert_eq!(closed_reason(&mut rig.client).await, "GatewayShutdown");
    let (_, record) = rig.ended().await;
    assert_eq!(record.closed_reason, Some(ClosedReason::GatewayShutdown));
}

#[tokio::test(start_paused = true)]
async fn a_client_that_stops_reading_is_let_go() {
    let rig = Rig::start(&SHELL, TestHost::default());
    let agent = rig.agent(false).await;
    // The test never reads the client's socket: once its queue is full, the relay's send waits.
    let start = Instant::now();
    let flood = tokio::spawn(async move {
        for _ in 0..200 {
            if agent.tx.send(from_agent(b"x")).await.is_err() {
                break;
            }
        }
        agent
    });
    let (end, record) = rig.ended().await;
    assert!(matches!(end, End::ClientClosed));
    assert_eq!(record.closed_reason, Some(ClosedReason::ClientClosed));
    let waited = start.elapsed();
    assert!(
        waited >= SEND_TIMEOUT && waited < SEND_TIMEOUT + Duration::from_millis(100),
        "{waited:?}"
    );
    drop(flood);
}

#[tokio::test(start_paused = true)]
async fn output_after_the_agents_result_is_still_relayed_for_a_while() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    let agent = rig.agent(false).await;
    agent.send(from_agent(b"$ ")).await;
    client_output(&mut rig.client).await;
    // The result report overtakes the last frames on the data channel, which stays open.
    rig.event(RelayEvent::AgentResult(AgentResult::Ok)).await;
    let start = Instant::now();
    agent.send(from_agent(b"the last words")).await;
    assert_eq!(
        client_output(&mut rig.client).await.payload,
        b"the last words"
    );
    assert_eq!(closed_reason(&mut rig.client).await, "Exit");
    assert_eq!(start.elapsed(), DRAIN_LIMIT, "then it stops waiting");
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_answers_the_close_is_let_go_after_a_moment() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    let mut agent = rig.agent(false).await;
    agent.send(from_agent(b"$ ")).await;
    rig.event(RelayEvent::SessionEnded(SessionVerdict::Ended))
        .await;
    while !matches!(rig.client.recv(PATIENCE).await, Some(Message::Close(_))) {}
    let closed = Instant::now();
    // The agent is told (its data channel closed) only once the linger is over.
    while !matches!(agent.recv(PATIENCE).await, Some(Message::Close(_))) {}
    assert_eq!(closed.elapsed(), CLOSE_LINGER);
}
