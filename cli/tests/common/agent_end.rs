//! The agent's end of an encrypted session, scripted: the fake gateway of a CLI test plays it
//! over the client's WebSocket with the crypto of `axt_proto::e2e`, as axt-agent would — or
//! wrongly on purpose (a stock agent that ignores `axtSuites`, a key exchange signed by a key
//! that is not the instance's, a refusal).

use axt_proto::{
    client_frame::{ClientFrame, ClientMessageType},
    e2e::{
        self,
        authenticated::{sign_transcript, Handshake, X25519KeyPair},
        compat::{self, CbcCipher, EcdhKeyPair},
        exchange::{self, AgentKeyExchange, ClientHello, ErrorReason, KeyExchangeError, Message},
        record::{Direction, Inner, Opener, Sealer},
        Suite,
    },
    identity::AgentKey,
};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::{recv, ServerWs, TestPlane, PATIENCE};

/// The key-exchange message type both ends use unless told otherwise.
pub const KX: u32 = e2e::DEFAULT_KEY_EXCHANGE_TYPE;
/// The channel id the scripted gateway writes in its frames (and the transcript signs).
pub const CHANNEL: &str = "c-e2e-scripted";

/// How the agent end behaves.
pub enum Script<'a> {
    /// As axt-agent: the authenticated suite when offered, signed by `identity`.
    Honest,
    /// As the stock agent: `axtSuites` ignored, the compatibility suite of `cipherSuite`.
    CompatOnly,
    /// The authenticated suite, signed by another key than the instance's.
    SignedBy(&'a AgentKey),
    /// A KeyExchangeError answering the ClientHello.
    Refuse(ErrorReason, &'static str),
}

/// The agent's side of an agreed session.
pub enum Agreed {
    Compat(CbcCipher),
    Authenticated { opener: Opener, sealer: Sealer },
}

impl Agreed {
    /// An Output payload carrying `bytes`.
    pub fn seal(&mut self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Self::Compat(cipher) => cipher.encrypt(bytes),
            Self::Authenticated { sealer, .. } => sealer.seal(&Inner::Data(bytes.to_vec())),
        }
    }

    /// What one Input payload carries (panics on an integrity failure: the client is ours).
    pub fn open(&mut self, payload: &[u8]) -> Inner {
        match self {
            Self::Compat(cipher) => Inner::Data(cipher.decrypt(payload).unwrap()),
            Self::Authenticated { opener, .. } => opener.open(payload).unwrap().unwrap(),
        }
    }

    pub fn is_authenticated(&self) -> bool {
        matches!(self, Self::Authenticated { .. })
    }
}

/// Sends a frame as the gateway writes them: with the channel id.
pub async fn send_frame(ws: &mut ServerWs, kind: ClientMessageType, payload: &[u8]) {
    let mut frame = ClientFrame::v101(kind, 0, payload.to_vec());
    frame.channel_id = CHANNEL.to_owned();
    ws.send(WsMessage::binary(frame.encode().unwrap()))
        .await
        .unwrap();
}

async fn send_kx(ws: &mut ServerWs, message: Message) {
    send_frame(ws, ClientMessageType::Other(KX), &message.encode()).await;
}

/// The client's next key-exchange message; nothing else may come before it.
pub async fn recv_kx(ws: &mut ServerWs) -> Message {
    let frame = recv(ws).await;
    assert_eq!(frame.kind, ClientMessageType::Other(KX), "{frame:?}");
    Message::decode(&frame.payload).unwrap()
}

/// Like [`recv_kx`], `None` when the client left instead (it refused the answer).
async fn recv_kx_or_leave(ws: &mut ServerWs) -> Option<Message> {
    loop {
        let next = tokio::time::timeout(PATIENCE, ws.next()).await.ok()??;
        match next.ok()? {
            WsMessage::Binary(bytes) => {
                let frame = ClientFrame::decode(&bytes).unwrap();
                assert_eq!(frame.kind, ClientMessageType::Other(KX), "{frame:?}");
                return Some(Message::decode(&frame.payload).unwrap());
            }
            WsMessage::Close(_) => return None,
            _ => {}
        }
    }
}

/// Plays the agent's part of the exchange for an instance whose identity key is `identity`.
/// `plane` decrypts a KMS data key (KMS `Decrypt` with the admin key, as the gateway has the
/// control plane do for axt-agent). Returns the ClientHello and, unless refused, the keys.
pub async fn exchange(
    ws: &mut ServerWs,
    script: Script<'_>,
    identity: &AgentKey,
    instance_id: &str,
    plane: (&TestPlane, &std::path::Path),
) -> (ClientHello, Option<Agreed>) {
    // The gateway's early empty Output, then the exchange.
    send_frame(ws, ClientMessageType::Output, b"").await;
    let Message::ClientHello(hello) = recv_kx(ws).await else {
        panic!("expected a ClientHello")
    };
    if let Script::Refuse(code, message) = script {
        send_kx(ws, KeyExchangeError::new(code, message).into()).await;
        return (hello, None);
    }
    let offered = !matches!(script, Script::CompatOnly);
    let (suite, _mode) = exchange::choose_suite(&hello, offered).unwrap();
    let agent_random = e2e::random_bytes::<32>();
    send_kx(ws, exchange::agent_hello(suite, agent_random).into()).await;
    let theirs = match recv_kx_or_leave(ws).await {
        Some(Message::ClientKeyExchange(theirs)) => theirs,
        Some(other) => panic!("expected a ClientKeyExchange, got {other:?}"),
        None => return (hello, None),
    };
    let kms_key = match &theirs.kms_cipher_text_key {
        Some(blob) => {
            let (plane, home) = plane;
            let args = ["--product", "kms", "Decrypt", "--CiphertextBlob", blob];
            let answer = plane.api(home, &args).await;
            Some(compat::kms_key(answer["Plaintext"].as_str().unwrap()).unwrap())
        }
        None => None,
    };
    let agreed = match suite {
        Suite::CompatEcdhe => {
            let own = EcdhKeyPair::generate();
            let key = own.shared(theirs.client_pub.as_deref().unwrap()).unwrap();
            send_kx(ws, AgentKeyExchange::ecdhe(own.public_sec1()).into()).await;
            Agreed::Compat(CbcCipher::new(key, hello.encrypt_iv))
        }
        Suite::CompatKms => {
            send_kx(ws, AgentKeyExchange::kms().into()).await;
            Agreed::Compat(CbcCipher::new(kms_key.unwrap(), hello.encrypt_iv))
        }
        Suite::Authenticated => {
            let own = X25519KeyPair::generate();
            let client_pub: [u8; 32] = theirs.client_pub.clone().unwrap().try_into().unwrap();
            let handshake = Handshake {
                channel_id: CHANNEL,
                instance_id,
                client_random: hello.client_random.unwrap(),
                agent_random,
                client_pub,
                agent_pub: own.public(),
                kms_plaintext: kms_key.as_ref().map(|k| &k[..]),
            };
            let signer = match script {
                Script::SignedBy(other) => other,
                _ => identity,
            };
            let signature = sign_transcript(signer, &handshake.transcript()).unwrap();
            let answer = AgentKeyExchange::authenticated(own.public(), signature);
            send_kx(ws, answer.into()).await;
            let keys = handshake.keys(&own.shared(&client_pub).unwrap());
            Agreed::Authenticated {
                opener: Opener::new(&keys, Direction::ClientToAgent, CHANNEL),
                sealer: Sealer::new(&keys, Direction::AgentToClient, CHANNEL),
            }
        }
    };
    (hello, Some(agreed))
}
