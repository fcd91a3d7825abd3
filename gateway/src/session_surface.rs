//! `/session?sessionId=&token=`: a client's WebSocket. The token (from the query, or the
//! `x-acs-session-token` header when the query has none) and the URL's validity are checked
//! through the control plane — which also allocates the channel — before the upgrade, so no
//! agent is ever kicked for a refused client.

use std::{collections::HashMap, sync::Arc};

use axt_proto::{
    internal::{OpenChannel, RecordChannel, ResumeChannel, VerifyToken},
    status::{ClosedReason, ConnectionStatus},
};
use axum::{
    extract::{ConnectInfo, Query, State, WebSocketUpgrade},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use crate::{
    control_plane::CpError,
    observe::{Event, Kind},
    relay, Shared,
};

/// The largest client message accepted: clients send at most 60 KiB of input per frame; a
/// larger message closes that connection instead of being buffered.
pub const MAX_MESSAGE: usize = axt_proto::MAX_WS_MESSAGE;

pub async fn session(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let ws = crate::ws::sized(ws, MAX_MESSAGE);
    let (session_id, token) = credentials(&query, &headers);
    if session_id.is_empty() || token.is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            "sessionId and token are required",
        );
    }
    // A 1.02 client coming back appends the channel it had.
    if let Some(channel_id) = query.get("channelId").filter(|c| !c.is_empty()) {
        return reconnect(shared, ws, &session_id, &token, channel_id).await;
    }
    let request = OpenChannel {
        session_id: session_id.clone(),
        token,
        client_ip: peer.ip().to_string(),
        gateway_id: shared.config.gateway_id.clone(),
        gateway_boot: shared.boot.clone(),
        instance_id: None,
    };
    let opened = match shared.cp.call(&request).await {
        Ok(opened) => opened,
        Err(e) => return refusal(&session_id, e),
    };
    let (session_id, channel_id) = (&opened.session.session_id, &opened.channel_id);
    shared
        .observe
        .token_checked(session_id, None, "new connection");
    shared
        .observe
        .channel_opened(session_id, channel_id, "allocated");
    let events = shared.channels.register(
        &opened.channel_id,
        &opened.session.session_id,
        &opened.instance_id,
    );
    let on_failure = upgrade_failed(&shared, &opened.session.session_id, &opened.channel_id);
    ws.on_failed_upgrade(on_failure)
        .on_upgrade(move |socket| relay::run(shared, opened, socket, events, relay::Start::Kick))
}

/// What to do when a client goes away between its channel's allocation and the WebSocket: free
/// the channel at once, so that it counts against no limit.
fn upgrade_failed(
    shared: &Arc<Shared>,
    session_id: &str,
    channel_id: &str,
) -> impl FnOnce(axum::Error) + Send {
    let (shared, session_id) = (shared.clone(), session_id.to_owned());
    let channel_id = channel_id.to_owned();
    move |error| {
        tracing::info!(%channel_id, %error, "the client left before its WebSocket opened");
        shared.channels.remove(&channel_id);
        let closed = Event::new(Kind::Closed, Some(&channel_id));
        let closed = closed.with_detail(ClosedReason::ClientClosed.as_str());
        shared.observe.publish_existing(&session_id, closed);
        tokio::spawn(async move {
            let record = RecordChannel {
                closed_reason: Some(ClosedReason::ClientClosed),
                failed_detail: Some("the WebSocket upgrade failed".into()),
                ..RecordChannel::status(&channel_id, ConnectionStatus::Failed)
            };
            if let Err(error) = shared.cp.call(&record).await {
                tracing::warn!(%error, "recording a failed upgrade");
            }
        });
    }
}

/// A reconnect: to the live relay of the channel, or — when this gateway does not know it, as
/// after a restart — by taking the channel over from the control plane, without a new kick.
async fn reconnect(
    shared: Arc<Shared>,
    ws: WebSocketUpgrade,
    session_id: &str,
    token: &str,
    channel_id: &str,
) -> Response {
    if let Some(events) = shared.channels.client_sender(channel_id, session_id) {
        let request = VerifyToken {
            session_id: session_id.to_owned(),
            token: token.to_owned(),
        };
        if let Err(e) = shared.cp.call(&request).await {
            return refusal(session_id, e);
        }
        shared
            .observe
            .token_checked(session_id, Some(channel_id), "reconnect");
        return ws.on_upgrade(move |socket| async move {
            let _ = events
                .send(relay::RelayEvent::ClientSocket(Box::new(socket.into())))
                .await;
        });
    }
    let request = ResumeChannel {
        channel_id: channel_id.to_owned(),
        session_id: session_id.to_owned(),
        token: token.to_owned(),
        gateway_id: shared.config.gateway_id.clone(),
        gateway_boot: shared.boot.clone(),
    };
    let opened = match shared.cp.call(&request).await {
        Ok(opened) => opened,
        Err(e) => return refusal(session_id, e),
    };
    tracing::info!(%channel_id, "taking over a channel after a restart");
    let session_id = &opened.session.session_id;
    shared
        .observe
        .token_checked(session_id, Some(channel_id), "reconnect");
    shared
        .observe
        .channel_opened(session_id, channel_id, "taken over");
    let events = shared.channels.register(
        &opened.channel_id,
        &opened.session.session_id,
        &opened.instance_id,
    );
    ws.on_upgrade(move |socket| relay::run(shared, opened, socket, events, relay::Start::Resume))
}

/// The session id and token of a client's upgrade: from the query, the token from the
/// `x-acs-session-token` header when the query has none.
pub(crate) fn credentials(
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> (String, String) {
    // ali-instance-cli rewrites the first `sessionid` to `sessionId`; accept either.
    let session_id = query
        .get("sessionId")
        .or_else(|| query.get("sessionid"))
        .cloned()
        .unwrap_or_default();
    let header_token = headers
        .get("x-acs-session-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = query
        .get("token")
        .map(String::as_str)
        .filter(|t| !t.is_empty())
        .unwrap_or(header_token)
        .to_owned();
    (session_id, token)
}

/// A control plane refusal as the HTTP answer to the upgrade.
pub(crate) fn refusal(session_id: &str, error: CpError) -> Response {
    match error {
        CpError::Refused(refusal) => {
            tracing::info!(%session_id, code = ?refusal.code, "client refused");
            let status =
                StatusCode::from_u16(refusal.code.status()).unwrap_or(StatusCode::FORBIDDEN);
            (status, Json(refusal)).into_response()
        }
        CpError::Unavailable(why) => {
            tracing::warn!(%why, "control plane unavailable for a client");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "the control plane is unavailable",
            )
        }
    }
}

pub(crate) fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}
