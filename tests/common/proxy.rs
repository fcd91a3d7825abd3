//! A TCP proxy whose connections a test can cut, to break an agent's links to the gateway and
//! watch it restore them. TLS passes through untouched.

use std::{net::SocketAddr, sync::Arc};

use tokio::{net::TcpListener, sync::watch};

/// Forwards every connection to `upstream` until cut.
pub struct Proxy {
    pub addr: SocketAddr,
    cuts: Arc<watch::Sender<u64>>,
    accept_loop: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cuts = Arc::new(watch::Sender::new(0u64));
        let cut_rx = cuts.subscribe();
        let accept_loop = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut cut = cut_rx.clone();
                cut.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {} // dropping both streams cuts the connection
                    }
                });
            }
        });
        Self {
            addr,
            cuts,
            accept_loop,
        }
    }

    /// Cuts every connection open now; new ones go through again.
    pub fn cut(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}
