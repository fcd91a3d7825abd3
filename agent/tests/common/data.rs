//! The server's end of a data channel: frames to the agent in the agent framing, and what the
//! agent sends back, read frame by frame or as text.

use axt_proto::{
    agent_frame::{set_size_payload, AgentFrame, AgentMessageType},
    e2e::DEFAULT_KEY_EXCHANGE_TYPE,
};
use axum::extract::ws::{Message, WebSocket};

use super::WAIT;

/// The server's end of a data channel.
pub struct DataSocket {
    pub socket: WebSocket,
    pub channel: String,
    /// The message type of key-exchange frames (the agent's `--key-exchange-message-type`).
    pub key_exchange: AgentMessageType,
    seq: i64,
}

impl DataSocket {
    pub fn new(socket: WebSocket, channel: String) -> Self {
        Self {
            socket,
            channel,
            key_exchange: AgentMessageType::Other(DEFAULT_KEY_EXCHANGE_TYPE),
            seq: 0,
        }
    }

    pub async fn send(&mut self, kind: AgentMessageType, payload: &[u8]) {
        let frame = AgentFrame::new(kind, &self.channel, self.seq, payload.to_vec());
        self.seq += 1;
        self.socket
            .send(Message::Binary(frame.encode().unwrap().into()))
            .await
            .unwrap();
    }

    pub async fn input(&mut self, text: &str) {
        self.send(AgentMessageType::Input, text.as_bytes()).await;
    }

    pub async fn set_size(&mut self, cols: u16, rows: u16) {
        self.send(AgentMessageType::SetSize, &set_size_payload(cols, rows))
            .await;
    }

    /// The next frame the agent sends; `None` once the data channel is closed.
    pub async fn next_frame(&mut self) -> Option<AgentFrame> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.recv())
                .await
                .expect("timed out waiting for a frame from the agent");
            match message {
                Some(Ok(Message::Binary(bytes))) => {
                    return Some(AgentFrame::decode(&bytes).unwrap())
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Reads Output frames until their text contains `needle`; returns the frames.
    pub async fn output_until(&mut self, needle: &str) -> Vec<AgentFrame> {
        let mut frames = Vec::new();
        let mut text = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        while !String::from_utf8_lossy(&text).contains(needle) {
            let message = tokio::time::timeout_at(deadline, self.socket.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "timed out waiting for {needle:?}; got {:?}",
                        String::from_utf8_lossy(&text)
                    )
                })
                .unwrap_or_else(|| {
                    panic!(
                        "data channel closed before {needle:?}; got {:?}",
                        String::from_utf8_lossy(&text)
                    )
                })
                .unwrap();
            if let Message::Binary(bytes) = message {
                let frame = AgentFrame::decode(&bytes).unwrap();
                text.extend_from_slice(&frame.payload);
                frames.push(frame);
            }
        }
        frames
    }
}
