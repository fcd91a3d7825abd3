//! The agent's side of a relay: holding client input until the agent can take it, sending it
//! then, and turning agent output into client Output.

use axt_proto::{
    agent_frame::{AgentFrame, AgentMessageType},
    status::{rate_payload, MIN_AGENT_RATE_BITS},
};
use axum::extract::ws::Message;
use tokio::time::Instant;

use super::{
    driver::{AGENT_GRACE, SEND_TIMEOUT, STOCK_CLOSE_GRACE},
    host::Host,
    socket::recv,
    state::Relay,
};

/// Client input held before the agent is ready, in bytes. Past it the relay stops reading the
/// client (back-pressure through the WebSocket) instead of dropping anything.
pub const MAX_HELD_BYTES: usize = 1 << 20;
/// After the agent's result, how long the data channel may stay quiet before the relay stops
/// waiting for the rest of the output: the report and the data channel are separate
/// connections, so the report can overtake the last frames — many of them when the session is
/// paced. Each frame that arrives restarts the wait; nothing that flows is cut.
pub(super) const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

impl<H: Host> Relay<H> {
    /// Sends to the agent now, or holds the frame until the agent is ready for it.
    pub(super) async fn send_agent(&mut self, msg: Message) {
        if let (Some(agent), true) = (&mut self.agent.socket, self.held.released) {
            match tokio::time::timeout(SEND_TIMEOUT, agent.send(msg.clone())).await {
                Ok(Ok(())) => {
                    self.agent.last_sent = Instant::now();
                    return;
                }
                // The data channel broke (or stalled) under us: hold the frame for the re-dial.
                _ => self.agent_lost(),
            }
        }
        self.held.push_back(msg);
    }

    /// Sends a key-exchange frame as soon as the data channel is there, whatever the input
    /// hold: in order with the other key-exchange frames, ahead of held input.
    pub(super) async fn send_exchange(&mut self, msg: Message) {
        self.held.exchange.push_back(msg);
        self.flush_exchange().await;
    }

    /// Sends the key-exchange frames that waited for the data channel.
    pub(super) async fn flush_exchange(&mut self) {
        while let Some(msg) = self.held.exchange.pop_front() {
            let Some(agent) = self.agent.socket.as_mut() else {
                self.held.exchange.push_front(msg);
                return;
            };
            if !matches!(
                tokio::time::timeout(SEND_TIMEOUT, agent.send(msg.clone())).await,
                Ok(Ok(()))
            ) {
                self.held.exchange.push_front(msg);
                self.agent_lost();
                return;
            }
            self.agent.last_sent = Instant::now();
        }
    }

    /// The agent's data channel is gone; it has a grace period to come back.
    pub(super) fn agent_lost(&mut self) {
        if self.agent.socket.take().is_some() {
            tracing::info!("agent data channel closed");
            self.deadlines.agent_back = Some(Instant::now() + AGENT_GRACE);
        }
    }

    /// Sends what was held while the agent was away (after a re-dial).
    pub(super) async fn flush_held(&mut self) {
        while let Some(msg) = self.held.pop_front() {
            let Some(agent) = self.agent.socket.as_mut() else {
                self.held.push_front(msg);
                return;
            };
            if !matches!(
                tokio::time::timeout(SEND_TIMEOUT, agent.send(msg.clone())).await,
                Ok(Ok(()))
            ) {
                self.held.push_front(msg);
                self.agent_lost();
                return;
            }
            self.agent.last_sent = Instant::now();
        }
    }

    pub(super) async fn on_agent(&mut self, msg: Message) {
        let bytes = match msg {
            Message::Binary(b) => b.to_vec(),
            Message::Text(t) => t.as_bytes().to_vec(),
            _ => return,
        };
        let frame = match AgentFrame::decode(&bytes) {
            Ok(frame) => frame,
            Err(error) => {
                tracing::warn!(%error, "ignoring a malformed agent frame");
                return;
            }
        };
        super::frames::trace(
            "agent→gateway",
            &frame.kind,
            frame.seq as u64,
            &frame.payload,
        );
        if frame.kind.code() == self.key_exchange_type {
            return self.key_exchange_to_client(frame.payload).await;
        }
        if frame.kind != AgentMessageType::Output {
            return;
        }
        self.deadlines.last_data = Instant::now();
        self.counters.bytes_out += frame.payload.len() as u64;
        // A stock agent still talking after the client's Close is not cut off: its grace
        // counts from its last word.
        if self.deadlines.close.is_some() {
            self.deadlines.close = Some(Instant::now() + STOCK_CLOSE_GRACE);
        }
        // Waiting here stops reading the agent's socket: the limit pushes back to the agent.
        self.rate.down.take(frame.payload.len()).await;
        self.output(&frame.payload).await;
        if !self.held.released {
            self.release().await;
        } else if !self.agent.first_output {
            // Released by the hold timer before the agent said anything: its PTY may not have
            // existed when the size went, so send it again now (docs/protocol.md §5.8).
            if let Some(msg) = self
                .held
                .size
                .filter(|_| !self.is_port())
                .and_then(|size| self.framer.set_size(size))
            {
                self.send_agent(msg).await;
            }
        }
        self.agent.first_output = true;
    }

    /// An agent's key-exchange frame, passed on unchanged. It does not end the input hold: the
    /// stock agent starts its shell only after the exchange, and drops input that comes first,
    /// so encrypted input waits for the agent's first output like any other.
    async fn key_exchange_to_client(&mut self, payload: Vec<u8>) {
        self.deadlines.last_data = Instant::now();
        if let Some(msg) = self.framer.key_exchange(self.key_exchange_type, payload) {
            self.send_client(msg).await;
        }
    }

    /// The agent can take input now: its rate and the terminal size first, then everything
    /// held.
    pub(super) async fn release(&mut self) {
        self.held.released = true;
        if let Some(size) = self.held.size.filter(|_| !self.is_port()) {
            if let Some(msg) = self.framer.set_size(size) {
                self.held.push_front(msg);
            }
        }
        // The session's rate, as the stock agent's status code 7 (it also had it as flowLimit).
        let payload = rate_payload(self.agent_rate_bits(), MIN_AGENT_RATE_BITS);
        if let Some(msg) = self.framer.agent_frame(AgentMessageType::Status, payload) {
            self.held.push_front(msg);
        }
        self.flush_held().await;
    }

    /// Relays what the agent still sends until it closes the data channel, or stays quiet for
    /// [`DRAIN_LIMIT`].
    pub(super) async fn drain_agent(&mut self) {
        while let Ok(Some(Ok(msg))) =
            tokio::time::timeout(DRAIN_LIMIT, recv(&mut self.agent.socket)).await
        {
            self.on_agent(msg).await;
        }
    }
}
