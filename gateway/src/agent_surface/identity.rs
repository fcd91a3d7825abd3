//! Checks the hybrid identity headers every registered agent sends: the RSA-MD5 signature
//! against the key it registered, the timestamp within a window, and each request id used once
//! (the signature covers neither method, path nor body, so a captured header set could
//! otherwise be replayed anywhere). What failures may cost is bounded by [`Throttle`].

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use axt_proto::identity::{self, Identity};
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{request::Parts, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};

use axt_proto::internal::{AgentIdentity, AgentIdentityRequest};

use super::throttle::Throttle;
use crate::{control_plane::CpError, Shared};

/// How long a registered key is trusted from the cache before it is fetched again.
const KEY_TTL: Duration = Duration::from_secs(30);
/// A key is not fetched again sooner than this after it was fetched, however many signatures
/// fail against it.
const MIN_REFRESH: Duration = Duration::from_secs(10);
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
    #[error("too many failed identity checks from this address; try again in a minute")]
    Throttled,
}

impl IntoResponse for IdentityFailure {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Throttled => StatusCode::TOO_MANY_REQUESTS,
            Self::Missing | Self::Invalid(_) => StatusCode::UNAUTHORIZED,
        };
        let body = serde_json::json!({"code": status.as_u16(), "errMsg": self.to_string()});
        (status, Json(body)).into_response()
    }
}

/// Registered keys and recently seen request ids.
pub struct Identities {
    /// Each key with when it was fetched.
    keys: Mutex<HashMap<String, (AgentIdentity, Instant)>>,
    /// Request ids (as keyed hashes: every agent request adds one, kept for the whole clock
    /// window, and 16 bytes cost less than a string) with when they may be forgotten. A
    /// collision can only refuse a genuine request as a replay, never let a replay through,
    /// and with a 64-bit hash keyed at random it takes billions of ids to be likely.
    seen: Mutex<HashMap<u64, i64>>,
    seen_keys: std::collections::hash_map::RandomState,
    throttle: Throttle,
    lookups: AtomicU64,
}

/// Whether a key lookup may ask the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// Use the cache while it is fresh, else ask.
    Cached,
    /// The cached key did not verify: ask again, unless it was fetched moments ago.
    Refresh,
}

impl Identities {
    /// Empty caches; `throttle` bounds what failures cost.
    pub fn new(throttle: Throttle) -> Self {
        Self {
            keys: Mutex::default(),
            seen: Mutex::default(),
            seen_keys: Default::default(),
            throttle,
            lookups: AtomicU64::new(0),
        }
    }

    /// Key lookups made on the control plane so far.
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }

    /// The failure budget of agent sources (registration failures count against it too).
    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// Verifies the identity headers of one request from `peer`; a failure is counted against
    /// the peer's budget.
    pub async fn verify(
        &self,
        shared: &Shared,
        headers: &HeaderMap,
        peer: IpAddr,
    ) -> Result<Verified, IdentityFailure> {
        let verified = self.check(shared, headers, peer).await;
        if let Err(
            IdentityFailure::Missing | IdentityFailure::Invalid(_) | IdentityFailure::Throttled,
        ) = &verified
        {
            self.throttle.failed(peer);
        }
        verified
    }

    async fn check(
        &self,
        shared: &Shared,
        headers: &HeaderMap,
        peer: IpAddr,
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
        let agent = self
            .key(shared, &id.instance_id, peer, Lookup::Cached)
            .await?;
        if identity::verify(&agent.public_key, &agent.machine_id, &id).is_err() {
            // The agent may have registered again with a new key since it was cached.
            let fresh = self
                .key(shared, &id.instance_id, peer, Lookup::Refresh)
                .await?;
            identity::verify(&fresh.public_key, &fresh.machine_id, &id)
                .map_err(|e| IdentityFailure::Invalid(e.to_string()))?;
        }
        // Remembered for as long as its timestamp stays acceptable: a header set dated ahead
        // (within the window) must not become usable again when a shorter memory lapses.
        self.first_use(&id.request_id, at + window)?;
        Ok(Verified {
            instance_id: id.instance_id,
        })
    }

    /// The registered key of `instance_id`, from the cache or the control plane. An address
    /// past its failure budget is served from the cache only (however old), so that it costs
    /// the control plane nothing while genuine agents behind it keep working.
    async fn key(
        &self,
        shared: &Shared,
        instance_id: &str,
        peer: IpAddr,
        lookup: Lookup,
    ) -> Result<AgentIdentity, IdentityFailure> {
        let throttled = self.throttle.exhausted(peer);
        let cached = {
            let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            keys.get(instance_id).cloned()
        };
        match (&cached, lookup) {
            (Some((agent, at)), Lookup::Cached) if throttled || at.elapsed() < KEY_TTL => {
                return Ok(agent.clone());
            }
            // A key fetched moments ago is the registered one: asking again changes nothing.
            (Some((_, at)), Lookup::Refresh) if at.elapsed() < MIN_REFRESH => {
                return Err(IdentityFailure::Invalid("signature does not verify".into()));
            }
            _ => {}
        }
        if self.throttle.known_unknown(instance_id) {
            return Err(IdentityFailure::Invalid(format!(
                "{instance_id} is not registered"
            )));
        }
        if throttled {
            return Err(IdentityFailure::Throttled);
        }
        let request = AgentIdentityRequest {
            instance_id: instance_id.to_owned(),
        };
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let agent = shared.cp.call(&request).await.map_err(|e| match e {
            CpError::Refused(_) => {
                self.throttle.unknown(instance_id);
                IdentityFailure::Invalid(format!("{instance_id} is not registered"))
            }
            CpError::Unavailable(why) => IdentityFailure::Unavailable(why),
        })?;
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.insert(instance_id.to_owned(), (agent.clone(), Instant::now()));
        Ok(agent)
    }

    /// Forgets what is cached of `instance_id` (it registered again, or deregistered).
    pub fn forget(&self, instance_id: &str) {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(instance_id);
        self.throttle.known(instance_id);
    }

    fn first_use(&self, request_id: &str, expires_ms: i64) -> Result<(), IdentityFailure> {
        use std::hash::BuildHasher as _;
        let id = self.seen_keys.hash_one(request_id);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_SEEN {
            let now = axt_proto::now_ms() as i64;
            seen.retain(|_, until| *until > now);
        }
        if seen.insert(id, expires_ms).is_some() {
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
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        shared.identities.verify(shared, &parts.headers, peer).await
    }
}
