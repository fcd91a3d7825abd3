//! `/session/events?sessionId=&token=[&payloads=1]`: a session's events as a WebSocket of text
//! messages, one JSON object each — the events so far, then live ones. The token is the one of
//! the session's WebSocketUrl, checked with `VerifyToken` (which allocates nothing: watching
//! takes no connection slot); a wrong one gets the refusal `/session` gives. Payloads travel
//! (base64) only when asked for.

use std::{collections::HashMap, sync::Arc, time::Duration};

use axt_proto::internal::VerifyToken;
use axum::{
    extract::{
        ws::{Message, WebSocket},
        Query, State, WebSocketUpgrade,
    },
    http::{HeaderMap, StatusCode},
    response::Response,
};
use tokio::sync::watch;

use super::{events::lost_json, Item, Subscription};
use crate::{session_surface, Shared};

/// The longest one message to a subscriber may take: one that stops reading is let go.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// A subscriber has nothing to say; anything large from it is not read.
const MAX_MESSAGE: usize = 4096;

pub async fn events(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let (session_id, token) = session_surface::credentials(&query, &headers);
    if session_id.is_empty() || token.is_empty() {
        return session_surface::refuse(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            "sessionId and token are required",
        );
    }
    let payloads = query
        .get("payloads")
        .is_some_and(|v| v == "1" || v == "true");
    let request = VerifyToken {
        session_id: session_id.clone(),
        token,
    };
    let verified = match shared.cp.call(&request).await {
        Ok(verified) => verified,
        Err(e) => return session_surface::refusal(&session_id, e),
    };
    let subscription = match shared.observe.subscribe(&verified.session.session_id) {
        Ok(subscription) => subscription,
        Err(e) => {
            return session_surface::refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManySubscribers",
                &e.to_string(),
            )
        }
    };
    let closing = shared.closing.subscribe();
    crate::ws::sized(ws, MAX_MESSAGE)
        .on_upgrade(move |socket| stream(socket, subscription, payloads, closing))
}

/// Sends events until the subscriber leaves, the session's bus is let go, or the gateway
/// shuts down. While a send waits, the subscriber falls behind on the bus and is told so.
async fn stream(
    mut socket: WebSocket,
    mut events: Subscription,
    payloads: bool,
    mut closing: watch::Receiver<bool>,
) {
    loop {
        let text = tokio::select! {
            item = events.next() => match item {
                Some(Item::Event(event)) => event.to_json(payloads),
                Some(Item::Lost(count)) => lost_json(count),
                None => break,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => continue,
            },
            changed = closing.changed() => {
                if changed.is_err() || *closing.borrow_and_update() {
                    break;
                }
                continue;
            }
        };
        let send = socket.send(Message::Text(text.into()));
        if !matches!(tokio::time::timeout(SEND_TIMEOUT, send).await, Ok(Ok(()))) {
            return;
        }
    }
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(None))).await;
}
