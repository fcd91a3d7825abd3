//! The SignatureNonces' durable side: batches written by the nonce writer
//! ([`crate::nonces`]), reloaded at start, pruned once past their expiry.

use super::Store;
use crate::nonces::Digest;

impl Store {
    /// Writes a batch of nonces in one statement (one commit), whatever its size: the batch
    /// travels as one JSON array, so the statement is always the same prepared one.
    pub async fn persist_nonces(&self, batch: &[(Digest, i64)]) -> sqlx::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let rows: Vec<(String, i64)> = batch
            .iter()
            .map(|(digest, expires_at)| (hex::encode(digest), *expires_at))
            .collect();
        let json = serde_json::to_string(&rows).map_err(|e| sqlx::Error::Encode(e.into()))?;
        let _writer = self.writer.lock().await;
        sqlx::query(
            "INSERT INTO nonces (digest, expires_at)
             SELECT unhex(value ->> 0), value ->> 1 FROM json_each(?) WHERE true
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind(json)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The nonces that have not expired at `now`, the latest-expiring first, at most `limit`.
    pub async fn load_nonces(&self, now: i64, limit: i64) -> sqlx::Result<Vec<(Digest, i64)>> {
        let rows: Vec<(Vec<u8>, i64)> = sqlx::query_as(
            "SELECT digest, expires_at FROM nonces WHERE expires_at >= ?
             ORDER BY expires_at DESC LIMIT ?",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(digest, expires_at)| Some((digest.try_into().ok()?, expires_at)))
            .collect())
    }

    /// Deletes the nonces that expired before `now`.
    pub async fn prune_nonces(&self, now: i64) -> sqlx::Result<u64> {
        let done = sqlx::query("DELETE FROM nonces WHERE expires_at < ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// `(AccessKeyId, nonce, seen_at)` of the raw nonces an earlier version kept, seen since
    /// `since`.
    pub async fn legacy_nonces(&self, since: i64) -> sqlx::Result<Vec<(String, String, i64)>> {
        sqlx::query_as(
            "SELECT access_key_id, nonce, seen_at FROM signature_nonces WHERE seen_at >= ?",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await
    }

    /// Empties the table of raw nonces, once they are kept as digests.
    pub async fn forget_legacy_nonces(&self) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM signature_nonces")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
