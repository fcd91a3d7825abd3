//! Capped exponential backoff with jitter, for redialling the server: jitter keeps a fleet of
//! agents that lost their gateway at the same moment from coming back at the same moment.

use std::time::Duration;

use rand::Rng as _;

/// Delays that double from `base` up to `cap`, each drawn within ±25 % of its nominal value.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    nominal: Duration,
}

impl Backoff {
    /// Starts at `base`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            nominal: base,
        }
    }

    /// Back to `base`, after a connection proved healthy.
    pub fn reset(&mut self) {
        self.nominal = self.base;
    }

    /// The next delay, with random jitter.
    pub fn next_delay(&mut self) -> Duration {
        self.next_with(rand::thread_rng().gen_range(0.75..=1.25))
    }

    /// The next delay, scaled by `factor` (the jitter, in 0.75..=1.25).
    fn next_with(&mut self, factor: f64) -> Duration {
        let delay = self.nominal.mul_f64(factor);
        self.nominal = (self.nominal * 2).min(self.cap);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        let nominal: Vec<u128> = (0..8).map(|_| b.next_with(1.0).as_millis()).collect();
        assert_eq!(nominal, [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
        assert_eq!(b.next_with(1.25), Duration::from_millis(12_500));
        assert_eq!(b.next_with(0.75), Duration::from_millis(7_500));
        b.reset();
        assert_eq!(b.next_with(1.0), Duration::from_millis(200));
    }

    #[test]
    fn jitter_stays_within_a_quarter() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
        for _ in 0..100 {
            let d = b.next_delay();
            assert!(
                d >= Duration::from_millis(750) && d <= Duration::from_millis(1250),
                "{d:?}"
            );
        }
    }
}
