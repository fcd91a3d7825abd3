//! The session spec: what an agent pulls from `/luban/api/v1/session/list` after a kick, in the
//! exact shape the stock Cloud Assistant agent decodes.

use serde::{Deserialize, Deserializer, Serialize};

/// The lowest non-zero `flowLimit` (bit/s) the stock agent survives: 1…8191 make it divide by
/// zero and crash.
pub const MIN_FLOW_LIMIT_BITS: u64 = 8192;

/// One entry of the `session` array of a session/list answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionSpec {
    /// The channel to open the data channel for (≤ 32 bytes: the agent frame holds no more).
    pub channel_id: String,
    /// Ignored by agents, which dial their configured server.
    pub websocket_url: String,
    /// CommandLine: run instead of the login shell when not empty.
    pub cmd_content: String,
    /// The user to run as; empty for the agent's default user.
    pub username: String,
    /// Windows only: the name of the parameter holding the user's password.
    pub windows_password_name: String,
    /// The same, under the name the newer stock agents read (they renamed the field); sent
    /// both ways so that agents of either age find it.
    pub password_name: String,
    /// TargetServer for port forwarding; empty means the instance itself.
    pub target_host: String,
    /// The port to forward to, as a JSON *string* (a number breaks the stock agent); empty
    /// for a shell session.
    #[serde(deserialize_with = "string_or_number")]
    pub port_number: String,
    /// Send rate in bit/s; 0 means the agent's default. Never 1…8191.
    pub flow_limit: u64,
    /// The session's `EncryptionOptions`, as the newer stock agent reads them
    /// (`models.SessionTaskInfo.EncryptionOptions`, `json:"encryptionOptions"`). Left out of an
    /// unencrypted session's spec, so that an agent that predates encryption sees nothing new.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_options: Option<SpecEncryption>,
}

/// `encryptionOptions` of a spec: the stock agent's `models.EncryptionOptions`, field for field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SpecEncryption {
    /// Always `true` when present: the agent waits for a key exchange before starting the shell.
    pub enabled: bool,
    /// `Auto` or `Kms`, as StartTerminalSession was given it.
    pub mode: String,
    /// The KMS key of `Kms` mode (as given); empty for `Auto`.
    pub kms_key_id: String,
}

impl SessionSpec {
    /// Whether this spec asks for port forwarding rather than a shell.
    pub fn is_port_forward(&self) -> bool {
        !self.port_number.is_empty()
    }
}

/// Converts a byte rate to the `flowLimit` the agent is told: bits, and never in the range
/// that crashes the stock agent. 0 stays 0.
pub fn flow_limit_bits(bytes_per_second: u64) -> u64 {
    match bytes_per_second.saturating_mul(8) {
        0 => 0,
        bits => bits.max(MIN_FLOW_LIMIT_BITS),
    }
}

/// Reads are liberal: a port written as a number is accepted too.
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Port {
        Text(String),
        Number(u64),
    }
    Ok(match Option::<Port>::deserialize(d)? {
        Some(Port::Text(s)) => s,
        Some(Port::Number(n)) => n.to_string(),
        None => String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_port_as_a_string_and_reads_either() {
        let spec = SessionSpec {
            channel_id: "c-1".into(),
            port_number: "22".into(),
            ..Default::default()
        };
        let text = serde_json::to_string(&spec).unwrap();
        assert!(text.contains(r#""portNumber":"22""#), "{text}");
        assert!(text.contains(r#""windowsPasswordName":"""#), "{text}");
        assert!(
            text.contains(r#""passwordName":"""#),
            "both names, for old and new agents"
        );
        let read: SessionSpec =
            serde_json::from_str(r#"{"channelId":"c-1","portNumber":22}"#).unwrap();
        assert_eq!(read.port_number, "22");
        assert!(read.is_port_forward());
    }

    #[test]
    fn encryption_options_travel_as_the_stock_agent_reads_them() {
        let plain = serde_json::to_value(SessionSpec::default()).unwrap();
        assert!(plain.get("encryptionOptions").is_none(), "{plain}");
        let spec = SessionSpec {
            encryption_options: Some(SpecEncryption {
                enabled: true,
                mode: "Kms".into(),
                kms_key_id: "key-1".into(),
            }),
            ..Default::default()
        };
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            json["encryptionOptions"],
            serde_json::json!({"enabled": true, "mode": "Kms", "kmsKeyId": "key-1"})
        );
        assert_eq!(serde_json::from_value::<SessionSpec>(json).unwrap(), spec);
    }

    #[test]
    fn flow_limits_avoid_the_crashing_range() {
        assert_eq!(flow_limit_bits(0), 0);
        assert_eq!(flow_limit_bits(1), MIN_FLOW_LIMIT_BITS);
        assert_eq!(flow_limit_bits(204_800), 1_638_400);
    }
}
