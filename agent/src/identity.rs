//! The signed identity headers every request and WebSocket upgrade of a registered agent
//! carries (docs/protocol.md §3): a fresh request id and timestamp, signed with the key the
//! agent registered.

use axt_proto::identity::{self, AgentKey, IdentityError};

/// Header the stock agent adds when the host has a non-loopback address (never signed).
pub const CLIENT_IP: &str = "x-client-ip";

/// Signs requests as one registered instance.
pub struct Signer {
    instance_id: String,
    machine_id: String,
    key: AgentKey,
    client_ip: Option<String>,
}

impl Signer {
    /// A signer for `instance_id`, whose registration sent `machine_id`.
    pub fn new(instance_id: String, machine_id: String, key: AgentKey) -> Self {
        let client_ip = Some(crate::host::intranet_ip()).filter(|ip| ip != "<nil>");
        Self {
            instance_id,
            machine_id,
            key,
            client_ip,
        }
    }

    /// The instance id the signatures name.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// Signs an end-to-end key exchange's transcript with the identity key (docs/encryption.md
    /// §3), which the control plane vouches for to the client.
    pub fn sign_transcript(&self, transcript: &[u8]) -> Result<Vec<u8>, IdentityError> {
        axt_proto::e2e::authenticated::sign_transcript(&self.key, transcript)
    }

    /// The headers of one request: a new request id and timestamp each call, since the
    /// server refuses a request id it has seen.
    pub fn headers(&self) -> Result<Vec<(&'static str, String)>, IdentityError> {
        let timestamp = axt_proto::now_ms().to_string();
        let request_id = uuid::Uuid::new_v4().to_string();
        let signed = self
            .key
            .sign(&self.instance_id, &self.machine_id, &timestamp, &request_id)?;
        let mut headers = vec![
            (identity::INSTANCE_ID, signed.instance_id),
            (identity::REQUEST_ID, signed.request_id),
            (identity::SIGNATURE, signed.signature),
            (identity::TIMESTAMP, signed.timestamp_ms),
        ];
        if let Some(ip) = &self.client_ip {
            headers.push((CLIENT_IP, ip.clone()));
        }
        Ok(headers)
    }
}

#[cfg(test)]
mod tests {
    use axt_proto::identity::{verify, Identity};

    use super::*;

    #[test]
    fn headers_verify_and_never_repeat_a_request_id() {
        let key = AgentKey::generate().unwrap();
        let public = key.public_pem().unwrap();
        let signer = Signer::new("mi-1".into(), "machine-1".into(), key);
        let first = signer.headers().unwrap();
        let second = signer.headers().unwrap();
        let get = |headers: &[(&str, String)], name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let id = Identity {
            instance_id: get(&first, identity::INSTANCE_ID),
            timestamp_ms: get(&first, identity::TIMESTAMP),
            request_id: get(&first, identity::REQUEST_ID),
            signature: get(&first, identity::SIGNATURE),
        };
        assert_eq!(id.instance_id, "mi-1");
        verify(&public, "machine-1", &id).unwrap();
        assert!(verify(&public, "machine-2", &id).is_err());
        assert_ne!(
            get(&first, identity::REQUEST_ID),
            get(&second, identity::REQUEST_ID)
        );
    }
}
