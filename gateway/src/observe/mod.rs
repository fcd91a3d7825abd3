//! Watching sessions as they run: each session relayed here has an event bus that the console's
//! flow view subscribes to (`/session/events`, [`stream`]), and each shell connection may be
//! recorded in asciicast v2 and appended to the control plane ([`recorder`]).
//!
//! Both are fed by one hook per connection, its [`Tap`], which the relay calls where it already
//! traces frames; the surfaces add the steps before the relay exists (the token check and the
//! channel's allocation) and the agent's spec pull. Nothing here ever makes the relay wait.
//!
//! - `events.rs`: the events and their JSON; `bus.rs`: a session's bus, its bounded backlog and
//!   lagging subscribers;
//! - `tap.rs`: the relay's hook; `stream.rs`: the WebSocket of events;
//! - `recorder.rs`, `upload.rs`, `cast.rs`: the recording, its appends, its asciicast lines;
//! - `encode.rs`: base64 and timestamps.

pub mod bus;
mod cast;
mod encode;
pub mod events;
pub mod recorder;
pub mod stream;
mod tap;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
mod upload;

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use axt_proto::internal::ChannelGrant;
use tokio::time::Instant;

pub use bus::{Budget, Bus, Item, Subscription};
pub use events::{Event, Kind};
pub use recorder::{Appender, Policy, Recorder};
pub use tap::Tap;

/// How long a session's bus outlives its last connection: a client coming back, or a console
/// subscribing late, still finds what happened.
pub const LINGER: Duration = Duration::from_secs(300);
/// Buses kept without a connection, at most: past it the one idle longest goes at once. What a
/// console looks back at is the last few sessions, not the last ten thousand a soak closed —
/// whose buses would otherwise keep the gateway's memory up for the whole linger.
pub const MAX_LINGERING: usize = 64;
/// How often buses past their linger are let go.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// Subscribers of one session at most (each holds a WebSocket and a place in the broadcast).
pub const MAX_SUBSCRIBERS: usize = 16;

/// The sessions being watched, and how connections are recorded.
pub struct Observe {
    buses: Mutex<Buses>,
    /// What the backlogs of all buses hold together.
    budget: Arc<Budget>,
    policy: Policy,
    appender: Arc<dyn Appender>,
    /// Held by each recording until its last append: a gateway shutting down waits for them.
    uploads: Arc<()>,
}

#[derive(Default)]
struct Buses {
    entries: HashMap<String, Entry>,
    /// Entries without a connection.
    idle: usize,
    /// Sessions in the order they lost their last connection, with when; an item whose entry
    /// has since been reconnected or let go is skipped.
    lingering: VecDeque<(String, Instant)>,
}

struct Entry {
    bus: Arc<Bus>,
    /// Live connections (taps) of the session on this gateway.
    connections: usize,
    /// Since when it has had none.
    idle_since: Instant,
}

/// The session already has [`MAX_SUBSCRIBERS`] subscribers.
#[derive(Debug, thiserror::Error)]
#[error("the session already has {MAX_SUBSCRIBERS} event subscribers")]
pub struct TooManySubscribers;

impl Observe {
    pub fn new(policy: Policy, appender: Arc<dyn Appender>) -> Arc<Self> {
        Arc::new(Self {
            buses: Mutex::default(),
            budget: Budget::new(bus::BACKLOG_BUDGET),
            policy,
            appender,
            uploads: Arc::default(),
        })
    }

    fn buses(&self) -> std::sync::MutexGuard<'_, Buses> {
        self.buses.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The bus of a session whose token was checked, made if it has none yet; `connect`: a
    /// connection of the session starts using it.
    fn bus(&self, session_id: &str, connect: bool) -> Arc<Bus> {
        let mut buses = self.buses();
        let buses = &mut *buses;
        let entry = match buses.entries.get_mut(session_id) {
            Some(entry) => entry,
            None => {
                let now = Instant::now();
                buses.idle += 1;
                buses.lingering.push_back((session_id.to_owned(), now));
                let entry = Entry {
                    bus: Arc::new(Bus::new(self.budget.clone())),
                    connections: 0,
                    idle_since: now,
                };
                buses.entries.entry(session_id.to_owned()).or_insert(entry)
            }
        };
        if connect {
            if entry.connections == 0 {
                buses.idle -= 1;
            }
            entry.connections += 1;
        }
        let bus = entry.bus.clone();
        buses.evict();
        bus
    }

    /// Publishes on the bus of a session whose token was checked.
    pub fn publish(&self, session_id: &str, event: Event) {
        self.bus(session_id, false).publish(event);
    }

    /// Publishes on a session's bus if it has one (an agent's step never makes one).
    pub fn publish_existing(&self, session_id: &str, event: Event) {
        let bus = self.buses().entries.get(session_id).map(|e| e.bus.clone());
        if let Some(bus) = bus {
            bus.publish(event);
        }
    }

    /// A client's token was checked (`detail`: for what).
    pub fn token_checked(&self, session_id: &str, channel_id: Option<&str>, detail: &str) {
        let event = Event::new(Kind::TokenCheck, channel_id).with_detail(detail);
        self.publish(session_id, event);
    }

    /// The control plane allocated `channel_id` (`detail`: new, or taken over).
    pub fn channel_opened(&self, session_id: &str, channel_id: &str, detail: &str) {
        let event = Event::new(Kind::ChannelOpen, Some(channel_id)).with_detail(detail);
        self.publish(session_id, event);
    }

    /// The agent pulled the spec of `channel_id`.
    pub fn spec_pulled(&self, session_id: &str, channel_id: &str) {
        self.publish_existing(session_id, Event::new(Kind::SpecPull, Some(channel_id)));
    }

    /// Subscribes to a session whose token was checked: its events so far, then live ones.
    pub fn subscribe(&self, session_id: &str) -> Result<Subscription, TooManySubscribers> {
        let bus = self.bus(session_id, false);
        if bus.subscribers() >= MAX_SUBSCRIBERS {
            return Err(TooManySubscribers);
        }
        Ok(bus.subscribe())
    }

    /// The hook of a connection's relay. Shell connections are recorded unless recording is
    /// off, the session is encrypted end to end, or the channel was taken over from a
    /// previous run of the gateway (whose part of the recording this one cannot continue).
    pub fn tap(self: &Arc<Self>, grant: &ChannelGrant, taken_over: bool) -> Tap {
        let session_id = &grant.session.session_id;
        let bus = self.bus(session_id, true);
        let recorder = self.recorder_for(grant, taken_over);
        Tap::new(self.clone(), bus, session_id, &grant.channel_id, recorder)
    }

    fn recorder_for(&self, grant: &ChannelGrant, taken_over: bool) -> Option<Recorder> {
        if !self.policy.enabled || grant.session.is_port() {
            return None;
        }
        if grant.session.encryption.is_some() {
            tracing::info!("not recording: the connection is encrypted end to end");
            return None;
        }
        if taken_over {
            tracing::info!("not recording a channel taken over from a previous run");
            return None;
        }
        let names = recorder::Names {
            session_id: grant.session.session_id.clone(),
            channel_id: grant.channel_id.clone(),
            instance_id: grant.instance_id.clone(),
        };
        let alive = self.uploads.clone();
        Some(Recorder::start(
            names,
            self.policy,
            self.appender.clone(),
            alive,
        ))
    }

    /// A connection of the session ended.
    fn detach(&self, session_id: &str) {
        let mut buses = self.buses();
        let buses = &mut *buses;
        let Some(entry) = buses.entries.get_mut(session_id) else {
            return;
        };
        if entry.connections == 0 {
            return;
        }
        entry.connections -= 1;
        if entry.connections == 0 {
            entry.idle_since = Instant::now();
            entry.bus.compact();
            buses.idle += 1;
            buses
                .lingering
                .push_back((session_id.to_owned(), entry.idle_since));
            buses.evict();
        }
    }

    /// Lets go of the buses of sessions without a connection for [`LINGER`]; their
    /// subscribers' streams end.
    pub fn sweep(&self) {
        let now = Instant::now();
        let mut buses = self.buses();
        let buses = &mut *buses;
        buses
            .entries
            .retain(|_, e| e.connections > 0 || now.duration_since(e.idle_since) < LINGER);
        buses.idle = buses
            .entries
            .values()
            .filter(|e| e.connections == 0)
            .count();
        let entries = &buses.entries;
        buses.lingering.retain(|(id, at)| {
            entries
                .get(id)
                .is_some_and(|e| e.connections == 0 && e.idle_since == *at)
        });
    }

    /// How many recordings have not made their last append yet.
    pub fn uploading(&self) -> usize {
        Arc::strong_count(&self.uploads) - 1
    }

    /// How many sessions have a bus.
    pub fn sessions(&self) -> usize {
        self.buses().entries.len()
    }

    /// What the backlogs of all buses hold, in bytes.
    pub fn backlog_bytes(&self) -> usize {
        self.budget.held()
    }
}

impl Buses {
    /// Lets go of the buses idle longest while more than [`MAX_LINGERING`] have no connection.
    fn evict(&mut self) {
        while self.idle > MAX_LINGERING {
            let Some((id, at)) = self.lingering.pop_front() else {
                break;
            };
            let idle_since_then = self
                .entries
                .get(&id)
                .is_some_and(|e| e.connections == 0 && e.idle_since == at);
            if idle_since_then {
                self.entries.remove(&id);
                self.idle -= 1;
            }
        }
    }
}

/// Sweeps every [`SWEEP_EVERY`], for as long as the gateway runs.
pub async fn sweep_every(observe: Arc<Observe>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        observe.sweep();
    }
}
