//! A control plane on port 0 in a temporary data directory, and a client that signs its calls
//! the way the SDKs do (with the same proto code the CLI uses).

#![allow(dead_code)]

use std::{net::SocketAddr, sync::Arc};

use axt_control_plane::{App, Background, Config, Shared};
use axt_gateway::control_plane::ControlPlane;
use axt_proto::internal::{AgentHeartbeat, RegisterAgent};
use axt_proto::openapi::{v1, v3, Credentials, Params, TIMESTAMP_FORMAT};
use clap::Parser as _;
use serde_json::Value;

pub const KEY_ID: &str = "LTAIexampleTestKey";
pub const SECRET: &str = "testsecret";
pub const REGION: &str = "cn-hangzhou";
pub const INTERNAL_TOKEN: &str = "test-internal-token";
/// The gateway the tests play.
pub const GATEWAY_ID: &str = "gw-test";

/// A registration against activation `act` (a CreateActivation answer) of an agent on a Linux
/// host.
pub fn registration(act: &Value) -> RegisterAgent {
    RegisterAgent {
        activation_id: act["ActivationId"].as_str().unwrap().into(),
        activation_code: act["ActivationCode"].as_str().unwrap().into(),
        public_key: "-----BEGIN PUBLIC KEY-----\ntest\n-----END PUBLIC KEY-----\n".into(),
        machine_id: "m-1".into(),
        region_id: REGION.into(),
        instance_name: String::new(),
        hostname: "lab-host".into(),
        intranet_ip: "10.0.0.9".into(),
        os_type: "linux".into(),
        os_version: "Debian 12".into(),
        agent_version: "2.4.3.100".into(),
        claim_instance_id: None,
        source_ip: "127.0.0.1".into(),
    }
}

/// A running control plane; stopped when dropped.
pub struct TestPlane {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    pub dir: tempfile::TempDir,
    _running: Background,
}

impl TestPlane {
    /// Starts one with the admin key above and `extra` flags.
    pub async fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let defaults = [
            ("--data-dir", dir.path().display().to_string()),
            ("--gateway-url", "wss://gw.lab.test:8443".to_owned()),
            ("--gateway-intranet-url", "wss://10.0.0.1:8443".to_owned()),
            ("--internal-token", INTERNAL_TOKEN.to_owned()),
            ("--admin-access-key-id", KEY_ID.to_owned()),
            ("--admin-access-key-secret", SECRET.to_owned()),
        ];
        let mut args = vec!["axt-control-plane".to_owned()];
        for (flag, value) in defaults {
            if !extra.contains(&flag) {
                args.extend([flag.to_owned(), value]);
            }
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let config = Config::parse_from(args);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let running = App::open(config).await.unwrap().spawn(listener).unwrap();
        Self {
            addr: running.addr,
            shared: running.shared.clone(),
            dir,
            _running: running,
        }
    }

    pub fn client(&self) -> Client {
        Client {
            http: reqwest::Client::new(),
            addr: self.addr,
            key: KEY_ID.into(),
            secret: SECRET.into(),
        }
    }

    /// The gateway's own client of the internal API, pointed at this plane.
    pub fn gateway(&self) -> ControlPlane {
        ControlPlane::new(&format!("http://{}", self.addr), INTERNAL_TOKEN.into())
    }

    /// Registers an agent with a fresh activation, claiming `claim` when given, and beats
    /// once with `version` through a gateway that holds its kick channel, as a gateway
    /// would. Returns the instance id.
    pub async fn agent(&self, claim: Option<&str>, version: &str) -> String {
        let (_, act) = self
            .client()
            .call("CreateActivation", &[("RegionId", REGION)])
            .await;
        let registration = RegisterAgent {
            claim_instance_id: claim.map(str::to_owned),
            agent_version: version.into(),
            ..registration(&act)
        };
        let gateway = self.gateway();
        let id = gateway.call(&registration).await.unwrap().instance_id;
        let beat = AgentHeartbeat {
            instance_id: id.clone(),
            agent_version: version.into(),
            gateway_id: GATEWAY_ID.into(),
            gateway_boot: "boot-1".into(),
            kick_link: Some(1),
        };
        gateway.call(&beat).await.unwrap();
        id
    }

    /// A Running ECS instance with an online agent of a supported version.
    pub async fn ready_instance(&self) -> String {
        let (_, run) = self
            .client()
            .call("RunInstances", &[("RegionId", REGION)])
            .await;
        let id = run["InstanceIdSets"]["InstanceIdSet"][0]
            .as_str()
            .unwrap()
            .to_owned();
        self.agent(Some(&id), "2.4.3.100").await
    }
}

/// Signs and sends OpenAPI calls.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub addr: SocketAddr,
    pub key: String,
    pub secret: String,
}

pub fn params(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn now() -> String {
    chrono::Utc::now().format(TIMESTAMP_FORMAT).to_string()
}

pub fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Client {
    fn creds(&self) -> Credentials<'_> {
        Credentials {
            access_key_id: &self.key,
            secret: &self.secret,
        }
    }

    /// A V1-signed POST with every parameter in the query, as the legacy SDK sends it.
    pub async fn call(&self, action: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
        let mut p = params(pairs);
        p.insert("Action".into(), action.into());
        v1::sign_request("POST", &mut p, self.creds(), &now(), &nonce());
        self.send_query(reqwest::Method::POST, &p, &[]).await
    }

    /// A V3-signed POST.
    pub async fn call_v3(&self, action: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
        let p = params(pairs);
        let host = self.addr.to_string();
        let headers = v3::sign_request("POST", &host, action, &p, self.creds(), &now(), &nonce());
        self.send_query(reqwest::Method::POST, &p, &headers).await
    }

    /// Sends `p` form-encoded in the query (`+` for spaces) with `headers`.
    pub async fn send_query(
        &self,
        method: reqwest::Method,
        p: &Params,
        headers: &[(String, String)],
    ) -> (u16, Value) {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(p.iter())
            .finish();
        let mut req = self
            .http
            .request(method, format!("http://{}/?{query}", self.addr));
        for (name, value) in headers {
            if !name.eq_ignore_ascii_case("host") {
                req = req.header(name, value);
            }
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
        )
    }
}

/// Asserts an Alibaba error body with `code` and `status`.
#[track_caller]
pub fn assert_error(got: &(u16, Value), status: u16, code: &str) {
    let (s, body) = got;
    assert_eq!(
        (*s, body["Code"].as_str().unwrap_or("")),
        (status, code),
        "{body}"
    );
    for field in ["RequestId", "HostId", "Message", "Recommend"] {
        assert!(
            body[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field} missing in {body}"
        );
    }
}
