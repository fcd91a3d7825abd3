//! A session client that speaks the client framing directly, schema 1.01 or 1.02, for the
//! stories that need to see frames: statuses, sequence numbers, reconnects, bad input.

use rustls::pki_types::{pem::PemObject as _, CertificateDer};
use std::{path::Path, sync::Arc, time::Duration};

use axt_proto::client_frame::{resize_payload, ClientFrame, ClientMessageType};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest as _, Message},
    Connector, MaybeTlsStream, WebSocketStream,
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One client WebSocket and what it has received.
pub struct RawClient {
    socket: Socket,
    v102: bool,
    seq: u32,
    /// The highest output sequence number received (1.02).
    pub last_output: u32,
    /// The channel id the gateway named in its frames.
    pub channel_id: String,
    /// Every Output payload received, in order.
    pub output: Vec<u8>,
    /// Every Status payload received, in order.
    pub statuses: Vec<Vec<u8>>,
    /// The last Sync received from the gateway (1.02), as its input sequence number.
    pub sync_from: Option<u32>,
}

/// A refused upgrade: the HTTP status and body.
#[derive(Debug)]
pub struct Refused(pub u16, pub String);

/// A rustls connector trusting only the lab CA.
pub fn connector(ca: &Path) -> Connector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Connector::Rustls(Arc::new(config))
}

impl RawClient {
    /// Opens `url`; `v102` chooses the web client's schema.
    pub async fn connect(url: &str, ca: &Path, v102: bool) -> Result<Self, Refused> {
        let request = url.into_client_request().unwrap();
        match tokio_tungstenite::connect_async_tls_with_config(
            request,
            None,
            false,
            Some(connector(ca)),
        )
        .await
        {
            Ok((socket, _)) => Ok(Self {
                socket,
                v102,
                seq: 0,
                last_output: 0,
                channel_id: String::new(),
                output: Vec::new(),
                statuses: Vec::new(),
                sync_from: None,
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                let body = resp
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                Err(Refused(resp.status().as_u16(), body))
            }
            Err(e) => panic!("connecting {url}: {e}"),
        }
    }

    /// Sends a frame of `kind`, numbering it as the client would.
    pub async fn send(&mut self, kind: ClientMessageType, payload: Vec<u8>) {
        if matches!(kind, ClientMessageType::Input | ClientMessageType::Resize) || !self.v102 {
            self.seq += 1;
        }
        let seq = self.seq;
        self.send_numbered(kind, seq, payload).await;
    }

    /// Sends a frame with an explicit (1.02 input) sequence number: a resend.
    pub async fn send_numbered(&mut self, kind: ClientMessageType, seq: u32, payload: Vec<u8>) {
        let frame = if self.v102 {
            ClientFrame::v102(kind, &self.channel_id, seq, self.last_output, payload)
        } else {
            ClientFrame::v101(kind, i64::from(seq) - 1, payload)
        };
        self.send_raw(frame.encode().unwrap()).await;
    }

    /// Sends bytes as one binary message, framed or not.
    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        let _ = self.socket.send(Message::Binary(bytes.into())).await;
    }

    pub async fn input(&mut self, text: &str) {
        self.send(ClientMessageType::Input, text.as_bytes().to_vec())
            .await;
    }

    pub async fn resize(&mut self, cols: u16, rows: u16) {
        self.send(ClientMessageType::Resize, resize_payload(cols, rows))
            .await;
    }

    /// The next frame, or `None` when the socket ended or `limit` passed.
    pub async fn next_frame(&mut self, limit: Duration) -> Option<ClientFrame> {
        loop {
            let msg = tokio::time::timeout(limit, self.socket.next())
                .await
                .ok()??
                .ok()?;
            let bytes = match msg {
                Message::Binary(b) => b.to_vec(),
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Close(_) => return None,
                _ => continue,
            };
            let frame = ClientFrame::decode(&bytes).expect("the gateway sent a malformed frame");
            assert!(
                frame.created_ms != 0 && bytes.len() >= 30,
                "a frame the stock client rejects"
            );
            if !frame.channel_id.is_empty() {
                self.channel_id.clone_from(&frame.channel_id);
            }
            match frame.kind {
                ClientMessageType::Output => {
                    if self.v102 {
                        self.last_output = self.last_output.max(frame.output_seq());
                    }
                    self.output.extend_from_slice(&frame.payload);
                }
                ClientMessageType::Status => self.statuses.push(frame.payload.clone()),
                ClientMessageType::Sync => self.sync_from = Some(frame.input_seq()),
                _ => {}
            }
            return Some(frame);
        }
    }

    /// Reads until the output contains `needle`, for at most `limit`.
    pub async fn expect_output(&mut self, needle: &str, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.output_text().contains(needle) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if self.next_frame(left).await.is_none() {
                panic!(
                    "{needle:?} never came; output so far:\n{}",
                    self.output_text()
                );
            }
        }
    }

    /// Reads until a Status with `state` arrives, for at most `limit`; returns its text.
    pub async fn expect_status(&mut self, state: u8, limit: Duration) -> String {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(p) = self.statuses.iter().find(|p| p.first() == Some(&state)) {
                return String::from_utf8_lossy(&p[1..]).into_owned();
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if self.next_frame(left).await.is_none() {
                panic!("no status {state} came; statuses: {:?}", self.statuses);
            }
        }
    }

    /// Reads until the socket ends, for at most `limit`; `true` if it ended.
    pub async fn expect_end(&mut self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            if tokio::time::timeout(left, self.next_frame(left))
                .await
                .map_or(true, |f| f.is_none())
            {
                return tokio::time::Instant::now() < deadline;
            }
        }
    }

    /// The sequence number of the last Input/Resize sent.
    pub fn seq_sent(&self) -> u32 {
        self.seq
    }

    /// Carries a previous connection's numbering over to this one, as the web client does
    /// when it reconnects.
    pub fn resume(&mut self, seq: u32, last_output: u32, channel_id: &str, output: Vec<u8>) {
        self.seq = seq;
        self.last_output = last_output;
        self.channel_id = channel_id.to_owned();
        self.output = output;
    }

    pub fn output_text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }

    /// Proves the shell on the other end answers: types `echo <tag>-$((6*7))` and waits for
    /// `<tag>-42`, which the echo of the typed line alone cannot show.
    pub async fn shell_answers(&mut self, tag: &str, limit: Duration) {
        self.input(&format!("echo {tag}-$((6*7))\r")).await;
        self.expect_output(&format!("{tag}-42"), limit).await;
    }
}
