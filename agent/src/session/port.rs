//! Port-forward sessions: one TCP connection to `targetHost:portNumber` per channel, relayed
//! both ways. The target is resolved first and every address checked against the deny-list
//! before any connection is attempted.

use std::{net::SocketAddr, time::Duration};

use axt_proto::status::AgentResult;
use tokio::{
    io::AsyncWriteExt as _,
    net::{tcp::OwnedReadHalf, TcpStream},
    sync::mpsc,
    task::JoinHandle,
};
use tracing::{debug, info};

use super::{
    deny::DenyList,
    runner::{Event, INPUT_QUEUE, OUTPUT_QUEUE},
};

/// Largest payload of a port Output frame, as the stock agent's.
pub const PORT_CHUNK: usize = 2048;
/// Largest payload of a port Output frame when the session has no bandwidth limit (a
/// `flowLimit` of 0, which only axtlab sends): what the gateway puts in one client frame, so it
/// passes through unsplit. Every frame costs a read, a header, a flush and a write at each hop;
/// at 2048 bytes that caps a loopback forward near 150 MB/s (see the README's Performance).
pub const PORT_CHUNK_UNLIMITED: usize = 32 * 1024;
/// How long one address gets to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the target cannot be reached: every case is `Open_port_failed`.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Not a port number.
    #[error("bad port {0:?}")]
    BadPort(String),
    /// The name did not resolve.
    #[error("resolving {host}: {error}")]
    Resolve {
        /// The target host.
        host: String,
        /// What the resolver said.
        error: String,
    },
    /// An address the deny-list refuses; nothing was dialled.
    #[error("{addr} is refused by the deny-list entry {block}")]
    Denied {
        /// The refused address.
        addr: SocketAddr,
        /// The entry that refuses it.
        block: ipnet::IpNet,
    },
    /// No address accepted the connection.
    #[error("connecting to {host}: {error}")]
    Connect {
        /// The target host.
        host: String,
        /// The last failure.
        error: String,
    },
}

/// Resolves and connects to the target. An empty host is `localhost`; brackets around an
/// IPv6 literal are accepted.
pub async fn dial(host: &str, port: &str, deny: &DenyList) -> Result<TcpStream, PortError> {
    let port = port
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| PortError::BadPort(port.to_owned()))?;
    let host = match host.trim() {
        "" => "localhost",
        other => other.trim_start_matches('[').trim_end_matches(']'),
    };
    // (host, port) resolves names and IPv4/IPv6 literals alike; "host:port" built by hand
    // would break on IPv6.
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| PortError::Resolve {
            host: host.to_owned(),
            error: e.to_string(),
        })?
        .collect();
    check(&addrs, deny)?;
    let mut last = String::from("no address");
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                info!(%addr, "connected to the target");
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => last = format!("{addr}: {e}"),
            Err(_) => last = format!("{addr}: timed out"),
        }
    }
    Err(PortError::Connect {
        host: host.to_owned(),
        error: last,
    })
}

/// Refuses the whole target when any of its addresses is refused, so that a name cannot
/// smuggle a refused address in among allowed ones.
fn check(addrs: &[SocketAddr], deny: &DenyList) -> Result<(), PortError> {
    for addr in addrs {
        if let Some(block) = deny.refuses(addr.ip()) {
            return Err(PortError::Denied { addr: *addr, block });
        }
    }
    Ok(())
}

/// The read size (and so the largest Output frame) of a port session at `flow_limit` bit/s: the
/// stock agent's 2048 bytes whenever a limit paces the frames, larger when nothing does.
pub fn chunk_for(flow_limit: u64) -> usize {
    if flow_limit == 0 {
        PORT_CHUNK_UNLIMITED
    } else {
        PORT_CHUNK
    }
}

/// The next chunk of at most `chunk` bytes the target sent, `None` at its end.
///
/// The buffer is made once the socket is readable and becomes the chunk itself: a session
/// waiting for its target holds no buffer (a 32 KiB one per session was a fifth of what an idle
/// forward cost the agent), and a bulk read is passed on without a copy.
async fn read_chunk(socket: &OwnedReadHalf, chunk: usize) -> std::io::Result<Option<Vec<u8>>> {
    loop {
        socket.readable().await?;
        let mut bytes = Vec::with_capacity(chunk);
        match socket.try_read_buf(&mut bytes) {
            Ok(0) => return Ok(None),
            Ok(n) => {
                // A few bytes in a large allocation would hold it while queued.
                if n < chunk / 4 {
                    bytes.shrink_to_fit();
                }
                return Ok(Some(bytes));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A relayed TCP connection.
pub struct Port {
    /// `None` once the client finished sending (half-close).
    input: Option<mpsc::Sender<Vec<u8>>>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Port {
    /// Starts relaying `stream`: its bytes come out of the receiver as chunks of at most
    /// `chunk` bytes.
    pub fn relay(stream: TcpStream, chunk: usize) -> (Self, mpsc::Receiver<Event>) {
        let (read_half, mut write_half) = stream.into_split();
        let (output_tx, output_rx) = mpsc::channel(OUTPUT_QUEUE);
        let (input_tx, mut input_rx) = mpsc::channel::<Vec<u8>>(INPUT_QUEUE);
        let events = output_tx.clone();
        let reader = tokio::spawn(async move {
            let end = loop {
                match read_chunk(&read_half, chunk).await {
                    Ok(None) => break AgentResult::Ok,
                    // Waits while the output queue is full: the target is slowed down by TCP.
                    Ok(Some(bytes)) => {
                        if output_tx.send(Event::Output(bytes)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        debug!(error = %e, "reading the target failed");
                        break AgentResult::ReadPortFailed;
                    }
                }
            };
            let _ = output_tx.send(Event::Ended(end)).await;
        });
        let writer = tokio::spawn(async move {
            while let Some(bytes) = input_rx.recv().await {
                if let Err(e) = write_half.write_all(&bytes).await {
                    debug!(error = %e, "writing to the target failed");
                    let _ = events.send(Event::Ended(AgentResult::IoPortFailed)).await;
                    return;
                }
            }
            // The queue closed: the client has no more to send. The target gets a FIN and
            // may still answer; the reader relays that until the target closes.
            let _ = write_half.shutdown().await;
        });
        let port = Self {
            input: Some(input_tx),
            reader,
            writer,
        };
        (port, output_rx)
    }

    /// The queue of input for the target.
    pub fn input_queue(&self) -> Option<mpsc::Sender<Vec<u8>>> {
        self.input.clone()
    }

    /// The client finished sending: shut the target's write side once the queued input is
    /// written (axtlab's `half-close` extension).
    pub fn close_input(&mut self) {
        self.input = None;
    }

    /// Closes the connection.
    pub fn terminate(self) {
        self.reader.abort();
        self.writer.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refused_and_malformed_targets_are_never_dialled() {
        let deny = DenyList::new(&["127.0.0.0/8".parse().unwrap()]);
        for (host, port) in [
            ("169.254.169.254", "80"),
            ("[fe80::1]", "22"),
            ("127.0.0.1", "9"),
        ] {
            assert!(
                matches!(dial(host, port, &deny).await, Err(PortError::Denied { .. })),
                "{host}"
            );
        }
        for bad in ["", "0", "abc", "70000"] {
            assert!(matches!(
                dial("127.0.0.1", bad, &deny).await,
                Err(PortError::BadPort(_))
            ));
        }
    }

    #[tokio::test]
    async fn names_and_ipv6_literals_resolve_and_connect() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        let deny = DenyList::new(&[]);
        let accept = tokio::spawn(async move { listener.accept().await.map(|_| ()) });
        let stream = dial("127.0.0.1", &port, &deny).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap().ip().to_string(), "127.0.0.1");
        accept.await.unwrap().unwrap();
        // "localhost" (the default) and "[::1]" resolve without any hand-built "host:port";
        // whether ::1 is up depends on the machine, so only the error kind is checked.
        match dial("[::1]", &port, &deny).await {
            Ok(_) | Err(PortError::Connect { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
}
