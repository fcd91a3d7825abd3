//! A client of encrypted sessions for the tests: the client's side of each suite's key
//! exchange (docs/encryption.md), spoken over the test server's end of the data channel with
//! `axt_proto::e2e`, and the records of what it types and reads afterwards.

use axt_proto::{
    agent_frame::{AgentFrame, AgentMessageType},
    e2e::{
        authenticated::{verify_transcript, Handshake, X25519KeyPair},
        compat::{kms_key, CbcCipher, EcdhKeyPair},
        exchange::{client_hello, AgentKeyExchange, ClientKeyExchange, ErrorReason, Message},
        random_bytes,
        record::{Direction, Inner, Opener, Sealer},
        Mode, Suite,
    },
    spec::{SessionSpec, SpecEncryption},
};

use super::{shell_spec, DataSocket};

/// A shell session's spec, encrypted in `mode` (`"Auto"` or `"Kms"`).
pub fn encrypted_spec(channel: &str, mode: &str) -> SessionSpec {
    SessionSpec {
        encryption_options: Some(SpecEncryption {
            enabled: true,
            mode: mode.into(),
            kms_key_id: "key-test".into(),
        }),
        ..shell_spec(channel)
    }
}

/// Sends a key-exchange payload.
pub async fn send(data: &mut DataSocket, payload: &[u8]) {
    data.send(data.key_exchange, payload).await;
}

/// The agent's next key-exchange message; empty Outputs (its readiness) are skipped, any other
/// frame fails the test.
pub async fn recv(data: &mut DataSocket) -> Message {
    loop {
        let frame = data
            .next_frame()
            .await
            .expect("the data channel closed during the key exchange");
        match frame.kind {
            kind if kind == data.key_exchange => return Message::decode(&frame.payload).unwrap(),
            AgentMessageType::Output if frame.payload.is_empty() => continue,
            other => panic!("{other:?} frame during the key exchange"),
        }
    }
}

/// Waits for the agent's KeyExchangeError and checks its reason.
pub async fn expect_error(data: &mut DataSocket, reason: ErrorReason) {
    match recv(data).await {
        Message::KeyExchangeError(e) => assert_eq!(e.code, reason, "{}", e.message),
        other => panic!("{other:?} instead of a KeyExchangeError"),
    }
}

/// The client's end of the agreed protection.
pub enum ClientCipher {
    Compat(CbcCipher),
    Authenticated { sealer: Sealer, opener: Opener },
}

impl ClientCipher {
    /// One Input payload for `inner` (the compatibility suites carry only data).
    pub fn seal(&mut self, inner: &Inner) -> Vec<u8> {
        match (self, inner) {
            (Self::Compat(cbc), Inner::Data(bytes)) => cbc.encrypt(bytes),
            (Self::Compat(_), _) => panic!("the compatibility suites carry only data"),
            (Self::Authenticated { sealer, .. }, inner) => sealer.seal(inner),
        }
    }

    /// One non-empty Output payload, which must open on its own (the compatibility suites
    /// carry only data).
    pub fn open_record(&mut self, payload: &[u8]) -> Inner {
        match self {
            Self::Compat(cbc) => Inner::Data(
                cbc.decrypt(payload)
                    .expect("an Output that does not decrypt"),
            ),
            Self::Authenticated { opener, .. } => opener
                .open(payload)
                .unwrap()
                .expect("a duplicate Output record"),
        }
    }

    /// The bytes of one non-empty Output payload.
    pub fn open(&mut self, payload: &[u8]) -> Vec<u8> {
        match self.open_record(payload) {
            Inner::Data(bytes) => bytes,
            other => panic!("unexpected output record {other:?}"),
        }
    }
}

/// An encrypted session from the client's side.
pub struct Encrypted {
    pub data: DataSocket,
    pub cipher: ClientCipher,
}

impl Encrypted {
    /// Sends `inner` as an encrypted Input; returns the payload sent.
    pub async fn send(&mut self, inner: &Inner) -> Vec<u8> {
        let payload = self.cipher.seal(inner);
        self.data.send(AgentMessageType::Input, &payload).await;
        payload
    }

    /// Types `text` into the shell.
    pub async fn type_text(&mut self, text: &str) -> Vec<u8> {
        self.send(&Inner::Data(text.as_bytes().to_vec())).await
    }

    /// Reads Output until its decrypted text contains `needle`: the text, and the frames as
    /// they travelled. Every frame is opened on its own.
    pub async fn output_until(&mut self, needle: &str) -> (String, Vec<AgentFrame>) {
        let (mut text, mut frames) = (Vec::new(), Vec::new());
        while !String::from_utf8_lossy(&text).contains(needle) {
            let frame = self.data.next_frame().await.unwrap_or_else(|| {
                panic!(
                    "closed before {needle:?}; got {:?}",
                    String::from_utf8_lossy(&text)
                )
            });
            assert_eq!(frame.kind, AgentMessageType::Output);
            if !frame.payload.is_empty() {
                text.extend(self.cipher.open(&frame.payload));
            }
            frames.push(frame);
        }
        (String::from_utf8_lossy(&text).into_owned(), frames)
    }
}

impl Encrypted {
    /// Reads Output until the agent's Close record (authenticated suite); returns its reason.
    pub async fn closing(&mut self) -> String {
        loop {
            let frame = self
                .data
                .next_frame()
                .await
                .expect("closed without a Close record");
            if frame.kind == AgentMessageType::Output && !frame.payload.is_empty() {
                if let Inner::Close(reason) = self.cipher.open_record(&frame.payload) {
                    return reason;
                }
            }
        }
    }
}

/// `AXT_ECDHE_WITH_AES_256_CBC`, as a stock client speaks it.
pub async fn ecdhe(mut data: DataSocket) -> Encrypted {
    let iv = random_bytes();
    send(
        &mut data,
        &Message::from(client_hello(Mode::Auto, iv, None)).encode(),
    )
    .await;
    let Message::AgentHello(hello) = recv(&mut data).await else {
        panic!("no AgentHello")
    };
    assert_eq!((hello.client_certificate, hello.axt_suite), (false, None));
    let pair = EcdhKeyPair::generate();
    send(
        &mut data,
        &Message::from(ClientKeyExchange::ecdhe(pair.public_sec1())).encode(),
    )
    .await;
    let answer = agent_key_exchange(&mut data).await;
    let key = pair
        .shared(&answer.agent_pub.expect("no agentPub"))
        .unwrap();
    let cipher = ClientCipher::Compat(CbcCipher::new(key, iv));
    Encrypted { data, cipher }
}

/// `AXT_KMS_WITH_AES_256_CBC` with a data key whose blob is `blob` and plaintext `plaintext`.
pub async fn kms(mut data: DataSocket, blob: &str, plaintext: &str) -> Encrypted {
    let iv = random_bytes();
    send(
        &mut data,
        &Message::from(client_hello(Mode::Kms, iv, None)).encode(),
    )
    .await;
    let Message::AgentHello(_) = recv(&mut data).await else {
        panic!("no AgentHello")
    };
    send(
        &mut data,
        &Message::from(ClientKeyExchange::kms(blob.into())).encode(),
    )
    .await;
    assert_eq!(agent_key_exchange(&mut data).await, AgentKeyExchange::kms());
    let cipher = ClientCipher::Compat(CbcCipher::new(kms_key(plaintext).unwrap(), iv));
    Encrypted { data, cipher }
}

/// What the authenticated suite's client knows of the agent: from the control plane, not from
/// the gateway.
pub struct AgentIdentity<'a> {
    pub instance_id: &'a str,
    /// The registered public key (PEM).
    pub public_key: &'a str,
}

/// `AXT_X25519_SIGNED_CHACHA20_POLY1305`; in Mode `Kms` with the data key of `blob`. The
/// agent's signature is checked against its registered key.
pub async fn authenticated(
    mut data: DataSocket,
    mode: Mode,
    kms: Option<(&str, &str)>,
    agent: &AgentIdentity<'_>,
) -> Encrypted {
    let client_random = random_bytes();
    let offer = client_hello(mode, random_bytes(), Some(client_random));
    send(&mut data, &Message::from(offer.clone()).encode()).await;
    let Message::AgentHello(hello) = recv(&mut data).await else {
        panic!("no AgentHello")
    };
    assert_eq!(hello.accepted_suite(&offer), Ok(Suite::Authenticated));
    let pair = X25519KeyPair::generate();
    let blob = kms.map(|(blob, _)| blob.to_owned());
    send(
        &mut data,
        &Message::from(ClientKeyExchange::authenticated(pair.public(), blob)).encode(),
    )
    .await;
    let answer = agent_key_exchange(&mut data).await;
    let agent_pub: [u8; 32] = answer.agent_pub.unwrap().try_into().unwrap();
    let data_key = kms.map(|(_, plaintext)| kms_key(plaintext).unwrap());
    let handshake = Handshake {
        channel_id: &data.channel,
        instance_id: agent.instance_id,
        client_random,
        agent_random: hello.agent_random.unwrap(),
        client_pub: pair.public(),
        agent_pub,
        kms_plaintext: data_key.as_ref().map(|k| &k[..]),
    };
    let signature = answer.signature.expect("no signature");
    verify_transcript(agent.public_key, &handshake.transcript(), &signature)
        .expect("the key exchange is not signed by the agent's registered key");
    let keys = handshake.keys(&pair.shared(&agent_pub).unwrap());
    let cipher = ClientCipher::Authenticated {
        sealer: Sealer::new(&keys, Direction::ClientToAgent, &data.channel),
        opener: Opener::new(&keys, Direction::AgentToClient, &data.channel),
    };
    Encrypted { data, cipher }
}

async fn agent_key_exchange(data: &mut DataSocket) -> AgentKeyExchange {
    match recv(data).await {
        Message::AgentKeyExchange(answer) => answer,
        other => panic!("{other:?} instead of AgentKeyExchange"),
    }
}
