//! Records of the authenticated suite (docs/encryption.md §3 "Records"): every non-empty Input
//! or Output payload is `counter (u64 BE) ‖ ChaCha20-Poly1305(inner type ‖ body) ‖ tag`, the
//! counter in the clear so that the receiver tells a duplicate from a gap or a forgery.

use chacha20poly1305::{aead::Aead as _, aead::Payload, ChaCha20Poly1305, KeyInit as _};

use super::authenticated::Keys;

/// Bytes of the counter that starts a record.
pub const COUNTER_LEN: usize = 8;
/// Bytes of the Poly1305 tag that ends a record.
pub const TAG_LEN: usize = 16;
/// The shortest record: counter, inner type, tag.
pub const MIN_RECORD_LEN: usize = COUNTER_LEN + 1 + TAG_LEN;
/// What a record adds to its inner body: counter, inner type, tag.
pub const OVERHEAD: usize = MIN_RECORD_LEN;

/// Which way a record goes; each has its own key, nonce prefix and frame byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Input frames.
    ClientToAgent,
    /// Output frames.
    AgentToClient,
}

impl Direction {
    /// The nonce's first 4 bytes.
    pub fn nonce_prefix(self) -> [u8; 4] {
        match self {
            Direction::ClientToAgent => *b"c2a\0",
            Direction::AgentToClient => *b"a2c\0",
        }
    }

    /// The frame byte of the associated data: `I` (Input) or `O` (Output).
    pub fn frame_byte(self) -> u8 {
        match self {
            Direction::ClientToAgent => b'I',
            Direction::AgentToClient => b'O',
        }
    }

    fn key(self, keys: &Keys) -> &[u8; 32] {
        match self {
            Direction::ClientToAgent => &keys.client_to_agent,
            Direction::AgentToClient => &keys.agent_to_client,
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::ClientToAgent => "client to agent",
            Direction::AgentToClient => "agent to client",
        })
    }
}

/// What a record carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inner {
    /// Type 0: bytes for the shell, or from it.
    Data(Vec<u8>),
    /// Type 1 (client → agent): the terminal's size.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// Type 2 (either way): the session ends, with a reason.
    Close(String),
}

impl Inner {
    /// Inner type byte, then body.
    fn encode(&self) -> Vec<u8> {
        match self {
            Inner::Data(bytes) => [&[0u8][..], bytes].concat(),
            Inner::Resize { cols, rows } => {
                let mut out = vec![1u8];
                out.extend_from_slice(&cols.to_be_bytes());
                out.extend_from_slice(&rows.to_be_bytes());
                out
            }
            Inner::Close(reason) => [&[2u8][..], reason.as_bytes()].concat(),
        }
    }

    /// An authenticated plaintext's inner message; `None` for a type or body that no peer
    /// writes. A close reason that is not UTF-8 is kept, lossily: it is only shown.
    fn decode(plain: &[u8]) -> Option<Inner> {
        let (&kind, body) = plain.split_first()?;
        match (kind, body) {
            (0, _) => Some(Inner::Data(body.to_vec())),
            (1, &[c0, c1, r0, r1]) => Some(Inner::Resize {
                cols: u16::from_be_bytes([c0, c1]),
                rows: u16::from_be_bytes([r0, r1]),
            }),
            (2, _) => Some(Inner::Close(String::from_utf8_lossy(body).into_owned())),
            _ => None,
        }
    }
}

/// What went wrong with a record: the session must end (the agent reports
/// `Process_data_error`; the client prints this, which says `integrity check failed`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("integrity check failed: {direction} frame {}: {kind}", counter.map_or("?".to_owned(), |c| c.to_string()))]
pub struct IntegrityError {
    /// The record's direction.
    pub direction: Direction,
    /// The record's counter, when it has one.
    pub counter: Option<u64>,
    /// What failed.
    pub kind: IntegrityKind,
}

/// The failures of [`IntegrityError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrityKind {
    /// Shorter than counter, inner type and tag.
    #[error("record of {0} bytes is too short")]
    Truncated(usize),
    /// A counter above the next expected one: a frame was dropped or reordered.
    #[error("expected frame {expected}")]
    Gap {
        /// The counter that should have come.
        expected: u64,
    },
    /// The tag does not verify: altered, forged, or under another key or channel.
    #[error("authentication tag does not verify")]
    BadTag,
    /// Authentic, but an inner type or body that no peer writes.
    #[error("unknown inner message")]
    BadInner,
}

/// The nonce of one record: direction prefix, counter BE.
fn nonce(direction: Direction, counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(&direction.nonce_prefix());
    n[4..].copy_from_slice(&counter.to_be_bytes());
    n
}

/// The associated data: channel id, 0x00, frame byte.
fn aad(channel_id: &str, direction: Direction) -> Vec<u8> {
    [channel_id.as_bytes(), &[0, direction.frame_byte()]].concat()
}

/// The sending end of one direction: numbers records from 0.
pub struct Sealer {
    cipher: ChaCha20Poly1305,
    direction: Direction,
    aad: Vec<u8>,
    next: u64,
}

impl Sealer {
    /// The sealer of `direction` for a session's keys and channel.
    pub fn new(keys: &Keys, direction: Direction, channel_id: &str) -> Self {
        Sealer {
            cipher: ChaCha20Poly1305::new(direction.key(keys).into()),
            direction,
            aad: aad(channel_id, direction),
            next: 0,
        }
    }

    /// The counter the next record will carry.
    pub fn next_counter(&self) -> u64 {
        self.next
    }

    /// The payload of the next frame: counter ‖ ciphertext ‖ tag.
    pub fn seal(&mut self, inner: &Inner) -> Vec<u8> {
        let counter = self.next;
        // 2^64 frames is beyond any session; a wrapped counter would reuse a nonce.
        self.next = counter.checked_add(1).expect("record counter exhausted");
        let plain = inner.encode();
        let sealed = self
            .cipher
            .encrypt(
                &nonce(self.direction, counter).into(),
                Payload {
                    msg: &plain,
                    aad: &self.aad,
                },
            )
            .expect("ChaCha20-Poly1305 seals any frame-sized plaintext");
        [&counter.to_be_bytes()[..], &sealed].concat()
    }
}

/// The receiving end of one direction: accepts records in counter order only.
pub struct Opener {
    cipher: ChaCha20Poly1305,
    direction: Direction,
    aad: Vec<u8>,
    next: u64,
}

impl Opener {
    /// The opener of `direction` for a session's keys and channel.
    pub fn new(keys: &Keys, direction: Direction, channel_id: &str) -> Self {
        Opener {
            cipher: ChaCha20Poly1305::new(direction.key(keys).into()),
            direction,
            aad: aad(channel_id, direction),
            next: 0,
        }
    }

    /// The counter the next record must carry.
    pub fn next_counter(&self) -> u64 {
        self.next
    }

    /// Opens one frame's payload. `Ok(None)`: a counter below the next expected one, a
    /// duplicate (a 1.02 replay), discarded unread. `Err`: end the session. Never panics.
    pub fn open(&mut self, record: &[u8]) -> Result<Option<Inner>, IntegrityError> {
        let fail = |counter, kind| IntegrityError {
            direction: self.direction,
            counter,
            kind,
        };
        if record.len() < MIN_RECORD_LEN {
            return Err(fail(None, IntegrityKind::Truncated(record.len())));
        }
        let (head, sealed) = record.split_at(COUNTER_LEN);
        let mut counter = [0u8; COUNTER_LEN];
        counter.copy_from_slice(head);
        let counter = u64::from_be_bytes(counter);
        if counter < self.next {
            return Ok(None);
        }
        if counter > self.next {
            let expected = self.next;
            return Err(fail(Some(counter), IntegrityKind::Gap { expected }));
        }
        let plain = self
            .cipher
            .decrypt(
                &nonce(self.direction, counter).into(),
                Payload {
                    msg: sealed,
                    aad: &self.aad,
                },
            )
            .map_err(|_| fail(Some(counter), IntegrityKind::BadTag))?;
        let inner = Inner::decode(&plain).ok_or(fail(Some(counter), IntegrityKind::BadInner))?;
        self.next = counter.saturating_add(1);
        Ok(Some(inner))
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
