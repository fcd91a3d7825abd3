//! The per-session bandwidth limit (200 KB/s by default), enforced at the gateway in each
//! direction with the token bucket of `axt_kit::pace`: a frame takes its bytes at once, and the
//! relay then waits until the debt is paid back at the configured rate. Waiting stops the relay
//! reading that side, so the limit pushes back through the WebSocket rather than buffering.

use std::sync::Arc;

use axt_kit::pace::Pacer;
use tokio::{sync::Mutex, time::Instant};

use crate::Shared;

/// How many bytes may pass at once before pacing starts: a tenth of a second's worth.
const BURST_SECS: f64 = 0.1;

/// A token bucket for one direction of one session.
pub struct Bucket(Mutex<Pacer>);

impl Bucket {
    /// A bucket at `rate` bytes per second (0: unlimited).
    pub fn new(rate: u64) -> Self {
        let burst = (rate as f64 * BURST_SECS) as usize;
        Self(Mutex::new(Pacer::new(rate, burst, Instant::now())))
    }

    /// Takes `bytes`, waiting as long as the rate requires.
    pub async fn take(&self, bytes: usize) {
        let wait = self.0.lock().await.reserve(bytes, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Both directions of a session.
pub struct SessionRate {
    /// Client → instance.
    pub up: Bucket,
    /// Instance → client.
    pub down: Bucket,
}

impl SessionRate {
    pub fn new(rate: u64) -> Self {
        Self {
            up: Bucket::new(rate),
            down: Bucket::new(rate),
        }
    }
}

/// The bandwidth buckets of `session_id` on this gateway, shared by its connections; the last
/// of them calls [`forget`] when it ends.
pub fn session_rate(shared: &Shared, session_id: &str, bytes_per_second: u64) -> Arc<SessionRate> {
    let mut rates = shared.rates.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(rate) = rates.get(session_id).and_then(std::sync::Weak::upgrade) {
        return rate;
    }
    let rate = Arc::new(SessionRate::new(bytes_per_second));
    rates.insert(session_id.to_owned(), Arc::downgrade(&rate));
    rate
}

/// A connection of `session_id` ended and dropped its buckets: the entry goes with the last
/// one, so that the map holds only sessions relayed now (a sweep on every new connection
/// would cost O(sessions) each and keep ended ones until the next).
pub fn forget(shared: &Shared, session_id: &str) {
    let mut rates = shared.rates.lock().unwrap_or_else(|p| p.into_inner());
    // Under the lock: a connection of the session starting now either upgraded the entry
    // already (it stays) or will make a new one.
    if rates.get(session_id).is_some_and(|w| w.strong_count() == 0) {
        rates.remove(session_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn paces_to_the_rate_after_the_burst() {
        let bucket = Bucket::new(10_000);
        let start = Instant::now();
        bucket.take(1_000).await; // the burst
        assert_eq!(start.elapsed(), Duration::ZERO);
        for _ in 0..10 {
            bucket.take(1_000).await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!((0.95..1.05).contains(&elapsed), "{elapsed}");
    }

    #[tokio::test]
    async fn a_sessions_buckets_are_forgotten_with_its_last_connection() {
        use clap::Parser as _;
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config::parse_from([
            "axt-gateway",
            "--plain",
            "--internal-token",
            "internal",
            "--control-plane",
            "http://127.0.0.1:9",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ]);
        let shared = crate::Gateway::open(config).await.unwrap().shared();
        let entries = || shared.rates.lock().unwrap().len();
        let first = session_rate(&shared, "s-1", 0);
        let second = session_rate(&shared, "s-1", 0);
        assert!(
            Arc::ptr_eq(&first, &second),
            "shared by the session's connections"
        );
        drop(first);
        forget(&shared, "s-1");
        assert_eq!(entries(), 1, "one connection is still live");
        drop(second);
        forget(&shared, "s-1");
        assert_eq!(entries(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_is_unlimited() {
        let bucket = Bucket::new(0);
        let start = Instant::now();
        bucket.take(10_000_000).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
