//! Frames: the worked examples of docs/protocol.md §9.10 byte for byte, and every way bytes are
//! refused.

use super::*;
use crate::mux::{DATA_HEADER_LEN, MAX_DATA};

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

fn encode(frame: &Frame<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    frame.encode(&mut out).unwrap();
    assert_eq!(out.len(), frame.encoded_len());
    out
}

/// Encodes to exactly `hex`, and `hex` decodes to exactly the frame.
fn worked(frame: Frame<'_>, hex: &str) {
    let bytes = unhex(hex);
    assert_eq!(encode(&frame), bytes, "{frame:?}");
    assert_eq!(Frame::decode(&bytes), Ok(frame));
}

fn gateway_hello() -> Hello {
    Hello {
        session: 0x1122_3344_5566_7788,
        received: 0,
        window: 262_144,
        max_frame: 65_536,
        max_streams: 128,
    }
}

#[test]
fn hellos_of_the_worked_example() {
    worked(
        Frame::Hello(gateway_hello()),
        "00 00 00000000 24000000 41584d58 0100 0000 8877665544332211 0000000000000000
         00000400 00000100 80000000",
    );
    worked(
        Frame::Hello(Hello {
            session: 0,
            max_streams: 0,
            ..gateway_hello()
        }),
        "00 00 00000000 24000000 41584d58 0100 0000 0000000000000000 0000000000000000
         00000400 00000100 00000000",
    );
}

#[test]
fn stream_frames_of_the_worked_example() {
    worked(
        Frame::Open { stream: 1, seq: 1 },
        "01 00 01000000 08000000 0100000000000000",
    );
    worked(
        Frame::Data {
            stream: 1,
            seq: 2,
            payload: b"hi",
        },
        "03 00 01000000 0a000000 0200000000000000 6869",
    );
    worked(
        Frame::OpenAck { stream: 1, seq: 1 },
        "02 00 01000000 08000000 0100000000000000",
    );
    worked(
        Frame::Fin { stream: 1, seq: 3 },
        "04 00 01000000 08000000 0300000000000000",
    );
    worked(
        Frame::Reset {
            stream: 2,
            seq: 4,
            code: ResetCode::ConnectFailed,
        },
        "05 00 02000000 0a000000 0400000000000000 0200",
    );
    worked(
        Frame::Credit {
            stream: 1,
            limit: 393_216,
        },
        "06 00 01000000 08000000 0000060000000000",
    );
}

#[test]
fn channel_frames_of_the_worked_example() {
    worked(
        Frame::Ack { received: 3 },
        "07 00 00000000 08000000 0300000000000000",
    );
    worked(
        Frame::Ping { opaque: 42 },
        "08 00 00000000 08000000 2a00000000000000",
    );
    worked(
        Frame::Pong { opaque: 42 },
        "09 00 00000000 08000000 2a00000000000000",
    );
    worked(
        Frame::GoAway {
            code: GoAwayCode::Normal,
            reason: "SessionEnded",
        },
        "0a 00 00000000 0e000000 0000 53657373696f6e456e646564",
    );
}

#[test]
fn one_message_carries_several_frames() {
    // Open and the stream's first bytes in one message: a connection and its first request
    // leave together (§9.10).
    let message = unhex(
        "01 00 01000000 08000000 0100000000000000
         03 00 01000000 0a000000 0200000000000000 6869",
    );
    let got: Vec<_> = frames(&message).collect();
    assert_eq!(
        got,
        vec![
            Ok(Frame::Open { stream: 1, seq: 1 }),
            Ok(Frame::Data {
                stream: 1,
                seq: 2,
                payload: b"hi"
            })
        ]
    );
    assert_eq!(
        Frame::decode(&message),
        Err(WireError::Trailing(20)),
        "decode takes exactly one frame"
    );
    assert_eq!(
        frames(&[]).collect::<Vec<_>>(),
        vec![Err(WireError::Trailing(0))]
    );
    // A bad frame ends the iteration: nothing after a wrong length can be trusted.
    let mut broken = message.clone();
    broken[18] = 0x7f;
    let got: Vec<_> = frames(&broken).collect();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1], Err(WireError::UnknownKind(0x7f)));
}

#[test]
fn the_data_header_is_the_start_of_a_data_frame() {
    let frame = encode(&Frame::Data {
        stream: 9,
        seq: 77,
        payload: &[5; 300],
    });
    assert_eq!(
        data_header(9, 77, 300).unwrap()[..],
        frame[..DATA_HEADER_LEN]
    );
    assert!(data_header(0, 1, 1).is_err());
    assert!(data_header(1, 0, 1).is_err());
    assert!(data_header(1, 1, 0).is_err());
    assert!(data_header(1, 1, MAX_DATA as usize + 1).is_err());
}

#[test]
fn malformed_bytes_are_refused_with_what_is_wrong() {
    let open = unhex("01 00 01000000 08000000 0100000000000000");
    let refuse = |bytes: &[u8], want: WireError| {
        assert_eq!(Frame::decode(bytes), Err(want), "{}", hex::encode(bytes));
    };
    refuse(&open[..9], WireError::Truncated { need: 10, got: 9 });
    refuse(&open[..17], WireError::Truncated { need: 18, got: 17 });
    let with = |at: usize, value: &[u8]| {
        let mut b = open.clone();
        b[at..at + value.len()].copy_from_slice(value);
        b
    };
    refuse(&with(0, &[11]), WireError::UnknownKind(11));
    refuse(&with(1, &[1]), WireError::Flags(1));
    refuse(
        &with(2, &[0, 0, 0, 0]),
        WireError::WrongStream {
            kind: Kind::Open,
            stream: 0,
        },
    );
    refuse(&with(10, &[0; 8]), WireError::ZeroSeq(Kind::Open));
    refuse(
        &with(6, &[9, 0, 0, 0]),
        WireError::BodyLength {
            kind: Kind::Open,
            len: 9,
        },
    );
    // A huge length is refused from the header alone, before any allocation or read.
    refuse(
        &unhex("03 00 01000000 ffffffff"),
        WireError::BodyLength {
            kind: Kind::Data,
            len: u32::MAX as usize,
        },
    );
    // Data carries at least one byte.
    refuse(
        &unhex("03 00 01000000 08000000 0100000000000000"),
        WireError::BodyLength {
            kind: Kind::Data,
            len: 8,
        },
    );
    let ack_on_stream = unhex("07 00 05000000 08000000 0100000000000000");
    refuse(
        &ack_on_stream,
        WireError::WrongStream {
            kind: Kind::Ack,
            stream: 5,
        },
    );
    refuse(
        &unhex("0a 00 00000000 04000000 0000 ff fe"),
        WireError::ReasonNotUtf8,
    );
}

#[test]
fn hellos_are_checked_field_by_field() {
    let good = encode(&Frame::Hello(gateway_hello()));
    let with = |at: usize, value: &[u8]| {
        let mut b = good.clone();
        b[at..at + value.len()].copy_from_slice(value);
        Frame::decode(&b).map(|_| ())
    };
    assert_eq!(with(10, b"AXMY"), Err(WireError::BadMagic));
    assert_eq!(with(14, &[2, 0]), Err(WireError::Version(2)));
    assert_eq!(with(16, &[1, 0]), Err(WireError::Reserved(1)));
    let range = |field, value| Err::<(), _>(WireError::HelloRange { field, value });
    assert_eq!(with(34, &1023u32.to_le_bytes()), range("window", 1023));
    assert_eq!(with(38, &1023u32.to_le_bytes()), range("max_frame", 1023));
    let too_big = MAX_DATA + 1;
    assert_eq!(
        with(38, &too_big.to_le_bytes()),
        range("max_frame", too_big)
    );
    // The legacy frame a gateway that declines sends first (§6.8) is not a Hello.
    let legacy_output = unhex("01000000 312e3031 00 00 c40bf028a2010000 0000000000000000 00000000");
    assert!(!matches!(
        Frame::decode_prefix(&legacy_output),
        Ok((Frame::Hello(_), _))
    ));
}

#[test]
fn the_encoder_writes_nothing_it_would_refuse_to_read() {
    let mut out = vec![0xaa];
    let bad = [
        Frame::Data {
            stream: 1,
            seq: 1,
            payload: &[],
        },
        Frame::Open { stream: 0, seq: 1 },
        Frame::Fin { stream: 1, seq: 0 },
        Frame::GoAway {
            code: GoAwayCode::Protocol,
            reason: &"x".repeat(257),
        },
        Frame::Hello(Hello {
            window: 0,
            ..gateway_hello()
        }),
    ];
    for frame in bad {
        assert!(frame.encode(&mut out).is_err(), "{frame:?}");
    }
    assert_eq!(out, [0xaa], "a refused frame leaves the buffer as it was");
    // A frame of the largest payload fits one WebSocket message.
    let payload = vec![0u8; MAX_DATA as usize];
    let big = Frame::Data {
        stream: 1,
        seq: 1,
        payload: &payload,
    };
    assert!(big.encoded_len() < crate::MAX_WS_MESSAGE);
    assert_eq!(Frame::decode(&encode(&big)), Ok(big));
}

#[test]
fn unknown_codes_are_kept() {
    let reset = unhex("05 00 02000000 0a000000 0400000000000000 3412");
    assert_eq!(
        Frame::decode(&reset),
        Ok(Frame::Reset {
            stream: 2,
            seq: 4,
            code: ResetCode::Other(0x1234)
        })
    );
    for kind in Kind::ALL {
        assert_eq!(Kind::from_code(kind.code()), Some(kind));
    }
    for code in 0..10 {
        assert_eq!(ResetCode::from_code(code).code(), code);
        assert_eq!(GoAwayCode::from_code(code).code(), code);
    }
}
