//! Records: round trips, and every way a record can be refused.

use super::*;

fn keys() -> Keys {
    Keys {
        client_to_agent: [1; 32],
        agent_to_client: [2; 32],
    }
}

fn pair(direction: Direction) -> (Sealer, Opener) {
    (
        Sealer::new(&keys(), direction, "ch-1"),
        Opener::new(&keys(), direction, "ch-1"),
    )
}

#[test]
fn records_round_trip_in_order() {
    let (mut s, mut o) = pair(Direction::ClientToAgent);
    let inners = [
        Inner::Data(b"ls -l\r".to_vec()),
        Inner::Data(Vec::new()),
        Inner::Resize { cols: 80, rows: 24 },
        Inner::Close("bye".into()),
    ];
    for (i, inner) in inners.iter().enumerate() {
        let r = s.seal(inner);
        assert_eq!(&r[..8], &(i as u64).to_be_bytes());
        assert_eq!(r.len(), OVERHEAD + inner.encode().len() - 1);
        assert_eq!(o.open(&r).unwrap().as_ref(), Some(inner));
    }
    assert_eq!((s.next_counter(), o.next_counter()), (4, 4));
}

#[test]
fn a_duplicate_is_discarded_unread() {
    let (mut s, mut o) = pair(Direction::AgentToClient);
    let first = s.seal(&Inner::Data(b"a".to_vec()));
    assert!(o.open(&first).unwrap().is_some());
    assert_eq!(o.open(&first), Ok(None));
    // Even a garbled frame with an old counter changes nothing.
    let mut junk = first.clone();
    junk[12] ^= 0xff;
    assert_eq!(o.open(&junk), Ok(None));
    let second = s.seal(&Inner::Data(b"b".to_vec()));
    assert_eq!(o.open(&second).unwrap(), Some(Inner::Data(b"b".to_vec())));
}

#[test]
fn a_gap_ends_the_session() {
    let (mut s, mut o) = pair(Direction::AgentToClient);
    let _dropped = s.seal(&Inner::Data(b"a".to_vec()));
    let next = s.seal(&Inner::Data(b"b".to_vec()));
    let err = o.open(&next).unwrap_err();
    assert_eq!(err.kind, IntegrityKind::Gap { expected: 0 });
    assert_eq!(err.counter, Some(1));
    assert_eq!(
        err.to_string(),
        "integrity check failed: agent to client frame 1: expected frame 0"
    );
}

#[test]
fn tampering_is_detected() {
    let (mut s, _) = pair(Direction::ClientToAgent);
    let r = s.seal(&Inner::Data(b"secret".to_vec()));
    for i in 8..r.len() {
        let mut bad = r.clone();
        bad[i] ^= 0x01;
        let (_, mut o) = pair(Direction::ClientToAgent);
        assert_eq!(
            o.open(&bad).unwrap_err().kind,
            IntegrityKind::BadTag,
            "byte {i}"
        );
        assert_eq!(o.next_counter(), 0);
    }
    // Another channel, another direction's key, another key: all refused.
    let mut other_channel = Opener::new(&keys(), Direction::ClientToAgent, "ch-2");
    assert_eq!(
        other_channel.open(&r).unwrap_err().kind,
        IntegrityKind::BadTag
    );
    let mut reflected = Opener::new(&keys(), Direction::AgentToClient, "ch-1");
    assert_eq!(reflected.open(&r).unwrap_err().kind, IntegrityKind::BadTag);
    let wrong = Keys {
        client_to_agent: [9; 32],
        agent_to_client: [2; 32],
    };
    let mut o = Opener::new(&wrong, Direction::ClientToAgent, "ch-1");
    assert_eq!(o.open(&r).unwrap_err().kind, IntegrityKind::BadTag);
}

#[test]
fn short_and_odd_records_are_refused() {
    let (mut s, mut o) = pair(Direction::ClientToAgent);
    assert_eq!(o.open(&[]).unwrap_err().kind, IntegrityKind::Truncated(0));
    assert_eq!(
        o.open(&[0; 24]).unwrap_err().kind,
        IntegrityKind::Truncated(24)
    );
    assert_eq!(o.open(&[0; 25]).unwrap_err().kind, IntegrityKind::BadTag);
    // Authentic but malformed inner messages: unknown type, a resize of the wrong length.
    let raw = |plain: &[u8], s: &mut Sealer| {
        let counter = s.next;
        s.next += 1;
        let sealed = s
            .cipher
            .encrypt(
                &nonce(s.direction, counter).into(),
                Payload {
                    msg: plain,
                    aad: &s.aad,
                },
            )
            .unwrap();
        [&counter.to_be_bytes()[..], &sealed].concat()
    };
    assert_eq!(
        o.open(&raw(&[9, 1], &mut s)).unwrap_err().kind,
        IntegrityKind::BadInner
    );
    let (mut s, mut o) = pair(Direction::ClientToAgent);
    assert_eq!(
        o.open(&raw(&[1, 0, 80], &mut s)).unwrap_err().kind,
        IntegrityKind::BadInner
    );
    let (mut s, mut o) = pair(Direction::ClientToAgent);
    assert_eq!(
        o.open(&raw(&[], &mut s)).unwrap_err().kind,
        IntegrityKind::Truncated(24)
    );
    let (mut s, mut o) = pair(Direction::ClientToAgent);
    assert_eq!(
        o.open(&raw(&[2, 0xff], &mut s)).unwrap(),
        Some(Inner::Close("\u{fffd}".into()))
    );
}
