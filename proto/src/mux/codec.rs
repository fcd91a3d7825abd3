//! Encoding and decoding of the multiplexed channel's frames (docs/protocol.md §9.3). Every
//! length is checked against its kind before any byte past the header is read, so a huge
//! length field costs nothing; the decoder never panics and names what is wrong.

use super::{
    frame::{Frame, Hello, WireError, HELLO_LEN},
    GoAwayCode, Kind, ResetCode, DATA_HEADER_LEN, HEADER_LEN, MAGIC, MAX_DATA, MAX_REASON,
    MIN_WINDOW, VERSION,
};
use crate::agent_frame::array;

impl<'a> Frame<'a> {
    /// Appends the frame to `out` (a buffer the caller reuses). Refuses, writing nothing, what
    /// the decoder would refuse.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let kind = self.kind();
        let len = self.body_len();
        check_length(kind, len)?;
        check_stream(kind, self.stream())?;
        if self.seq() == Some(0) {
            return Err(WireError::ZeroSeq(kind));
        }
        if let Self::Hello(hello) = self {
            check_hello(hello)?;
        }
        out.reserve(HEADER_LEN + len);
        out.push(kind.code());
        out.push(0);
        out.extend_from_slice(&self.stream().to_le_bytes());
        out.extend_from_slice(&(len as u32).to_le_bytes());
        match *self {
            Self::Hello(h) => {
                out.extend_from_slice(&MAGIC);
                out.extend_from_slice(&VERSION.to_le_bytes());
                out.extend_from_slice(&[0, 0]);
                for n in [h.session, h.received] {
                    out.extend_from_slice(&n.to_le_bytes());
                }
                for n in [h.window, h.max_frame, h.max_streams] {
                    out.extend_from_slice(&n.to_le_bytes());
                }
            }
            Self::Data { seq, payload, .. } => {
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(payload);
            }
            Self::Reset { seq, code, .. } => {
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(&code.code().to_le_bytes());
            }
            Self::GoAway { code, reason } => {
                out.extend_from_slice(&code.code().to_le_bytes());
                out.extend_from_slice(reason.as_bytes());
            }
            Self::Open { seq, .. } | Self::OpenAck { seq, .. } | Self::Fin { seq, .. } => {
                out.extend_from_slice(&seq.to_le_bytes())
            }
            Self::Credit { limit: n, .. }
            | Self::Ack { received: n }
            | Self::Ping { opaque: n }
            | Self::Pong { opaque: n } => out.extend_from_slice(&n.to_le_bytes()),
        }
        Ok(())
    }

    /// Decodes the frame at the start of `bytes` and says how many bytes it took.
    pub fn decode_prefix(bytes: &'a [u8]) -> Result<(Self, usize), WireError> {
        if bytes.len() < HEADER_LEN {
            return Err(WireError::Truncated {
                need: HEADER_LEN,
                got: bytes.len(),
            });
        }
        let kind = Kind::from_code(bytes[0]).ok_or(WireError::UnknownKind(bytes[0]))?;
        if bytes[1] != 0 {
            return Err(WireError::Flags(bytes[1]));
        }
        let stream = u32::from_le_bytes(array(&bytes[2..6]));
        // A u32 always fits a usize on the platforms axtlab builds for; saturating keeps a
        // 16-bit target from wrapping rather than panicking.
        let len = usize::try_from(u32::from_le_bytes(array(&bytes[6..10]))).unwrap_or(usize::MAX);
        check_length(kind, len)?;
        let end = HEADER_LEN + len;
        let body = bytes.get(HEADER_LEN..end).ok_or(WireError::Truncated {
            need: end,
            got: bytes.len(),
        })?;
        check_stream(kind, stream)?;
        let word = |at: usize| u64::from_le_bytes(array(&body[at..at + 8]));
        let seq = || match word(0) {
            0 => Err(WireError::ZeroSeq(kind)),
            seq => Ok(seq),
        };
        let frame = match kind {
            Kind::Hello => Self::Hello(decode_hello(body)?),
            Kind::Open => Self::Open {
                stream,
                seq: seq()?,
            },
            Kind::OpenAck => Self::OpenAck {
                stream,
                seq: seq()?,
            },
            Kind::Fin => Self::Fin {
                stream,
                seq: seq()?,
            },
            Kind::Data => Self::Data {
                stream,
                seq: seq()?,
                payload: &body[8..],
            },
            Kind::Reset => Self::Reset {
                stream,
                seq: seq()?,
                code: ResetCode::from_code(u16::from_le_bytes(array(&body[8..10]))),
            },
            Kind::Credit => Self::Credit {
                stream,
                limit: word(0),
            },
            Kind::Ack => Self::Ack { received: word(0) },
            Kind::Ping => Self::Ping { opaque: word(0) },
            Kind::Pong => Self::Pong { opaque: word(0) },
            Kind::GoAway => Self::GoAway {
                code: GoAwayCode::from_code(u16::from_le_bytes(array(&body[0..2]))),
                reason: std::str::from_utf8(&body[2..]).map_err(|_| WireError::ReasonNotUtf8)?,
            },
        };
        Ok((frame, end))
    }

    /// Decodes `bytes` as exactly one frame.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, WireError> {
        let (frame, used) = Self::decode_prefix(bytes)?;
        match bytes.len() - used {
            0 => Ok(frame),
            extra => Err(WireError::Trailing(extra)),
        }
    }
}

/// The first 18 bytes of a Data frame of `len` payload bytes: a sender reads its socket into
/// the buffer right after them, and sends the whole without another copy.
pub fn data_header(stream: u32, seq: u64, len: usize) -> Result<[u8; DATA_HEADER_LEN], WireError> {
    check_length(Kind::Data, 8 + len)?;
    check_stream(Kind::Data, stream)?;
    if seq == 0 {
        return Err(WireError::ZeroSeq(Kind::Data));
    }
    let mut out = [0u8; DATA_HEADER_LEN];
    out[0] = Kind::Data.code();
    out[2..6].copy_from_slice(&stream.to_le_bytes());
    out[6..10].copy_from_slice(&((8 + len) as u32).to_le_bytes());
    out[10..18].copy_from_slice(&seq.to_le_bytes());
    Ok(out)
}

/// The frames of one WebSocket message, in order. An empty message yields one error; the
/// first error ends the iteration, since nothing after a bad length can be trusted.
pub fn frames(message: &[u8]) -> Frames<'_> {
    Frames {
        rest: message,
        started: false,
        failed: false,
    }
}

/// Iterator of [`frames`].
#[derive(Debug)]
pub struct Frames<'a> {
    rest: &'a [u8],
    started: bool,
    failed: bool,
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || (self.started && self.rest.is_empty()) {
            return None;
        }
        self.started = true;
        if self.rest.is_empty() {
            self.failed = true;
            return Some(Err(WireError::Trailing(0)));
        }
        match Frame::decode_prefix(self.rest) {
            Ok((frame, used)) => {
                self.rest = &self.rest[used..];
                Some(Ok(frame))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Refuses a body length the kind never has: checked before the body is read, so a huge
/// length field costs nothing.
fn check_length(kind: Kind, len: usize) -> Result<(), WireError> {
    let fits = match kind {
        Kind::Hello => len == HELLO_LEN,
        Kind::Data => (9..=8 + MAX_DATA as usize).contains(&len),
        Kind::Reset => len == 10,
        Kind::GoAway => (2..=2 + MAX_REASON).contains(&len),
        _ => len == 8,
    };
    if fits {
        Ok(())
    } else {
        Err(WireError::BodyLength { kind, len })
    }
}

fn check_stream(kind: Kind, stream: u32) -> Result<(), WireError> {
    if kind.is_channel() == (stream == 0) {
        Ok(())
    } else {
        Err(WireError::WrongStream { kind, stream })
    }
}

fn check_hello(h: &Hello) -> Result<(), WireError> {
    if h.window < MIN_WINDOW {
        return Err(WireError::HelloRange {
            field: "window",
            value: h.window,
        });
    }
    if !(MIN_WINDOW..=MAX_DATA).contains(&h.max_frame) {
        return Err(WireError::HelloRange {
            field: "max_frame",
            value: h.max_frame,
        });
    }
    Ok(())
}

fn decode_hello(body: &[u8]) -> Result<Hello, WireError> {
    if body[0..4] != MAGIC {
        return Err(WireError::BadMagic);
    }
    let version = u16::from_le_bytes(array(&body[4..6]));
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    let reserved = u16::from_le_bytes(array(&body[6..8]));
    if reserved != 0 {
        return Err(WireError::Reserved(reserved));
    }
    let u32_at = |at: usize| u32::from_le_bytes(array(&body[at..at + 4]));
    let hello = Hello {
        session: u64::from_le_bytes(array(&body[8..16])),
        received: u64::from_le_bytes(array(&body[16..24])),
        window: u32_at(24),
        max_frame: u32_at(28),
        max_streams: u32_at(32),
    };
    check_hello(&hello)?;
    Ok(hello)
}
