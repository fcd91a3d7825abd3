//! One client connection's relay: kick the agent, wait for its data channel, hold early input
//! until the agent can take it, then translate frames both ways until something ends it — and
//! tell the client and the record why.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use axt_proto::{
    agent_frame::{AgentFrame, AgentMessageType},
    client_frame::{parse_resize, ClientFrame, ClientMessageType},
    kick::Kick,
    status::{rate_payload, ChannelState, MIN_AGENT_RATE_BITS, MIN_CLIENT_RATE_BITS},
};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use tokio::{sync::mpsc, time::Instant};
use tracing::Instrument as _;

use super::{end::End, frames::Framer, rate::SessionRate, AgentSocket, RelayEvent};
use crate::{
    cp::{Opened, StateUpdate},
    Shared,
};

/// Client input held before the agent is ready, in bytes. Past it the relay stops reading the
/// client (back-pressure through the WebSocket) instead of dropping anything.
const MAX_HELD_BYTES: usize = 1 << 20;
/// How long a relay waits for an agent whose data channel dropped to reconnect or report.
const AGENT_GRACE: Duration = Duration::from_secs(3);
/// After a client's Close on a port session, how long output still in flight from a stock
/// agent is relayed before the gateway closes (the stock agent cannot half-close).
const STOCK_CLOSE_GRACE: Duration = Duration::from_secs(1);
/// After the agent's result, how long the rest of its output may take to arrive: the report
/// and the data channel are separate connections, so the report can overtake the last frames.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

struct Relay {
    shared: Arc<Shared>,
    opened: Opened,
    client: WebSocket,
    agent: Option<WebSocket>,
    /// Whether the agent half-closes a port session's target on CloseChannel.
    half_close: bool,
    /// The client sent Close on a port session: it sends nothing more.
    client_done: bool,
    events: mpsc::Receiver<RelayEvent>,
    framer: Framer,
    /// Client frames for the agent, held until it is ready.
    held: VecDeque<Message>,
    held_bytes: usize,
    /// Set once the agent can take input: its first output, or the hold time after it connected.
    released: bool,
    size: Option<(u16, u16)>,
    bytes_in: u64,
    bytes_out: u64,
    /// The last time data went either way, for the idle timeout.
    last_data: Instant,
    /// The session's bandwidth, shared with its other connections through this gateway.
    rate: Arc<SessionRate>,
}

/// Runs the relay of one client connection to its end.
pub async fn run(
    shared: Arc<Shared>,
    opened: Opened,
    client: WebSocket,
    events: mpsc::Receiver<RelayEvent>,
) {
    let span = tracing::info_span!("relay", session_id = %opened.session.session_id, channel_id = %opened.channel_id);
    let channel_id = opened.channel_id.clone();
    let opened_session_id = opened.session.session_id.clone();
    let opened_rate = opened.session.rate_limit;
    let mut relay = Relay {
        framer: Framer::new(&channel_id),
        shared: shared.clone(),
        opened,
        client,
        agent: None,
        half_close: false,
        client_done: false,
        events,
        held: VecDeque::new(),
        held_bytes: 0,
        released: false,
        size: None,
        bytes_in: 0,
        bytes_out: 0,
        last_data: Instant::now(),
        rate: session_rate(&shared, &opened_session_id, opened_rate),
    };
    async move {
        let end = relay.drive().await;
        tracing::info!(
            ?end,
            bytes_in = relay.bytes_in,
            bytes_out = relay.bytes_out,
            "relay ended"
        );
        relay.finish(end).await;
    }
    .instrument(span)
    .await;
    shared.channels.remove(&channel_id);
}

impl Relay {
    fn is_port(&self) -> bool {
        self.opened.spec.is_port_forward()
    }

    async fn drive(&mut self) -> End {
        // An early Output switches ali-instance-cli to "connected": it holds resizes (and ssh
        // input) until the first one.
        for msg in self.framer.output(&[]) {
            let _ = self.client.send(msg).await;
        }
        let instance = self.opened.instance_id.clone();
        if !self.shared.kicks.send(
            &instance,
            Kick::SessionStart(self.opened.channel_id.clone()),
        ) {
            return End::AgentNotOnline;
        }
        let config = &self.shared.config;
        let delivery = Instant::now() + Duration::from_secs(config.delivery_timeout_secs);
        let hold = Duration::from_millis(config.input_hold_ms);
        let idle = Duration::from_secs(config.idle_timeout_secs);
        let mut release_at: Option<Instant> = None;
        let mut lost_at: Option<Instant> = None;
        let mut close_at: Option<Instant> = None;
        let mut close_sent = false;
        let mut ever_connected = false;
        loop {
            let reading_client = self.held_bytes < MAX_HELD_BYTES && !self.client_done;
            tokio::select! {
                msg = self.client.recv(), if reading_client => match msg {
                    Some(Ok(msg)) => if let Some(end) = self.on_client(msg).await { return end },
                    Some(Err(_)) | None => return End::ClientClosed,
                },
                _ = sleep_until(close_at) => return End::ClientClosed,
                event = self.events.recv() => match event {
                    Some(RelayEvent::AgentSocket(agent)) => {
                        let AgentSocket { socket, half_close } = *agent;
                        if ever_connected {
                            tracing::info!("agent re-opened the data channel");
                        } else {
                            ever_connected = true;
                            release_at = Some(Instant::now() + hold);
                            self.record_connected().await;
                        }
                        self.agent = Some(socket);
                        self.half_close = half_close;
                        lost_at = None;
                    }
                    Some(RelayEvent::AgentResult(result)) => {
                        self.drain_agent().await;
                        return End::Result(result);
                    }
                    Some(RelayEvent::SessionEnded("Ended")) => return End::SessionEnded,
                    Some(RelayEvent::SessionEnded(_)) => return End::InstanceNotRunning,
                    None => return End::AgentLost,
                },
                msg = recv_agent(&mut self.agent) => match msg {
                    Some(Ok(msg)) => self.on_agent(msg).await,
                    Some(Err(_)) | None => {
                        tracing::info!("agent data channel closed");
                        self.agent = None;
                        lost_at = Some(Instant::now() + AGENT_GRACE);
                    }
                },
                _ = sleep_until(Some(delivery)), if !ever_connected => return End::DeliveryTimeout,
                _ = sleep_until(release_at), if !self.released && self.agent.is_some() => self.release().await,
                _ = sleep_until(lost_at) => return End::AgentLost,
                _ = tokio::time::sleep_until(self.last_data + idle) => return End::IdleTimeout,
            }
            // The client's Close takes effect once what it sent before has reached the agent.
            if self.client_done && !close_sent && self.released && self.agent.is_some() {
                close_sent = true;
                if self.half_close {
                    if let Some(msg) = self
                        .framer
                        .agent_frame(AgentMessageType::CloseChannel, vec![])
                    {
                        self.send_agent(msg).await;
                    }
                } else {
                    close_at = Some(Instant::now() + STOCK_CLOSE_GRACE);
                }
            }
        }
    }

    /// Relays what the agent still sends until it closes the data channel, for at most
    /// [`DRAIN_LIMIT`].
    async fn drain_agent(&mut self) {
        let deadline = Instant::now() + DRAIN_LIMIT;
        while let Ok(Some(Ok(msg))) =
            tokio::time::timeout_at(deadline, recv_agent(&mut self.agent)).await
        {
            self.on_agent(msg).await;
        }
    }

    async fn record_connected(&mut self) {
        let update = StateUpdate {
            status: Some("Connected"),
            ..Default::default()
        };
        if let Err(error) = self
            .shared
            .cp
            .update(&self.opened.channel_id, &update)
            .await
        {
            tracing::warn!(%error, "recording the connection");
        }
        if let Some(msg) = self.framer.status(ChannelState::Opened, "") {
            let _ = self.client.send(msg).await;
        }
        // Tell the client the rate it may send at (ali-instance-cli paces its forwards by it).
        if let Some(bits) = self.rate_bits() {
            let payload = rate_payload(bits, MIN_CLIENT_RATE_BITS);
            if let Some(msg) = self.framer.status_payload(payload) {
                let _ = self.client.send(msg).await;
            }
        }
    }

    /// The session's rate in bit/s, if it has one.
    fn rate_bits(&self) -> Option<u32> {
        let bytes = self.opened.session.rate_limit;
        (bytes > 0).then(|| u32::try_from(bytes.saturating_mul(8)).unwrap_or(u32::MAX))
    }

    /// One client message. Returns how the relay ends, if it does.
    async fn on_client(&mut self, msg: Message) -> Option<End> {
        let bytes = match msg {
            Message::Binary(b) => b.to_vec(),
            Message::Text(t) => t.as_bytes().to_vec(),
            Message::Close(_) => return Some(End::ClientClosed),
            _ => return None,
        };
        let frame = match ClientFrame::decode(&bytes) {
            Ok(frame) => {
                super::frames::trace("client→gateway", &frame.kind, frame.seq, &frame.payload);
                frame
            }
            Err(error) => {
                tracing::warn!(%error, "ignoring a malformed client frame");
                return None;
            }
        };
        if frame.schema != self.framer.client_schema && !frame.schema.is_empty() {
            self.framer.client_schema.clone_from(&frame.schema);
        }
        if frame.is_v102()
            && matches!(
                frame.kind,
                ClientMessageType::Input | ClientMessageType::Resize
            )
        {
            self.framer.last_input_seq = frame.input_seq();
        }
        match frame.kind {
            // An empty Input is the web client's keep-alive: data for the idle timeout only.
            ClientMessageType::Input | ClientMessageType::Resize => self.last_data = Instant::now(),
            _ => {}
        }
        match frame.kind {
            ClientMessageType::Input if !frame.payload.is_empty() => {
                self.bytes_in += frame.payload.len() as u64;
                self.rate.up.take(frame.payload.len()).await;
                let msg = self
                    .framer
                    .agent_frame(AgentMessageType::Input, frame.payload)?;
                self.send_agent(msg).await;
            }
            ClientMessageType::Resize if !self.is_port() => {
                let size = parse_resize(&frame.payload)?;
                self.size = Some(size);
                if self.released {
                    let msg = self.framer.set_size(size)?;
                    self.send_agent(msg).await;
                }
            }
            // ali-instance-cli sends Close when the local side of a forward ends, and then waits
            // for the gateway to close the WebSocket. Output still on its way is relayed first:
            // an agent that can half-close gets CloseChannel and ends the session when the
            // target has said all it has to say; a stock agent gets a short grace.
            ClientMessageType::Close if self.is_port() => self.client_done = true,
            // For a shell, Close is the end of the client's input, which on a terminal is
            // Ctrl-D.
            ClientMessageType::Close => {
                let msg = self
                    .framer
                    .agent_frame(AgentMessageType::Input, vec![0x04])?;
                self.send_agent(msg).await;
            }
            _ => {}
        }
        None
    }

    /// Sends to the agent now, or holds the frame until the agent is ready for it.
    async fn send_agent(&mut self, msg: Message) {
        match (&mut self.agent, self.released) {
            (Some(agent), true) => {
                if agent.send(msg).await.is_err() {
                    tracing::debug!("agent send failed; it may reconnect");
                }
            }
            _ => {
                self.held_bytes += message_len(&msg);
                self.held.push_back(msg);
            }
        }
    }

    async fn on_agent(&mut self, msg: Message) {
        let bytes = match msg {
            Message::Binary(b) => b.to_vec(),
            Message::Text(t) => t.as_bytes().to_vec(),
            _ => return,
        };
        let frame = match AgentFrame::decode(&bytes) {
            Ok(frame) => {
                super::frames::trace(
                    "agent→gateway",
                    &frame.kind,
                    frame.seq as u64,
                    &frame.payload,
                );
                frame
            }
            Err(error) => {
                tracing::warn!(%error, "ignoring a malformed agent frame");
                return;
            }
        };
        if frame.kind != AgentMessageType::Output {
            return;
        }
        self.last_data = Instant::now();
        self.bytes_out += frame.payload.len() as u64;
        // Waiting here stops reading the agent's socket: the limit pushes back to the agent.
        self.rate.down.take(frame.payload.len()).await;
        for msg in self.framer.output(&frame.payload) {
            let _ = self.client.send(msg).await;
        }
        if !self.released {
            self.release().await;
        }
    }

    /// The agent can take input now: the terminal size first, then everything held.
    async fn release(&mut self) {
        self.released = true;
        if let Some(size) = self.size.filter(|_| !self.is_port()) {
            if let Some(msg) = self.framer.set_size(size) {
                self.held.push_front(msg);
            }
        }
        // The session's rate, as the stock agent's status code 7 (it also had it as flowLimit).
        if let Some(bits) = self.rate_bits() {
            let payload = rate_payload(bits, MIN_AGENT_RATE_BITS);
            if let Some(msg) = self.framer.agent_frame(AgentMessageType::Status, payload) {
                self.held.push_front(msg);
            }
        }
        let Some(agent) = self.agent.as_mut() else {
            return;
        };
        while let Some(msg) = self.held.pop_front() {
            if agent.send(msg).await.is_err() {
                break;
            }
        }
        self.held_bytes = 0;
    }

    /// Tells the client and the agent, closes both sockets, and records the end.
    async fn finish(mut self, end: End) {
        if let Some(reason) = end.client_reason() {
            if let Some(msg) = self.framer.status(ChannelState::Closed, reason) {
                let _ = self.client.send(msg).await;
            }
        }
        let _ = self
            .client
            .send(Message::Close(Some(CloseFrame {
                code: 1000,
                reason: "".into(),
            })))
            .await;
        if !matches!(end, End::Result(_) | End::AgentNotOnline) {
            self.shared.kicks.send(
                &self.opened.instance_id,
                Kick::SessionStop(self.opened.channel_id.clone()),
            );
        }
        if let Some(mut agent) = self.agent.take() {
            let _ = agent.send(Message::Close(None)).await;
        }
        let (status, closed, detail) = end.record();
        let update = StateUpdate {
            status: Some(status),
            closed_reason: Some(closed.to_owned()),
            failed_detail: detail,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
        };
        if let Err(error) = self
            .shared
            .cp
            .update(&self.opened.channel_id, &update)
            .await
        {
            tracing::warn!(%error, "recording the end of the connection");
        }
    }
}

/// The bandwidth buckets of `session_id` on this gateway, shared by its connections.
fn session_rate(shared: &Shared, session_id: &str, bytes_per_second: u64) -> Arc<SessionRate> {
    let mut rates = shared.rates.lock().unwrap_or_else(|p| p.into_inner());
    rates.retain(|_, rate| rate.strong_count() > 0);
    if let Some(rate) = rates.get(session_id).and_then(std::sync::Weak::upgrade) {
        return rate;
    }
    let rate = Arc::new(SessionRate::new(bytes_per_second));
    rates.insert(session_id.to_owned(), Arc::downgrade(&rate));
    rate
}

fn message_len(msg: &Message) -> usize {
    match msg {
        Message::Binary(b) => b.len(),
        Message::Text(t) => t.len(),
        _ => 0,
    }
}

/// The next message of the agent's socket, or never when there is none.
async fn recv_agent(agent: &mut Option<WebSocket>) -> Option<Result<Message, axum::Error>> {
    match agent {
        Some(socket) => socket.recv().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `at`, or forever when there is no deadline.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
