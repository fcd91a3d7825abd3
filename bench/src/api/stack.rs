//! The stack the OpenAPI part measures: the real release control plane with its session limits
//! raised out of the way, a gateway, and one `axt-agent` registered through an activation and
//! online — so that StartTerminalSession runs every check it runs for a real instance and is
//! never refused for a limit.

use std::{net::SocketAddr, path::Path, process::Command};

use anyhow::Context as _;
use axt_kit::process::Supervised;

use super::load::Signer;
use crate::{axt, procs};

const KEY_ID: &str = "LTAIbenchApiKey000000001";
const SECRET: &str = "axt-bench-api-secret";
const INTERNAL_TOKEN: &str = "axt-bench-api-internal-token";
/// The region of the agent and of every call.
pub const REGION: &str = "cn-hangzhou";

/// The running stack; its processes are killed in the reverse order of their start.
pub struct Stack {
    /// The control plane's OpenAPI.
    pub cp_addr: SocketAddr,
    /// The control plane's process, whose CPU time is measured.
    pub cp_pid: u32,
    /// The agent's instance, online.
    pub instance: String,
    procs: Vec<Supervised>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        while let Some(proc) = self.procs.pop() {
            drop(proc);
        }
    }
}

impl Stack {
    /// A signer with the admin key of this stack.
    pub fn signer(&self) -> Signer {
        Signer::new(format!("http://{}", self.cp_addr), KEY_ID, SECRET)
    }
}

/// Starts control plane, gateway and agent from `bin_dir`; `dir` holds their state and logs.
/// `rt` runs the signed call that creates the agent's activation.
pub fn start(bin_dir: &Path, dir: &Path, rt: &tokio::runtime::Runtime) -> anyhow::Result<Stack> {
    axt::check_binaries(bin_dir)?;
    let bin = |name: &str| bin_dir.join(name);
    let mut procs = Vec::new();
    let gw_addr = format!("127.0.0.1:{}", procs::free_port()?);
    let gw_url = format!("ws://{gw_addr}");

    let cp_dir = dir.join("cp");
    let mut cp = Command::new(bin("axt-control-plane"));
    cp.args(["--listen", "127.0.0.1:0", "--gateway-url", &gw_url])
        .arg("--data-dir")
        .arg(&cp_dir)
        .args(["--internal-token", INTERNAL_TOKEN])
        .args(["--admin-access-key-id", KEY_ID])
        .args(["--admin-access-key-secret", SECRET])
        // Thousands of never-connected sessions must all stay live and all be let in: the
        // region's limit (100) and the URLs' validity (10 min) are lifted out of the way.
        .args(["--max-sessions-per-region", "1000000000"])
        .args(["--url-ttl-secs", "86400"])
        // The default an operator runs with, whatever RUST_LOG says outside: its log line per
        // call is part of what a call costs.
        .env("RUST_LOG", "info,sqlx=warn");
    let control_plane = procs::spawn("api-control-plane", cp, dir)?;
    let cp_pid = control_plane.pid();
    procs.push(control_plane);
    let cp_addr: SocketAddr = procs::wait_for_file(&cp_dir.join("listen-addr"))?
        .parse()
        .context("the control plane's listen-addr")?;

    let mut gw = Command::new(bin("axt-gateway"));
    gw.args(["--listen", &gw_addr, "--public-url", &gw_url, "--plain"])
        .args(["--control-plane", &format!("http://{cp_addr}")])
        .args(["--internal-token", INTERNAL_TOKEN])
        .arg("--data-dir")
        .arg(dir.join("gw"))
        .env("RUST_LOG", "info");
    let mut gateway = procs::spawn("api-gateway", gw, dir)?;
    procs::wait_for(&mut gateway, "gateway listening")?;
    procs.push(gateway);

    let signer = Signer::new(format!("http://{cp_addr}"), KEY_ID, SECRET);
    let client = super::load::client()?;
    let activation = rt
        .block_on(signer.call(
            &client,
            "CreateActivation",
            &[("RegionId", REGION), ("InstanceCount", "1")],
        ))
        .context("CreateActivation")?;
    let spec = procs::AgentSpec {
        name: "api-agent",
        gw_addr: &gw_addr,
        region: REGION,
        run_args: &[],
        rust_log: "info",
    };
    let (agent, instance) = procs::start_agent(bin_dir, dir, spec, &activation)?;
    procs.push(agent);
    Ok(Stack {
        cp_addr,
        cp_pid,
        instance,
        procs,
    })
}
