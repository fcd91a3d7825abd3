//! The exchange state machine against the client's side of `axt_proto::e2e`: each suite to
//! success, and each failure with the reason the stock agent (or axtlab) sends.

use axt_proto::{
    e2e::{
        authenticated::{verify_transcript, Handshake, X25519KeyPair},
        compat::{CbcCipher, EcdhKeyPair},
        exchange::{client_hello, ClientKeyExchange, ErrorReason, Message},
        record::{Direction, Inner, Opener, Sealer},
        Mode, AUTHENTICATED,
    },
    identity::{AgentKey, IdentityError},
};
use base64::Engine as _;

use super::*;
use crate::session::e2e::records::Opened;

const IV: [u8; 16] = [9; 16];
const DATA_KEY: [u8; 32] = [5; 32];

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An identity that signs with `key`, or fails to when `None`.
fn identity(key: Option<AgentKey>) -> Identity {
    Identity {
        instance_id: "mi-test".into(),
        sign: Box::new(move |t| match &key {
            Some(key) => key.sign_sha256(t),
            None => Err(IdentityError::Key("no key".into())),
        }),
    }
}

fn reply(step: Step) -> Message {
    match step {
        Step::Reply(payload) => Message::decode(&payload).unwrap(),
        Step::Success { .. } => panic!("success, not a reply"),
        Step::Failure { reason, .. } => panic!("failure {reason}"),
        Step::DecryptDataKey(_) => panic!("a data key request, not a reply"),
    }
}

fn success(step: Step) -> (Message, Cipher) {
    match step {
        Step::Success { reply, cipher } => (Message::decode(&reply).unwrap(), cipher),
        Step::Failure { reason, .. } => panic!("failure {reason}"),
        _ => panic!("not a success"),
    }
}

fn failure(step: Step) -> ErrorReason {
    match step {
        Step::Failure { reply, reason } => {
            let Ok(Message::KeyExchangeError(sent)) = Message::decode(&reply) else {
                panic!("not a KeyExchangeError payload")
            };
            assert_eq!(sent.code, reason, "the frame carries the reason");
            reason
        }
        _ => panic!("not a failure"),
    }
}

fn encode(m: impl Into<Message>) -> Vec<u8> {
    m.into().encode()
}

#[test]
fn ecdhe_agrees_on_the_raw_shared_secret() {
    let mut ex = Exchange::new(Mode::Auto, "c-1", Some(identity(None)));
    let Message::AgentHello(hello) =
        reply(ex.on_payload(&encode(client_hello(Mode::Auto, IV, None))))
    else {
        panic!()
    };
    assert_eq!((hello.client_certificate, hello.axt_suite), (false, None));
    assert_eq!(ex.suite(), Some(Suite::CompatEcdhe));
    let client = EcdhKeyPair::generate();
    let (answer, mut cipher) =
        success(ex.on_payload(&encode(ClientKeyExchange::ecdhe(client.public_sec1()))));
    let Message::AgentKeyExchange(answer) = answer else {
        panic!()
    };
    assert_eq!(answer.signature, None);
    let key = client.shared(&answer.agent_pub.unwrap()).unwrap();
    let theirs = CbcCipher::new(key, IV);
    assert_eq!(
        cipher.open(&theirs.encrypt(b"ls\r")).unwrap(),
        Opened::Data(b"ls\r".to_vec())
    );
    assert_eq!(theirs.decrypt(&cipher.seal(b"out")).unwrap(), b"out");
    assert!(!cipher.is_authenticated());
}

#[test]
fn kms_uses_the_decrypted_data_key() {
    let mut ex = Exchange::new(Mode::Kms, "c-1", None);
    reply(ex.on_payload(&encode(client_hello(Mode::Kms, IV, None))));
    let Step::DecryptDataKey(blob) =
        ex.on_payload(&encode(ClientKeyExchange::kms("blob-1".into())))
    else {
        panic!("no data key request")
    };
    assert_eq!(blob, "blob-1");
    let (answer, mut cipher) = success(ex.on_data_key(Ok(b64(&DATA_KEY))));
    assert_eq!(answer.encode(), b"\x03{}");
    let theirs = CbcCipher::new(DATA_KEY, IV);
    assert_eq!(theirs.decrypt(&cipher.seal(b"out")).unwrap(), b"out");
}

/// Runs the authenticated suite to its end; returns the client's records and the transcript.
fn authenticated(mode: Mode, key: AgentKey) -> (Sealer, Opener, Cipher) {
    let public = key.public_pem().unwrap();
    let mut ex = Exchange::new(mode, "c-9", Some(identity(Some(key))));
    let offer = client_hello(mode, IV, Some([1; 32]));
    let Message::AgentHello(hello) = reply(ex.on_payload(&encode(offer.clone()))) else {
        panic!()
    };
    assert_eq!(hello.accepted_suite(&offer), Ok(Suite::Authenticated));
    assert_eq!(hello.axt_suite.as_deref(), Some(AUTHENTICATED));
    let client = X25519KeyPair::generate();
    let blob = (mode == Mode::Kms).then(|| "blob-2".to_owned());
    let mut step = ex.on_payload(&encode(ClientKeyExchange::authenticated(
        client.public(),
        blob,
    )));
    if let Step::DecryptDataKey(blob) = step {
        assert_eq!(blob, "blob-2");
        step = ex.on_data_key(Ok(b64(&DATA_KEY)));
    }
    let (answer, cipher) = success(step);
    let Message::AgentKeyExchange(answer) = answer else {
        panic!()
    };
    let agent_pub: [u8; 32] = answer.agent_pub.unwrap().try_into().unwrap();
    let handshake = Handshake {
        channel_id: "c-9",
        instance_id: "mi-test",
        client_random: [1; 32],
        agent_random: hello.agent_random.unwrap(),
        client_pub: client.public(),
        agent_pub,
        kms_plaintext: (mode == Mode::Kms).then_some(&DATA_KEY[..]),
    };
    verify_transcript(&public, &handshake.transcript(), &answer.signature.unwrap()).unwrap();
    let keys = handshake.keys(&client.shared(&agent_pub).unwrap());
    let sealer = Sealer::new(&keys, Direction::ClientToAgent, "c-9");
    let opener = Opener::new(&keys, Direction::AgentToClient, "c-9");
    (sealer, opener, cipher)
}

#[test]
fn the_authenticated_suite_is_signed_and_keyed_in_both_modes() {
    let key = AgentKey::generate().unwrap();
    for mode in [Mode::Auto, Mode::Kms] {
        let key = AgentKey::from_pem(&key.private_pem().unwrap()).unwrap();
        let (mut sealer, mut opener, mut cipher) = authenticated(mode, key);
        assert!(cipher.is_authenticated());
        let record = sealer.seal(&Inner::Resize {
            cols: 100,
            rows: 30,
        });
        assert_eq!(
            cipher.open(&record).unwrap(),
            Opened::Resize {
                cols: 100,
                rows: 30
            }
        );
        assert_eq!(cipher.open(&record).unwrap(), Opened::Duplicate);
        assert_eq!(
            opener.open(&cipher.seal(b"out")).unwrap(),
            Some(Inner::Data(b"out".to_vec()))
        );
    }
}

#[test]
fn without_an_identity_the_compatibility_suite_is_chosen() {
    let mut ex = Exchange::new(Mode::Auto, "c-1", None);
    let Message::AgentHello(hello) =
        reply(ex.on_payload(&encode(client_hello(Mode::Auto, IV, Some([1; 32])))))
    else {
        panic!()
    };
    assert_eq!(hello.axt_suite, None);
    assert_eq!(ex.suite(), Some(Suite::CompatEcdhe));
}

mod faults;
