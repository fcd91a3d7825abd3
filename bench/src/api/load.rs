//! Signed OpenAPI calls as an SDK makes them (signature V1, `GET` with every parameter in the
//! query, a fresh `SignatureNonce` and `Timestamp` on each: nothing is signed ahead), and the
//! load that keeps `concurrency` of them in flight for a while, timing each.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _};
use axt_proto::openapi::{percent_encode, v1, Credentials, Params, TIMESTAMP_FORMAT};

/// The HTTP client of every call: keep-alive connections, as an SDK keeps them, and never a
/// proxy of the environment (the stack is on loopback).
pub fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")
}

/// Signs calls with one AccessKey.
pub struct Signer {
    base: String,
    key_id: &'static str,
    secret: &'static str,
    /// Unique to this run, so that nonces of two runs against one database never collide.
    prefix: String,
    seq: AtomicU64,
}

impl Signer {
    pub fn new(base: String, key_id: &'static str, secret: &'static str) -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            base,
            key_id,
            secret,
            prefix: format!("{}-{}", std::process::id(), since_epoch.as_nanos()),
            seq: AtomicU64::new(0),
        }
    }

    /// The URL of one signed call of `action`, signed now with a nonce of its own.
    pub fn url(&self, action: &str, params: &[(&str, &str)]) -> String {
        let mut all = Params::new();
        all.insert("Action".into(), action.into());
        for (name, value) in params {
            all.insert((*name).into(), (*value).into());
        }
        let nonce = format!(
            "{}-{}",
            self.prefix,
            self.seq.fetch_add(1, Ordering::Relaxed)
        );
        let timestamp = chrono::Utc::now().format(TIMESTAMP_FORMAT).to_string();
        let credentials = Credentials {
            access_key_id: self.key_id,
            secret: self.secret,
        };
        v1::sign_request("GET", &mut all, credentials, &timestamp, &nonce);
        let query: Vec<String> = all
            .iter()
            .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
            .collect();
        format!("{}/?{}", self.base, query.join("&"))
    }

    /// One call; its JSON answer, or an error naming the code it was refused with.
    pub async fn call(
        &self,
        client: &reqwest::Client,
        action: &str,
        params: &[(&str, &str)],
    ) -> anyhow::Result<serde_json::Value> {
        let body = self.call_raw(client, action, params).await?;
        Ok(serde_json::from_slice(body.as_ref())?)
    }

    /// One call; its answer unparsed (what the load needs), or an error naming the code it was
    /// refused with.
    pub async fn call_raw(
        &self,
        client: &reqwest::Client,
        action: &str,
        params: &[(&str, &str)],
    ) -> anyhow::Result<impl AsRef<[u8]>> {
        let response = client.get(self.url(action, params)).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            bail!("{action}: {status} {}", answer["Code"]);
        }
        Ok(body)
    }
}

/// One call of the load: an Action and its parameters.
#[derive(Debug, Clone)]
pub struct Call {
    pub action: &'static str,
    pub params: Vec<(&'static str, String)>,
}

/// What `concurrency` callers achieved together.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Successful calls, each one's time, sorted.
    pub latencies: Vec<Duration>,
    /// Refused or failed calls.
    pub errors: usize,
    /// The first error, to be shown.
    pub first_error: Option<String>,
    /// From the first call sent to the last answer received.
    pub elapsed: Duration,
}

/// When a load stops.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// No new call after this long.
    Elapsed(Duration),
    /// Once this many calls succeeded (roughly: those in flight finish too).
    Succeeded(usize),
}

/// Keeps `concurrency` calls in flight until `until`.
pub async fn run(
    client: &reqwest::Client,
    signer: &Arc<Signer>,
    call: &Call,
    concurrency: usize,
    until: Until,
) -> Outcome {
    let started = Instant::now();
    let succeeded = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (client, signer, call) = (client.clone(), signer.clone(), call.clone());
            let succeeded = succeeded.clone();
            tokio::spawn(async move {
                let params: Vec<(&str, &str)> =
                    call.params.iter().map(|(n, v)| (*n, v.as_str())).collect();
                let mut outcome = Outcome::default();
                loop {
                    let more = match until {
                        Until::Elapsed(d) => started.elapsed() < d,
                        Until::Succeeded(n) => succeeded.load(Ordering::Relaxed) < n as u64,
                    };
                    if !more {
                        break;
                    }
                    let sent = Instant::now();
                    match signer.call_raw(&client, call.action, &params).await {
                        Ok(_) => {
                            outcome.latencies.push(sent.elapsed());
                            succeeded.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(error) => {
                            outcome.errors += 1;
                            outcome.first_error.get_or_insert(format!("{error:#}"));
                        }
                    }
                }
                outcome
            })
        })
        .collect();
    let mut all = Outcome::default();
    for worker in workers {
        let Ok(outcome) = worker.await else {
            all.errors += 1;
            continue;
        };
        all.latencies.extend(outcome.latencies);
        all.errors += outcome.errors;
        if all.first_error.is_none() {
            all.first_error = outcome.first_error;
        }
    }
    all.elapsed = started.elapsed();
    all.latencies.sort();
    all
}
