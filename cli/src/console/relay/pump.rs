//! One relay: a browser WebSocket and its gateway WebSocket, in one task, with backpressure
//! both ways (a message is read from one side only once the other took the previous one;
//! nothing is queued here).
//!
//! How a side ends matters to the gateway: a close frame from a client ends its connection,
//! while a socket that just drops is kept for a schema-1.02 client's resume (docs/protocol.md
//! §6.9). So a browser that closes with [`DROP_CODE`], or whose socket breaks, has its gateway
//! socket dropped, not closed; any other close is passed on. The gateway's close (its code and
//! reason) reaches the browser unchanged; a gateway socket that breaks is a close without a
//! code (1005), which the page takes as a reason to reconnect.

use std::time::{Duration, Instant};

use axum::extract::ws::{self, WebSocket};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::{self, protocol::frame::coding::CloseCode};

use super::Stream;
use crate::{console::store::SignedIn, ws::WsStream};

/// After one side closes, how long the other gets to finish its close handshake.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The close code with which the page drops its socket on purpose (a test of resuming): the
/// gateway socket is dropped too, so the gateway keeps the connection for the reconnect.
pub const DROP_CODE: u16 = 4000;

/// Close code for the browser when its console session ended (sign-out, expiry); the reason
/// says which (`SignedOut`, `ConsoleSessionExpired`).
pub const CLOSE_ENDED: u16 = 4401;

/// How a relay ended, logged once.
#[derive(Debug, thiserror::Error)]
pub enum Ending {
    #[error("no gateway WebSocket: {0}")]
    NoGateway(String),
    #[error("the browser closed ({0:?})")]
    BrowserClosed(Option<u16>),
    #[error("the browser dropped its socket; the gateway's was dropped for a resume")]
    BrowserDropped,
    #[error("the gateway closed ({0:?})")]
    GatewayClosed(Option<u16>),
    #[error("the browser's socket failed: {0}")]
    BrowserFailed(String),
    #[error("the gateway's socket failed: {0}")]
    GatewayFailed(String),
    #[error("the console session ended: {0}")]
    SignedOut(&'static str),
}

/// Relays until a side closes or fails, or the console session ends; the other side follows.
pub async fn relay(
    mut browser: WebSocket,
    mut gateway: WsStream,
    stream: Stream,
    signed_in: &SignedIn,
) -> Ending {
    let mut ended = signed_in.ended();
    let deadline = tokio::time::Instant::from_std(signed_in.deadline());
    loop {
        tokio::select! {
            // Also when the session is gone altogether (the sender dropped).
            () = async { drop(ended.wait_for(|ended| *ended).await) } => {
                return close_both(browser, gateway, "SignedOut").await;
            }
            () = tokio::time::sleep_until(deadline) => {
                return close_both(browser, gateway, "ConsoleSessionExpired").await;
            }
            from_browser = browser.next() => {
                signed_in.touch(Instant::now());
                if let Some(ending) = from_browser_to(&mut gateway, from_browser, stream).await {
                    return ending;
                }
            }
            from_gateway = gateway.next() => {
                if let Some(ending) = from_gateway_to(&mut browser, from_gateway).await {
                    return ending;
                }
            }
        }
    }
}

/// Passes on what the browser sent; `Some` when the relay is over.
async fn from_browser_to(
    gateway: &mut WsStream,
    message: Option<Result<ws::Message, axum::Error>>,
    stream: Stream,
) -> Option<Ending> {
    let forward = match message {
        Some(Ok(ws::Message::Binary(bytes))) => tungstenite::Message::Binary(bytes),
        Some(Ok(ws::Message::Text(text))) => tungstenite::Message::text(text.as_str()),
        Some(Ok(ws::Message::Close(frame))) => {
            let code = frame.as_ref().map(|f| f.code);
            if stream == Stream::Session && code == Some(DROP_CODE) {
                return Some(Ending::BrowserDropped);
            }
            let frame = frame.map(|f| tungstenite::protocol::CloseFrame {
                code: CloseCode::from(f.code),
                reason: f.reason.as_str().into(),
            });
            let _ = gateway.close(frame).await;
            drain(gateway).await;
            return Some(Ending::BrowserClosed(code));
        }
        // Pings are answered by the socket itself.
        Some(Ok(_)) => return None,
        Some(Err(err)) if stream == Stream::Session => {
            return Some(Ending::BrowserFailed(err.to_string()))
        }
        None if stream == Stream::Session => return Some(Ending::BrowserDropped),
        // A listener of events that goes away just goes: close cleanly.
        Some(Err(_)) | None => {
            let _ = gateway.close(None).await;
            return Some(Ending::BrowserClosed(None));
        }
    };
    // The browser only listens to the event stream; what it says is not passed on.
    if stream == Stream::Events {
        return None;
    }
    match gateway.send(forward).await {
        Ok(()) => None,
        Err(err) => Some(Ending::GatewayFailed(err.to_string())),
    }
}

/// Passes on what the gateway sent; `Some` when the relay is over.
async fn from_gateway_to(
    browser: &mut WebSocket,
    message: Option<Result<tungstenite::Message, tungstenite::Error>>,
) -> Option<Ending> {
    let forward = match message {
        Some(Ok(tungstenite::Message::Binary(bytes))) => ws::Message::Binary(bytes),
        Some(Ok(tungstenite::Message::Text(text))) => ws::Message::Text(text.as_str().into()),
        Some(Ok(tungstenite::Message::Close(frame))) => {
            let code = frame.as_ref().map(|f| u16::from(f.code));
            let frame = frame.map(|f| ws::CloseFrame {
                code: u16::from(f.code),
                reason: f.reason.as_str().into(),
            });
            let _ = browser.send(ws::Message::Close(frame)).await;
            drain_browser(browser).await;
            return Some(Ending::GatewayClosed(code));
        }
        Some(Ok(_)) => return None,
        Some(Err(err)) => {
            let _ = browser.send(ws::Message::Close(None)).await;
            return Some(Ending::GatewayFailed(err.to_string()));
        }
        None => {
            let _ = browser.send(ws::Message::Close(None)).await;
            return Some(Ending::GatewayClosed(None));
        }
    };
    match browser.send(forward).await {
        Ok(()) => None,
        Err(err) => Some(Ending::BrowserFailed(err.to_string())),
    }
}

/// The console session ended: the gateway's connection ends (a close frame), and the browser
/// is told why.
async fn close_both(mut browser: WebSocket, mut gateway: WsStream, why: &'static str) -> Ending {
    let _ = gateway.close(None).await;
    let frame = ws::CloseFrame {
        code: CLOSE_ENDED,
        reason: why.into(),
    };
    let _ = browser.send(ws::Message::Close(Some(frame))).await;
    drain(&mut gateway).await;
    drain_browser(&mut browser).await;
    Ending::SignedOut(why)
}

/// Reads the gateway's socket until its close answer (bounded), so the close is clean.
async fn drain(gateway: &mut WsStream) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while gateway.next().await.is_some() {}
    })
    .await;
}

/// The same for the browser's.
async fn drain_browser(browser: &mut WebSocket) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while browser.next().await.is_some() {}
    })
    .await;
}
