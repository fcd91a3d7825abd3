//! A gateway stand-in for port sessions: every WebSocket it accepts echoes each Input payload
//! back as Output; on Close `1` it has nothing left to send, so it ends the socket (with a
//! Status 5 `Exit` first, or with the close frame only, as the gateway does with a stock
//! agent). It checks what a client must get right: 1.01 frames, one sequence counter shared by
//! Input and Close, payloads of at most `MAX_INPUT_LIMIT` (60 KiB).

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use axt_proto::client_frame::{ClientFrame, ClientMessageType};
use futures_util::StreamExt as _;
use tokio::{net::TcpListener, sync::mpsc, task::JoinHandle};
use tokio_tungstenite::tungstenite::{
    handshake::server::{ErrorResponse, Request, Response},
    http::StatusCode,
    Message,
};

use super::{send, ServerWs, PATIENCE};

/// How the gateway ends a socket after the client's Close.
#[derive(Debug, Clone, Copy)]
pub enum Ending {
    /// Status 5 `Exit`, then the close frame (an agent that half-closes its target).
    Exit,
    /// The close frame only (a stock agent: the gateway closes after a grace).
    CloseOnly,
    /// The gateway ends first: right after echoing the first Input, Status 5 with this reason
    /// and the close frame, whatever the client still sends.
    AfterFirstInput(&'static str),
}

/// What one WebSocket saw.
#[derive(Debug)]
pub struct Served {
    /// The query of the upgrade request (`sessionId=…&token=…`).
    pub query: String,
    /// Whether the upgrade was refused (403).
    pub refused: bool,
    /// Input bytes echoed.
    pub echoed: usize,
    /// The largest Input payload.
    pub largest: usize,
    /// Whether the client ended with a Close frame (else it closed the WebSocket).
    pub sent_close: bool,
}

pub struct EchoGateway {
    pub addr: std::net::SocketAddr,
    refusals: Arc<AtomicUsize>,
    served: mpsc::UnboundedReceiver<Result<Served, String>>,
    accepting: JoinHandle<()>,
}

impl EchoGateway {
    pub async fn start(ending: Ending) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let refusals = Arc::new(AtomicUsize::new(0));
        let (tx, served) = mpsc::unbounded_channel();
        let to_refuse = refusals.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let refuse = to_refuse
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                let tx = tx.clone();
                // A panic in `serve` (a failed check) becomes an Err for the test to report.
                let job = tokio::spawn(serve(tcp, refuse, ending));
                tokio::spawn(async move {
                    let result = job
                        .await
                        .map_err(|e| format!("the server task failed: {e}"));
                    let _ = tx.send(result.and_then(|r| r));
                });
            }
        });
        Self {
            addr,
            refusals,
            served,
            accepting,
        }
    }

    /// A WebSocketUrl for `--wss-url`.
    pub fn url(&self, token: &str) -> String {
        format!("ws://{}/session?sessionId=s-test&token={token}", self.addr)
    }

    /// Refuses the next `n` upgrades with 403.
    pub fn refuse_next(&self, n: usize) {
        self.refusals.store(n, Ordering::SeqCst);
    }

    /// The account of the next WebSocket to end (bounded wait).
    pub async fn served(&mut self) -> Served {
        tokio::time::timeout(PATIENCE, self.served.recv())
            .await
            .expect("no WebSocket ended in time")
            .expect("the gateway stopped")
            .unwrap_or_else(|err| panic!("{err}"))
    }
}

impl Drop for EchoGateway {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn serve(tcp: tokio::net::TcpStream, refuse: bool, ending: Ending) -> Result<Served, String> {
    let (query_tx, query_rx) = std::sync::mpsc::channel();
    #[allow(clippy::result_large_err)] // tungstenite's callback signature
    let callback = move |req: &Request, resp: Response| {
        let _ = query_tx.send(req.uri().query().unwrap_or_default().to_owned());
        if refuse {
            let mut refusal = ErrorResponse::new(Some(
                r#"{"Code":"InvalidToken","Message":"refused by the test"}"#.to_owned(),
            ));
            *refusal.status_mut() = StatusCode::FORBIDDEN;
            return Err(refusal);
        }
        Ok(resp)
    };
    let accepted =
        tokio::time::timeout(PATIENCE, tokio_tungstenite::accept_hdr_async(tcp, callback))
            .await
            .map_err(|_| "no handshake".to_owned())?;
    let mut served = Served {
        query: query_rx.recv().map_err(|_| "no upgrade request")?,
        refused: refuse,
        echoed: 0,
        largest: 0,
        sent_close: false,
    };
    let Ok(mut ws) = accepted else {
        return Ok(served);
    };
    // What the axtlab gateway sends first: an empty Output, then Opened.
    send(&mut ws, ClientMessageType::Output, b"").await;
    send(&mut ws, ClientMessageType::Status, &[3]).await;
    let mut seq = 0;
    while let Some(frame) = next_frame(&mut ws).await? {
        if frame.seq != seq {
            return Err(format!("sequence {} where {seq} was due", frame.seq));
        }
        seq += 1;
        match frame.kind {
            ClientMessageType::Input if frame.payload.len() > axt_cli::channel::MAX_INPUT_LIMIT => {
                return Err(format!("an Input of {} bytes", frame.payload.len()));
            }
            ClientMessageType::Input => {
                served.echoed += frame.payload.len();
                served.largest = served.largest.max(frame.payload.len());
                send(&mut ws, ClientMessageType::Output, &frame.payload).await;
                if let Ending::AfterFirstInput(why) = ending {
                    let status = [&[5u8][..], why.as_bytes()].concat();
                    send(&mut ws, ClientMessageType::Status, &status).await;
                    break;
                }
            }
            ClientMessageType::Close if frame.payload == b"1" => {
                served.sent_close = true;
                break;
            }
            other => return Err(format!("unexpected {other:?} {:?}", frame.payload)),
        }
    }
    let gateway_ends = matches!(ending, Ending::AfterFirstInput(_)) && served.echoed > 0;
    if served.sent_close || gateway_ends {
        if served.sent_close && matches!(ending, Ending::Exit) {
            send(&mut ws, ClientMessageType::Status, b"\x05Exit").await;
        }
        let _ = ws.close(None).await;
        // The client answers the close frame; wait for that (bounded) so the end is clean.
        let _ = tokio::time::timeout(PATIENCE, async { while ws.next().await.is_some() {} }).await;
    }
    Ok(served)
}

/// The next client frame, checked to be 1.01; `None` when the client closed the WebSocket.
async fn next_frame(ws: &mut ServerWs) -> Result<Option<ClientFrame>, String> {
    loop {
        let message = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .map_err(|_| "no frame from axt in time".to_owned())?;
        let bytes = match message {
            None | Some(Ok(Message::Close(_))) => return Ok(None),
            Some(Err(err)) => return Err(format!("reading the client: {err}")),
            Some(Ok(Message::Binary(bytes))) => bytes,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(other)) => return Err(format!("expected a binary frame, got {other:?}")),
        };
        let frame = ClientFrame::decode(&bytes).map_err(|e| e.to_string())?;
        if frame.schema != "1.01" || (bytes[8], bytes[9]) != (0, 0) {
            return Err(format!("not a 1.01 frame with empty ids: {frame:?}"));
        }
        return Ok(Some(frame));
    }
}
