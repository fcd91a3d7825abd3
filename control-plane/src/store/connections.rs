//! The connections of sessions: one per client WebSocket, paired with an agent channel. A
//! live connection (`Connecting` or `Connected`) counts for its session through the triggers of
//! migration 0010, and against its instance's limit through an index of the live ones.

use axt_proto::{internal::RecordChannel, status::ConnectionStatus};

use super::{now, Session, Store};
use crate::ids;

/// One connection row: a client WebSocket paired with an agent channel.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Connection {
    pub channel_id: String,
    pub session_id: String,
    pub instance_id: String,
    pub gateway_id: String,
    /// The run of that gateway (new at each of its starts).
    pub gateway_boot: String,
    pub client_ip: String,
    #[sqlx(try_from = "String")]
    pub status: ConnectionStatus,
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub closed_reason: String,
    pub failed_detail: String,
    pub bytes_in: i64,
    pub bytes_out: i64,
}

/// The limits [`Store::open_connection`] enforces.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Sessions other than this one with a live connection on the instance.
    pub sessions_per_instance: i64,
    /// This session's own live connections.
    pub connections_per_session: i64,
}

/// Which limit refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The instance has its maximum of connected sessions.
    Instance,
    /// The session has its maximum of live connections.
    Session,
}

/// The sessions other than `?2` with a live connection on instance `?1`, and `?2`'s own live
/// connections (index `connections_live_instance`: the live ones alone).
pub(super) const INSTANCE_LIVE: &str =
    "SELECT count(DISTINCT CASE WHEN session_id != ?2 THEN session_id END),
            count(CASE WHEN session_id = ?2 THEN 1 END)
     FROM connections WHERE instance_id = ?1 AND status IN ('Connecting', 'Connected')";

impl Store {
    /// The connections of a session, oldest first.
    pub async fn connections(&self, session_id: &str) -> sqlx::Result<Vec<Connection>> {
        sqlx::query_as("SELECT * FROM connections WHERE session_id = ? ORDER BY start_time, rowid")
            .bind(session_id)
            .fetch_all(&self.pool)
            .await
    }

    /// Opens a connection (`Connecting`) for a client of `session`, unless a limit is reached.
    /// The per-instance limit counts sessions, not WebSockets (a port forward opens one
    /// WebSocket per TCP connection, all in one session); the per-session limit counts the
    /// session's own live WebSockets. The caller serialises allocations, so that the count and
    /// the insert do not interleave with another's.
    pub async fn open_connection(
        &self,
        session: &Session,
        gateway: (&str, &str),
        client_ip: &str,
        limits: ConnectionLimits,
    ) -> sqlx::Result<Result<Connection, Full>> {
        // Only the instance's live connections are read (the index of live ones): at most its
        // sessions' limit times theirs, however many connections it ever had.
        let (others, own): (i64, i64) = sqlx::query_as(INSTANCE_LIVE)
            .bind(&session.instance_id)
            .bind(&session.id)
            .fetch_one(&self.pool)
            .await?;
        if others >= limits.sessions_per_instance {
            return Ok(Err(Full::Instance));
        }
        if own >= limits.connections_per_session {
            return Ok(Err(Full::Session));
        }
        let connection = sqlx::query_as(
            "INSERT INTO connections (channel_id, session_id, instance_id, gateway_id, gateway_boot,
               client_ip, status, start_time) VALUES (?, ?, ?, ?, ?, ?, 'Connecting', ?)
             RETURNING *",
        )
        .bind(ids::channel_id())
        .bind(&session.id)
        .bind(&session.instance_id)
        .bind(gateway.0)
        .bind(gateway.1)
        .bind(client_ip)
        .bind(now())
        .fetch_one(&self.pool)
        .await?;
        Ok(Ok(connection))
    }

    /// One connection by channel id.
    pub async fn connection(&self, channel_id: &str) -> sqlx::Result<Option<Connection>> {
        sqlx::query_as("SELECT * FROM connections WHERE channel_id = ?")
            .bind(channel_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Applies a gateway's report. A connection that has ended stays ended (only its byte
    /// counts may still grow); `Connected` marks the session active.
    pub async fn update_connection(&self, u: &RecordChannel) -> sqlx::Result<bool> {
        let mut tx = self.pool.begin().await?;
        let terminal = u.status.is_some_and(|s| !s.is_live());
        let bytes = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let done = sqlx::query(
            "UPDATE connections SET
               status = CASE WHEN status IN ('Connecting', 'Connected') THEN coalesce(?, status)
                 ELSE status END,
               end_time = CASE WHEN status IN ('Connecting', 'Connected') AND ? THEN ?
                 ELSE end_time END,
               closed_reason = CASE WHEN status IN ('Connecting', 'Connected')
                 THEN coalesce(?, closed_reason) ELSE closed_reason END,
               failed_detail = CASE WHEN status IN ('Connecting', 'Connected')
                 THEN coalesce(?, failed_detail) ELSE failed_detail END,
               bytes_in = max(bytes_in, coalesce(?, 0)),
               bytes_out = max(bytes_out, coalesce(?, 0))
             WHERE channel_id = ? AND (? IS NULL OR instance_id = ?)",
        )
        .bind(u.status.map(ConnectionStatus::as_str))
        .bind(terminal)
        .bind(now())
        .bind(u.closed_reason.map(|r| r.as_str()))
        .bind(&u.failed_detail)
        .bind(bytes(u.bytes_in))
        .bind(bytes(u.bytes_out))
        .bind(&u.channel_id)
        .bind(&u.reporter)
        .bind(&u.reporter)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 && u.status == Some(ConnectionStatus::Connected) {
            sqlx::query(
                "UPDATE sessions SET state = 'Active' WHERE state = 'Pending'
                   AND id = (SELECT session_id FROM connections WHERE channel_id = ?)",
            )
            .bind(&u.channel_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
