//! A TCP stream to `host:port` through an HTTP proxy: `CONNECT host:port`, a 200 required, then
//! the stream is the tunnel, ready for TLS and the WebSocket handshake as if it were direct.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

use super::{env_proxy::ProxyUrl, refusal_reason, ConnectError};
use crate::proxy::head::{read_head, status_line};

/// How long the body of a refusal is waited for (a proxy that keeps the connection open after
/// it would otherwise hold the error back).
const REFUSAL_BODY_WAIT: Duration = Duration::from_secs(1);

/// The most of a refusal's body that is read.
const REFUSAL_BODY_MAX: usize = 1024;

/// Opens a TCP stream to `proxy` and asks it for a tunnel to `target` (`host:port`, an IPv6
/// host in brackets).
pub async fn open(proxy: &ProxyUrl, target: &str) -> Result<TcpStream, ConnectError> {
    let shown = || format!("http://{} (from {})", proxy.addr, proxy.variable);
    let unreachable = |source| ConnectError::ProxyUnreachable {
        proxy: shown(),
        source,
    };
    let broken = |detail: String| ConnectError::ProxyBroken {
        proxy: shown(),
        target: target.to_owned(),
        detail,
    };
    let mut tcp = TcpStream::connect(&proxy.addr).await.map_err(unreachable)?;
    let _ = tcp.set_nodelay(true);
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(authorization) = &proxy.authorization {
        request.push_str(&format!("Proxy-Authorization: {authorization}\r\n"));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .map_err(unreachable)?;
    let head = read_head(&mut tcp)
        .await
        .map_err(|e| broken(e.to_string()))?;
    let Some((code, status)) = status_line(&head.first_line) else {
        let line: String = head.first_line.chars().take(100).collect();
        return Err(broken(format!("not an HTTP answer: {line:?}")));
    };
    if code != 200 {
        let body = refusal_body(&mut tcp, head.rest).await;
        return Err(ConnectError::ProxyRefused {
            proxy: shown(),
            target: target.to_owned(),
            status: status.to_owned(),
            reason: refusal_reason(Some(&body)),
        });
    }
    // The server speaks only after the client's first bytes (a TLS ClientHello, a WebSocket
    // upgrade): anything already here is not from it.
    if !head.rest.is_empty() {
        return Err(broken("bytes after its 200 answer".into()));
    }
    Ok(tcp)
}

/// What a refusal's body says, as far as it arrives promptly: the proxy usually closes after
/// it; one that does not gets [`REFUSAL_BODY_WAIT`].
async fn refusal_body(tcp: &mut TcpStream, mut body: Vec<u8>) -> Vec<u8> {
    let more = async {
        let mut chunk = [0u8; 512];
        while body.len() < REFUSAL_BODY_MAX {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(REFUSAL_BODY_WAIT, more).await;
    body.truncate(REFUSAL_BODY_MAX);
    body
}
