//! The soak's own stack: the real release control plane with every session limit raised past
//! the soak's count (sessions per region, connected sessions per instance, connections per
//! session, the bandwidth cap lifted as for the throughput rows), a plain-ws gateway, and one
//! `axt-agent` allowed that many sessions — so that nothing is refused for a limit and what
//! is measured is memory. Its calls are signed in-process ([`Api`]): ten thousand `axt api`
//! processes would measure process start-up.

use std::{
    path::Path,
    process::Command,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use anyhow::{bail, Context as _};
use axt_kit::process::Supervised;
use axt_proto::openapi::{percent_encode, v1, Credentials, Params, TIMESTAMP_FORMAT};

use crate::{axt, procs};

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
    let field = |name: &str| activation[name].as_str().unwrap_or_default().to_owned();
    let state = dir.join("agent");
    let mut register = Command::new(bin("axt-agent"));
    register
        .args([
            "register", "--server", &gw_addr, "--region", REGION, "--plain",
        ])
        .args(["--activation-code", &field("ActivationCode")])
        .args(["--activation-id", &field("ActivationId")])
        .arg("--state-dir")
        .arg(&state);
    procs::output(&mut register).context("registering the agent")?;
    let instance = procs::wait_for_file(&state.join("instance-id"))?;
    let mut run = Command::new(bin("axt-agent"));
    run.args(["run", "--state-dir"])
        .arg(&state)
        .args(["--max-sessions", &limit])
        .env("RUST_LOG", "info,axt_agent::session=warn");
    let mut agent = procs::spawn("agent", run, dir)?;
    procs::wait_for(&mut agent, "kick channel open")?;
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

/// Signed calls to the stack's control plane (signature V1, as the SDKs send it).
pub struct Api {
    base: String,
    http: reqwest::Client,
    /// Unique to this run, so that nonces never repeat.
    prefix: String,
    seq: AtomicU64,
}

impl Api {
    fn new(cp_addr: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            base: format!("http://{cp_addr}"),
            http,
            prefix: format!("soak-{}-{}", std::process::id(), axt_proto::now_ms()),
            seq: AtomicU64::new(0),
        })
    }

    /// One call of `action` in the stack's region; its JSON answer, or the code it was
    /// refused with.
    pub async fn call(
        &self,
        action: &str,
        pairs: &[(&str, &str)],
    ) -> anyhow::Result<serde_json::Value> {
        let mut params: Params = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        params.insert("Action".into(), action.into());
        params.insert("RegionId".into(), REGION.into());
        let nonce = format!(
            "{}-{}",
            self.prefix,
            self.seq.fetch_add(1, Ordering::Relaxed)
        );
        let now = chrono::Utc::now().format(TIMESTAMP_FORMAT).to_string();
        let credentials = Credentials {
            access_key_id: KEY_ID,
            secret: SECRET,
        };
        v1::sign_request("POST", &mut params, credentials, &now, &nonce);
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect();
        let url = format!("{}/?{}", self.base, query.join("&"));
        let response = self.http.post(url).send().await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{action}: HTTP {status} {}", body["Code"]);
        }
        Ok(body)
    }
}
