//! The two sockets of a relay, as the relay sees them: a stream of WebSocket messages in and a
//! sink for messages out. In the gateway they are axum WebSockets; in the relay's unit tests,
//! in-memory channels (`MemSocket`), so that its logic runs without a network, on paused time.

use axum::extract::ws::{Message, WebSocket};
use futures_util::{Sink, SinkExt as _, Stream, StreamExt as _};

/// Anything that carries WebSocket messages both ways.
pub trait Duplex:
    Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Send + Unpin
{
}

impl<T> Duplex for T where
    T: Stream<Item = Result<Message, axum::Error>>
        + Sink<Message, Error = axum::Error>
        + Send
        + Unpin
{
}

/// One side's socket.
pub struct Socket(Box<dyn Duplex>);

impl Socket {
    /// Wraps any duplex (a test's in-memory one).
    pub fn new(inner: impl Duplex + 'static) -> Self {
        Self(Box::new(inner))
    }

    /// The next message; `None` once the peer is gone.
    pub async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        self.0.next().await
    }

    /// Sends one message (flushed).
    pub async fn send(&mut self, msg: Message) -> Result<(), axum::Error> {
        self.0.send(msg).await
    }
}

impl From<WebSocket> for Socket {
    fn from(ws: WebSocket) -> Self {
        Self::new(ws)
    }
}

/// The next message of a socket that may be absent; never resolves when it is.
pub async fn recv(socket: &mut Option<Socket>) -> Option<Result<Message, axum::Error>> {
    match socket {
        Some(socket) => socket.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
pub use mem::MemPeer;

#[cfg(test)]
pub mod mem {
    //! A socket made of two bounded channels, and the test's end of it.

    use std::{
        pin::Pin,
        task::{Context, Poll},
        time::Duration,
    };

    use axum::extract::ws::Message;
    use futures_util::{Sink, Stream};
    use tokio::sync::mpsc;
    use tokio_util::sync::PollSender;

    /// The relay's end.
    pub struct MemSocket {
        inbound: mpsc::Receiver<Message>,
        outbound: PollSender<Message>,
    }

    /// The test's end: what it sends, the relay reads, and the other way round.
    pub struct MemPeer {
        pub tx: mpsc::Sender<Message>,
        pub rx: mpsc::Receiver<Message>,
    }

    /// A connected pair. Both directions hold up to `capacity` messages before the writer waits.
    pub fn pair(capacity: usize) -> (MemSocket, MemPeer) {
        let (to_relay, inbound) = mpsc::channel(capacity);
        let (outbound, from_relay) = mpsc::channel(capacity);
        let socket = MemSocket {
            inbound,
            outbound: PollSender::new(outbound),
        };
        let peer = MemPeer {
            tx: to_relay,
            rx: from_relay,
        };
        (socket, peer)
    }

    impl MemPeer {
        /// Sends a message to the relay.
        pub async fn send(&self, msg: Message) {
            self.tx
                .send(msg)
                .await
                .expect("the relay dropped the socket");
        }

        /// The next message from the relay within `limit` (of paused, virtual time): `None`
        /// when the relay closed its end.
        pub async fn recv(&mut self, limit: Duration) -> Option<Message> {
            tokio::time::timeout(limit, self.rx.recv())
                .await
                .expect("nothing from the relay in time")
        }
    }

    fn gone() -> axum::Error {
        axum::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }

    impl Stream for MemSocket {
        type Item = Result<Message, axum::Error>;

        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            self.inbound.poll_recv(cx).map(|m| m.map(Ok))
        }
    }

    impl Sink<Message> for MemSocket {
        type Error = axum::Error;

        fn poll_ready(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            self.outbound.poll_reserve(cx).map_err(|_| gone())
        }

        fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
            self.outbound.send_item(item).map_err(|_| gone())
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            self.outbound.close();
            Poll::Ready(Ok(()))
        }
    }
}
