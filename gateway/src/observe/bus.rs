//! A session's event bus: a bounded backlog for whoever subscribes late, and a broadcast of
//! live events in which a slow subscriber falls behind on its own — it is told how many it
//! lost — while the relay publishing never waits for anyone.
//!
//! Every session relayed here has a bus, and most never get a subscriber, so a bus costs
//! little until one comes: the broadcast (a ring of [`LIVE_QUEUE`] slots) exists only while
//! someone subscribes. Backlogs are bounded each ([`BACKLOG_EVENTS`], [`BACKLOG_BYTES`]) and
//! together ([`Budget`]): ten thousand busy sessions must not keep a mebibyte each.

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use tokio::sync::broadcast;

use super::events::Event;

/// Events kept for a late subscriber, at most.
pub const BACKLOG_EVENTS: usize = 1000;
/// Payload bytes kept in one backlog, at most: frames carry up to 60 KiB each, and a
/// session's bus outlives its connections for a while.
pub const BACKLOG_BYTES: usize = 1 << 20;
/// Live events a subscriber may be behind before it starts losing them.
pub const LIVE_QUEUE: usize = 256;
/// What the backlogs of all sessions may hold together (events and payloads, see
/// `Event::cost`). Past it, the bus publishing makes room in its own backlog, oldest first.
pub const BACKLOG_BUDGET: usize = 64 << 20;
/// Events a backlog keeps whatever the budget says (without payloads when over it).
pub const BACKLOG_FLOOR: usize = 16;

/// The bytes all backlogs hold, shared by the buses of one gateway.
#[derive(Debug)]
pub struct Budget {
    held: AtomicUsize,
    limit: usize,
}

impl Budget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            held: AtomicUsize::new(0),
            limit,
        })
    }

    /// Takes `bytes` if they fit.
    fn take(&self, bytes: usize) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held + bytes <= self.limit).then_some(held + bytes)
            })
            .is_ok()
    }

    /// Takes `bytes` whether they fit or not (the floor).
    fn force(&self, bytes: usize) {
        self.held.fetch_add(bytes, Ordering::AcqRel);
    }

    fn give_back(&self, bytes: usize) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }
}

/// One session's events.
pub struct Bus {
    inner: Mutex<Inner>,
    budget: Arc<Budget>,
}

#[derive(Default)]
struct Inner {
    /// Each event with what it was charged.
    events: VecDeque<(Arc<Event>, usize)>,
    /// Payload bytes in `events`.
    bytes: usize,
    /// What `events` was charged in all.
    charged: usize,
    /// The broadcast, while someone subscribes.
    live: Option<broadcast::Sender<Arc<Event>>>,
}

impl Default for Bus {
    /// A bus with a budget of its own (tests).
    fn default() -> Self {
        Self::new(Budget::new(BACKLOG_BUDGET))
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        self.budget.give_back(inner.charged);
    }
}

impl Bus {
    /// A bus whose backlog counts against `budget`.
    pub fn new(budget: Arc<Budget>) -> Self {
        Self {
            inner: Mutex::default(),
            budget,
        }
    }

    /// Keeps the event and hands it to every subscriber; never waits.
    pub fn publish(&self, event: Event) {
        let event = Arc::new(event);
        // Under the lock, so that a subscriber joining now gets each event exactly once: in
        // its copy of the backlog or live.
        let mut inner = self.lock();
        inner.keep(&event, &self.budget);
        if let Some(live) = &inner.live {
            if live.receiver_count() == 0 {
                // The last subscriber left: the ring goes until the next one comes.
                inner.live = None;
            } else {
                let _ = live.send(event);
            }
        }
    }

    /// The events so far, then the live ones.
    pub fn subscribe(&self) -> Subscription {
        let mut inner = self.lock();
        let backlog = inner.events.iter().map(|(e, _)| e.clone()).collect();
        let live = inner
            .live
            .get_or_insert_with(|| broadcast::Sender::new(LIVE_QUEUE));
        Subscription {
            backlog,
            live: live.subscribe(),
        }
    }

    /// How many subscribe now.
    pub fn subscribers(&self) -> usize {
        self.lock()
            .live
            .as_ref()
            .map_or(0, broadcast::Sender::receiver_count)
    }

    /// Lets go of the slack of a backlog that will not grow for a while (its session has no
    /// connection left).
    pub fn compact(&self) {
        self.lock().events.shrink_to_fit();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    /// Adds `event` to the backlog within its bounds and the budget's.
    fn keep(&mut self, event: &Arc<Event>, budget: &Budget) {
        let mut kept = event.clone();
        let mut cost = kept.cost();
        while !budget.take(cost) {
            if self.events.len() >= BACKLOG_FLOOR {
                self.drop_oldest(budget);
            } else if kept.bytes() > 0 {
                kept = Arc::new(kept.without_payload());
                cost = kept.cost();
            } else {
                budget.force(cost);
                break;
            }
        }
        self.bytes += kept.bytes();
        self.charged += cost;
        self.events.push_back((kept, cost));
        while self.events.len() > BACKLOG_EVENTS || self.bytes > BACKLOG_BYTES {
            if !self.drop_oldest(budget) {
                break;
            }
        }
    }

    fn drop_oldest(&mut self, budget: &Budget) -> bool {
        let Some((old, cost)) = self.events.pop_front() else {
            return false;
        };
        self.bytes -= old.bytes();
        self.charged -= cost;
        budget.give_back(cost);
        true
    }
}

/// What a subscriber reads next.
#[derive(Debug)]
pub enum Item {
    Event(Arc<Event>),
    /// This many events went past while the subscriber was behind.
    Lost(u64),
}

/// One subscriber's view of a bus.
pub struct Subscription {
    backlog: VecDeque<Arc<Event>>,
    live: broadcast::Receiver<Arc<Event>>,
}

impl Subscription {
    /// The next event, or `None` once the session's bus is gone.
    pub async fn next(&mut self) -> Option<Item> {
        if let Some(event) = self.backlog.pop_front() {
            return Some(Item::Event(event));
        }
        match self.live.recv().await {
            Ok(event) => Some(Item::Event(event)),
            Err(broadcast::error::RecvError::Lagged(count)) => Some(Item::Lost(count)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}
