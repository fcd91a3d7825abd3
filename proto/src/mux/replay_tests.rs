//! Replay: bounded, cumulative, and after a reconnect resending exactly what the peer lacks —
//! no byte lost, none applied twice.

use super::*;
use crate::mux::{Frame, ACK_EVERY_BYTES};

/// Encodes Data frame `seq` of stream 1 with `payload`, and records it.
fn send(replay: &mut ReplayBuffer, payload: &[u8]) -> Vec<u8> {
    let seq = replay.next_seq();
    let mut out = Vec::new();
    Frame::Data {
        stream: 1,
        seq,
        payload,
    }
    .encode(&mut out)
    .unwrap();
    replay.record(seq, &out).unwrap();
    out
}

/// Applies an arriving frame at the receiver: the payload of a new Data frame joins `got`.
fn arrive(received: &mut Received, got: &mut Vec<u8>, bytes: &[u8]) -> Arrival {
    let frame = Frame::decode(bytes).unwrap();
    let arrival = received.accept(frame.seq().unwrap(), bytes.len()).unwrap();
    if let (Arrival::New, Frame::Data { payload, .. }) = (arrival, frame) {
        got.extend_from_slice(payload);
    }
    arrival
}

#[test]
fn frames_are_kept_in_turn_until_acknowledged() {
    let mut r = ReplayBuffer::new(100);
    assert_eq!(r.next_seq(), 1);
    r.record(1, &[1; 40]).unwrap();
    assert_eq!(
        r.record(3, &[3; 10]),
        Err(ReplayError::OutOfTurn {
            expected: 2,
            got: 3
        })
    );
    r.record(2, &[2; 40]).unwrap();
    assert!(r.has_room(20) && !r.has_room(21));
    assert_eq!(
        r.record(3, &[3; 21]),
        Err(ReplayError::Full {
            unacked: 80,
            len: 21,
            limit: 100
        })
    );
    assert_eq!(r.ack(1), Ok(40));
    assert_eq!(
        r.ack(1),
        Ok(0),
        "an acknowledgement applied twice frees nothing"
    );
    assert_eq!(
        r.ack(3),
        Err(ReplayError::AckBeyondSent {
            received: 3,
            sent: 2
        })
    );
    assert_eq!(r.unacked_bytes(), 40);
    assert_eq!(r.ack(2), Ok(40));
    assert_eq!((r.unacked_bytes(), r.released()), (0, 2));
    // With nothing kept, even a frame larger than the bound goes: no size can wedge a leg.
    r.record(3, &[3; 150]).unwrap();
    assert!(!r.has_room(1));
}

#[test]
fn a_reconnect_resends_exactly_the_unacknowledged_frames() {
    let mut sender = ReplayBuffer::new(1 << 20);
    let (mut receiver, mut got) = (Received::new(), Vec::new());
    let stream: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let chunks: Vec<&[u8]> = stream.chunks(999).collect();
    let mut wire = Vec::new();
    for chunk in &chunks {
        wire.push(send(&mut sender, chunk));
    }
    // The socket delivered the first 20 frames; an Ack for 12 reached the sender; then the
    // socket broke, taking frames 21… and any later Ack with it.
    for frame in &wire[..20] {
        assert_eq!(arrive(&mut receiver, &mut got, frame), Arrival::New);
    }
    sender.ack(12).unwrap();
    // The new socket: the receiver's Hello says it has 20.
    let resend: Vec<(u64, Vec<u8>)> = sender
        .resume(receiver.last())
        .unwrap()
        .map(|(seq, bytes)| (seq, bytes.to_vec()))
        .collect();
    let seqs: Vec<u64> = resend.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (21..=chunks.len() as u64).collect::<Vec<_>>());
    for (i, (_, bytes)) in resend.iter().enumerate() {
        assert_eq!(bytes, &wire[20 + i], "resent byte for byte as first sent");
        assert_eq!(arrive(&mut receiver, &mut got, bytes), Arrival::New);
    }
    assert_eq!(got, stream, "every byte once, in order");
    assert_eq!(sender.released(), 20);
}

#[test]
fn an_overlapping_replay_is_applied_once() {
    let mut sender = ReplayBuffer::new(1 << 20);
    let (mut receiver, mut got) = (Received::new(), Vec::new());
    let wire: Vec<Vec<u8>> = (0u8..6).map(|i| send(&mut sender, &[i; 3])).collect();
    for frame in &wire[..4] {
        arrive(&mut receiver, &mut got, frame);
    }
    // A sender that resends from an older point than asked (its Hello crossed an Ack): the
    // copies are recognised and dropped.
    let resend: Vec<Vec<u8>> = sender.resume(2).unwrap().map(|(_, b)| b.to_vec()).collect();
    assert_eq!(resend.len(), 4);
    let arrivals: Vec<Arrival> = resend
        .iter()
        .map(|b| arrive(&mut receiver, &mut got, b))
        .collect();
    use Arrival::{Duplicate, New};
    assert_eq!(arrivals, [Duplicate, Duplicate, New, New]);
    assert_eq!(got, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5]);
}

#[test]
fn frames_let_go_cannot_be_asked_for_again() {
    let mut sender = ReplayBuffer::new(1 << 20);
    for i in 0..5u8 {
        send(&mut sender, &[i]);
    }
    sender.ack(3).unwrap();
    assert_eq!(
        sender.resume(2).err(),
        Some(ReplayError::Lost {
            received: 2,
            released: 3
        })
    );
    assert_eq!(
        sender.resume(6).err(),
        Some(ReplayError::AckBeyondSent {
            received: 6,
            sent: 5
        })
    );
    assert_eq!(sender.resume(5).unwrap().count(), 0, "nothing to resend");
}

#[test]
fn a_gap_is_an_error_and_acks_come_at_the_threshold() {
    let mut r = Received::new();
    assert_eq!(r.accept(1, 100), Ok(Arrival::New));
    assert_eq!(
        r.accept(3, 100),
        Err(ReplayError::Gap {
            expected: 2,
            got: 3
        })
    );
    assert_eq!(r.last(), 1, "a refused frame leaves the count as it was");
    assert!(r.pending() && !r.ack_due());
    assert_eq!(r.take_ack(), Some(1));
    assert_eq!(r.take_ack(), None, "nothing new to acknowledge");
    let mut seq = 2;
    while !r.ack_due() {
        r.accept(seq, 1000).unwrap();
        seq += 1;
    }
    assert_eq!(seq - 2, ACK_EVERY_BYTES.div_ceil(1000) as u64);
    r.acked_by_hello();
    assert!(!r.pending() && !r.ack_due());
}

#[test]
fn compaction_keeps_the_right_bytes() {
    // Frames of 10 KiB, acknowledged a few at a time: the buffer compacts as it goes, and what a
    // resume returns is always the frames still unacknowledged.
    let mut sender = ReplayBuffer::new(1 << 20);
    let mut wire = Vec::new();
    for i in 0..60u32 {
        wire.push(send(&mut sender, &vec![(i % 256) as u8; 10 * 1024]));
        if i % 3 == 2 {
            sender.ack(u64::from(i) - 1).unwrap();
        }
    }
    let from = sender.released();
    let resend: Vec<(u64, Vec<u8>)> = sender
        .resume(from)
        .unwrap()
        .map(|(s, b)| (s, b.to_vec()))
        .collect();
    for (seq, bytes) in &resend {
        assert_eq!(bytes, &wire[*seq as usize - 1]);
    }
    assert_eq!(resend.last().map(|(s, _)| *s), Some(60));
    sender.ack(60).unwrap();
    assert_eq!(sender.unacked_bytes(), 0);
}
