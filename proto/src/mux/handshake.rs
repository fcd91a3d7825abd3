//! What each end of a leg decides from the other's Hello (docs/protocol.md §9.2): start a
//! fresh session, resume the one it holds, or give up because one end lost what the other still
//! counts on.
//!
//! The acceptor (the gateway) speaks first, naming the session bound to the channel the
//! WebSocket was opened for and what it received of it; the dialer (`axt`, the agent) answers
//! with the session it holds, or 0, and what it received. Parameters (window, largest frame,
//! streams) are fixed for a session: a resuming Hello repeats its end's first one, since frames
//! kept for replay were cut to the old sizes.

use super::Hello;

/// The Hellos do not make a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// An acceptor must name a session.
    #[error("the acceptor's Hello names session 0")]
    NoSession,
    /// The other end holds a session this end does not, or has progress in one this end forgot:
    /// the streams of it are lost. End with GoAway `SessionLost`.
    #[error("session {theirs:#x} cannot be resumed here (this end holds {ours:#x})")]
    SessionLost {
        /// The session this end holds (0: none).
        ours: u64,
        /// The session the other end named.
        theirs: u64,
    },
    /// A resuming Hello with other parameters than the session's first. End with GoAway
    /// `Protocol`.
    #[error("the resuming Hello changes the session's parameters")]
    ParamsChanged,
}

/// How a leg starts once the Hellos are exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A new session: sequence numbers from 1, no streams. `discarded` (dialer only): the
    /// dialer held another session, whose streams it now resets locally.
    Fresh {
        /// Whether the dialer gave up a session it held.
        discarded: bool,
    },
    /// The session goes on: resend what the peer lacks
    /// ([`crate::mux::ReplayBuffer::resume`] with `peer_received`), then send every open
    /// stream's Credit again.
    Resume {
        /// The peer's `received`.
        peer_received: u64,
    },
}

/// The dialer's decision on the acceptor's Hello. `held` is the acceptor's Hello that began the
/// session the dialer holds state for, if any. The dialer's own Hello then names
/// `acceptor.session` for [`Start::Resume`] and 0 for [`Start::Fresh`].
pub fn dialer(held: Option<&Hello>, acceptor: &Hello) -> Result<Start, HandshakeError> {
    if acceptor.session == 0 {
        return Err(HandshakeError::NoSession);
    }
    match held {
        Some(first) if first.session == acceptor.session => {
            same_params(first, acceptor)?;
            Ok(Start::Resume {
                peer_received: acceptor.received,
            })
        }
        // The acceptor has frames from a dialer that no longer exists here.
        _ if acceptor.received != 0 => Err(HandshakeError::SessionLost {
            ours: held.map_or(0, |h| h.session),
            theirs: acceptor.session,
        }),
        _ => Ok(Start::Fresh {
            discarded: held.is_some(),
        }),
    }
}

/// The acceptor's decision on the dialer's Hello. `session` is the one the acceptor named;
/// `progressed` whether any sequenced frame was sent or received in it; `first` the dialer's
/// Hello that began it, if one did.
pub fn acceptor(
    session: u64,
    progressed: bool,
    first: Option<&Hello>,
    dialer: &Hello,
) -> Result<Start, HandshakeError> {
    if dialer.session == session {
        if let Some(first) = first {
            same_params(first, dialer)?;
        }
        return Ok(Start::Resume {
            peer_received: dialer.received,
        });
    }
    if dialer.session == 0 && !progressed {
        return Ok(Start::Fresh { discarded: false });
    }
    Err(HandshakeError::SessionLost {
        ours: session,
        theirs: dialer.session,
    })
}

fn same_params(first: &Hello, now: &Hello) -> Result<(), HandshakeError> {
    let params = |h: &Hello| (h.window, h.max_frame, h.max_streams);
    if params(first) == params(now) {
        Ok(())
    } else {
        Err(HandshakeError::ParamsChanged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(session: u64, received: u64) -> Hello {
        Hello {
            session,
            received,
            window: 262_144,
            max_frame: 65_536,
            max_streams: 128,
        }
    }

    #[test]
    fn a_first_connection_starts_fresh_on_both_ends() {
        let from_acceptor = hello(7, 0);
        assert_eq!(
            dialer(None, &from_acceptor),
            Ok(Start::Fresh { discarded: false })
        );
        let from_dialer = hello(0, 0);
        assert_eq!(
            acceptor(7, false, None, &from_dialer),
            Ok(Start::Fresh { discarded: false })
        );
    }

    #[test]
    fn a_reconnect_resumes_from_what_each_end_received() {
        let first = hello(7, 0);
        assert_eq!(
            dialer(Some(&first), &hello(7, 41)),
            Ok(Start::Resume { peer_received: 41 })
        );
        let dialer_first = hello(0, 0);
        assert_eq!(
            acceptor(7, true, Some(&dialer_first), &hello(7, 12)),
            Ok(Start::Resume { peer_received: 12 })
        );
    }

    #[test]
    fn lost_state_on_either_end_loses_the_session() {
        // The acceptor restarted: a new session, nothing received; the dialer drops its own.
        assert_eq!(
            dialer(Some(&hello(7, 0)), &hello(9, 0)),
            Ok(Start::Fresh { discarded: true })
        );
        // The dialer forgot a session the acceptor has frames of.
        assert_eq!(
            dialer(None, &hello(7, 3)),
            Err(HandshakeError::SessionLost { ours: 0, theirs: 7 })
        );
        // A dialer starting fresh on a channel whose session already moved.
        assert_eq!(
            acceptor(7, true, None, &hello(0, 0)),
            Err(HandshakeError::SessionLost { ours: 7, theirs: 0 })
        );
        assert_eq!(
            acceptor(7, false, None, &hello(8, 0)),
            Err(HandshakeError::SessionLost { ours: 7, theirs: 8 })
        );
        assert_eq!(dialer(None, &hello(0, 0)), Err(HandshakeError::NoSession));
    }

    #[test]
    fn a_resume_may_not_change_the_parameters() {
        let mut changed = hello(7, 0);
        changed.max_frame = 1024;
        assert_eq!(
            dialer(Some(&hello(7, 0)), &changed),
            Err(HandshakeError::ParamsChanged)
        );
        assert_eq!(
            acceptor(7, true, Some(&hello(0, 0)), &changed),
            Err(HandshakeError::ParamsChanged)
        );
    }
}
