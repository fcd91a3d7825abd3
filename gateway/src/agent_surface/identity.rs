//! Checks the hybrid identity headers every registered agent sends: the RSA-MD5 signature
//! against the key it registered, the timestamp within a window, and each request id used once
//! (the signature covers neither method, path nor body, so a captured header set could
//! otherwise be replayed anywhere).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axt_proto::identity::{self, Identity};
use axum::{
    extract::FromRequestParts,
    http::{request::Parts, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};

use axt_proto::internal::{AgentIdentity, AgentIdentityRequest};

use crate::{control_plane::CpError, Shared};

/// How long a registered key is trusted from the cache before it is fetched again.
const KEY_TTL: Duration = Duration::from_secs(30);
/// Most request ids remembered at once; past it the oldest window is dropped first.
const MAX_SEEN: usize = 100_000;

/// An agent whose headers verified.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The instance the agent is.
    pub instance_id: String,
}

/// Why an agent's identity was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IdentityFailure {
    #[error("identity headers missing")]
    Missing,
    #[error("identity rejected: {0}")]
    Invalid(String),
    #[error("cannot check the identity now: {0}")]
    Unavailable(String),
}

impl IntoResponse for IdentityFailure {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        };
        let body = serde_json::json!({"code": status.as_u16(), "errMsg": self.to_string()});
        (status, Json(body)).into_response()
    }
}

/// Registered keys and recently seen request ids.
#[derive(Default)]
pub struct Identities {
    keys: Mutex<HashMap<String, (AgentIdentity, Instant)>>,
    seen: Mutex<HashMap<String, i64>>,
}

impl Identities {
    /// Verifies the identity headers of one request.
    pub async fn verify(
        &self,
        shared: &Shared,
        headers: &HeaderMap,
    ) -> Result<Verified, IdentityFailure> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let id = Identity {
            instance_id: header(identity::INSTANCE_ID).ok_or(IdentityFailure::Missing)?,
            timestamp_ms: header(identity::TIMESTAMP).ok_or(IdentityFailure::Missing)?,
            request_id: header(identity::REQUEST_ID).ok_or(IdentityFailure::Missing)?,
            signature: header(identity::SIGNATURE).ok_or(IdentityFailure::Missing)?,
        };
        let at: i64 = id
            .timestamp_ms
            .parse()
            .map_err(|_| IdentityFailure::Invalid("bad timestamp".into()))?;
        let now = axt_proto::now_ms() as i64;
        let window = shared.config.agent_clock_skew_secs * 1000;
        if now.abs_diff(at) > window.unsigned_abs() {
            return Err(IdentityFailure::Invalid(
                "timestamp outside the window".into(),
            ));
        }
        let agent = self.key(shared, &id.instance_id, false).await?;
        if identity::verify(&agent.public_key, &agent.machine_id, &id).is_err() {
            // The agent may have registered again with a new key since it was cached.
            let fresh = self.key(shared, &id.instance_id, true).await?;
            identity::verify(&fresh.public_key, &fresh.machine_id, &id)
                .map_err(|e| IdentityFailure::Invalid(e.to_string()))?;
        }
        self.first_use(&id.request_id, now + window)?;
        Ok(Verified {
            instance_id: id.instance_id,
        })
    }

    async fn key(
        &self,
        shared: &Shared,
        instance_id: &str,
        refresh: bool,
    ) -> Result<AgentIdentity, IdentityFailure> {
        if !refresh {
            let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((agent, at)) = keys.get(instance_id) {
                if at.elapsed() < KEY_TTL {
                    return Ok(agent.clone());
                }
            }
        }
        let request = AgentIdentityRequest {
            instance_id: instance_id.to_owned(),
        };
        let agent = shared.cp.call(&request).await.map_err(|e| match e {
            CpError::Refused(_) => {
                IdentityFailure::Invalid(format!("{instance_id} is not registered"))
            }
            CpError::Unavailable(why) => IdentityFailure::Unavailable(why),
        })?;
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.insert(instance_id.to_owned(), (agent.clone(), Instant::now()));
        Ok(agent)
    }

    /// Forgets a cached key (after deregistration).
    pub fn forget(&self, instance_id: &str) {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(instance_id);
    }

    fn first_use(&self, request_id: &str, expires_ms: i64) -> Result<(), IdentityFailure> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_SEEN {
            let now = axt_proto::now_ms() as i64;
            seen.retain(|_, until| *until > now);
        }
        if seen.insert(request_id.to_owned(), expires_ms).is_some() {
            return Err(IdentityFailure::Invalid("request id already used".into()));
        }
        Ok(())
    }
}

impl FromRequestParts<Arc<Shared>> for Verified {
    type Rejection = IdentityFailure;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        shared.identities.verify(shared, &parts.headers).await
    }
}
