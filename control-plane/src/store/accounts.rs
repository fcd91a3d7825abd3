//! Accounts, their AccessKeys and their business switches. AccessKey secrets are stored
//! sealed (see [`crate::sealing`]) and opened only to compute an HMAC.

use secrecy::SecretString;

use super::{
    now,
    ram::{Entity, RamResult, Refusal},
    Store,
};
use crate::{ids, sealing::Sealer};

/// At most this many AccessKeys per RAM user (`LimitExceeded.User.AccessKey`).
pub const MAX_USER_KEYS: i64 = 2;

/// An AccessKey as ListAccessKeys shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeySummary {
    pub id: String,
    pub enabled: bool,
    pub created_at: i64,
}

/// An AccessKey as verification needs it.
#[derive(Debug, Clone)]
pub struct AccessKey {
    /// The AccessKeyId.
    pub id: String,
    /// The secret, opened; only HMAC computations read it, and `{:?}` shows it redacted.
    pub secret: SecretString,
    /// The account the key acts for.
    pub account_id: String,
    /// The RAM user whose key it is; `None` for the account's own (root) key.
    pub user_id: Option<String>,
    /// A disabled key is refused.
    pub enabled: bool,
}

/// An `access_keys` row as stored: the secret sealed, or in clear from before sealing.
#[derive(sqlx::FromRow)]
struct StoredKey {
    id: String,
    secret: String,
    account_id: String,
    user_id: Option<String>,
    enabled: bool,
}

/// An AccessKey without its secret: what outlives verification.
#[derive(Debug, Clone)]
pub struct AccessKeyRef {
    /// The AccessKeyId.
    pub id: String,
    /// The account the key acts for.
    pub account_id: String,
    /// The RAM user whose key it is; `None` for the account's own (root) key.
    pub user_id: Option<String>,
}

impl From<AccessKey> for AccessKeyRef {
    fn from(key: AccessKey) -> Self {
        Self {
            id: key.id,
            account_id: key.account_id,
            user_id: key.user_id,
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

    /// The account's name, which RAM shows as its alias (GetAccountAlias).
    pub async fn account_name(&self, account_id: &str) -> sqlx::Result<Option<String>> {
        sqlx::query_scalar("SELECT name FROM accounts WHERE id = ?")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await
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
        .bind(self.sealer.seal(id, secret))
        .bind(account_id)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// CreateAccessKey: a new key for the RAM user `user_name` (or, with `None`, the account's
    /// own root key), its secret sealed at rest like the admin key's. Returns the key and its
    /// secret, which is shown this once.
    pub async fn create_access_key(
        &self,
        account_id: &str,
        user_name: Option<&str>,
    ) -> RamResult<(KeySummary, String)> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let user_id: Option<String> = match user_name {
            None => None,
            Some(name) => Some(
                sqlx::query_scalar("SELECT id FROM ram_users WHERE account_id = ? AND name = ?")
                    .bind(account_id)
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(Refusal::Missing(Entity::User))?,
            ),
        };
        if let Some(user_id) = &user_id {
            let count: i64 =
                sqlx::query_scalar("SELECT count(*) FROM access_keys WHERE user_id = ?")
                    .bind(user_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if count >= MAX_USER_KEYS {
                return Err(Refusal::TooManyKeys.into());
            }
        }
        let (id, secret) = ids::access_key_pair();
        let at = now();
        sqlx::query(
            "INSERT INTO access_keys (id, secret, account_id, user_id, enabled, created_at)
             VALUES (?, ?, ?, ?, 1, ?)",
        )
        .bind(&id)
        .bind(self.sealer.seal(&id, &secret))
        .bind(account_id)
        .bind(&user_id)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let key = KeySummary {
            id,
            enabled: true,
            created_at: at,
        };
        Ok((key, secret))
    }

    /// ListAccessKeys: the keys of the RAM user `user_name`, or with `None` the account's own.
    pub async fn list_access_keys(
        &self,
        account_id: &str,
        user_name: Option<&str>,
    ) -> RamResult<Vec<KeySummary>> {
        let user_id = self.key_owner(account_id, user_name).await?;
        Ok(sqlx::query_as(
            "SELECT id, enabled, created_at FROM access_keys
             WHERE account_id = ? AND user_id IS ? ORDER BY created_at, id",
        )
        .bind(account_id)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// UpdateAccessKey: enables (`Active`) or disables (`Inactive`) one of the owner's keys.
    pub async fn set_access_key_enabled(
        &self,
        account_id: &str,
        user_name: Option<&str>,
        key_id: &str,
        enabled: bool,
    ) -> RamResult<()> {
        let user_id = self.key_owner(account_id, user_name).await?;
        let done = sqlx::query(
            "UPDATE access_keys SET enabled = ? WHERE id = ? AND account_id = ? AND user_id IS ?",
        )
        .bind(enabled)
        .bind(key_id)
        .bind(account_id)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Refusal::Missing(Entity::AccessKey).into());
        }
        Ok(())
    }

    /// DeleteAccessKey: one of the owner's keys.
    pub async fn delete_access_key(
        &self,
        account_id: &str,
        user_name: Option<&str>,
        key_id: &str,
    ) -> RamResult<()> {
        let user_id = self.key_owner(account_id, user_name).await?;
        let done =
            sqlx::query("DELETE FROM access_keys WHERE id = ? AND account_id = ? AND user_id IS ?")
                .bind(key_id)
                .bind(account_id)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(Refusal::Missing(Entity::AccessKey).into());
        }
        Ok(())
    }

    /// The `user_id` column of the keys of `user_name` (`None`: the account's own keys).
    async fn key_owner(
        &self,
        account_id: &str,
        user_name: Option<&str>,
    ) -> RamResult<Option<String>> {
        match user_name {
            None => Ok(None),
            Some(name) => self.ram_user_id(account_id, name).await.map(Some),
        }
    }

    /// Looks an AccessKey up by its id and opens its secret. Every sealed secret opened when
    /// the store did, so a failure here is a row altered since: a decode error.
    pub async fn access_key(&self, id: &str) -> sqlx::Result<Option<AccessKey>> {
        let Some(row) = sqlx::query_as::<_, StoredKey>(
            "SELECT id, secret, account_id, user_id, enabled FROM access_keys WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let secret = self
            .sealer
            .open(&row.id, &row.secret)
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(Some(AccessKey {
            id: row.id,
            secret: secret.into(),
            account_id: row.account_id,
            user_id: row.user_id,
            enabled: row.enabled,
        }))
    }

    /// How many AccessKey secrets are sealed (whatever the key that sealed them).
    pub(super) async fn count_sealed_secrets(pool: &sqlx::SqlitePool) -> sqlx::Result<i64> {
        sqlx::query_scalar("SELECT count(*) FROM access_keys WHERE secret LIKE 'v1:%'")
            .fetch_one(pool)
            .await
    }

    /// Checks that the sealer opens every sealed secret — a wrong key file must stop the
    /// start, not surface later as keys that never verify — and seals the secrets still in
    /// clear (a database from before sealing). Returns how many it sealed.
    pub(super) async fn seal_secrets_in_clear(&self) -> anyhow::Result<usize> {
        let rows: Vec<StoredKey> =
            sqlx::query_as("SELECT id, secret, account_id, user_id, enabled FROM access_keys")
                .fetch_all(&self.pool)
                .await?;
        let mut sealed = 0;
        for row in rows {
            if Sealer::is_sealed(&row.secret) {
                self.sealer.open(&row.id, &row.secret).map_err(|e| {
                    anyhow::anyhow!(
                        "AccessKey {}: {e}; is {} the key file of this database?",
                        row.id,
                        crate::sealing::KEY_FILE
                    )
                })?;
                continue;
            }
            // Guarded by the old value, so that a key re-put meanwhile is not overwritten.
            sqlx::query("UPDATE access_keys SET secret = ? WHERE id = ? AND secret = ?")
                .bind(self.sealer.seal(&row.id, &row.secret))
                .bind(&row.id)
                .bind(&row.secret)
                .execute(&self.pool)
                .await?;
            sealed += 1;
        }
        Ok(sealed)
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
