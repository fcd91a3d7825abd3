//! Accounts, their AccessKeys and their business switches.

use super::{now, Store};
use crate::ids;

/// An AccessKey as verification needs it.
#[derive(Clone, sqlx::FromRow)]
pub struct AccessKey {
    /// The AccessKeyId.
    pub id: String,
    /// The secret; only HMAC computations read it.
    pub secret: String,
    /// The account the key acts for.
    pub account_id: String,
    /// A disabled key is refused.
    pub enabled: bool,
}

impl std::fmt::Debug for AccessKey {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// An AccessKey without its secret: what outlives verification.
#[derive(Debug, Clone)]
pub struct AccessKeyRef {
    /// The AccessKeyId.
    pub id: String,
    /// The account the key acts for.
    pub account_id: String,
}

impl From<AccessKey> for AccessKeyRef {
    fn from(key: AccessKey) -> Self {
        Self {
            id: key.id,
            account_id: key.account_id,
        }
    }
}

impl Store {
    /// The admin account's id, created on the first call.
    pub async fn admin_account(&self) -> sqlx::Result<String> {
        if let Some(id) = sqlx::query_scalar("SELECT id FROM accounts WHERE name = 'admin'")
            .fetch_optional(&self.pool)
            .await?
        {
            return Ok(id);
        }
        let id = ids::account_id();
        sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES (?, 'admin', ?)")
            .bind(&id)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    /// Whether the account has at least one AccessKey.
    pub async fn account_has_key(&self, account_id: &str) -> sqlx::Result<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM access_keys WHERE account_id = ?)")
            .bind(account_id)
            .fetch_one(&self.pool)
            .await
    }

    /// Creates the key, or gives an existing id the new secret and account.
    pub async fn put_access_key(
        &self,
        id: &str,
        secret: &str,
        account_id: &str,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO access_keys (id, secret, account_id, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET secret = excluded.secret, account_id = excluded.account_id",
        )
        .bind(id)
        .bind(secret)
        .bind(account_id)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Looks an AccessKey up by its id.
    pub async fn access_key(&self, id: &str) -> sqlx::Result<Option<AccessKey>> {
        sqlx::query_as("SELECT id, secret, account_id, enabled FROM access_keys WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// The account's Session Manager switch (`sessionManagerStatus`).
    pub async fn session_manager_enabled(&self, account_id: &str) -> sqlx::Result<bool> {
        sqlx::query_scalar("SELECT session_manager_enabled FROM accounts WHERE id = ?")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await
            .map(|v| v.unwrap_or(false))
    }

    /// Turns the account's Session Manager switch on or off.
    pub async fn set_session_manager_enabled(
        &self,
        account_id: &str,
        on: bool,
    ) -> sqlx::Result<()> {
        sqlx::query("UPDATE accounts SET session_manager_enabled = ? WHERE id = ?")
            .bind(on)
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
