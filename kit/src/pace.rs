//! The one token bucket of axtlab, over bytes: the gateway's per-session bandwidth limit and
//! the agent's output pacing are both this bucket with a different burst. It computes; it does
//! not sleep — callers wait the time it returns, so it runs on any clock, paused tokio time
//! included.
//!
//! Short of tokens, the bucket goes into debt: the wait is the time the missing tokens take to
//! arrive, and the next refill starts from the debt. Waits shorter than [`MIN_WAIT`] are not
//! asked for: tokio's timer rounds every sleep up to a whole millisecond, so at high rates a
//! sub-millisecond wait per chunk would cap a stream at one chunk per millisecond whatever the
//! rate. The debt is kept instead and paid in one wait once it reaches a millisecond, which
//! keeps the average rate.

use std::time::Duration;

use tokio::time::Instant;

/// The shortest wait worth a sleep (the timer's resolution).
pub const MIN_WAIT: Duration = Duration::from_millis(1);

/// A token bucket over bytes.
#[derive(Debug, Clone)]
pub struct Pacer {
    /// Bytes per second; `None` is unlimited.
    rate: Option<f64>,
    /// Bucket size in bytes: what may pass at once after a pause.
    burst: f64,
    /// Tokens available; negative while bytes already sent are still being paid for.
    tokens: f64,
    last: Instant,
}

impl Pacer {
    /// A full bucket of `burst` bytes filling at `bytes_per_second` (0: unlimited).
    pub fn new(bytes_per_second: u64, burst: usize, now: Instant) -> Self {
        let burst = burst as f64;
        Self {
            rate: rate(bytes_per_second),
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Fills at `bytes_per_second` from now on (0: unlimited, and the bucket starts full
    /// again).
    pub fn set_rate(&mut self, bytes_per_second: u64, now: Instant) {
        self.refill(now);
        self.rate = rate(bytes_per_second);
        if self.rate.is_none() {
            self.tokens = self.burst;
        }
    }

    /// Takes `bytes`; returns how long to wait before sending them (zero, or at least
    /// [`MIN_WAIT`]).
    pub fn reserve(&mut self, bytes: usize, now: Instant) -> Duration {
        let Some(rate) = self.rate else {
            return Duration::ZERO;
        };
        self.refill(now);
        let bytes = bytes as f64;
        let wait = if self.tokens >= bytes {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((bytes - self.tokens) / rate)
        };
        self.tokens -= bytes;
        if wait < MIN_WAIT {
            // Sent now on credit: the debt stays in the bucket until it is worth a wait.
            return Duration::ZERO;
        }
        wait
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        if let Some(rate) = self.rate {
            self.tokens = (self.tokens + elapsed * rate).min(self.burst);
        }
    }
}

fn rate(bytes_per_second: u64) -> Option<f64> {
    (bytes_per_second > 0).then_some(bytes_per_second as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_passes_its_burst_then_paces() {
        let start = Instant::now();
        let mut p = Pacer::new(10_000, 1_000, start);
        assert_eq!(p.reserve(1_000, start), Duration::ZERO);
        assert_eq!(p.reserve(1_000, start), Duration::from_millis(100));
        // A pause refills the burst, never more.
        let later = start + Duration::from_secs(60);
        assert_eq!(p.reserve(1_000, later), Duration::ZERO);
        assert_eq!(p.reserve(500, later), Duration::from_millis(50));
    }

    #[test]
    fn zero_is_unlimited_and_lifting_the_rate_fills_the_bucket() {
        let start = Instant::now();
        let mut p = Pacer::new(0, 1_000, start);
        assert_eq!(p.reserve(10_000_000, start), Duration::ZERO);
        p.set_rate(1_000, start);
        assert_eq!(p.reserve(2_000, start), Duration::from_secs(1));
        p.set_rate(0, start);
        assert_eq!(p.reserve(10_000_000, start), Duration::ZERO);
        p.set_rate(1_000, start);
        assert_eq!(p.reserve(1_000, start), Duration::ZERO, "full again");
    }
}
