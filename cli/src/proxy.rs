//! `axt proxy`: an HTTP CONNECT proxy that lets unmodified tools reach the lab by the real
//! endpoint names. A CONNECT to a `host:port` of the allow-list ([`routes`]) is answered 200
//! and spliced byte for byte to the lab address it maps to; TLS stays between the tool and
//! the lab. Anything else is refused with a status and a line saying why, and no name is ever
//! resolved, so neither the host's DNS nor the world beyond the lab is involved.

pub mod head;
pub mod routes;

use std::{
    future::Future, net::SocketAddr, path::Path, process::ExitCode, sync::Arc, time::Duration,
};

use anyhow::Context as _;
use tokio::{
    io::{copy_bidirectional, AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};
use tracing::Instrument as _;

use crate::{
    args::{GlobalArgs, ProxyArgs},
    profile::DEFAULT_REGION,
};
use head::{read_head, request_line, HeadError};
pub use routes::{Route, RouteError, Routes};

/// A client has this long to send its CONNECT, and the lab address to accept the connection.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a refused client's further bytes are read and dropped before the close.
const LINGER: Duration = Duration::from_secs(2);

/// Connections served at once; more wait to be accepted. A lab has a handful of users.
const MAX_CONNECTIONS: usize = 512;

/// `axt proxy`: serves until Ctrl-C or SIGTERM.
pub async fn run(args: &ProxyArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let regions = match (&args.regions[..], &global.region) {
        ([], Some(region)) => vec![region.clone()],
        ([], None) => vec![DEFAULT_REGION.to_owned()],
        (regions, _) => regions.to_vec(),
    };
    if let Some(bad) = regions
        .iter()
        .find(|r| r.is_empty() || !r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        anyhow::bail!("region {bad:?} is not a region id (letters, digits and '-')");
    }
    let routes = Routes::new(&regions, args.api, args.gateway, &args.routes);
    if routes.is_empty() {
        anyhow::bail!("nothing to let through: give --api, --gateway or --route");
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    if let Some(path) = &args.addr_file {
        write_addr_file(path, addr)?;
    }
    eprint!(
        "axt proxy: listening on {addr} (HTTP CONNECT); it reaches only\n{routes}\
         Use it with: export HTTPS_PROXY=http://{addr}\n"
    );
    serve(listener, Arc::new(routes), axt_kit::shutdown::signal()).await;
    Ok(ExitCode::SUCCESS)
}

/// Writes `addr` to `path` whole or not at all (a reader polling for the file never sees
/// half of it).
fn write_addr_file(path: &Path, addr: SocketAddr) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, format!("{addr}\n"))
        .and_then(|()| std::fs::rename(&partial, path))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Serves CONNECT requests on `listener` until `shutdown` resolves; tunnels open then are
/// dropped with the process.
pub async fn serve(listener: TcpListener, routes: Arc<Routes>, shutdown: impl Future<Output = ()>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = async {
                let slot = slots.clone().acquire_owned().await;
                (slot, listener.accept().await)
            } => accepted,
        };
        let (Ok(slot), accepted) = accepted else {
            break; // The semaphore is never closed; nothing to serve without it.
        };
        let (client, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Typically out of file descriptors: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let routes = routes.clone();
        let span = tracing::debug_span!("proxy", %peer);
        tokio::spawn(
            async move {
                let ending = connection(client, &routes).await;
                tracing::debug!(%ending, "connection ended");
                drop(slot);
            }
            .instrument(span),
        );
    }
}

/// How one connection ended, logged once.
#[derive(Debug, thiserror::Error)]
enum Ending {
    #[error("no request head: {0}")]
    NoHead(#[source] HeadError),
    #[error("no request head within {}s", HEAD_TIMEOUT.as_secs())]
    HeadTimeout,
    #[error("malformed request: {0:?}")]
    Malformed(String),
    #[error("{method} refused: only CONNECT is served")]
    NotConnect { method: String },
    #[error("CONNECT {0} refused: not on the allow-list")]
    Forbidden(String),
    #[error("CONNECT {target}: {to} unreachable: {reason}")]
    Unreachable {
        target: String,
        to: SocketAddr,
        reason: String,
    },
    #[error("CONNECT {target} -> {to}: {up} bytes up, {down} down")]
    Spliced {
        target: String,
        to: SocketAddr,
        up: u64,
        down: u64,
    },
    #[error("CONNECT {target} -> {to}: broken: {error}")]
    Broken {
        target: String,
        to: SocketAddr,
        error: std::io::Error,
    },
    #[error("could not answer: {0}")]
    Answer(#[source] std::io::Error),
}

/// Serves one client: reads its request, answers it, and splices when it is allowed.
async fn connection(mut client: TcpStream, routes: &Routes) -> Ending {
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut client)).await {
        Err(_) => return refuse(&mut client, 408, Ending::HeadTimeout).await,
        Ok(Err(HeadError::TooLarge)) => {
            return refuse(&mut client, 431, Ending::NoHead(HeadError::TooLarge)).await
        }
        Ok(Err(error)) => return Ending::NoHead(error),
        Ok(Ok(head)) => head,
    };
    let Some((method, target)) = request_line(&head.first_line) else {
        return refuse(&mut client, 400, Ending::Malformed(head.first_line.clone())).await;
    };
    if method != "CONNECT" {
        let method = method.to_owned();
        return refuse(&mut client, 405, Ending::NotConnect { method }).await;
    }
    let Ok((host, port)) = routes::split_authority(target) else {
        return refuse(&mut client, 400, Ending::Malformed(head.first_line.clone())).await;
    };
    let target = format!("{host}:{port}");
    let Some(to) = routes.get(&host, port) else {
        return refuse(&mut client, 403, Ending::Forbidden(target)).await;
    };
    let mut upstream = match tokio::time::timeout(HEAD_TIMEOUT, TcpStream::connect(to)).await {
        Ok(Ok(upstream)) => upstream,
        Ok(Err(error)) => {
            let reason = error.to_string();
            return refuse(&mut client, 502, Ending::Unreachable { target, to, reason }).await;
        }
        Err(_) => {
            let reason = "connect timed out".to_owned();
            return refuse(&mut client, 502, Ending::Unreachable { target, to, reason }).await;
        }
    };
    // Sessions carry keystrokes: no Nagle delay on either leg.
    let _ = (client.set_nodelay(true), upstream.set_nodelay(true));
    let answer = b"HTTP/1.1 200 Connection established\r\n\r\n";
    if let Err(error) = client.write_all(answer).await {
        return Ending::Answer(error);
    }
    let spliced = async {
        upstream.write_all(&head.rest).await?;
        copy_bidirectional(&mut client, &mut upstream).await
    };
    match spliced.await {
        Ok((up, down)) => Ending::Spliced {
            target,
            to,
            up: up + head.rest.len() as u64,
            down,
        },
        Err(error) => Ending::Broken { target, to, error },
    }
}

/// Answers `status` with a one-line body saying why, and returns `ending`.
async fn refuse(client: &mut TcpStream, status: u16, ending: Ending) -> Ending {
    let (reason, body) = match (status, &ending) {
        (403, Ending::Forbidden(target)) => (
            "Forbidden",
            format!(
                "axt proxy reaches only the lab's endpoints, and {target} is not one of them; \
                 the proxy printed the names and ports it reaches when it started"
            ),
        ),
        (405, _) => (
            "Method Not Allowed",
            "axt proxy only tunnels HTTPS (CONNECT host:443) to the lab's endpoints; \
             call them with https:// URLs"
                .to_owned(),
        ),
        (408, _) => ("Request Timeout", ending.to_string()),
        (431, _) => ("Request Header Fields Too Large", ending.to_string()),
        (502, _) => ("Bad Gateway", ending.to_string()),
        _ => ("Bad Request", ending.to_string()),
    };
    let allow = if status == 405 {
        "Allow: CONNECT\r\n"
    } else {
        ""
    };
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\n{allow}Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}\n",
        body.len() + 1
    );
    match client.write_all(answer.as_bytes()).await {
        Ok(()) => {
            // The close after the answer is the end of it. What the client sent beyond the
            // head is read and dropped for a moment: closing with unread bytes would reset
            // the connection, and the client could lose the answer.
            let _ = client.shutdown().await;
            let drain = async {
                let mut sink = [0u8; 4096];
                while let Ok(1..) = client.read(&mut sink).await {}
            };
            let _ = tokio::time::timeout(LINGER, drain).await;
            ending
        }
        Err(error) => Ending::Answer(error),
    }
}
