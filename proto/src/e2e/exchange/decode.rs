//! The fields of each action, read as the stock agent reads them (see [`super::Message::decode`]).

use super::{
    Action, AgentHello, AgentKeyExchange, ClientHello, ClientKeyExchange, ErrorReason,
    KeyExchangeError, Message,
};
use crate::e2e::json::{unb64, Reader};

/// The fields of each action, once the JSON has parsed.
pub(super) fn decode_fields(
    action: Action,
    r: &Reader,
    bad: ErrorReason,
) -> Result<Message, ErrorReason> {
    let string = |key: &str| r.str(key).map_err(|_| bad.clone());
    // A random that is present must be base64 of exactly 32 bytes.
    let random = |key: &str| -> Result<Option<[u8; 32]>, ErrorReason> {
        match string(key)? {
            None => Ok(None),
            Some(t) => unb64(&t)
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .map(Some)
                .ok_or(bad.clone()),
        }
    };
    let bytes = |key: &str, err: ErrorReason| -> Result<Option<Vec<u8>>, ErrorReason> {
        match string(key)? {
            None => Ok(None),
            Some(t) => unb64(&t).map(Some).ok_or(err),
        }
    };
    Ok(match action {
        Action::ClientHello => {
            let cipher_suite = string("cipherSuite")?.unwrap_or_default();
            let iv_text = string("encryptIV")?.unwrap_or_default();
            let axt_suites = r.str_array("axtSuites").map_err(|_| bad.clone())?;
            let encrypt_iv = unb64(&iv_text)
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .ok_or(ErrorReason::IVDecodeError)?;
            Message::ClientHello(ClientHello {
                cipher_suite,
                encrypt_iv,
                axt_suites,
                client_random: random("clientRandom")?,
            })
        }
        Action::AgentHello => Message::AgentHello(AgentHello {
            client_certificate: r
                .bool("clientCertificate")
                .map_err(|_| bad.clone())?
                .unwrap_or(false),
            axt_suite: string("axtSuite")?,
            agent_random: random("agentRandom")?,
        }),
        Action::ClientKeyExchange => {
            let signature = string("signature")?.unwrap_or_default();
            let kms_cipher_text_key = string("kmsCipherTextKey")?;
            Message::ClientKeyExchange(ClientKeyExchange {
                client_pub: bytes("clientPub", ErrorReason::ClientPublicKeyDecodeError)?,
                signature,
                kms_cipher_text_key,
            })
        }
        Action::AgentKeyExchange => Message::AgentKeyExchange(AgentKeyExchange {
            agent_pub: bytes("agentPub", bad.clone())?,
            signature: bytes("signature", bad.clone())?,
        }),
        Action::KeyExchangeError => Message::KeyExchangeError(KeyExchangeError {
            code: ErrorReason::from_code(&string("code")?.unwrap_or_default()),
            message: string("message")?.unwrap_or_default(),
        }),
    })
}
