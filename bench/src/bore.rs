//! bore (the `bore-cli` package), the reference tunnel: `bore server` on loopback and
//! `bore local <target port> --to 127.0.0.1`, whose public port carries the measurements.
//!
//! bore's path is the plainest a TCP tunnel can have — per connection, the server asks the
//! client over its control connection to dial back, then both sides copy bytes with
//! `tokio::io::copy_bidirectional` — so it is the bar for "a tunnel costs this much".

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context as _};

use axt_kit::process::Supervised;

use crate::procs;

/// The port `bore server` always uses for its control connections (not configurable).
pub const CONTROL_PORT: u16 = 7835;

/// How to get bore when it is missing.
pub const INSTALL_HINT: &str = "cargo install bore-cli";

/// A running bore server and client.
pub struct Bore {
    /// The tunnel's public address.
    pub addr: SocketAddr,
    // Dropped client first: the server outliving it for a moment is harmless.
    client: Supervised,
    server: Supervised,
}

impl Bore {
    /// The server's and the client's process ids.
    pub fn pids(&self) -> Vec<u32> {
        vec![self.server.pid(), self.client.pid()]
    }
}

/// The `bore` binary: `explicit`, else on `PATH` or in `~/.cargo/bin`.
pub fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(path) => path.is_file().then(|| path.to_owned()),
        None => procs::find_program("bore"),
    }
}

/// Starts the server and a tunnel to `target_port`; returns once the tunnel listens.
pub fn start(bore: &Path, target_port: u16, logs: &Path) -> anyhow::Result<Bore> {
    if std::net::TcpListener::bind(("127.0.0.1", CONTROL_PORT)).is_err() {
        bail!("port {CONTROL_PORT}, bore's fixed control port, is in use");
    }
    let mut server = Command::new(bore);
    server.args(["server", "--bind-addr", "127.0.0.1"]);
    server.env("RUST_LOG", "info");
    let mut server = procs::spawn("bore-server", server, logs)?;
    procs::wait_for(&mut server, "server listening")?;

    let mut client = Command::new(bore);
    client.args(["local", &target_port.to_string()]);
    client.args(["--local-host", "127.0.0.1", "--to", "127.0.0.1"]);
    client.env("RUST_LOG", "info");
    let mut client = procs::spawn("bore-local", client, logs)?;
    let listening = procs::wait_for(&mut client, "listening at")?;
    let addr = listening
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .parse()
        .with_context(|| format!("bore local printed {listening:?}, not an address"))?;
    Ok(Bore {
        addr,
        client,
        server,
    })
}
