//! Terminal sessions, their hashed SecurityTokens and the ClientToken records that make
//! StartTerminalSession idempotent; how many of a region's sessions are live, from the counter
//! that migration 0010's triggers keep (never a scan of the sessions).

use axt_proto::status::{SessionState, SessionVerdict};
use sqlx::QueryBuilder;

use super::{now, session_writer, Store};
use crate::ids;

/// One session row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    /// Creation order; 0 until inserted.
    pub seq: i64,
    pub id: String,
    pub region_id: String,
    pub instance_id: String,
    /// JSON array of every instance named; `instance_id` is its first.
    pub instance_ids: String,
    pub account_id: String,
    pub access_key_id: String,
    pub identity_type: String,
    pub principal_id: String,
    pub client_ip: String,
    pub port_number: Option<i64>,
    pub target_server: String,
    pub command_line: String,
    pub username: String,
    pub password_name: String,
    pub connection_type: String,
    pub encryption: Option<String>,
    pub client_token: Option<String>,
    #[sqlx(try_from = "String")]
    pub state: SessionState,
    pub created_at: i64,
    pub url_expires_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
}

impl Session {
    /// Every instance the session names, in request order.
    pub fn instance_id_list(&self) -> Vec<String> {
        serde_json::from_str(&self.instance_ids).unwrap_or_else(|_| vec![self.instance_id.clone()])
    }
}

/// A session to create, with the hash of its first token.
pub struct NewSession {
    pub session: Session,
    pub token_hash: String,
}

/// Which sessions DescribeTerminalSessions wants.
pub struct SessionFilter {
    pub account_id: String,
    pub region_id: String,
    pub instance_id: Option<String>,
    pub session_id: Option<String>,
    /// Keyset cursor: sessions created before the one with this `seq`.
    pub before: Option<i64>,
    pub since: i64,
    pub limit: i64,
}

/// The outcome of checking a session token.
#[derive(Debug)]
pub enum TokenCheck {
    Valid(Box<Session>),
    /// No such session, or the token is not one of its tokens.
    Unknown,
    /// The URL's validity has passed.
    Expired,
    /// EndTerminalSession was called.
    Ended,
}

/// A region's live sessions: its counter, less the counted ones expired since the last sweep
/// (index `sessions_expiring`, named so that the planner cannot prefer `sessions_region` and
/// walk the region's every session: a range over the expired ones alone).
pub(super) const LIVE_SESSIONS: &str =
    "SELECT coalesce((SELECT counted FROM region_sessions WHERE region_id = ?1), 0)
        - (SELECT count(*) FROM sessions INDEXED BY sessions_expiring
             WHERE region_id = ?1 AND url_expires_at <= ?2 AND counted = 1
               AND live_connections = 0)";

/// The counted sessions whose URL expired unused stop counting (region by region, so that
/// each is a range of `sessions_expiring`).
pub(super) const SWEEP_EXPIRED: &str = "UPDATE sessions INDEXED BY sessions_expiring
     SET counted = 0
     WHERE region_id IN (SELECT region_id FROM region_sessions) AND url_expires_at <= ?
       AND counted = 1 AND live_connections = 0";

/// What the audit log records of the call that created a session, in its transaction.
#[derive(Debug, Clone, Copy)]
pub struct AuditEntry<'a> {
    pub request_id: &'a str,
    pub access_key_id: &'a str,
    pub action: &'a str,
}

impl Store {
    /// The region's created-and-active sessions at `now`: not ended, and either still within
    /// the URL's validity or with a live connection — from the counter that migration 0010's triggers
    /// keep, less the counted sessions whose URL expired since the last sweep.
    pub async fn live_sessions(&self, region_id: &str, now: i64) -> sqlx::Result<i64> {
        sqlx::query_scalar(LIVE_SESSIONS)
            .bind(region_id)
            .bind(now)
            .fetch_one(&self.pool)
            .await
    }

    /// The same count by its definition, walking every session of the region: what the
    /// counters are checked against in tests, never a call's path.
    pub async fn live_sessions_by_scan(&self, region_id: &str, now: i64) -> sqlx::Result<i64> {
        sqlx::query_scalar(
            "SELECT count(*) FROM sessions s WHERE s.region_id = ? AND s.state != 'Ended'
               AND (s.url_expires_at > ? OR EXISTS (SELECT 1 FROM connections c
                    WHERE c.session_id = s.id AND c.status IN ('Connecting', 'Connected')))",
        )
        .bind(region_id)
        .bind(now)
        .fetch_one(&self.pool)
        .await
    }

    /// Inserts a session with its first token, unless its region has `max_live` live sessions
    /// already (`false`); marks its ClientToken done and appends `audit` to the audit log. One
    /// transaction, shared with the sessions of the other calls waiting at the time
    /// ([`super::session_writer`]): a crash leaves all of a session or none of it, and the
    /// count and the insert are one statement, so the limit is exact however many calls run
    /// at once.
    pub async fn create_session(
        &self,
        new: NewSession,
        max_live: i64,
        audit: AuditEntry<'_>,
    ) -> sqlx::Result<bool> {
        let (done, written) = tokio::sync::oneshot::channel();
        let job = session_writer::Job {
            new,
            max_live,
            audit: [audit.request_id, audit.access_key_id, audit.action].map(str::to_owned),
            done,
        };
        let stopped = || sqlx::Error::PoolClosed;
        self.sessions.send(job).await.map_err(|_| stopped())?;
        written.await.map_err(|_| stopped())?
    }

    /// Clears the flag of the sessions whose URL expired by `now` without a live connection:
    /// they no longer count, and [`Store::live_sessions`] no longer subtracts them one by one.
    pub async fn sweep_expired_sessions(&self, now: i64) -> sqlx::Result<u64> {
        let done = sqlx::query(SWEEP_EXPIRED)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Adds another token to a session (an idempotent retry gets a fresh one: the first was
    /// only ever stored as a hash and cannot be given back).
    pub async fn add_session_token(&self, session_id: &str, token_hash: &str) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO session_tokens (session_id, token_hash, created_at) VALUES (?, ?, ?)",
        )
        .bind(session_id)
        .bind(token_hash)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One session by id.
    pub async fn session(&self, id: &str) -> sqlx::Result<Option<Session>> {
        sqlx::query_as("SELECT * FROM sessions WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Checks a token against a session's hashed tokens, in constant time per comparison.
    pub async fn check_session_token(
        &self,
        session_id: &str,
        token: &str,
    ) -> sqlx::Result<TokenCheck> {
        let Some(session) = self.session(session_id).await? else {
            return Ok(TokenCheck::Unknown);
        };
        let hashes: Vec<String> =
            sqlx::query_scalar("SELECT token_hash FROM session_tokens WHERE session_id = ?")
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?;
        let presented = ids::hash_secret(token);
        if !hashes.iter().any(|h| ids::secrets_equal(h, &presented)) {
            return Ok(TokenCheck::Unknown);
        }
        Ok(if session.state == SessionState::Ended {
            TokenCheck::Ended
        } else if now() >= session.url_expires_at {
            TokenCheck::Expired
        } else {
            TokenCheck::Valid(Box::new(session))
        })
    }

    /// Ends a session for good; its live connections are recorded as closed by the client.
    pub async fn end_session(&self, id: &str, reason: &str) -> sqlx::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE sessions SET state = 'Ended', ended_at = ?, end_reason = ?
             WHERE id = ? AND state != 'Ended'",
        )
        .bind(now())
        .bind(reason)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE connections SET status = 'Terminated', end_time = ?,
               closed_reason = 'ClientClosed'
             WHERE session_id = ? AND status IN ('Connecting', 'Connected')",
        )
        .bind(now())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// A page of sessions, newest first.
    pub async fn list_sessions(&self, f: &SessionFilter) -> sqlx::Result<Vec<Session>> {
        let mut q = QueryBuilder::new("SELECT * FROM sessions WHERE account_id = ");
        q.push_bind(f.account_id.clone())
            .push(" AND region_id = ")
            .push_bind(f.region_id.clone())
            .push(" AND created_at >= ")
            .push_bind(f.since);
        if let Some(id) = &f.instance_id {
            q.push(" AND instance_id = ").push_bind(id.clone());
        }
        if let Some(id) = &f.session_id {
            q.push(" AND id = ").push_bind(id.clone());
        }
        if let Some(seq) = f.before {
            q.push(" AND seq < ").push_bind(seq);
        }
        q.push(" ORDER BY seq DESC LIMIT ").push_bind(f.limit);
        q.build_query_as().fetch_all(&self.pool).await
    }

    /// For each session id: `Ended`, `InstanceNotRunning` (its instance stopped), or `Live`.
    /// Unknown ids are left out.
    pub async fn session_states(
        &self,
        ids: &[String],
    ) -> sqlx::Result<Vec<(String, SessionVerdict)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One statement whatever the number of ids: they travel as one JSON array.
        let list = serde_json::to_string(ids).map_err(|e| sqlx::Error::Encode(e.into()))?;
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT s.id, s.state, i.status FROM sessions s JOIN instances i ON i.id = s.instance_id
             WHERE s.id IN (SELECT value FROM json_each(?))",
        )
        .bind(list)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, state, instance)| {
                let verdict = if state == SessionState::Ended.as_str() {
                    SessionVerdict::Ended
                } else if instance != "Running" {
                    SessionVerdict::InstanceNotRunning
                } else {
                    SessionVerdict::Live
                };
                (id, verdict)
            })
            .collect())
    }
}
