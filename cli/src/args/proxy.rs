//! `axt proxy`'s command line: where it listens, which regions' public names it lets through,
//! and where each of them goes.

use std::{net::SocketAddr, path::PathBuf};

use clap::Args;

pub use crate::proxy::Route;

/// `axt proxy [--listen ADDR] [--api ADDR] [--gateway ADDR] [--route HOST:PORT=ADDR]…`
///
/// Unmodified tools (ali-instance-cli, the aliyun CLI, the SDKs) call the public names
/// (`ecs-cn-hangzhou.aliyuncs.com`, `ram.aliyuncs.com`, `cn-hangzhou.axt.aliyuncs.com`, …) over
/// HTTPS. With `HTTPS_PROXY=http://<this proxy>` they ask it to CONNECT to those names, and it
/// splices each allowed one to the lab's address, byte for byte: TLS stays end to end, so the
/// lab's certificate must name them and each tool must trust the lab CA its own way (the help
/// of [`crate::args::Command::Proxy`] says how).
/// Nothing else is reached: any other name or port is refused (403), and so is plain HTTP
/// proxying (405). The proxy never resolves a name; the host's DNS is left alone.
#[derive(Args, Debug)]
pub struct ProxyArgs {
    /// Where to listen for CONNECT requests (port 0 picks a free one; see --addr-file).
    #[arg(long, env = "AXT_PROXY_LISTEN", default_value = "127.0.0.1:8088")]
    pub listen: SocketAddr,
    /// The regions whose public names are let through, comma-separated or repeated [default:
    /// the global --region, else cn-hangzhou].
    #[arg(long, env = "AXT_PROXY_REGIONS", value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Where every OpenAPI name of the regions (ECS, RAM, STS, KMS), port 443, goes: the
    /// control plane's HTTPS listener (`axt-control-plane --https-listen`), as IP:PORT.
    #[arg(long, env = "AXT_PROXY_API")]
    pub api: Option<SocketAddr>,
    /// Where the gateway's name of each region (`<region>.axt.aliyuncs.com`), port 443, goes:
    /// the gateway's TLS listener, as IP:PORT.
    #[arg(long, env = "AXT_PROXY_GATEWAY")]
    pub gateway: Option<SocketAddr>,
    /// An extra exact route, HOST:PORT=IP:PORT (repeatable, or comma-separated in the
    /// variable); it wins over --api and --gateway for the same HOST:PORT.
    #[arg(long = "route", env = "AXT_PROXY_ROUTES", value_delimiter = ',')]
    pub routes: Vec<Route>,
    /// Write the address listened on to this file once listening (for scripts and tests
    /// that use port 0).
    #[arg(long, env = "AXT_PROXY_ADDR_FILE")]
    pub addr_file: Option<PathBuf>,
}
