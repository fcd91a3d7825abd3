//! The gateway's client of the control plane's internal API: one typed `call` per request of
//! `axt_proto::internal`, which the control plane's handlers answer with the same types.

use std::{sync::Arc, time::Duration};

use axt_proto::internal::{Call, Refusal, BASE};
use tokio::sync::Semaphore;

/// Calls in flight at once. A burst (thousands of connections closing together, each
/// recorded) waits here instead of opening a connection per call, which the control plane's
/// bound on connections not yet past their request head (256 per address) would refuse.
const MAX_CALLS: usize = 128;
/// Idle keep-alive connections kept, and for how long: under the control plane's header-read
/// timeout (10 s by default), so that it is never the one closing a connection about to be used.
const POOL_IDLE: usize = 16;
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// A call the control plane refused, or could not answer.
#[derive(Debug, thiserror::Error)]
pub enum CpError {
    /// The control plane answered with a refusal.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The control plane is unreachable, or answered something that is not the contract.
    #[error("control plane unavailable: {0}")]
    Unavailable(String),
}

/// Client of the internal API; cheap to clone.
#[derive(Clone)]
pub struct ControlPlane {
    http: reqwest::Client,
    base: String,
    token: String,
    calls: Arc<Semaphore>,
}

impl ControlPlane {
    /// A client for the control plane at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str, token: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(POOL_IDLE)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            http,
            base: format!("{}{BASE}", base.trim_end_matches('/')),
            token,
            calls: Arc::new(Semaphore::new(MAX_CALLS)),
        }
    }

    /// Makes one call: its answer, or why there is none.
    pub async fn call<C: Call>(&self, request: &C) -> Result<C::Answer, CpError> {
        // The semaphore is never closed; were it, the call would go ahead unbounded.
        let _slot = self.calls.acquire().await.ok();
        self.call_now(request).await
    }

    /// [`ControlPlane::call`] without waiting behind a burst of others: for the lease on this
    /// gateway's connections, which lapses if it waits too long.
    pub async fn call_now<C: Call>(&self, request: &C) -> Result<C::Answer, CpError> {
        let unavailable = |e: reqwest::Error| CpError::Unavailable(e.to_string());
        let response = self
            .http
            .post(format!("{}{}", self.base, C::ROUTE))
            .bearer_auth(&self.token)
            .json(request)
            .send()
            .await
            .map_err(unavailable)?;
        let ok = response.status().is_success();
        let body = response.bytes().await.map_err(unavailable)?;
        let garbled = |e: serde_json::Error| {
            CpError::Unavailable(format!("{} answered outside the contract: {e}", C::ROUTE))
        };
        if ok {
            serde_json::from_slice(&body).map_err(garbled)
        } else {
            Err(CpError::Refused(
                serde_json::from_slice(&body).map_err(garbled)?,
            ))
        }
    }
}
