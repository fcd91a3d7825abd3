//! axtlab's multiplexed channel (docs/protocol.md §9): many TCP streams of one port session on
//! one WebSocket, each with its own credit window, and per-leg cumulative acknowledgement and
//! replay so that a dropped WebSocket loses no byte. Spoken only between axtlab's own parts,
//! after both ends offered it; the stock agent and the official clients never see it.
//!
//! This module is the codec and the bookkeeping, as pure types with no I/O:
//!
//! * [`frame`] — [`Frame`] and its kinds, [`Frame::encode`] into a reusable buffer,
//!   [`Frame::decode_prefix`] and [`frames`] that never panic and name what is wrong;
//! * [`state`] — one end's view of one stream, [`StreamState`], whose transitions refuse what
//!   the protocol does not allow;
//! * [`window`] — credit: [`SendWindow`] (what the peer lets us send) and [`RecvWindow`] (what
//!   we let the peer send, and when to say so again);
//! * [`replay`] — [`ReplayBuffer`] (sent, not yet acknowledged, bounded) and [`Received`]
//!   (what arrived in order, duplicates and gaps told apart, when an Ack is due);
//! * [`handshake`] — what each end decides from the other's Hello: fresh, resumed, or lost.
//!
//! The design is the next step's to wire into the gateway, the agent and `axt`: no binary
//! offers it yet.

mod codec;
pub mod frame;
pub mod handshake;
mod kind;
pub mod replay;
pub mod state;
pub mod window;

pub use frame::{frames, Frame, Hello, WireError};
pub use kind::{GoAwayCode, Kind, ResetCode};
pub use replay::{Received, ReplayBuffer};
pub use state::{Event, StreamState};
pub use window::{RecvWindow, SendWindow};

/// The token an end lists in `x-axt-features` to offer the channel (docs/protocol.md §9.2).
pub const FEATURE: &str = "mux1";
/// The field the gateway adds to a spec (`"axtMux":1`) to tell an agent that offered [`FEATURE`]
/// that this channel is multiplexed: it dials nothing and waits for the gateway's Hello (§9.2).
pub const SPEC_FIELD: &str = "axtMux";
/// The protocol version a Hello carries.
pub const VERSION: u16 = 1;
/// The first four bytes of every Hello body: a Hello is never mistaken for a legacy frame.
pub const MAGIC: [u8; 4] = *b"AXMX";

/// Bytes before every frame's body: kind, flags, stream id, body length.
pub const HEADER_LEN: usize = 10;
/// Bytes before a Data frame's payload: the header and the sequence number.
pub const DATA_HEADER_LEN: usize = HEADER_LEN + 8;
/// The largest Data payload any end may ever ask for in its Hello; a frame of that size still
/// fits one WebSocket message with room to spare (`crate::MAX_WS_MESSAGE`).
pub const MAX_DATA: u32 = 512 * 1024;
/// The smallest `max_frame` and `window` a Hello may state: below this the overhead of a
/// frame per few bytes is the whole cost.
pub const MIN_WINDOW: u32 = 1024;
/// The longest GoAway reason, in bytes.
pub const MAX_REASON: usize = 256;

/// What axtlab's ends state in their Hello unless told otherwise: the receive window each new
/// stream gets (yamux's default too).
pub const DEFAULT_WINDOW: u32 = 256 * 1024;
/// Default largest Data payload an end accepts.
pub const DEFAULT_MAX_FRAME: u32 = 64 * 1024;
/// Default number of streams an acceptor lets its peer hold open: the agent's
/// `--max-sessions` default, since each stream is one target connection there.
pub const DEFAULT_MAX_STREAMS: u32 = 128;
/// Default bound on the bytes of sent, unacknowledged frames an end keeps for replay: the
/// same 4 MiB as schema 1.02's replay buffer (§6.9).
pub const DEFAULT_REPLAY_LIMIT: usize = 4 * 1024 * 1024;
/// A receiver acknowledges at least every this many bytes of sequenced frames…
pub const ACK_EVERY_BYTES: usize = 64 * 1024;
/// …and at most this long after the first frame it has not acknowledged yet.
pub const ACK_DELAY: std::time::Duration = std::time::Duration::from_millis(10);
