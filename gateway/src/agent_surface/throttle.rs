//! What failed agent identities may cost: a per-address budget of failures per minute and a
//! short memory of instance ids the control plane does not know. Past its budget an address
//! gets no more control-plane lookups — its requests are checked against the keys already
//! cached, so genuine agents behind the same address keep working — and an unknown id is
//! refused from memory for a while instead of asked about again.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// The window a failure budget counts over.
const WINDOW: Duration = Duration::from_secs(60);
/// Most addresses or ids remembered; past it, expired entries are swept first.
const MAX_REMEMBERED: usize = 100_000;

/// Failed identity checks per source address, and instance ids known to be unknown.
pub struct Throttle {
    failures_per_minute: u32,
    unknown_ttl: Duration,
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    unknown: Mutex<HashMap<String, Instant>>,
}

impl Throttle {
    /// A throttle allowing `failures_per_minute` per address, remembering unknown ids for
    /// `unknown_ttl`.
    pub fn new(failures_per_minute: u32, unknown_ttl: Duration) -> Self {
        Self {
            failures_per_minute,
            unknown_ttl,
            failures: Mutex::new(HashMap::new()),
            unknown: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` has used up its failures for this minute.
    pub fn exhausted(&self, ip: IpAddr) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures
            .get(&ip)
            .is_some_and(|(since, n)| since.elapsed() < WINDOW && *n >= self.failures_per_minute)
    }

    /// Counts one failed check from `ip`.
    pub fn failed(&self, ip: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_REMEMBERED {
            failures.retain(|_, (since, _)| since.elapsed() < WINDOW);
        }
        let entry = failures.entry(ip).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// Whether `instance_id` was recently found not registered.
    pub fn known_unknown(&self, instance_id: &str) -> bool {
        let unknown = self.unknown.lock().unwrap_or_else(|p| p.into_inner());
        unknown
            .get(instance_id)
            .is_some_and(|at| at.elapsed() < self.unknown_ttl)
    }

    /// Remembers that the control plane does not know `instance_id`.
    pub fn unknown(&self, instance_id: &str) {
        let mut unknown = self.unknown.lock().unwrap_or_else(|p| p.into_inner());
        if unknown.len() >= MAX_REMEMBERED {
            let ttl = self.unknown_ttl;
            unknown.retain(|_, at| at.elapsed() < ttl);
        }
        unknown.insert(instance_id.to_owned(), Instant::now());
    }

    /// Forgets that `instance_id` was unknown (it has just registered).
    pub fn known(&self, instance_id: &str) {
        self.unknown
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(instance_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_has_its_own_budget() {
        let throttle = Throttle::new(3, Duration::from_secs(10));
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(!throttle.exhausted(a));
            throttle.failed(a);
        }
        assert!(throttle.exhausted(a));
        assert!(!throttle.exhausted(b), "another address is not held to it");
    }

    #[test]
    fn an_unknown_id_is_remembered_until_it_registers() {
        let throttle = Throttle::new(3, Duration::from_secs(10));
        assert!(!throttle.known_unknown("i-x"));
        throttle.unknown("i-x");
        assert!(throttle.known_unknown("i-x"));
        throttle.known("i-x");
        assert!(!throttle.known_unknown("i-x"));
    }

    #[test]
    fn an_unknown_id_is_asked_about_again_after_its_time() {
        let throttle = Throttle::new(3, Duration::ZERO);
        throttle.unknown("i-x");
        assert!(!throttle.known_unknown("i-x"));
    }
}
