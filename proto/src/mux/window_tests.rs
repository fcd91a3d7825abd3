//! Credit: never negative, stale grants harmless, an overrun caught, one Credit per half window.

use super::*;

#[test]
fn a_sender_stops_at_zero_and_goes_on_when_granted() {
    let mut w = SendWindow::new(1024);
    w.consume(1000).unwrap();
    assert_eq!(w.available(), 24);
    assert_eq!(
        w.consume(25),
        Err(CreditError::Exhausted {
            wanted: 25,
            available: 24
        })
    );
    assert_eq!(w.available(), 24, "a refused send takes nothing");
    w.consume(24).unwrap();
    assert_eq!(w.available(), 0);
    assert!(w.consume(1).is_err());
    assert!(w.grant(3000));
    assert_eq!(w.available(), 1976);
    // A stale grant, or the same one again after a reconnect, changes nothing.
    assert!(!w.grant(2048));
    assert!(!w.grant(3000));
    assert_eq!((w.sent(), w.limit(), w.available()), (1024, 3000, 1976));
}

#[test]
fn credit_is_never_negative_whatever_is_tried() {
    // A deterministic walk of consumes and grants, some refused: the invariant holds throughout.
    let mut w = SendWindow::new(1024);
    let mut seed = 0x9e37_79b9_u32;
    for _ in 0..10_000 {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let n = (seed >> 16) as usize % 2048;
        if seed & 1 == 0 {
            let before = w.available();
            match w.consume(n) {
                Ok(()) => assert_eq!(w.available(), before - n as u64),
                Err(_) => assert_eq!(w.available(), before),
            }
        } else {
            w.grant(w.sent() + (n as u64));
        }
        assert!(w.sent() <= w.limit());
    }
}

#[test]
fn a_receiver_refuses_an_overrun() {
    let mut r = RecvWindow::new(1024);
    r.receive(1000).unwrap();
    assert_eq!(
        r.receive(25),
        Err(CreditError::Overrun {
            reached: 1025,
            limit: 1024
        })
    );
    r.receive(24).unwrap();
    assert_eq!(r.buffered(), 1024);
    assert_eq!(
        r.release(1025),
        Err(CreditError::Release {
            wanted: 1025,
            buffered: 1024
        })
    );
}

#[test]
fn credit_is_granted_once_per_half_window() {
    let mut r = RecvWindow::new(1024);
    r.receive(1024).unwrap();
    assert_eq!(
        r.release(511).unwrap(),
        None,
        "less than half a window freed"
    );
    assert_eq!(r.release(1).unwrap(), Some(1536), "half a window: grant");
    assert_eq!(r.limit(), 1536);
    assert_eq!(r.release(100).unwrap(), None);
    assert_eq!(r.release(412).unwrap(), Some(2048));
    // What is buffered here never exceeds one window.
    r.receive(1024).unwrap();
    assert_eq!(r.buffered(), 1024);
    assert!(r.receive(1).is_err());
    assert_eq!(r.received(), 2048);
}

#[test]
fn sender_and_receiver_agree_over_a_long_transfer() {
    // Frames of 700 bytes through a 4096-byte window: the sender never exceeds, the receiver
    // never refuses, and 1 MiB passes.
    let (mut send, mut recv) = (SendWindow::new(4096), RecvWindow::new(4096));
    let mut moved = 0u64;
    while moved < 1 << 20 {
        let n = send.available().min(700) as usize;
        if n > 0 {
            send.consume(n).unwrap();
            recv.receive(n).unwrap();
        }
        // The receiver passes on what it holds; its grants reach the sender.
        if let Some(limit) = recv.release(recv.buffered() as usize).unwrap() {
            send.grant(limit);
        }
        moved += n as u64;
        assert!(recv.buffered() <= 4096);
    }
    assert_eq!(send.sent(), recv.received());
}
