//! Opening a session WebSocket: the URL checks, the `x-acs-session-token` header, the proxy of
//! `HTTPS_PROXY` when one applies ([`env_proxy`], [`tunnel`]), TLS with the lab CA, and a
//! clear error when the gateway (or the proxy) refuses.
//!
//! ali-instance-cli reports a refused upgrade only in its log file (`websocket: bad handshake`);
//! axt says on screen what the gateway answered, since that is what the user needs to fix it.

pub mod env_proxy;
mod tunnel;

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
/// The most one read of the WebSocket takes, and what an idle one keeps: `axt portforward`
/// holds one per forwarded connection, and tungstenite's default (128 KiB, zero-filled on the
/// first read) made each cost that much. An Output frame (up to 32 KiB) is one read of this
/// size; smaller reads cost a few percent of download throughput here, where the gateway and
/// the agent, which hold thousands of WebSockets, take 8 KiB (README, Performance).
pub const READ_BUFFER: usize = 32 * 1024;

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
    #[error(transparent)]
    BadProxy(#[from] env_proxy::BadProxy),
    #[error("cannot reach the proxy {proxy}")]
    ProxyUnreachable {
        proxy: String,
        source: std::io::Error,
    },
    #[error("the proxy {proxy} refused CONNECT {target}: HTTP {status}{}", colon(.reason))]
    ProxyRefused {
        proxy: String,
        target: String,
        /// Status code and reason phrase, e.g. `403 Forbidden`.
        status: String,
        /// The first words of its body, when readable.
        reason: Option<String>,
    },
    #[error("the proxy {proxy} broke CONNECT {target}: {detail}")]
    ProxyBroken {
        proxy: String,
        target: String,
        detail: String,
    },
}

fn colon(reason: &Option<String>) -> String {
    reason
        .as_ref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default()
}

/// Opens `url` (a WebSocketUrl of StartTerminalSession), trusting `tls` for `wss://`, through
/// the proxy `HTTPS_PROXY` (`HTTP_PROXY` for `ws://`) names unless `NO_PROXY` exempts the host.
pub async fn connect(url: &str, tls: Arc<ClientConfig>) -> Result<WsStream, ConnectError> {
    connect_with(url, tls, &env_proxy::ProxyEnv::from_env()).await
}

/// [`connect`] with the proxy variables given rather than read from the environment.
pub async fn connect_with(
    url: &str,
    tls: Arc<ClientConfig>,
    proxies: &env_proxy::ProxyEnv,
) -> Result<WsStream, ConnectError> {
    let bad_url = || ConnectError::BadUrl(url.to_owned());
    let parsed = reqwest::Url::parse(url).map_err(|_| bad_url())?;
    let (Some(host), Some(port)) = (parsed.host(), parsed.port_or_known_default()) else {
        return Err(bad_url());
    };
    if !matches!(parsed.scheme(), "ws" | "wss") {
        return Err(bad_url());
    }
    // `host:port` as a CONNECT target and in messages (an IPv6 host keeps its brackets).
    let authority = format!("{host}:{port}");
    let mut request = url.into_client_request().map_err(|_| bad_url())?;
    // The stock client sends this header empty and relies on the token in the query; axt fills
    // it in, which a gateway may use and the stock gateway ignores.
    let token = session_token(&parsed);
    request.headers_mut().insert(
        "x-acs-session-token",
        HeaderValue::from_str(&token).map_err(|_| bad_url())?,
    );
    let proxy = proxies
        .proxy_for(parsed.scheme() == "wss", &host, port)
        .transpose()?;
    let via = proxy.as_ref().map(|p| p.addr.as_str());
    tracing::debug!(host = %authority, proxy = ?via, "opening the session WebSocket");
    // Frames are written as they are sent (each is flushed anyway), so no write buffer builds
    // up; its bound is one largest message plus slack.
    let limits = tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(axt_proto::MAX_WS_MESSAGE + READ_BUFFER)
        .max_message_size(Some(axt_proto::MAX_WS_MESSAGE))
        .max_frame_size(Some(axt_proto::MAX_WS_MESSAGE));
    let failed = |source| ConnectError::Failed {
        host: authority.clone(),
        source,
    };
    let connecting = async {
        let tcp = match &proxy {
            Some(proxy) => tunnel::open(proxy, &authority).await?,
            None => {
                let ip_or_name = match &host {
                    url::Host::Domain(name) => name.to_string(),
                    url::Host::Ipv4(ip) => ip.to_string(),
                    url::Host::Ipv6(ip) => ip.to_string(),
                };
                TcpStream::connect((ip_or_name.as_str(), port))
                    .await
                    .map_err(|e| failed(tungstenite::Error::Io(e)))?
            }
        };
        // Nagle off: a keystroke is one small frame and should leave at once.
        let _ = tcp.set_nodelay(true);
        // TLS (for wss://) with the URL's host as the server name, whether the stream is
        // direct or a proxy's tunnel.
        tokio_tungstenite::client_async_tls_with_config(
            request,
            tcp,
            Some(limits),
            Some(Connector::Rustls(tls)),
        )
        .await
        .map_err(|error| match error {
            tungstenite::Error::Http(response) => ConnectError::Refused {
                status: response.status().to_string(),
                reason: refusal_reason(response.body().as_deref()),
            },
            source => failed(source),
        })
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting).await {
        Err(_) => Err(ConnectError::Timeout { host: authority }),
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(error)) => Err(error),
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
