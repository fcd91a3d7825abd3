//! Cumulative acknowledgement and replay on one leg (docs/protocol.md §9.6). Each end numbers
//! the sequenced frames it sends on a leg 1, 2, 3, …; it keeps each one, encoded, in a
//! [`ReplayBuffer`] until the peer acknowledges it, and after a reconnect resends exactly those
//! the peer's Hello says it lacks. The receiving end tracks what arrived with [`Received`], which
//! tells a duplicate (a replay overlapping what it had) from a gap (frames lost: the protocol is
//! broken).
//!
//! The transport below is a WebSocket over TCP: in order and lossless while it lasts, so there
//! is no retransmission timer and no reordering buffer. Frames are lost only with a socket, and
//! the Hello exchange of the next socket says which.

use std::collections::VecDeque;

use super::ACK_EVERY_BYTES;

/// A replay or acknowledgement that cannot be right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// A frame recorded out of turn (a bug in this end).
    #[error("frame {got} recorded where {expected} was next")]
    OutOfTurn {
        /// The number the next frame must have.
        expected: u64,
        /// The number given.
        got: u64,
    },
    /// The bound is reached: the sender waits for an Ack before it sends more sequenced frames.
    #[error("{unacked} bytes unacknowledged; {len} more would pass the bound of {limit}")]
    Full {
        /// Bytes kept now.
        unacked: usize,
        /// Bytes of the frame refused.
        len: usize,
        /// The bound.
        limit: usize,
    },
    /// The peer acknowledged a frame never sent.
    #[error("acknowledgement of frame {received}, but the last one sent is {sent}")]
    AckBeyondSent {
        /// The acknowledgement.
        received: u64,
        /// The last frame sent.
        sent: u64,
    },
    /// The peer asks for frames this end already let go: the session cannot be resumed.
    #[error("the peer has frames up to {received}, but frames up to {released} are gone")]
    Lost {
        /// What the peer says it has.
        received: u64,
        /// Frames up to this one were acknowledged before and are no longer kept.
        released: u64,
    },
    /// A frame arrived past the next expected one: frames were lost on the way.
    #[error("frame {got} arrived where {expected} was next")]
    Gap {
        /// The number expected.
        expected: u64,
        /// The number that came.
        got: u64,
    },
}

/// Sent sequenced frames, encoded, until acknowledged; bounded in bytes. One contiguous buffer
/// with a moving start, so recording a frame allocates nothing once the buffer has grown.
#[derive(Debug, Clone)]
pub struct ReplayBuffer {
    data: Vec<u8>,
    /// Bytes of `data` before this offset are acknowledged and wait to be compacted away.
    start: usize,
    /// (sequence number, encoded length) of each kept frame, oldest first.
    entries: VecDeque<(u64, usize)>,
    next: u64,
    released: u64,
    limit: usize,
}

/// Below this many dead bytes at the front, compacting is not worth the copy.
const COMPACT_AFTER: usize = 64 * 1024;

impl ReplayBuffer {
    /// An empty buffer that keeps at most `limit` bytes (a larger single frame is still taken
    /// when nothing else is kept, so that no frame size can wedge a leg).
    pub fn new(limit: usize) -> Self {
        Self {
            data: Vec::new(),
            start: 0,
            entries: VecDeque::new(),
            next: 1,
            released: 0,
            limit,
        }
    }

    /// The sequence number the next sequenced frame must carry.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// Frames up to this number were acknowledged and let go.
    pub fn released(&self) -> u64 {
        self.released
    }

    /// Bytes kept for replay.
    pub fn unacked_bytes(&self) -> usize {
        self.data.len() - self.start
    }

    /// Whether a frame of `len` bytes may be sent now.
    pub fn has_room(&self, len: usize) -> bool {
        self.entries.is_empty() || self.unacked_bytes().saturating_add(len) <= self.limit
    }

    /// Keeps `frame`, the encoding of the sequenced frame numbered `seq`, which is being sent.
    pub fn record(&mut self, seq: u64, frame: &[u8]) -> Result<(), ReplayError> {
        if seq != self.next {
            return Err(ReplayError::OutOfTurn {
                expected: self.next,
                got: seq,
            });
        }
        if !self.has_room(frame.len()) {
            return Err(ReplayError::Full {
                unacked: self.unacked_bytes(),
                len: frame.len(),
                limit: self.limit,
            });
        }
        self.data.extend_from_slice(frame);
        self.entries.push_back((seq, frame.len()));
        self.next += 1;
        Ok(())
    }

    /// Applies a cumulative acknowledgement: every frame up to `received` is let go. An older
    /// acknowledgement than one already applied changes nothing. Returns the bytes freed.
    pub fn ack(&mut self, received: u64) -> Result<usize, ReplayError> {
        if received >= self.next {
            return Err(ReplayError::AckBeyondSent {
                received,
                sent: self.next - 1,
            });
        }
        let mut freed = 0;
        while let Some(&(seq, len)) = self.entries.front() {
            if seq > received {
                break;
            }
            self.entries.pop_front();
            freed += len;
        }
        self.start += freed;
        self.released = self.released.max(received);
        self.compact();
        Ok(freed)
    }

    /// After a reconnect: the peer's Hello says it has every frame up to `peer_received`. Lets
    /// those go and returns the rest, oldest first, to be sent again before anything new.
    pub fn resume(&mut self, peer_received: u64) -> Result<Resend<'_>, ReplayError> {
        if peer_received < self.released {
            return Err(ReplayError::Lost {
                received: peer_received,
                released: self.released,
            });
        }
        self.ack(peer_received)?;
        Ok(Resend {
            data: &self.data[self.start..],
            entries: self.entries.iter(),
        })
    }

    fn compact(&mut self) {
        if self.start == self.data.len() {
            // Everything is acknowledged: the common case on a healthy leg, and free. A buffer
            // that grew for a burst is given back, so an idle session holds none.
            self.data.clear();
            self.start = 0;
            if self.data.capacity() > 4 * COMPACT_AFTER {
                self.data = Vec::new();
            }
        } else if self.start >= COMPACT_AFTER && self.start * 2 >= self.data.len() {
            self.data.drain(..self.start);
            self.start = 0;
        }
    }
}

/// The frames [`ReplayBuffer::resume`] returns: `(sequence number, encoded frame)`.
#[derive(Debug)]
pub struct Resend<'a> {
    data: &'a [u8],
    entries: std::collections::vec_deque::Iter<'a, (u64, usize)>,
}

impl<'a> Iterator for Resend<'a> {
    type Item = (u64, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let &(seq, len) = self.entries.next()?;
        let (frame, rest) = self.data.split_at(len);
        self.data = rest;
        Some((seq, frame))
    }
}

/// Whether an arriving sequenced frame is new or a copy of one already applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The next frame: apply it.
    New,
    /// Already received (a replay overlapped): drop it.
    Duplicate,
}

/// The receiving end of one leg's sequence: what arrived, and what was acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received {
    last: u64,
    acked: u64,
    unacked_bytes: usize,
}

impl Received {
    /// Nothing received yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the sequence number of an arriving frame of `len` encoded bytes.
    pub fn accept(&mut self, seq: u64, len: usize) -> Result<Arrival, ReplayError> {
        if seq <= self.last {
            return Ok(Arrival::Duplicate);
        }
        if seq != self.last + 1 {
            return Err(ReplayError::Gap {
                expected: self.last + 1,
                got: seq,
            });
        }
        self.last = seq;
        self.unacked_bytes = self.unacked_bytes.saturating_add(len);
        Ok(Arrival::New)
    }

    /// The last frame received in order: the `received` of this end's Hello and Acks.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// Whether an Ack must go now: [`ACK_EVERY_BYTES`] arrived since the last one.
    pub fn ack_due(&self) -> bool {
        self.unacked_bytes >= ACK_EVERY_BYTES
    }

    /// Whether anything arrived that no Ack covers yet (then an Ack goes within
    /// [`crate::mux::ACK_DELAY`] at the latest).
    pub fn pending(&self) -> bool {
        self.last > self.acked
    }

    /// The value of the Ack to send now, if any; counts it as sent.
    pub fn take_ack(&mut self) -> Option<u64> {
        if !self.pending() {
            return None;
        }
        self.acked = self.last;
        self.unacked_bytes = 0;
        Some(self.last)
    }

    /// A Hello carried `last()` as its acknowledgement: counts it as sent.
    pub fn acked_by_hello(&mut self) {
        self.acked = self.last;
        self.unacked_bytes = 0;
    }
}

#[cfg(test)]
#[path = "replay_tests.rs"]
mod tests;
