//! STS temporary credentials: issued by AssumeRole, looked up by every call they sign. The
//! secret is sealed like an AccessKey's (the `STS.…` id is its associated data); the
//! SecurityToken is kept only as its SHA-256, since the server never needs it back.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use rand::{distributions::Alphanumeric, Rng as _, RngCore as _};
use secrecy::SecretString;

use super::{now, Store};
use crate::ids;

/// Every STS AccessKeyId starts so, as the real service's do.
pub const STS_KEY_PREFIX: &str = "STS.";
/// Every SecurityToken starts so, like the real service's (`CAIS…`).
const TOKEN_PREFIX: &str = "CAIS";
/// Random bytes behind a token: 768 bits, written as 128 base64 characters.
const TOKEN_BYTES: usize = 96;

/// A credential to issue: who assumed which role, for how long.
#[derive(Debug, Clone)]
pub struct NewStsCredential {
    /// The account that owns the role (the credential acts in it).
    pub account_id: String,
    pub role_id: String,
    /// The role's name as stored.
    pub role_name: String,
    pub session_name: String,
    /// AssumeRole's `Policy`, already validated.
    pub session_policy: Option<String>,
    /// The ARN of the identity that called AssumeRole, for the record.
    pub caller_arn: String,
    pub expires_at: i64,
}

/// What AssumeRole hands out, in clear, once: nothing here is kept but hashed or sealed.
#[derive(Debug)]
pub struct IssuedStsCredential {
    pub access_key_id: String,
    pub secret: SecretString,
    pub security_token: SecretString,
    pub expires_at: i64,
}

/// A stored credential, its secret opened for verifying a signature.
#[derive(Debug, Clone)]
pub struct StsCredential {
    pub access_key_id: String,
    /// Only HMAC computations read it; `{:?}` shows it redacted.
    pub secret: SecretString,
    /// Hex SHA-256 of the SecurityToken.
    pub token_hash: String,
    pub account_id: String,
    pub role_id: String,
    pub role_name: String,
    pub session_name: String,
    pub session_policy: Option<String>,
    pub expires_at: i64,
    pub revoked: bool,
}

/// A row of `sts_credentials` as stored.
#[derive(sqlx::FromRow)]
struct StoredCredential {
    access_key_id: String,
    secret: String,
    token_hash: String,
    account_id: String,
    role_id: String,
    role_name: String,
    session_name: String,
    session_policy: Option<String>,
    expires_at: i64,
    revoked: bool,
}

/// Whether `token` has the shape of a SecurityToken this control plane issues.
pub fn is_security_token(token: &str) -> bool {
    token
        .strip_prefix(TOKEN_PREFIX)
        .and_then(|b64| STANDARD.decode(b64).ok())
        .is_some_and(|bytes| bytes.len() == TOKEN_BYTES)
}

fn alphanumeric(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

impl Store {
    /// Issues a credential: a fresh `STS.…` id, secret and SecurityToken.
    pub async fn issue_sts_credential(
        &self,
        new: &NewStsCredential,
    ) -> sqlx::Result<IssuedStsCredential> {
        let access_key_id = format!("{STS_KEY_PREFIX}{}", alphanumeric(25));
        let secret = alphanumeric(44);
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::thread_rng().fill_bytes(&mut bytes);
        let token = format!("{TOKEN_PREFIX}{}", STANDARD.encode(bytes));
        sqlx::query(
            "INSERT INTO sts_credentials (access_key_id, secret, token_hash, account_id, role_id,
                 role_name, session_name, session_policy, caller_arn, expires_at, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&access_key_id)
        .bind(self.sealer.seal(&access_key_id, &secret))
        .bind(ids::hash_secret(&token))
        .bind(&new.account_id)
        .bind(&new.role_id)
        .bind(&new.role_name)
        .bind(&new.session_name)
        .bind(&new.session_policy)
        .bind(&new.caller_arn)
        .bind(new.expires_at)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(IssuedStsCredential {
            access_key_id,
            secret: secret.into(),
            security_token: token.into(),
            expires_at: new.expires_at,
        })
    }

    /// Looks a credential up by its `STS.…` id and opens its secret; expired and revoked ones
    /// too, so that the caller can be told why they no longer work.
    pub async fn sts_credential(&self, access_key_id: &str) -> sqlx::Result<Option<StsCredential>> {
        let Some(row) = sqlx::query_as::<_, StoredCredential>(
            "SELECT access_key_id, secret, token_hash, account_id, role_id, role_name,
                    session_name, session_policy, expires_at, revoked
             FROM sts_credentials WHERE access_key_id = ?",
        )
        .bind(access_key_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        // As for AccessKeys: a secret that does not open is a row altered since, a decode error.
        let secret = self
            .sealer
            .open(&row.access_key_id, &row.secret)
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(Some(StsCredential {
            access_key_id: row.access_key_id,
            secret: secret.into(),
            token_hash: row.token_hash,
            account_id: row.account_id,
            role_id: row.role_id,
            role_name: row.role_name,
            session_name: row.session_name,
            session_policy: row.session_policy,
            expires_at: row.expires_at,
            revoked: row.revoked,
        }))
    }

    /// Revokes every unexpired credential of the role (case-insensitive name, as RAM's): the
    /// role was deleted, or an administrator withdrew its sessions. Returns how many.
    pub async fn revoke_role_sessions(
        &self,
        account_id: &str,
        role_name: &str,
    ) -> sqlx::Result<u64> {
        let done = sqlx::query(
            "UPDATE sts_credentials SET revoked = 1
             WHERE account_id = ? AND role_name = ? COLLATE NOCASE AND revoked = 0 AND expires_at > ?",
        )
        .bind(account_id)
        .bind(role_name)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Deletes credentials that expired before `horizon`: nothing can be told about them any
    /// more than `InvalidAccessKeyId.NotFound`.
    pub async fn prune_sts_credentials(&self, horizon: i64) -> sqlx::Result<u64> {
        let done = sqlx::query("DELETE FROM sts_credentials WHERE expires_at < ?")
            .bind(horizon)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_recognised_by_shape() {
        let mut bytes = [7u8; TOKEN_BYTES];
        bytes[0] = 0xfb;
        let token = format!("{TOKEN_PREFIX}{}", STANDARD.encode(bytes));
        assert!(is_security_token(&token));
        assert!(!is_security_token(&token[..token.len() - 4]));
        assert!(!is_security_token(&token.replacen("CAIS", "CAIT", 1)));
        assert!(!is_security_token("8d3f0e2a-1b2c-4d5e-8f90-123456789abc"));
        assert!(!is_security_token(""));
    }
}
