//! axtlab's authenticated suite `AXT_X25519_SIGNED_CHACHA20_POLY1305` (docs/encryption.md §3):
//! ephemeral X25519, a transcript the agent signs with its identity key, and the HKDF-SHA256
//! key schedule. The records themselves are in [`super::record`].

use hkdf::Hkdf;
use sha2::{Digest as _, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};

use super::AUTHENTICATED;
use crate::identity::{self, AgentKey, IdentityError};

/// The label that starts the transcript and every HKDF info.
const LABEL: &str = "axtlab e2e v1";

/// Why an X25519 share is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A peer key that is not 32 bytes: the agent answers `ClientPublicKeyDecodeError`.
    #[error("an X25519 public key is 32 bytes")]
    BadPublicKey,
    /// A peer key of small order, which would make the shared secret all zeros (a gateway
    /// forcing a known key): refused like a malformed key.
    #[error("the X25519 public key has small order")]
    LowOrderKey,
}

/// An ephemeral X25519 key pair, one per session and end.
pub struct X25519KeyPair(StaticSecret);

impl X25519KeyPair {
    /// A fresh key pair.
    pub fn generate() -> Self {
        X25519KeyPair(StaticSecret::random_from_rng(rand::rngs::OsRng))
    }

    /// The key pair of fixed private bytes (test vectors); clamped as RFC 7748 says.
    pub fn from_private(bytes: [u8; 32]) -> Self {
        X25519KeyPair(StaticSecret::from(bytes))
    }

    /// The public key, what `clientPub`/`agentPub` carry.
    pub fn public(&self) -> [u8; 32] {
        PublicKey::from(&self.0).to_bytes()
    }

    /// `X25519(own private, peer public)`; an all-zero result is refused.
    pub fn shared(&self, peer: &[u8]) -> Result<[u8; 32], AuthError> {
        let peer = <[u8; 32]>::try_from(peer).map_err(|_| AuthError::BadPublicKey)?;
        let shared = self.0.diffie_hellman(&PublicKey::from(peer));
        if !shared.was_contributory() {
            return Err(AuthError::LowOrderKey);
        }
        Ok(shared.to_bytes())
    }
}

impl std::fmt::Debug for X25519KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("X25519KeyPair(..)")
    }
}

/// Everything both ends must agree on, gathered once the exchange has both shares.
#[derive(Debug, Clone, Copy)]
pub struct Handshake<'a> {
    /// The session's channel id (the client framing's and the agent framing's channel id).
    pub channel_id: &'a str,
    /// The instance the session is on.
    pub instance_id: &'a str,
    /// ClientHello's `clientRandom`.
    pub client_random: [u8; 32],
    /// AgentHello's `agentRandom`.
    pub agent_random: [u8; 32],
    /// ClientKeyExchange's `clientPub`.
    pub client_pub: [u8; 32],
    /// AgentKeyExchange's `agentPub`.
    pub agent_pub: [u8; 32],
    /// Mode `Kms`: the data key's plaintext (decoded bytes); `None` in Mode `Auto`.
    pub kms_plaintext: Option<&'a [u8]>,
}

impl Handshake<'_> {
    /// The signed bytes: `"axtlab e2e v1" 0 | channel id 0 | instance id 0 | suite 0 |
    /// clientRandom | agentRandom | clientPub | agentPub | SHA-256(kms plaintext or empty)`.
    pub fn transcript(&self) -> Vec<u8> {
        let mut t = Vec::with_capacity(256);
        for part in [LABEL, self.channel_id, self.instance_id, AUTHENTICATED] {
            t.extend_from_slice(part.as_bytes());
            t.push(0);
        }
        t.extend_from_slice(&self.client_random);
        t.extend_from_slice(&self.agent_random);
        t.extend_from_slice(&self.client_pub);
        t.extend_from_slice(&self.agent_pub);
        t.extend_from_slice(&Sha256::digest(self.kms_plaintext.unwrap_or_default()));
        t
    }

    /// The two record keys: HKDF-SHA256, salt `clientRandom | agentRandom`, input
    /// `shared | kms plaintext`, info `"axtlab e2e v1 client to agent" 0 channel id` (and
    /// `agent to client`).
    pub fn keys(&self, shared: &[u8; 32]) -> Keys {
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(&self.client_random);
        salt[32..].copy_from_slice(&self.agent_random);
        let mut ikm = shared.to_vec();
        ikm.extend_from_slice(self.kms_plaintext.unwrap_or_default());
        let hk = Hkdf::<Sha256>::new(Some(&salt), &ikm);
        let expand = |direction: &str| {
            let info = [
                format!("{LABEL} {direction}").as_bytes(),
                &[0],
                self.channel_id.as_bytes(),
            ]
            .concat();
            let mut key = [0u8; 32];
            // 32 bytes is far below HKDF-SHA256's limit of 255 * 32: this cannot fail.
            hk.expand(&info, &mut key)
                .expect("HKDF-SHA256 expands 32 bytes");
            key
        };
        Keys {
            client_to_agent: expand("client to agent"),
            agent_to_client: expand("agent to client"),
        }
    }
}

/// The two ChaCha20-Poly1305 keys of a session, one per direction.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    /// Input frames' key.
    pub client_to_agent: [u8; 32],
    /// Output frames' key.
    pub agent_to_client: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

/// The agent signs the transcript with its identity key (RSA PKCS#1 v1.5, SHA-256); on
/// failure it answers `SignatureError`.
pub fn sign_transcript(key: &AgentKey, transcript: &[u8]) -> Result<Vec<u8>, IdentityError> {
    key.sign_sha256(transcript)
}

/// The client checks the agent's signature with `AxtlabAgentPublicKey` (PEM, from the control
/// plane); any error means the session must end: the agent's key exchange is not signed by
/// the instance's identity key.
pub fn verify_transcript(
    agent_public_key_pem: &str,
    transcript: &[u8],
    signature: &[u8],
) -> Result<(), IdentityError> {
    identity::verify_sha256(agent_public_key_pem, transcript, signature)
}

#[cfg(test)]
#[path = "authenticated_tests.rs"]
mod tests;
