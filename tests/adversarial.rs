//! The adversarial suite: garbage, truncated, oversized and out-of-order input on every
//! endpoint — the OpenAPI, the internal API, every `/luban` path, `/session`, the agents' kick
//! and data channels — while a neighbouring shell session stays live. Nothing may panic, every
//! answer is a refusal (never a 5xx, never a hang), and afterwards the neighbour, a new session
//! and the API all still work. The garbage is seeded: a failure prints the seed to replay it.

#[path = "adversarial/data_channel.rs"]
mod data_channel;
#[path = "adversarial/internal.rs"]
mod internal;
#[path = "adversarial/luban.rs"]
mod luban;
#[path = "adversarial/openapi.rs"]
mod openapi;
#[path = "adversarial/session.rs"]
mod session;

use std::{
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use axt_e2e::{
    adversary::{tls_config, Answer, Outcome, Panics, Rng, SeedReport, Signer, Target},
    client::RawClient,
    Stack, REGION,
};
use axt_proto::{identity::AgentKey, luban::RegisterRequest, status::ChannelState};

/// How long anything the suite waits for may take.
const LIMIT: Duration = Duration::from_secs(10);
/// The runtime's threads, whose panics are the services' (they run on it).
const THREADS: &str = "adversarial-rt";

/// What every attack needs.
pub struct Ctx {
    pub stack: Stack,
    /// The real agent's instance.
    pub instance: String,
    /// The control plane (plain HTTP) and the gateway (TLS), for raw bytes.
    pub cp: Target,
    pub gw: Target,
    /// HTTPS to the gateway, trusting the lab CA.
    pub https: reqwest::Client,
    /// HTTP to the control plane.
    pub http: reqwest::Client,
    /// The neighbour's session and channel.
    pub neighbour_session: String,
    pub neighbour_channel: String,
    /// A second instance, registered by the suite with a key of its own and no agent behind
    /// it: a genuine identity that is not the neighbour's.
    pub other: Signer,
    rng: Mutex<Rng>,
}

impl Ctx {
    fn rng(&self) -> MutexGuard<'_, Rng> {
        self.rng.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `n` bytes of garbage.
    pub fn bytes(&self, n: usize) -> Vec<u8> {
        self.rng().bytes(n)
    }

    /// `n` printable characters of garbage.
    pub fn text(&self, n: usize) -> String {
        self.rng().text(n)
    }

    /// A number below `n`.
    pub fn below(&self, n: usize) -> usize {
        self.rng().below(n)
    }

    /// `https://<gateway><path>`.
    pub fn gw_url(&self, path: &str) -> String {
        format!("https://{}{path}", self.stack.gw_addr)
    }

    /// `wss://<gateway><path>`.
    pub fn wss_url(&self, path: &str) -> String {
        format!("wss://{}{path}", self.stack.gw_addr)
    }

    /// Starts a shell session on the real agent; returns its id and URL.
    pub async fn session(&self) -> (String, String) {
        let started = self
            .stack
            .start_session(&[("InstanceId.1", &self.instance)])
            .await;
        let field = |name: &str| started[name].as_str().unwrap().to_owned();
        (field("SessionId"), field("WebSocketUrl"))
    }
}

/// Runs `f` on a blocking thread (raw sockets block); a panic in it fails the test as is.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Sends `bytes` on a new raw connection to `target` and reads the answer.
pub async fn exchange(target: &Target, bytes: Vec<u8>) -> Outcome {
    let target = target.clone();
    blocking(move || {
        let mut conn = target.connect();
        conn.send(&bytes);
        conn.answer()
    })
    .await
}

/// A refusal: a 4xx answer, or the connection closed; never a 2xx/3xx/5xx, never a hang.
pub fn expect_refused<'a>(outcome: &'a Outcome, what: &str) -> Option<&'a Answer> {
    let status = outcome.status(what);
    match outcome {
        Outcome::Answered(answer) => {
            assert!(
                (400..500).contains(&status),
                "{what}: answered {status}: {}",
                answer.text()
            );
            Some(answer)
        }
        _ => None,
    }
}

/// A refusal of the OpenAPI itself: a 4xx Alibaba error body (`Code`, `Message`,
/// `RequestId`), or the connection closed.
pub fn expect_alibaba(outcome: &Outcome, what: &str) {
    if let Some(answer) = expect_refused(outcome, what) {
        let body = answer.json().unwrap_or_default();
        for field in ["Code", "Message", "RequestId"] {
            assert!(
                body[field].is_string(),
                "{what}: {} is not an Alibaba error: {}",
                answer.status,
                answer.text()
            );
        }
    }
}

/// The live shell session next door, which every attack must leave alone.
struct Neighbour(RawClient);

impl Neighbour {
    /// Types a sum and reads its result: the session still works both ways.
    async fn prove(&mut self, tag: &str) {
        self.0.input(&format!("echo {tag}-$((6*7))\r")).await;
        self.0.expect_output(&format!("{tag}-42"), LIMIT).await;
    }
}

#[test]
fn nothing_an_adversary_sends_breaks_the_stack() {
    let panics = Panics::install(THREADS);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(THREADS)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(suite(&panics));
    drop(runtime);
    assert_eq!(panics.count(), 0, "panics: {:#?}", panics.seen());
}

async fn suite(panics: &Panics) {
    let seed = Rng::seed();
    let _report = SeedReport(seed);
    // A short header-read timeout, so that the suite sees half-sent requests cut off quickly.
    let timeout = ["--header-read-timeout-secs", "2"];
    let mut stack = Stack::start(&timeout, &timeout).await;
    let instance = stack.agent(&[]).await;

    let started = stack.start_session(&[("InstanceId.1", &instance)]).await;
    let url = started["WebSocketUrl"].as_str().unwrap();
    let mut neighbour = Neighbour(RawClient::connect(url, &stack.ca, false).await.unwrap());
    neighbour
        .0
        .expect_status(ChannelState::Opened as u8, LIMIT)
        .await;
    neighbour.prove("before").await;

    let https = stack.gateway_http(None);
    let other = register_other(&stack, &https).await;
    let ctx = Ctx {
        cp: Target {
            addr: stack.cp_addr,
            tls: None,
        },
        gw: Target {
            addr: stack.gw_addr,
            tls: Some(tls_config(&stack.ca)),
        },
        http: reqwest::Client::builder()
            .no_proxy()
            .timeout(LIMIT)
            .build()
            .unwrap(),
        https,
        neighbour_session: started["SessionId"].as_str().unwrap().to_owned(),
        neighbour_channel: neighbour.0.channel_id.clone(),
        other,
        instance,
        stack,
        rng: Mutex::new(Rng::new(seed)),
    };
    assert!(!ctx.neighbour_channel.is_empty());

    openapi::attack(&ctx).await;
    neighbour.prove("openapi").await;
    internal::attack(&ctx).await;
    neighbour.prove("internal").await;
    // The suite's own identity works before the forged ones: a flood of failed identities
    // may cost an address its control-plane lookups (only keys already cached keep
    // verifying), and the genuine agents behind that address must be unaffected.
    data_channel::attack(&ctx).await;
    neighbour.prove("agent").await;
    session::attack(&ctx).await;
    neighbour.prove("session").await;
    luban::attack(&ctx).await;
    neighbour.prove("luban").await;

    // Afterwards: the neighbour, a new session, and the API all still work.
    neighbour.prove("after").await;
    // What was aimed at the neighbour's channel from elsewhere never reached it.
    let seen = neighbour.0.output_text();
    assert!(
        !seen.contains("spoofed") && !seen.contains("hijack-42"),
        "{seen}"
    );
    let (_, url) = ctx.session().await;
    let mut fresh = RawClient::connect(&url, &ctx.stack.ca, false)
        .await
        .unwrap();
    fresh.expect_status(ChannelState::Opened as u8, LIMIT).await;
    fresh.input("echo fresh-$((6*7))\r").await;
    fresh.expect_output("fresh-42", LIMIT).await;
    let api = ctx.stack.api();
    let (status, body) = api.call("DescribeInstances", &[("RegionId", REGION)]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api
        .call(
            "DescribeCloudAssistantStatus",
            &[("RegionId", REGION), ("InstanceId.1", &ctx.instance)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let set = &body["InstanceCloudAssistantStatusSet"]["InstanceCloudAssistantStatus"];
    assert_eq!(set[0]["CloudAssistantStatus"], "true", "{body}");
    assert_eq!(panics.count(), 0, "panics: {:#?}", panics.seen());
    // The agent is a child process: its panics are in its log.
    let log = std::fs::read_to_string(ctx.stack.dir.path().join("agent-0.log")).unwrap();
    assert!(!log.contains("panicked"), "the agent panicked:\n{log}");
}

/// Registers a second instance through the gateway with a fresh activation and a key made
/// here, as an agent would; returns its identity.
async fn register_other(stack: &Stack, https: &reqwest::Client) -> Signer {
    let (_, act) = stack
        .api()
        .call("CreateActivation", &[("RegionId", REGION)])
        .await;
    let key = blocking(|| AgentKey::generate().unwrap()).await;
    let machine_id = "0123456789abcdef0123456789abcdef".to_owned();
    let request = RegisterRequest {
        activation_code: act["ActivationCode"].as_str().unwrap().into(),
        activation_id: act["ActivationId"].as_str().unwrap().into(),
        machine_id: machine_id.clone(),
        region_id: REGION.into(),
        hostname: "adversary".into(),
        intranet_ip: "<nil>".into(),
        os_type: "linux".into(),
        agent_version: "2.3.0.1".into(),
        public_key: key.public_pem().unwrap(),
        ..Default::default()
    };
    let answer: serde_json::Value = https
        .post(format!(
            "https://{}/luban/api/instance/register",
            stack.gw_addr
        ))
        .json(&request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["code"], 200, "{answer}");
    Signer {
        instance_id: answer["instanceId"].as_str().unwrap().to_owned(),
        machine_id,
        key: Arc::new(key),
    }
}
