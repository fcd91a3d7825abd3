//! KMS keys and the ciphertext blobs they make. A key's material is opened only here, to seal or
//! open one blob, and is never handed out: callers get a [`KmsKey`], which has none.
//!
//! A blob is `base64(key id, 36 ASCII bytes | nonce, 24 bytes | XChaCha20-Poly1305 ciphertext
//! and tag)`, shaped like the real service's (which starts with a 36-byte UUID too) and
//! self-describing: Decrypt takes no KeyId. The associated data binds it to its key and to the
//! EncryptionContext it was made with, so it opens under no other key, with no other context,
//! and not at all once altered.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use chacha20poly1305::{
    aead::{Aead as _, KeyInit as _, Payload},
    Key, XChaCha20Poly1305, XNonce,
};
use rand::{rngs::OsRng, RngCore as _};

use super::{now, Store};

/// Length of a KeyId (a hyphenated UUID), the blob's prefix.
pub const KEY_ID_LEN: usize = 36;
/// XChaCha20's nonce: random nonces under one key never collide in practice.
const NONCE_LEN: usize = 24;
/// Poly1305's tag.
const TAG_LEN: usize = 16;
/// Names the blob scheme in the associated data, should it ever change.
const BLOB_SCHEME: &str = "axtlab-kms-blob-v1";
/// The columns of a [`KmsKey`]: everything but the material.
const COLUMNS: &str = "id, account_id, region_id, description, key_spec, key_usage, origin, \
    protection_level, state, version_id, creator, created_at, delete_at";

/// `KeyState`: whether the key may be used, per the service's state table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl KeyState {
    /// The word as the API and the database spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "Enabled",
            Self::Disabled => "Disabled",
            Self::PendingDeletion => "PendingDeletion",
        }
    }
}

impl TryFrom<String> for KeyState {
    type Error = String;

    fn try_from(word: String) -> Result<Self, String> {
        match word.as_str() {
            "Enabled" => Ok(Self::Enabled),
            "Disabled" => Ok(Self::Disabled),
            "PendingDeletion" => Ok(Self::PendingDeletion),
            _ => Err(format!("unknown key state {word:?}")),
        }
    }
}

/// A customer master key, without its material.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KmsKey {
    /// The KeyId.
    pub id: String,
    pub account_id: String,
    pub region_id: String,
    pub description: String,
    pub key_spec: String,
    pub key_usage: String,
    pub origin: String,
    pub protection_level: String,
    #[sqlx(try_from = "String")]
    pub state: KeyState,
    /// The only key version, the `PrimaryKeyVersion`.
    pub version_id: String,
    /// The account or RAM user id that created it.
    pub creator: String,
    pub created_at: i64,
    /// When the key is deleted, while it is pending deletion.
    pub delete_at: Option<i64>,
}

/// What CreateKey records.
pub struct NewKmsKey<'a> {
    pub account_id: &'a str,
    pub region_id: &'a str,
    pub description: &'a str,
    pub key_spec: &'a str,
    pub key_usage: &'a str,
    pub origin: &'a str,
    pub protection_level: &'a str,
    pub creator: &'a str,
}

/// The KeyId a blob names, read without opening it; `None` when it is no blob of this scheme.
pub fn blob_key_id(blob: &str) -> Option<String> {
    let bytes = STANDARD.decode(blob.trim()).ok()?;
    if bytes.len() < KEY_ID_LEN + NONCE_LEN + TAG_LEN {
        return None;
    }
    let id = std::str::from_utf8(&bytes[..KEY_ID_LEN]).ok()?;
    uuid::Uuid::try_parse(id).ok()?;
    Some(id.to_owned())
}

/// The associated data of a blob of `key_id` made with `context` (canonical, or empty).
fn associated_data(key_id: &str, context: &str) -> Vec<u8> {
    [BLOB_SCHEME, key_id, context].join("\0").into_bytes()
}

impl Store {
    /// CreateKey: a new Enabled key with 32 fresh random bytes of material, sealed at rest.
    pub async fn create_kms_key(&self, new: &NewKmsKey<'_>) -> sqlx::Result<KmsKey> {
        let id = uuid::Uuid::new_v4().to_string();
        let mut material = [0u8; 32];
        OsRng.fill_bytes(&mut material);
        let sealed = self.sealer.seal(&id, &hex::encode(material));
        sqlx::query(
            "INSERT INTO kms_keys (id, account_id, region_id, description, key_spec, key_usage,
                 origin, protection_level, state, version_id, material, creator, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'Enabled', ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(new.account_id)
        .bind(new.region_id)
        .bind(new.description)
        .bind(new.key_spec)
        .bind(new.key_usage)
        .bind(new.origin)
        .bind(new.protection_level)
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(sealed)
        .bind(new.creator)
        .bind(now())
        .execute(&self.pool)
        .await?;
        let key = self.kms_key(new.account_id, new.region_id, &id).await?;
        key.ok_or(sqlx::Error::RowNotFound)
    }

    /// The account's key `id` in `region`; `None` when there is none, or its deletion window
    /// has passed (the key is deleted then, as the service deletes it).
    pub async fn kms_key(
        &self,
        account_id: &str,
        region_id: &str,
        id: &str,
    ) -> sqlx::Result<Option<KmsKey>> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM kms_keys WHERE id = ? AND account_id = ? AND region_id = ?
             AND (delete_at IS NULL OR delete_at > ?)"
        ))
        .bind(id)
        .bind(account_id)
        .bind(region_id)
        .bind(now())
        .fetch_optional(&self.pool)
        .await
    }

    /// ListKeys: a page of the account's keys in `region`, in the order they were created, and
    /// how many there are.
    pub async fn kms_keys(
        &self,
        account_id: &str,
        region_id: &str,
        offset: i64,
        limit: i64,
    ) -> sqlx::Result<(Vec<KmsKey>, i64)> {
        const LIVE: &str = "account_id = ? AND region_id = ?
             AND (delete_at IS NULL OR delete_at > ?)";
        let at = now();
        let total = sqlx::query_scalar(&format!("SELECT count(*) FROM kms_keys WHERE {LIVE}"))
            .bind(account_id)
            .bind(region_id)
            .bind(at)
            .fetch_one(&self.pool)
            .await?;
        let keys = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM kms_keys WHERE {LIVE}
             ORDER BY created_at, rowid LIMIT ? OFFSET ?"
        ))
        .bind(account_id)
        .bind(region_id)
        .bind(at)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((keys, total))
    }

    /// Moves `key` to state `to` (with `delete_at` for PendingDeletion) if it is still in one of
    /// `from` (no transition of the state table starts from more than two; name one twice for
    /// one): the check and the change are one statement, so two racing calls cannot both pass
    /// a check the other invalidates. Returns whether it moved.
    pub async fn transition_kms_key(
        &self,
        key: &KmsKey,
        [first, second]: [KeyState; 2],
        to: KeyState,
        delete_at: Option<i64>,
    ) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "UPDATE kms_keys SET state = ?, delete_at = ?
             WHERE id = ? AND account_id = ? AND state IN (?, ?)",
        )
        .bind(to.as_str())
        .bind(delete_at)
        .bind(&key.id)
        .bind(&key.account_id)
        .bind(first.as_str())
        .bind(second.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Seals `plaintext` under `key` with `context` (canonical EncryptionContext, or empty).
    pub async fn seal_with_kms_key(
        &self,
        key: &KmsKey,
        plaintext: &[u8],
        context: &str,
    ) -> sqlx::Result<String> {
        let cipher = self.kms_cipher(&key.id).await?;
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let aad = associated_data(&key.id, context);
        let payload = Payload {
            msg: plaintext,
            aad: &aad,
        };
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("XChaCha20-Poly1305 seals any message shorter than 256 GiB");
        Ok(STANDARD.encode([key.id.as_bytes(), &nonce, &sealed].concat()))
    }

    /// Opens a blob of `key` made with `context`; `None` when it is not one (another key's,
    /// another context's, altered, or no blob at all).
    pub async fn open_with_kms_key(
        &self,
        key: &KmsKey,
        blob: &str,
        context: &str,
    ) -> sqlx::Result<Option<Vec<u8>>> {
        let Some(bytes) = STANDARD.decode(blob.trim()).ok() else {
            return Ok(None);
        };
        if bytes.len() < KEY_ID_LEN + NONCE_LEN + TAG_LEN || !bytes.starts_with(key.id.as_bytes()) {
            return Ok(None);
        }
        let (nonce, sealed) = bytes[KEY_ID_LEN..].split_at(NONCE_LEN);
        let cipher = self.kms_cipher(&key.id).await?;
        let aad = associated_data(&key.id, context);
        let payload = Payload {
            msg: sealed,
            aad: &aad,
        };
        Ok(cipher.decrypt(XNonce::from_slice(nonce), payload).ok())
    }

    /// The cipher of key `id`'s material. The material opened when it was sealed, so a failure
    /// here is a row altered since, or another data directory's key file: a decode error.
    async fn kms_cipher(&self, id: &str) -> sqlx::Result<XChaCha20Poly1305> {
        let sealed: String = sqlx::query_scalar("SELECT material FROM kms_keys WHERE id = ?")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        let decode = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
        let opened = self
            .sealer
            .open(id, &sealed)
            .map_err(|e| decode(Box::new(e)))?;
        let material: [u8; 32] = hex::decode(opened)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                decode(format!("the material of KMS key {id} is not 32 bytes").into())
            })?;
        Ok(XChaCha20Poly1305::new(Key::from_slice(&material)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_names_its_key_only_when_well_formed() {
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let blob = STANDARD.encode([id.as_bytes(), &[0u8; NONCE_LEN + TAG_LEN]].concat());
        assert_eq!(blob_key_id(&blob).as_deref(), Some(id));
        let short = STANDARD.encode([id.as_bytes(), &[0u8; NONCE_LEN]].concat());
        assert_eq!(blob_key_id(&short), None);
        let not_uuid = STANDARD.encode([[b'x'; KEY_ID_LEN].as_slice(), &[0u8; 64]].concat());
        assert_eq!(blob_key_id(&not_uuid), None);
        assert_eq!(blob_key_id("not base64!"), None);
    }
}
