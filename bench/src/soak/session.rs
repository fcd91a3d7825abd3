//! One soak session from the client's side, as `axt portforward` holds a forwarded connection:
//! StartTerminalSession for the echo target's port, the session's WebSocket, Input frames of
//! the client framing (schema 1.01) out and Output frames back, and at the end a Close (`1`)
//! after which the gateway ends the WebSocket once the agent reports the target closed.
//!
//! Each session is a task that opens, proves the path with one echo, then waits for the
//! driver's next [`Phase`], sending an empty Input (a keep-alive) every [`KEEPALIVE`] so that
//! no idle timeout ends a session while the others are still being opened.

use std::{sync::Arc, time::Duration};

use anyhow::{bail, Context as _};
use axt_proto::client_frame::{ClientFrame, ClientMessageType};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    sync::{mpsc, watch},
    time::Instant,
};
use tokio_tungstenite::{
    tungstenite::{protocol::WebSocketConfig, Message},
    MaybeTlsStream, WebSocketStream,
};

use super::stack::Api;

/// Keep-alive of a parked session: well inside the gateway's and the agent's 180 s.
pub const KEEPALIVE: Duration = Duration::from_secs(60);
/// The longest one step (an open, an echo, a close) may take before the session counts as
/// failed.
const STEP: Duration = Duration::from_secs(60);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the driver asks every session to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Stay open.
    Hold,
    /// Echo once more; the number tells rounds apart.
    Echo(u32),
    /// Close and wait for the gateway to end the WebSocket.
    Close,
}

/// What a session tells the driver.
#[derive(Debug)]
pub enum Report {
    /// Opened and echoed once: the time from StartTerminalSession to the echo.
    Opened(Duration),
    /// Echoed in a later round: the round trip.
    Echoed(Duration),
    /// Closed cleanly.
    Closed,
    /// Failed or ended early, and why.
    Failed(String),
}

/// Serves the soak's target: every connection gets back what it sends, until it closes.
pub async fn echo_target() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the echo target")?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                // Out of descriptors, typically: the session that needed it reports a failure.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
                let _ = write.shutdown().await;
            });
        }
    });
    Ok(port)
}

/// What every session of a crowd shares: where it opens and what it echoes.
pub struct Common {
    pub api: Arc<Api>,
    /// The agent's instance.
    pub instance: String,
    /// The echo target's port.
    pub port: u16,
    pub payload: Vec<u8>,
}

/// Runs session `id` to its close, reporting each step; `opening` is held while it opens, so
/// that only so many open at once.
pub async fn run(
    id: usize,
    common: Arc<Common>,
    opening: tokio::sync::OwnedSemaphorePermit,
    mut phase: watch::Receiver<Phase>,
    reports: mpsc::Sender<(usize, Report)>,
) {
    let payload = &common.payload;
    let report = |report| {
        let reports = reports.clone();
        async move {
            let _ = reports.send((id, report)).await;
        }
    };
    let started = Instant::now();
    let opened = tokio::time::timeout(STEP, open(&common, payload)).await;
    drop(opening);
    let mut session = match opened {
        Ok(Ok(session)) => session,
        Ok(Err(e)) => return report(Report::Failed(format!("{e:#}"))).await,
        Err(_) => return report(Report::Failed("opening timed out".into())).await,
    };
    report(Report::Opened(started.elapsed())).await;
    let mut keepalive = tokio::time::interval_at(Instant::now() + KEEPALIVE, KEEPALIVE);
    loop {
        tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = *phase.borrow_and_update();
                let answer = match now {
                    Phase::Hold => continue,
                    Phase::Echo(_) => {
                        let sent = Instant::now();
                        match tokio::time::timeout(STEP, session.echo(payload)).await {
                            Ok(Ok(())) => Report::Echoed(sent.elapsed()),
                            Ok(Err(e)) => Report::Failed(format!("echo: {e:#}")),
                            Err(_) => Report::Failed("echo timed out".into()),
                        }
                    }
                    Phase::Close => {
                        let answer = match tokio::time::timeout(STEP, session.close()).await {
                            Ok(Ok(())) => Report::Closed,
                            Ok(Err(e)) => Report::Failed(format!("close: {e:#}")),
                            Err(_) => Report::Failed("close timed out".into()),
                        };
                        return report(answer).await;
                    }
                };
                let failed = matches!(answer, Report::Failed(_));
                report(answer).await;
                if failed {
                    return;
                }
            }
            _ = keepalive.tick() => {
                if let Err(e) = session.send(ClientMessageType::Input, Vec::new()).await {
                    return report(Report::Failed(format!("keep-alive: {e:#}"))).await;
                }
            }
            message = session.ws.next() => match message {
                // Anything between rounds (an empty Output, a Status) is read and let go.
                Some(Ok(_)) => {}
                Some(Err(e)) => return report(Report::Failed(format!("lost: {e}"))).await,
                None => return report(Report::Failed("the gateway ended the WebSocket".into())).await,
            },
        }
    }
}

/// An open session's WebSocket and its next Input sequence number.
struct Session {
    ws: Ws,
    seq: i64,
}

/// StartTerminalSession, the WebSocket, and a first echo.
async fn open(common: &Common, payload: &[u8]) -> anyhow::Result<Session> {
    let port = common.port.to_string();
    let started = common
        .api
        .call(
            "StartTerminalSession",
            &[("InstanceId.1", &common.instance), ("PortNumber", &port)],
        )
        .await?;
    let url = started["WebSocketUrl"]
        .as_str()
        .context("StartTerminalSession answered no WebSocketUrl")?;
    // Small buffers: the soak's client holds thousands of these, and moves a little on each.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(axt_proto::MAX_WS_MESSAGE));
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .context("opening the session's WebSocket")?;
    let mut session = Session { ws, seq: 0 };
    session.echo(payload).await?;
    Ok(session)
}

impl Session {
    async fn send(&mut self, kind: ClientMessageType, payload: Vec<u8>) -> anyhow::Result<()> {
        let frame = ClientFrame::v101(kind, self.seq, payload).encode()?;
        self.ws.send(Message::binary(frame)).await?;
        self.seq += 1;
        Ok(())
    }

    /// Sends `payload` and reads Output until all of it came back.
    async fn echo(&mut self, payload: &[u8]) -> anyhow::Result<()> {
        self.send(ClientMessageType::Input, payload.to_vec())
            .await?;
        let mut back = Vec::with_capacity(payload.len());
        while back.len() < payload.len() {
            let frame = match self.ws.next().await {
                Some(Ok(Message::Binary(bytes))) => ClientFrame::decode(&bytes)?,
                Some(Ok(Message::Close(said))) => bail!("the gateway closed: {said:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => bail!("the gateway ended the WebSocket"),
            };
            match frame.kind {
                ClientMessageType::Output => back.extend_from_slice(&frame.payload),
                // Aborted or Closed ends the session; other states (Opened…) only inform.
                ClientMessageType::Status if matches!(frame.payload.first(), Some(2 | 5)) => {
                    let said = String::from_utf8_lossy(&frame.payload[1..]).into_owned();
                    bail!(
                        "Status {} {said:?} before the echo was back",
                        frame.payload[0]
                    );
                }
                _ => {}
            }
        }
        if back != payload {
            bail!("the echo differs from what was sent");
        }
        Ok(())
    }

    /// Close (`1`), then reads until the gateway ends the WebSocket, as `axt portforward` does
    /// when its local connection ends.
    async fn close(mut self) -> anyhow::Result<()> {
        self.send(ClientMessageType::Close, b"1".to_vec()).await?;
        while let Some(message) = self.ws.next().await {
            if let Err(e) = message {
                bail!("{e}");
            }
        }
        Ok(())
    }
}

/// One round trip to the echo target on `port`, directly: a check that it serves.
pub async fn check_target(port: u16) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.write_all(b"ping").await?;
    let mut back = [0u8; 4];
    stream.read_exact(&mut back).await?;
    if &back != b"ping" {
        bail!("the echo target answered {back:?}");
    }
    Ok(())
}
