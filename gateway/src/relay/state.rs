//! A relay's state, grouped by what it is about: the two links, the input held for the agent,
//! the output kept for a 1.02 client's replay, the deadlines and the counters. The loop that
//! changes it is in `driver.rs`; what each frame does, in `client_side.rs` and `agent_side.rs`.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use axt_proto::internal::ChannelGrant;
use axum::extract::ws::Message;
use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};

use crate::observe::Tap;

use super::{
    frames::Framer,
    host::{Host, Timers},
    rate::SessionRate,
    socket::Socket,
    RelayEvent,
};

/// The longest a 1.02 client may stay away before its connection ends (and never past the
/// URL's validity).
pub(super) const MAX_DETACH: Duration = Duration::from_secs(600);

/// One client connection's relay.
pub struct Relay<H: Host> {
    pub(super) host: Arc<H>,
    /// The channel, its session and the spec the agent runs.
    pub(super) grant: ChannelGrant,
    pub(super) timers: Timers,
    pub(super) events: mpsc::Receiver<RelayEvent>,
    /// Turns true when the gateway shuts down.
    pub(super) closing: watch::Receiver<bool>,
    pub(super) framer: Framer,
    pub(super) client: ClientLink,
    pub(super) agent: AgentLink,
    pub(super) held: Held,
    pub(super) replay: Replay,
    /// The client's recent Syncs, to tell a storm from a recovery.
    pub(super) syncs: Syncs,
    pub(super) deadlines: Deadlines,
    pub(super) counters: Counters,
    /// The session's bandwidth, shared with its other connections through this gateway.
    pub(super) rate: Arc<SessionRate>,
    /// The message type of key-exchange frames, the same in both framings.
    pub(super) key_exchange_type: u32,
}

/// The client's WebSocket and what it said of itself.
pub(super) struct ClientLink {
    /// `None` while a 1.02 client is away, waiting to reconnect.
    pub(super) socket: Option<Socket>,
    /// The client sent Close on a port session: it sends nothing more.
    pub(super) done: bool,
    /// Its Close has been passed on to the agent (or its grace started).
    pub(super) close_passed: bool,
    /// A send to it timed out: it is treated like a dropped connection.
    pub(super) stalled: bool,
}

/// The agent's data channel.
pub(super) struct AgentLink {
    pub(super) socket: Option<Socket>,
    /// The agent half-closes a port session's target on CloseChannel (axt-agent does; the
    /// stock agent ignores that frame).
    pub(super) half_close: bool,
    /// The data channel opened at least once.
    pub(super) ever_connected: bool,
    /// The agent's first output arrived (the size is sent again then).
    pub(super) first_output: bool,
    /// The last time anything was sent to the agent: agents end a session after 180 s without
    /// an inbound frame, so the gateway keeps the channel alive while the connection is in use.
    pub(super) last_sent: Instant,
}

/// Client frames for the agent, held until it can take them.
#[derive(Default)]
pub(super) struct Held {
    pub(super) frames: VecDeque<Message>,
    pub(super) bytes: usize,
    /// Set once the agent can take input: its first output, or the hold time after it connected.
    pub(super) released: bool,
    /// The client's last terminal size, `(cols, rows)`.
    pub(super) size: Option<(u16, u16)>,
    /// Key-exchange frames waiting only for the data channel: they are not input, and an
    /// agent that starts its shell after the exchange cannot answer the hold with output.
    pub(super) exchange: VecDeque<Message>,
}

impl Held {
    pub(super) fn push_back(&mut self, msg: Message) {
        self.bytes += message_len(&msg);
        self.frames.push_back(msg);
    }

    pub(super) fn push_front(&mut self, msg: Message) {
        self.bytes += message_len(&msg);
        self.frames.push_front(msg);
    }

    pub(super) fn pop_front(&mut self) -> Option<Message> {
        let msg = self.frames.pop_front()?;
        self.bytes = self.bytes.saturating_sub(message_len(&msg));
        Some(msg)
    }
}

/// 1.02: output not yet acknowledged, `(output seq, payload)`, for replay after a Sync or a
/// reconnect.
#[derive(Default)]
pub(super) struct Replay {
    pub(super) frames: VecDeque<(u32, Vec<u8>)>,
    pub(super) bytes: usize,
}

impl Replay {
    pub(super) fn keep(&mut self, seq: u32, chunk: Vec<u8>) {
        self.bytes += chunk.len();
        self.frames.push_back((seq, chunk));
    }

    /// Lets go of the oldest frames until at most `limit` bytes are kept.
    pub(super) fn trim_to(&mut self, limit: usize) {
        while self.bytes > limit {
            let Some((_, old)) = self.frames.pop_front() else {
                break;
            };
            self.bytes -= old.len();
        }
    }

    /// The client has every output up to `output_seq`.
    pub(super) fn acknowledge(&mut self, output_seq: u32) {
        while self
            .frames
            .front()
            .is_some_and(|(seq, _)| *seq <= output_seq)
        {
            if let Some((_, chunk)) = self.frames.pop_front() {
                self.bytes -= chunk.len();
            }
        }
    }
}

/// The last Sync (what the client had, what had been sent) and how many in a row changed
/// nothing.
#[derive(Default)]
pub(super) struct Syncs {
    pub(super) last: Option<(u32, u32)>,
    pub(super) fruitless: u32,
}

/// When something must happen unless something else happens first.
pub(super) struct Deadlines {
    /// The agent must open its data channel by then (until it has, once).
    pub(super) delivery: Instant,
    /// The input hold ends.
    pub(super) release: Option<Instant>,
    /// The agent's lost data channel must be back (or its result in) by then.
    pub(super) agent_back: Option<Instant>,
    /// A stock agent's last output after the client's Close on a port session.
    pub(super) close: Option<Instant>,
    /// A 1.02 client that went away must be back by then.
    pub(super) detach: Option<Instant>,
    /// The last time data went either way, for the idle timeout.
    pub(super) last_data: Instant,
}

/// Bytes relayed, for the record.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Counters {
    /// Client → instance.
    pub(super) bytes_in: u64,
    /// Instance → client.
    pub(super) bytes_out: u64,
}

impl<H: Host> Relay<H> {
    /// A relay for `grant`, its client connected on `client`.
    pub fn new(
        host: Arc<H>,
        grant: ChannelGrant,
        client: Socket,
        events: mpsc::Receiver<RelayEvent>,
        timers: Timers,
        closing: watch::Receiver<bool>,
        rate: Arc<SessionRate>,
    ) -> Self {
        let now = Instant::now();
        Self {
            framer: Framer::new(&grant.channel_id),
            host,
            grant,
            timers,
            events,
            closing,
            client: ClientLink {
                socket: Some(client),
                done: false,
                close_passed: false,
                stalled: false,
            },
            agent: AgentLink {
                socket: None,
                half_close: false,
                ever_connected: false,
                first_output: false,
                last_sent: now,
            },
            held: Held::default(),
            replay: Replay::default(),
            syncs: Syncs::default(),
            deadlines: Deadlines {
                delivery: now + timers.delivery,
                release: None,
                agent_back: None,
                close: None,
                detach: None,
                last_data: now,
            },
            counters: Counters::default(),
            rate,
            key_exchange_type: super::DEFAULT_KEY_EXCHANGE_TYPE,
        }
    }

    /// Relays key-exchange frames of type `kind` (`--key-exchange-message-type`).
    pub fn with_key_exchange_type(mut self, kind: u32) -> Self {
        self.key_exchange_type = kind;
        self.framer.tap.set_key_exchange_type(kind);
        self
    }

    /// Shows the connection's steps and frames to `tap` (its session's events, its recording).
    pub fn with_tap(mut self, mut tap: Tap) -> Self {
        tap.set_key_exchange_type(self.key_exchange_type);
        self.framer.tap = tap;
        self
    }

    /// Whether the session's data is encrypted end to end (its frames are not ours to make).
    pub(super) fn is_encrypted(&self) -> bool {
        self.grant.session.encryption.is_some()
    }

    pub(super) fn is_port(&self) -> bool {
        self.grant.session.is_port()
    }

    /// The session's rate in bit/s, if it has one.
    pub(super) fn rate_bits(&self) -> Option<u32> {
        let bytes = self.grant.session.rate_limit?.get();
        Some(u32::try_from(bytes.saturating_mul(8)).unwrap_or(u32::MAX))
    }

    /// The rate to tell the agent: the session's, or with the limit lifted the highest one the
    /// frame can carry — the stock agent takes flowLimit 0 as its own default of ≈25 KB/s.
    pub(super) fn agent_rate_bits(&self) -> u32 {
        self.rate_bits().unwrap_or(u32::MAX)
    }

    /// When a 1.02 client that went away now must be back: [`MAX_DETACH`], never past the
    /// URL's validity.
    pub(super) fn detach_deadline(&self) -> Instant {
        let url_left = self.grant.session.url_expires_at - axt_proto::now_ms() as i64 / 1000;
        let url_left = Duration::from_secs(url_left.max(0) as u64);
        Instant::now() + url_left.min(MAX_DETACH)
    }

    /// Bytes relayed so far.
    pub fn counters(&self) -> (u64, u64) {
        (self.counters.bytes_in, self.counters.bytes_out)
    }
}

/// The size of a message's payload.
pub(super) fn message_len(msg: &Message) -> usize {
    match msg {
        Message::Binary(b) => b.len(),
        Message::Text(t) => t.len(),
        _ => 0,
    }
}
