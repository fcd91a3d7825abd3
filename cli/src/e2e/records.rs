//! What a session's frames carry once the keys are agreed: Input payloads sealed by the one
//! task that writes the WebSocket ([`Sealing`]), Output payloads opened before the terminal
//! sees them ([`Opening`]). Empty payloads are keep-alives and never get here.

use axt_proto::e2e::{
    compat::CbcCipher,
    record::{Inner, Opener, Sealer, OVERHEAD},
};

use crate::channel::MAX_INPUT;

/// The most typed bytes sealed into one Input frame: with the record's overhead (or CBC's
/// padding) a sealed frame stays within the [`MAX_INPUT`] bytes of a plain one.
pub const MAX_PLAINTEXT: usize = MAX_INPUT - 64;

// Both suites' overheads fit in the margin left above.
const _: () = assert!(OVERHEAD <= 64 && 16 <= 64);

/// The client-to-agent half of a session's keys.
pub enum Sealing {
    /// AES-256-CBC, one IV for every frame: no counter, no integrity.
    Compat(CbcCipher),
    /// ChaCha20-Poly1305 records numbered from 0.
    Authenticated(Sealer),
}

impl Sealing {
    /// The Input payloads for typed bytes, in order: cut first, then sealed, so that every
    /// record arrives whole in its own frame.
    pub fn data(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        bytes
            .chunks(MAX_PLAINTEXT)
            .map(|chunk| match self {
                Self::Compat(cipher) => cipher.encrypt(chunk),
                Self::Authenticated(sealer) => sealer.seal(&Inner::Data(chunk.to_vec())),
            })
            .collect()
    }

    /// A new terminal size as a sealed Input payload, or `None` where the suite sends sizes in
    /// the clear (the compatibility suites: the normal Resize frame, which a stock agent reads).
    pub fn resize(&mut self, cols: u16, rows: u16) -> Option<Vec<u8>> {
        match self {
            Self::Compat(_) => None,
            Self::Authenticated(sealer) => Some(sealer.seal(&Inner::Resize { cols, rows })),
        }
    }

    /// The suite's name, for the line that says the session is encrypted.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Compat(_) => "a compatibility suite (AES-256-CBC, not authenticated)",
            Self::Authenticated(_) => "the authenticated suite (X25519, signed; ChaCha20-Poly1305)",
        }
    }
}

/// What an Output frame held.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// Bytes for the terminal.
    Data(Vec<u8>),
    /// A record already seen (a 1.02 replay resends what the client may have): dropped.
    Duplicate,
    /// The agent is ending the session, with its reason.
    Closing(String),
}

/// The agent-to-client half of a session's keys.
pub enum Opening {
    /// AES-256-CBC.
    Compat(CbcCipher),
    /// ChaCha20-Poly1305 records, accepted in counter order only.
    Authenticated(Opener),
}

impl Opening {
    /// Opens one non-empty Output payload. `Err` is the line to end the session with: it
    /// starts `integrity check failed`.
    pub fn open(&mut self, payload: &[u8]) -> Result<Opened, String> {
        let opened = match self {
            Self::Compat(cipher) => cipher
                .decrypt(payload)
                .map(Opened::Data)
                .map_err(|err| format!("integrity check failed: agent to client frame: {err}")),
            Self::Authenticated(opener) => match opener.open(payload) {
                Ok(Some(Inner::Data(bytes))) => Ok(Opened::Data(bytes)),
                Ok(Some(Inner::Close(reason))) => Ok(Opened::Closing(reason)),
                // Authentic, but a size is the client's to send: nothing to show.
                Ok(Some(Inner::Resize { .. })) => Ok(Opened::Data(Vec::new())),
                Ok(None) => Ok(Opened::Duplicate),
                Err(err) => Err(err.to_string()),
            },
        };
        opened.map_err(|error| match clear_text(payload) {
            Some(text) => format!("{error}; the frame reads, unauthenticated: {text:?}"),
            None => error,
        })
    }
}

/// A payload that did not open but reads as a line of text: the stock agent ends a failed
/// session with its reason in the clear ("The session has terminated. KeyExchangeFailed: …").
/// Shown as such, never trusted: anyone on the path could have written it.
fn clear_text(payload: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(payload).ok()?.trim();
    let printable = !text.is_empty() && text.chars().all(|c| !c.is_control() || c == '\t');
    printable.then(|| text.chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use axt_proto::e2e::{authenticated::Keys, record::Direction};

    use super::*;

    fn keys() -> Keys {
        Keys {
            client_to_agent: [1; 32],
            agent_to_client: [2; 32],
        }
    }

    #[test]
    fn a_clear_reason_in_place_of_a_record_is_shown_not_trusted() {
        let mut opening = Opening::Compat(CbcCipher::new([3; 32], [4; 16]));
        let error = opening
            .open(b"The session has terminated. KeyExchangeFailed: timeout")
            .unwrap_err();
        assert!(error.starts_with("integrity check failed"), "{error}");
        assert!(
            error.ends_with(
                "unauthenticated: \"The session has terminated. KeyExchangeFailed: timeout\""
            ),
            "{error}"
        );
        let error = opening.open(&[0x80; 33]).unwrap_err();
        assert!(!error.contains("unauthenticated"), "{error}");
    }

    #[test]
    fn typed_bytes_are_cut_before_sealing_and_fit_a_frame() {
        let mut sealing =
            Sealing::Authenticated(Sealer::new(&keys(), Direction::ClientToAgent, "c"));
        let frames = sealing.data(&vec![b'x'; 3 * MAX_PLAINTEXT + 1]);
        assert_eq!(frames.len(), 4);
        assert!(frames.iter().all(|f| f.len() <= MAX_INPUT));
        let mut agent = Opener::new(&keys(), Direction::ClientToAgent, "c");
        let mut got = Vec::new();
        for frame in &frames {
            match agent.open(frame).unwrap() {
                Some(Inner::Data(bytes)) => got.extend(bytes),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(got.len(), 3 * MAX_PLAINTEXT + 1);
        let sealed = sealing.resize(100, 30).unwrap();
        assert_eq!(
            agent.open(&sealed).unwrap(),
            Some(Inner::Resize {
                cols: 100,
                rows: 30
            })
        );
        let mut compat = Sealing::Compat(CbcCipher::new([3; 32], [4; 16]));
        assert!(compat.resize(1, 1).is_none());
        assert!(compat.data(&[b'y'; MAX_PLAINTEXT])[0].len() <= MAX_INPUT);
    }

    #[test]
    fn duplicates_are_dropped_and_a_gap_or_forgery_is_an_integrity_error() {
        let mut agent = Sealer::new(&keys(), Direction::AgentToClient, "c");
        let mut opening =
            Opening::Authenticated(Opener::new(&keys(), Direction::AgentToClient, "c"));
        let first = agent.seal(&Inner::Data(b"one".to_vec()));
        let second = agent.seal(&Inner::Data(b"two".to_vec()));
        let third = agent.seal(&Inner::Close("bye".into()));
        assert_eq!(opening.open(&first), Ok(Opened::Data(b"one".to_vec())));
        assert_eq!(opening.open(&first), Ok(Opened::Duplicate));
        let gap = opening.open(&third).unwrap_err();
        assert!(gap.starts_with("integrity check failed"), "{gap}");
        let mut forged = second.clone();
        *forged.last_mut().unwrap() ^= 1;
        assert!(opening
            .open(&forged)
            .unwrap_err()
            .contains("integrity check failed"));
        assert_eq!(opening.open(&second), Ok(Opened::Data(b"two".to_vec())));
        assert_eq!(opening.open(&third), Ok(Opened::Closing("bye".into())));

        let cipher = CbcCipher::new([5; 32], [6; 16]);
        let mut compat = Opening::Compat(cipher.clone());
        assert_eq!(
            compat.open(&cipher.encrypt(b"hi")),
            Ok(Opened::Data(b"hi".to_vec()))
        );
        assert!(compat
            .open(b"short")
            .unwrap_err()
            .starts_with("integrity check failed"));
    }
}
