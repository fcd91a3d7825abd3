//! The payload codec: stock shapes byte for byte, round trips, and each decode failure.

use super::*;
use crate::e2e::{Mode, Suite};

fn json(m: impl Into<Message>) -> String {
    let bytes = m.into().encode();
    String::from_utf8(bytes[1..].to_vec()).unwrap()
}

#[test]
fn stock_shapes_are_written_exactly() {
    let hello = client_hello(Mode::Auto, [0; 16], None);
    assert_eq!(
        json(hello),
        r#"{"cipherSuite":"AXT_ECDHE_WITH_AES_256_CBC","encryptIV":"AAAAAAAAAAAAAAAAAAAAAA=="}"#
    );
    assert_eq!(
        json(agent_hello(Suite::CompatKms, [1; 32])),
        r#"{"clientCertificate":false}"#
    );
    assert_eq!(
        json(ClientKeyExchange::kms("blob".into())),
        r#"{"kmsCipherTextKey":"blob"}"#
    );
    assert_eq!(
        json(ClientKeyExchange::ecdhe([4; 65]))[..14],
        *r#"{"clientPub":""#
    );
    assert!(json(ClientKeyExchange::ecdhe([4; 65])).ends_with(r#"=","signature":""}"#));
    assert_eq!(json(AgentKeyExchange::kms()), "{}");
    assert_eq!(
        json(AgentKeyExchange::ecdhe([0; 65]))
            .matches("agentPub")
            .count(),
        1
    );
    let err = KeyExchangeError::new(ErrorReason::IVDecodeError, "bad <iv>");
    assert_eq!(
        Message::from(err).encode(),
        [
            &[11u8][..],
            br#"{"code":"KeyExchangeError.IVDecodeError","message":"bad \u003civ\u003e"}"#
        ]
        .concat()
    );
}

#[test]
fn axtlab_fields_follow_the_stock_ones() {
    let hello = client_hello(Mode::Kms, [0; 16], Some([0; 32]));
    let text = json(hello.clone());
    assert!(text.starts_with(r#"{"cipherSuite":"AXT_KMS_WITH_AES_256_CBC","encryptIV":"#));
    assert!(
        text.contains(r#","axtSuites":["AXT_X25519_SIGNED_CHACHA20_POLY1305"],"clientRandom":"#)
    );
    assert_eq!(
        json(agent_hello(Suite::Authenticated, [0; 32])),
        r#"{"clientCertificate":false,"axtSuite":"AXT_X25519_SIGNED_CHACHA20_POLY1305","agentRandom":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#
    );
    let kx = json(ClientKeyExchange::authenticated([0; 32], Some("b".into())));
    assert!(kx.ends_with(r#"=","signature":"","kmsCipherTextKey":"b"}"#));
}

#[test]
fn every_message_round_trips() {
    let messages: Vec<Message> = vec![
        client_hello(Mode::Auto, [3; 16], None).into(),
        client_hello(Mode::Kms, [3; 16], Some([5; 32])).into(),
        agent_hello(Suite::CompatEcdhe, [0; 32]).into(),
        agent_hello(Suite::Authenticated, [6; 32]).into(),
        ClientKeyExchange::ecdhe([4; 65]).into(),
        ClientKeyExchange::kms("Zm9v".into()).into(),
        ClientKeyExchange::authenticated([7; 32], None).into(),
        ClientKeyExchange::authenticated([7; 32], Some("x".into())).into(),
        AgentKeyExchange::kms().into(),
        AgentKeyExchange::ecdhe([4; 65]).into(),
        AgentKeyExchange::authenticated([8; 32], vec![9; 256]).into(),
        KeyExchangeError::new(ErrorReason::SignatureError, "é\n<&>\u{1}\"").into(),
        KeyExchangeError::new(ErrorReason::Other("Weird".into()), "").into(),
    ];
    for m in messages {
        assert_eq!(Message::decode(&m.encode()).unwrap(), m, "{m:?}");
    }
}

fn decode(action: u8, json: &str) -> Result<Message, ErrorReason> {
    Message::decode(&[&[action][..], json.as_bytes()].concat())
}

#[test]
fn each_failure_has_the_stock_reason() {
    use ErrorReason::*;
    assert_eq!(Message::decode(&[]), Err(ActionTypeParseError));
    assert_eq!(action_byte(&[]), Err(ActionTypeParseError));
    assert_eq!(action_byte(&[7]), Ok(7));
    assert_eq!(decode(7, "{}"), Err(ActionTypeParseError));
    assert_eq!(decode(0, "{"), Err(ClientHelloParseError));
    assert_eq!(decode(0, ""), Err(ClientHelloParseError));
    assert_eq!(
        decode(0, r#"{"cipherSuite":1}"#),
        Err(ClientHelloParseError)
    );
    assert_eq!(decode(0, r#"{"encryptIV":"!!"}"#), Err(IVDecodeError));
    assert_eq!(decode(0, r#"{"encryptIV":"AAAA"}"#), Err(IVDecodeError));
    assert_eq!(decode(0, "{}"), Err(IVDecodeError));
    let iv = r#""encryptIV":"AAAAAAAAAAAAAAAAAAAAAA==""#;
    assert_eq!(
        decode(0, &format!(r#"{{{iv},"clientRandom":"AAAA"}}"#)),
        Err(ClientHelloParseError)
    );
    assert_eq!(
        decode(0, &format!(r#"{{{iv},"axtSuites":"x"}}"#)),
        Err(ClientHelloParseError)
    );
    assert_eq!(decode(2, "[]"), Err(ClientKeyExchangeParseError));
    assert_eq!(
        decode(2, r#"{"signature":5}"#),
        Err(ClientKeyExchangeParseError)
    );
    assert_eq!(
        decode(2, r#"{"clientPub":"%%"}"#),
        Err(ClientPublicKeyDecodeError)
    );
    assert_eq!(
        decode(1, r#"{"clientCertificate":"no"}"#),
        Err(AgentMessageParseError)
    );
    assert_eq!(
        decode(3, r#"{"agentPub":"%%"}"#),
        Err(AgentMessageParseError)
    );
    assert_eq!(decode(11, "x"), Err(AgentMessageParseError));
}

#[test]
fn decoding_is_as_lenient_as_the_stock_agent() {
    // A stock client's hello, with its field names in another case and unknown fields.
    let m = decode(
        0,
        r#" {"CipherSuite":"AXT_ECDHE_WITH_AES_256_CBC","ENCRYPTIV":"AAAAAAAAAAAAAAAAAAAAAA==","x":1} "#,
    )
    .unwrap();
    let Message::ClientHello(h) = m else { panic!() };
    assert_eq!(h.mode(), Some(Mode::Auto));
    assert!(!h.offers_authenticated());
    // `null` JSON is Go's no-op: every field empty.
    assert_eq!(
        decode(2, "null").unwrap(),
        Message::ClientKeyExchange(ClientKeyExchange {
            client_pub: None,
            signature: String::new(),
            kms_cipher_text_key: None
        })
    );
    let Message::KeyExchangeError(e) =
        decode(11, r#"{"code":"KeyExchangeError.KMSDecryptError"}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(e.code, ErrorReason::KMSDecryptError);
}

#[test]
fn suites_are_chosen_as_documented() {
    let plain = client_hello(Mode::Auto, [0; 16], None);
    let offer = client_hello(Mode::Kms, [0; 16], Some([1; 32]));
    assert_eq!(
        choose_suite(&plain, true),
        Ok((Suite::CompatEcdhe, Mode::Auto))
    );
    assert_eq!(
        choose_suite(&offer, true),
        Ok((Suite::Authenticated, Mode::Kms))
    );
    assert_eq!(
        choose_suite(&offer, false),
        Ok((Suite::CompatKms, Mode::Kms))
    );
    let mut odd = plain.clone();
    odd.cipher_suite = AUTHENTICATED.into();
    assert_eq!(
        choose_suite(&odd, true),
        Err(ErrorReason::UnknownCipherSuiteError)
    );

    // The client's side: what the agent's answer settles.
    let stock = agent_hello(Suite::CompatKms, [0; 32]);
    assert_eq!(stock.accepted_suite(&offer), Ok(Suite::CompatKms));
    let ours = agent_hello(Suite::Authenticated, [2; 32]);
    assert_eq!(ours.accepted_suite(&offer), Ok(Suite::Authenticated));
    assert_eq!(
        ours.accepted_suite(&plain),
        Err(ErrorReason::UnsupportedCipherSuiteError)
    );
    let mut no_random = ours.clone();
    no_random.agent_random = None;
    assert_eq!(
        no_random.accepted_suite(&offer),
        Err(ErrorReason::UnsupportedCipherSuiteError)
    );
}
