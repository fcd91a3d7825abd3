//! A man in the middle of session WebSockets: a plain ws:// proxy between `axt` and a gateway
//! run with `--plain` (so no certificate is needed), which can rewrite key-exchange frames the
//! way an active gateway could. It shows what docs/encryption.md §4 claims: against the
//! authenticated suite a rewrite is caught; against a compatibility suite — once the offer of
//! the authenticated one is stripped and the client allows the downgrade — the proxy runs one
//! P-256 exchange with each side and reads and re-encrypts everything.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axt_proto::{
    client_frame::{ClientFrame, ClientMessageType},
    e2e::{
        self,
        authenticated::X25519KeyPair,
        compat::{CbcCipher, EcdhKeyPair},
        exchange::{AgentKeyExchange, ClientKeyExchange, Message},
    },
};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::{
    client::IntoClientRequest as _,
    handshake::server::{Request, Response},
    Message as WsMessage,
};

/// What the proxy does to the key exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attack {
    /// Relays everything unchanged.
    None,
    /// Puts its own X25519 key in the agent's AgentKeyExchange, keeping the agent's signature.
    SwapAgentKey,
    /// Strips `axtSuites` from the ClientHello and runs its own P-256 exchange with each side.
    Downgrade,
}

/// The proxy: its address, the attack for new connections, and what it read.
pub struct Mitm {
    pub addr: SocketAddr,
    attack: Arc<Mutex<Attack>>,
    read: Arc<Mutex<Vec<u8>>>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Mitm {
    /// Listens on loopback now; relays to the plain gateway at `upstream` once it is given.
    pub async fn bind() -> (Self, TcpListener) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mitm = Self {
            addr,
            attack: Arc::new(Mutex::new(Attack::None)),
            read: Arc::default(),
            accepting: tokio::spawn(async {}),
        };
        (mitm, listener)
    }

    /// Starts relaying what `listener` accepts to `upstream`.
    pub fn serve(&mut self, listener: TcpListener, upstream: SocketAddr) {
        let (attack, read) = (self.attack.clone(), self.read.clone());
        self.accepting = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let attack = *attack.lock().unwrap();
                tokio::spawn(relay(tcp, upstream, attack, read.clone()));
            }
        });
    }

    pub fn set_attack(&self, attack: Attack) {
        *self.attack.lock().unwrap() = attack;
    }

    /// Everything the proxy decrypted, both ways.
    pub fn read(&self) -> Vec<u8> {
        self.read.lock().unwrap().clone()
    }
}

impl Drop for Mitm {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// One client connection, relayed to the same path and query upstream.
async fn relay(
    tcp: tokio::net::TcpStream,
    upstream: SocketAddr,
    attack: Attack,
    read: Arc<Mutex<Vec<u8>>>,
) {
    let (uri_tx, uri_rx) = std::sync::mpsc::channel();
    // The callback's signature is tungstenite's, not ours.
    #[allow(clippy::result_large_err)]
    let callback = move |req: &Request, resp: Response| {
        let _ = uri_tx.send((req.uri().to_string(), req.headers().clone()));
        Ok(resp)
    };
    let Ok(client) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
        return;
    };
    let (uri, headers) = uri_rx.recv().unwrap();
    let mut request = format!("ws://{upstream}{uri}")
        .into_client_request()
        .unwrap();
    if let Some(token) = headers.get("x-acs-session-token") {
        request
            .headers_mut()
            .insert("x-acs-session-token", token.clone());
    }
    let Ok((gateway, _)) = tokio_tungstenite::connect_async(request).await else {
        return;
    };
    let (mut client_tx, mut client_rx) = client.split();
    let (mut gateway_tx, mut gateway_rx) = gateway.split();
    let mut state = Middle::new(attack, read);
    loop {
        tokio::select! {
            msg = client_rx.next() => match msg {
                Some(Ok(WsMessage::Binary(bytes))) => {
                    let out = state.client_said(&bytes);
                    if gateway_tx.send(WsMessage::binary(out)).await.is_err() { return }
                }
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            msg = gateway_rx.next() => match msg {
                Some(Ok(WsMessage::Binary(bytes))) => {
                    let out = state.gateway_said(&bytes);
                    if client_tx.send(WsMessage::binary(out)).await.is_err() { return }
                }
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// The proxy's view of one session: its attack, and in a downgrade its two key pairs and the
/// two keys it ends up with.
struct Middle {
    attack: Attack,
    read: Arc<Mutex<Vec<u8>>>,
    iv: [u8; 16],
    toward_agent: EcdhKeyPair,
    toward_client: EcdhKeyPair,
    client_pub: Vec<u8>,
    /// (client side, agent side) once both exchanges are done.
    ciphers: Option<(CbcCipher, CbcCipher)>,
}

impl Middle {
    fn new(attack: Attack, read: Arc<Mutex<Vec<u8>>>) -> Self {
        Self {
            attack,
            read,
            iv: [0; 16],
            toward_agent: EcdhKeyPair::generate(),
            toward_client: EcdhKeyPair::generate(),
            client_pub: Vec::new(),
            ciphers: None,
        }
    }

    fn client_said(&mut self, bytes: &[u8]) -> Vec<u8> {
        let Ok(mut frame) = ClientFrame::decode(bytes) else {
            return bytes.to_vec();
        };
        match (self.attack, key_exchange(&frame)) {
            (Attack::Downgrade, Some(Message::ClientHello(mut hello))) => {
                self.iv = hello.encrypt_iv;
                hello.axt_suites.clear();
                hello.client_random = None;
                frame.payload = Message::ClientHello(hello).encode();
            }
            (Attack::Downgrade, Some(Message::ClientKeyExchange(theirs))) => {
                self.client_pub = theirs.client_pub.unwrap_or_default();
                let ours = ClientKeyExchange::ecdhe(self.toward_agent.public_sec1());
                frame.payload = Message::from(ours).encode();
            }
            (Attack::Downgrade, None) if frame.kind == ClientMessageType::Input => {
                if let Some((to_client, to_agent)) = &self.ciphers {
                    if let Ok(plain) = to_client.decrypt(&frame.payload) {
                        self.read.lock().unwrap().extend_from_slice(&plain);
                        frame.payload = to_agent.encrypt(&plain);
                    }
                }
            }
            _ => return bytes.to_vec(),
        }
        frame.encode().unwrap()
    }

    fn gateway_said(&mut self, bytes: &[u8]) -> Vec<u8> {
        let Ok(mut frame) = ClientFrame::decode(bytes) else {
            return bytes.to_vec();
        };
        match (self.attack, key_exchange(&frame)) {
            (Attack::SwapAgentKey, Some(Message::AgentKeyExchange(mut theirs))) => {
                theirs.agent_pub = Some(X25519KeyPair::generate().public().to_vec());
                frame.payload = Message::AgentKeyExchange(theirs).encode();
            }
            (Attack::Downgrade, Some(Message::AgentKeyExchange(theirs))) => {
                let agent_pub = theirs.agent_pub.unwrap_or_default();
                let (Ok(agent_side), Ok(client_side)) = (
                    self.toward_agent.shared(&agent_pub),
                    self.toward_client.shared(&self.client_pub),
                ) else {
                    return bytes.to_vec();
                };
                self.ciphers = Some((
                    CbcCipher::new(client_side, self.iv),
                    CbcCipher::new(agent_side, self.iv),
                ));
                let ours = AgentKeyExchange::ecdhe(self.toward_client.public_sec1());
                frame.payload = Message::from(ours).encode();
            }
            (Attack::Downgrade, None) if frame.kind == ClientMessageType::Output => {
                if let (Some((to_client, to_agent)), false) =
                    (&self.ciphers, frame.payload.is_empty())
                {
                    if let Ok(plain) = to_agent.decrypt(&frame.payload) {
                        self.read.lock().unwrap().extend_from_slice(&plain);
                        frame.payload = to_client.encrypt(&plain);
                    }
                }
            }
            _ => return bytes.to_vec(),
        }
        frame.encode().unwrap()
    }
}

/// The key-exchange message a frame carries, if it is one.
fn key_exchange(frame: &ClientFrame) -> Option<Message> {
    let kind = ClientMessageType::Other(e2e::DEFAULT_KEY_EXCHANGE_TYPE);
    (frame.kind == kind)
        .then(|| Message::decode(&frame.payload).ok())
        .flatten()
}
