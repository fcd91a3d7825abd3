//! What protects an encrypted session's data once the keys are agreed: Input payloads are
//! opened before they reach the PTY, PTY output is sealed before it goes out, one frame at a
//! time. Empty payloads are keep-alives and never come here.

use axt_proto::e2e::{
    authenticated::Keys,
    compat::CbcCipher,
    record::{Direction, Inner, IntegrityError, Opener, Sealer},
    Suite,
};

/// The agreed protection, one per session.
pub enum Cipher {
    /// A compatibility suite: AES-256-CBC, one IV, no MAC.
    Compat(CbcCipher),
    /// The authenticated suite: numbered ChaCha20-Poly1305 records, one key per direction.
    Authenticated {
        /// Input records.
        opener: Opener,
        /// Output records.
        sealer: Sealer,
    },
}

/// What an Input payload held.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// Bytes for the PTY.
    Data(Vec<u8>),
    /// The terminal's size (authenticated suite only: the compatibility suites resize in the
    /// clear, with SetSize).
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// The client ends the session, as with CloseChannel.
    Close,
    /// A record already taken (a replay after a reconnection): dropped unread.
    Duplicate,
}

/// Why an Input payload could not be opened: the session ends with `Process_data_error`.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Authenticated suite: a forged, altered, truncated or missing record.
    #[error("{0}")]
    Integrity(#[from] IntegrityError),
    /// Compatibility suite: not whole blocks, or padding that does not check.
    #[error("input does not decrypt (AES-CBC length or padding)")]
    Undecryptable,
}

impl Cipher {
    /// A compatibility suite's cipher.
    pub fn compat(cipher: CbcCipher) -> Self {
        Self::Compat(cipher)
    }

    /// The authenticated suite's records of a session's keys and channel.
    pub fn authenticated(keys: &Keys, channel_id: &str) -> Self {
        Self::Authenticated {
            opener: Opener::new(keys, Direction::ClientToAgent, channel_id),
            sealer: Sealer::new(keys, Direction::AgentToClient, channel_id),
        }
    }

    /// Whether this is the authenticated suite, whose resizes come as records (a SetSize in
    /// the clear is then not the client's word).
    pub fn is_authenticated(&self) -> bool {
        matches!(self, Self::Authenticated { .. })
    }

    /// What protects the records, for the log (both compatibility suites protect alike).
    pub fn family(&self) -> &'static str {
        match self {
            Self::Compat(_) => "AES-256-CBC",
            Self::Authenticated { .. } => Suite::Authenticated.name(),
        }
    }

    /// Opens one non-empty Input payload.
    pub fn open(&mut self, payload: &[u8]) -> Result<Opened, OpenError> {
        match self {
            Self::Compat(cbc) => cbc
                .decrypt(payload)
                .map(Opened::Data)
                .map_err(|_| OpenError::Undecryptable),
            Self::Authenticated { opener, .. } => Ok(match opener.open(payload)? {
                None => Opened::Duplicate,
                Some(Inner::Data(bytes)) => Opened::Data(bytes),
                Some(Inner::Resize { cols, rows }) => Opened::Resize { cols, rows },
                Some(Inner::Close(_)) => Opened::Close,
            }),
        }
    }

    /// The authenticated suite's last Output: a Close record with the session's result, so
    /// that the client knows the end it sees is the agent's and not a cut. The compatibility
    /// suites have no such record.
    pub fn seal_close(&mut self, reason: &str) -> Option<Vec<u8>> {
        match self {
            Self::Compat(_) => None,
            Self::Authenticated { sealer, .. } => Some(sealer.seal(&Inner::Close(reason.into()))),
        }
    }

    /// Seals one non-empty output chunk into one Output payload (never split: the client
    /// opens frame by frame).
    pub fn seal(&mut self, chunk: &[u8]) -> Vec<u8> {
        match self {
            Self::Compat(cbc) => cbc.encrypt(chunk),
            Self::Authenticated { sealer, .. } => sealer.seal(&Inner::Data(chunk.to_vec())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys {
            client_to_agent: [1; 32],
            agent_to_client: [2; 32],
        }
    }

    #[test]
    fn compat_frames_round_trip_and_garbage_is_refused() {
        let cbc = CbcCipher::new([7; 32], [9; 16]);
        let mut agent = Cipher::compat(cbc.clone());
        assert!(!agent.is_authenticated());
        let sealed = agent.seal(b"out");
        assert_eq!(cbc.decrypt(&sealed).unwrap(), b"out");
        let input = cbc.encrypt(b"ls\r");
        assert_eq!(agent.open(&input).unwrap(), Opened::Data(b"ls\r".to_vec()));
        assert!(matches!(
            agent.open(&input[..5]),
            Err(OpenError::Undecryptable)
        ));
    }

    #[test]
    fn records_open_in_order_and_duplicates_are_dropped() {
        let mut agent = Cipher::authenticated(&keys(), "c-1");
        let mut client = Sealer::new(&keys(), Direction::ClientToAgent, "c-1");
        let first = client.seal(&Inner::Data(b"a".to_vec()));
        let resize = client.seal(&Inner::Resize { cols: 80, rows: 24 });
        let close = client.seal(&Inner::Close("bye".into()));
        assert_eq!(agent.open(&first).unwrap(), Opened::Data(b"a".to_vec()));
        assert_eq!(agent.open(&first).unwrap(), Opened::Duplicate);
        assert_eq!(
            agent.open(&resize).unwrap(),
            Opened::Resize { cols: 80, rows: 24 }
        );
        assert_eq!(agent.open(&close).unwrap(), Opened::Close);

        // A gap or an altered record is an integrity error.
        let mut agent = Cipher::authenticated(&keys(), "c-1");
        assert!(matches!(agent.open(&resize), Err(OpenError::Integrity(_))));
        let mut tampered = first.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(matches!(
            agent.open(&tampered),
            Err(OpenError::Integrity(_))
        ));
        // Another channel's record does not open either.
        let mut other = Cipher::authenticated(&keys(), "c-2");
        assert!(other.open(&first).is_err());

        let sealed = agent.seal(b"out");
        let close = agent.seal_close("Ok").unwrap();
        let mut client = Opener::new(&keys(), Direction::AgentToClient, "c-1");
        assert_eq!(
            client.open(&sealed).unwrap(),
            Some(Inner::Data(b"out".to_vec()))
        );
        assert_eq!(
            client.open(&close).unwrap(),
            Some(Inner::Close("Ok".into()))
        );
    }
}
