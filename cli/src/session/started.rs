//! A session this `axt` started with StartTerminalSession, and its EndTerminalSession when the
//! command is done — shared by `session`, `portforward` and `ssh`.
//!
//! A session nobody ends stays live until its URL expires and keeps counting against the
//! region's limit of sessions (100 by default), so every command ends the session it started,
//! whichever way it went. Sessions opened with `--wss-url` are never ended: `axt` did not start
//! them, and their URL may serve other connections (a port session's, a reconnecting 1.02
//! client's) until whoever called StartTerminalSession ends it.

use std::time::Duration;

use axt_proto::openapi::Params;
use serde_json::Value;

use crate::{api::ApiClient, profile::Settings, terminal::Interrupts};

/// How long ending may take on the way out. Best-effort: a slow or unreachable endpoint must
/// not hold the terminal, and the URL expires by itself anyway.
pub const END_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a session could not be ended.
#[derive(Debug, thiserror::Error)]
pub enum EndError {
    #[error("ending session {id}")]
    Call {
        id: String,
        source: crate::api::CallError,
    },
    #[error("ending session {id}: no answer within {}s", END_TIMEOUT.as_secs())]
    Timeout { id: String },
    #[error("ending session {id}: interrupted")]
    Interrupted { id: String },
}

/// A session started by this process: its id and URL, and the client that ends it.
pub struct Started {
    client: ApiClient,
    /// `SessionId`.
    pub id: String,
    /// `WebSocketUrl`.
    pub url: String,
}

impl Started {
    /// StartTerminalSession with `params` (`InstanceId.1` and the rest); returns the session
    /// and the whole answer, for the fields only one command reads.
    pub async fn start(settings: &Settings, params: Params) -> anyhow::Result<(Self, Value)> {
        let client = ApiClient::new(settings)?;
        let answer = client.call("StartTerminalSession", params).await?;
        let field = |name: &str| answer[name].as_str().filter(|v| !v.is_empty());
        let (Some(id), Some(url)) = (field("SessionId"), field("WebSocketUrl")) else {
            anyhow::bail!("StartTerminalSession answered without a SessionId and WebSocketUrl");
        };
        tracing::info!(session = id, "session started");
        let started = Self {
            id: id.to_owned(),
            url: url.to_owned(),
            client,
        };
        Ok((started, answer))
    }

    /// EndTerminalSession: the URL stops working, and the session stops counting against the
    /// region's limit. Bounded by [`END_TIMEOUT`]; a signal stops waiting at once.
    pub async fn end(&self) -> Result<(), EndError> {
        let id = self.id.clone();
        let mut params = Params::new();
        params.insert("SessionId".to_owned(), id.clone());
        let call =
            tokio::time::timeout(END_TIMEOUT, self.client.call("EndTerminalSession", params));
        // Without signal handlers (an unlikely failure) only the timeout bounds the wait.
        let interrupted = async {
            match Interrupts::new() {
                Ok(mut interrupts) => interrupts.recv().await,
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            ended = call => match ended {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(source)) => Err(EndError::Call { id, source }),
                Err(_) => Err(EndError::Timeout { id }),
            },
            _ = interrupted => Err(EndError::Interrupted { id }),
        }
    }

    /// [`Started::end`] on the way out of a command that has its own outcome to report: a
    /// failure is one line on stderr, never the command's error.
    pub async fn end_quietly(&self) {
        if let Err(err) = self.end().await {
            let err = anyhow::Error::new(err);
            eprintln!(
                "{} (it lingers until its URL expires)",
                crate::error_line(&err)
            );
        }
    }
}
