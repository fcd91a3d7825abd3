//! A session's events and the bus that carries them: a bounded backlog for whoever subscribes
//! late, and a broadcast of live events in which a slow subscriber falls behind on its own —
//! it is told how many it lost — while the relay publishing never waits for anyone.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use serde_json::{json, Map, Value};
use tokio::sync::broadcast;

use super::encode::{base64, rfc3339_ms};

/// Events kept for a late subscriber, at most.
pub const BACKLOG_EVENTS: usize = 1000;
/// Payload bytes kept in the backlog, at most: frames carry up to 32 KiB each, and a session's
/// bus outlives its connections for a while.
pub const BACKLOG_BYTES: usize = 1 << 20;
/// Live events a subscriber may be behind before it starts losing them.
pub const LIVE_QUEUE: usize = 256;

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
    fn bytes(&self) -> usize {
        self.frame.as_ref().map_or(0, |f| f.payload.len())
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
            out.insert("size".into(), frame.payload.len().into());
            if payloads {
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

/// One session's events.
pub struct Bus {
    backlog: Mutex<Backlog>,
    live: broadcast::Sender<Arc<Event>>,
}

#[derive(Default)]
struct Backlog {
    events: VecDeque<Arc<Event>>,
    bytes: usize,
}

impl Default for Bus {
    fn default() -> Self {
        Self {
            backlog: Mutex::default(),
            live: broadcast::Sender::new(LIVE_QUEUE),
        }
    }
}

impl Bus {
    /// Keeps the event and hands it to every subscriber; never waits.
    pub fn publish(&self, event: Event) {
        let event = Arc::new(event);
        // Under the backlog's lock, so that a subscriber joining now gets each event exactly
        // once: in its copy of the backlog or live.
        let mut backlog = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
        backlog.bytes += event.bytes();
        backlog.events.push_back(event.clone());
        while backlog.events.len() > BACKLOG_EVENTS || backlog.bytes > BACKLOG_BYTES {
            let Some(old) = backlog.events.pop_front() else {
                break;
            };
            backlog.bytes -= old.bytes();
        }
        // No subscriber is not an error.
        let _ = self.live.send(event);
    }

    /// The events so far, then the live ones.
    pub fn subscribe(&self) -> Subscription {
        let backlog = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
        Subscription {
            backlog: backlog.events.clone(),
            live: self.live.subscribe(),
        }
    }

    /// How many subscribe now.
    pub fn subscribers(&self) -> usize {
        self.live.receiver_count()
    }
}

/// What a subscriber reads next.
#[derive(Debug)]
pub enum Item {
    Event(Arc<Event>),
    /// This many events went past while the subscriber was behind.
    Lost(u64),
}

/// One subscriber's view of a bus.
pub struct Subscription {
    backlog: VecDeque<Arc<Event>>,
    live: broadcast::Receiver<Arc<Event>>,
}

impl Subscription {
    /// The next event, or `None` once the session's bus is gone.
    pub async fn next(&mut self) -> Option<Item> {
        if let Some(event) = self.backlog.pop_front() {
            return Some(Item::Event(event));
        }
        match self.live.recv().await {
            Ok(event) => Some(Item::Event(event)),
            Err(broadcast::error::RecvError::Lagged(count)) => Some(Item::Lost(count)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}
