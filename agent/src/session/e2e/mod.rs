//! End-to-end encrypted shell sessions (docs/encryption.md), the agent's end: the key exchange
//! that runs before the shell starts, and the record protection of Input and Output after it.
//!
//! # Layout
//!
//! - [`exchange`]: the exchange as a sans-IO state machine, fed key-exchange payloads.
//! - [`handshake`]: drives it over the data channel until it succeeds, fails or times out.
//! - [`kms`]: the gateway call that has a KMS data key decrypted (Mode `Kms`).
//! - [`records`]: what protects Input and Output once the keys are agreed.
//!
//! The crypto itself is `axt_proto::e2e`, shared with `axt`. Nothing here logs a key, an IV, a
//! private share or a plaintext; only suites, reasons and lengths.

pub mod exchange;
pub mod handshake;
pub mod kms;
pub mod records;

use axt_proto::{
    e2e::exchange::{ErrorReason, KeyExchangeError, Message},
    spec::SessionSpec,
    status::AgentResult,
};

pub use axt_proto::e2e::Mode;

/// The result a failed exchange ends the session with, the newer stock agent's code. The
/// shared vocabulary has no variant of its own for it, so it travels as a raw code.
pub const KEY_EXCHANGE_FAILED: &str = "KeyExchangeFailed";

/// [`KEY_EXCHANGE_FAILED`] as a result.
pub fn key_exchange_failed() -> AgentResult {
    AgentResult::Other(KEY_EXCHANGE_FAILED.to_owned())
}

/// Whether (and in which mode) a session must be encrypted: `encryptionOptions.enabled` of
/// its spec. The control plane writes `Auto` or `Kms`; any other mode is read as `Auto`, so
/// that a session asked to be encrypted is never run in the clear.
pub fn encryption(spec: &SessionSpec) -> Option<Mode> {
    let options = spec.encryption_options.as_ref().filter(|o| o.enabled)?;
    Some(if options.mode.trim().eq_ignore_ascii_case("kms") {
        Mode::Kms
    } else {
        Mode::Auto
    })
}

/// The payload of a KeyExchangeError frame. `message` is for a person and names no secret.
pub fn error_payload(reason: ErrorReason, message: impl Into<String>) -> Vec<u8> {
    Message::KeyExchangeError(KeyExchangeError::new(reason, message)).encode()
}

#[cfg(test)]
mod tests {
    use axt_proto::spec::SpecEncryption;

    use super::*;

    fn spec(options: Option<(bool, &str)>) -> SessionSpec {
        SessionSpec {
            channel_id: "c-1".into(),
            encryption_options: options.map(|(enabled, mode)| SpecEncryption {
                enabled,
                mode: mode.into(),
                kms_key_id: String::new(),
            }),
            ..SessionSpec::default()
        }
    }

    #[test]
    fn the_spec_says_whether_and_how_a_session_is_encrypted() {
        assert_eq!(encryption(&spec(None)), None);
        assert_eq!(encryption(&spec(Some((false, "Kms")))), None);
        assert_eq!(encryption(&spec(Some((true, "Auto")))), Some(Mode::Auto));
        assert_eq!(encryption(&spec(Some((true, "Kms")))), Some(Mode::Kms));
        assert_eq!(encryption(&spec(Some((true, "kms")))), Some(Mode::Kms));
        // Never in the clear when asked to encrypt, whatever the mode says.
        assert_eq!(encryption(&spec(Some((true, "")))), Some(Mode::Auto));
        let parsed: SessionSpec = serde_json::from_str(
            r#"{"channelId":"c","encryptionOptions":{"enabled":true,"mode":"Kms","kmsKeyId":"k"}}"#,
        )
        .unwrap();
        assert_eq!(encryption(&parsed), Some(Mode::Kms));
    }

    #[test]
    fn a_failed_exchange_is_reported_as_the_stock_agent_reports_it() {
        let result = key_exchange_failed();
        assert_eq!(result.as_str(), "KeyExchangeFailed");
        assert!(!result.is_success());
        assert_eq!(AgentResult::parse("KeyExchangeFailed"), result);
        let payload = error_payload(ErrorReason::IVDecodeError, "x");
        assert_eq!(payload[0], 11);
        assert!(String::from_utf8_lossy(&payload).contains("KeyExchangeError.IVDecodeError"));
    }
}
