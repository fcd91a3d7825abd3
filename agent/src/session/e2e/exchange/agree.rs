//! The second half of the exchange: the ClientKeyExchange, the data key (Mode `Kms`), and the
//! keys each suite agrees on.

use axt_proto::e2e::{
    authenticated::{Handshake, X25519KeyPair},
    compat::{self, CbcCipher, EcdhKeyPair},
    exchange::{AgentKeyExchange, ErrorReason, Message},
    Mode, Suite,
};

use super::{parse_error, Agreed, Exchange, Failed, Pending, Turn};
use crate::session::e2e::records::Cipher;

impl Exchange {
    pub(super) fn client_key_exchange(
        &self,
        agreed: Agreed,
        payload: &[u8],
    ) -> Result<Turn, Failed> {
        let kx = match Message::decode(payload) {
            Ok(Message::ClientKeyExchange(kx)) => kx,
            Ok(_) | Err(ErrorReason::ClientKeyExchangeParseError) => {
                return Err(parse_error(false))
            }
            Err(reason) => return Err((reason, "the clientPub is not base64".to_owned())),
        };
        let bad_key = |what: &str| (ErrorReason::ClientPublicKeyDecodeError, what.to_owned());
        match agreed.suite {
            Suite::CompatEcdhe => {
                let peer = kx.client_pub.ok_or_else(|| bad_key("no clientPub"))?;
                let pair = EcdhKeyPair::generate();
                let key = pair
                    .shared(&peer)
                    .map_err(|_| bad_key("the clientPub is not an uncompressed P-256 point"))?;
                let cipher = Cipher::compat(CbcCipher::new(key, agreed.iv));
                Ok(Turn::Done(
                    AgentKeyExchange::ecdhe(pair.public_sec1()),
                    cipher,
                ))
            }
            Suite::CompatKms => {
                let blob = data_key_blob(kx.kms_cipher_text_key)?;
                Ok(Turn::Decrypt(Pending::Compat { iv: agreed.iv }, blob))
            }
            Suite::Authenticated => {
                let client_pub = kx
                    .client_pub
                    .and_then(|p| <[u8; 32]>::try_from(p).ok())
                    .ok_or_else(|| bad_key("the clientPub is not a 32-byte X25519 key"))?;
                match self.mode {
                    Mode::Auto => self.authenticated(agreed, client_pub, None),
                    Mode::Kms => {
                        let blob = data_key_blob(kx.kms_cipher_text_key)?;
                        Ok(Turn::Decrypt(
                            Pending::Authenticated { agreed, client_pub },
                            blob,
                        ))
                    }
                }
            }
        }
    }

    pub(super) fn data_key(
        &self,
        pending: Pending,
        answer: Result<String, String>,
    ) -> Result<Turn, Failed> {
        let plaintext = answer.map_err(|why| {
            (
                ErrorReason::KMSDecryptError,
                format!("KMS decrypt failed: {why}"),
            )
        })?;
        let key = compat::kms_key(&plaintext).map_err(|_| {
            (
                ErrorReason::KMSDecryptError,
                "the data key is not base64 of 32 bytes".to_owned(),
            )
        })?;
        match pending {
            Pending::Compat { iv } => Ok(Turn::Done(
                AgentKeyExchange::kms(),
                Cipher::compat(CbcCipher::new(key, iv)),
            )),
            Pending::Authenticated { agreed, client_pub } => {
                self.authenticated(agreed, client_pub, Some(&key))
            }
        }
    }

    /// The authenticated suite's AgentKeyExchange: a fresh X25519 share, the transcript signed
    /// by the identity key, the record keys.
    fn authenticated(
        &self,
        agreed: Agreed,
        client_pub: [u8; 32],
        data_key: Option<&[u8; 32]>,
    ) -> Result<Turn, Failed> {
        // choose_suite picks this suite only when there is an identity to sign with.
        let identity = self.identity.as_ref().ok_or((
            ErrorReason::InvalidCipherSuiteError,
            "the authenticated suite without an identity key".to_owned(),
        ))?;
        let pair = X25519KeyPair::generate();
        let shared = pair.shared(&client_pub).map_err(|_| {
            (
                ErrorReason::ClientPublicKeyDecodeError,
                "the clientPub has small order".to_owned(),
            )
        })?;
        let handshake = Handshake {
            channel_id: &self.channel_id,
            instance_id: &identity.instance_id,
            client_random: agreed.client_random,
            agent_random: agreed.agent_random,
            client_pub,
            agent_pub: pair.public(),
            kms_plaintext: data_key.map(|k| &k[..]),
        };
        let signature = (identity.sign)(&handshake.transcript()).map_err(|_| {
            (
                ErrorReason::SignatureError,
                "the agent could not sign the key exchange".to_owned(),
            )
        })?;
        let cipher = Cipher::authenticated(&handshake.keys(&shared), &self.channel_id);
        Ok(Turn::Done(
            AgentKeyExchange::authenticated(pair.public(), signature),
            cipher,
        ))
    }
}

/// The `kmsCipherTextKey` to decrypt; none at all cannot be (the stock agent's KMS call fails).
fn data_key_blob(blob: Option<String>) -> Result<String, Failed> {
    blob.filter(|b| !b.is_empty()).ok_or((
        ErrorReason::KMSDecryptError,
        "no kmsCipherTextKey".to_owned(),
    ))
}
