//! The internal API gateways call: its token, the token checks, channel allocation under the
//! per-instance limit, the spec agents pull, and connection state.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_internal_api_wants_its_token() {
    let plane = TestPlane::start(&[]).await;
    for token in ["", "test-internal-tokeN", "Bearer x"] {
        let resp = reqwest::Client::new()
            .post(format!("http://{}/internal/v1/sessions/verify", plane.addr))
            .header("authorization", format!("Bearer {token}"))
            .json(&json!({"sessionId": "s-1", "token": "t"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
}

#[tokio::test]
async fn channels_carry_the_spec_the_stock_agent_expects() {
    let plane = TestPlane::start(&["--session-rate-limit", "204800"]).await;
    let instance = plane.ready_instance().await;
    let (_, s) = plane
        .client()
        .call(
            "StartTerminalSession",
            &[
                ("RegionId", REGION),
                ("InstanceId.1", &instance),
                ("PortNumber", "8080"),
                ("TargetServer", "db.internal"),
                ("Username", "ops"),
            ],
        )
        .await;
    let (status, opened) = plane.internal(Method::POST, "/channels", Some(json!({
        "sessionId": s["SessionId"], "token": s["SecurityToken"], "clientIp": "127.0.0.1", "gatewayId": "gw"}))).await;
    assert_eq!(status, 200, "{opened}");
    let channel = opened["channelId"].as_str().unwrap();
    assert!(channel.len() <= 32);
    let (status, pulled) = plane
        .internal(Method::GET, &format!("/channels/{channel}"), None)
        .await;
    assert_eq!(status, 200);
    let spec = &pulled["spec"];
    assert_eq!(spec["channelId"], channel);
    assert_eq!(spec["portNumber"], "8080", "a JSON string, never a number");
    assert_eq!(
        (spec["targetHost"].as_str(), spec["username"].as_str()),
        (Some("db.internal"), Some("ops"))
    );
    assert_eq!(spec["flowLimit"], 1_638_400);
    assert_eq!(pulled["status"], "Connecting");
    assert_eq!(
        plane
            .internal(Method::GET, "/channels/c-unknown", None)
            .await
            .0,
        404
    );

    // Connected marks the session active; an ended connection stays ended.
    let path = format!("/channels/{channel}/state");
    let state = |body: serde_json::Value| plane.internal(Method::POST, &path, Some(body));
    assert_eq!(state(json!({"status": "Connected"})).await.0, 200);
    let session = plane
        .shared
        .store
        .session(s["SessionId"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.state, "Active");
    assert_eq!(state(json!({"status": "Failed", "closedReason": "AgentNotOnline", "failedDetail": "no kick channel"})).await.0, 200);
    assert_eq!(
        state(json!({"status": "Connected", "bytesOut": 99}))
            .await
            .0,
        200
    );
    let c = plane
        .shared
        .store
        .connection(channel)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (c.status.as_str(), c.closed_reason.as_str(), c.bytes_out),
        ("Failed", "AgentNotOnline", 99)
    );
    assert!(c.end_time.is_some());
    assert_eq!(state(json!({"status": "Bogus"})).await.0, 400);
}

#[tokio::test]
async fn tokens_are_checked_and_urls_expire() {
    let plane = TestPlane::start(&["--url-ttl-secs", "0"]).await;
    let instance = plane.ready_instance().await;
    let (_, s) = plane
        .client()
        .call(
            "StartTerminalSession",
            &[("RegionId", REGION), ("InstanceId.1", &instance)],
        )
        .await;
    let (status, body) = plane
        .internal(
            Method::POST,
            "/sessions/verify",
            Some(json!({"sessionId": s["SessionId"], "token": s["SecurityToken"]})),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (410, Some("UrlExpired")));
    let (status, body) = plane.internal(Method::POST, "/channels", Some(json!({"sessionId": s["SessionId"], "token": "d86c2df2-d19c-4bd8-b817-a19ef1230000"}))).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("InvalidToken")));
}

#[tokio::test]
async fn the_per_instance_session_limit_holds_under_concurrency() {
    let plane = std::sync::Arc::new(
        TestPlane::start(&[
            "--max-connections-per-instance",
            "5",
            "--max-sessions-per-region",
            "100",
        ])
        .await,
    );
    let instance = plane.ready_instance().await;
    let mut bodies = Vec::new();
    for _ in 0..20 {
        let (_, s) = plane
            .client()
            .call(
                "StartTerminalSession",
                &[("RegionId", REGION), ("InstanceId.1", &instance)],
            )
            .await;
        bodies.push(json!({"sessionId": s["SessionId"], "token": s["SecurityToken"]}));
    }
    let tries: Vec<_> = bodies
        .iter()
        .map(|body| {
            let (plane, body) = (plane.clone(), body.clone());
            tokio::spawn(async move {
                plane
                    .internal(Method::POST, "/channels", Some(body))
                    .await
                    .0
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tries {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 5);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 15);
    // A connected session may open more connections (a port forward opens one per TCP
    // connection) without counting again.
    let mut more = 0;
    for body in &bodies {
        if plane
            .internal(Method::POST, "/channels", Some(body.clone()))
            .await
            .0
            == 200
        {
            more += 1;
        }
    }
    assert_eq!(
        more, 5,
        "only the five connected sessions get more channels"
    );
}

#[tokio::test]
async fn agents_register_beat_and_show_their_key() {
    let plane = TestPlane::start(&[]).await;
    let id = plane.agent(None, "2.2.3.578").await;
    let (status, agent) = plane
        .internal(Method::GET, &format!("/agents/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert!(agent["publicKey"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(
        (agent["kind"].as_str(), agent["machineId"].as_str()),
        (Some("managed"), Some("m-1"))
    );
    let (status, _) = plane
        .internal(Method::POST, "/agents/mi-nobody/heartbeat", Some(json!({})))
        .await;
    assert_eq!(status, 404);
    // A simulated instance can be claimed once only.
    let (_, run) = plane
        .client()
        .call("RunInstances", &[("RegionId", REGION)])
        .await;
    let ecs = run["InstanceIdSets"]["InstanceIdSet"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(plane.agent(Some(&ecs), "2.4.3.1").await, ecs);
    let (_, act) = plane
        .client()
        .call("CreateActivation", &[("RegionId", REGION)])
        .await;
    let (status, body) = plane.internal(Method::POST, "/agents/register", Some(json!({
        "activationId": act["ActivationId"], "activationCode": act["ActivationCode"], "publicKey": "PEM", "claimInstanceId": ecs}))).await;
    assert_eq!(status, 400, "{body}");
}
