//! The stock agent's compatibility suites (docs/encryption.md §2): P-256 ECDH or a KMS data
//! key, then AES-256-CBC with PKCS#7 under one IV for every frame, both directions, no MAC.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut as _, BlockEncryptMut as _, KeyIvInit};
use p256::{elliptic_curve::sec1::ToEncodedPoint as _, PublicKey, SecretKey};

use super::json::unb64;

/// Why a compatibility-suite operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompatError {
    /// A peer key that is not an uncompressed SEC1 point on P-256 (65 bytes, `0x04`…), the
    /// only encoding Go's `crypto/ecdh` accepts: the agent answers `ClientPublicKeyDecodeError`.
    #[error("not an uncompressed P-256 point")]
    BadPublicKey,
    /// A private scalar that is zero or not below the group order.
    #[error("not a P-256 private key")]
    BadPrivateKey,
    /// A KMS plaintext that is not base64 of 32 bytes: the agent answers `KMSDecryptError`.
    #[error("the KMS data key is not base64 of 32 bytes")]
    BadDataKey,
    /// A ciphertext that is not whole blocks, or whose padding is not PKCS#7.
    #[error("AES-CBC ciphertext does not decrypt (length or padding)")]
    BadCiphertext,
}

/// An ephemeral P-256 key pair for `AXT_ECDHE_WITH_AES_256_CBC`.
pub struct EcdhKeyPair(SecretKey);

impl EcdhKeyPair {
    /// A fresh key pair.
    pub fn generate() -> Self {
        EcdhKeyPair(SecretKey::random(&mut rand::rngs::OsRng))
    }

    /// A key pair of a fixed 32-byte big-endian scalar (test vectors).
    pub fn from_scalar(scalar: &[u8; 32]) -> Result<Self, CompatError> {
        SecretKey::from_bytes(scalar.into())
            .map(EcdhKeyPair)
            .map_err(|_| CompatError::BadPrivateKey)
    }

    /// The public key as an uncompressed SEC1 point, what `clientPub`/`agentPub` carry.
    pub fn public_sec1(&self) -> [u8; 65] {
        let point = self.0.public_key().to_encoded_point(false);
        let mut out = [0u8; 65];
        // An uncompressed point of a valid key is always 65 bytes.
        out.copy_from_slice(point.as_bytes());
        out
    }

    /// The raw shared secret (the x-coordinate, 32 bytes): the AES-256 key, as Go's
    /// `crypto/ecdh` computes it.
    pub fn shared(&self, peer_sec1: &[u8]) -> Result<[u8; 32], CompatError> {
        if peer_sec1.len() != 65 || peer_sec1[0] != 0x04 {
            return Err(CompatError::BadPublicKey);
        }
        let peer = PublicKey::from_sec1_bytes(peer_sec1).map_err(|_| CompatError::BadPublicKey)?;
        let shared = p256::ecdh::diffie_hellman(self.0.to_nonzero_scalar(), peer.as_affine());
        let mut out = [0u8; 32];
        out.copy_from_slice(shared.raw_secret_bytes());
        Ok(out)
    }
}

impl std::fmt::Debug for EcdhKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EcdhKeyPair(..)")
    }
}

/// The AES-256 key of `AXT_KMS_WITH_AES_256_CBC`: KMS's `Plaintext` (base64) decoded.
pub fn kms_key(plaintext_base64: &str) -> Result<[u8; 32], CompatError> {
    unb64(plaintext_base64)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or(CompatError::BadDataKey)
}

/// AES-256-CBC with PKCS#7 under a fixed key and IV: each frame is encrypted on its own, from
/// the same IV (that is the stock agent's scheme, weak as it is). Never give it an empty
/// (keep-alive) payload: those stay in the clear.
#[derive(Clone)]
pub struct CbcCipher {
    key: [u8; 32],
    iv: [u8; 16],
}

impl CbcCipher {
    /// The cipher of a session: the agreed key and the ClientHello's IV.
    pub fn new(key: [u8; 32], iv: [u8; 16]) -> Self {
        CbcCipher { key, iv }
    }

    /// One frame's ciphertext: always a non-empty multiple of 16 bytes.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        cbc::Encryptor::<aes::Aes256>::new(&self.key.into(), &self.iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext)
    }

    /// One frame's plaintext. Without a MAC, a wrong key shows only as bad padding (most of
    /// the time): this is no integrity check.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, CompatError> {
        if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
            return Err(CompatError::BadCiphertext);
        }
        cbc::Decryptor::<aes::Aes256>::new(&self.key.into(), &self.iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
            .map_err(|_| CompatError::BadCiphertext)
    }
}

impl std::fmt::Debug for CbcCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CbcCipher(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ends_agree_on_the_key() {
        let (a, b) = (EcdhKeyPair::generate(), EcdhKeyPair::generate());
        let k1 = a.shared(&b.public_sec1()).unwrap();
        assert_eq!(k1, b.shared(&a.public_sec1()).unwrap());
        assert_eq!(a.public_sec1()[0], 4);
    }

    #[test]
    fn bad_points_are_refused() {
        let a = EcdhKeyPair::generate();
        let good = EcdhKeyPair::generate().public_sec1();
        assert_eq!(a.shared(&good[..33]), Err(CompatError::BadPublicKey));
        let compressed = EcdhKeyPair::generate()
            .0
            .public_key()
            .to_encoded_point(true);
        assert_eq!(
            a.shared(compressed.as_bytes()),
            Err(CompatError::BadPublicKey)
        );
        let mut off_curve = good;
        off_curve[64] ^= 1;
        assert_eq!(a.shared(&off_curve), Err(CompatError::BadPublicKey));
        assert_eq!(a.shared(&[]), Err(CompatError::BadPublicKey));
        assert!(EcdhKeyPair::from_scalar(&[0; 32]).is_err());
        assert!(EcdhKeyPair::from_scalar(&[0xff; 32]).is_err());
    }

    #[test]
    fn cbc_round_trips_and_rejects_bad_input() {
        let c = CbcCipher::new([7; 32], [9; 16]);
        for len in [0, 1, 15, 16, 17, 1000] {
            let p = vec![b'x'; len];
            let ct = c.encrypt(&p);
            assert_eq!(ct.len(), (len / 16 + 1) * 16);
            assert_eq!(c.decrypt(&ct).unwrap(), p);
        }
        // One IV for every frame: equal plaintexts give equal ciphertexts (the known weakness).
        assert_eq!(c.encrypt(b"ls\r"), c.encrypt(b"ls\r"));
        let ct = c.encrypt(b"hello");
        assert_eq!(c.decrypt(&ct[..15]), Err(CompatError::BadCiphertext));
        assert_eq!(c.decrypt(&[]), Err(CompatError::BadCiphertext));
        // A block whose last byte is 0 never has valid padding.
        let raw = cbc::Encryptor::<aes::Aes256>::new(&[7; 32].into(), &[9; 16].into())
            .encrypt_padded_vec_mut::<aes::cipher::block_padding::NoPadding>(&[0u8; 16]);
        assert_eq!(c.decrypt(&raw), Err(CompatError::BadCiphertext));
        let wrong = CbcCipher::new([8; 32], [9; 16]);
        assert_ne!(wrong.decrypt(&ct).ok(), Some(b"hello".to_vec()));
    }

    #[test]
    fn kms_keys_are_base64_of_32_bytes() {
        let k = kms_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        assert_eq!(k[31], 31);
        assert_eq!(kms_key("AAEC"), Err(CompatError::BadDataKey));
        assert_eq!(kms_key("!!"), Err(CompatError::BadDataKey));
    }
}
