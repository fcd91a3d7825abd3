//! The database: SQLite through sqlx, in WAL mode with full sync, so a committed write survives
//! even `kill -9` of the process. One file per aggregate holds its queries. The data directory
//! and the database files are private to their owner ([`private`]), and AccessKey secrets are
//! sealed under the directory's key ([`crate::sealing`]).

mod accounts;
mod activations;
mod connections;
mod dispatch;
mod idempotency;
mod instances;
mod kms;
mod nonces;
#[cfg(test)]
mod plans;
pub mod private;
pub mod ram;
mod recordings;
mod security_groups;
mod session_writer;
mod sessions;
mod sts;

use std::{path::Path, str::FromStr as _, sync::Arc, time::Duration};

use anyhow::Context as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use accounts::{AccessKey, AccessKeyRef, KeySummary};
pub use activations::{Activation, NewActivation, RegistrationError};
pub use connections::{Connection, ConnectionLimits, Full};
pub use idempotency::Idempotency;
pub use instances::{Instance, InstanceFilter, NewInstance};
pub use kms::{blob_key_id, KeyState, KmsKey, NewKmsKey};
pub use ram::{InForce, RoleRow};
pub use recordings::{Recording, RecordingFilter};
pub use security_groups::{
    security_group_id, Membership, NewSecurityGroup, RuleSpec, SecurityGroup, SecurityGroupFilter,
    SecurityGroupRule, MAX_GROUPS_PER_INSTANCE, MAX_RULES_PER_GROUP,
};
pub use sessions::{AuditEntry, NewSession, Session, SessionFilter, TokenCheck};
pub use sts::{
    is_security_token, IssuedStsCredential, NewStsCredential, StsCredential, STS_KEY_PREFIX,
};

use crate::sealing::{self, Sealer};

/// Name of the database file, inside the data directory.
pub const DB_FILE: &str = "control-plane.db";

/// Prepared statements kept per connection.
const STATEMENTS: usize = 512;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// Seals and opens the AccessKey secrets.
    sealer: Arc<Sealer>,
    /// Taken by the hot writers (sessions, nonces), so that they queue here, in order, rather
    /// than in SQLite's busy handler, which sleeps up to 100 ms at a time.
    writer: Arc<tokio::sync::Mutex<()>>,
    /// The group commit of new sessions.
    sessions: tokio::sync::mpsc::Sender<session_writer::Job>,
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
    /// The key the AccessKey secrets are sealed with; the authorizer seals its diagnostic
    /// messages with it too, so that only this control plane can read them back.
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// Opens (or creates) the data directory and its database, private to their owner, brings
    /// the schema up to date, and loads the key of the AccessKey secrets — created on the
    /// first start, and never when secrets sealed under some key exist: a new key would open
    /// none of them. Secrets still in clear (a database from before sealing) are sealed.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Self> {
        private::private_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        private::private_db(&path)?;
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Deleted and overwritten content (a secret sealed in place, say) is zeroed, not
            // left readable in free space.
            .pragma("secure_delete", "ON")
            .busy_timeout(Duration::from_secs(10))
            // Every query of the control plane stays prepared on every connection (there are
            // fewer than this many; sqlx's default keeps 100).
            .statement_cache_capacity(STATEMENTS);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A connection to a file in this process cannot have gone away: pinging each one
            // before handing it out was a round trip to its thread on every query.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .context("running migrations")?;
        let key_path = data_dir.join(sealing::KEY_FILE);
        let sealer = match Sealer::load(&key_path)? {
            Some(sealer) => sealer,
            None => {
                let sealed = Self::count_sealed_secrets(&pool).await?;
                anyhow::ensure!(
                    sealed == 0,
                    "{} is missing, and {sealed} AccessKey secrets of {} are sealed with it: \
                     restore that key file (a new key would open none of them)",
                    key_path.display(),
                    path.display()
                );
                Sealer::create(&key_path)?
            }
        };
        let writer = Arc::default();
        let store = Self {
            sessions: session_writer::start(pool.clone(), Arc::clone(&writer)),
            pool,
            sealer: Arc::new(sealer),
            writer,
        };
        let sealed = store
            .seal_secrets_in_clear()
            .await
            .with_context(|| format!("opening the AccessKey secrets of {}", path.display()))?;
        if sealed > 0 {
            store.forget_cleartext().await?;
            tracing::info!(sealed, "sealed the AccessKey secrets stored in clear");
        }
        Ok(store)
    }

    /// Leaves no trace on disk of the secrets just sealed: VACUUM rewrites the database from
    /// its live rows (free pages of older writes may still hold a secret), then the WAL that
    /// held the old pages is emptied into the database and truncated.
    async fn forget_cleartext(&self) -> anyhow::Result<()> {
        sqlx::query("VACUUM").execute(&self.pool).await?;
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.pool)
            .await?;
        if busy != 0 {
            tracing::warn!("another connection kept the WAL from being truncated; secrets in clear may remain in it until the next checkpoint");
        }
        Ok(())
    }

    /// Closes every connection, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
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
