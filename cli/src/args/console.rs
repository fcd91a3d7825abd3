//! `axt console`'s command line: where the web console listens, and the file that says where.

use std::{net::SocketAddr, path::PathBuf};

use clap::Args;

/// `axt console [--listen ADDR] [--url-file PATH]`
///
/// The global options (--endpoint, --region, --ca-cert, and HTTPS_PROXY, SSL_CERT_FILE from
/// the environment) say how the console reaches the control plane and the gateway; the key is
/// not taken from them: each person signs in in the browser with an AccessKey of their own.
#[derive(Args, Debug)]
pub struct ConsoleArgs {
    /// Where to serve the console (port 0 picks a free one; see --url-file). Whoever reaches
    /// it may try to sign in, so loopback unless the lab is meant to be shared.
    #[arg(long, env = "AXT_CONSOLE_LISTEN", default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    /// Write the console's URL (`http://127.0.0.1:PORT/`) to this file once listening, for
    /// scripts and tests that use port 0.
    #[arg(long, env = "AXT_CONSOLE_URL_FILE")]
    pub url_file: Option<PathBuf>,
}
