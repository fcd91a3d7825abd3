//! `axt portforward`: one port session (StartTerminalSession with a PortNumber), a local
//! listener, and one WebSocket on the session's URL per accepted connection, as
//! ali-instance-cli does it, minus its 3 s wait, its all-interfaces listener and its
//! never-closed local sockets.

use std::{net::SocketAddr, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context as _;
use axt_proto::openapi::Params;
use rustls::ClientConfig;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinSet,
};

use crate::{
    args::PortforwardArgs,
    profile::Settings,
    relay,
    session::{EndError, Started},
    terminal,
    tls::{self, hint::Advice},
    ws,
};

/// After Ctrl-C, how long live connections get to close before `axt` stops waiting for them.
const DRAIN: Duration = Duration::from_secs(5);
/// A failing `accept` (out of file descriptors, say) is retried after this pause rather than
/// in a busy loop.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// A session started for a port: what `portforward` and `ssh` open and, at the end, close.
pub struct PortSession(Started);

impl PortSession {
    /// StartTerminalSession for `port` on `instance` (or on `target` reached through it).
    pub async fn start(
        settings: &Settings,
        instance: &str,
        port: u16,
        target: Option<&str>,
    ) -> anyhow::Result<Self> {
        let mut params = Params::new();
        params.insert("InstanceId.1".to_owned(), instance.to_owned());
        params.insert("PortNumber".to_owned(), port.to_string());
        if let Some(target) = target {
            params.insert("TargetServer".to_owned(), target.to_owned());
        }
        let (started, _) = Started::start(settings, params).await?;
        Ok(Self(started))
    }

    /// `SessionId`.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// `WebSocketUrl`; valid for several WebSockets, one per forwarded connection.
    pub fn url(&self) -> &str {
        &self.0.url
    }

    /// EndTerminalSession (bounded, see [`Started::end`]): the URL stops working, so nothing
    /// can reuse it after `axt` left.
    pub async fn end(&self) -> Result<(), EndError> {
        self.0.end().await
    }

    /// [`PortSession::end`], a failure only reported.
    pub async fn end_quietly(&self) {
        self.0.end_quietly().await
    }
}

/// `axt portforward`: listens, forwards every connection, and on a signal ends it all.
pub async fn run(settings: &Settings, args: &PortforwardArgs) -> anyhow::Result<ExitCode> {
    let tls = tls::client_config(settings.ca_cert.as_deref())?;
    // Listening comes first: a port in use should fail before a session exists to clean up.
    let listener = TcpListener::bind((args.local_host.as_str(), args.local_port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.local_host, args.local_port))?;
    let local_port = listener.local_addr()?.port();
    let mut interrupts = terminal::Interrupts::new()?;
    let advice = Advice::new(settings.ca_cert.as_deref());
    let target = args.target_server.as_deref();
    let session = PortSession::start(settings, &args.instance, args.remote_port, target).await?;
    say(&format!(
        "Port forwarding for SessionId: {}, local port {local_port}, remote port {}",
        session.id(),
        args.remote_port
    ));
    say("Waiting for connections...");

    let frame_size = args.relay.frame_size as usize;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let signal = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    say(&format!("new connection from tcp {peer}"));
                    let url = session.url().to_owned();
                    let relay = Relay { tls: tls.clone(), frame_size, advice: advice.clone() };
                    connections.spawn(forward(tcp, peer, url, relay, stop_rx.clone()));
                }
                Err(err) => {
                    tracing::warn!(%err, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            },
            // Reaps finished connections so the set does not grow with the process's age.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            (name, _) = interrupts.recv() => break name,
        }
    };

    drop(listener);
    while connections.try_join_next().is_some() {} // the count below is of live ones only
    eprintln!("{signal}: closing {} connection(s).", connections.len());
    stop_tx.send_replace(true);
    let drained = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("some connections did not close in time; dropping them");
        connections.shutdown().await;
    }
    session.end().await?;
    Ok(ExitCode::SUCCESS)
}

/// How every connection opens and relays its WebSocket.
struct Relay {
    tls: Arc<ClientConfig>,
    frame_size: usize,
    advice: Advice,
}

/// One accepted connection: opens its WebSocket and relays until either side ends or `stop` is
/// set. A refused WebSocket ends only this connection: the next one may well be accepted.
async fn forward(
    tcp: TcpStream,
    peer: SocketAddr,
    url: String,
    relay: Relay,
    mut stop: watch::Receiver<bool>,
) {
    let label = format!("tcp {peer}");
    let connected = tokio::select! {
        connected = ws::connect(&url, relay.tls) => Some(connected),
        _ = stop.wait_for(|stopped| *stopped) => None,
    };
    match connected {
        None => {}
        // Dropping `tcp` closes the local connection, so the app sees at once that it failed.
        Some(Err(err)) => {
            eprintln!("connection[{label}]: {err}");
            relay.advice.print(&err);
        }
        Some(Ok(ws)) => {
            // Nagle off: a small request should leave now, not wait for its answer's ACK.
            let _ = tcp.set_nodelay(true);
            let (read, write) = tcp.into_split();
            let stopped = async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            };
            let end = relay::relay(read, write, ws, relay.frame_size, stopped).await;
            if !end.is_clean() {
                eprintln!("connection[{label}]: {}", end.message());
            }
        }
    }
    say(&format!("connection[{label}] closed"));
}

/// A line on stdout, where ali-instance-cli prints its progress. A closed stdout is no reason
/// to stop forwarding (println! would panic).
fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout(), "{line}");
}
