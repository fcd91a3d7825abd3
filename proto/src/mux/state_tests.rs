//! The stream state machine against the table of docs/protocol.md §9.4: every legal transition
//! listed, every other pair refused, and whole lives of a stream from both ends.

use super::{Disposition::*, Event::*, StreamState::*, *};

const STATES: [StreamState; 7] = [
    Idle,
    OpenSent,
    OpenReceived,
    Open,
    HalfClosedLocal,
    HalfClosedRemote,
    Closed,
];
const EVENTS: [Event; 12] = [
    SendOpen,
    RecvOpen,
    SendOpenAck,
    RecvOpenAck,
    SendData,
    RecvData,
    SendFin,
    RecvFin,
    SendReset,
    RecvReset,
    SendCredit,
    RecvCredit,
];

/// The table of §9.4, row by row: (state, event, next state, disposition).
const LEGAL: &[(StreamState, Event, StreamState, Disposition)] = &[
    (Idle, SendOpen, OpenSent, Apply),
    (Idle, RecvOpen, OpenReceived, Apply),
    (OpenSent, RecvOpenAck, Open, Apply),
    (OpenSent, SendData, OpenSent, Apply),
    (OpenSent, SendReset, Closed, Apply),
    (OpenSent, RecvReset, Closed, Apply),
    (OpenSent, SendCredit, OpenSent, Apply),
    (OpenSent, RecvCredit, OpenSent, Apply),
    (OpenReceived, SendOpenAck, Open, Apply),
    (OpenReceived, RecvData, OpenReceived, Apply),
    (OpenReceived, SendReset, Closed, Apply),
    (OpenReceived, RecvReset, Closed, Apply),
    (OpenReceived, SendCredit, OpenReceived, Apply),
    (OpenReceived, RecvCredit, OpenReceived, Apply),
    (Open, SendData, Open, Apply),
    (Open, RecvData, Open, Apply),
    (Open, SendFin, HalfClosedLocal, Apply),
    (Open, RecvFin, HalfClosedRemote, Apply),
    (Open, SendReset, Closed, Apply),
    (Open, RecvReset, Closed, Apply),
    (Open, SendCredit, Open, Apply),
    (Open, RecvCredit, Open, Apply),
    (HalfClosedLocal, RecvData, HalfClosedLocal, Apply),
    (HalfClosedLocal, RecvFin, Closed, Apply),
    (HalfClosedLocal, SendReset, Closed, Apply),
    (HalfClosedLocal, RecvReset, Closed, Apply),
    (HalfClosedLocal, SendCredit, HalfClosedLocal, Apply),
    (HalfClosedLocal, RecvCredit, HalfClosedLocal, Discard),
    (HalfClosedRemote, SendData, HalfClosedRemote, Apply),
    (HalfClosedRemote, SendFin, Closed, Apply),
    (HalfClosedRemote, SendReset, Closed, Apply),
    (HalfClosedRemote, RecvReset, Closed, Apply),
    (HalfClosedRemote, RecvCredit, HalfClosedRemote, Apply),
    (Closed, RecvOpenAck, Closed, Discard),
    (Closed, RecvData, Closed, Discard),
    (Closed, RecvFin, Closed, Discard),
    (Closed, RecvReset, Closed, Discard),
    (Closed, RecvCredit, Closed, Discard),
];

#[test]
fn every_pair_is_as_the_table_says() {
    let mut legal = 0;
    for state in STATES {
        for event in EVENTS {
            let want = LEGAL
                .iter()
                .find(|(s, e, _, _)| *s == state && *e == event)
                .map(|&(_, _, next, disposition)| (next, disposition));
            match want {
                Some(next) => {
                    legal += 1;
                    assert_eq!(state.on(event), Ok(next), "{state:?} + {event:?}");
                }
                None => assert_eq!(
                    state.on(event),
                    Err(IllegalTransition { state, event }),
                    "{state:?} + {event:?} must be refused"
                ),
            }
        }
    }
    assert_eq!(legal, LEGAL.len(), "the table lists no pair twice");
}

/// Runs events from `start`, returning the final state.
fn run(start: StreamState, events: &[Event]) -> StreamState {
    events.iter().fold(start, |state, &event| {
        state
            .on(event)
            .unwrap_or_else(|e| panic!("{e} after {events:?}"))
            .0
    })
}

#[test]
fn an_opener_and_an_acceptor_live_a_whole_stream() {
    // The opener (axt on the client leg) sends its request with the Open, finishes, reads the
    // answer, then the acceptor finishes.
    let opener = [
        SendOpen,
        SendData,
        RecvOpenAck,
        RecvCredit,
        SendFin,
        RecvData,
        SendCredit,
        RecvFin,
    ];
    assert_eq!(run(Idle, &opener), Closed);
    let acceptor = [
        RecvOpen,
        RecvData,
        SendOpenAck,
        SendCredit,
        RecvFin,
        SendData,
        RecvCredit,
        SendFin,
    ];
    assert_eq!(run(Idle, &acceptor), Closed);
}

#[test]
fn a_reset_ends_a_stream_from_either_end_and_late_frames_are_dropped() {
    for start in [
        OpenSent,
        OpenReceived,
        Open,
        HalfClosedLocal,
        HalfClosedRemote,
    ] {
        assert_eq!(start.on(SendReset), Ok((Closed, Apply)));
        assert_eq!(start.on(RecvReset), Ok((Closed, Apply)));
    }
    // The opener gave up while its OpenAck and the target's first bytes were on their way.
    let closed = run(Idle, &[SendOpen, SendReset]);
    for late in [RecvOpenAck, RecvData, RecvFin, RecvReset, RecvCredit] {
        assert_eq!(closed.on(late), Ok((Closed, Discard)));
    }
    // Ids are never reused, and a closed stream sends nothing.
    for wrong in [RecvOpen, SendData, SendFin, SendReset] {
        assert!(closed.on(wrong).is_err(), "{wrong:?}");
    }
}

#[test]
fn what_each_state_may_carry() {
    let senders: Vec<_> = STATES.iter().filter(|s| s.can_send()).collect();
    assert_eq!(senders, [&OpenSent, &Open, &HalfClosedRemote]);
    let receivers: Vec<_> = STATES.iter().filter(|s| s.can_receive()).collect();
    assert_eq!(
        receivers,
        [&OpenSent, &OpenReceived, &Open, &HalfClosedLocal]
    );
    // can_send agrees with the table for SendData.
    for state in STATES {
        assert_eq!(state.can_send(), state.on(SendData).is_ok(), "{state:?}");
    }
}
