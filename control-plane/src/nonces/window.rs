//! The SignatureNonces still worth remembering, in memory and bounded.
//!
//! A nonce only matters while its request's timestamp passes the skew check: a replay after
//! `signed_at + skew` is refused for its timestamp anyway. So each nonce is kept until then (its
//! expiry), and forgotten after. The window holds at most `capacity` of them: past that, the
//! ones expiring first are dropped and the window's floor rises to their expiry — from then on
//! a request expiring at or before the floor is refused, because its nonce might be one of
//! those forgotten. Memory is bounded, and nothing forgotten can ever be replayed; under a load
//! that outgrows the capacity, the accepted timestamps narrow instead.

use std::collections::{BTreeMap, HashMap};

/// A nonce as remembered: 128 bits of SHA-256 over the AccessKeyId and the nonce, so that the
/// memory per nonce is fixed whatever the caller sent. A collision would only refuse a call.
pub type Digest = [u8; 16];

/// Why a nonce was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// This key used it within the window: a replay.
    Used,
    /// Its expiry is at or below the floor: it might be a nonce forgotten for room.
    Forgotten,
}

/// The window itself; callers serialise access.
#[derive(Debug)]
pub struct Window {
    seen: HashMap<Digest, i64>,
    /// The same nonces by expiry, to forget them in order.
    by_expiry: BTreeMap<i64, Vec<Digest>>,
    capacity: usize,
    /// Requests expiring at or before this are refused.
    floor: i64,
}

impl Window {
    /// An empty window of at most `capacity` nonces (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            seen: HashMap::new(),
            by_expiry: BTreeMap::new(),
            capacity: capacity.max(1),
            floor: i64::MIN,
        }
    }

    /// How many nonces are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Requests expiring at or before this are refused (`i64::MIN` until room was needed).
    pub fn floor(&self) -> i64 {
        self.floor
    }

    /// Spends `digest`, which expires at `expires_at`, at time `now`: refused if it is
    /// remembered or might have been forgotten — also when it expired by `now`, which the skew
    /// check, done a moment earlier, may have missed by a second: its first use is forgotten.
    pub fn spend(&mut self, digest: Digest, expires_at: i64, now: i64) -> Result<(), Refused> {
        self.forget_expired(now);
        if expires_at <= self.floor || expires_at < now {
            return Err(Refused::Forgotten);
        }
        if self.seen.contains_key(&digest) {
            return Err(Refused::Used);
        }
        self.remember(digest, expires_at);
        Ok(())
    }

    /// Remembers a nonce spent before (reloaded after a restart); one already known, or at or
    /// below the floor, changes nothing.
    pub fn remember(&mut self, digest: Digest, expires_at: i64) {
        if expires_at <= self.floor || self.seen.contains_key(&digest) {
            return;
        }
        self.seen.insert(digest, expires_at);
        self.by_expiry.entry(expires_at).or_default().push(digest);
        while self.seen.len() > self.capacity {
            // Whole expiries at a time: the floor then says exactly what is forgotten.
            let Some((expiry, digests)) = self.by_expiry.pop_first() else {
                break;
            };
            for d in digests {
                self.seen.remove(&d);
            }
            self.floor = self.floor.max(expiry);
        }
    }

    /// Raises the floor to at least `floor` (what a restart could not reload).
    pub fn raise_floor(&mut self, floor: i64) {
        self.floor = self.floor.max(floor);
    }

    /// Forgets the nonces whose requests the skew check refuses by now.
    fn forget_expired(&mut self, now: i64) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if *entry.key() >= now {
                break;
            }
            for d in entry.remove() {
                self.seen.remove(&d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> Digest {
        [n; 16]
    }

    #[test]
    fn a_nonce_is_refused_while_its_timestamp_could_pass() {
        let mut w = Window::new(100);
        assert_eq!(w.spend(d(1), 1_900, 1_000), Ok(()));
        assert_eq!(w.spend(d(1), 1_900, 1_899), Err(Refused::Used));
        assert_eq!(w.spend(d(1), 1_900, 1_900), Err(Refused::Used));
        // Past its expiry it is forgotten: the skew check refuses such a request by then, and
        // one that passed it a second too early is refused here.
        assert_eq!(w.spend(d(2), 2_900, 1_901), Ok(()));
        assert_eq!(w.len(), 1);
        assert_eq!(w.spend(d(1), 1_900, 1_901), Err(Refused::Forgotten));
        assert_eq!(w.floor(), i64::MIN);
    }

    #[test]
    fn a_full_window_forgets_the_earliest_and_refuses_below_them() {
        let mut w = Window::new(3);
        for (n, expiry) in [(1, 10), (2, 10), (3, 20)] {
            w.spend(d(n), expiry, 0).unwrap();
        }
        // A fourth pushes out both that expire at 10, and requests expiring by 10 are refused.
        w.spend(d(4), 30, 0).unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w.floor(), 10);
        assert_eq!(w.spend(d(1), 10, 0), Err(Refused::Forgotten));
        assert_eq!(w.spend(d(9), 5, 0), Err(Refused::Forgotten));
        assert_eq!(w.spend(d(3), 20, 0), Err(Refused::Used));
        assert_eq!(w.spend(d(5), 11, 0), Ok(()));
    }

    #[test]
    fn the_newest_nonce_may_itself_be_forgotten_but_never_replayed() {
        let mut w = Window::new(1);
        w.spend(d(1), 50, 0).unwrap();
        // Expiring first, it is the one dropped for room; the floor refuses its replay.
        w.spend(d(2), 40, 0).unwrap();
        assert_eq!(w.spend(d(2), 40, 0), Err(Refused::Forgotten));
        assert_eq!(w.spend(d(1), 50, 0), Err(Refused::Used));
    }

    #[test]
    fn reloaded_nonces_are_refused_like_spent_ones() {
        let mut w = Window::new(10);
        w.remember(d(7), 100);
        w.remember(d(7), 100);
        w.raise_floor(20);
        w.remember(d(8), 20);
        assert_eq!(w.len(), 1);
        assert_eq!(w.spend(d(7), 100, 0), Err(Refused::Used));
        assert_eq!(w.spend(d(8), 20, 0), Err(Refused::Forgotten));
    }
}
