//! One end's view of one stream (docs/protocol.md §9.4), as a pure state machine: each frame
//! sent or received is an [`Event`], and [`StreamState::on`] either moves the stream on or
//! refuses, so an end never sends what its peer must refuse and never applies what it should
//! not.
//!
//! ```text
//!            send Open                 recv OpenAck
//!   Idle ─────────────▶ OpenSent ─────────────────────┐
//!     │                                               ▼
//!     │ recv Open                 send OpenAck
//!     └───────────────▶ OpenReceived ──────────────▶ Open
//!                                          send Fin ╱    ╲ recv Fin
//!                               HalfClosedLocal ◀─╯        ╰─▶ HalfClosedRemote
//!                                      │ recv Fin                 │ send Fin
//!                                      └─────────▶ Closed ◀───────┘
//!   Reset, sent or received, takes any state but Idle and Closed to Closed.
//! ```

/// Where one end stands on one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StreamState {
    /// The id was never opened.
    #[default]
    Idle,
    /// This end sent Open and waits for OpenAck; it may already send Data (not Fin).
    OpenSent,
    /// This end received Open and has not answered; Data that arrives is held.
    OpenReceived,
    /// Both ways open.
    Open,
    /// This end sent Fin; it still receives.
    HalfClosedLocal,
    /// The peer sent Fin; this end still sends.
    HalfClosedRemote,
    /// Over. Frames that were already on their way are discarded, not refused.
    Closed,
}

/// A frame about a stream, sent or received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// This end sends Open.
    SendOpen,
    /// Open arrives.
    RecvOpen,
    /// This end sends OpenAck.
    SendOpenAck,
    /// OpenAck arrives.
    RecvOpenAck,
    /// This end sends Data.
    SendData,
    /// Data arrives.
    RecvData,
    /// This end sends Fin.
    SendFin,
    /// Fin arrives.
    RecvFin,
    /// This end sends Reset.
    SendReset,
    /// Reset arrives.
    RecvReset,
    /// This end sends Credit.
    SendCredit,
    /// Credit arrives.
    RecvCredit,
}

/// What to do with a frame the state machine allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Act on it.
    Apply,
    /// Drop it: it was on its way when the stream ended here (a Reset crossed it, or the credit
    /// is for a direction already finished).
    Discard,
}

/// An event the stream's state does not allow. Received: the peer broke the protocol (reset the
/// stream with [`crate::mux::ResetCode::StreamState`]). Sent: a bug in this end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{event:?} is not allowed in state {state:?}")]
pub struct IllegalTransition {
    /// The state the stream was in (and stays in).
    pub state: StreamState,
    /// The event refused.
    pub event: Event,
}

impl StreamState {
    /// The state after `event`, and whether the frame is to be acted on; the state is unchanged
    /// when the event is refused.
    pub fn on(self, event: Event) -> Result<(Self, Disposition), IllegalTransition> {
        use Disposition::{Apply, Discard};
        use Event::*;
        use StreamState::*;
        let next = match (self, event) {
            (Idle, SendOpen) => (OpenSent, Apply),
            (Idle, RecvOpen) => (OpenReceived, Apply),
            (OpenSent, RecvOpenAck) => (Open, Apply),
            (OpenReceived, SendOpenAck) => (Open, Apply),
            // Data may follow Open at once: the acceptor holds it within the initial window.
            (OpenSent, SendData) | (OpenReceived, RecvData) => (self, Apply),
            (Open, SendData | RecvData) => (Open, Apply),
            (Open, SendFin) => (HalfClosedLocal, Apply),
            (Open, RecvFin) => (HalfClosedRemote, Apply),
            (HalfClosedLocal, RecvData) | (HalfClosedRemote, SendData) => (self, Apply),
            (HalfClosedLocal, RecvFin) | (HalfClosedRemote, SendFin) => (Closed, Apply),
            (OpenSent | OpenReceived | Open | HalfClosedLocal | HalfClosedRemote, SendReset) => {
                (Closed, Apply)
            }
            (OpenSent | OpenReceived | Open | HalfClosedLocal | HalfClosedRemote, RecvReset) => {
                (Closed, Apply)
            }
            // Credit is for the direction that can still carry Data; for one already finished
            // it can only be stale, and costs nothing to drop.
            (OpenSent | OpenReceived | Open | HalfClosedLocal, SendCredit) => (self, Apply),
            (OpenSent | OpenReceived | Open | HalfClosedRemote, RecvCredit) => (self, Apply),
            (HalfClosedLocal | Closed, RecvCredit) => (self, Discard),
            // After a Reset crossed them, the peer's frames still arrive; ids are never reused,
            // so only an Open for a closed id is wrong.
            (Closed, RecvOpenAck | RecvData | RecvFin | RecvReset) => (Closed, Discard),
            _ => return Err(IllegalTransition { state: self, event }),
        };
        Ok(next)
    }

    /// Whether this end may still send Data (given credit).
    pub fn can_send(self) -> bool {
        matches!(self, Self::OpenSent | Self::Open | Self::HalfClosedRemote)
    }

    /// Whether the peer's direction is still open: it may send Data now, or once it has
    /// acknowledged the Open. Credit is worth sending only then.
    pub fn can_receive(self) -> bool {
        matches!(
            self,
            Self::OpenSent | Self::OpenReceived | Self::Open | Self::HalfClosedLocal
        )
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
