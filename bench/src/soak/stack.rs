//! The soak's own stack: the real release control plane with every session limit raised past
//! the soak's count (sessions per region, connected sessions per instance, connections per
//! session, the bandwidth cap lifted as for the throughput rows), a plain-ws gateway, and one
//! `axt-agent` allowed that many sessions — so that nothing is refused for a limit and what
//! is measured is memory. Its calls are signed in-process ([`Api`]): ten thousand `axt api`
//! processes would measure process start-up.

use std::{path::Path, process::Command, sync::Arc};

use anyhow::Context as _;
use axt_kit::process::Supervised;

use crate::{api::load::Signer, axt, procs};

const KEY_ID: &str = "LTAIbenchSoakKey00000001";
const SECRET: &str = "axt-bench-soak-secret";
const INTERNAL_TOKEN: &str = "axt-bench-soak-internal-token";
const REGION: &str = "cn-hangzhou";

/// The running stack; its processes are killed in the reverse order of their start.
pub struct Stack {
    /// The gateway's port: the agent's connections to it are counted.
    pub gw_port: u16,
    pub gw_pid: u32,
    pub agent_pid: u32,
    /// The agent's instance.
    pub instance: String,
    pub api: Arc<Api>,
    procs: Vec<Supervised>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        while let Some(proc) = self.procs.pop() {
            drop(proc);
        }
    }
}

/// Starts the stack for `sessions` sessions from `bin_dir`; `dir` holds state and logs. `rt`
/// runs the signed call that creates the agent's activation.
pub fn start(
    bin_dir: &Path,
    sessions: usize,
    dir: &Path,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<Stack> {
    axt::check_binaries(bin_dir)?;
    let bin = |name: &str| bin_dir.join(name);
    // Room above the soak's own sessions for its warm-up and for stragglers being recorded.
    let limit = (sessions + 1000).to_string();
    let mut procs = Vec::new();
    let gw_port = procs::free_port()?;
    let gw_addr = format!("127.0.0.1:{gw_port}");
    let gw_url = format!("ws://{gw_addr}");

    let cp_dir = dir.join("cp");
    let mut cp = Command::new(bin("axt-control-plane"));
    cp.args(["--listen", "127.0.0.1:0", "--gateway-url", &gw_url])
        .arg("--data-dir")
        .arg(&cp_dir)
        .args(["--internal-token", INTERNAL_TOKEN])
        .args(["--admin-access-key-id", KEY_ID])
        .args(["--admin-access-key-secret", SECRET])
        .args(["--session-rate-limit", "0"])
        .args(["--max-sessions-per-region", &limit])
        .args(["--max-connections-per-instance", &limit])
        .args(["--max-connections-per-session", &limit]);
    procs.push(procs::spawn("control-plane", cp, dir)?);
    let cp_addr = procs::wait_for_file(&cp_dir.join("listen-addr"))?;
    let api = Arc::new(Api::new(&cp_addr)?);

    let mut gw = Command::new(bin("axt-gateway"));
    gw.args(["--listen", &gw_addr, "--public-url", &gw_url, "--plain"])
        .args(["--control-plane", &format!("http://{cp_addr}")])
        .args(["--internal-token", INTERNAL_TOKEN])
        .arg("--data-dir")
        .arg(dir.join("gw"))
        // The readiness line waited for is info-level; nothing more is logged per session.
        .env(
            "RUST_LOG",
            "info,axt_gateway::relay=warn,axt_gateway::kick=warn",
        );
    let mut gateway = procs::spawn("gateway", gw, dir)?;
    procs::wait_for(&mut gateway, "gateway listening")?;
    let gw_pid = gateway.pid();
    procs.push(gateway);

    let activation = rt
        .block_on(api.call("CreateActivation", &[]))
        .context("CreateActivation")?;
    let spec = procs::AgentSpec {
        name: "agent",
        gw_addr: &gw_addr,
        region: REGION,
        run_args: &["--max-sessions", &limit],
        rust_log: "info,axt_agent::session=warn",
    };
    let (agent, instance) = procs::start_agent(bin_dir, dir, spec, &activation)?;
    let agent_pid = agent.pid();
    procs.push(agent);
    Ok(Stack {
        gw_port,
        gw_pid,
        agent_pid,
        instance,
        api,
        procs,
    })
}

/// Signed calls to the stack's control plane, in its region (the API part's [`Signer`]).
pub struct Api {
    signer: Signer,
    http: reqwest::Client,
}

impl Api {
    fn new(cp_addr: &str) -> anyhow::Result<Self> {
        Ok(Self {
            signer: Signer::new(format!("http://{cp_addr}"), KEY_ID, SECRET),
            http: crate::api::load::client()?,
        })
    }

    /// One call of `action` in the stack's region; its JSON answer, or the code it was
    /// refused with.
    pub async fn call(
        &self,
        action: &str,
        pairs: &[(&str, &str)],
    ) -> anyhow::Result<serde_json::Value> {
        let mut params = vec![("RegionId", REGION)];
        params.extend_from_slice(pairs);
        self.signer.call(&self.http, action, &params).await
    }
}
