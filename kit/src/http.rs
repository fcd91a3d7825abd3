//! The HTTP server of the control plane and the gateway: an axum router served by hyper over
//! HTTP/1.1 (plain, or TLS when given a certificate), with what `axum::serve` leaves unbounded
//! bounded. A connection is *pending* from its accept until its first request head is read —
//! through the TLS handshake — and pending connections are capped in all and per source address;
//! the handshake and the head each get the header-read timeout, which also closes a keep-alive
//! connection that sits idle. A slow or silent client holds a file descriptor for at
//! most the timeout, and a flood of them from one address cannot crowd out everyone else.

use std::{
    collections::HashMap,
    future::Future,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{body::Body, extract::ConnectInfo, response::IntoResponse as _, Router};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpListener,
};
use tower::ServiceExt as _;

/// What the server bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest a client may take to finish the TLS handshake, and then to send a request
    /// head, counted from when the server waits for one: a new connection, or an idle
    /// keep-alive one.
    pub header_read_timeout: Duration,
    /// Connections accepted whose first request head is not read yet, in all.
    pub max_pending: usize,
    /// The same, per source address.
    pub max_pending_per_ip: usize,
    /// The longest one request may take from its head to its response, body included (a
    /// WebSocket's life after the upgrade is not part of it): a body trickled byte by byte
    /// does not hold a connection for ever.
    pub request_timeout: Duration,
}

/// The limits as options of a server binary (flattened into its configuration).
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Seconds a client may take to complete the TLS handshake and send a request head (also
    /// how long an idle keep-alive connection stays open).
    #[arg(long, env = "AXT_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,

    /// Connections accepted but without a complete request head yet, in all; past it new
    /// connections are closed at once.
    #[arg(long, env = "AXT_MAX_PENDING_CONNECTIONS", default_value_t = 1024)]
    pub max_pending_connections: usize,

    /// The same, per client address: one address cannot take every place.
    #[arg(long, env = "AXT_MAX_PENDING_PER_IP", default_value_t = 256)]
    pub max_pending_per_ip: usize,

    /// Seconds one request may take from its head to its response, reading its body included
    /// (a WebSocket's life after the upgrade does not count); past it, 408.
    #[arg(long, env = "AXT_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
}

impl HttpArgs {
    /// The limits these options set.
    pub fn limits(&self) -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs.max(1)),
            max_pending: self.max_pending_connections.max(1),
            max_pending_per_ip: self.max_pending_per_ip.max(1),
            request_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
        }
    }
}

/// Serves `router` on `listener` — over TLS when `tls` is given — until `shutdown` resolves,
/// then lets the requests in flight finish (upgraded connections — WebSockets — are their
/// handlers' to close).
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let pending = Arc::new(Pending::new(limits));
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    // Every connection task holds a receiver: the sender's `closed` is "all of them are done",
    // and its `send` asks them to finish gracefully.
    let (closing, closed) = tokio::sync::watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(admitted) = pending.admit(peer.ip()) else {
            // Too many half-open connections: this one is closed at once, unread.
            tracing::debug!(%peer, "connection refused: too many pending");
            continue;
        };
        // Frames are small and interactive: Nagle's algorithm against delayed ACKs would add
        // tens of milliseconds to every exchange.
        let _ = tcp.set_nodelay(true);
        let (router, tls, closed) = (router.clone(), tls.clone(), closed.clone());
        tokio::spawn(async move {
            match tls {
                None => connection(tcp, peer, router, admitted, limits, closed).await,
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(tcp))
                        .await
                    {
                        Ok(Ok(stream)) => {
                            connection(stream, peer, router, admitted, limits, closed).await
                        }
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    drop(closed);
    let _ = closing.send(());
    closing.closed().await;
}

/// Serves one connection until it ends, or finishes its request in flight once `closed` says
/// the server is shutting down.
async fn connection<S>(
    io: S,
    peer: SocketAddr,
    router: Router,
    admitted: Admitted,
    limits: Limits,
    mut closed: tokio::sync::watch::Receiver<()>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let admitted = Arc::new(Mutex::new(Some(admitted)));
    let request_timeout = limits.request_timeout;
    let service = router
        .map_request(move |mut request: hyper::Request<Incoming>| {
            // The head is read: this connection is no longer pending.
            admitted.lock().unwrap_or_else(|p| p.into_inner()).take();
            request.extensions_mut().insert(ConnectInfo(peer));
            request.map(Body::new)
        })
        .map_future(move |responding| async move {
            match tokio::time::timeout(request_timeout, responding).await {
                Ok(response) => response,
                Err(_) => {
                    tracing::debug!(%peer, "request timed out");
                    Ok(axum::http::StatusCode::REQUEST_TIMEOUT.into_response())
                }
            }
        });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(
            TokioIo::new(io),
            hyper_util::service::TowerToHyperService::new(service),
        )
        .with_upgrades();
    tokio::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        _ = closed.changed() => {
            // Shutting down: finish the request in flight, take no other.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = ended {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

/// The connections accepted whose first request head is not read yet.
struct Pending {
    limits: Limits,
    by_ip: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One pending connection; it stops counting when dropped.
struct Admitted {
    pending: Arc<Pending>,
    ip: IpAddr,
}

impl Pending {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            by_ip: Mutex::new((0, HashMap::new())),
        }
    }

    /// Counts a new connection from `ip`, unless a cap is reached.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admitted> {
        let mut guard = self.by_ip.lock().unwrap_or_else(|p| p.into_inner());
        let (total, by_ip) = &mut *guard;
        let from_ip = by_ip.entry(ip).or_insert(0);
        if *total >= self.limits.max_pending || *from_ip >= self.limits.max_pending_per_ip {
            return None;
        }
        *total += 1;
        *from_ip += 1;
        Some(Admitted {
            pending: self.clone(),
            ip,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut guard = self.pending.by_ip.lock().unwrap_or_else(|p| p.into_inner());
        let (total, by_ip) = &mut *guard;
        *total -= 1;
        if let Some(n) = by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                by_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_connections_are_capped_in_all_and_per_address() {
        let limits = Limits {
            header_read_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            max_pending: 3,
            max_pending_per_ip: 2,
        };
        let pending = Arc::new(Pending::new(limits));
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        let first = pending.admit(a).unwrap();
        let _second = pending.admit(a).unwrap();
        assert!(pending.admit(a).is_none(), "per address");
        let _third = pending.admit(b).unwrap();
        assert!(pending.admit(b).is_none(), "in all");
        drop(first);
        assert!(pending.admit(a).is_some(), "a place freed");
    }

    /// A client that sends a whole head and then trickles its body — one byte, then nothing —
    /// is answered 408 when the request timeout runs out, not held for ever.
    #[tokio::test]
    async fn a_trickled_body_does_not_hold_the_connection() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let limits = Limits {
            header_read_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_millis(300),
            max_pending: 8,
            max_pending_per_ip: 8,
        };
        let router = Router::new().route(
            "/",
            axum::routing::post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, None, router, limits, async move {
            let _ = stopped.await;
        }));
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\na")
            .await
            .unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer))
            .await
            .expect("the connection was held")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        let _ = stop.send(());
        server.await.unwrap();
    }
}
