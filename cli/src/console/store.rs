//! The console's cookie sessions: who signed in, the client that signs their calls, their CSRF
//! token, and the terminal sessions they started. In memory only (a restart signs everyone
//! out), keyed by the SHA-256 of the cookie so the map never holds a usable cookie and a lookup
//! compares hashes, not secrets; bounded, the least recently used evicted first; and each one
//! ends 30 minutes after its last use or 8 hours after sign-in, whichever comes first. A
//! session that ends tells its WebSocket relays, which close.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rand::RngCore as _;
use secrecy::SecretString;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use tokio::sync::watch;

use crate::api::ApiClient;

/// A cookie session unused this long is over.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// A cookie session this old is over, however busy.
pub const LIFETIME: Duration = Duration::from_secs(8 * 60 * 60);
/// Cookie sessions kept at once; a sign-in beyond it evicts the least recently used.
pub const MAX_SIGNED_IN: usize = 1000;
/// Terminal sessions remembered per cookie session; older ones can no longer be relayed.
pub const MAX_STARTED: usize = 100;

/// Who signed in, as GetCallerIdentity said; what `/api/me` shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    pub arn: String,
    pub identity_type: String,
    pub account_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// A terminal session this cookie session started: what its relays need.
pub struct Started {
    /// The WebSocketUrl, token and all; never sent to the browser or logged.
    pub url: SecretString,
    pub instance_id: String,
}

/// One signed-in principal.
pub struct SignedIn {
    pub principal: Principal,
    /// Signs every call as the principal (its key is held by the client, never logged).
    pub client: ApiClient,
    /// The STS token of a temporary key, sent as `SecurityToken` with every call.
    pub security_token: Option<SecretString>,
    /// What every POST must carry in `X-Axt-Csrf`.
    pub csrf: String,
    started: Mutex<VecDeque<(String, Started)>>,
    /// The last request, or message relayed from the browser.
    last_used: Mutex<Instant>,
    /// Sign-in plus the lifetime: the end, however busy (set when stored).
    deadline: Instant,
    /// Turns true when the session ends: sign-out, expiry, eviction.
    ended: watch::Sender<bool>,
}

impl SignedIn {
    pub fn new(
        principal: Principal,
        client: ApiClient,
        security_token: Option<SecretString>,
    ) -> Self {
        Self {
            principal,
            client,
            security_token,
            csrf: random_token(),
            started: Mutex::new(VecDeque::new()),
            last_used: Mutex::new(Instant::now()),
            deadline: Instant::now() + LIFETIME,
            ended: watch::channel(false).0,
        }
    }

    /// Marks the session used at `now` (a relayed message keeps it alive like a request).
    pub fn touch(&self, now: Instant) {
        let mut last = lock(&self.last_used);
        *last = (*last).max(now);
    }

    /// When the session ends whatever happens.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Turns true when the session ends; a relay closes then.
    pub fn ended(&self) -> watch::Receiver<bool> {
        self.ended.subscribe()
    }

    fn end(&self) {
        self.ended.send_replace(true);
    }

    fn expired(&self, now: Instant, limits: &Limits) -> bool {
        let last_used = *lock(&self.last_used);
        now >= self.deadline || now.saturating_duration_since(last_used) >= limits.idle
    }

    /// Whether `token` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, token: &str) -> bool {
        bool::from(self.csrf.as_bytes().ct_eq(token.as_bytes()))
    }

    /// Remembers a terminal session it started, forgetting the oldest past [`MAX_STARTED`].
    pub fn remember(&self, session_id: String, started: Started) {
        let mut list = lock(&self.started);
        list.retain(|(id, _)| *id != session_id);
        if list.len() >= MAX_STARTED {
            list.pop_front();
        }
        list.push_back((session_id, started));
    }

    /// The WebSocketUrl of `session_id`, if this cookie session started it.
    pub fn session_url(&self, session_id: &str) -> Option<SecretString> {
        lock(&self.started)
            .iter()
            .find(|(id, _)| id == session_id)
            .map(|(_, started)| started.url.clone())
    }
}

/// How long cookie sessions live and how many there may be.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub idle: Duration,
    pub lifetime: Duration,
    pub max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            idle: IDLE,
            lifetime: LIFETIME,
            max: MAX_SIGNED_IN,
        }
    }
}

/// The cookie sessions.
pub struct Store {
    entries: Mutex<HashMap<[u8; 32], Arc<SignedIn>>>,
    limits: Limits,
}

impl Store {
    pub fn new(limits: Limits) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            limits,
        }
    }

    /// Keeps `session`; returns the cookie value that finds it (shown to nobody else).
    pub fn insert(&self, mut session: SignedIn, now: Instant) -> String {
        session.deadline = now + self.limits.lifetime;
        *lock(&session.last_used) = now;
        let cookie = random_token();
        let mut entries = lock(&self.entries);
        entries.retain(|_, entry| {
            let keep = !entry.expired(now, &self.limits);
            if !keep {
                entry.end();
            }
            keep
        });
        while entries.len() >= self.limits.max.max(1) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, entry)| *lock(&entry.last_used))
                .map(|(key, _)| *key);
            match oldest.and_then(|key| entries.remove(&key)) {
                Some(evicted) => evicted.end(),
                None => break,
            };
        }
        entries.insert(digest(&cookie), Arc::new(session));
        cookie
    }

    /// The live session of `cookie`, marked used; an expired one is forgotten.
    pub fn get(&self, cookie: &str, now: Instant) -> Option<Arc<SignedIn>> {
        let key = digest(cookie);
        let mut entries = lock(&self.entries);
        let entry = entries.get(&key)?;
        if entry.expired(now, &self.limits) {
            entry.end();
            entries.remove(&key);
            return None;
        }
        entry.touch(now);
        Some(entry.clone())
    }

    /// Ends the session of `cookie` (sign-out).
    pub fn remove(&self, cookie: &str) {
        if let Some(session) = lock(&self.entries).remove(&digest(cookie)) {
            session.end();
        }
    }
}

/// 256 random bits from the OS, URL-safe: cookies and CSRF tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(cookie: &str) -> [u8; 32] {
    Sha256::digest(cookie.as_bytes()).into()
}

/// A poisoned lock only means another request panicked mid-update of a plain map; the map is
/// still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_in(name: &str) -> SignedIn {
        let args = crate::args::GlobalArgs {
            access_key_id: Some("LTAItest".into()),
            access_key_secret: Some("secret".into()),
            region: Some("cn-hangzhou".into()),
            endpoint: "127.0.0.1:1".into(),
            ..Default::default()
        };
        let settings =
            crate::profile::Settings::resolve(&args, Some(std::path::Path::new("/dev/null")))
                .unwrap();
        let principal = Principal {
            arn: format!("acs:ram::1:user/{name}"),
            identity_type: "RAMUser".into(),
            account_id: "1".into(),
            user_id: None,
        };
        SignedIn::new(principal, ApiClient::new(&settings).unwrap(), None)
    }

    #[test]
    fn sessions_end_when_idle_or_old() {
        let store = Store::new(Limits::default());
        let start = Instant::now();
        let cookie = store.insert(signed_in("a"), start);
        assert!(store.get("not-the-cookie", start).is_none());
        // Used every 20 minutes it stays, until 8 hours after sign-in.
        let mut now = start;
        while now + Duration::from_secs(20 * 60) < start + LIFETIME {
            now += Duration::from_secs(20 * 60);
            assert!(store.get(&cookie, now).is_some(), "{:?}", now - start);
        }
        assert!(store.get(&cookie, start + LIFETIME).is_none());

        let cookie = store.insert(signed_in("b"), start);
        assert!(store
            .get(&cookie, start + IDLE - Duration::from_secs(1))
            .is_some());
        let later = start + 2 * IDLE;
        assert!(store.get(&cookie, later).is_none());
        let cookie = store.insert(signed_in("c"), start);
        let ended = store.get(&cookie, start).unwrap().ended();
        assert!(!*ended.borrow());
        store.remove(&cookie);
        assert!(store.get(&cookie, start).is_none());
        assert!(*ended.borrow(), "its relays are told");
    }

    #[test]
    fn the_least_recently_used_is_evicted() {
        let limits = Limits {
            max: 2,
            ..Limits::default()
        };
        let store = Store::new(limits);
        let t = Instant::now();
        let one = store.insert(signed_in("one"), t);
        let two = store.insert(signed_in("two"), t + Duration::from_secs(1));
        assert!(store.get(&one, t + Duration::from_secs(2)).is_some());
        let three = store.insert(signed_in("three"), t + Duration::from_secs(3));
        let now = t + Duration::from_secs(4);
        assert!(
            store.get(&two, now).is_none(),
            "two was used least recently"
        );
        assert!(store.get(&one, now).is_some() && store.get(&three, now).is_some());
    }

    #[test]
    fn tokens_are_random_and_csrf_is_checked_exactly() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 bits, base64url without padding");
        let session = signed_in("a");
        let csrf = session.csrf.clone();
        assert!(session.csrf_matches(&csrf));
        assert!(!session.csrf_matches(&csrf[1..]));
        assert!(!session.csrf_matches(""));
    }

    #[test]
    fn only_started_sessions_are_known_and_the_list_is_bounded() {
        let session = signed_in("a");
        for n in 0..=MAX_STARTED {
            let started = Started {
                url: SecretString::from(format!("wss://gw/session?sessionId=s-{n}")),
                instance_id: "i-1".into(),
            };
            session.remember(format!("s-{n}"), started);
        }
        assert!(
            session.session_url("s-0").is_none(),
            "the oldest is forgotten"
        );
        assert!(session.session_url("s-1").is_some());
        assert!(session.session_url(&format!("s-{MAX_STARTED}")).is_some());
        assert!(session.session_url("s-unknown").is_none());
    }
}
