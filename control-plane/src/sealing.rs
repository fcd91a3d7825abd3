//! AccessKey secrets at rest. The server must compute HMACs with them, so they cannot be hashed
//! like tokens: they are sealed with XChaCha20-Poly1305 under a 32-byte key of the data
//! directory (`secrets.key`, mode 0600), so that a copy of the database alone — a backup, a
//! stolen volume snapshot — gives no one a key to sign with.
//!
//! A sealed value is `v1:` + base64(nonce ‖ ciphertext ‖ tag), with the AccessKeyId as
//! associated data: a ciphertext moved to another key's row does not open.

use std::{fs, io::ErrorKind, os::unix::fs::PermissionsExt as _, path::Path};

use anyhow::Context as _;
use axt_kit::files::write_private;
use base64::{engine::general_purpose::STANDARD, Engine as _};
use chacha20poly1305::{
    aead::{Aead as _, KeyInit as _, Payload},
    Key, XChaCha20Poly1305, XNonce,
};
use rand::{rngs::OsRng, RngCore as _};

/// Name of the key file, inside the data directory.
pub const KEY_FILE: &str = "secrets.key";
/// The prefix of a sealed value; the version names the scheme, should it ever change.
const PREFIX: &str = "v1:";
/// XChaCha20's nonce: 192 bits, so random nonces never collide in practice.
const NONCE_LEN: usize = 24;

/// Why a stored value did not open.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Not `v1:` and base64 of at least a nonce and a tag.
    #[error("the stored secret is not a sealed value")]
    Malformed,
    /// The authentication tag does not verify: another key sealed it, or it belongs to
    /// another AccessKey, or it was altered.
    #[error("the key file does not open the stored secret")]
    WrongKey,
}

/// Seals and opens secrets under the data directory's key.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer under `key`.
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// Reads the key file (64 hex digits); `None` when there is none.
    pub fn load(path: &Path) -> anyhow::Result<Option<Self>> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let key: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .with_context(|| format!("{} is not a key of 64 hex digits", path.display()))?;
        // A copy restored from a backup may have come back world-readable.
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .with_context(|| format!("making {} private", path.display()))?;
        Ok(Some(Self::from_key(&key)))
    }

    /// Creates the key file with a new random key, unless another process just did: then its
    /// key is the one. Overwriting a key that sealed something would lose those secrets, so
    /// the file is published with a hard link, which never replaces an existing file.
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        let name = path
            .file_name()
            .with_context(|| format!("{} names no file", path.display()))?;
        let staged = path.with_file_name(format!(
            ".{}.{}",
            name.to_string_lossy(),
            uuid::Uuid::new_v4().simple()
        ));
        write_private(&staged, hex::encode(key).as_bytes())?;
        let published = fs::hard_link(&staged, path);
        let _ = fs::remove_file(&staged);
        match published {
            Ok(()) => Ok(Self::from_key(&key)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Self::load(path)?
                .with_context(|| format!("{} vanished while being created", path.display())),
            Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }

    /// Whether a stored value is sealed (else it is a secret in clear, from before sealing).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// Seals the secret of AccessKey `key_id`.
    pub fn seal(&self, key_id: &str, secret: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: secret.as_bytes(),
            aad: key_id.as_bytes(),
        };
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("XChaCha20-Poly1305 seals any message shorter than 256 GiB");
        format!(
            "{PREFIX}{}",
            STANDARD.encode([&nonce[..], &sealed].concat())
        )
    }

    /// Opens a value [`Sealer::seal`] made for AccessKey `key_id`.
    pub fn open(&self, key_id: &str, stored: &str) -> Result<String, OpenError> {
        let bytes = stored
            .strip_prefix(PREFIX)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .filter(|b| b.len() >= NONCE_LEN)
            .ok_or(OpenError::Malformed)?;
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let payload = Payload {
            msg: sealed,
            aad: key_id.as_bytes(),
        };
        let clear = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| OpenError::WrongKey)?;
        String::from_utf8(clear).map_err(|_| OpenError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-secret-of-thirty-characters0";

    #[test]
    fn a_sealed_secret_opens_only_for_its_key_id_and_key() {
        let sealer = Sealer::from_key(&[7; 32]);
        let sealed = sealer.seal("LTAIone", SECRET);
        assert!(Sealer::is_sealed(&sealed) && !sealed.contains(SECRET));
        assert_ne!(sealed, sealer.seal("LTAIone", SECRET), "nonces are fresh");
        assert_eq!(sealer.open("LTAIone", &sealed).as_deref(), Ok(SECRET));
        assert_eq!(sealer.open("LTAItwo", &sealed), Err(OpenError::WrongKey));
        let other = Sealer::from_key(&[8; 32]);
        assert_eq!(other.open("LTAIone", &sealed), Err(OpenError::WrongKey));
        assert_eq!(sealer.open("LTAIone", SECRET), Err(OpenError::Malformed));
        assert_eq!(sealer.open("LTAIone", "v1:AAAA"), Err(OpenError::Malformed));
    }

    #[test]
    fn the_key_file_is_private_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        assert!(Sealer::load(&path).unwrap().is_none());
        let first = Sealer::create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let sealed = first.seal("LTAIone", SECRET);
        // A second creation (another process starting at the same time) adopts the key.
        let second = Sealer::create(&path).unwrap();
        assert_eq!(second.open("LTAIone", &sealed).as_deref(), Ok(SECRET));
        let loaded = Sealer::load(&path).unwrap().unwrap();
        assert_eq!(loaded.open("LTAIone", &sealed).as_deref(), Ok(SECRET));
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no staging left"
        );
        fs::write(&path, "short").unwrap();
        let err = Sealer::load(&path).unwrap_err().to_string();
        assert!(err.contains("not a key of 64 hex digits"), "{err}");
    }

    #[test]
    fn debug_shows_no_key() {
        let shown = format!("{:?}", Sealer::from_key(&[0xab; 32]));
        assert_eq!(shown, "Sealer { .. }");
    }
}
