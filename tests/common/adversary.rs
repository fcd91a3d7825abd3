//! Tools of the adversarial suite (`tests/adversarial.rs`): a counter of the panics of the
//! services running in this process, a seeded source of garbage, raw connections (plain, or TLS
//! trusting the lab CA) that send bytes no well-behaved client would and read what comes back
//! with a deadline, raw WebSocket frames, and agent identities signed with any key.
//!
//! The raw connections block: run them in `tokio::task::spawn_blocking`, never on a runtime
//! worker, which the services of the stack need.

use std::{
    io::{ErrorKind, Read, Write},
    net::{Shutdown, SocketAddr, TcpStream},
    path::Path,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use axt_proto::identity::{self, AgentKey};
use rustls::pki_types::{pem::PemObject as _, CertificateDer, ServerName};

/// Counts the panics of threads whose name starts with a prefix (the runtime the stack runs
/// on), chained to the hook that was there before, so a panic still prints as usual.
pub struct Panics {
    count: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Panics {
    /// Installs the counter for threads named `prefix…`.
    pub fn install(prefix: &'static str) -> Self {
        let (count, seen) = (Arc::new(AtomicUsize::new(0)), Arc::default());
        let (c, s): (_, Arc<Mutex<Vec<String>>>) = (count.clone(), Arc::clone(&seen));
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("");
            if name.starts_with(prefix) {
                c.fetch_add(1, Ordering::SeqCst);
                s.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(format!("{name}: {info}"));
            }
            previous(info);
        }));
        Self { count, seen }
    }

    /// How many panics were counted.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// What they said.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A small seeded generator (SplitMix64): the same seed gives the same garbage.
pub struct Rng(u64);

impl Rng {
    /// `AXT_ADVERSARY_SEED` when set (to replay a failure), else one from the clock.
    pub fn seed() -> u64 {
        std::env::var("AXT_ADVERSARY_SEED")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            })
    }

    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }

    /// `n` random printable ASCII characters.
    pub fn text(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| (b' ' + self.below(95) as u8) as char)
            .collect()
    }
}

/// Prints the seed if the test fails (the thread unwinds while it is alive), so that
/// `AXT_ADVERSARY_SEED=<seed>` replays the same garbage; silent when the test passes.
pub struct SeedReport(pub u64);

impl Drop for SeedReport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "adversarial suite failed; replay with AXT_ADVERSARY_SEED={}",
                self.0
            );
        }
    }
}

/// Standard base64 with padding (the alphabet of the identity signature).
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A rustls client configuration trusting only the lab CA.
pub fn tls_config(ca: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Where raw connections go: the control plane (plain) or the gateway (TLS).
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Target {
    /// A new connection, its TLS handshake done. Blocking.
    pub fn connect(&self) -> Conn {
        let tcp = TcpStream::connect(self.addr).unwrap();
        tcp.set_nodelay(true).unwrap();
        let io = match &self.tls {
            None => Io::Plain(tcp),
            Some(config) => {
                let name = ServerName::from(self.addr.ip());
                let mut tls = rustls::ClientConnection::new(config.clone(), name).unwrap();
                let mut tcp = tcp;
                tcp.set_read_timeout(Some(LIMIT)).unwrap();
                while tls.is_handshaking() {
                    tls.complete_io(&mut tcp).unwrap();
                }
                Io::Tls(Box::new(rustls::StreamOwned::new(tls, tcp)))
            }
        };
        Conn {
            io,
            pending: Vec::new(),
        }
    }

    /// A plain TCP connection even to the TLS port: for bytes that are not TLS at all.
    pub fn connect_tcp(&self) -> Conn {
        let tcp = TcpStream::connect(self.addr).unwrap();
        tcp.set_nodelay(true).unwrap();
        Conn {
            io: Io::Plain(tcp),
            pending: Vec::new(),
        }
    }

    /// The `Host` header for requests to it.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

/// The longest any single raw exchange may take before it counts as a hang.
pub const LIMIT: Duration = Duration::from_secs(10);

enum Io {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

/// One raw connection.
pub struct Conn {
    io: Io,
    /// Bytes read past the last answer's head (a WebSocket's first frames).
    pending: Vec<u8>,
}

/// What came back for a raw request.
#[derive(Debug)]
pub enum Outcome {
    /// An HTTP answer.
    Answered(Answer),
    /// The connection ended (or was reset) before a whole answer head.
    Closed,
    /// Nothing within the limit.
    Hung,
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

impl Outcome {
    /// The status of an answer, 0 when the connection closed; fails on a hang.
    pub fn status(&self, what: &str) -> u16 {
        match self {
            Self::Answered(a) => a.status,
            Self::Closed => 0,
            Self::Hung => panic!("{what}: no answer and no close within {LIMIT:?}"),
        }
    }
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match &self.io {
            Io::Plain(tcp) => tcp,
            Io::Tls(tls) => &tls.sock,
        }
    }

    /// Sends `bytes`; `false` when the peer is gone (it may have answered and closed).
    pub fn send(&mut self, bytes: &[u8]) -> bool {
        let sent = match &mut self.io {
            Io::Plain(tcp) => tcp.write_all(bytes).and_then(|()| tcp.flush()),
            Io::Tls(tls) => tls.write_all(bytes).and_then(|()| tls.flush()),
        };
        sent.is_ok()
    }

    /// Ends the sending side (a TLS close-notify first), keeping the reading side.
    pub fn finish_sending(&mut self) {
        if let Io::Tls(tls) = &mut self.io {
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
        let _ = self.tcp().shutdown(Shutdown::Write);
    }

    /// Reads some bytes before `deadline`: `Ok(0)` at the end, `Err` on a reset or time out.
    fn read_some(&mut self, buf: &mut [u8], deadline: Instant) -> std::io::Result<usize> {
        if !self.pending.is_empty() {
            let n = buf.len().min(self.pending.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            return Ok(n);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        self.tcp().set_read_timeout(Some(left))?;
        let read = match &mut self.io {
            Io::Plain(tcp) => tcp.read(buf),
            Io::Tls(tls) => tls.read(buf),
        };
        match read {
            // A peer that closes without a close-notify is just a close here.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(0),
            other => other,
        }
    }

    fn timed_out(e: &std::io::Error) -> bool {
        matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
    }

    /// Reads one HTTP answer within [`LIMIT`].
    pub fn answer(&mut self) -> Outcome {
        let deadline = Instant::now() + LIMIT;
        let mut got = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        let head_end = loop {
            if let Some(i) = find(&got, b"\r\n\r\n") {
                break i + 4;
            }
            match self.read_some(&mut buf, deadline) {
                Ok(0) => return Outcome::Closed,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if Self::timed_out(&e) => return Outcome::Hung,
                Err(_) => return Outcome::Closed,
            }
        };
        let head = String::from_utf8_lossy(&got[..head_end]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut body = got.split_off(head_end);
        let header = |name: &str| {
            head.lines().find_map(|line| {
                let (n, v) = line.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_ascii_lowercase())
            })
        };
        if status == 101 {
            self.pending = body;
            return Outcome::Answered(Answer {
                status,
                head,
                body: Vec::new(),
            });
        }
        let length: Option<usize> = header("content-length").and_then(|v| v.parse().ok());
        let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
        loop {
            let complete = match length {
                Some(n) => body.len() >= n,
                None if chunked => find(&body, b"0\r\n\r\n").is_some(),
                None => false,
            };
            if complete {
                break;
            }
            match self.read_some(&mut buf, deadline) {
                Ok(n) if n > 0 => body.extend_from_slice(&buf[..n]),
                Err(e) if Self::timed_out(&e) => return Outcome::Hung,
                _ => break,
            }
        }
        if let Some(n) = length {
            self.pending = body.split_off(n.min(body.len()));
        }
        if chunked {
            body = dechunk(&body);
        }
        Outcome::Answered(Answer { status, head, body })
    }

    /// Reads and drops whatever comes until the peer closes: `true` if it did within `limit`.
    pub fn closed_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.read_some(&mut buf, deadline) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if Self::timed_out(&e) => return false,
                Err(_) => return true,
            }
        }
    }

    /// Sends a WebSocket upgrade for `target` (path and query) with `headers`, and reads the
    /// answer.
    pub fn ws_upgrade(
        &mut self,
        host: &str,
        target: &str,
        headers: &[(String, String)],
    ) -> Outcome {
        let mut req = format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        );
        for (name, value) in headers {
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        req.push_str("\r\n");
        if !self.send(req.as_bytes()) {
            return Outcome::Closed;
        }
        self.answer()
    }

    /// After an upgrade: reads frames until the server closes (a close frame or the end of the
    /// connection), for at most `limit`. Returns the close code, `Some(None)` for an end without
    /// a close frame, `None` when the connection was still open at the limit.
    pub fn ws_end(&mut self, limit: Duration) -> Option<Option<u16>> {
        let deadline = Instant::now() + limit;
        let mut got = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            while let Some((opcode, payload, used)) = ws_parse(&got) {
                if opcode == 8 {
                    let code =
                        (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                    return Some(code);
                }
                got.drain(..used);
            }
            match self.read_some(&mut buf, deadline) {
                Ok(0) => return Some(None),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if Self::timed_out(&e) => return None,
                Err(_) => return Some(None),
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = find(body, b"\r\n") {
        let size = std::str::from_utf8(&body[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || body.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&body[eol + 2..eol + 2 + size]);
        body = &body[(eol + 4 + size).min(body.len())..];
    }
    out
}

/// A server WebSocket frame at the start of `bytes`: opcode, payload, bytes used.
fn ws_parse(bytes: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let (b0, b1) = (*bytes.first()?, *bytes.get(1)?);
    let (len, at) = match b1 & 0x7f {
        126 => (
            u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?]) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let at: usize = at + if b1 & 0x80 != 0 { 4 } else { 0 };
    let payload = bytes.get(at..at.checked_add(len)?)?.to_vec();
    Some((b0 & 0x0f, payload, at + len))
}

/// A client WebSocket frame: `head` is the first byte (FIN, RSV and opcode), `length` the
/// length to announce (normally the payload's), masked with `mask` when given.
pub fn ws_frame(head: u8, payload: &[u8], length: u64, mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![head];
    let bit = if mask.is_some() { 0x80 } else { 0 };
    if length < 126 {
        out.push(bit | length as u8);
    } else if length <= u64::from(u16::MAX) {
        out.push(bit | 126);
        out.extend_from_slice(&(length as u16).to_be_bytes());
    } else {
        out.push(bit | 127);
        out.extend_from_slice(&length.to_be_bytes());
    }
    match mask {
        Some(m) => {
            out.extend_from_slice(&m);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// An agent identity that signs with `key`: the instance's own (a real agent) or any other (a
/// forgery).
pub struct Signer {
    pub instance_id: String,
    pub machine_id: String,
    pub key: Arc<AgentKey>,
}

impl Signer {
    /// Headers for one request, now, with a fresh request id.
    pub fn headers(&self) -> Vec<(String, String)> {
        let now = axt_proto::now_ms().to_string();
        self.headers_at(&now, &uuid::Uuid::new_v4().to_string())
    }

    /// Headers signed for this timestamp text and request id.
    pub fn headers_at(&self, timestamp_ms: &str, request_id: &str) -> Vec<(String, String)> {
        let id = self
            .key
            .sign(
                &self.instance_id,
                &self.machine_id,
                timestamp_ms,
                request_id,
            )
            .unwrap();
        identity_headers(
            &id.instance_id,
            &id.timestamp_ms,
            &id.request_id,
            &id.signature,
        )
    }
}

/// The four identity headers, as given.
pub fn identity_headers(
    instance_id: &str,
    timestamp_ms: &str,
    request_id: &str,
    signature: &str,
) -> Vec<(String, String)> {
    vec![
        (identity::INSTANCE_ID.into(), instance_id.into()),
        (identity::TIMESTAMP.into(), timestamp_ms.into()),
        (identity::REQUEST_ID.into(), request_id.into()),
        (identity::SIGNATURE.into(), signature.into()),
    ]
}

/// A WebSocket to a gateway.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the WebSocket `url` with extra `headers`, trusting the lab CA `ca`; a refused
/// upgrade is its HTTP status and body.
pub async fn ws_connect(
    url: &str,
    ca: &Path,
    headers: &[(String, String)],
) -> Result<Ws, (u16, String)> {
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest as _, http, Error};
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_str(value).unwrap(),
        );
    }
    let connect = tokio_tungstenite::connect_async_tls_with_config(
        request,
        None,
        false,
        Some(crate::client::connector(ca)),
    );
    match tokio::time::timeout(LIMIT, connect).await {
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(Error::Http(resp))) => {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err((resp.status().as_u16(), body))
        }
        Ok(Err(e)) => panic!("opening {url}: {e}"),
        Err(_) => panic!("opening {url}: no answer within {LIMIT:?}"),
    }
}

/// Reads `socket` until it ends, for at most `limit`: the close code (`Some(None)` for an end
/// without a close frame), or `None` if it was still open at the limit. Messages before the
/// end are dropped.
pub async fn ws_end(socket: &mut Ws, limit: Duration) -> Option<Option<u16>> {
    use futures_util::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message;
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(Message::Close(frame)))) => return Some(frame.map(|f| f.code.into())),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => return Some(None),
        }
    }
}
