//! The data key of a Mode `Kms` session: KMS `GenerateDataKey` (version 2016-01-20), signed
//! like every other call with the same credentials, 32 bytes for AES-256 / the HKDF input.

use anyhow::Context as _;
use axt_proto::{e2e::compat, openapi::Params};

use crate::api::{ApiClient, Product};

/// A data key: the blob the agent has decrypted, and the plaintext only the two ends hold.
pub struct DataKey {
    /// `CiphertextBlob`, sent as it is in ClientKeyExchange.
    pub ciphertext_blob: String,
    /// `Plaintext`, base64-decoded.
    pub plaintext: [u8; 32],
}

impl DataKey {
    /// A data key from `GenerateDataKey`'s answer.
    pub fn from_answer(answer: &serde_json::Value) -> anyhow::Result<Self> {
        let field = |name: &str| {
            answer[name]
                .as_str()
                .filter(|v| !v.is_empty())
                .with_context(|| format!("GenerateDataKey answered without {name}"))
        };
        let ciphertext_blob = field("CiphertextBlob")?.to_owned();
        let plaintext = compat::kms_key(field("Plaintext")?)
            .context("GenerateDataKey answered a Plaintext that is not base64 of 32 bytes")?;
        Ok(Self {
            ciphertext_blob,
            plaintext,
        })
    }
}

// Never printed: the plaintext is the session's key (or half of it).
impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("ciphertext_blob", &self.ciphertext_blob)
            .finish_non_exhaustive()
    }
}

/// Asks KMS for a new 32-byte data key under `key_id`.
pub async fn generate_data_key(client: &ApiClient, key_id: &str) -> anyhow::Result<DataKey> {
    let mut params = Params::new();
    params.insert("KeyId".to_owned(), key_id.to_owned());
    params.insert("NumberOfBytes".to_owned(), "32".to_owned());
    let answer = client
        .call_to(Product::Kms, "GenerateDataKey", params)
        .await?;
    DataKey::from_answer(&answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_gives_blob_and_key_and_the_key_is_never_shown() {
        let answer = serde_json::json!({
            "CiphertextBlob": "blob==",
            "Plaintext": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "KeyId": "k",
        });
        let key = DataKey::from_answer(&answer).unwrap();
        assert_eq!(key.ciphertext_blob, "blob==");
        assert_eq!(key.plaintext[31], 31);
        assert!(!format!("{key:?}").contains("AAEC"));
        let short = serde_json::json!({"CiphertextBlob": "b", "Plaintext": "AAEC"});
        assert!(DataKey::from_answer(&short).is_err());
        assert!(DataKey::from_answer(&serde_json::json!({"Plaintext": "x"})).is_err());
    }
}
