//! End-to-end encrypted sessions (docs/encryption.md): the crypto both `axt` and `axt-agent`
//! run, so that the gateway between them relays ciphertext it cannot read.
//!
//! Nothing here does I/O or keeps a session's state machine: each end drives its own exchange
//! and calls these pure pieces.
//!
//! * [`exchange`] — the key-exchange payload (action byte + JSON), byte for byte as the stock
//!   agent writes and reads it, plus axtlab's extra fields; [`exchange::ErrorReason`] names every
//!   `KeyExchangeError.<Reason>`. Helpers build each message ([`exchange::client_hello`],
//!   [`exchange::agent_hello`], …) and pick the suite ([`exchange::choose_suite`] on the agent,
//!   [`exchange::AgentHello::accepted_suite`] on the client).
//! * [`compat`] — the stock agent's suites: P-256 ECDH ([`compat::EcdhKeyPair`]) or a KMS data
//!   key ([`compat::kms_key`]), then AES-256-CBC with one IV for every frame
//!   ([`compat::CbcCipher`]).
//! * [`authenticated`] — axtlab's `AXT_X25519_SIGNED_CHACHA20_POLY1305`: X25519
//!   ([`authenticated::X25519KeyPair`]), the signed transcript and HKDF key schedule
//!   ([`authenticated::Handshake`]), RSA PKCS#1 v1.5 SHA-256 signing by the agent's identity key
//!   ([`authenticated::sign_transcript`], [`authenticated::verify_transcript`]).
//! * [`record`] — the authenticated suite's records: [`record::Sealer`] numbers and seals,
//!   [`record::Opener`] checks and opens, telling a duplicate (`Ok(None)`) from a gap or forgery
//!   (`Err`). Record = counter (u64 BE) ‖ ChaCha20-Poly1305(inner type ‖ body).
//!
//! Keep-alives (empty Input/Output payloads) are never passed to a cipher: callers relay them
//! as they are, in every suite.

pub mod authenticated;
pub mod compat;
pub mod exchange;
mod json;
pub mod record;

/// The key-exchange frame's message type in both framings when no setting names another: 7,
/// the value of the newer stock agent's data channel (docs/encryption.md §1). It is still a
/// setting everywhere, since no stock client publishes its own.
pub const DEFAULT_KEY_EXCHANGE_TYPE: u32 = 7;

/// How long the agent waits for the exchange to finish before it ends the session with
/// `KeyExchangeFailed`, as the stock agent does.
pub const EXCHANGE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The stock agent's ECDHE suite (Mode `Auto`).
pub const COMPAT_ECDHE: &str = "AXT_ECDHE_WITH_AES_256_CBC";
/// The stock agent's KMS suite (Mode `Kms`).
pub const COMPAT_KMS: &str = "AXT_KMS_WITH_AES_256_CBC";
/// axtlab's authenticated suite, offered in `axtSuites`.
pub const AUTHENTICATED: &str = "AXT_X25519_SIGNED_CHACHA20_POLY1305";

/// `EncryptionOptions.Mode`: where the symmetric key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Key agreement only (ECDH / X25519).
    Auto,
    /// A KMS data key (alone in the compatibility suite, mixed into X25519 in the
    /// authenticated one).
    Kms,
}

impl Mode {
    /// The compatibility suite a ClientHello names for this mode (`cipherSuite` is always one
    /// of these, even when the authenticated suite is offered beside it).
    pub fn compat_suite(self) -> Suite {
        match self {
            Mode::Auto => Suite::CompatEcdhe,
            Mode::Kms => Suite::CompatKms,
        }
    }
}

/// A suite both ends know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    /// [`COMPAT_ECDHE`].
    CompatEcdhe,
    /// [`COMPAT_KMS`].
    CompatKms,
    /// [`AUTHENTICATED`].
    Authenticated,
}

impl Suite {
    /// The suite's wire name.
    pub fn name(self) -> &'static str {
        match self {
            Suite::CompatEcdhe => COMPAT_ECDHE,
            Suite::CompatKms => COMPAT_KMS,
            Suite::Authenticated => AUTHENTICATED,
        }
    }

    /// The suite of a wire name, exactly as spelled (the stock agent compares exactly too).
    pub fn from_name(name: &str) -> Option<Suite> {
        [Suite::CompatEcdhe, Suite::CompatKms, Suite::Authenticated]
            .into_iter()
            .find(|s| s.name() == name)
    }

    /// Whether this is one of the stock agent's unauthenticated suites, which `axt` accepts
    /// only with `--allow-compat-suite` when it could have had the authenticated one.
    pub fn is_compat(self) -> bool {
        !matches!(self, Suite::Authenticated)
    }
}

/// `N` fresh random bytes from the OS: IVs, randoms.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore as _;
    let mut out = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut out);
    out
}
