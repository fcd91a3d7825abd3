//! Pure builders of each message and the suite choices both ends make, so the agent's and
//! the client's state machines agree on them by construction.

use super::{
    AgentHello, AgentKeyExchange, ClientHello, ClientKeyExchange, ErrorReason, KeyExchangeError,
    Message, AUTHENTICATED,
};
use crate::e2e::{Mode, Suite};

/// The client's ClientHello: `cipherSuite` names the mode's compatibility suite (what a stock
/// agent reads); with `client_random`, the authenticated suite is offered beside it.
pub fn client_hello(mode: Mode, iv: [u8; 16], client_random: Option<[u8; 32]>) -> ClientHello {
    ClientHello {
        cipher_suite: mode.compat_suite().name().to_owned(),
        encrypt_iv: iv,
        axt_suites: client_random
            .map(|_| vec![AUTHENTICATED.to_owned()])
            .unwrap_or_default(),
        client_random,
    }
}

/// The agent's choice for a ClientHello: the authenticated suite whenever it is offered and
/// the agent can sign (`can_sign`: it has its identity key), else the compatibility suite
/// `cipherSuite` names. The mode always comes from `cipherSuite`. A `cipherSuite` that names
/// no compatibility suite is `UnknownCipherSuiteError`, as with the stock agent.
pub fn choose_suite(hello: &ClientHello, can_sign: bool) -> Result<(Suite, Mode), ErrorReason> {
    let mode = hello.mode().ok_or(ErrorReason::UnknownCipherSuiteError)?;
    if can_sign && hello.offers_authenticated() {
        Ok((Suite::Authenticated, mode))
    } else {
        Ok((mode.compat_suite(), mode))
    }
}

/// The agent's AgentHello for the suite it chose: the stock `{"clientCertificate":false}`,
/// plus `axtSuite` and `agentRandom` for the authenticated suite (`agent_random` is dropped
/// otherwise).
pub fn agent_hello(suite: Suite, agent_random: [u8; 32]) -> AgentHello {
    let authenticated = suite == Suite::Authenticated;
    AgentHello {
        client_certificate: false,
        axt_suite: authenticated.then(|| AUTHENTICATED.to_owned()),
        agent_random: authenticated.then_some(agent_random),
    }
}

impl ClientKeyExchange {
    /// ECDHE: `{"clientPub":…,"signature":""}` with the 65-byte SEC1 point.
    pub fn ecdhe(client_pub: [u8; 65]) -> Self {
        ClientKeyExchange {
            client_pub: Some(client_pub.to_vec()),
            signature: String::new(),
            kms_cipher_text_key: None,
        }
    }

    /// KMS: `{"kmsCipherTextKey":…}` with KMS's `CiphertextBlob`.
    pub fn kms(ciphertext_blob: String) -> Self {
        ClientKeyExchange {
            client_pub: None,
            signature: String::new(),
            kms_cipher_text_key: Some(ciphertext_blob),
        }
    }

    /// Authenticated: the X25519 key, and the `CiphertextBlob` in Mode `Kms`.
    pub fn authenticated(client_pub: [u8; 32], ciphertext_blob: Option<String>) -> Self {
        ClientKeyExchange {
            client_pub: Some(client_pub.to_vec()),
            signature: String::new(),
            kms_cipher_text_key: ciphertext_blob,
        }
    }
}

impl AgentKeyExchange {
    /// KMS: `{}`.
    pub fn kms() -> Self {
        AgentKeyExchange {
            agent_pub: None,
            signature: None,
        }
    }

    /// ECDHE: `{"agentPub":…}`.
    pub fn ecdhe(agent_pub: [u8; 65]) -> Self {
        AgentKeyExchange {
            agent_pub: Some(agent_pub.to_vec()),
            signature: None,
        }
    }

    /// Authenticated: the X25519 key and the transcript's signature.
    pub fn authenticated(agent_pub: [u8; 32], signature: Vec<u8>) -> Self {
        AgentKeyExchange {
            agent_pub: Some(agent_pub.to_vec()),
            signature: Some(signature),
        }
    }
}

impl KeyExchangeError {
    /// An error with its reason and a message for a person.
    pub fn new(code: ErrorReason, message: impl Into<String>) -> Self {
        KeyExchangeError {
            code,
            message: message.into(),
        }
    }
}

impl From<ClientHello> for Message {
    fn from(m: ClientHello) -> Self {
        Message::ClientHello(m)
    }
}

impl From<AgentHello> for Message {
    fn from(m: AgentHello) -> Self {
        Message::AgentHello(m)
    }
}

impl From<ClientKeyExchange> for Message {
    fn from(m: ClientKeyExchange) -> Self {
        Message::ClientKeyExchange(m)
    }
}

impl From<AgentKeyExchange> for Message {
    fn from(m: AgentKeyExchange) -> Self {
        Message::AgentKeyExchange(m)
    }
}

impl From<KeyExchangeError> for Message {
    fn from(m: KeyExchangeError) -> Self {
        Message::KeyExchangeError(m)
    }
}
