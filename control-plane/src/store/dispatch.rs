//! What decides whether a session can be dispatched to an instance at all: which gateway holds
//! its agent's kick channel, and the operation locks an administrator put on it.

use super::{now, Store};

impl Store {
    /// Records that `gateway_id` holds the kick channel of `instance_id` as its `link` (a
    /// newer channel replaces an older one: the agent reconnected, maybe elsewhere).
    pub async fn kick_channel_opened(
        &self,
        instance_id: &str,
        gateway_id: &str,
        link: u64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO kick_channels (instance_id, gateway_id, link, since) VALUES (?, ?, ?, ?)
             ON CONFLICT (instance_id) DO UPDATE SET gateway_id = excluded.gateway_id,
               link = excluded.link, since = excluded.since
             WHERE gateway_id != excluded.gateway_id OR link != excluded.link",
        )
        .bind(instance_id)
        .bind(gateway_id)
        .bind(i64::try_from(link).unwrap_or(i64::MAX))
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the kick channel of `instance_id` if it is still `link` of `gateway_id` (a
    /// late report of an old channel must not erase the new one).
    pub async fn kick_channel_closed(
        &self,
        instance_id: &str,
        gateway_id: &str,
        link: u64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "DELETE FROM kick_channels WHERE instance_id = ? AND gateway_id = ? AND link = ?",
        )
        .bind(instance_id)
        .bind(gateway_id)
        .bind(i64::try_from(link).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets every kick channel `gateway_id` held: it restarted, so it holds none.
    pub async fn gateway_started(&self, gateway_id: &str) -> sqlx::Result<u64> {
        let done = sqlx::query("DELETE FROM kick_channels WHERE gateway_id = ?")
            .bind(gateway_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// The gateway holding the kick channel of `instance_id`, if any does.
    pub async fn kick_channel_holder(&self, instance_id: &str) -> sqlx::Result<Option<String>> {
        sqlx::query_scalar("SELECT gateway_id FROM kick_channels WHERE instance_id = ?")
            .bind(instance_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Puts an operation lock on an instance (`reason` such as `security`), or lifts it with an
    /// empty reason; `false` when there is no such instance.
    pub async fn set_lock_reason(&self, instance_id: &str, reason: &str) -> sqlx::Result<bool> {
        let done = sqlx::query("UPDATE instances SET lock_reason = ? WHERE id = ?")
            .bind(reason)
            .bind(instance_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
