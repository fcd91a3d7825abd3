//! The whole stack for end-to-end tests: a control plane and a gateway in this process on
//! port 0, the real `axt-agent` and `axt` binaries of the build under test as child processes
//! (their logs in files, shown when a test fails), and helpers to wait on what they do with
//! bounded timeouts. Every address is loopback, except in the stories across network
//! namespaces (`netns`), where the stack listens on a lab address of its own.

pub mod adversary;
pub mod api;
pub mod client;
pub mod harness;
pub mod mitm;
pub mod netns;
pub mod proxy;
pub mod pty;

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use axt_kit::{
    process::{run_to_end, Supervised},
    user::TemporaryUser,
};
use clap::Parser as _;
use serde_json::Value;

pub use api::Api;
pub use axt_kit::PROXY_VARS;
pub use harness::bin;

pub const KEY_ID: &str = "LTAIe2eTestKey0000000001";
pub const SECRET: &str = "e2e-test-secret";
pub const REGION: &str = "cn-hangzhou";
pub const INTERNAL_TOKEN: &str = "e2e-internal-token";

/// A control plane and a gateway, TLS with a fresh lab CA.
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub cp_addr: SocketAddr,
    pub gw_addr: SocketAddr,
    pub ca: PathBuf,
    pub plane: Arc<axt_control_plane::Shared>,
    pub gateway: Arc<axt_gateway::Shared>,
    /// The agents, then the services (fields drop in this order).
    agents: Vec<Supervised>,
    _gateway: axt_gateway::Background,
    _plane: axt_control_plane::Background,
    /// Who the agents' sessions run as; goes after the agents.
    pub user: SessionUser,
}

impl Stack {
    /// Starts both services on loopback; `cp_flags` and `gw_flags` are added to their command
    /// lines.
    pub async fn start(cp_flags: &[&str], gw_flags: &[&str]) -> Self {
        Self::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST), cp_flags, gw_flags).await
    }

    /// Starts both services listening on `host` (port 0 each): the gateway's public URL, and so
    /// its certificate and every session URL, name that address.
    pub async fn start_on(host: IpAddr, cp_flags: &[&str], gw_flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let cp_listener = tokio::net::TcpListener::bind((host, 0)).await.unwrap();
        let gw_listener = tokio::net::TcpListener::bind((host, 0)).await.unwrap();
        let (cp_addr, gw_addr) = (
            cp_listener.local_addr().unwrap(),
            gw_listener.local_addr().unwrap(),
        );
        let gw_url = format!("wss://{gw_addr}");

        let mut args: Vec<String> = ["axt-control-plane", "--data-dir"]
            .map(String::from)
            .to_vec();
        args.push(dir.path().join("cp").display().to_string());
        args.extend([
            "--gateway-url".into(),
            gw_url.clone(),
            "--internal-token".into(),
            INTERNAL_TOKEN.into(),
        ]);
        args.extend([
            "--admin-access-key-id".into(),
            KEY_ID.into(),
            "--admin-access-key-secret".into(),
            SECRET.into(),
        ]);
        args.extend(cp_flags.iter().map(|s| s.to_string()));
        let plane = axt_control_plane::App::open(axt_control_plane::Config::parse_from(args))
            .await
            .unwrap()
            .spawn(cp_listener)
            .unwrap();

        let mut args: Vec<String> = vec![
            "axt-gateway".into(),
            "--data-dir".into(),
            dir.path().join("gw").display().to_string(),
        ];
        args.extend([
            "--control-plane".into(),
            format!("http://{cp_addr}"),
            "--internal-token".into(),
            INTERNAL_TOKEN.into(),
        ]);
        args.extend([
            "--public-url".into(),
            gw_url,
            "--listen".into(),
            gw_addr.to_string(),
        ]);
        args.extend(gw_flags.iter().map(|s| s.to_string()));
        let gateway = axt_gateway::Gateway::open(axt_gateway::Config::parse_from(args))
            .await
            .unwrap()
            .spawn(gw_listener)
            .unwrap();
        let ca = dir.path().join("gw").join("ca.pem");
        Self {
            dir,
            cp_addr,
            gw_addr,
            ca,
            plane: plane.shared.clone(),
            gateway: gateway.shared.clone(),
            agents: Vec::new(),
            _gateway: gateway,
            _plane: plane,
            user: SessionUser::new(),
        }
    }

    pub fn api(&self) -> Api {
        Api::new(self.cp_addr, KEY_ID, SECRET)
    }

    /// Environment for `axt`: credentials, endpoint, region and the lab CA.
    pub fn cli_env(&self) -> Vec<(String, String)> {
        vec![
            ("ALIBABA_CLOUD_ACCESS_KEY_ID".into(), KEY_ID.into()),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET".into(), SECRET.into()),
            (
                "ALIBABA_CLOUD_ECS_ENDPOINT".into(),
                self.cp_addr.to_string(),
            ),
            ("ALIBABA_CLOUD_REGION_ID".into(), REGION.into()),
            ("AXT_CA_CERT".into(), self.ca.display().to_string()),
            (
                "ALIBABA_CLOUD_CONFIG_FILE".into(),
                self.dir
                    .path()
                    .join("no-aliyun-config.json")
                    .display()
                    .to_string(),
            ),
        ]
    }

    /// Registers and runs a real agent (a managed instance); returns its instance id once its
    /// kick channel is up.
    pub async fn agent(&mut self, extra: &[&str]) -> String {
        self.agent_via(&[], extra).await
    }

    /// Like [`Stack::agent`], with both `axt-agent register` and `axt-agent run` started
    /// through `launcher` (a program and its arguments that end by running the command they are
    /// given, such as `ip netns exec NS`), so the agent can run on another (network) host.
    pub async fn agent_via(&mut self, launcher: &[String], extra: &[&str]) -> String {
        let name = format!("agent-{}", self.agents.len());
        let dir = self.dir.path().to_owned();
        let mut args = vec!["--default-user".to_owned(), self.user.name()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let (agent, instance) = start_agent(
            &self.api(),
            &dir,
            &name,
            launcher,
            self.gw_addr,
            &self.ca,
            &args,
        )
        .await;
        self.agents.push(agent);
        let gateway = self.gateway.clone();
        wait_for(LIMIT, || gateway.kicks.online(&instance)).await;
        instance
    }

    /// Ids of the sessions with a connection through this stack's gateway.
    pub async fn live_session_ids(&self) -> Vec<String> {
        self.gateway.channels.live_sessions()
    }

    /// Kills every agent this stack started (SIGKILL: no goodbye to the gateway).
    pub fn stop_agents(&mut self) {
        for mut agent in self.agents.drain(..) {
            agent.kill();
        }
    }

    /// Starts a session through the API.
    pub async fn start_session(&self, pairs: &[(&str, &str)]) -> Value {
        let mut all = vec![("RegionId", REGION)];
        all.extend_from_slice(pairs);
        let (status, body) = self.api().call("StartTerminalSession", &all).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// An HTTPS client for the gateway's agent surface, trusting the lab CA alone, connecting
    /// from `from` (a loopback address) when given.
    pub fn gateway_http(&self, from: Option<IpAddr>) -> reqwest::Client {
        let ca = std::fs::read(&self.ca).unwrap();
        reqwest::Client::builder()
            .no_proxy()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .local_address(from)
            .timeout(LIMIT)
            .build()
            .unwrap()
    }

    /// Starts a session with `pairs` and connects to its URL as a schema-1.01 client.
    pub async fn open(&self, pairs: &[(&str, &str)]) -> client::RawClient {
        let started = self.start_session(pairs).await;
        let url = started["WebSocketUrl"].as_str().unwrap();
        client::RawClient::connect(url, &self.ca, false)
            .await
            .unwrap_or_else(|refused| panic!("{url} refused: {refused:?}"))
    }

    /// `(Status, ClosedReason)` of a session's first connection, as DescribeTerminalSessions
    /// shows them.
    pub async fn connection_end(&self, session_id: &str) -> (String, String) {
        let connections = self.connections(session_id).await;
        let field = |name: &str| connections[0][name].as_str().unwrap_or_default().to_owned();
        (field("Status"), field("ClosedReason"))
    }

    /// The connections of a session as DescribeTerminalSessions shows them.
    pub async fn connections(&self, session_id: &str) -> Vec<Value> {
        let (_, body) = self
            .api()
            .call(
                "DescribeTerminalSessions",
                &[("RegionId", REGION), ("SessionId", session_id)],
            )
            .await;
        body["Sessions"]["Session"][0]["Connections"]["Connection"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// Registers an agent with a fresh activation of `api` and runs it against the gateway at
/// `server` (trusting `ca`), through `launcher`, with `run_args` (its `--default-user`, say);
/// its state and log are `dir/<name>` and `dir/<name>.log`. Returns it (killed on drop) and
/// its instance id.
pub async fn start_agent(
    api: &Api,
    dir: &std::path::Path,
    name: &str,
    launcher: &[String],
    server: SocketAddr,
    ca: &std::path::Path,
    run_args: &[String],
) -> (Supervised, String) {
    let act = api
        .call("CreateActivation", &[("RegionId", REGION)])
        .await
        .1;
    let state = dir.join(name);
    let log = dir.join(format!("{name}.log"));
    let mut register = axt_kit::process::command(launcher, bin("axt-agent"));
    register
        .args([
            "register",
            "--server",
            &server.to_string(),
            "--region",
            REGION,
        ])
        .args(["--activation-code", act["ActivationCode"].as_str().unwrap()])
        .args(["--activation-id", act["ActivationId"].as_str().unwrap()])
        .arg("--state-dir")
        .arg(&state)
        .arg("--ca-cert")
        .arg(ca);
    run_to_end(&format!("{name} register"), register, &log, LIMIT)
        .await
        .unwrap();
    let instance = std::fs::read_to_string(state.join("instance-id"))
        .unwrap()
        .trim()
        .to_owned();
    let mut run = axt_kit::process::command(launcher, bin("axt-agent"));
    run.args(["run", "--state-dir"])
        .arg(&state)
        .args(run_args)
        .env("RUST_LOG", "info");
    (Supervised::spawn(name, run, &log).unwrap(), instance)
}

/// The account sessions run as: as root (CI), a temporary one made for the stack (sessions may
/// not run as root); otherwise whoever runs the tests.
pub struct SessionUser(Option<TemporaryUser>);

impl SessionUser {
    pub fn new() -> Self {
        Self(is_root().then(|| TemporaryUser::create("axt-e2e-").unwrap()))
    }

    /// The login name.
    pub fn name(&self) -> String {
        match &self.0 {
            Some(user) => user.name().to_owned(),
            None => std::env::var("USER").unwrap_or_else(|_| "nobody".into()),
        }
    }
}

impl Default for SessionUser {
    fn default() -> Self {
        Self::new()
    }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Waits for `condition` for at most `limit`; fails the test when it never holds.
pub async fn wait_for(limit: Duration, condition: impl FnMut() -> bool) {
    axt_kit::wait::assert_within(limit, "a condition the test waits for", condition).await;
}

/// A TCP echo server on loopback for any number of connections, each echoed until its peer
/// stops sending; returns its port.
pub async fn echo_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut read, mut write) = conn.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
                let _ = tokio::io::AsyncWriteExt::shutdown(&mut write).await;
            });
        }
    });
    port
}

/// How long a service of the stack may take to be ready.
const LIMIT: Duration = Duration::from_secs(30);
