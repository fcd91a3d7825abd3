//! Pacing of Output frames: at most `flowLimit` bit/s (from the spec, retuned by Status code 7
//! frames), as a token bucket (`axt_kit::pace`) of one chunk. With a one-chunk bucket, a steady
//! stream goes out one chunk per `chunk / rate` — the stock agent's "send, then sleep
//! 1000/(rate/8/chunk) ms" — while a lone keystroke echo after a pause goes out at once.

use std::time::Duration;

use axt_kit::pace;
use tokio::time::Instant;

/// The lowest rate a Status 7 frame may set: the stock agent divides by zero below it, so a
/// gateway never sends less and this agent ignores less.
pub const MIN_RATE_BITS: u32 = axt_proto::status::MIN_AGENT_RATE_BITS;
/// The highest rate a Status 7 frame can carry. The axtlab gateway sends it when the session's
/// limit is lifted, so it means "no limit": taken as a rate it would cap a forward at 537 MB/s.
pub const UNLIMITED_BITS: u32 = u32::MAX;
#[cfg(test)]
use pace::MIN_WAIT;

/// The agent's output pacer, in the bits per second the protocol speaks.
#[derive(Debug, Clone)]
pub struct Pacer(pace::Pacer);

impl Pacer {
    /// A pacer at `bits_per_second` (0 = unlimited) for chunks of `chunk` bytes.
    pub fn new(bits_per_second: u64, chunk: usize, now: Instant) -> Self {
        Self(pace::Pacer::new(bits_per_second / 8, chunk, now))
    }

    /// Retunes to `bits_per_second`, as a Status 7 frame asks; rates below
    /// [`MIN_RATE_BITS`] (and 0) are ignored, and [`UNLIMITED_BITS`] lifts the limit. Returns
    /// whether the rate changed.
    pub fn retune(&mut self, bits_per_second: u32, now: Instant) -> bool {
        if bits_per_second < MIN_RATE_BITS {
            return false;
        }
        let bytes = if bits_per_second == UNLIMITED_BITS {
            0
        } else {
            u64::from(bits_per_second) / 8
        };
        self.0.set_rate(bytes, now);
        true
    }

    /// Takes `bytes` from the bucket; returns how long to wait before sending them.
    pub fn reserve(&mut self, bytes: usize, now: Instant) -> Duration {
        self.0.reserve(bytes, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Sends `n` chunks back to back, each as soon as allowed; returns the send times in ms.
    fn schedule(pacer: &mut Pacer, chunk: usize, n: usize, start: Instant) -> Vec<u128> {
        let mut now = start;
        (0..n)
            .map(|_| {
                now += pacer.reserve(chunk, now);
                (now - start).as_millis()
            })
            .collect()
    }

    #[test]
    fn the_stock_default_rate_spaces_full_chunks_40_ms_apart() {
        // 204800 bit/s = 25600 B/s: a 1024-byte chunk every 40 ms, after a first immediate one.
        let start = Instant::now();
        let mut p = Pacer::new(204_800, 1024, start);
        assert_eq!(schedule(&mut p, 1024, 4, start), [0, 40, 80, 120]);
        // Port sessions: 2048-byte chunks at the same rate, 80 ms apart.
        let mut p = Pacer::new(204_800, 2048, start);
        assert_eq!(schedule(&mut p, 2048, 3, start), [0, 80, 160]);
    }

    #[test]
    fn zero_is_unlimited_and_a_pause_refills_only_one_chunk() {
        let start = Instant::now();
        let mut p = Pacer::new(0, 1024, start);
        assert_eq!(schedule(&mut p, 1024, 3, start), [0, 0, 0]);
        let mut p = Pacer::new(819_200, 1024, start); // 102400 B/s: 10 ms per chunk
        assert_eq!(schedule(&mut p, 1024, 2, start), [0, 10]);
        // A long pause fills the bucket with one chunk, not a second's worth.
        let later = start + 1000 * MS;
        assert_eq!(p.reserve(1024, later), Duration::ZERO);
        assert!(p.reserve(1024, later) >= 10 * MS - MS / 10);
    }

    #[test]
    fn high_rates_keep_their_average_without_sub_millisecond_sleeps() {
        // 800 Mbit/s = 100 MB/s: a 32 KiB chunk every 328 µs, below the timer's resolution.
        let start = Instant::now();
        let mut p = Pacer::new(800_000_000, 32 * 1024, start);
        let mut now = start;
        let mut waits = Vec::new();
        for _ in 0..1000 {
            let wait = p.reserve(32 * 1024, now);
            waits.push(wait);
            now += wait;
        }
        assert!(
            waits.iter().all(|w| w.is_zero() || *w >= MIN_WAIT),
            "{waits:?}"
        );
        // 1000 chunks of 32 KiB at 100 MB/s take 328 ms; the last chunk's debt may be unpaid.
        let took = (now - start).as_secs_f64() * 1e3;
        assert!((326.0..=329.0).contains(&took), "{took} ms");
    }

    #[test]
    fn the_highest_rate_a_frame_carries_lifts_the_limit() {
        let start = Instant::now();
        let mut p = Pacer::new(204_800, 2048, start);
        assert!(p.retune(UNLIMITED_BITS, start));
        assert_eq!(schedule(&mut p, 2048, 100, start), vec![0; 100]);
        assert!(p.retune(204_800, start)); // and a real rate paces again
        assert!(p.reserve(2048, start) + p.reserve(2048, start) >= 80 * MS - MS / 10);
    }

    #[test]
    fn status_7_retunes_but_never_below_the_floor() {
        let start = Instant::now();
        let mut p = Pacer::new(0, 1024, start);
        assert!(!p.retune(4096, start));
        assert!(!p.retune(0, start));
        assert_eq!(schedule(&mut p, 1024, 2, start), [0, 0]);
        assert!(p.retune(102_400, start)); // 12800 B/s: 80 ms per chunk
        let now = start + 1000 * MS;
        assert_eq!(schedule(&mut p, 1024, 3, now), [0, 80, 160]);
    }
}
