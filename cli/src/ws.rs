//! Opening a session WebSocket: the URL checks, the `x-acs-session-token` header, TLS with the
//! lab CA, and a clear error when the gateway refuses the upgrade.
//!
//! ali-instance-cli reports a refused upgrade only in its log file (`websocket: bad handshake`);
//! axt says on screen what the gateway answered, since that is what the user needs to fix it.

use std::{sync::Arc, time::Duration};

use rustls::ClientConfig;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{self, client::IntoClientRequest as _, http::HeaderValue},
    Connector, MaybeTlsStream, WebSocketStream,
};

/// A connected session WebSocket.
pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The stock client waits forever for a handshake; a lab gateway that has not answered after
/// this long is not going to.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why no WebSocket could be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0:?} is not a ws:// or wss:// URL")]
    BadUrl(String),
    #[error("the gateway refused the session: HTTP {status}{}", colon(.reason))]
    Refused {
        /// Status code and reason phrase, e.g. `403 Forbidden`.
        status: String,
        /// What the body said, when it said something readable.
        reason: Option<String>,
    },
    #[error("no answer to the WebSocket handshake from {host} within {}s", HANDSHAKE_TIMEOUT.as_secs())]
    Timeout { host: String },
    #[error("cannot open a WebSocket to {host}")]
    Failed {
        host: String,
        source: tungstenite::Error,
    },
}

fn colon(reason: &Option<String>) -> String {
    reason
        .as_ref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default()
}

/// Opens `url` (a WebSocketUrl of StartTerminalSession), trusting `tls` for `wss://`.
pub async fn connect(url: &str, tls: Arc<ClientConfig>) -> Result<WsStream, ConnectError> {
    let bad_url = || ConnectError::BadUrl(url.to_owned());
    let parsed = reqwest::Url::parse(url).map_err(|_| bad_url())?;
    if !matches!(parsed.scheme(), "ws" | "wss") || parsed.host_str().is_none() {
        return Err(bad_url());
    }
    let host = match parsed.port_or_known_default() {
        Some(port) => format!("{}:{port}", parsed.host_str().unwrap_or_default()),
        None => parsed.host_str().unwrap_or_default().to_owned(),
    };
    let mut request = url.into_client_request().map_err(|_| bad_url())?;
    // The stock client sends this header empty and relies on the token in the query; axt fills
    // it in, which a gateway may use and the stock gateway ignores.
    let token = session_token(&parsed);
    request.headers_mut().insert(
        "x-acs-session-token",
        HeaderValue::from_str(&token).map_err(|_| bad_url())?,
    );
    tracing::debug!(%host, "opening the session WebSocket");
    // Nagle off: a keystroke is one small frame and should leave at once.
    let limits = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(axt_proto::MAX_WS_MESSAGE))
        .max_frame_size(Some(axt_proto::MAX_WS_MESSAGE));
    let connecting = tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(limits),
        true,
        Some(Connector::Rustls(tls)),
    );
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting).await {
        Err(_) => Err(ConnectError::Timeout { host }),
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(tungstenite::Error::Http(response))) => Err(ConnectError::Refused {
            status: response.status().to_string(),
            reason: refusal_reason(response.body().as_deref()),
        }),
        Ok(Err(source)) => Err(ConnectError::Failed { host, source }),
    }
}

/// The `token` query parameter of a WebSocketUrl (empty when there is none).
pub fn session_token(url: &reqwest::Url) -> String {
    url.query_pairs()
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// What a refusal body says: `Code: Message` of a JSON error, or the text itself (shortened).
fn refusal_reason(body: Option<&[u8]>) -> Option<String> {
    let text = std::str::from_utf8(body?).ok()?.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(json) = serde_json::from_str::<Value>(text) {
        let field = |names: [&str; 2]| {
            names
                .iter()
                .find_map(|n| json[*n].as_str())
                .filter(|s| !s.is_empty())
        };
        match (field(["Code", "code"]), field(["Message", "message"])) {
            (Some(code), Some(message)) => return Some(format!("{code}: {message}")),
            (Some(one), None) | (None, Some(one)) => return Some(one.to_owned()),
            (None, None) => {}
        }
    }
    Some(text.chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_the_query() {
        let url = reqwest::Url::parse("wss://gw:8443/session?sessionId=s-1&token=a%2Bb").unwrap();
        assert_eq!(session_token(&url), "a+b");
        let url = reqwest::Url::parse("ws://gw/session?sessionId=s-1").unwrap();
        assert_eq!(session_token(&url), "");
    }

    #[test]
    fn refusal_bodies_are_shown_readably() {
        let json = br#"{"Code":"InvalidToken","Message":"the token has expired"}"#;
        assert_eq!(
            refusal_reason(Some(json)).as_deref(),
            Some("InvalidToken: the token has expired")
        );
        assert_eq!(
            refusal_reason(Some(br#"{"message":"no such session"}"#)).as_deref(),
            Some("no such session")
        );
        assert_eq!(
            refusal_reason(Some(b"  forbidden\n")).as_deref(),
            Some("forbidden")
        );
        assert_eq!(refusal_reason(Some(b"")), None);
        assert_eq!(refusal_reason(Some(&[0xff, 0xfe])), None);
        assert_eq!(refusal_reason(None), None);
    }

    #[tokio::test]
    async fn urls_that_are_not_websockets_are_refused_before_any_traffic() {
        let tls = crate::tls::client_config(None).unwrap();
        for url in ["http://127.0.0.1:1/session", "not a url", "ws:///nohost"] {
            let err = connect(url, tls.clone()).await.unwrap_err();
            assert!(matches!(err, ConnectError::BadUrl(_)), "{url}: {err}");
        }
    }
}
