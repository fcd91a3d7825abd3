//! Kicks waiting for an agent. Starts keep their order and are bounded: past the bound a start
//! is refused, and the connection that asked fails saying so. Stops are a set: ending a
//! thousand sessions of one agent at once queues each stop once, never refuses one, and a
//! stop makes a start of the same channel still waiting pointless, so it removes it.

use std::collections::{BTreeSet, VecDeque};

use axt_proto::kick::Kick;

/// Starts waiting for one agent at most: far more than its sessions (20 connected sessions per
/// instance, each with its own connections), so that only an agent that stopped reading its
/// kick channel fills it.
pub const MAX_PENDING_STARTS: usize = 4096;

/// Why a kick was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KickError {
    /// The instance's agent has no kick channel on this gateway.
    #[error("the instance's agent has no kick channel here")]
    NotOnline,
    /// The agent has [`MAX_PENDING_STARTS`] starts waiting: it is not reading its kicks.
    #[error("the agent has {MAX_PENDING_STARTS} kicks waiting and reads none")]
    QueueFull,
}

/// The kicks waiting for one agent.
#[derive(Debug, Default)]
pub struct Mailbox {
    starts: VecDeque<Kick>,
    stops: BTreeSet<String>,
}

impl Mailbox {
    /// Queues `kick`.
    pub fn put(&mut self, kick: Kick) -> Result<(), KickError> {
        match kick {
            Kick::SessionStop(channel) => {
                self.starts
                    .retain(|k| !matches!(k, Kick::SessionStart(c) if *c == channel));
                self.stops.insert(channel);
            }
            start => {
                if self.starts.len() >= MAX_PENDING_STARTS {
                    return Err(KickError::QueueFull);
                }
                self.starts.push_back(start);
            }
        }
        Ok(())
    }

    /// Everything waiting, starts first (a new session should not wait behind old ones'
    /// ends), emptying the mailbox.
    pub fn take_all(&mut self) -> Vec<Kick> {
        let mut kicks: Vec<Kick> = self.starts.drain(..).collect();
        kicks.extend(
            std::mem::take(&mut self.stops)
                .into_iter()
                .map(Kick::SessionStop),
        );
        kicks
    }

    /// Takes over what another mailbox still holds (a replaced kick channel's).
    pub fn absorb(&mut self, other: &mut Mailbox) {
        for kick in other.take_all() {
            // The bound cannot be passed: the other held at most as many starts.
            let _ = self.put(kick);
        }
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty() && self.stops.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_are_a_set_and_cancel_their_start() {
        let mut m = Mailbox::default();
        m.put(Kick::SessionStart("c-1".into())).unwrap();
        m.put(Kick::SessionStart("c-2".into())).unwrap();
        for _ in 0..1000 {
            m.put(Kick::SessionStop("c-1".into())).unwrap();
        }
        assert_eq!(
            m.take_all(),
            [
                Kick::SessionStart("c-2".into()),
                Kick::SessionStop("c-1".into())
            ]
        );
        assert!(m.is_empty());
    }

    #[test]
    fn starts_are_bounded_and_stops_are_not() {
        let mut m = Mailbox::default();
        for i in 0..MAX_PENDING_STARTS {
            m.put(Kick::SessionStart(format!("c-{i}"))).unwrap();
        }
        assert_eq!(
            m.put(Kick::SessionStart("c-x".into())),
            Err(KickError::QueueFull)
        );
        for i in 0..10_000 {
            m.put(Kick::SessionStop(format!("s-{i}"))).unwrap();
        }
        assert_eq!(m.take_all().len(), MAX_PENDING_STARTS + 10_000);
    }
}
