//! What is known of each recording: whose, how long, whether cut short or finished. The text
//! itself is a file ([`crate::recordings`]); a row says how many of its bytes count.

use sqlx::QueryBuilder;

use super::Store;

/// One recording row: a connection's asciicast, as far as it was appended.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Recording {
    /// Creation order; 0 until inserted.
    pub seq: i64,
    /// The connection recorded (the API's `ConnectionId`).
    pub channel_id: String,
    pub session_id: String,
    pub instance_id: String,
    /// The session's owner and region.
    pub account_id: String,
    pub region_id: String,
    /// Bytes of the file that are the recording.
    pub size: i64,
    /// It reached `--recording-max-bytes`: later appends were dropped.
    pub truncated: bool,
    /// The gateway's last append arrived: the connection ended.
    pub complete: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Which recordings ListTerminalSessionRecordings wants.
pub struct RecordingFilter {
    pub account_id: String,
    pub region_id: String,
    pub session_id: Option<String>,
    pub instance_id: Option<String>,
    /// Keyset cursor: recordings created before the one with this `seq`.
    pub before: Option<i64>,
    pub limit: i64,
}

impl Store {
    /// The recording of a connection.
    pub async fn recording(&self, channel_id: &str) -> sqlx::Result<Option<Recording>> {
        sqlx::query_as("SELECT * FROM recordings WHERE channel_id = ?")
            .bind(channel_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Records what an append made of a recording: inserted on its first append, its size,
    /// flags and update time replaced afterwards (its owner and creation time never change).
    pub async fn save_recording(&self, r: &Recording) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO recordings (channel_id, session_id, instance_id, account_id, region_id,
               size, truncated, complete, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (channel_id) DO UPDATE SET size = excluded.size,
               truncated = excluded.truncated, complete = excluded.complete,
               updated_at = excluded.updated_at",
        )
        .bind(&r.channel_id)
        .bind(&r.session_id)
        .bind(&r.instance_id)
        .bind(&r.account_id)
        .bind(&r.region_id)
        .bind(r.size)
        .bind(r.truncated)
        .bind(r.complete)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A page of recordings, newest first.
    pub async fn list_recordings(&self, f: &RecordingFilter) -> sqlx::Result<Vec<Recording>> {
        let mut q = QueryBuilder::new("SELECT * FROM recordings WHERE account_id = ");
        q.push_bind(f.account_id.clone())
            .push(" AND region_id = ")
            .push_bind(f.region_id.clone());
        if let Some(id) = &f.session_id {
            q.push(" AND session_id = ").push_bind(id.clone());
        }
        if let Some(id) = &f.instance_id {
            q.push(" AND instance_id = ").push_bind(id.clone());
        }
        if let Some(seq) = f.before {
            q.push(" AND seq < ").push_bind(seq);
        }
        q.push(" ORDER BY seq DESC LIMIT ").push_bind(f.limit);
        q.build_query_as().fetch_all(&self.pool).await
    }

    /// The recordings last appended to before `cutoff`, as `(session id, channel id)`.
    pub async fn recordings_before(&self, cutoff: i64) -> sqlx::Result<Vec<(String, String)>> {
        sqlx::query_as("SELECT session_id, channel_id FROM recordings WHERE updated_at < ?")
            .bind(cutoff)
            .fetch_all(&self.pool)
            .await
    }

    /// Forgets a recording (its file is the caller's to remove).
    pub async fn delete_recording(&self, channel_id: &str) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM recordings WHERE channel_id = ?")
            .bind(channel_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
