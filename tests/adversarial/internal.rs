//! The control plane's internal API (`/internal/v1/*`, bearer token): every route without a
//! token or with a wrong one (401), then with the right token and bodies that are not its
//! request — garbage, truncated, fields missing, unknown or of the wrong type, nested too deep,
//! too large (4xx). Never a 5xx. The well-formed bodies name ids nobody has, and a gateway id
//! of their own, so that the calls that do go through change nothing of the stack's.

use axt_e2e::INTERNAL_TOKEN;
use axt_proto::{
    internal::{
        AgentHeartbeat, AgentIdentityRequest, AppendRecording, Call, ChannelSpecRequest,
        DecryptDataKey, DeregisterAgent, GatewayLease, GatewayStarted, KickChannel, OpenChannel,
        RecordChannel, RegisterAgent, ResumeChannel, SessionStates, VerifyToken, BASE, ROUTES,
    },
    status::ConnectionStatus,
};
use serde_json::{json, Value};

use super::{exchange, expect_refused, Ctx};

const GATEWAY: &str = "gw-adversary";

pub async fn attack(ctx: &Ctx) {
    let samples = samples();
    for route in ROUTES {
        assert!(
            samples.iter().any(|(r, _)| r == route),
            "no sample body for {route}: add one"
        );
    }
    for (route, sample) in &samples {
        wrong_tokens(ctx, route, sample).await;
        well_formed(ctx, route, sample).await;
        wrong_bodies(ctx, route, sample).await;
    }
    odd_requests(ctx).await;
}

/// A well-formed request of every route, about ids nobody has.
fn samples() -> Vec<(&'static str, Value)> {
    fn sample<C: Call>(call: C) -> (&'static str, Value) {
        (C::ROUTE, serde_json::to_value(call).unwrap())
    }
    let s = || "s-adversary000000000".to_owned();
    let c = || "c-adversary0000000000000000".to_owned();
    let i = || "mi-adversary0000000".to_owned();
    let g = || GATEWAY.to_owned();
    let boot = || "adversary-boot".to_owned();
    vec![
        sample(VerifyToken {
            session_id: s(),
            token: "t".into(),
        }),
        sample(SessionStates {
            session_ids: vec![s()],
        }),
        sample(OpenChannel {
            session_id: s(),
            token: "t".into(),
            client_ip: "192.0.2.1".into(),
            gateway_id: g(),
            gateway_boot: boot(),
            instance_id: None,
        }),
        sample(ResumeChannel {
            channel_id: c(),
            session_id: s(),
            token: "t".into(),
            gateway_id: g(),
            gateway_boot: boot(),
        }),
        sample(ChannelSpecRequest { channel_id: c() }),
        sample(RecordChannel::status(&c(), ConnectionStatus::Failed)),
        sample(RegisterAgent {
            activation_id: "nothing".into(),
            activation_code: "nothing".into(),
            public_key: "nothing".into(),
            machine_id: "m".into(),
            region_id: axt_e2e::REGION.into(),
            instance_name: String::new(),
            hostname: "h".into(),
            intranet_ip: "<nil>".into(),
            os_type: "linux".into(),
            os_version: "x".into(),
            agent_version: "2.3.0.1".into(),
            claim_instance_id: None,
            source_ip: "192.0.2.1".into(),
        }),
        sample(AgentHeartbeat {
            instance_id: i(),
            agent_version: "2.3.0.1".into(),
            gateway_id: g(),
            gateway_boot: boot(),
            kick_link: Some(1),
        }),
        sample(AgentIdentityRequest { instance_id: i() }),
        sample(DeregisterAgent { instance_id: i() }),
        sample(KickChannel {
            instance_id: i(),
            gateway_id: g(),
            gateway_boot: boot(),
            link: 1,
            open: true,
        }),
        sample(GatewayStarted {
            gateway_id: g(),
            gateway_boot: boot(),
        }),
        sample(GatewayLease {
            gateway_id: g(),
            gateway_boot: boot(),
            channel_ids: vec![c()],
        }),
        sample(DecryptDataKey {
            channel_id: c(),
            instance_id: i(),
            ciphertext_blob: "bm90IGEgYmxvYg==".into(),
        }),
        sample(AppendRecording {
            session_id: s(),
            channel_id: c(),
            instance_id: i(),
            offset: 0,
            data: "{\"version\":2,\"width\":80,\"height\":24}\n".into(),
            last: false,
        }),
    ]
}

/// POSTs `body` to `route` with an `Authorization` header (or none); returns the status and
/// the body.
async fn post(ctx: &Ctx, route: &str, auth: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let mut request = ctx
        .http
        .post(format!("http://{}{BASE}{route}", ctx.stack.cp_addr))
        .header("content-type", "application/json")
        .body(body);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
        // The server may refuse and close before a large body is all sent: a close.
        Err(e) if e.is_request() && !e.is_timeout() => (0, e.to_string()),
        Err(e) => panic!("{route}: {e}"),
    }
}

/// The right token, as the gateway sends it.
fn bearer() -> String {
    format!("Bearer {INTERNAL_TOKEN}")
}

/// No token, and wrong ones of the same length, other lengths, other schemes: 401, whatever
/// the body.
async fn wrong_tokens(ctx: &Ctx, route: &str, sample: &Value) {
    let same_length: String = INTERNAL_TOKEN
        .chars()
        .map(|c| if c == 'x' { 'y' } else { 'x' })
        .collect();
    let auths = [
        None,
        Some(format!("Bearer {same_length}")),
        Some("Bearer ".to_owned()),
        Some("Bearer e".to_owned()),
        Some(format!("{}x", bearer())),
        Some(format!("Bearer  {INTERNAL_TOKEN}")),
        Some(format!("bearer{INTERNAL_TOKEN}")),
        Some(format!("Basic {INTERNAL_TOKEN}")),
        Some(INTERNAL_TOKEN.to_owned()),
    ];
    for auth in &auths {
        for body in [sample.to_string().into_bytes(), ctx.bytes(64)] {
            let (status, text) = post(ctx, route, auth.as_deref(), body).await;
            assert_eq!(status, 401, "{route} with {auth:?}: {text}");
            let refusal: Value = serde_json::from_str(&text).unwrap_or_default();
            assert_eq!(refusal["code"], "Unauthorized", "{route}: {text}");
        }
    }
    // A token with bytes that are not text, written raw.
    let request = format!(
        "POST {BASE}{route} HTTP/1.1\r\nHost: cp\r\nConnection: close\r\n\
         Authorization: Bearer \u{ff}{INTERNAL_TOKEN}\r\nContent-Length: 2\r\n\r\n{{}}"
    );
    let mut bytes = request.into_bytes();
    if let Some(at) = bytes.iter().position(|b| *b == 0xc3) {
        bytes.remove(at); // a lone 0xbf (0xff as UTF-8 is c3 bf): not UTF-8
    }
    let outcome = exchange(&ctx.cp, bytes).await;
    if let Some(answer) = expect_refused(&outcome, "a token that is not UTF-8") {
        assert_eq!(answer.status, 401, "{route}: {}", answer.text());
    }
}

/// The route's own request about ids nobody has: answered (a refusal or "done"), never with a
/// server error.
async fn well_formed(ctx: &Ctx, route: &str, sample: &Value) {
    let (status, text) = post(ctx, route, Some(&bearer()), sample.to_string().into_bytes()).await;
    assert!(
        status == 200 || (400..500).contains(&status) && status != 401,
        "{route} {sample}: {status} {text}"
    );
}

/// Bodies that are not the route's request: 400 `MalformedRequest`, or 413 when too large.
async fn wrong_bodies(ctx: &Ctx, route: &str, sample: &Value) {
    let text = sample.to_string();
    let mut bodies: Vec<(String, Vec<u8>)> = vec![
        ("garbage".into(), ctx.bytes(512)),
        ("empty".into(), Vec::new()),
        (
            "truncated".into(),
            text.as_bytes()[..text.len() / 2].to_vec(),
        ),
        ("null".into(), b"null".to_vec()),
        ("an array".into(), b"[]".to_vec()),
        ("{}".into(), b"{}".to_vec()),
        ("nested too deep".into(), "[".repeat(100_000).into_bytes()),
        ("a huge number".into(), b"1e999999999".to_vec()),
        (
            "utf-16".into(),
            text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        ),
    ];
    let fields: Vec<(String, Value)> = sample
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut unknown = sample.clone();
    unknown["adversary"] = json!(1);
    bodies.push(("an unknown field".into(), unknown.to_string().into_bytes()));
    for (name, value) in &fields {
        let mut missing = sample.clone();
        missing.as_object_mut().unwrap().remove(name);
        bodies.push((format!("without {name}"), missing.to_string().into_bytes()));
        let mut wrong = sample.clone();
        wrong[name] = match value {
            Value::String(_) => json!(12345),
            Value::Number(_) => json!("12"),
            Value::Bool(_) => json!("true"),
            Value::Array(_) => json!({"0": "x"}),
            Value::Object(_) | Value::Null => json!([1, 2]),
        };
        bodies.push((
            format!("{name} of the wrong type"),
            wrong.to_string().into_bytes(),
        ));
        // Twice, the second time with another value.
        let twice = text.replacen('{', &format!("{{\"{name}\":{},", wrong[name]), 1);
        bodies.push((format!("{name} twice"), twice.into_bytes()));
    }
    let (first, _) = fields.first().cloned().unwrap();
    let mut huge = sample.clone();
    huge[&first] = json!("x".repeat(3 << 20));
    for (what, body) in bodies {
        let (status, answer) = post(ctx, route, Some(&bearer()), body).await;
        assert_eq!(status, 400, "{route}, {what}: {answer}");
        assert!(
            answer.contains("MalformedRequest"),
            "{route}, {what}: {answer}"
        );
    }
    let (status, answer) = post(ctx, route, Some(&bearer()), huge.to_string().into_bytes()).await;
    assert!(
        matches!(status, 0 | 400 | 413),
        "{route}, a 3 MiB body: {status} {answer}"
    );
}

/// Methods, routes and paths the API does not have.
async fn odd_requests(ctx: &Ctx) {
    let token = bearer();
    for auth in [None, Some(token.as_str())] {
        for path in [
            format!("{BASE}/nothing"),
            format!("{BASE}/"),
            format!("{BASE}/channels/spec/../../v1/channels/spec"),
            format!("{BASE}//channels/spec"),
            "/internal/v2/channels/spec".to_owned(),
        ] {
            let mut request = ctx
                .http
                .post(format!("http://{}{path}", ctx.stack.cp_addr))
                .body("{}");
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            let status = request.send().await.unwrap().status().as_u16();
            assert!((400..500).contains(&status), "POST {path}: {status}");
        }
        for route in ROUTES {
            let mut request = ctx
                .http
                .get(format!("http://{}{BASE}{route}", ctx.stack.cp_addr));
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            let status = request.send().await.unwrap().status().as_u16();
            assert!((400..500).contains(&status), "GET {route}: {status}");
        }
    }
}
