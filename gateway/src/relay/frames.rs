//! Translation between the two framings: what a client frame becomes for the agent, and how
//! agent output is framed for a client of either schema. Every client-side frame is traced and
//! shown to the connection's observer (its [`Tap`]) here.

use axt_proto::{
    agent_frame::{set_size_payload, AgentFrame, AgentMessageType},
    client_frame::{ClientFrame, ClientMessageType, SCHEMA_1_01, SCHEMA_1_02},
    status::{status_payload, ChannelState},
};
use axum::extract::ws::Message;

use crate::observe::Tap;

/// The tracing target of the frame trace: `RUST_LOG=info,axt::frames=debug` prints every
/// frame the gateway relays, both ways, with its type, sequence number and a preview.
pub const TRACE_TARGET: &str = "axt::frames";

/// Logs one frame at [`TRACE_TARGET`]; the preview is the first bytes, escaped.
pub fn trace(direction: &str, kind: &dyn std::fmt::Debug, seq: u64, payload: &[u8]) {
    if tracing::enabled!(target: TRACE_TARGET, tracing::Level::DEBUG) {
        let preview: String = payload
            .iter()
            .take(48)
            .flat_map(|b| std::ascii::escape_default(*b))
            .map(char::from)
            .collect();
        tracing::debug!(target: TRACE_TARGET, direction, ?kind, seq, len = payload.len(), preview, "frame");
    }
}

/// Largest payload of one client frame: 1.02 lengths are 16-bit.
pub const MAX_CLIENT_PAYLOAD: usize = 32 * 1024;

/// Numbers the frames a relay sends on either side.
///
/// Outputs are numbered from 1 in the 1.02 way (`outputSeq` in the high half of the sequence
/// field, the last input applied in the low half) from the very first one, whatever the
/// client: the official web client waits for output before it says anything and reads every
/// frame with the 1.02 layout, while ali-instance-cli ignores the sequence of what it receives.
/// The two layouts agree byte for byte for payloads under 64 KiB (a 1.01 length is a u32 whose
/// high half reads as 1.02's encoding and reserved bytes, both 0), so an output sent before
/// the client's schema is known reads the same to either.
pub struct Framer {
    pub channel_id: String,
    /// The client's schema: 1.01 until its first frame says otherwise.
    pub client_schema: String,
    /// Whether the client has sent a frame yet (its schema is known).
    pub schema_known: bool,
    agent_seq: i64,
    output_seq: u32,
    /// 1.02: the last input sequence number applied, acknowledged in every Output.
    pub last_input_seq: u32,
    /// The connection's observer: each client-side frame goes by it, next to the trace.
    pub tap: Tap,
}

impl Framer {
    pub fn new(channel_id: &str) -> Self {
        Self {
            channel_id: channel_id.to_owned(),
            client_schema: SCHEMA_1_01.to_owned(),
            schema_known: false,
            agent_seq: 0,
            output_seq: 0,
            last_input_seq: 0,
            tap: Tap::none(),
        }
    }

    /// A frame for the agent, numbered in the gateway's own sequence.
    pub fn agent_frame(&mut self, kind: AgentMessageType, payload: Vec<u8>) -> Option<Message> {
        trace("gateway→agent", &kind, self.agent_seq as u64, &payload);
        let frame = AgentFrame::new(kind, &self.channel_id, self.agent_seq, payload);
        self.agent_seq += 1;
        match frame.encode() {
            Ok(bytes) => Some(Message::Binary(bytes.into())),
            Err(error) => {
                tracing::error!(%error, "cannot frame for the agent");
                None
            }
        }
    }

    /// The agent's set_size for a client's `(cols, rows)`.
    pub fn set_size(&mut self, (cols, rows): (u16, u16)) -> Option<Message> {
        self.agent_frame(AgentMessageType::SetSize, set_size_payload(cols, rows))
    }

    /// A frame for the client; `fresh` unless it replays an output already sent.
    fn client_frame(
        &self,
        kind: ClientMessageType,
        seq: u64,
        payload: Vec<u8>,
        fresh: bool,
    ) -> Option<Message> {
        trace("gateway→client", &kind, seq, &payload);
        self.tap.to_client(kind, seq, &payload, fresh);
        let mut frame = ClientFrame::v101(kind, 0, payload);
        frame.schema.clone_from(&self.client_schema);
        frame.channel_id.clone_from(&self.channel_id);
        frame.seq = seq;
        match frame.encode() {
            Ok(bytes) => Some(Message::Binary(bytes.into())),
            Err(error) => {
                tracing::error!(%error, "cannot frame for the client");
                None
            }
        }
    }

    /// The empty Output sent as soon as a client connects. It takes no output sequence number:
    /// the client's schema is not known yet, and a 1.02 client must see its first real Output
    /// as number 1.
    pub fn early_output(&self) -> Option<Message> {
        self.client_frame(ClientMessageType::Output, 0, Vec::new(), true)
    }

    /// A key-exchange frame for the client. It takes no output number and is not kept for
    /// replay: the exchange belongs to the session's start, and a 1.02 client that reconnects
    /// in the middle of it has lost the exchange anyway (docs/protocol.md §6.12).
    pub fn key_exchange(&self, kind: u32, payload: Vec<u8>) -> Option<Message> {
        self.client_frame(ClientMessageType::Other(kind), 0, payload, true)
    }

    /// Output frames for the client, split to what one frame can carry, each with its output
    /// sequence number (1.02 keeps them for replay).
    pub fn output(&mut self, payload: &[u8]) -> Vec<(u32, Vec<u8>, Message)> {
        let chunks: Vec<&[u8]> = if payload.is_empty() {
            vec![&[]]
        } else {
            payload.chunks(MAX_CLIENT_PAYLOAD).collect()
        };
        chunks
            .into_iter()
            .filter_map(|chunk| {
                self.output_seq = self.output_seq.wrapping_add(1);
                let msg = self.output_frame(self.output_seq, chunk, true)?;
                Some((self.output_seq, chunk.to_vec(), msg))
            })
            .collect()
    }

    /// The Output frame numbered `output_seq` (a replay reuses its number), carrying the last
    /// input sequence number applied: a piggybacked cumulative ack.
    pub fn output_at(&self, output_seq: u32, chunk: &[u8]) -> Option<Message> {
        self.output_frame(output_seq, chunk, false)
    }

    fn output_frame(&self, output_seq: u32, chunk: &[u8], fresh: bool) -> Option<Message> {
        let seq = u64::from(self.last_input_seq) | (u64::from(output_seq) << 32);
        self.client_frame(ClientMessageType::Output, seq, chunk.to_vec(), fresh)
    }

    /// The number of the last Output sent.
    pub fn output_seq(&self) -> u32 {
        self.output_seq
    }

    /// Learns the client's schema from one of its frames; returns whether that frame just
    /// showed it to be 1.01 (no replay is kept for such a client).
    pub fn learn_schema(&mut self, schema: &str) -> bool {
        if schema.is_empty() {
            return false;
        }
        let first = !self.schema_known;
        self.schema_known = true;
        if schema != self.client_schema {
            self.client_schema = schema.to_owned();
        }
        first && !self.is_v102()
    }

    /// Whether outputs are kept for replay: for a 1.02 client, and for any client until its
    /// first frame tells which it is.
    pub fn keeps_replay(&self) -> bool {
        !self.schema_known || self.is_v102()
    }

    /// A 1.02 Sync asking the client to resend its inputs from `next_input_seq` on.
    pub fn sync(&self, next_input_seq: u32) -> Option<Message> {
        let seq = u64::from(next_input_seq) | (u64::from(self.output_seq) << 32);
        self.client_frame(ClientMessageType::Sync, seq, Vec::new(), true)
    }

    /// Whether the client speaks 1.02 (sequence pairs, Sync, reconnects).
    pub fn is_v102(&self) -> bool {
        self.client_schema.as_str() >= SCHEMA_1_02
    }

    /// A Status frame for the client.
    pub fn status(&self, state: ChannelState, reason: &str) -> Option<Message> {
        self.status_payload(status_payload(state, reason))
    }

    /// A Status frame with a payload made elsewhere (a rate).
    pub fn status_payload(&self, payload: Vec<u8>) -> Option<Message> {
        self.client_frame(ClientMessageType::Status, 0, payload, true)
    }
}
