//! Wire types and codecs shared by every axtlab binary.
//!
//! Nothing in this crate does I/O: it turns bytes into types and back, so the control plane,
//! the gateway, the agent and the CLI all agree on the wire by construction, and every decoder
//! can be table-tested and fuzzed on its own.

#![warn(missing_docs)]

pub mod agent_frame;
pub mod client_frame;
pub mod e2e;
pub mod identity;
#[allow(missing_docs)] // the fields are the contract's own names, documented where not plain
pub mod internal;
pub mod kick;
#[allow(missing_docs)] // field names are the wire's own
pub mod luban;
pub mod mux;
pub mod openapi;
pub mod spec;
#[allow(missing_docs)] // variant names are the wire's own vocabulary
pub mod status;

/// Why a frame could not be encoded or decoded. Decoders return this; they never panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than the header (and ids) need.
    #[error("frame truncated: need {need} bytes, got {got}")]
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        got: usize,
    },
    /// An id longer than its field can hold.
    #[error("id of {0} bytes is too long")]
    ChannelIdTooLong(usize),
    /// A zero creation time, which the stock peers reject.
    #[error("created timestamp is zero")]
    ZeroTimestamp,
    /// A payload longer than the length field can say.
    #[error("payload of {0} bytes is too large")]
    PayloadTooLarge(usize),
}

/// Milliseconds since the Unix epoch, for the `created` field of frames.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_millis() as u64)
        .max(1)
}

/// The largest WebSocket message any axtlab peer accepts, on every WebSocket (client, data
/// channel, both directions): frames carry at most 60 KiB of payload, so anything near this is
/// an attack or a fault, and the connection is closed rather than the message buffered.
pub const MAX_WS_MESSAGE: usize = 1 << 20;
