//! The agent's side of a relay: holding client input until the agent can take it, sending it
//! then, and turning agent output into client Output.

use axt_proto::{
    agent_frame::{AgentFrame, AgentMessageType},
    status::{rate_payload, MIN_AGENT_RATE_BITS},
};
use axum::extract::ws::Message;
use tokio::time::Instant;

use super::session::{recv_agent, Relay};

/// Client input held before the agent is ready, in bytes. Past it the relay stops reading the
/// client (back-pressure through the WebSocket) instead of dropping anything.
pub const MAX_HELD_BYTES: usize = 1 << 20;
/// After the agent's result, how long the rest of its output may take to arrive: the report
/// and the data channel are separate connections, so the report can overtake the last frames.
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Relay {
    /// Sends to the agent now, or holds the frame until the agent is ready for it.
    pub(super) async fn send_agent(&mut self, msg: Message) {
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
        if frame.kind != AgentMessageType::Output {
            return;
        }
        self.last_data = Instant::now();
        self.bytes_out += frame.payload.len() as u64;
        // Waiting here stops reading the agent's socket: the limit pushes back to the agent.
        self.rate.down.take(frame.payload.len()).await;
        self.output(&frame.payload).await;
        if !self.released {
            self.release().await;
        }
    }

    /// The agent can take input now: its rate and the terminal size first, then everything
    /// held.
    pub(super) async fn release(&mut self) {
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

    /// Relays what the agent still sends until it closes the data channel, for at most
    /// [`DRAIN_LIMIT`].
    pub(super) async fn drain_agent(&mut self) {
        let deadline = Instant::now() + DRAIN_LIMIT;
        while let Ok(Some(Ok(msg))) =
            tokio::time::timeout_at(deadline, recv_agent(&mut self.agent)).await
        {
            self.on_agent(msg).await;
        }
    }
}

fn message_len(msg: &Message) -> usize {
    match msg {
        Message::Binary(b) => b.len(),
        Message::Text(t) => t.len(),
        _ => 0,
    }
}
