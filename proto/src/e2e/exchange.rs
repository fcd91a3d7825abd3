//! The key-exchange payload (docs/encryption.md §1): one action byte, then a JSON object,
//! written exactly as the stock agent writes it, with axtlab's fields left out when unused.

use super::json::{b64, Reader, Writer};
use super::{Mode, Suite};
pub use super::{AUTHENTICATED, COMPAT_ECDHE, COMPAT_KMS};

mod reason;
pub use reason::ErrorReason;

/// The action byte that starts every key-exchange payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Action {
    /// Client → agent: suite and IV.
    ClientHello = 0,
    /// Agent → client: the answer to ClientHello.
    AgentHello = 1,
    /// Client → agent: the client's key share or KMS blob.
    ClientKeyExchange = 2,
    /// Agent → client: the agent's key share (and, authenticated, its signature).
    AgentKeyExchange = 3,
    /// Agent → client: the exchange failed; the session ends.
    KeyExchangeError = 11,
}

impl Action {
    /// The action of a byte, if it is one.
    pub fn from_byte(byte: u8) -> Option<Action> {
        Some(match byte {
            0 => Action::ClientHello,
            1 => Action::AgentHello,
            2 => Action::ClientKeyExchange,
            3 => Action::AgentKeyExchange,
            11 => Action::KeyExchangeError,
            _ => return None,
        })
    }
}

/// The raw action byte of a payload, for a state machine that checks the order before it
/// parses the JSON, as the stock agent does (an unexpected byte, known or not, is
/// `WrongActionTypeError` there). Only an empty payload is `ActionTypeParseError`.
pub fn action_byte(payload: &[u8]) -> Result<u8, ErrorReason> {
    payload
        .first()
        .copied()
        .ok_or(ErrorReason::ActionTypeParseError)
}

/// Action 0. `cipherSuite` is always a compatibility suite (it tells the mode);
/// the authenticated suite is offered beside it in `axt_suites`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// `cipherSuite`: [`COMPAT_ECDHE`] or [`COMPAT_KMS`] from a well-behaved client.
    pub cipher_suite: String,
    /// `encryptIV`: the compatibility suites' CBC IV.
    pub encrypt_iv: [u8; 16],
    /// `axtSuites` (axtlab): suites offered beyond `cipherSuite`; omitted when empty.
    pub axt_suites: Vec<String>,
    /// `clientRandom` (axtlab); omitted when `None`.
    pub client_random: Option<[u8; 32]>,
}

impl ClientHello {
    /// The mode `cipherSuite` names, if it names a compatibility suite.
    pub fn mode(&self) -> Option<Mode> {
        match Suite::from_name(&self.cipher_suite)? {
            Suite::CompatEcdhe => Some(Mode::Auto),
            Suite::CompatKms => Some(Mode::Kms),
            Suite::Authenticated => None,
        }
    }

    /// Whether the authenticated suite is offered (named in `axtSuites`, with a random).
    pub fn offers_authenticated(&self) -> bool {
        self.client_random.is_some() && self.axt_suites.iter().any(|s| s == AUTHENTICATED)
    }
}

/// Action 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentHello {
    /// `clientCertificate`: always `false` (no end asks for one).
    pub client_certificate: bool,
    /// `axtSuite` (axtlab): the offered suite the agent chose; omitted when `None`.
    pub axt_suite: Option<String>,
    /// `agentRandom` (axtlab); omitted when `None`.
    pub agent_random: Option<[u8; 32]>,
}

impl AgentHello {
    /// The suite this answer settles, given what the client offered: the authenticated one
    /// when the agent chose it (with a random), else the compatibility suite of `cipherSuite`.
    /// An `axtSuite` that was not offered is `UnsupportedCipherSuiteError`. Refusing a
    /// compatibility suite (no `--allow-compat-suite`) is the caller's policy.
    pub fn accepted_suite(&self, offered: &ClientHello) -> Result<Suite, ErrorReason> {
        match &self.axt_suite {
            Some(name) => {
                if name == AUTHENTICATED
                    && offered.offers_authenticated()
                    && self.agent_random.is_some()
                {
                    Ok(Suite::Authenticated)
                } else {
                    Err(ErrorReason::UnsupportedCipherSuiteError)
                }
            }
            None => offered
                .mode()
                .map(Mode::compat_suite)
                .ok_or(ErrorReason::UnknownCipherSuiteError),
        }
    }
}

/// Action 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeyExchange {
    /// `clientPub`: 65-byte SEC1 point (ECDHE) or 32-byte X25519 key; `None` for KMS. When
    /// present, `signature` is written too, as the stock client does.
    pub client_pub: Option<Vec<u8>>,
    /// `signature`: always empty (no client certificate).
    pub signature: String,
    /// `kmsCipherTextKey`: the KMS `CiphertextBlob`, in Mode `Kms`.
    pub kms_cipher_text_key: Option<String>,
}

/// Action 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentKeyExchange {
    /// `agentPub`: the agent's share; `None` (`{}`) for KMS.
    pub agent_pub: Option<Vec<u8>>,
    /// `signature` (authenticated suite): RSA PKCS#1 v1.5 SHA-256 over the transcript.
    pub signature: Option<Vec<u8>>,
}

/// Action 11.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyExchangeError {
    /// `code`: `KeyExchangeError.<Reason>`.
    pub code: ErrorReason,
    /// `message`: free text for a person.
    pub message: String,
}

/// One key-exchange payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Action 0.
    ClientHello(ClientHello),
    /// Action 1.
    AgentHello(AgentHello),
    /// Action 2.
    ClientKeyExchange(ClientKeyExchange),
    /// Action 3.
    AgentKeyExchange(AgentKeyExchange),
    /// Action 11.
    KeyExchangeError(KeyExchangeError),
}

impl Message {
    /// The message's action.
    pub fn action(&self) -> Action {
        match self {
            Message::ClientHello(_) => Action::ClientHello,
            Message::AgentHello(_) => Action::AgentHello,
            Message::ClientKeyExchange(_) => Action::ClientKeyExchange,
            Message::AgentKeyExchange(_) => Action::AgentKeyExchange,
            Message::KeyExchangeError(_) => Action::KeyExchangeError,
        }
    }

    /// The payload: action byte, then the JSON as Go's `json.Marshal` writes the stock
    /// agent's structs (declaration order, no spaces, HTML-safe escapes).
    pub fn encode(&self) -> Vec<u8> {
        let json = match self {
            Message::ClientHello(m) => {
                let mut w = Writer::new()
                    .str("cipherSuite", &m.cipher_suite)
                    .str("encryptIV", &b64(&m.encrypt_iv));
                if !m.axt_suites.is_empty() {
                    w = w.str_array("axtSuites", &m.axt_suites);
                }
                if let Some(r) = &m.client_random {
                    w = w.str("clientRandom", &b64(r));
                }
                w.finish()
            }
            Message::AgentHello(m) => {
                let mut w = Writer::new().bool("clientCertificate", m.client_certificate);
                if let Some(s) = &m.axt_suite {
                    w = w.str("axtSuite", s);
                }
                if let Some(r) = &m.agent_random {
                    w = w.str("agentRandom", &b64(r));
                }
                w.finish()
            }
            Message::ClientKeyExchange(m) => {
                let mut w = Writer::new();
                if let Some(p) = &m.client_pub {
                    w = w.str("clientPub", &b64(p));
                }
                if m.client_pub.is_some() || !m.signature.is_empty() {
                    w = w.str("signature", &m.signature);
                }
                if let Some(k) = &m.kms_cipher_text_key {
                    w = w.str("kmsCipherTextKey", k);
                }
                w.finish()
            }
            Message::AgentKeyExchange(m) => {
                let mut w = Writer::new();
                if let Some(p) = &m.agent_pub {
                    w = w.str("agentPub", &b64(p));
                }
                if let Some(s) = &m.signature {
                    w = w.str("signature", &b64(s));
                }
                w.finish()
            }
            Message::KeyExchangeError(m) => Writer::new()
                .str("code", &m.code.as_code())
                .str("message", &m.message)
                .finish(),
        };
        let mut out = Vec::with_capacity(1 + json.len());
        out.push(self.action() as u8);
        out.extend_from_slice(json.as_bytes());
        out
    }

    /// Reads a payload, as leniently as the stock agent (missing fields are empty, unknown ones
    /// ignored), failing with the reason the agent would send: an empty payload or unknown
    /// action byte → `ActionTypeParseError`; bad JSON → `ClientHelloParseError` or
    /// `ClientKeyExchangeParseError` (`AgentMessageParseError` for the agent's own actions);
    /// an IV that is not base64 of 16 bytes → `IVDecodeError`; a `clientPub` that is not
    /// base64 → `ClientPublicKeyDecodeError`. Never panics.
    pub fn decode(payload: &[u8]) -> Result<Message, ErrorReason> {
        let byte = action_byte(payload)?;
        let action = Action::from_byte(byte).ok_or(ErrorReason::ActionTypeParseError)?;
        let parse_error = match action {
            Action::ClientHello => ErrorReason::ClientHelloParseError,
            Action::ClientKeyExchange => ErrorReason::ClientKeyExchangeParseError,
            _ => ErrorReason::AgentMessageParseError,
        };
        let r = Reader::parse(&payload[1..]).map_err(|_| parse_error.clone())?;
        decode_fields(action, &r, parse_error)
    }
}

mod build;
mod decode;
pub use build::{agent_hello, choose_suite, client_hello};
use decode::decode_fields;

#[cfg(test)]
mod tests;
