//! Terminal sessions, their hashed SecurityTokens, their connections (one per client WebSocket)
//! and the ClientToken records that make StartTerminalSession idempotent.

use axt_proto::{
    internal::RecordChannel,
    status::{ConnectionStatus, SessionState, SessionVerdict},
};
use sqlx::QueryBuilder;

use super::{now, Store};
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

/// Connection states in which a connection counts against the per-instance limit, as SQL.
const LIVE: &str = "('Connecting', 'Connected')";

impl Store {
    /// Counts the region's created-and-active sessions: not ended, and either still within
    /// the URL's validity or with a live connection.
    pub async fn count_live_sessions(&self, region_id: &str) -> sqlx::Result<i64> {
        sqlx::query_scalar(&format!(
            "SELECT count(*) FROM sessions s WHERE s.region_id = ? AND s.state != 'Ended'
               AND (s.url_expires_at > ? OR EXISTS (SELECT 1 FROM connections c
                    WHERE c.session_id = s.id AND c.status IN {LIVE}))"
        ))
        .bind(region_id)
        .bind(now())
        .fetch_one(&self.pool)
        .await
    }

    /// Inserts a session with its first token and, when it has a ClientToken, marks that
    /// token done — one transaction, so a crash leaves neither or both.
    pub async fn insert_session(&self, new: &NewSession) -> sqlx::Result<()> {
        let s = &new.session;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO sessions (id, region_id, instance_id, instance_ids, account_id, access_key_id,
               identity_type, principal_id, client_ip, port_number, target_server, command_line,
               username, password_name, connection_type, encryption, client_token, state,
               created_at, url_expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.id)
        .bind(&s.region_id)
        .bind(&s.instance_id)
        .bind(&s.instance_ids)
        .bind(&s.account_id)
        .bind(&s.access_key_id)
        .bind(&s.identity_type)
        .bind(&s.principal_id)
        .bind(&s.client_ip)
        .bind(s.port_number)
        .bind(&s.target_server)
        .bind(&s.command_line)
        .bind(&s.username)
        .bind(&s.password_name)
        .bind(&s.connection_type)
        .bind(&s.encryption)
        .bind(&s.client_token)
        .bind(s.state.as_str())
        .bind(s.created_at)
        .bind(s.url_expires_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO session_tokens (session_id, token_hash, created_at) VALUES (?, ?, ?)",
        )
        .bind(&s.id)
        .bind(&new.token_hash)
        .bind(s.created_at)
        .execute(&mut *tx)
        .await?;
        if let Some(token) = &s.client_token {
            sqlx::query(
                "UPDATE idempotency SET state = 'Done', result_id = ?
                 WHERE account_id = ? AND action = 'StartTerminalSession' AND client_token = ?",
            )
            .bind(&s.id)
            .bind(&s.account_id)
            .bind(token)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
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
        sqlx::query(&format!(
            "UPDATE connections SET status = 'Terminated', end_time = ?, closed_reason = 'ClientClosed'
             WHERE session_id = ? AND status IN {LIVE}"
        ))
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
    /// session's own live WebSockets.
    pub async fn open_connection(
        &self,
        session: &Session,
        gateway: (&str, &str),
        client_ip: &str,
        limits: ConnectionLimits,
    ) -> sqlx::Result<Result<Connection, Full>> {
        let (others, own): (i64, i64) = sqlx::query_as(&format!(
            "SELECT count(DISTINCT CASE WHEN session_id != ?2 THEN session_id END),
                    count(CASE WHEN session_id = ?2 THEN 1 END)
             FROM connections WHERE instance_id = ?1 AND status IN {LIVE}"
        ))
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
        let channel_id = ids::channel_id();
        sqlx::query(
            "INSERT INTO connections (channel_id, session_id, instance_id, gateway_id, gateway_boot,
               client_ip, status, start_time) VALUES (?, ?, ?, ?, ?, ?, 'Connecting', ?)",
        )
        .bind(&channel_id)
        .bind(&session.id)
        .bind(&session.instance_id)
        .bind(gateway.0)
        .bind(gateway.1)
        .bind(client_ip)
        .bind(now())
        .execute(&self.pool)
        .await?;
        let connection = self.connection(&channel_id).await?;
        Ok(Ok(connection.ok_or(sqlx::Error::RowNotFound)?))
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
        let done = sqlx::query(&format!(
            "UPDATE connections SET
               status = CASE WHEN status IN {LIVE} THEN coalesce(?, status) ELSE status END,
               end_time = CASE WHEN status IN {LIVE} AND ? THEN ? ELSE end_time END,
               closed_reason = CASE WHEN status IN {LIVE} THEN coalesce(?, closed_reason) ELSE closed_reason END,
               failed_detail = CASE WHEN status IN {LIVE} THEN coalesce(?, failed_detail) ELSE failed_detail END,
               bytes_in = max(bytes_in, coalesce(?, 0)),
               bytes_out = max(bytes_out, coalesce(?, 0))
             WHERE channel_id = ? AND (? IS NULL OR instance_id = ?)"
        ))
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

    /// For each session id: `Ended`, `InstanceNotRunning` (its instance stopped), or `Live`.
    /// Unknown ids are left out.
    pub async fn session_states(
        &self,
        ids: &[String],
    ) -> sqlx::Result<Vec<(String, SessionVerdict)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::new(
            "SELECT s.id, s.state, i.status FROM sessions s JOIN instances i ON i.id = s.instance_id WHERE s.id IN (",
        );
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id.clone());
        }
        q.push(")");
        let rows: Vec<(String, String, String)> = q.build_query_as().fetch_all(&self.pool).await?;
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
