//! Property tests: every decoder takes arbitrary bytes without panicking, and what an encoder
//! writes decodes back to the same frame.

use axt_proto::{
    agent_frame::{AgentFrame, AgentMessageType},
    client_frame::{parse_resize, ClientFrame, ClientMessageType},
    e2e::{
        authenticated::Keys,
        exchange::Message,
        record::{Direction, Inner, Opener, Sealer},
    },
    kick::{Kick, KickReply},
    luban,
    mux::{self, Frame, GoAwayCode, Hello, ResetCode},
    spec, status,
};
use proptest::prelude::*;

/// Fixed record keys: the opener must refuse arbitrary bytes without panicking.
fn keys() -> Keys {
    Keys {
        client_to_agent: [1; 32],
        agent_to_client: [2; 32],
    }
}

proptest! {
    // PROPTEST_CASES sets the number of cases; .ci/run runs a longer fuzz pass this way.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn no_decoder_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = AgentFrame::decode(&bytes);
        let _ = ClientFrame::decode(&bytes);
        let _ = parse_resize(&bytes);
        let _ = status::parse_rate(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = Kick::parse(&text);
        let _ = KickReply::parse(&text);
        let _ = luban::unwrap_public_key(&text);
        let _ = serde_json::from_slice::<spec::SessionSpec>(&bytes);
        let _ = serde_json::from_slice::<luban::RegisterRequest>(&bytes);
        let _ = Message::decode(&bytes);
        let _ = Opener::new(&keys(), Direction::ClientToAgent, "c").open(&bytes);
        let _ = Frame::decode(&bytes);
        for _ in mux::frames(&bytes) {}
    }

    #[test]
    fn key_exchange_json_never_panics(action in prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(11)], json in "\\{(\"(cipherSuite|encryptIV|axtSuites|clientRandom|clientCertificate|axtSuite|agentRandom|clientPub|signature|kmsCipherTextKey|agentPub|code|message|[a-zA-Z]{1,5})\":(\"[A-Za-z0-9+/=]{0,60}\"|null|true|\\[\\]|\\[\"[A-Z_0-9]{0,9}\"\\]|[0-9]),?){0,5}\\}") {
        let mut bytes = vec![action];
        bytes.extend_from_slice(json.as_bytes());
        if let Ok(m) = Message::decode(&bytes) {
            prop_assert_eq!(Message::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn records_round_trip_and_any_later_counter_is_refused(data in proptest::collection::vec(any::<u8>(), 0..300), ahead in 1u64.., flip in any::<prop::sample::Index>()) {
        let mut sealer = Sealer::new(&keys(), Direction::AgentToClient, "c");
        let mut opener = Opener::new(&keys(), Direction::AgentToClient, "c");
        let record = sealer.seal(&Inner::Data(data.clone()));
        let mut tampered = record.clone();
        tampered[flip.index(record.len())] ^= 0x80;
        prop_assert!(opener.open(&tampered).is_err());
        prop_assert_eq!(opener.open(&record).unwrap(), Some(Inner::Data(data)));
        prop_assert_eq!(opener.open(&record).unwrap(), None);
        let mut later = sealer.seal(&Inner::Close(String::new()));
        later[..8].copy_from_slice(&(1u64.saturating_add(ahead)).to_be_bytes());
        prop_assert!(opener.open(&later).is_err());
    }

    #[test]
    fn client_frames_with_ids_never_panic(l1 in any::<u8>(), l2 in any::<u8>(), tail in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut bytes = vec![1, 0, 0, 0, b'1', b'.', b'0', b'2', l1];
        bytes.extend_from_slice(&tail);
        if let Some(b) = bytes.get_mut(9 + usize::from(l1)) { *b = l2; }
        let _ = ClientFrame::decode(&bytes);
    }

    #[test]
    fn agent_frames_round_trip(kind in 0u32..8, id in "[a-z0-9-]{0,32}", seq in any::<i64>(), created in 1u64.., payload in proptest::collection::vec(any::<u8>(), 0..100)) {
        let frame = AgentFrame { kind: AgentMessageType::from_code(kind), schema: "1.01".into(), channel_id: id, created_ms: created, seq, payload };
        prop_assert_eq!(AgentFrame::decode(&frame.encode().unwrap()).unwrap(), frame);
    }

    #[test]
    fn client_frames_round_trip(v102 in any::<bool>(), kind in 0u32..8, id in "[a-z0-9-]{0,40}", seq in any::<u64>(), created in 1u64.., payload in proptest::collection::vec(any::<u8>(), 0..100)) {
        let frame = ClientFrame {
            kind: ClientMessageType::from_code(kind),
            schema: if v102 { "1.02".into() } else { "1.01".into() },
            channel_id: id,
            instance_id: String::new(),
            created_ms: created,
            seq,
            payload,
        };
        prop_assert_eq!(ClientFrame::decode(&frame.encode().unwrap()).unwrap(), frame);
    }

    // Bytes whose header is plausible (a real kind, no flags, a length near the body's) reach
    // every body decoder; whatever decodes re-encodes to exactly the same bytes.
    #[test]
    fn mux_frames_with_plausible_headers_never_panic_and_are_canonical(kind in 0u8..12, stream in 0u32..3, slack in -2i64..3, hello in any::<bool>(), body in proptest::collection::vec(any::<u8>(), 0..80)) {
        let mut body = body;
        if hello && body.len() >= 8 {
            body[..8].copy_from_slice(b"AXMX\x01\x00\x00\x00");
        }
        let len = (body.len() as i64 + slack).max(0) as u32;
        let mut bytes = vec![kind, 0];
        bytes.extend_from_slice(&stream.to_le_bytes());
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&body);
        if let Ok((frame, used)) = Frame::decode_prefix(&bytes) {
            let mut again = Vec::new();
            frame.encode(&mut again).unwrap();
            prop_assert_eq!(&again[..], &bytes[..used]);
        }
        for _ in mux::frames(&bytes) {}
    }

    #[test]
    fn mux_frames_round_trip(kind in 0u8..11, stream in 1u32.., seq in 1u64.., value in any::<u64>(), code in any::<u16>(), payload in proptest::collection::vec(any::<u8>(), 1..300), reason in "\\PC{0,60}", window in 1024u32.., max_frame in 1024u32..=mux::MAX_DATA, max_streams in any::<u32>()) {
        let frame = match kind {
            0 => Frame::Hello(Hello { session: value, received: seq, window, max_frame, max_streams }),
            1 => Frame::Open { stream, seq },
            2 => Frame::OpenAck { stream, seq },
            3 => Frame::Data { stream, seq, payload: &payload },
            4 => Frame::Fin { stream, seq },
            5 => Frame::Reset { stream, seq, code: ResetCode::from_code(code) },
            6 => Frame::Credit { stream, limit: value },
            7 => Frame::Ack { received: value },
            8 => Frame::Ping { opaque: value },
            9 => Frame::Pong { opaque: value },
            _ => Frame::GoAway { code: GoAwayCode::from_code(code), reason: &reason },
        };
        let mut message = Vec::new();
        frame.encode(&mut message).unwrap();
        prop_assert_eq!(message.len(), frame.encoded_len());
        prop_assert_eq!(Frame::decode(&message), Ok(frame));
        // Two frames in one message come back as two.
        frame.encode(&mut message).unwrap();
        let got: Vec<_> = mux::frames(&message).collect();
        prop_assert_eq!(got, vec![Ok(frame), Ok(frame)]);
    }
}
