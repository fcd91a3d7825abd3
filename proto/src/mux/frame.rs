//! The frames of the multiplexed channel (docs/protocol.md §9.3): a 10-byte header — kind u8,
//! flags u8, stream id u32 LE, body length u32 LE — then a body whose layout the kind fixes.
//! One WebSocket message carries one or more whole frames.
//!
//! Decoding (in `codec.rs`) borrows Data payloads and GoAway reasons from the message, so a
//! relay reads a frame without allocating; encoding appends to a buffer the caller reuses.

use super::{HEADER_LEN, VERSION};

pub use super::codec::{data_header, frames, Frames};
pub use super::kind::{GoAwayCode, Kind, ResetCode};

/// Why bytes are not a frame, or a frame cannot be written. The decoder returns this; it never
/// panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than the header, or than the body length says.
    #[error("frame truncated: need {need} bytes, got {got}")]
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        got: usize,
    },
    /// A kind this version does not define.
    #[error("unknown frame kind {0:#04x}")]
    UnknownKind(u8),
    /// Flags set: version 1 defines none.
    #[error("flags {0:#04x} set; version 1 defines none")]
    Flags(u8),
    /// A body length no frame of this kind has.
    #[error("{kind:?} frame with a body of {len} bytes")]
    BodyLength {
        /// The frame's kind.
        kind: Kind,
        /// The body length it stated (or would have).
        len: usize,
    },
    /// A channel frame on a stream, or a stream frame on stream 0.
    #[error("{kind:?} frame on stream {stream}")]
    WrongStream {
        /// The frame's kind.
        kind: Kind,
        /// The stream id it named.
        stream: u32,
    },
    /// Sequence numbers start at 1; 0 means "nothing" and is never a frame's.
    #[error("{0:?} frame with sequence number 0")]
    ZeroSeq(Kind),
    /// A Hello body that does not start with `AXMX`.
    #[error("Hello without the AXMX magic")]
    BadMagic,
    /// A Hello of another version.
    #[error("Hello of version {0}; this end speaks {VERSION}")]
    Version(u16),
    /// A Hello whose reserved field is not zero.
    #[error("Hello reserved field {0:#06x} is not zero")]
    Reserved(u16),
    /// A Hello parameter outside its range.
    #[error("Hello {field} of {value} is out of range")]
    HelloRange {
        /// `window` or `max_frame`.
        field: &'static str,
        /// The value stated.
        value: u32,
    },
    /// A GoAway reason that is not UTF-8.
    #[error("GoAway reason is not UTF-8")]
    ReasonNotUtf8,
    /// An empty WebSocket message, or bytes left after the one frame asked for.
    #[error("{0} bytes where a frame was expected to end the message")]
    Trailing(usize),
}

/// A Hello: the first frame each end sends on a leg, opening or resuming a session (§9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// The session this Hello opens or resumes; 0 from a dialer that holds none.
    pub session: u64,
    /// The last sequence number this end received from the other in that session (0: none):
    /// a cumulative acknowledgement, and where the other's replay starts.
    pub received: u64,
    /// The receive window this end grants each new stream, in bytes.
    pub window: u32,
    /// The largest Data payload this end accepts.
    pub max_frame: u32,
    /// How many streams this end lets the other hold open at once; 0 on the end that opens.
    pub max_streams: u32,
}

/// One frame. Data payloads and GoAway reasons borrow from the decoded message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Opens or resumes the session on this leg; stream 0.
    Hello(Hello),
    /// Opens `stream`: at the agent, one TCP connection to the spec's target.
    Open {
        /// The new stream's id, above every id the opener used before.
        stream: u32,
        /// This leg's sequence number.
        seq: u64,
    },
    /// The stream is open at the far end (the agent's target accepted).
    OpenAck {
        /// The stream.
        stream: u32,
        /// This leg's sequence number.
        seq: u64,
    },
    /// Stream bytes; at least one.
    Data {
        /// The stream.
        stream: u32,
        /// This leg's sequence number.
        seq: u64,
        /// The bytes.
        payload: &'a [u8],
    },
    /// The sender will send no more Data on the stream (a TCP half-close).
    Fin {
        /// The stream.
        stream: u32,
        /// This leg's sequence number.
        seq: u64,
    },
    /// The stream is abandoned both ways.
    Reset {
        /// The stream.
        stream: u32,
        /// This leg's sequence number.
        seq: u64,
        /// Why.
        code: ResetCode,
    },
    /// The sender of this frame may be sent Data on `stream` up to byte offset `limit`.
    Credit {
        /// The stream.
        stream: u32,
        /// Absolute: total payload bytes the peer may have sent on the stream.
        limit: u64,
    },
    /// Every sequenced frame up to and including `received` arrived; stream 0.
    Ack {
        /// The cumulative acknowledgement.
        received: u64,
    },
    /// Asks for a Pong with the same value; stream 0.
    Ping {
        /// Echoed by the Pong.
        opaque: u64,
    },
    /// Answers a Ping; stream 0.
    Pong {
        /// The Ping's value.
        opaque: u64,
    },
    /// The session ends: every stream with it; stream 0.
    GoAway {
        /// Why, for programs.
        code: GoAwayCode,
        /// Why, for people: UTF-8, at most 256 bytes.
        reason: &'a str,
    },
}

impl<'a> Frame<'a> {
    /// The frame's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Hello(_) => Kind::Hello,
            Self::Open { .. } => Kind::Open,
            Self::OpenAck { .. } => Kind::OpenAck,
            Self::Data { .. } => Kind::Data,
            Self::Fin { .. } => Kind::Fin,
            Self::Reset { .. } => Kind::Reset,
            Self::Credit { .. } => Kind::Credit,
            Self::Ack { .. } => Kind::Ack,
            Self::Ping { .. } => Kind::Ping,
            Self::Pong { .. } => Kind::Pong,
            Self::GoAway { .. } => Kind::GoAway,
        }
    }

    /// The stream the frame is about; 0 for the channel's own frames.
    pub fn stream(&self) -> u32 {
        match *self {
            Self::Open { stream, .. }
            | Self::OpenAck { stream, .. }
            | Self::Data { stream, .. }
            | Self::Fin { stream, .. }
            | Self::Reset { stream, .. }
            | Self::Credit { stream, .. } => stream,
            _ => 0,
        }
    }

    /// The leg's sequence number of a sequenced frame (Open, OpenAck, Data, Fin, Reset).
    pub fn seq(&self) -> Option<u64> {
        match *self {
            Self::Open { seq, .. }
            | Self::OpenAck { seq, .. }
            | Self::Data { seq, .. }
            | Self::Fin { seq, .. }
            | Self::Reset { seq, .. } => Some(seq),
            _ => None,
        }
    }

    /// Bytes [`Frame::encode`] appends.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.body_len()
    }

    pub(super) fn body_len(&self) -> usize {
        match self {
            Self::Hello(_) => HELLO_LEN,
            Self::Data { payload, .. } => 8 + payload.len(),
            Self::Reset { .. } => 10,
            Self::GoAway { reason, .. } => 2 + reason.len(),
            _ => 8,
        }
    }
}

/// Length of a Hello body.
pub const HELLO_LEN: usize = 36;

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
