//! Identifiers and secrets: how they look (like the real service's) and how they are hashed.

use rand::{distributions::Alphanumeric, Rng as _, RngCore as _};
use sha2::{Digest as _, Sha256};

/// `n` random lower-case letters and digits.
fn lower_alnum(n: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// A request id: an upper-case UUID, as in every real response.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_ascii_uppercase()
}

/// A session id such as `s-hz023od0x9a1b2c3`.
pub fn session_id() -> String {
    format!("s-{}", lower_alnum(18))
}

/// A channel id: `c-` and 24 characters, within the 32 bytes the agent framing can hold.
pub fn channel_id() -> String {
    format!("c-{}", lower_alnum(24))
}

/// A simulated ECS instance id (`i-…`) or managed instance id (`mi-…`).
pub fn instance_id(managed: bool) -> String {
    if managed {
        format!("mi-{}", lower_alnum(17))
    } else {
        format!("i-{}", lower_alnum(20))
    }
}

/// A SecurityToken: 128 random bits written like a UUID (`8-4-4-4-12` hex digits).
pub fn security_token() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// An ActivationCode: `a-` and 30 random characters (≥ 178 bits).
pub fn activation_code() -> String {
    let body: String = rand::thread_rng()
        .sample_iter(Alphanumeric)
        .take(30)
        .map(char::from)
        .collect();
    format!("a-{body}")
}

/// An AccessKeyId (`LTAI` + 20) and its secret (30 characters).
pub fn access_key_pair() -> (String, String) {
    let mut rng = rand::thread_rng();
    let id: String = (&mut rng)
        .sample_iter(Alphanumeric)
        .take(20)
        .map(char::from)
        .collect();
    let secret: String = rng
        .sample_iter(Alphanumeric)
        .take(30)
        .map(char::from)
        .collect();
    (format!("LTAI{id}"), secret)
}

/// `n` random decimal digits, the first not 0.
fn digits(n: usize) -> String {
    let mut rng = rand::thread_rng();
    let first = rng.gen_range(1..10u8);
    let rest: String = (1..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect();
    format!("{first}{rest}")
}

/// A 16-digit account id.
pub fn account_id() -> String {
    digits(16)
}

/// A RAM UserId: 16 digits, like `1227489245380721`.
pub fn ram_user_id() -> String {
    digits(16)
}

/// A RAM RoleId: 19 digits, like `3019487736540851234`.
pub fn ram_role_id() -> String {
    digits(19)
}

/// A RAM GroupId: `g-` and 16 letters and digits, like `g-FpMEHiMysofp1234`.
pub fn ram_group_id() -> String {
    let body: String = rand::thread_rng()
        .sample_iter(Alphanumeric)
        .take(16)
        .map(char::from)
        .collect();
    format!("g-{body}")
}

/// How tokens and codes are stored: hex SHA-256. They carry ≥ 128 random bits, so a plain hash
/// is enough; a slow KDF protects low-entropy passwords, which these are not.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two secrets (or their hashes) in constant time.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_real_shapes() {
        assert!(session_id().starts_with("s-"));
        assert!(channel_id().len() <= 32);
        let token = security_token();
        assert_eq!(token.len(), 36);
        assert_eq!(token.matches('-').count(), 4);
        assert_ne!(security_token(), token);
        let (id, secret) = access_key_pair();
        assert!(id.starts_with("LTAI") && id.len() == 24 && secret.len() == 30);
        assert_eq!(account_id().len(), 16);
        let user = ram_user_id();
        assert!(user.len() == 16 && user.bytes().all(|b| b.is_ascii_digit()));
        let role = ram_role_id();
        assert!(role.len() == 19 && !role.starts_with('0'));
        let group = ram_group_id();
        assert!(group.starts_with("g-") && group.len() == 18);
    }

    #[test]
    fn constant_time_comparison_agrees_with_equality() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
    }
}
