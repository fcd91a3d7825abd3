//! A session's events: what each step and frame says, and its JSON. The bus that carries them
//! is in `bus.rs`.

use serde_json::{json, Map, Value};

use super::encode::{base64, rfc3339_ms};

/// The steps of a session, in the words of the console's contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A client's WebSocket token was checked.
    TokenCheck,
    /// The control plane allocated (or handed over) a channel.
    ChannelOpen,
    /// The kick went to the agent's kick channel.
    Kick,
    /// The agent fetched the channel's spec.
    SpecPull,
    /// The agent's data channel opened.
    DataChannel,
    /// A frame between the client and the gateway, either way.
    Frame,
    /// A Status frame for the client.
    Status,
    /// The connection ended.
    Closed,
}

impl Kind {
    /// The contract's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenCheck => "token-check",
            Self::ChannelOpen => "channel-open",
            Self::Kick => "kick",
            Self::SpecPull => "spec-pull",
            Self::DataChannel => "data-channel",
            Self::Frame => "frame",
            Self::Status => "status",
            Self::Closed => "closed",
        }
    }
}

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    ClientToAgent,
    AgentToClient,
}

impl Dir {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientToAgent => "client-to-agent",
            Self::AgentToClient => "agent-to-client",
        }
    }
}

/// A frame as the flow view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub dir: Dir,
    /// The framing's message type name (`Input`, `Output`, `Sync`, …).
    pub kind: String,
    pub seq: u64,
    /// The acknowledgement the frame carries, where its framing has one (1.02).
    pub ack: Option<u64>,
    pub payload: Vec<u8>,
}

/// One step of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unix milliseconds.
    pub at_ms: u64,
    pub kind: Kind,
    pub channel_id: Option<String>,
    pub detail: Option<String>,
    pub frame: Option<Frame>,
    /// Payload bytes of the frame not kept (a backlog over its budget drops payloads first);
    /// its size still counts them.
    withheld: usize,
}

impl Event {
    /// An event of `kind`, now.
    pub fn new(kind: Kind, channel_id: Option<&str>) -> Self {
        Self {
            at_ms: axt_proto::now_ms(),
            kind,
            channel_id: channel_id.map(str::to_owned),
            detail: None,
            frame: None,
            withheld: 0,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_frame(mut self, frame: Frame) -> Self {
        self.frame = Some(frame);
        self
    }

    /// Payload bytes held.
    pub(super) fn bytes(&self) -> usize {
        self.frame.as_ref().map_or(0, |f| f.payload.len())
    }

    /// What keeping the event costs, roughly: the event, its strings and its payload.
    pub(super) fn cost(&self) -> usize {
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        std::mem::size_of::<Self>()
            + text(&self.channel_id)
            + text(&self.detail)
            + self.frame.as_ref().map_or(0, |f| f.kind.len())
            + self.bytes()
    }

    /// The same event without its payload (its size kept).
    pub(super) fn without_payload(&self) -> Self {
        let mut event = self.clone();
        if let Some(frame) = &mut event.frame {
            event.withheld += std::mem::take(&mut frame.payload).len();
        }
        event
    }

    /// The event as one JSON text message; the payload only when `payloads`.
    pub fn to_json(&self, payloads: bool) -> String {
        let mut out = Map::new();
        out.insert("at".into(), rfc3339_ms(self.at_ms).into());
        out.insert("kind".into(), self.kind.as_str().into());
        if let Some(channel_id) = &self.channel_id {
            out.insert("channelId".into(), channel_id.as_str().into());
        }
        if let Some(frame) = &self.frame {
            out.insert("dir".into(), frame.dir.as_str().into());
            out.insert("type".into(), frame.kind.as_str().into());
            out.insert("seq".into(), frame.seq.into());
            if let Some(ack) = frame.ack {
                out.insert("ack".into(), ack.into());
            }
            out.insert("size".into(), (frame.payload.len() + self.withheld).into());
            if payloads && self.withheld == 0 {
                out.insert("payload".into(), base64(&frame.payload).into());
            }
        }
        if let Some(detail) = &self.detail {
            out.insert("detail".into(), detail.as_str().into());
        }
        Value::Object(out).to_string()
    }
}

/// The message telling a subscriber it fell behind by `count` events.
pub fn lost_json(count: u64) -> String {
    json!({"at": rfc3339_ms(axt_proto::now_ms()), "kind": "lost", "count": count}).to_string()
}
