//! The client's end of end-to-end encrypted sessions (docs/encryption.md): what
//! `axt session --encrypt` needs before it connects ([`Plan`], with a KMS data key from
//! [`kms`]), the key exchange right after it ([`exchange`]), and the records every Input and
//! Output then carries ([`records`]).
//!
//! The crypto itself is `axt_proto::e2e`, shared with axt-agent; this module only drives it
//! over a session channel and decides what the client accepts.

mod exchange;
mod kms;
mod records;

use axt_proto::e2e::{self, Mode};

pub use exchange::{run as exchange, Stop};
pub use kms::{generate_data_key, DataKey};
pub use records::{Opened, Opening, Sealing};

use crate::args::{EncryptArgs, EncryptMode};

/// The error a client shows when the agent's AgentKeyExchange does not verify with the key the
/// control plane vouched for: a gateway (or anyone between) answered in the agent's place.
pub const NOT_SIGNED: &str =
    "the agent's key exchange is not signed by the instance's identity key";

/// Everything the exchange needs, gathered before the WebSocket opens.
#[derive(Debug)]
pub struct Plan {
    /// `EncryptionOptions.Mode`.
    pub mode: Mode,
    /// Accept a compatibility suite even when the agent's identity key is known.
    pub allow_compat: bool,
    /// `AxtlabAgentPublicKey` of the StartTerminalSession answer (PEM). With it the
    /// authenticated suite is offered, and required unless `allow_compat`.
    pub agent_key: Option<String>,
    /// The instance the session is on: part of the signed transcript.
    pub instance_id: String,
    /// Mode `Kms`: the data key, asked of KMS before connecting so that the agent's 20 s for
    /// the exchange are not spent waiting for KMS.
    pub data_key: Option<DataKey>,
}

impl Plan {
    /// A plan for `args`, when they ask for encryption at all.
    pub fn new(
        args: &EncryptArgs,
        instance_id: &str,
        agent_key: Option<String>,
        data_key: Option<DataKey>,
    ) -> Option<Self> {
        let mode = match args.encrypt? {
            EncryptMode::Auto => Mode::Auto,
            EncryptMode::Kms => Mode::Kms,
        };
        Some(Self {
            mode,
            allow_compat: args.allow_compat_suite,
            agent_key,
            instance_id: instance_id.to_owned(),
            data_key,
        })
    }
}

/// `EncryptionOptions` as the SDKs send it: one JSON text, fields in their order. A key id
/// with Mode `Auto` is left out: the API refuses that combination.
pub fn encryption_options(args: &EncryptArgs) -> Option<String> {
    Some(match args.encrypt? {
        EncryptMode::Auto => r#"{"Enabled":true,"Mode":"Auto"}"#.to_owned(),
        EncryptMode::Kms => {
            let key = serde_json::Value::from(args.kms_key_id.as_deref().unwrap_or_default());
            format!(r#"{{"Enabled":true,"Mode":"Kms","KMSKeyId":{key}}}"#)
        }
    })
}

/// How long the exchange may take: what the agent gives it.
pub const EXCHANGE_TIMEOUT: std::time::Duration = e2e::EXCHANGE_TIMEOUT;

#[cfg(test)]
mod tests {
    use super::*;

    fn args(encrypt: Option<EncryptMode>, key: Option<&str>) -> EncryptArgs {
        EncryptArgs {
            encrypt,
            kms_key_id: key.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn options_are_the_json_text_the_sdks_send() {
        assert_eq!(encryption_options(&args(None, None)), None);
        assert_eq!(
            encryption_options(&args(Some(EncryptMode::Auto), Some("ignored"))).unwrap(),
            r#"{"Enabled":true,"Mode":"Auto"}"#
        );
        assert_eq!(
            encryption_options(&args(Some(EncryptMode::Kms), Some("key-\"1"))).unwrap(),
            r#"{"Enabled":true,"Mode":"Kms","KMSKeyId":"key-\"1"}"#
        );
        let plan = Plan::new(&args(Some(EncryptMode::Kms), Some("k")), "i-1", None, None);
        assert_eq!(plan.unwrap().mode, Mode::Kms);
        assert!(Plan::new(&args(None, None), "i-1", None, None).is_none());
    }
}
