//! The relay on its own: in-memory sockets for the client and the agent, a host that records
//! what the relay kicks and records, and tokio's paused clock, so that every timer (idle,
//! delivery, input hold, agent grace, close grace, detach) runs in milliseconds and exactly.

use std::{
    num::NonZeroU64,
    sync::{Arc, Mutex},
    time::Duration,
};

use axt_proto::{
    agent_frame::{AgentFrame, AgentMessageType},
    client_frame::{resize_payload, ClientFrame, ClientMessageType},
    internal::{ChannelGrant, RecordChannel, SessionView},
    kick::Kick,
    spec::SessionSpec,
    status::{AgentResult, ClosedReason, ConnectionStatus, SessionState, SessionVerdict},
};
use axum::extract::ws::Message;
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
    time::Instant,
};

use super::{
    driver::{AGENT_GRACE, AGENT_KEEPALIVE, STOCK_CLOSE_GRACE},
    rate::SessionRate,
    socket::{mem, MemPeer},
    state::MAX_DETACH,
    AgentSocket, End, Host, Relay, RelayEvent, Socket, Start, Timers,
};

const CHANNEL: &str = "c-test";
/// Longer than anything a test waits for: a wait this long means the relay is stuck.
const PATIENCE: Duration = Duration::from_secs(3600);
const TIMERS: Timers = Timers {
    delivery: Duration::from_secs(20),
    input_hold: Duration::from_millis(1500),
    idle: Duration::from_secs(180),
};

/// A gateway reduced to what the relay asks of it.
#[derive(Default)]
struct TestHost {
    offline: bool,
    kicks: Mutex<Vec<Kick>>,
    records: Mutex<Vec<RecordChannel>>,
}

impl Host for TestHost {
    fn kick(&self, _instance_id: &str, kick: Kick) -> bool {
        self.kicks.lock().unwrap().push(kick);
        !self.offline
    }

    async fn record(&self, update: RecordChannel) {
        self.records.lock().unwrap().push(update);
    }
}

/// What the session is.
struct Session {
    port: Option<u16>,
    /// Bytes per second.
    rate: Option<u64>,
}

const SHELL: Session = Session {
    port: None,
    rate: None,
};

fn grant(session: &Session) -> ChannelGrant {
    ChannelGrant {
        channel_id: CHANNEL.into(),
        instance_id: "i-test".into(),
        spec: SessionSpec {
            channel_id: CHANNEL.into(),
            port_number: session.port.map(|p| p.to_string()).unwrap_or_default(),
            ..Default::default()
        },
        session: SessionView {
            session_id: "s-test".into(),
            region_id: "cn-test".into(),
            instance_id: "i-test".into(),
            instance_ids: vec!["i-test".into()],
            state: SessionState::Pending,
            url_expires_at: axt_proto::now_ms() as i64 / 1000 + 3600,
            port_number: session.port,
            target_server: String::new(),
            command_line: String::new(),
            username: String::new(),
            rate_limit: session.rate.and_then(NonZeroU64::new),
            encryption: None,
        },
    }
}

/// A relay running on its own task, and the test's ends of everything it talks to.
struct Rig {
    host: Arc<TestHost>,
    client: MemPeer,
    events: mpsc::Sender<RelayEvent>,
    closing: watch::Sender<bool>,
    relay: JoinHandle<End>,
}

impl Rig {
    fn start(session: &Session, host: TestHost) -> Self {
        let host = Arc::new(host);
        let (socket, client) = mem::pair(64);
        let (events, events_rx) = mpsc::channel(8);
        let closing = watch::Sender::new(false);
        let rate = Arc::new(SessionRate::new(session.rate.unwrap_or(0)));
        let relay = Relay::new(
            host.clone(),
            grant(session),
            Socket::new(socket),
            events_rx,
            TIMERS,
            closing.subscribe(),
            rate,
        );
        let relay = tokio::spawn(relay.run(Start::Kick));
        Self {
            host,
            client,
            events,
            closing,
            relay,
        }
    }

    /// The agent opens its data channel; returns the agent's end.
    async fn agent(&self, half_close: bool) -> MemPeer {
        let (socket, peer) = mem::pair(64);
        let agent = AgentSocket {
            socket: Socket::new(socket),
            half_close,
        };
        self.event(RelayEvent::AgentSocket(Box::new(agent))).await;
        peer
    }

    /// A 1.02 client comes back; returns its new end.
    async fn reconnect(&self) -> MemPeer {
        let (socket, peer) = mem::pair(64);
        self.event(RelayEvent::ClientSocket(Box::new(Socket::new(socket))))
            .await;
        peer
    }

    async fn event(&self, event: RelayEvent) {
        self.events.send(event).await.unwrap();
    }

    /// How the relay ended, and the last record it made.
    async fn ended(self) -> (End, RecordChannel) {
        let end = tokio::time::timeout(PATIENCE, self.relay)
            .await
            .expect("the relay never ended")
            .unwrap();
        let last = self.host.records.lock().unwrap().last().cloned().unwrap();
        (end, last)
    }
}

fn binary(msg: Message) -> Vec<u8> {
    match msg {
        Message::Binary(b) => b.to_vec(),
        other => panic!("not a binary message: {other:?}"),
    }
}

/// The next client frame, skipping nothing.
async fn client_frame(peer: &mut MemPeer) -> ClientFrame {
    let msg = peer
        .recv(PATIENCE)
        .await
        .expect("the relay closed the client");
    ClientFrame::decode(&binary(msg)).unwrap()
}

/// Client frames until one of `kind`.
async fn client_frame_of(peer: &mut MemPeer, kind: ClientMessageType) -> ClientFrame {
    loop {
        let frame = client_frame(peer).await;
        if frame.kind == kind {
            return frame;
        }
    }
}

/// The next agent frame.
async fn agent_frame(peer: &mut MemPeer) -> AgentFrame {
    let msg = peer
        .recv(PATIENCE)
        .await
        .expect("the relay closed the agent");
    AgentFrame::decode(&binary(msg)).unwrap()
}

/// Agent frames until an Input; returns its payload.
async fn agent_input(peer: &mut MemPeer) -> Vec<u8> {
    loop {
        let frame = agent_frame(peer).await;
        if frame.kind == AgentMessageType::Input {
            return frame.payload;
        }
    }
}

fn to_client(kind: ClientMessageType, payload: &[u8]) -> Message {
    let frame = ClientFrame::v101(kind, 0, payload.to_vec());
    Message::Binary(frame.encode().unwrap().into())
}

fn to_client_v102(kind: ClientMessageType, input: u32, output: u32, payload: &[u8]) -> Message {
    let frame = ClientFrame::v102(kind, CHANNEL, input, output, payload.to_vec());
    Message::Binary(frame.encode().unwrap().into())
}

fn from_agent(payload: &[u8]) -> Message {
    let frame = AgentFrame::new(AgentMessageType::Output, CHANNEL, 0, payload.to_vec());
    Message::Binary(frame.encode().unwrap().into())
}

/// The Status 5 reason the client was shown at the end (earlier Statuses are skipped).
async fn closed_reason(peer: &mut MemPeer) -> String {
    loop {
        let frame = client_frame_of(peer, ClientMessageType::Status).await;
        if frame.payload.first() == Some(&5) {
            return String::from_utf8_lossy(&frame.payload[1..]).into_owned();
        }
    }
}

/// The next Output with something in it (the early empty Output and an agent's readiness
/// signal carry nothing).
async fn client_output(peer: &mut MemPeer) -> ClientFrame {
    loop {
        let frame = client_frame_of(peer, ClientMessageType::Output).await;
        if !frame.payload.is_empty() {
            return frame;
        }
    }
}

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
async fn a_1_02_client_comes_back_and_the_output_it_missed_is_replayed() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    let client = &mut rig.client;
    client
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
    // It says what it has and resends its input 1 (already applied: not applied twice) and 2.
    client
        .send(to_client_v102(ClientMessageType::Sync, 1, 1, b""))
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
async fn a_1_02_client_away_too_long_is_closed() {
    let mut rig = Rig::start(&SHELL, TestHost::default());
    rig.client
        .send(to_client_v102(ClientMessageType::Input, 1, 0, b""))
        .await;
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
    rig.client
        .send(to_client_v102(ClientMessageType::Input, 0, 0, b""))
        .await;
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
    loop {
        let frame = client_frame(&mut rig.client).await;
        match frame.kind {
            ClientMessageType::Output => replayed.push(frame.output_seq()),
            ClientMessageType::Sync => break,
            _ => {}
        }
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
    rig.client
        .send(to_client_v102(ClientMessageType::Input, 0, 0, b""))
        .await;
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
