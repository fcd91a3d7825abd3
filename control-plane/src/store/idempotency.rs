//! ClientToken records: what makes StartTerminalSession idempotent.

use super::{now, Store};

/// What a ClientToken already stands for.
#[derive(Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// First use: the caller now owns the token until it finishes or releases it.
    Fresh,
    /// Same token, other parameters.
    Mismatch,
    /// Same token, a call still in progress.
    Processing,
    /// Same token and parameters, done: the id of what it created.
    Done(String),
}

impl Store {
    /// Claims a ClientToken for a call, or says what it already stands for. Processing claims
    /// older than `stale_after` seconds (a crash mid-call) are taken over.
    pub async fn claim_client_token(
        &self,
        account_id: &str,
        action: &str,
        token: &str,
        params_hash: &str,
        stale_after: i64,
    ) -> sqlx::Result<Idempotency> {
        // IMMEDIATE takes the write lock at once: two calls with one token queue up instead of
        // both reading "unused" and one failing on its write.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let existing: Option<(String, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT params_hash, state, result_id, created_at FROM idempotency
             WHERE account_id = ? AND action = ? AND client_token = ?",
        )
        .bind(account_id)
        .bind(action)
        .bind(token)
        .fetch_optional(&mut *tx)
        .await?;
        let verdict = match existing {
            Some((hash, _, _, _)) if hash != params_hash => return Ok(Idempotency::Mismatch),
            Some((_, state, Some(id), _)) if state == "Done" => return Ok(Idempotency::Done(id)),
            Some((_, _, _, at)) if now() - at < stale_after => return Ok(Idempotency::Processing),
            _ => Idempotency::Fresh,
        };
        sqlx::query(
            "INSERT INTO idempotency (account_id, action, client_token, params_hash, state, created_at)
             VALUES (?, ?, ?, ?, 'Processing', ?)
             ON CONFLICT DO UPDATE SET state = 'Processing', created_at = excluded.created_at",
        )
        .bind(account_id)
        .bind(action)
        .bind(token)
        .bind(params_hash)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(verdict)
    }

    /// Gives up a claimed ClientToken after a failed call, so that a retry can run.
    pub async fn release_client_token(
        &self,
        account_id: &str,
        action: &str,
        token: &str,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "DELETE FROM idempotency WHERE account_id = ? AND action = ? AND client_token = ?
               AND state = 'Processing'",
        )
        .bind(account_id)
        .bind(action)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
