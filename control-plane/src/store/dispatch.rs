//! What decides whether a session can be dispatched to an instance at all: which gateway holds
//! its agent's kick channel (and whether that gateway still renews its lease), and the
//! operation locks an administrator put on it. Leases also end the connections of a gateway
//! that is gone, so that they stop counting against the limits.

use axt_proto::status::ClosedReason;

use super::{now, Store};

/// The live connections of a gateway's run that it no longer names (index
/// `connections_live_gateway`).
pub(super) const RELEASE_UNNAMED: &str =
    "UPDATE connections SET status = 'Failed', end_time = ?1, closed_reason = ?2,
       failed_detail = 'the gateway no longer relays it'
     WHERE status IN ('Connecting', 'Connected') AND gateway_id = ?3 AND gateway_boot = ?4
       AND start_time < ?5 AND channel_id NOT IN (SELECT value FROM json_each(?6))";

/// The live connections of gateway runs whose lease ran out, once a second: a walk of the live
/// connections alone (a partial index), never of every connection ever made.
pub(super) const EXPIRE_LEASES: &str =
    "UPDATE connections SET status = 'Failed', end_time = ?1, closed_reason = ?2,
       failed_detail = 'the gateway relaying it stopped renewing its lease'
     WHERE status IN ('Connecting', 'Connected') AND NOT EXISTS (SELECT 1 FROM gateways g
       WHERE g.gateway_id = connections.gateway_id AND g.boot = connections.gateway_boot
         AND g.lease_until > ?1)";

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

    /// The gateway holding the kick channel of `instance_id`, if any does and still renews
    /// its lease.
    pub async fn kick_channel_holder(&self, instance_id: &str) -> sqlx::Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT k.gateway_id FROM kick_channels k WHERE k.instance_id = ? AND EXISTS
               (SELECT 1 FROM gateways g WHERE g.gateway_id = k.gateway_id AND g.lease_until > ?)",
        )
        .bind(instance_id)
        .bind(now())
        .fetch_optional(&self.pool)
        .await
    }

    /// Renews the lease of one run of a gateway for `secs` from now.
    pub async fn renew_lease(&self, gateway_id: &str, boot: &str, secs: i64) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO gateways (gateway_id, boot, lease_until) VALUES (?, ?, ?)
             ON CONFLICT (gateway_id, boot) DO UPDATE SET lease_until = excluded.lease_until",
        )
        .bind(gateway_id)
        .bind(boot)
        .bind(now() + secs)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Fails the live connections of a gateway's run that it no longer names, if they are
    /// older than `settled` seconds (a connection allocated a moment ago may not be named yet).
    pub async fn release_unnamed(
        &self,
        gateway_id: &str,
        boot: &str,
        named: &[String],
        settled: i64,
    ) -> sqlx::Result<u64> {
        // One statement whatever the number of names: they travel as one JSON array.
        let named = serde_json::to_string(named).map_err(|e| sqlx::Error::Encode(e.into()))?;
        let done = sqlx::query(RELEASE_UNNAMED)
            .bind(now())
            .bind(ClosedReason::GatewayLost.as_str())
            .bind(gateway_id)
            .bind(boot)
            .bind(now() - settled)
            .bind(named)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Fails the live connections of every gateway run whose lease ran out; returns how many.
    pub async fn expire_leases(&self) -> sqlx::Result<u64> {
        let done = sqlx::query(EXPIRE_LEASES)
            .bind(now())
            .bind(ClosedReason::GatewayLost.as_str())
            .execute(&self.pool)
            .await?;
        // Runs gone for a day are of no use any more.
        sqlx::query("DELETE FROM gateways WHERE lease_until < ?")
            .bind(now() - 86_400)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Hands a live connection over to another run of a gateway (a 1.02 client came back
    /// through a restarted one).
    pub async fn take_over(
        &self,
        channel_id: &str,
        gateway_id: &str,
        boot: &str,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE connections SET gateway_id = ?, gateway_boot = ?
             WHERE channel_id = ? AND status IN ('Connecting', 'Connected')",
        )
        .bind(gateway_id)
        .bind(boot)
        .bind(channel_id)
        .execute(&self.pool)
        .await?;
        Ok(())
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
