//! The relay's one `select!` loop: kick the agent, wait for its data channel, release held
//! input, translate frames both ways until something ends the connection — then tell the
//! client, the agent and the record why (`finish`).

use std::time::Duration;

use axt_proto::{
    agent_frame::AgentMessageType,
    internal::RecordChannel,
    kick::Kick,
    status::{ChannelState, ConnectionStatus, SessionVerdict},
};
use axum::extract::ws::{CloseFrame, Message};
use tokio::time::Instant;

use crate::kick::KickError;

use super::{
    agent_side::MAX_HELD_BYTES,
    client_side::MAX_REPLAY_BYTES,
    end::End,
    host::Host,
    socket::{recv, Socket},
    state::Relay,
    AgentSocket, RelayEvent,
};

/// How long a relay waits for an agent whose data channel dropped to reconnect or report.
pub(super) const AGENT_GRACE: Duration = Duration::from_secs(3);
/// After a client's Close on a port session, how long a stock agent (which cannot half-close)
/// may stay quiet before the gateway closes: each output frame restarts it, so output still
/// flowing is relayed to its end.
pub(super) const STOCK_CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How often the gateway sends the agent an empty Input when nothing else went its way.
pub(super) const AGENT_KEEPALIVE: Duration = Duration::from_secs(60);
/// The longest a send to either socket may take; a peer that stops reading for that long is
/// treated as gone, so a stalled peer can never hold the relay.
pub(super) const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing relay waits for the client's own Close.
pub(super) const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// The Status 5 reason a reconnect to a 1.01 connection is refused with.
pub(super) const RESUME_REFUSED: &str = "ResumeRefused";

/// How a relay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A new client connection: kick the agent.
    Kick,
    /// A 1.02 client reconnected to a channel this gateway does not know (it restarted): the
    /// agent re-dials the data channel on its own, so no kick.
    Resume,
}

impl<H: Host> Relay<H> {
    /// Relays until the connection ends, then tells everyone; returns why it ended.
    pub async fn run(mut self, start: Start) -> End {
        let end = self.drive(start).await;
        let (bytes_in, bytes_out) = self.counters();
        tracing::info!(?end, bytes_in, bytes_out, "relay ended");
        self.finish(&end).await;
        self.framer.tap.closed(end.record().1);
        end
    }

    async fn drive(&mut self, start: Start) -> End {
        // An early Output switches ali-instance-cli to "connected": it holds resizes (and ssh
        // input) until the first one.
        if let Some(msg) = self.framer.early_output() {
            self.send_client(msg).await;
        }
        let kick = Kick::SessionStart(self.grant.channel_id.clone());
        if start == Start::Kick {
            match self.host.kick(&self.grant.instance_id, kick.clone()) {
                Ok(()) => self.framer.tap.kick(&kick),
                Err(KickError::NotOnline) => return End::AgentNotOnline,
                Err(KickError::QueueFull) => return End::KickRefused,
            }
        }
        loop {
            let reading_client = self.client.socket.is_some()
                && self.held.bytes < MAX_HELD_BYTES
                && !self.client.done;
            // While a 1.02 client is away its output is kept for replay; when that is full, the
            // agent is not read any more (back-pressure), so nothing is dropped.
            let reading_agent =
                self.client.socket.is_some() || self.replay.bytes < MAX_REPLAY_BYTES;
            let d = &self.deadlines;
            let (idle_at, keepalive_at) = (
                d.last_data + self.timers.idle,
                self.agent.last_sent + AGENT_KEEPALIVE,
            );
            let (delivery, release, agent_back, close, detach) =
                (d.delivery, d.release, d.agent_back, d.close, d.detach);
            let keepalive = self.held.released && self.agent.socket.is_some();
            tokio::select! {
                msg = recv(&mut self.client.socket), if reading_client => match msg {
                    Some(Ok(msg)) => if let Some(end) = self.on_client(msg).await { return end },
                    Some(Err(_)) | None => if let Some(end) = self.client_gone() { return end },
                },
                event = self.events.recv() => if let Some(end) = self.on_event(event).await {
                    return end;
                },
                msg = recv(&mut self.agent.socket), if reading_agent => match msg {
                    Some(Ok(msg)) => self.on_agent(msg).await,
                    Some(Err(_)) | None => self.agent_lost(),
                },
                _ = sleep_until(Some(delivery)), if !self.agent.ever_connected => return End::DeliveryTimeout,
                _ = sleep_until(release), if !self.held.released && self.agent.socket.is_some() => self.release().await,
                _ = sleep_until(agent_back) => return End::AgentLost,
                _ = sleep_until(close) => return End::ClientClosed,
                _ = sleep_until(detach) => return End::ClientClosed,
                _ = tokio::time::sleep_until(idle_at) => return End::IdleTimeout,
                _ = tokio::time::sleep_until(keepalive_at), if keepalive => {
                    if let Some(msg) = self.framer.agent_frame(AgentMessageType::Input, Vec::new()) {
                        self.send_agent(msg).await;
                    }
                }
                changed = self.closing.changed() => {
                    if changed.is_err() || *self.closing.borrow_and_update() {
                        return End::GatewayShutdown;
                    }
                }
            }
            if std::mem::take(&mut self.client.stalled) {
                if let Some(end) = self.client_gone() {
                    return end;
                }
            }
            self.pass_client_close().await;
        }
    }

    /// One event from outside the two sockets; returns how the relay ends, if it does.
    async fn on_event(&mut self, event: Option<RelayEvent>) -> Option<End> {
        // No more events: the registry let go of the relay, which only a gateway going away
        // under it does; the agent is unreachable from here.
        let Some(event) = event else {
            return Some(End::AgentLost);
        };
        match event {
            RelayEvent::AgentSocket(agent) => {
                let AgentSocket { socket, half_close } = *agent;
                self.framer.tap.data_channel(self.agent.ever_connected);
                if self.agent.ever_connected {
                    tracing::info!("agent re-opened the data channel");
                } else {
                    self.agent.ever_connected = true;
                    // An encrypted shell answers only after its key exchange (up to 20 s), so
                    // its input waits for the first output, not for the usual hold.
                    let hold = match self.is_encrypted() {
                        true => axt_proto::e2e::EXCHANGE_TIMEOUT + self.timers.input_hold,
                        false => self.timers.input_hold,
                    };
                    self.deadlines.release = Some(Instant::now() + hold);
                    self.record_connected().await;
                }
                self.agent.socket = Some(socket);
                self.agent.half_close = half_close;
                self.deadlines.agent_back = None;
                self.flush_exchange().await;
                if self.held.released {
                    self.flush_held().await;
                }
                None
            }
            RelayEvent::ClientSocket(mut socket) => {
                // Only a 1.02 client (or one whose schema is not known yet) can resume: a 1.01
                // connection has no way to make whole what it missed, and a second socket must
                // not take the place of its client.
                if !self.framer.keeps_replay() {
                    tracing::warn!("a reconnect to a 1.01 connection refused");
                    if let Some(msg) = self.framer.status(ChannelState::Closed, RESUME_REFUSED) {
                        let _ = socket.send(msg).await;
                    }
                    let _ = socket.send(Message::Close(None)).await;
                    return None;
                }
                tracing::info!("client reconnected");
                self.client.socket = Some(*socket);
                self.deadlines.detach = None;
                None
            }
            RelayEvent::AgentResult(result) => {
                self.drain_agent().await;
                Some(End::Result(result))
            }
            RelayEvent::SessionEnded(SessionVerdict::Ended) => Some(End::SessionEnded),
            RelayEvent::SessionEnded(_) => Some(End::InstanceNotRunning),
        }
    }

    /// The client's socket closed or stalled: a 1.02 client may come back until its detach
    /// deadline; any other has left.
    fn client_gone(&mut self) -> Option<End> {
        self.client.socket = None;
        if !self.framer.is_v102() {
            return Some(End::ClientClosed);
        }
        tracing::info!("client went away; keeping the channel for its reconnect");
        self.deadlines.detach = Some(self.detach_deadline());
        None
    }

    /// The client's Close on a port session takes effect once what it sent before has reached
    /// the agent: CloseChannel to an agent that half-closes, a short grace for a stock agent.
    async fn pass_client_close(&mut self) {
        if !self.client.done
            || self.client.close_passed
            || !self.held.released
            || self.agent.socket.is_none()
        {
            return;
        }
        self.client.close_passed = true;
        if self.agent.half_close {
            if let Some(msg) = self
                .framer
                .agent_frame(AgentMessageType::CloseChannel, vec![])
            {
                self.send_agent(msg).await;
            }
        } else {
            self.deadlines.close = Some(Instant::now() + STOCK_CLOSE_GRACE);
        }
    }

    async fn record_connected(&mut self) {
        let update = RecordChannel::status(&self.grant.channel_id, ConnectionStatus::Connected);
        self.host.record(update).await;
        if let Some(msg) = self.framer.status(ChannelState::Opened, "") {
            self.send_client(msg).await;
        }
        // Tell the client the rate it may send at (ali-instance-cli paces its forwards by it).
        if let Some(bits) = self.rate_bits() {
            let payload = axt_proto::status::client_rate_payload(bits);
            if let Some(msg) = self.framer.status_payload(payload) {
                self.send_client(msg).await;
            }
        }
    }

    /// Tells the client and the agent, closes both sockets, and records the end.
    async fn finish(&mut self, end: &End) {
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
        let (bytes_in, bytes_out) = self.counters();
        self.host
            .record(RecordChannel {
                channel_id: self.grant.channel_id.clone(),
                status: Some(status),
                closed_reason: Some(closed),
                failed_detail: detail,
                bytes_in,
                bytes_out,
                reporter: None,
            })
            .await;
        if let Some(reason) = end.client_reason() {
            if let Some(msg) = self.framer.status(ChannelState::Closed, reason) {
                self.send_client(msg).await;
            }
        }
        self.close_client(1000).await;
        if !matches!(end, End::Result(_) | End::AgentNotOnline | End::KickRefused) {
            // Stops are never refused (see the kick mailbox); an agent gone meanwhile has
            // nothing left to stop.
            let stop = Kick::SessionStop(self.grant.channel_id.clone());
            let _ = self.host.kick(&self.grant.instance_id, stop);
        }
        if let Some(mut agent) = self.agent.socket.take() {
            let _ = tokio::time::timeout(SEND_TIMEOUT, agent.send(Message::Close(None))).await;
        }
    }

    /// Closes the client's WebSocket the polite way: Close, then read until the client's own
    /// Close (or EOF) for a moment. Dropping the socket with the client's input unread would
    /// make the kernel reset the connection, and the client could lose the Status just sent.
    async fn close_client(&mut self, code: u16) {
        if let Some(mut client) = self.client.socket.take() {
            let close = Message::Close(Some(CloseFrame {
                code,
                reason: "".into(),
            }));
            let _ = tokio::time::timeout(SEND_TIMEOUT, client.send(close)).await;
            let _ = tokio::time::timeout(CLOSE_LINGER, linger(&mut client)).await;
        }
    }
}

/// Reads a closing client until its Close or EOF.
async fn linger(client: &mut Socket) {
    while let Some(Ok(msg)) = client.recv().await {
        if matches!(msg, Message::Close(_)) {
            break;
        }
    }
}

/// Sleeps until `at`, or forever when there is no deadline.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
