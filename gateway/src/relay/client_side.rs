//! The client's side of a relay: what each client frame becomes, and — for schema 1.02 — the
//! reliability the web client expects: input sequence numbers applied once, output kept until
//! acknowledged and replayed on Sync or after a reconnect.

use axt_proto::{
    agent_frame::AgentMessageType,
    client_frame::{parse_resize, ClientFrame, ClientMessageType},
};
use axum::extract::ws::Message;
use tokio::time::Instant;

use super::{driver::SEND_TIMEOUT, end::End, host::Host, state::Relay};

/// Syncs in a row asking for the same output with nothing new sent between, before the client
/// is closed: a client that lost its place cannot be served by replaying forever.
const MAX_FRUITLESS_SYNCS: u32 = 16;

/// Output kept for a 1.02 client's replay, in bytes. While the client is connected the oldest
/// is let go past it (it was delivered); while it is away the agent stops being read instead.
pub const MAX_REPLAY_BYTES: usize = 4 << 20;

impl<H: Host> Relay<H> {
    /// One client message. Returns how the relay ends, if it does.
    pub(super) async fn on_client(&mut self, msg: Message) -> Option<End> {
        let bytes = match msg {
            Message::Binary(b) => b.to_vec(),
            Message::Text(t) => t.as_bytes().to_vec(),
            Message::Close(_) => return Some(End::ClientClosed),
            _ => return None,
        };
        let frame = match ClientFrame::decode(&bytes) {
            Ok(frame) => frame,
            Err(error) => {
                tracing::warn!(%error, "ignoring a malformed client frame");
                return None;
            }
        };
        super::frames::trace("client→gateway", &frame.kind, frame.seq, &frame.payload);
        // Clients send an empty id (1.01) or the one the gateway gave them (1.02); a frame
        // naming another channel is not this connection's to apply.
        if !frame.channel_id.is_empty() && frame.channel_id != self.grant.channel_id {
            tracing::warn!(named = %frame.channel_id, "ignoring a frame for another channel");
            return None;
        }
        if self.framer.learn_schema(&frame.schema) {
            // A 1.01 client never replays: what was kept while its schema was unknown goes.
            self.replay = Default::default();
        }
        let fresh = if matches!(
            frame.kind,
            ClientMessageType::Input | ClientMessageType::Resize
        ) {
            // An empty Input is the web client's keep-alive: data for the idle timeout only.
            self.deadlines.last_data = Instant::now();
            !frame.is_v102() || self.first_application(&frame)
        } else {
            true
        };
        self.framer.tap.from_client(&frame, fresh);
        if !fresh {
            return None;
        }
        if frame.is_v102() {
            self.replay.acknowledge(frame.output_seq());
        }
        match frame.kind {
            // Key exchange of an encrypted session: activity, but neither counted nor paced — a
            // few hundred bytes that belong to the session's start, not to its data — and not
            // held with input: the stock agent starts its shell (and so answers the hold with
            // output) only once the exchange is done. Only the data channel is waited for.
            kind if kind.code() == self.key_exchange_type => {
                self.deadlines.last_data = Instant::now();
                let kind = AgentMessageType::Other(kind.code());
                let msg = self.framer.agent_frame(kind, frame.payload)?;
                self.send_exchange(msg).await;
            }
            ClientMessageType::Input if !frame.payload.is_empty() => {
                self.counters.bytes_in += frame.payload.len() as u64;
                // Waiting here stops reading the client: the limit pushes back through its socket.
                self.rate.up.take(frame.payload.len()).await;
                let msg = self
                    .framer
                    .agent_frame(AgentMessageType::Input, frame.payload)?;
                self.send_agent(msg).await;
            }
            ClientMessageType::Resize if !self.is_port() => {
                let size = parse_resize(&frame.payload)?;
                self.held.size = Some(size);
                if self.held.released {
                    let msg = self.framer.set_size(size)?;
                    self.send_agent(msg).await;
                }
            }
            // ali-instance-cli sends Close when the local side of a forward ends, and then waits
            // for the gateway to close the WebSocket. Output still on its way is relayed first:
            // an agent that can half-close gets CloseChannel and ends the session when the
            // target has said all it has to say; a stock agent gets a short grace.
            ClientMessageType::Close if self.is_port() => self.client.done = true,
            // The agent of an encrypted session can read only what the client encrypted: a
            // Ctrl-D made here would break its decryption (an encrypting client sends its own).
            ClientMessageType::Close if self.is_encrypted() => {
                tracing::debug!("a Close on an encrypted shell is the client's to pass on");
            }
            // For a shell, Close is the end of the client's input: on a terminal, Ctrl-D.
            ClientMessageType::Close => {
                let msg = self
                    .framer
                    .agent_frame(AgentMessageType::Input, vec![0x04])?;
                self.send_agent(msg).await;
            }
            ClientMessageType::Sync => return self.on_sync(&frame).await,
            _ => {}
        }
        None
    }

    /// 1.02: whether this Input or Resize is new. A client resends what it has not seen
    /// acknowledged after a reconnect; what was applied already is not applied twice.
    fn first_application(&mut self, frame: &ClientFrame) -> bool {
        let seq = frame.input_seq();
        if seq != 0 && seq <= self.framer.last_input_seq {
            tracing::debug!(seq, "dropping an input already applied");
            return false;
        }
        // An unnumbered frame (0) is applied but moves nothing: the last input applied stays,
        // so that a numbered one resent after it is still recognised.
        if seq != 0 {
            self.framer.last_input_seq = seq;
        }
        true
    }

    /// 1.02 Sync: the client saw a gap (or just reconnected). Replay every output after what it
    /// has; ask it to resend inputs only when it says it sent some this gateway never applied
    /// (the official web client resends on every server Sync, so an idle one would loop).
    /// A client asking for output that is no longer kept, or asking again and again with
    /// nothing new sent between, is closed with a reason: a Sync storm cannot be served forever.
    async fn on_sync(&mut self, frame: &ClientFrame) -> Option<End> {
        let client_has = frame.output_seq();
        let fruitless = self.syncs.last == Some((client_has, self.framer.output_seq()));
        self.syncs.fruitless = if fruitless {
            self.syncs.fruitless + 1
        } else {
            0
        };
        self.syncs.last = Some((client_has, self.framer.output_seq()));
        if self.syncs.fruitless > MAX_FRUITLESS_SYNCS {
            return Some(End::SyncStorm);
        }
        self.replay.acknowledge(client_has);
        let oldest_kept = self
            .replay
            .frames
            .front()
            .map_or(self.framer.output_seq().wrapping_add(1), |(seq, _)| *seq);
        if client_has < self.framer.output_seq() && oldest_kept > client_has.wrapping_add(1) {
            tracing::warn!(
                client_has,
                oldest_kept,
                "the client asks for output no longer kept"
            );
            return Some(End::OutputLost);
        }
        let replay: Vec<Message> = self
            .replay
            .frames
            .iter()
            .filter_map(|(seq, chunk)| self.framer.output_at(*seq, chunk))
            .collect();
        tracing::info!(
            frames = replay.len(),
            from = client_has + 1,
            "replaying output after a Sync"
        );
        for msg in replay {
            self.send_client(msg).await;
        }
        if frame.input_seq() > self.framer.last_input_seq {
            if let Some(msg) = self.framer.sync(self.framer.last_input_seq.wrapping_add(1)) {
                self.send_client(msg).await;
            }
        }
        None
    }

    /// Sends agent output (or the early empty Output) to the client, keeping it for replay when
    /// the client speaks 1.02.
    pub(super) async fn output(&mut self, payload: &[u8]) {
        for (seq, chunk, msg) in self.framer.output(payload) {
            if self.framer.keeps_replay() {
                self.replay.keep(seq, chunk);
                if self.client.socket.is_some() {
                    self.replay.trim_to(MAX_REPLAY_BYTES);
                }
            }
            self.send_client(msg).await;
        }
    }

    /// Sends to the client if it is there. A failed send is noticed by the next read; a client
    /// that stops reading for [`SEND_TIMEOUT`] is let go (a 1.02 client may come back).
    pub(super) async fn send_client(&mut self, msg: Message) {
        if let Some(client) = self.client.socket.as_mut() {
            if tokio::time::timeout(SEND_TIMEOUT, client.send(msg))
                .await
                .is_err()
            {
                tracing::warn!("the client stopped reading; letting it go");
                self.client.socket = None;
                self.client.stalled = true;
            }
        }
    }
}
