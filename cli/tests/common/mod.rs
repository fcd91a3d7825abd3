//! What the CLI tests share: the real `axt` binary in a clean environment, a real control plane
//! on port 0, and a fake gateway (a WebSocket server on port 0) that the test drives by hand.

#![allow(dead_code)]

pub mod agent_end;
pub mod echo;
pub mod tls;

use std::{net::SocketAddr, process::Stdio, time::Duration};

use axt_control_plane::{App, Background, Config};
use axt_gateway::control_plane::{ControlPlane, CpError};
use axt_proto::client_frame::{ClientFrame, ClientMessageType, SKELETON_LEN};
use axt_proto::internal::{AgentHeartbeat, RefusalCode, RegisterAgent, VerifyToken};
use clap::Parser as _;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::{net::TcpListener, process::Command};
use tokio_tungstenite::{
    tungstenite::{
        handshake::server::{ErrorResponse, Request, Response},
        Message,
    },
    WebSocketStream,
};

pub const KEY_ID: &str = "LTAIexampleTestKey";
pub const SECRET: &str = "testsecret";
pub const INTERNAL_TOKEN: &str = "test-internal-token";
/// Every wait of a test is bounded by this; nothing sleeps.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// `axt` with an empty environment and a fresh HOME, so nothing of the developer's machine
/// (keys, profiles, proxies, RUST_LOG) leaks into a test.
pub fn axt(home: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_axt"));
    cmd.env_clear()
        .env("HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// What a finished `axt` left behind.
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Waits (bounded) for `child` and collects its output.
pub async fn finish(child: tokio::process::Child) -> Outcome {
    let output = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("axt did not exit in time")
        .unwrap();
    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A control plane on port 0 with the admin key above; stopped when dropped.
pub struct TestPlane {
    pub addr: SocketAddr,
    /// Its HTTPS listener on the real endpoint names, when started with one.
    pub https: Option<SocketAddr>,
    pub dir: tempfile::TempDir,
    _running: Background,
}

impl TestPlane {
    /// Starts one whose WebSocketUrls point at `gateway_url`.
    pub async fn start(gateway_url: &str) -> Self {
        Self::start_with(gateway_url, &[]).await
    }

    /// Starts one that also serves HTTPS (`--https-listen` on port 0), its lab CA in
    /// [`TestPlane::ca_dir`].
    pub async fn start_https(gateway_url: &str) -> Self {
        Self::start_with(gateway_url, &["--https-listen", "127.0.0.1:0"]).await
    }

    /// Starts one with `extra` options.
    pub async fn start_with(gateway_url: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().display().to_string();
        let config = Config::parse_from(
            [
                "axt-control-plane",
                "--data-dir",
                &data_dir,
                "--gateway-url",
                gateway_url,
                "--internal-token",
                INTERNAL_TOKEN,
                "--admin-access-key-id",
                KEY_ID,
                "--admin-access-key-secret",
                SECRET,
            ]
            .iter()
            .chain(extra),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app = App::open(config).await.unwrap();
        let https = app.https_addr();
        let running = app.spawn(listener).unwrap();
        Self {
            addr: running.addr,
            https,
            dir,
            _running: running,
        }
    }

    /// The directory of its lab CA (`ca.pem`): the control plane's default, `<data-dir>/ca`.
    pub fn ca_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("ca")
    }

    /// A Running instance with an online agent new enough for sessions, made with `axt api`
    /// and the internal API a gateway would call.
    pub async fn ready_instance(&self, home: &std::path::Path) -> String {
        let fake_key = "-----BEGIN PUBLIC KEY-----\ntest\n-----END PUBLIC KEY-----\n";
        self.ready_instance_keyed(home, fake_key).await
    }

    /// Like [`TestPlane::ready_instance`], its agent registered with `public_key` (PEM): the
    /// identity key an encrypted session's answer vouches for.
    pub async fn ready_instance_keyed(&self, home: &std::path::Path, public_key: &str) -> String {
        let run = self.api(home, &["RunInstances"]).await;
        let id = run["InstanceIdSets"]["InstanceIdSet"][0].as_str().unwrap();
        let act = self.api(home, &["CreateActivation"]).await;
        let version = "2.4.3.100";
        let text = |v: &Value| v.as_str().unwrap().to_owned();
        let registration = RegisterAgent {
            activation_id: text(&act["ActivationId"]),
            activation_code: text(&act["ActivationCode"]),
            public_key: public_key.into(),
            machine_id: "m-1".into(),
            region_id: String::new(),
            instance_name: String::new(),
            hostname: "lab-host".into(),
            intranet_ip: String::new(),
            os_type: "linux".into(),
            os_version: String::new(),
            agent_version: version.into(),
            claim_instance_id: Some(id.to_owned()),
            source_ip: "127.0.0.1".into(),
        };
        let gateway = self.gateway();
        let id = gateway.call(&registration).await.unwrap().instance_id;
        let beat = AgentHeartbeat {
            instance_id: id.clone(),
            agent_version: version.into(),
            gateway_id: "gw-test".into(),
            gateway_boot: "boot-1".into(),
            kick_link: Some(1),
        };
        gateway.call(&beat).await.unwrap();
        id
    }

    /// `axt api ACTION…` with the admin key in the environment; must succeed.
    pub async fn api(&self, home: &std::path::Path, args: &[&str]) -> Value {
        let child = self.axt(home).arg("api").args(args).spawn().unwrap();
        let out = finish(child).await;
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    }

    /// `axt` pointed at this plane with the admin key in the environment.
    pub fn axt(&self, home: &std::path::Path) -> Command {
        let mut cmd = axt(home);
        cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
            .env("ALIBABA_CLOUD_ECS_ENDPOINT", self.addr.to_string());
        cmd
    }

    /// The gateway's client of this plane's internal API.
    pub fn gateway(&self) -> ControlPlane {
        ControlPlane::new(&format!("http://{}", self.addr), INTERNAL_TOKEN.into())
    }

    /// How the plane answers a gateway verifying `query`'s token (`sessionId=…&token=…`):
    /// `None` while the session lives, else the refusal's code.
    pub async fn verify(&self, query: &str) -> Option<RefusalCode> {
        let url = reqwest::Url::parse(&format!("ws://x/session?{query}")).unwrap();
        let param = |name: &str| {
            url.query_pairs()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let request = VerifyToken {
            session_id: param("sessionId"),
            token: param("token"),
        };
        match self.gateway().call(&request).await {
            Ok(_) => None,
            Err(CpError::Refused(refusal)) => Some(refusal.code),
            Err(e) => panic!("{e}"),
        }
    }
}

/// A gateway stand-in: one listener; each test accepts and scripts the connection itself.
pub struct FakeGateway {
    pub listener: TcpListener,
    pub addr: SocketAddr,
}

/// The server side of one session WebSocket.
pub type ServerWs = WebSocketStream<tokio::net::TcpStream>;

impl FakeGateway {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        Self { listener, addr }
    }

    /// A WebSocketUrl for this gateway.
    pub fn url(&self, token: &str) -> String {
        format!("ws://{}/session?sessionId=s-test&token={token}", self.addr)
    }

    /// Accepts one upgrade; `refuse` answers it with that response instead. Returns the
    /// socket (when accepted) and the upgrade request.
    #[allow(clippy::result_large_err)] // the callback's signature is tungstenite's, not ours
    pub async fn accept(&self, refuse: Option<ErrorResponse>) -> (Option<ServerWs>, Request) {
        let (tcp, _) = tokio::time::timeout(PATIENCE, self.listener.accept())
            .await
            .expect("no connection")
            .unwrap();
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        let callback = move |req: &Request, resp: Response| {
            let mut copy = Request::new(());
            *copy.uri_mut() = req.uri().clone();
            *copy.headers_mut() = req.headers().clone();
            seen_tx.send(copy).unwrap();
            match refuse {
                Some(refusal) => Err(refusal),
                None => Ok(resp),
            }
        };
        let ws = tokio::time::timeout(PATIENCE, tokio_tungstenite::accept_hdr_async(tcp, callback))
            .await
            .expect("no handshake")
            .ok();
        (ws, seen_rx.recv().unwrap())
    }
}

/// Sends a 1.01 frame from the gateway.
pub async fn send<S>(ws: &mut WebSocketStream<S>, kind: ClientMessageType, payload: &[u8])
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let frame = ClientFrame::v101(kind, 0, payload.to_vec())
        .encode()
        .unwrap();
    ws.send(Message::binary(frame)).await.unwrap();
}

/// The next client frame, checked to be what ali-instance-cli sends: binary, schema 1.01, at
/// least 30 bytes, empty ids, a real timestamp, and a payload length that matches.
pub async fn recv(ws: &mut ServerWs) -> ClientFrame {
    loop {
        let message = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("no frame from axt")
            .expect("axt hung up")
            .unwrap();
        let bytes = match message {
            Message::Binary(bytes) => bytes,
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a binary frame, got {other:?}"),
        };
        assert!(bytes.len() >= SKELETON_LEN, "{} bytes", bytes.len());
        let frame = ClientFrame::decode(&bytes).unwrap();
        assert_eq!(frame.schema, "1.01");
        assert_eq!((bytes[8], bytes[9]), (0, 0), "ids must be empty");
        assert!(frame.created_ms > 1_600_000_000_000, "{}", frame.created_ms);
        let len = u32::from_le_bytes(bytes[26..30].try_into().unwrap()) as usize;
        assert_eq!(len, frame.payload.len());
        return frame;
    }
}
