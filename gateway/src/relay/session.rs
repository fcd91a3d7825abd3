//! One client connection's relay: kick the agent, wait for its data channel, hold early input
//! until the agent can take it, then translate frames both ways until something ends it — and
//! tell the client and the record why. The client's side is in `client_side.rs`, the agent's in
//! `agent_side.rs`; this file holds the state and the one `select!` loop.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use axt_proto::{
    agent_frame::AgentMessageType,
    internal::{ChannelGrant, RecordChannel},
    kick::Kick,
    status::{ChannelState, ConnectionStatus, SessionVerdict},
};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use tokio::{sync::mpsc, time::Instant};
use tracing::Instrument as _;

use super::{
    end::End,
    frames::Framer,
    rate::{session_rate, SessionRate},
    AgentSocket, RelayEvent,
};
use crate::Shared;

/// How long a relay waits for an agent whose data channel dropped to reconnect or report.
const AGENT_GRACE: Duration = Duration::from_secs(3);
/// After a client's Close on a port session, how long output still in flight from a stock
/// agent is relayed before the gateway closes (the stock agent cannot half-close).
const STOCK_CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How often the gateway sends the agent an empty Input when nothing else went its way.
const AGENT_KEEPALIVE: Duration = Duration::from_secs(60);
/// The longest a send to either socket may take; a peer that stops reading for that long is
/// treated as gone, so a stalled peer can never hold the relay.
pub(super) const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing relay waits for the client's own Close.
const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// The longest a 1.02 client may stay away before its connection ends (and never past the
/// URL's validity).
const MAX_DETACH: Duration = Duration::from_secs(600);

/// How a relay starts.
pub enum Start {
    /// A new client connection: kick the agent.
    Kick,
    /// A 1.02 client reconnected to a channel this gateway does not know (it restarted): the
    /// agent re-dials the data channel on its own, so no kick.
    Resume,
}

pub(super) struct Relay {
    pub(super) shared: Arc<Shared>,
    pub(super) opened: ChannelGrant,
    /// `None` while a 1.02 client is away, waiting to reconnect.
    pub(super) client: Option<WebSocket>,
    pub(super) agent: Option<WebSocket>,
    /// Whether the agent half-closes a port session's target on CloseChannel.
    pub(super) half_close: bool,
    /// The client sent Close on a port session: it sends nothing more.
    pub(super) client_done: bool,
    pub(super) events: mpsc::Receiver<RelayEvent>,
    pub(super) framer: Framer,
    /// Client frames for the agent, held until it is ready.
    pub(super) held: VecDeque<Message>,
    pub(super) held_bytes: usize,
    /// Set once the agent can take input: its first output, or the hold time after it connected.
    pub(super) released: bool,
    pub(super) size: Option<(u16, u16)>,
    /// 1.02: output not yet acknowledged, `(output seq, payload)`, for replay after a Sync or a
    /// reconnect; bounded by `replay_bytes`.
    pub(super) replay: VecDeque<(u32, Vec<u8>)>,
    pub(super) replay_bytes: usize,
    pub(super) bytes_in: u64,
    pub(super) bytes_out: u64,
    /// The last time anything was sent to the agent: agents end a session after 180 s without
    /// an inbound frame, so the gateway keeps the channel alive while its own idle policy
    /// says the connection is in use.
    pub(super) last_to_agent: Instant,
    /// A send to the client timed out: it is treated like a dropped connection.
    pub(super) client_stalled: bool,
    /// Whether the agent's first output has arrived (the size is sent again then).
    pub(super) first_output: bool,
    /// When the agent's data channel was lost, if it is gone now.
    pub(super) lost_since: Option<Instant>,
    /// The last time data went either way, for the idle timeout.
    pub(super) last_data: Instant,
    /// The session's bandwidth, shared with its other connections through this gateway.
    pub(super) rate: Arc<SessionRate>,
}

/// Runs the relay of one client connection to its end.
pub async fn run(
    shared: Arc<Shared>,
    opened: ChannelGrant,
    client: WebSocket,
    events: mpsc::Receiver<RelayEvent>,
    start: Start,
) {
    let span = tracing::info_span!("relay", session_id = %opened.session.session_id, channel_id = %opened.channel_id);
    let channel_id = opened.channel_id.clone();
    let rate = session_rate(
        &shared,
        &opened.session.session_id,
        opened.session.rate_limit.map_or(0, |r| r.get()),
    );
    let mut relay = Relay {
        framer: Framer::new(&channel_id),
        shared: shared.clone(),
        opened,
        client: Some(client),
        agent: None,
        half_close: false,
        client_done: false,
        events,
        held: VecDeque::new(),
        held_bytes: 0,
        released: false,
        size: None,
        replay: VecDeque::new(),
        replay_bytes: 0,
        bytes_in: 0,
        bytes_out: 0,
        lost_since: None,
        last_to_agent: Instant::now(),
        first_output: false,
        client_stalled: false,
        last_data: Instant::now(),
        rate,
    };
    async move {
        let end = relay.drive(start).await;
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
    pub(super) fn is_port(&self) -> bool {
        self.opened.spec.is_port_forward()
    }

    async fn drive(&mut self, start: Start) -> End {
        // An early Output switches ali-instance-cli to "connected": it holds resizes (and ssh
        // input) until the first one.
        if let Some(msg) = self.framer.early_output() {
            self.send_client(msg).await;
        }
        if matches!(start, Start::Kick)
            && !self.shared.kicks.send(
                &self.opened.instance_id,
                Kick::SessionStart(self.opened.channel_id.clone()),
            )
        {
            return End::AgentNotOnline;
        }
        let config = &self.shared.config;
        let delivery = Instant::now() + Duration::from_secs(config.delivery_timeout_secs);
        let hold = Duration::from_millis(config.input_hold_ms);
        let idle = Duration::from_secs(config.idle_timeout_secs);
        let mut closing = self.shared.closing.subscribe();
        let (mut release_at, mut close_at, mut detached_at) = (None, None, None);
        let mut close_sent = false;
        let mut ever_connected = false;
        loop {
            let reading_client = self.client.is_some()
                && self.held_bytes < super::agent_side::MAX_HELD_BYTES
                && !self.client_done;
            // While a 1.02 client is away its output is kept for replay; when that is full, the
            // agent is not read any more (back-pressure), so nothing is dropped.
            let reading_agent =
                self.client.is_some() || self.replay_bytes < super::client_side::MAX_REPLAY_BYTES;
            tokio::select! {
                msg = recv(&mut self.client), if reading_client => match msg {
                    Some(Ok(msg)) => if let Some(end) = self.on_client(msg).await { return end },
                    Some(Err(_)) | None => {
                        if !self.detach() {
                            return End::ClientClosed;
                        }
                        detached_at = Some(self.detach_deadline());
                    }
                },
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
                        self.lost_since = None;
                        if self.released {
                            self.flush_held().await;
                        }
                    }
                    Some(RelayEvent::ClientSocket(socket)) => {
                        tracing::info!("client reconnected");
                        self.client = Some(*socket);
                        detached_at = None;
                    }
                    Some(RelayEvent::AgentResult(result)) => {
                        self.drain_agent().await;
                        return End::Result(result);
                    }
                    Some(RelayEvent::SessionEnded(SessionVerdict::Ended)) => return End::SessionEnded,
                    Some(RelayEvent::SessionEnded(_)) => return End::InstanceNotRunning,
                    None => return End::AgentLost,
                },
                msg = recv(&mut self.agent), if reading_agent => match msg {
                    Some(Ok(msg)) => self.on_agent(msg).await,
                    Some(Err(_)) | None => self.agent_lost(),
                },
                _ = sleep_until(Some(delivery)), if !ever_connected => return End::DeliveryTimeout,
                _ = sleep_until(release_at), if !self.released && self.agent.is_some() => self.release().await,
                _ = sleep_until(self.lost_since.map(|at| at + AGENT_GRACE)) => return End::AgentLost,
                _ = sleep_until(close_at) => return End::ClientClosed,
                _ = sleep_until(detached_at) => return End::ClientClosed,
                _ = tokio::time::sleep_until(self.last_data + idle) => return End::IdleTimeout,
                _ = tokio::time::sleep_until(self.last_to_agent + AGENT_KEEPALIVE), if self.released && self.agent.is_some() => {
                    if let Some(msg) = self.framer.agent_frame(AgentMessageType::Input, Vec::new()) {
                        self.send_agent(msg).await;
                    }
                }
                changed = closing.changed() => {
                    if changed.is_err() || *closing.borrow_and_update() {
                        return End::GatewayShutdown;
                    }
                }
            }
            if std::mem::take(&mut self.client_stalled) {
                if !self.detach() {
                    return End::ClientClosed;
                }
                detached_at = Some(self.detach_deadline());
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

    /// Whether the client's disconnection is one it may come back from (1.02 only).
    fn detach(&mut self) -> bool {
        self.client = None;
        let detachable = self.framer.is_v102();
        if detachable {
            tracing::info!("client went away; keeping the channel for its reconnect");
        }
        detachable
    }

    fn detach_deadline(&self) -> Instant {
        let url_left = self.opened.session.url_expires_at - axt_proto::now_ms() as i64 / 1000;
        let url_left = Duration::from_secs(url_left.max(0) as u64);
        Instant::now() + url_left.min(MAX_DETACH)
    }

    async fn record_connected(&mut self) {
        let update = RecordChannel::status(&self.opened.channel_id, ConnectionStatus::Connected);
        if let Err(error) = self.shared.cp.call(&update).await {
            tracing::warn!(%error, "recording the connection");
        }
        if let Some(msg) = self.framer.status(ChannelState::Opened, "") {
            self.send_client(msg).await;
        }
        // Tell the client the rate it may send at (ali-instance-cli paces its forwards by it).
        if let Some(bits) = self.rate_bits() {
            let payload =
                axt_proto::status::rate_payload(bits, axt_proto::status::MIN_CLIENT_RATE_BITS);
            if let Some(msg) = self.framer.status_payload(payload) {
                self.send_client(msg).await;
            }
        }
    }

    /// The session's rate in bit/s, if it has one.
    pub(super) fn rate_bits(&self) -> Option<u32> {
        let bytes = self.opened.session.rate_limit?.get();
        Some(u32::try_from(bytes.saturating_mul(8)).unwrap_or(u32::MAX))
    }

    /// The rate to tell the agent: the session's, or with the limit lifted the highest one the
    /// frame can carry — the stock agent takes flowLimit 0 as its own default of ≈25 KB/s.
    pub(super) fn agent_rate_bits(&self) -> u32 {
        self.rate_bits().unwrap_or(u32::MAX)
    }

    /// Tells the client and the agent, closes both sockets, and records the end.
    async fn finish(mut self, end: End) {
        if let End::GatewayShutdown = end {
            // A 1.02 client reconnects after Frozen and close 1012, to the restarted gateway;
            // the agent re-dials the data channel there. The record stays Connected.
            if self.framer.is_v102() {
                if let Some(msg) = self.framer.status(ChannelState::Frozen, "") {
                    self.send_client(msg).await;
                }
                self.close_client(1012).await;
                return;
            }
        }
        // The record first: a client told the session is over may at once call
        // EndTerminalSession, which must not find the connection still live and overwrite why
        // it ended.
        let (status, closed, detail) = end.record();
        let update = RecordChannel {
            channel_id: self.opened.channel_id.clone(),
            status: Some(status),
            closed_reason: Some(closed),
            failed_detail: detail,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
        };
        if let Err(error) = self.shared.cp.call(&update).await {
            tracing::warn!(%error, "recording the end of the connection");
        }
        if let Some(reason) = end.client_reason() {
            if let Some(msg) = self.framer.status(ChannelState::Closed, reason) {
                self.send_client(msg).await;
            }
        }
        self.close_client(1000).await;
        if !matches!(end, End::Result(_) | End::AgentNotOnline) {
            self.shared.kicks.send(
                &self.opened.instance_id,
                Kick::SessionStop(self.opened.channel_id.clone()),
            );
        }
        if let Some(mut agent) = self.agent.take() {
            let _ = tokio::time::timeout(SEND_TIMEOUT, agent.send(Message::Close(None))).await;
        }
    }

    /// Closes the client's WebSocket the polite way: Close, then read until the client's own
    /// Close (or EOF) for a moment. Dropping the socket with the client's input unread would
    /// make the kernel reset the connection, and the client could lose the Status just sent.
    async fn close_client(&mut self, code: u16) {
        if let Some(mut client) = self.client.take() {
            let close = Message::Close(Some(CloseFrame {
                code,
                reason: "".into(),
            }));
            let _ = tokio::time::timeout(SEND_TIMEOUT, client.send(close)).await;
            let _ = tokio::time::timeout(CLOSE_LINGER, async {
                while let Some(Ok(msg)) = client.recv().await {
                    if matches!(msg, Message::Close(_)) {
                        break;
                    }
                }
            })
            .await;
        }
    }
}

/// The next message of a socket, or never when there is none.
async fn recv(socket: &mut Option<WebSocket>) -> Option<Result<Message, axum::Error>> {
    match socket {
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

/// The next message of the agent's socket (also used while draining).
pub(super) async fn recv_agent(
    agent: &mut Option<WebSocket>,
) -> Option<Result<Message, axum::Error>> {
    recv(agent).await
}
