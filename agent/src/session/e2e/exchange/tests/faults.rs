//! Each way an exchange fails, with the reason its KeyExchangeError frame names.

use axt_proto::e2e::{
    authenticated::X25519KeyPair,
    compat::EcdhKeyPair,
    exchange::{client_hello, ClientKeyExchange, ErrorReason},
    Mode,
};

use super::{b64, encode, failure, identity, reply, success, DATA_KEY, IV};
use crate::session::e2e::exchange::{Exchange, Step};

/// Feeds `payloads` to a fresh exchange in `mode`; returns the reason of the failure that ends it.
fn fails(mode: Mode, payloads: &[Vec<u8>]) -> ErrorReason {
    let mut ex = Exchange::new(mode, "c-1", Some(identity(None)));
    let (last, first) = payloads.split_last().unwrap();
    for payload in first {
        assert!(!matches!(ex.on_payload(payload), Step::Failure { .. }));
    }
    failure(ex.on_payload(last))
}

#[test]
fn each_fault_has_its_reason() {
    use ErrorReason::*;
    let hello = |mode| encode(client_hello(mode, IV, None));
    let raw = |action: u8, json: &str| [&[action][..], json.as_bytes()].concat();
    let ecdhe = encode(ClientKeyExchange::ecdhe(
        EcdhKeyPair::generate().public_sec1(),
    ));
    assert_eq!(fails(Mode::Auto, &[vec![]]), ActionTypeParseError);
    assert_eq!(fails(Mode::Auto, &[ecdhe]), WrongActionTypeError);
    assert_eq!(fails(Mode::Auto, &[raw(7, "{}")]), WrongActionTypeError);
    assert_eq!(fails(Mode::Auto, &[raw(0, "{")]), ClientHelloParseError);
    let bad_iv = r#"{"cipherSuite":"AXT_ECDHE_WITH_AES_256_CBC","encryptIV":"!!"}"#;
    assert_eq!(fails(Mode::Auto, &[raw(0, bad_iv)]), IVDecodeError);
    let short_iv = r#"{"cipherSuite":"AXT_ECDHE_WITH_AES_256_CBC","encryptIV":"AAAA"}"#;
    assert_eq!(fails(Mode::Auto, &[raw(0, short_iv)]), IVDecodeError);
    let unknown = r#"{"cipherSuite":"AXT_ROT13","encryptIV":"AAAAAAAAAAAAAAAAAAAAAA=="}"#;
    assert_eq!(
        fails(Mode::Auto, &[raw(0, unknown)]),
        UnknownCipherSuiteError
    );
    assert_eq!(
        fails(Mode::Auto, &[hello(Mode::Kms)]),
        UnsupportedCipherSuiteError
    );
    assert_eq!(
        fails(Mode::Kms, &[hello(Mode::Auto)]),
        UnsupportedCipherSuiteError
    );
    let offer = encode(client_hello(Mode::Auto, IV, Some([1; 32])));
    assert_eq!(fails(Mode::Kms, &[offer]), UnsupportedCipherSuiteError);
    assert_eq!(
        fails(Mode::Auto, &[hello(Mode::Auto), hello(Mode::Auto)]),
        WrongActionTypeError
    );
    assert_eq!(
        fails(Mode::Auto, &[hello(Mode::Auto), raw(2, "[")]),
        ClientKeyExchangeParseError
    );
    let not_b64 = raw(2, r#"{"clientPub":"%%"}"#);
    assert_eq!(
        fails(Mode::Auto, &[hello(Mode::Auto), not_b64]),
        ClientPublicKeyDecodeError
    );
    let off_curve = encode(ClientKeyExchange::ecdhe([4; 65]));
    assert_eq!(
        fails(Mode::Auto, &[hello(Mode::Auto), off_curve]),
        ClientPublicKeyDecodeError
    );
    assert_eq!(
        fails(Mode::Auto, &[hello(Mode::Auto), raw(2, "{}")]),
        ClientPublicKeyDecodeError
    );
    assert_eq!(
        fails(Mode::Kms, &[hello(Mode::Kms), raw(2, "{}")]),
        KMSDecryptError
    );
    let offer = encode(client_hello(Mode::Auto, IV, Some([1; 32])));
    let zero = encode(ClientKeyExchange::authenticated([0; 32], None));
    assert_eq!(
        fails(Mode::Auto, &[offer.clone(), zero]),
        ClientPublicKeyDecodeError
    );
    let short = raw(2, &format!(r#"{{"clientPub":"{}"}}"#, b64(&[1; 31])));
    assert_eq!(
        fails(Mode::Auto, &[offer.clone(), short]),
        ClientPublicKeyDecodeError
    );
    // The identity here cannot sign.
    let good = encode(ClientKeyExchange::authenticated(
        X25519KeyPair::generate().public(),
        None,
    ));
    assert_eq!(fails(Mode::Auto, &[offer, good]), SignatureError);
}

#[test]
fn the_data_key_and_the_state_are_checked() {
    use ErrorReason::*;
    let start = || {
        let mut ex = Exchange::new(Mode::Kms, "c-1", None);
        reply(ex.on_payload(&encode(client_hello(Mode::Kms, IV, None))));
        let step = ex.on_payload(&encode(ClientKeyExchange::kms("b".into())));
        assert!(matches!(step, Step::DecryptDataKey(_)));
        ex
    };
    assert_eq!(
        failure(start().on_data_key(Err("refused".into()))),
        KMSDecryptError
    );
    assert_eq!(
        failure(start().on_data_key(Ok(b64(&[1; 16])))),
        KMSDecryptError
    );
    assert_eq!(
        failure(start().on_data_key(Ok("%%".into()))),
        KMSDecryptError
    );
    // Nothing is taken while the data key is out, nor after the end.
    let mut ex = start();
    let hello = encode(client_hello(Mode::Kms, IV, None));
    assert_eq!(failure(ex.on_payload(&hello)), InvalidKeyExchangeStateError);
    let mut ex = start();
    success(ex.on_data_key(Ok(b64(&DATA_KEY))));
    assert_eq!(failure(ex.on_payload(&hello)), InvalidKeyExchangeStateError);
    assert_eq!(
        failure(ex.on_data_key(Ok(b64(&DATA_KEY)))),
        InvalidKeyExchangeStateError
    );
    assert_eq!(ex.suite(), None);
}
