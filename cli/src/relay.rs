//! One byte stream relayed over one session WebSocket, for port sessions: local reads become
//! Input frames, Output payloads are written back, and the end of either side is passed on so
//! that no byte is lost. `portforward` runs one per TCP connection, `ssh` one over stdio.

use std::{
    future::Future,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use axt_proto::status::reason;
use tokio::{
    io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _},
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

use crate::{
    channel::{self, ChannelError, Event, FrameWriter, Outgoing, Status},
    session::closed_message,
    ws::WsStream,
};

/// Chunks read locally and not yet sent. The queue is what makes back-pressure work: when the
/// gateway takes frames slowly, the pump blocks on the WebSocket, the queue fills, the local
/// reader blocks on `send`, and the local peer's writes wait in its kernel buffer (TCP closes
/// its window) instead of piling up in memory here. At most this many frames per stream.
const QUEUE: usize = 8;

/// How long the ending steps (local shutdown, the WebSocket's close frame) may take: a peer
/// that stopped reading must not keep `axt` from exiting.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How a relay ended.
#[derive(Debug)]
pub enum End {
    /// Status 5 with its reason.
    Closed(String),
    /// Status 2 with its text.
    Aborted(String),
    /// The gateway closed the WebSocket without a Status 5; `after_close` says whether the
    /// local side had already ended (then this is the normal end of a port session).
    Hangup {
        said: Option<String>,
        after_close: bool,
    },
    /// The WebSocket broke or carried a malformed frame.
    Failed(ChannelError),
    /// Writing to the local side failed (the local app went away).
    Local(std::io::Error),
    /// `stop` fired (Ctrl-C, or the command is shutting down).
    Stopped,
}

impl End {
    /// Whether nothing went wrong: the session exited, or the gateway closed after our Close,
    /// or we were told to stop.
    pub fn is_clean(&self) -> bool {
        match self {
            Self::Closed(why) => why == reason::EXIT,
            Self::Hangup { after_close, .. } => *after_close,
            Self::Stopped => true,
            Self::Aborted(_) | Self::Failed(_) | Self::Local(_) => false,
        }
    }

    /// What to tell the user about it.
    pub fn message(&self) -> String {
        match self {
            Self::Closed(why) => closed_message(why),
            Self::Aborted(text) if text.is_empty() => "session aborted.".to_owned(),
            Self::Aborted(text) => text.clone(),
            Self::Hangup {
                said: Some(said), ..
            } => {
                format!("the gateway closed the connection ({said})")
            }
            Self::Hangup { said: None, .. } => "the gateway closed the connection".to_owned(),
            Self::Failed(err) => err.to_string(),
            Self::Local(err) => format!("local side: {err}"),
            Self::Stopped => "stopped.".to_owned(),
        }
    }
}

/// Relays `local_in` → Input and Output → `local_out` over `ws` until the stream ends.
///
/// At end of `local_in` a Close (`1`) is sent and Output is still relayed until the gateway
/// ends the WebSocket, since the remote side may still be answering. Whichever way the relay
/// ends, everything received has been written and `local_out` is shut down (the local app
/// sees EOF) before this returns. `frame_size` is the most bytes per Input frame.
pub async fn relay<R, W>(
    local_in: R,
    mut local_out: W,
    ws: WsStream,
    frame_size: usize,
    stop: impl Future<Output = ()>,
) -> End
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin,
{
    let (writer, mut reader) = channel::split(ws);
    let writer = writer.with_max_input(frame_size);
    let (queue_tx, queue_rx) = mpsc::channel(QUEUE);
    let (finish_tx, finish_rx) = oneshot::channel();
    // Set by the pump just before the Close frame leaves, so a hang-up caused by that Close is
    // never mistaken for one that came first.
    let close_sent = Arc::new(AtomicBool::new(false));
    let _reading = AbortOnDrop(tokio::spawn(read_local(local_in, queue_tx, frame_size)));
    let mut pump = AbortOnDrop(tokio::spawn(pump(
        writer,
        queue_rx,
        finish_rx,
        close_sent.clone(),
    )));
    let mut pump_done = false;
    let mut pump_failed = None;
    let mut give_up_at = tokio::time::Instant::now();
    tokio::pin!(stop);

    let end = loop {
        tokio::select! {
            event = reader.next() => match event {
                Ok(Event::Output(bytes)) if bytes.is_empty() => {}
                // The write sits in its own select: a local app that stops reading must not
                // keep `stop` from being heard. Flushed each time: stdout buffers until a
                // newline, and an ssh handshake has none.
                Ok(Event::Output(bytes)) => tokio::select! {
                    written = write_flush(&mut local_out, &bytes) => if let Err(err) = written {
                        break End::Local(err);
                    },
                    () = &mut stop => break End::Stopped,
                },
                Ok(Event::Status(Status::Closed(why))) => break End::Closed(why),
                Ok(Event::Status(Status::Aborted(text))) => break End::Aborted(text),
                // ali-instance-cli paces raw relays by this rate; axt leaves pacing to the
                // gateway and the agent, which see the real flow.
                Ok(Event::Status(Status::Rate(rate))) => tracing::debug!(?rate, "rate"),
                Ok(Event::Status(Status::Other(state))) => tracing::debug!(?state, "status"),
                // Port sessions are never encrypted: this reader was given no key-exchange
                // type, so it never yields one.
                Ok(Event::KeyExchange { .. }) => {}
                Ok(Event::Hangup(said)) => break End::Hangup {
                    said,
                    after_close: close_sent.load(Ordering::SeqCst),
                },
                Err(err) => break End::Failed(err),
            },
            joined = &mut pump.0, if !pump_done => {
                pump_done = true;
                match joined {
                    Ok(Ok(())) => {}
                    // A send fails when the gateway has just ended the socket, and then its
                    // Status 5 or close frame is still to be read: that, if it comes soon, is
                    // the better account of the end.
                    Ok(Err(err)) => {
                        pump_failed = Some(err);
                        give_up_at = tokio::time::Instant::now() + CLOSE_WAIT;
                    }
                    Err(err) => break End::Local(std::io::Error::other(err)),
                }
            }
            () = tokio::time::sleep_until(give_up_at), if pump_failed.is_some() => {
                break End::Failed(pump_failed.take().expect("checked by the guard"));
            }
            () = &mut stop => break End::Stopped,
        }
    };

    // Local side first: the app is waiting for its EOF. Everything received is written by now
    // (each write_all above completed), so the shutdown only adds the FIN.
    let _ = tokio::time::timeout(CLOSE_WAIT, local_out.shutdown()).await;
    // Then the WebSocket: the pump sends a close frame, which either answers the gateway's or,
    // when the relay stopped on this side, tells the gateway the client left.
    let _ = finish_tx.send(());
    if !pump_done {
        let _ = tokio::time::timeout(CLOSE_WAIT, &mut pump.0).await;
    }
    end
}

/// Writes one Output payload to the local side and flushes it.
async fn write_flush<W: AsyncWrite + Unpin>(local: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    local.write_all(bytes).await?;
    local.flush().await
}

/// Reads the local side into the queue, one chunk per Input frame, then queues the Close. A
/// read error counts as the end of input: there is nothing more to send either way.
async fn read_local<R: AsyncRead + Unpin>(
    mut local: R,
    queue: mpsc::Sender<Outgoing>,
    frame_size: usize,
) {
    let mut buf = vec![0u8; frame_size];
    loop {
        match local.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                if queue
                    .send(Outgoing::Input(buf[..n].to_vec()))
                    .await
                    .is_err()
                {
                    return; // the relay is over
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => {
                tracing::debug!(%err, "reading the local side failed; ending its input");
                break;
            }
        }
    }
    let _ = queue.send(Outgoing::Close).await;
}

/// The only writer of the WebSocket (it owns the sequence counter Input and Close share).
/// Sends what is queued; once told to finish (or the relay is gone), closes the WebSocket.
async fn pump(
    mut writer: FrameWriter,
    mut queue: mpsc::Receiver<Outgoing>,
    mut finish: oneshot::Receiver<()>,
    close_sent: Arc<AtomicBool>,
) -> Result<(), ChannelError> {
    let mut open = true;
    loop {
        tokio::select! {
            biased;
            _ = &mut finish => break,
            out = queue.recv(), if open => match out {
                Some(out) => {
                    if out == Outgoing::Close {
                        close_sent.store(true, Ordering::SeqCst);
                    }
                    writer.send(out).await?;
                }
                None => open = false,
            },
        }
    }
    tokio::time::timeout(CLOSE_WAIT, writer.close())
        .await
        .unwrap_or(Ok(()))
}

/// A task that is aborted when the relay returns or is dropped, so no reader outlives it
/// holding the local socket open.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_exit_a_hangup_after_close_or_a_stop_is_clean() {
        assert!(End::Closed("Exit".into()).is_clean());
        assert!(!End::Closed("AgentTimeout".into()).is_clean());
        let hangup = |after_close| End::Hangup {
            said: None,
            after_close,
        };
        assert!(hangup(true).is_clean());
        assert!(!hangup(false).is_clean());
        assert!(End::Stopped.is_clean());
        assert!(!End::Aborted("no".into()).is_clean());
        assert_eq!(
            End::Closed("AgentTimeout".into()).message(),
            "AgentTimeout: session closed for agent timeout."
        );
    }
}
