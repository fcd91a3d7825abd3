//! A session channel: client frames of schema 1.01 over a connected WebSocket, split into a
//! writer that owns the sequence counter and a reader that turns gateway frames into events.
//!
//! Nothing here knows about terminals, so interactive sessions and raw byte relays (port
//! forwarding, `ssh` ProxyCommand) share it.

use std::pin::Pin;

use axt_proto::{
    client_frame::{resize_payload, ClientFrame, ClientMessageType},
    status::{parse_rate, ChannelState},
    FrameError,
};
use futures_util::{Sink, SinkExt as _, Stream, StreamExt as _};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::{
    tungstenite::{Error as WsError, Message},
    WebSocketStream,
};

/// The most bytes one Input frame carries by default: ali-instance-cli's read buffer, which
/// gateways written for it may assume.
pub const MAX_INPUT: usize = 2048;

/// The most a writer may be told to put in one Input frame ([`FrameWriter::with_max_input`]):
/// inside 1.02's 16-bit length and, with the frame's and the WebSocket's headers, inside one
/// 64 KiB segment of loopback TCP. Measured through the lab on loopback (`axt-bench`): 60 KiB
/// frames upload about 9% faster than 32 KiB ones, while 64 KiB ones (two segments each) and
/// larger are slower again.
pub const MAX_INPUT_LIMIT: usize = 60 * 1024;

/// What the client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// Keystrokes or stream bytes; split into frames of at most [`MAX_INPUT`] bytes (or what
    /// [`FrameWriter::with_max_input`] set).
    Input(Vec<u8>),
    /// The terminal's new size.
    Resize { cols: u16, rows: u16 },
    /// The local side ended (payload `1`).
    Close,
    /// One Input frame carrying ciphertext, never split: a record must arrive whole.
    Sealed(Vec<u8>),
    /// One key-exchange frame (encrypted sessions, docs/encryption.md §1).
    KeyExchange(Vec<u8>),
}

/// What the gateway said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Terminal or stream bytes.
    Output(Vec<u8>),
    /// A Status frame.
    Status(Status),
    /// The WebSocket ended: a close frame (`code reason`) or the end of the stream (`None`).
    Hangup(Option<String>),
    /// A key-exchange frame, when the reader was told its type: the channel id the gateway
    /// wrote in it (the authenticated suite signs it) and the payload.
    KeyExchange {
        channel_id: String,
        payload: Vec<u8>,
    },
}

/// A Status frame, by what a client does with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// 5: the session ended, with a reason such as `Exit`.
    Closed(String),
    /// 2: the session could not be set up, with a text.
    Aborted(String),
    /// 7: the rate the client should keep to, in bit/s (`None` if unreadable).
    Rate(Option<u32>),
    /// Any other state (Opened, Exited, …) or an empty payload; clients carry on.
    Other(Option<u8>),
}

impl Status {
    /// Reads a Status payload: byte 0 the state, then a reason or a rate.
    pub fn parse(payload: &[u8]) -> Self {
        let text = || {
            String::from_utf8_lossy(&payload[1..])
                .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_owned()
        };
        match payload.first().copied() {
            Some(b) if b == ChannelState::Closed as u8 => Self::Closed(text()),
            Some(b) if b == ChannelState::Aborted as u8 => Self::Aborted(text()),
            Some(b) if b == ChannelState::Stream as u8 => Self::Rate(parse_rate(payload)),
            other => Self::Other(other),
        }
    }
}

/// Why a channel stopped working.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("the gateway sent a malformed frame: {0}")]
    BadFrame(FrameError),
    #[error("cannot encode a frame: {0}")]
    Encode(FrameError),
    #[error("the connection to the gateway failed: {0}")]
    Ws(#[from] WsError),
}

type BoxSink = Pin<Box<dyn Sink<Message, Error = WsError> + Send>>;
type BoxStream = Pin<Box<dyn Stream<Item = Result<Message, WsError>> + Send>>;

/// Splits a connected WebSocket into its two halves.
pub fn split<S>(ws: WebSocketStream<S>) -> (FrameWriter, FrameReader)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sink, stream) = ws.split();
    (
        FrameWriter {
            sink: Box::pin(sink),
            next_seq: 0,
            max_input: MAX_INPUT,
            key_exchange_type: axt_proto::e2e::DEFAULT_KEY_EXCHANGE_TYPE,
        },
        FrameReader {
            stream: Box::pin(stream),
            key_exchange_type: None,
        },
    )
}

/// The sending half. It owns the one sequence counter that Input, Resize and Close share, so
/// all of a client's frames must go through one writer.
pub struct FrameWriter {
    sink: BoxSink,
    next_seq: i64,
    max_input: usize,
    key_exchange_type: u32,
}

impl FrameWriter {
    /// Lets Input frames carry up to `max` bytes (clamped to 1..=[`MAX_INPUT_LIMIT`]). Byte
    /// relays use this: every frame costs a header, a flush and a hop through the gateway, so
    /// bulk data moves much faster in fewer, larger frames than in 2048-byte ones.
    pub fn with_max_input(mut self, max: usize) -> Self {
        self.max_input = max.clamp(1, MAX_INPUT_LIMIT);
        self
    }

    /// Sends [`Outgoing::KeyExchange`] as frames of type `kind`.
    pub fn with_key_exchange_type(mut self, kind: u32) -> Self {
        self.key_exchange_type = kind;
        self
    }

    /// Sends `out` as one or more frames, each flushed: a keystroke must not wait in a buffer.
    pub async fn send(&mut self, out: Outgoing) -> Result<(), ChannelError> {
        match out {
            Outgoing::Input(bytes) if bytes.is_empty() => {
                self.frame(ClientMessageType::Input, Vec::new()).await
            }
            Outgoing::Input(bytes) => {
                for chunk in bytes.chunks(self.max_input) {
                    self.frame(ClientMessageType::Input, chunk.to_vec()).await?;
                }
                Ok(())
            }
            Outgoing::Resize { cols, rows } => {
                self.frame(ClientMessageType::Resize, resize_payload(cols, rows))
                    .await
            }
            Outgoing::Close => self.frame(ClientMessageType::Close, b"1".to_vec()).await,
            Outgoing::Sealed(record) => self.frame(ClientMessageType::Input, record).await,
            Outgoing::KeyExchange(payload) => {
                let kind = ClientMessageType::Other(self.key_exchange_type);
                self.frame(kind, payload).await
            }
        }
    }

    /// Starts the WebSocket's closing handshake (the reader sees it complete). Closing a socket
    /// the gateway already closed is not an error.
    pub async fn close(&mut self) -> Result<(), ChannelError> {
        match self.sink.close().await {
            Ok(()) | Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    async fn frame(
        &mut self,
        kind: ClientMessageType,
        payload: Vec<u8>,
    ) -> Result<(), ChannelError> {
        let bytes = ClientFrame::v101(kind, self.next_seq, payload)
            .encode()
            .map_err(ChannelError::Encode)?;
        self.sink.send(Message::binary(bytes)).await?;
        self.next_seq += 1;
        Ok(())
    }
}

/// The receiving half.
pub struct FrameReader {
    stream: BoxStream,
    key_exchange_type: Option<u32>,
}

impl FrameReader {
    /// Returns frames of type `kind` as [`Event::KeyExchange`] instead of skipping them.
    pub fn with_key_exchange_type(mut self, kind: u32) -> Self {
        self.key_exchange_type = Some(kind);
        self
    }

    /// The next Output, Status or hang-up. Other frame types are skipped, as ali-instance-cli
    /// skips them; text messages are read like binary ones, as it does too. WebSocket pings are
    /// answered by tungstenite while it reads.
    ///
    /// Cancel-safe: its only await point is the stream's `next`, so it can sit in a
    /// `tokio::select!` beside other branches without losing a frame.
    pub async fn next(&mut self) -> Result<Event, ChannelError> {
        loop {
            let message = match self.stream.next().await {
                None => return Ok(Event::Hangup(None)),
                Some(message) => message?,
            };
            let frame = match message {
                Message::Binary(bytes) => ClientFrame::decode(&bytes),
                Message::Text(text) => ClientFrame::decode(text.as_bytes()),
                Message::Close(frame) => {
                    let said = frame.map(|f| format!("{} {}", u16::from(f.code), f.reason));
                    return Ok(Event::Hangup(said));
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            }
            .map_err(ChannelError::BadFrame)?;
            match frame.kind {
                ClientMessageType::Output => return Ok(Event::Output(frame.payload)),
                ClientMessageType::Status => {
                    return Ok(Event::Status(Status::parse(&frame.payload)))
                }
                other if Some(other.code()) == self.key_exchange_type => {
                    return Ok(Event::KeyExchange {
                        channel_id: frame.channel_id,
                        payload: frame.payload,
                    })
                }
                other => tracing::debug!(?other, "skipping a frame"),
            }
        }
    }
}
