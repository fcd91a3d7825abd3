//! The browser's WebSockets, relayed to the gateway: `/ws/session/<id>` to the session's
//! WebSocketUrl, `/ws/events/<id>` to its event stream (`/session/events`, same query). Each
//! browser WebSocket gets a gateway WebSocket of its own, opened with the CLI's connector (the
//! lab CA, HTTPS_PROXY), so the browser needs neither and never sees the token. Messages go
//! through unchanged ([`pump`]) — the browser speaks the client framing itself, resumes
//! included: `?channelId=<c>` on `/ws/session/<id>` makes the new gateway WebSocket a 1.02
//! reconnect to that channel.

mod pump;

use std::{collections::HashMap, sync::Arc};

use axum::{
    extract::{
        ws::{self, WebSocket, WebSocketUpgrade},
        Path, Query, State,
    },
    http::{HeaderMap, StatusCode},
    response::{IntoResponse as _, Response},
};
use futures_util::StreamExt as _;
use secrecy::ExposeSecret as _;
use tracing::Instrument as _;

use super::{guard, reply::Failure, Console};
use crate::ws::{connect_with, ConnectError};
pub use pump::{CLOSE_ENDED, DROP_CODE};

/// Close code for the browser when the gateway refused the WebSocket (the session was ended,
/// its URL expired, the channel is gone): reconnecting will not help. The reason is the
/// refusal's Code (`SessionEnded`, `UrlExpired`, `ChannelNotFound`, …).
pub const CLOSE_REFUSED: u16 = 4403;
/// Close code for the browser when the gateway could not be reached at all (worth a retry).
pub const CLOSE_UNREACHABLE: u16 = 1011;

/// Which gateway WebSocket a browser WebSocket is relayed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The session itself: binary frames both ways.
    Session,
    /// Its event stream: text from the gateway; the browser only listens.
    Events,
}

/// `GET /ws/session/<id>[?channelId=<c>]`.
pub async fn session(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, Failure> {
    open(&console, &headers, id, Stream::Session, &query, upgrade)
}

/// `GET /ws/events/<id>[?payloads=1]`.
pub async fn events(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, Failure> {
    open(&console, &headers, id, Stream::Events, &query, upgrade)
}

fn open(
    console: &Console,
    headers: &HeaderMap,
    id: String,
    stream: Stream,
    query: &HashMap<String, String>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, Failure> {
    let signed_in = guard::reader(console, headers)?;
    // Only a session this cookie session started: another's id is as good as unknown.
    let Some(url) = signed_in.session_url(&id) else {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "Console.SessionNotFound",
            format!("no session {id} was started from this sign-in"),
        ));
    };
    let url = gateway_url(url.expose_secret(), stream, query)?;
    let Ok(permit) = console.relays.clone().try_acquire_owned() else {
        return Err(Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Console.Busy",
            "too many WebSockets are open on this console",
        ));
    };
    let (tls, proxies) = (console.tls.clone(), console.proxies.clone());
    let span = tracing::debug_span!("console_ws", session = %id, stream = ?stream);
    let response = upgrade
        .max_message_size(axt_proto::MAX_WS_MESSAGE)
        .max_frame_size(axt_proto::MAX_WS_MESSAGE)
        .on_upgrade(move |browser| {
            async move {
                let ending = match connect_with(&url, tls, &proxies).await {
                    Ok(gateway) => pump::relay(browser, gateway, stream, &signed_in).await,
                    Err(err) => refuse(browser, err).await,
                };
                tracing::debug!(%ending, "relay ended");
                drop(permit);
            }
            .instrument(span)
        });
    Ok(response.into_response())
}

/// The gateway URL a browser WebSocket is relayed to: the session's WebSocketUrl with the
/// channel of a reconnect, or its event stream (`/session/events`, payloads when asked).
fn gateway_url(
    session_url: &str,
    stream: Stream,
    query: &HashMap<String, String>,
) -> Result<String, Failure> {
    let mut url = url::Url::parse(session_url).map_err(|_| {
        Failure::new(
            StatusCode::BAD_GATEWAY,
            "Console.BadAnswer",
            "the session's WebSocketUrl is not a URL",
        )
    })?;
    match stream {
        Stream::Session => {
            if let Some(channel) = query.get("channelId") {
                let fits = !channel.is_empty()
                    && channel.len() <= 255
                    && channel.bytes().all(|b| b.is_ascii_graphic());
                if !fits {
                    return Err(Failure::invalid("channelId is not a channel id"));
                }
                url.query_pairs_mut().append_pair("channelId", channel);
            }
        }
        Stream::Events => {
            url.set_path("/session/events");
            if query.get("payloads").is_some_and(|v| v == "1") {
                url.query_pairs_mut().append_pair("payloads", "1");
            }
        }
    }
    Ok(url.into())
}

/// Tells the browser why there is no gateway WebSocket, in its close frame: a refusal's Code,
/// or what went wrong.
async fn refuse(mut browser: WebSocket, error: ConnectError) -> pump::Ending {
    let (code, reason) = match &error {
        ConnectError::Refused { status, reason } => {
            // `Code: Message` of the gateway's error body; its Code is what the page shows.
            let code = reason
                .as_deref()
                .and_then(|r| r.split(": ").next())
                .filter(|c| !c.is_empty() && !c.contains(char::is_whitespace));
            let text = code.map_or_else(|| format!("HTTP {status}"), str::to_owned);
            (CLOSE_REFUSED, text)
        }
        _ => (
            CLOSE_UNREACHABLE,
            "the gateway could not be reached".to_owned(),
        ),
    };
    let why = crate::error_line(&anyhow::Error::new(error));
    let frame = ws::CloseFrame {
        code,
        // A close reason is at most 123 bytes.
        reason: truncate(reason, 123).into(),
    };
    let _ = browser.send(ws::Message::Close(Some(frame))).await;
    let _ = tokio::time::timeout(pump::CLOSE_GRACE, async {
        while browser.next().await.is_some() {}
    })
    .await;
    pump::Ending::NoGateway(why)
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn truncate(mut text: String, max: usize) -> String {
    while text.len() > max {
        text.pop();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn gateway_urls_follow_the_session_url() {
        let url = "wss://gw.test:8443/session?sessionId=s-1&token=a%2Bb";
        let at = |stream, pairs: &[(&str, &str)]| gateway_url(url, stream, &query(pairs)).ok();
        assert_eq!(at(Stream::Session, &[]).as_deref(), Some(url));
        assert_eq!(
            at(Stream::Session, &[("channelId", "c-1")]).as_deref(),
            Some("wss://gw.test:8443/session?sessionId=s-1&token=a%2Bb&channelId=c-1")
        );
        assert!(at(Stream::Session, &[("channelId", "")]).is_none());
        assert!(at(Stream::Session, &[("channelId", "a b")]).is_none());
        assert_eq!(
            at(Stream::Events, &[]).as_deref(),
            Some("wss://gw.test:8443/session/events?sessionId=s-1&token=a%2Bb")
        );
        assert_eq!(
            at(Stream::Events, &[("payloads", "1")]).as_deref(),
            Some("wss://gw.test:8443/session/events?sessionId=s-1&token=a%2Bb&payloads=1")
        );
        assert!(gateway_url("not a url", Stream::Session, &query(&[])).is_err());
    }

    #[test]
    fn close_reasons_fit() {
        assert_eq!(truncate("é".repeat(100), 123).len(), 122);
        assert_eq!(truncate("ok".into(), 123), "ok");
    }
}
