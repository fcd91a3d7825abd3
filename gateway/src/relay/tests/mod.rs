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
    client_frame::{ClientFrame, ClientMessageType},
    internal::{ChannelGrant, RecordChannel, SessionView},
    kick::Kick,
    spec::SessionSpec,
    status::SessionState,
};
use axum::extract::ws::Message;
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};

use crate::kick::KickError;

use super::{
    rate::SessionRate,
    socket::{mem, MemPeer},
    AgentSocket, End, Host, Relay, RelayEvent, Socket, Start, Timers,
};

pub(super) const CHANNEL: &str = "c-test";
/// Longer than anything a test waits for: a wait this long means the relay is stuck.
pub(super) const PATIENCE: Duration = Duration::from_secs(3600);
pub(super) const TIMERS: Timers = Timers {
    delivery: Duration::from_secs(20),
    input_hold: Duration::from_millis(1500),
    idle: Duration::from_secs(180),
};

/// A gateway reduced to what the relay asks of it.
#[derive(Default)]
pub(super) struct TestHost {
    pub(super) offline: bool,
    pub(super) kicks: Mutex<Vec<Kick>>,
    pub(super) records: Mutex<Vec<RecordChannel>>,
}

impl Host for TestHost {
    fn kick(&self, _instance_id: &str, kick: Kick) -> Result<(), KickError> {
        self.kicks.lock().unwrap().push(kick);
        match self.offline {
            true => Err(KickError::NotOnline),
            false => Ok(()),
        }
    }

    async fn record(&self, update: RecordChannel) {
        self.records.lock().unwrap().push(update);
    }
}

/// What the session is.
pub(super) struct Session {
    pub(super) port: Option<u16>,
    /// Bytes per second.
    pub(super) rate: Option<u64>,
}

pub(super) const SHELL: Session = Session {
    port: None,
    rate: None,
};

pub(super) fn grant(session: &Session) -> ChannelGrant {
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
pub(super) struct Rig {
    pub(super) host: Arc<TestHost>,
    pub(super) client: MemPeer,
    pub(super) events: mpsc::Sender<RelayEvent>,
    pub(super) closing: watch::Sender<bool>,
    pub(super) relay: JoinHandle<End>,
}

impl Rig {
    pub(super) fn start(session: &Session, host: TestHost) -> Self {
        let rate = session.rate.unwrap_or(0);
        Self::start_with(grant(session), rate, host, |relay| relay)
    }

    /// A relay for `grant` (its rate in bytes/s), set up further by `configure`.
    pub(super) fn start_with(
        grant: ChannelGrant,
        rate: u64,
        host: TestHost,
        configure: impl FnOnce(Relay<TestHost>) -> Relay<TestHost>,
    ) -> Self {
        let host = Arc::new(host);
        let (socket, client) = mem::pair(64);
        let (events, events_rx) = mpsc::channel(8);
        let closing = watch::Sender::new(false);
        let rate = Arc::new(SessionRate::new(rate));
        let relay = Relay::new(
            host.clone(),
            grant,
            Socket::new(socket),
            events_rx,
            TIMERS,
            closing.subscribe(),
            rate,
        );
        let relay = tokio::spawn(configure(relay).run(Start::Kick));
        Self {
            host,
            client,
            events,
            closing,
            relay,
        }
    }

    /// The agent opens its data channel; returns the agent's end.
    pub(super) async fn agent(&self, half_close: bool) -> MemPeer {
        let (socket, peer) = mem::pair(64);
        let agent = AgentSocket {
            socket: Socket::new(socket),
            half_close,
        };
        self.event(RelayEvent::AgentSocket(Box::new(agent))).await;
        peer
    }

    /// A 1.02 client comes back; returns its new end.
    pub(super) async fn reconnect(&self) -> MemPeer {
        let (socket, peer) = mem::pair(64);
        self.event(RelayEvent::ClientSocket(Box::new(Socket::new(socket))))
            .await;
        peer
    }

    pub(super) async fn event(&self, event: RelayEvent) {
        self.events.send(event).await.unwrap();
    }

    /// How the relay ended, and the last record it made.
    pub(super) async fn ended(self) -> (End, RecordChannel) {
        let end = tokio::time::timeout(PATIENCE, self.relay)
            .await
            .expect("the relay never ended")
            .unwrap();
        let last = self.host.records.lock().unwrap().last().cloned().unwrap();
        (end, last)
    }
}

pub(super) fn binary(msg: Message) -> Vec<u8> {
    match msg {
        Message::Binary(b) => b.to_vec(),
        other => panic!("not a binary message: {other:?}"),
    }
}

/// The next client frame, skipping nothing.
pub(super) async fn client_frame(peer: &mut MemPeer) -> ClientFrame {
    let msg = peer
        .recv(PATIENCE)
        .await
        .expect("the relay closed the client");
    ClientFrame::decode(&binary(msg)).unwrap()
}

/// Client frames until one of `kind`.
pub(super) async fn client_frame_of(peer: &mut MemPeer, kind: ClientMessageType) -> ClientFrame {
    loop {
        let frame = client_frame(peer).await;
        if frame.kind == kind {
            return frame;
        }
    }
}

/// The next agent frame.
pub(super) async fn agent_frame(peer: &mut MemPeer) -> AgentFrame {
    let msg = peer
        .recv(PATIENCE)
        .await
        .expect("the relay closed the agent");
    AgentFrame::decode(&binary(msg)).unwrap()
}

/// Agent frames until an Input; returns its payload.
pub(super) async fn agent_input(peer: &mut MemPeer) -> Vec<u8> {
    loop {
        let frame = agent_frame(peer).await;
        if frame.kind == AgentMessageType::Input {
            return frame.payload;
        }
    }
}

pub(super) fn to_client(kind: ClientMessageType, payload: &[u8]) -> Message {
    let frame = ClientFrame::v101(kind, 0, payload.to_vec());
    Message::Binary(frame.encode().unwrap().into())
}

pub(super) fn to_client_v102(
    kind: ClientMessageType,
    input: u32,
    output: u32,
    payload: &[u8],
) -> Message {
    let frame = ClientFrame::v102(kind, CHANNEL, input, output, payload.to_vec());
    Message::Binary(frame.encode().unwrap().into())
}

/// The client says it speaks 1.02 and waits for the relay's answer, so that the relay knows
/// before anything else happens: a Sync claiming an input the relay has not seen, which the
/// relay answers by asking for it again.
pub(super) async fn speak_1_02(peer: &mut MemPeer) {
    peer.send(to_client_v102(ClientMessageType::Sync, 1, 0, b""))
        .await;
    let answer = client_frame_of(peer, ClientMessageType::Sync).await;
    assert_eq!(answer.input_seq(), 1, "resend from input 1");
}

pub(super) fn from_agent(payload: &[u8]) -> Message {
    let frame = AgentFrame::new(AgentMessageType::Output, CHANNEL, 0, payload.to_vec());
    Message::Binary(frame.encode().unwrap().into())
}

/// The Status 5 reason the client was shown at the end (earlier Statuses are skipped).
pub(super) async fn closed_reason(peer: &mut MemPeer) -> String {
    loop {
        let frame = client_frame_of(peer, ClientMessageType::Status).await;
        if frame.payload.first() == Some(&5) {
            return String::from_utf8_lossy(&frame.payload[1..]).into_owned();
        }
    }
}

/// The next Output with something in it (the early empty Output and an agent's readiness
/// signal carry nothing).
pub(super) async fn client_output(peer: &mut MemPeer) -> ClientFrame {
    loop {
        let frame = client_frame_of(peer, ClientMessageType::Output).await;
        if !frame.payload.is_empty() {
            return frame;
        }
    }
}

mod key_exchange;
mod lifecycle;
mod observed;
mod reliability;
mod web_client;
