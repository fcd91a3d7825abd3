//! axt-proto reproduces every end-to-end vector of `e2e_vectors.json`, which Python's
//! `cryptography` computed from the same inputs (tests/sdk/test_e2e_vectors.py).

use axt_proto::{
    e2e::{
        authenticated::{sign_transcript, verify_transcript, Handshake, Keys, X25519KeyPair},
        compat::{CbcCipher, EcdhKeyPair},
        exchange::{
            AgentHello, AgentKeyExchange, ClientHello, ClientKeyExchange, ErrorReason,
            KeyExchangeError, Message,
        },
        record::{Direction, Inner, Opener, Sealer},
    },
    identity::AgentKey,
};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("e2e_vectors.json")).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn array<const N: usize>(v: &Value) -> [u8; N] {
    bytes(v).try_into().unwrap()
}

fn opt<const N: usize>(v: &Value) -> Option<[u8; N]> {
    (!v.is_null()).then(|| array(v))
}

fn text(v: &Value) -> String {
    v.as_str().unwrap().to_owned()
}

#[test]
fn p256_ecdh_and_aes_cbc() {
    let v = vectors();
    let e = &v["ecdh_p256"];
    let client = EcdhKeyPair::from_scalar(&array(&e["client_scalar"])).unwrap();
    let agent = EcdhKeyPair::from_scalar(&array(&e["agent_scalar"])).unwrap();
    assert_eq!(client.public_sec1().to_vec(), bytes(&e["client_pub"]));
    assert_eq!(agent.public_sec1().to_vec(), bytes(&e["agent_pub"]));
    let shared = client.shared(&agent.public_sec1()).unwrap();
    assert_eq!(shared.to_vec(), bytes(&e["shared"]));
    assert_eq!(agent.shared(&client.public_sec1()).unwrap(), shared);

    let c = &v["aes_256_cbc"];
    let cipher = CbcCipher::new(array(&c["key"]), array(&c["iv"]));
    for case in c["cases"].as_array().unwrap() {
        let (plain, ct) = (bytes(&case["plaintext"]), bytes(&case["ciphertext"]));
        assert_eq!(cipher.encrypt(&plain), ct);
        assert_eq!(cipher.decrypt(&ct).unwrap(), plain);
    }
    let under_ecdh = CbcCipher::new(shared, array(&c["iv"]));
    assert_eq!(
        under_ecdh.encrypt(&bytes(&c["cases"][0]["plaintext"])),
        bytes(&c["first_case_under_ecdh_shared_key"])
    );
}

/// The X25519 pair, the shared secret and the keys of the first (Mode Auto) handshake.
fn x25519_keys(v: &Value) -> Keys {
    let x = &v["x25519"];
    let client = X25519KeyPair::from_private(array(&x["client_private"]));
    let agent = X25519KeyPair::from_private(array(&x["agent_private"]));
    assert_eq!(client.public().to_vec(), bytes(&x["client_pub"]));
    assert_eq!(agent.public().to_vec(), bytes(&x["agent_pub"]));
    let shared = client.shared(&agent.public()).unwrap();
    assert_eq!(shared.to_vec(), bytes(&x["shared"]));
    let rsa = AgentKey::from_pem(v["rsa"]["private_key_pem"].as_str().unwrap()).unwrap();
    let public_pem = v["rsa"]["public_key_pem"].as_str().unwrap();
    let mut first = None;
    for h in v["handshakes"].as_array().unwrap() {
        let kms = (!h["kms_plaintext"].is_null()).then(|| bytes(&h["kms_plaintext"]));
        let hs = Handshake {
            channel_id: h["channel_id"].as_str().unwrap(),
            instance_id: h["instance_id"].as_str().unwrap(),
            client_random: array(&h["client_random"]),
            agent_random: array(&h["agent_random"]),
            client_pub: client.public(),
            agent_pub: agent.public(),
            kms_plaintext: kms.as_deref(),
        };
        let transcript = hs.transcript();
        assert_eq!(transcript, bytes(&h["transcript"]));
        let signature = sign_transcript(&rsa, &transcript).unwrap();
        assert_eq!(signature, bytes(&h["signature"]));
        verify_transcript(public_pem, &transcript, &signature).unwrap();
        let keys = hs.keys(&shared);
        assert_eq!(keys.client_to_agent.to_vec(), bytes(&h["client_to_agent"]));
        assert_eq!(keys.agent_to_client.to_vec(), bytes(&h["agent_to_client"]));
        first.get_or_insert(keys);
    }
    first.unwrap()
}

#[test]
fn x25519_transcript_signature_and_keys() {
    x25519_keys(&vectors());
}

#[test]
fn records() {
    let v = vectors();
    let keys = x25519_keys(&v);
    let channel = v["handshakes"][0]["channel_id"].as_str().unwrap();
    let mut ends = [Direction::ClientToAgent, Direction::AgentToClient].map(|d| {
        (
            Sealer::new(&keys, d, channel),
            Opener::new(&keys, d, channel),
        )
    });
    for r in v["records"].as_array().unwrap() {
        let i = usize::from(r["direction"] == "agent_to_client");
        let inner = &r["inner"];
        let inner = if !inner["data"].is_null() {
            Inner::Data(bytes(&inner["data"]))
        } else if !inner["resize"].is_null() {
            let size = |k: usize| inner["resize"][k].as_u64().unwrap() as u16;
            Inner::Resize {
                cols: size(0),
                rows: size(1),
            }
        } else {
            Inner::Close(text(&inner["close"]))
        };
        let (sealer, opener) = &mut ends[i];
        assert_eq!(sealer.next_counter(), r["counter"].as_u64().unwrap());
        let record = sealer.seal(&inner);
        assert_eq!(record, bytes(&r["record"]), "{r}");
        assert_eq!(opener.open(&record).unwrap(), Some(inner));
    }
}

/// The message a vector describes.
fn message(m: &Value) -> Message {
    let hexed = |k: &str| (!m[k].is_null()).then(|| bytes(&m[k]));
    match m["action"].as_u64().unwrap() {
        0 => Message::ClientHello(ClientHello {
            cipher_suite: text(&m["cipher_suite"]),
            encrypt_iv: array(&m["encrypt_iv"]),
            axt_suites: m["axt_suites"]
                .as_array()
                .map(|a| a.iter().map(text).collect())
                .unwrap_or_default(),
            client_random: opt(&m["client_random"]),
        }),
        1 => Message::AgentHello(AgentHello {
            client_certificate: m["client_certificate"].as_bool().unwrap(),
            axt_suite: m["axt_suite"].as_str().map(str::to_owned),
            agent_random: opt(&m["agent_random"]),
        }),
        2 => Message::ClientKeyExchange(ClientKeyExchange {
            client_pub: hexed("client_pub"),
            signature: m["signature"].as_str().unwrap_or_default().to_owned(),
            kms_cipher_text_key: m["kms_cipher_text_key"].as_str().map(str::to_owned),
        }),
        3 => Message::AgentKeyExchange(AgentKeyExchange {
            agent_pub: hexed("agent_pub"),
            signature: hexed("signature"),
        }),
        _ => Message::KeyExchangeError(KeyExchangeError {
            code: ErrorReason::from_code(m["code"].as_str().unwrap()),
            message: text(&m["message"]),
        }),
    }
}

#[test]
fn key_exchange_payloads() {
    for m in vectors()["exchange"].as_array().unwrap() {
        let msg = message(m);
        let payload = bytes(&m["payload"]);
        assert_eq!(msg.encode(), payload, "{m}");
        assert_eq!(Message::decode(&payload).unwrap(), msg);
    }
}
