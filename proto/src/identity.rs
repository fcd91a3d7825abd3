//! The hybrid identity of a registered agent: every request and WebSocket upgrade carries
//! `x-acs-instance-id`, `x-acs-timestamp` (ms), `x-acs-request-id` and `x-acs-signature` =
//! base64(RSASSA-PKCS1-v1_5 with MD5 over `instanceId ‖ machineId ‖ timestamp ‖ requestId`),
//! signed with the RSA-2048 key the agent registered. The agent signs here and the gateway
//! verifies here.

use base64::Engine as _;
use md5::Md5;
use rsa::{
    pkcs1::{DecodeRsaPrivateKey as _, DecodeRsaPublicKey as _, EncodeRsaPrivateKey as _},
    pkcs8::{DecodePublicKey as _, EncodePublicKey as _, LineEnding},
    Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey,
};

/// Header: the instance id.
pub const INSTANCE_ID: &str = "x-acs-instance-id";
/// Header: milliseconds since the epoch, as decimal text.
pub const TIMESTAMP: &str = "x-acs-timestamp";
/// Header: a fresh UUID per request.
pub const REQUEST_ID: &str = "x-acs-request-id";
/// Header: the signature.
pub const SIGNATURE: &str = "x-acs-signature";

/// Why an identity could not be used.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A key that could not be made, read or written.
    #[error("bad key: {0}")]
    Key(String),
    /// A signature that is not base64.
    #[error("bad signature encoding")]
    Encoding,
    /// A signature of something else, or by another key.
    #[error("the signature does not verify")]
    Mismatch,
}

/// The four identity headers of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `x-acs-instance-id`.
    pub instance_id: String,
    /// `x-acs-timestamp`.
    pub timestamp_ms: String,
    /// `x-acs-request-id`.
    pub request_id: String,
    /// `x-acs-signature`, base64.
    pub signature: String,
}

/// The signed text: plain concatenation, no separators.
pub fn signed_text(
    instance_id: &str,
    machine_id: &str,
    timestamp_ms: &str,
    request_id: &str,
) -> String {
    format!("{instance_id}{machine_id}{timestamp_ms}{request_id}")
}

/// An agent's key pair.
pub struct AgentKey(RsaPrivateKey);

impl AgentKey {
    /// A new RSA-2048 key.
    pub fn generate() -> Result<Self, IdentityError> {
        RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
            .map(Self)
            .map_err(|e| IdentityError::Key(e.to_string()))
    }

    /// Reads a PKCS#1 `RSA PRIVATE KEY` PEM (the stock agent's `pri-key` file format).
    pub fn from_pem(pem: &str) -> Result<Self, IdentityError> {
        RsaPrivateKey::from_pkcs1_pem(pem)
            .map(Self)
            .map_err(|e| IdentityError::Key(e.to_string()))
    }

    /// The private key as PKCS#1 PEM.
    pub fn private_pem(&self) -> Result<String, IdentityError> {
        Ok(self
            .0
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(|e| IdentityError::Key(e.to_string()))?
            .to_string())
    }

    /// The public key as PKIX `PUBLIC KEY` PEM (what registration sends, base64-wrapped).
    pub fn public_pem(&self) -> Result<String, IdentityError> {
        self.0
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| IdentityError::Key(e.to_string()))
    }

    /// Signs one request's identity.
    pub fn sign(
        &self,
        instance_id: &str,
        machine_id: &str,
        timestamp_ms: &str,
        request_id: &str,
    ) -> Result<Identity, IdentityError> {
        let digest = md5_digest(&signed_text(
            instance_id,
            machine_id,
            timestamp_ms,
            request_id,
        ));
        let signature = self
            .0
            .sign(Pkcs1v15Sign::new::<Md5>(), &digest)
            .map_err(|e| IdentityError::Key(e.to_string()))?;
        Ok(Identity {
            instance_id: instance_id.to_owned(),
            timestamp_ms: timestamp_ms.to_owned(),
            request_id: request_id.to_owned(),
            signature: base64::engine::general_purpose::STANDARD.encode(signature),
        })
    }
}

impl AgentKey {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message` (the end-to-end transcript,
    /// docs/encryption.md §3): the raw 256-byte signature.
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
        use sha2::Digest as _;
        self.0
            .sign(
                Pkcs1v15Sign::new::<sha2::Sha256>(),
                &sha2::Sha256::digest(message),
            )
            .map_err(|e| IdentityError::Key(e.to_string()))
    }
}

/// Checks an RSASSA-PKCS1-v1_5 SHA-256 `signature` over `message` with a public key PEM, PKIX
/// `PUBLIC KEY` (what registration carries) or PKCS#1 `RSA PUBLIC KEY`.
pub fn verify_sha256(
    public_key_pem: &str,
    message: &[u8],
    signature: &[u8],
) -> Result<(), IdentityError> {
    use sha2::Digest as _;
    let pem = public_key_pem.trim();
    let key = RsaPublicKey::from_public_key_pem(pem)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
        .map_err(|e| IdentityError::Key(e.to_string()))?;
    key.verify(
        Pkcs1v15Sign::new::<sha2::Sha256>(),
        &sha2::Sha256::digest(message),
        signature,
    )
    .map_err(|_| IdentityError::Mismatch)
}

/// Verifies `identity` against the registered public key PEM and machine id.
pub fn verify(
    public_key_pem: &str,
    machine_id: &str,
    identity: &Identity,
) -> Result<(), IdentityError> {
    let key = RsaPublicKey::from_public_key_pem(public_key_pem.trim())
        .map_err(|e| IdentityError::Key(e.to_string()))?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(identity.signature.trim())
        .map_err(|_| IdentityError::Encoding)?;
    let digest = md5_digest(&signed_text(
        &identity.instance_id,
        machine_id,
        &identity.timestamp_ms,
        &identity.request_id,
    ));
    key.verify(Pkcs1v15Sign::new::<Md5>(), &digest, &signature)
        .map_err(|_| IdentityError::Mismatch)
}

fn md5_digest(text: &str) -> Vec<u8> {
    use md5::Digest as _;
    Md5::digest(text.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vector {
        public_key_pem: String,
        instance_id: String,
        machine_id: String,
        timestamp_ms: String,
        request_id: String,
        signed_string: String,
        md5_hex: String,
        signature_base64: String,
    }

    fn vector() -> Vector {
        let mut v: Vector =
            serde_json::from_str(include_str!("../tests/data/agent-identity-vector.json")).unwrap();
        // The file's PEM field carries text before the key; keep the key block only.
        let start = v
            .public_key_pem
            .rfind("-----BEGIN PUBLIC KEY-----")
            .unwrap();
        v.public_key_pem = v.public_key_pem[start..].to_owned();
        v
    }

    #[test]
    fn the_stock_agents_signature_verifies() {
        let v = vector();
        assert_eq!(
            signed_text(
                &v.instance_id,
                &v.machine_id,
                &v.timestamp_ms,
                &v.request_id
            ),
            v.signed_string
        );
        assert_eq!(hex::encode(md5_digest(&v.signed_string)), v.md5_hex);
        let identity = Identity {
            instance_id: v.instance_id.clone(),
            timestamp_ms: v.timestamp_ms.clone(),
            request_id: v.request_id.clone(),
            signature: v.signature_base64.clone(),
        };
        verify(&v.public_key_pem, &v.machine_id, &identity).unwrap();
        let tampered = Identity {
            timestamp_ms: "1795983198442".into(),
            ..identity.clone()
        };
        assert!(matches!(
            verify(&v.public_key_pem, &v.machine_id, &tampered),
            Err(IdentityError::Mismatch)
        ));
        assert!(verify(&v.public_key_pem, "other-machine", &identity).is_err());
    }

    #[test]
    fn a_generated_key_signs_what_verify_accepts() {
        let key = AgentKey::generate().unwrap();
        let again = AgentKey::from_pem(&key.private_pem().unwrap()).unwrap();
        let id = again.sign("mi-1", "m-1", "1700000000000", "r-1").unwrap();
        assert_eq!(id.signature.len(), 344);
        verify(&key.public_pem().unwrap(), "m-1", &id).unwrap();
    }
}
