//! The database: SQLite through sqlx, in WAL mode with full sync, so a committed write survives
//! even `kill -9` of the process. One file per aggregate holds its queries.

mod accounts;
mod activations;
mod dispatch;
mod idempotency;
mod instances;
mod sessions;

use std::{path::Path, str::FromStr as _, time::Duration};

use anyhow::Context as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use accounts::{AccessKey, AccessKeyRef};
pub use activations::{Activation, NewActivation, RegistrationError};
pub use idempotency::Idempotency;
pub use instances::{Instance, InstanceFilter, NewInstance};
pub use sessions::{Connection, NewSession, Session, SessionFilter, TokenCheck};

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

/// Seconds since the Unix epoch: the time unit of every column.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A timestamp as the API shows it: `2026-11-29T19:57:41Z`.
pub fn iso(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .format(axt_proto::openapi::TIMESTAMP_FORMAT)
        .to_string()
}

/// A timestamp to the minute, as DescribeInstances shows it: `2026-11-29T19:57Z`.
pub fn iso_minutes(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%MZ")
        .to_string()
}

impl Store {
    /// Opens or creates the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .context("running migrations")?;
        Ok(Self { pool })
    }

    /// Closes every connection, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Records a SignatureNonce; `false` when this key already used it (a replay).
    pub async fn record_nonce(&self, access_key_id: &str, nonce: &str) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "INSERT INTO signature_nonces (access_key_id, nonce, seen_at) VALUES (?, ?, ?)
             ON CONFLICT DO NOTHING",
        )
        .bind(access_key_id)
        .bind(nonce)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes nonces seen before `horizon`.
    pub async fn prune_nonces(&self, horizon: i64) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM signature_nonces WHERE seen_at < ?")
            .bind(horizon)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Appends to the audit log.
    pub async fn audit(
        &self,
        request_id: &str,
        access_key_id: &str,
        action: &str,
        resource_id: &str,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, request_id, access_key_id, action, resource_id)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(now())
        .bind(request_id)
        .bind(access_key_id)
        .bind(action)
        .bind(resource_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
