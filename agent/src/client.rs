//! The agent's only peer: HTTP calls and WebSocket upgrades to the configured server, over
//! rustls trusting the lab CA, each carrying the stock `User-Agent` and (once registered) the
//! signed identity headers.

use std::{path::Path, sync::Arc, time::Duration};

use axt_proto::identity::IdentityError;
use reqwest::StatusCode;
use rustls::pki_types::{pem::PemObject as _, CertificateDer};
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest as _, http::HeaderValue, protocol::WebSocketConfig},
    Connector, MaybeTlsStream, WebSocketStream,
};

use crate::{identity::Signer, state::ServerConfig};

/// A WebSocket to the server.
pub type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// The stock agent gives a WebSocket handshake this long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(45);
/// Any HTTP call, unless the caller sets its own.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// The most one read of a WebSocket takes, and what an idle one keeps. tungstenite's default,
/// 128 KiB zero-filled on the first read, was most of what an idle session cost the agent; a
/// keystroke or a kick needs far less, and a bulk frame (up to 60 KiB) is read in a handful of
/// system calls of this size — within a few percent of 128 KiB under jemalloc (`main.rs`),
/// which recycles each frame's buffer (README, Performance).
pub const WS_READ_BUFFER: usize = 8 * 1024;
/// HTTP calls in flight at once. Thousands of sessions ending together each report a result:
/// past this they wait their turn instead of each opening a connection (and a TLS handshake,
/// and a connection task on the gateway).
const MAX_CALLS: usize = 32;
/// Idle keep-alive connections kept, and for how long: under the gateway's header-read
/// timeout (10 s by default), so that the gateway never closes one about to be used.
const POOL_IDLE: usize = 4;
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a call to the server failed. Callers branch on [`ClientError::is_retryable`].
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TLS set-up (the CA file) is unusable.
    #[error("TLS set-up: {0}")]
    Tls(String),
    /// The request could not be signed.
    #[error("signing: {0}")]
    Sign(#[from] IdentityError),
    /// No answer: connection, TLS or timeout.
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// An answer with an HTTP status above 400 (the stock agent's error threshold).
    #[error("server answered HTTP {0}")]
    Status(StatusCode),
    /// An answer that is not the JSON expected.
    #[error("unreadable answer: {0}")]
    Body(#[from] serde_json::Error),
    /// A WebSocket upgrade that failed.
    #[error("WebSocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// A header value that HTTP cannot carry.
    #[error("invalid header value: {0}")]
    Header(#[from] tokio_tungstenite::tungstenite::http::header::InvalidHeaderValue),
    /// A frame that cannot be encoded (a channel id too long for its field).
    #[error("frame: {0}")]
    Frame(#[from] axt_proto::FrameError),
    /// A WebSocket handshake that did not finish in time.
    #[error("WebSocket handshake timed out")]
    HandshakeTimeout,
}

impl ClientError {
    /// Server trouble or no answer, worth asking again; not a 4xx refusal.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Http(_) | Self::HandshakeTimeout | Self::WebSocket(_) => true,
            Self::Status(status) => status.is_server_error(),
            Self::Tls(_) | Self::Sign(_) | Self::Body(_) | Self::Header(_) | Self::Frame(_) => {
                false
            }
        }
    }
}

/// A client of one server, cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    server: String,
    plain: bool,
    http: reqwest::Client,
    /// One permit per call in flight ([`MAX_CALLS`]).
    calls: tokio::sync::Semaphore,
    tls: Arc<rustls::ClientConfig>,
    signer: Option<Signer>,
    user_agent: String,
}

impl Client {
    /// A client of `config.server`; `signer` is `None` before registration.
    pub fn new(config: &ServerConfig, signer: Option<Signer>) -> Result<Self, ClientError> {
        let tls = tls_config(config.ca_cert.as_deref())?;
        let user_agent = crate::host::user_agent();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .user_agent(&user_agent)
            // The agent talks to its server and nothing else, not even a proxy from the
            // environment.
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .timeout(HTTP_TIMEOUT)
            .pool_max_idle_per_host(POOL_IDLE)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                server: config.server.clone(),
                plain: config.plain,
                http,
                calls: tokio::sync::Semaphore::new(MAX_CALLS),
                tls,
                signer,
                user_agent,
            }),
        })
    }

    /// The instance id requests are signed as, if registered.
    pub fn instance_id(&self) -> Option<&str> {
        self.inner.signer.as_ref().map(Signer::instance_id)
    }

    /// Signs an end-to-end key exchange's transcript with the identity key; `None` before
    /// registration, when there is no key.
    pub fn sign_transcript(&self, transcript: &[u8]) -> Option<Result<Vec<u8>, IdentityError>> {
        let signer = self.inner.signer.as_ref()?;
        Some(signer.sign_transcript(transcript))
    }

    /// `http(s)://<server><path>`; `path` includes its query.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.inner.plain { "http" } else { "https" };
        format!("{scheme}://{}{path}", self.inner.server)
    }

    /// A signed request.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        let mut request = self.inner.http.request(method, self.url(path));
        if let Some(signer) = &self.inner.signer {
            for (name, value) in signer.headers()? {
                request = request.header(name, value);
            }
        }
        Ok(request)
    }

    /// Sends `request`; an HTTP status above 400 is an error, as for the stock agent.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, ClientError> {
        // Never closed; were it, the call would go ahead unbounded.
        let _slot = self.inner.calls.acquire().await.ok();
        let response = request.send().await?;
        let status = response.status();
        if status.as_u16() > 400 {
            return Err(ClientError::Status(status));
        }
        Ok(response.bytes().await?.to_vec())
    }

    /// Sends `request` and reads a JSON answer.
    pub async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        Ok(serde_json::from_slice(&self.send(request).await?)?)
    }

    /// Opens `ws(s)://<server><path>` with the identity headers and `extra` ones.
    pub async fn websocket(
        &self,
        path: &str,
        extra: &[(&'static str, &str)],
    ) -> Result<Ws, ClientError> {
        let scheme = if self.inner.plain { "ws" } else { "wss" };
        let mut request =
            format!("{scheme}://{}{path}", self.inner.server).into_client_request()?;
        let headers = request.headers_mut();
        headers.insert("user-agent", HeaderValue::from_str(&self.inner.user_agent)?);
        if let Some(signer) = &self.inner.signer {
            for (name, value) in signer.headers()? {
                headers.insert(name, HeaderValue::from_str(&value)?);
            }
        }
        for (name, value) in extra {
            headers.insert(*name, HeaderValue::from_str(value)?);
        }
        let connector = (!self.inner.plain).then(|| Connector::Rustls(self.inner.tls.clone()));
        // Frames are written as they are sent (each is flushed anyway), so no write buffer
        // builds up; its bound is one largest message plus slack.
        let limits = WebSocketConfig::default()
            .read_buffer_size(WS_READ_BUFFER)
            .write_buffer_size(0)
            .max_write_buffer_size(axt_proto::MAX_WS_MESSAGE + WS_READ_BUFFER)
            .max_message_size(Some(axt_proto::MAX_WS_MESSAGE))
            .max_frame_size(Some(axt_proto::MAX_WS_MESSAGE));
        // Nagle off: terminal traffic is many small frames that must not wait for each other.
        let connect = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(limits),
            true,
            connector,
        );
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, connect).await {
            Ok(Ok((ws, _response))) => Ok(ws),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(ClientError::HandshakeTimeout),
        }
    }
}

/// A rustls configuration trusting the lab CA when one is given, the public web roots
/// otherwise. No ALPN: the stock agent's WebSocket dialers offer none, and a server must not
/// see anything the stock agent would not send.
fn tls_config(ca_cert: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_cert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| ClientError::Tls(format!("reading {}: {e}", path.display())))?;
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(ClientError::Tls(format!(
                    "{} holds no usable certificate",
                    path.display()
                )));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    // An explicit provider: the process-wide default is ambiguous when several are linked in.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A query string (`?a=1&b=2`) with its values form-encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    // `for_suffix`: the "?" is not a pair, so the first pair gets no "&".
    form_urlencoded::Serializer::for_suffix(String::from("?"), 1)
        .extend_pairs(pairs)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_encode_values_and_keep_safe_ids_verbatim() {
        assert_eq!(query(&[("channelId", "c-1")]), "?channelId=c-1");
        assert_eq!(query(&[("a", "x y"), ("b", "#")]), "?a=x+y&b=%23");
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_a_tls_error() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        assert!(matches!(tls_config(Some(&empty)), Err(ClientError::Tls(_))));
        assert!(matches!(
            tls_config(Some(&dir.path().join("none.pem"))),
            Err(ClientError::Tls(_))
        ));
        assert!(tls_config(None).is_ok());
    }
}
