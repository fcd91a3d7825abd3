//! The client frames a test speaks over the console's WebSocket: schema 1.01 as `axt` and
//! ali-instance-cli send them, and 1.02 as the page does (channel, numbers, Sync).

use axt_proto::client_frame::{ClientFrame, ClientMessageType};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;

use super::harness::{Socket, PATIENCE};

/// The state of a schema-1.02 client: its channel, and the numbers of what it sent and got.
#[derive(Default)]
pub struct Client102 {
    pub channel: String,
    sent: u32,
    last_output: u32,
    output: Vec<u8>,
}

impl Client102 {
    /// Takes in one frame from the gateway.
    pub fn take(&mut self, frame: ClientFrame) {
        if !frame.channel_id.is_empty() {
            self.channel.clone_from(&frame.channel_id);
        }
        if frame.kind == ClientMessageType::Output {
            self.last_output = self.last_output.max(frame.output_seq());
            self.output.extend_from_slice(&frame.payload);
        }
    }

    pub async fn input(&mut self, socket: &mut Socket, text: &str) {
        self.sent += 1;
        let frame = ClientFrame::v102(
            ClientMessageType::Input,
            &self.channel,
            self.sent,
            self.last_output,
            text.as_bytes().to_vec(),
        );
        let bytes = frame.encode().unwrap();
        socket.send(Message::Binary(bytes.into())).await.unwrap();
    }

    /// Sync after a reconnect: what it has, what it sent.
    pub async fn sync(&mut self, socket: &mut Socket) {
        let frame = ClientFrame::v102(
            ClientMessageType::Sync,
            &self.channel,
            self.sent,
            self.last_output,
            Vec::new(),
        );
        let bytes = frame.encode().unwrap();
        socket.send(Message::Binary(bytes.into())).await.unwrap();
    }

    pub async fn read_until(&mut self, socket: &mut Socket, needle: &str) {
        while !String::from_utf8_lossy(&self.output).contains(needle) {
            let Some(frame) = next_frame(socket).await else {
                panic!(
                    "the socket ended; output:\n{}",
                    String::from_utf8_lossy(&self.output)
                );
            };
            self.take(frame);
        }
    }
}

/// Sends Input `bytes` as a 1.01 client, frame number `seq`.
pub async fn send(socket: &mut Socket, seq: i64, bytes: &[u8]) {
    let frame = ClientFrame::v101(ClientMessageType::Input, seq, bytes.to_vec());
    socket
        .send(Message::Binary(frame.encode().unwrap().into()))
        .await
        .unwrap();
}

/// The next client frame from the relay, `None` once the socket has ended.
pub async fn next_frame(socket: &mut Socket) -> Option<ClientFrame> {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("nothing from the console in time")?;
        match message.ok()? {
            Message::Binary(bytes) => return Some(ClientFrame::decode(&bytes).unwrap()),
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

/// Collects Output into `output` until `done` says so.
pub async fn read_until(socket: &mut Socket, output: &mut Vec<u8>, done: impl Fn(&[u8]) -> bool) {
    while !done(output) {
        let Some(frame) = next_frame(socket).await else {
            panic!(
                "the socket ended; output:\n{}",
                String::from_utf8_lossy(output)
            );
        };
        if frame.kind == ClientMessageType::Output {
            output.extend_from_slice(&frame.payload);
        }
    }
}
