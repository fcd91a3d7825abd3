//! The data channel `/luban/session/backend?channelId=` (docs/protocol.md §5): binary agent
//! frames both ways, Output frames numbered 0, 1, 2… for the life of the channel (across
//! reconnects too, so that a gap tells the gateway output was lost).

use std::time::Duration;

use axt_proto::agent_frame::{AgentFrame, AgentMessageType};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{
    backoff::Backoff,
    client::{query, Client, ClientError, Ws},
    kick::KEEPALIVE_PAYLOAD,
};

pub use axt_proto::agent_frame::FEATURES_HEADER;
/// The extensions this agent announces (see `axt_proto::agent_frame::FEATURE_HALF_CLOSE`).
pub const FEATURES: &str = axt_proto::agent_frame::FEATURE_HALF_CLOSE;

/// Dials after a lost channel before giving up with `Timeout`: the stock agent's 11 (one at
/// once, then ten backing off from 100 ms to a 2 s cap).
const REDIALS: usize = 11;

/// What reading the channel produced.
#[derive(Debug)]
pub enum Inbound {
    /// A frame that decoded.
    Frame(AgentFrame),
    /// The connection is gone (an error, a close or EOF).
    Lost(String),
}

/// How a reconnection ended without a new connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Redial {
    /// The session was stopped meanwhile.
    Stopped,
    /// Every dial failed.
    GaveUp,
}

/// One session's data channel.
pub struct DataChannel {
    client: Client,
    path: String,
    channel_id: String,
    ws: Ws,
    seq: i64,
    /// Key-exchange frames are numbered apart, so that Output numbers stay gap-free.
    key_exchange_seq: i64,
}

impl DataChannel {
    /// Opens the channel for `channel_id` and sends the first keepalive ping.
    pub async fn open(client: &Client, channel_id: &str) -> Result<Self, ClientError> {
        let path = format!(
            "/luban/session/backend{}",
            query(&[("channelId", channel_id)])
        );
        let ws = client
            .websocket(&path, &[(FEATURES_HEADER, FEATURES)])
            .await?;
        let mut channel = Self {
            client: client.clone(),
            path,
            channel_id: channel_id.to_owned(),
            ws,
            seq: 0,
            key_exchange_seq: 0,
        };
        channel.ping().await?;
        info!("data channel open");
        Ok(channel)
    }

    /// The next frame. Undecodable frames, frames with a zero timestamp (which the stock agent
    /// drops) and control messages are skipped here. Cancel-safe.
    pub async fn recv(&mut self) -> Inbound {
        loop {
            let bytes = match self.ws.next().await {
                Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
                // The stock agent accepts text frames too.
                Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
                // Pings are answered by tungstenite; a close is echoed on the next read,
                // which then ends the stream.
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Inbound::Lost(e.to_string()),
                None => return Inbound::Lost("closed".into()),
            };
            match AgentFrame::decode(&bytes) {
                Ok(frame) if frame.created_ms == 0 => debug!("frame without a timestamp ignored"),
                Ok(frame) => return Inbound::Frame(frame),
                Err(e) => warn!(error = %e, len = bytes.len(), "undecodable frame ignored"),
            }
        }
    }

    /// Sends one Output frame. Its sequence number is used up even if the send fails, as
    /// with the stock agent.
    pub async fn send_output(&mut self, payload: Vec<u8>) -> Result<(), ClientError> {
        let frame = AgentFrame::new(
            AgentMessageType::Output,
            &self.channel_id,
            self.seq,
            payload,
        );
        self.seq += 1;
        self.ws.send(Message::binary(frame.encode()?)).await?;
        Ok(())
    }

    /// Sends one key-exchange frame, of message type `kind` (`--key-exchange-message-type`).
    pub async fn send_key_exchange(
        &mut self,
        kind: u32,
        payload: Vec<u8>,
    ) -> Result<(), ClientError> {
        let frame = AgentFrame::new(
            AgentMessageType::from_code(kind),
            &self.channel_id,
            self.key_exchange_seq,
            payload,
        );
        self.key_exchange_seq += 1;
        self.ws.send(Message::binary(frame.encode()?)).await?;
        Ok(())
    }

    /// Sends a keepalive ping.
    pub async fn ping(&mut self) -> Result<(), ClientError> {
        self.ws
            .send(Message::Ping(KEEPALIVE_PAYLOAD.into()))
            .await?;
        Ok(())
    }

    /// Redials the same URL after a loss, with backoff, until it works, the session is
    /// stopped or [`REDIALS`] dials failed.
    pub async fn reconnect(&mut self, stop: &CancellationToken) -> Result<(), Redial> {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        for attempt in 1..=REDIALS {
            let dial = async {
                let mut ws = self
                    .client
                    .websocket(&self.path, &[(FEATURES_HEADER, FEATURES)])
                    .await?;
                ws.send(Message::Ping(KEEPALIVE_PAYLOAD.into())).await?;
                Ok::<_, ClientError>(ws)
            };
            let result = tokio::select! {
                result = dial => result,
                () = stop.cancelled() => return Err(Redial::Stopped),
            };
            match result {
                Ok(ws) => {
                    self.ws = ws;
                    info!(attempt, "data channel reconnected");
                    return Ok(());
                }
                Err(e) => warn!(attempt, error = %e, "data channel redial failed"),
            }
            if attempt < REDIALS {
                tokio::select! {
                    () = tokio::time::sleep(backoff.next_delay()) => {}
                    () = stop.cancelled() => return Err(Redial::Stopped),
                }
            }
        }
        Err(Redial::GaveUp)
    }
}
