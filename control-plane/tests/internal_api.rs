//! The internal API, driven by the gateway's own client (`axt_gateway::control_plane`) so that
//! both sides of the contract meet here: its token, the token checks, channel allocation under
//! the per-instance limit, the spec agents pull, connection records, kick channels, agents.

mod common;

use axt_gateway::control_plane::{ControlPlane, CpError};
use axt_proto::{
    internal::{
        AgentHeartbeat, AgentIdentityRequest, Call, ChannelSpecRequest, DeregisterAgent,
        GatewayLease, GatewayStarted, KickChannel, OpenChannel, RecordChannel, RefusalCode,
        RegisterAgent, SessionStates, VerifyToken, BASE, ROUTES,
    },
    status::{ClosedReason, ConnectionStatus, SessionState, SessionVerdict},
};
use common::*;
use serde_json::{json, Value};

/// The refusal code of a call that must be refused.
fn refused<T: std::fmt::Debug>(result: Result<T, CpError>) -> RefusalCode {
    match result {
        Err(CpError::Refused(refusal)) => refusal.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A session on `instance` (`pairs` added), and the request a gateway makes to open it.
async fn open_request(plane: &TestPlane, instance: &str, pairs: &[(&str, &str)]) -> OpenChannel {
    let mut all = vec![("RegionId", REGION), ("InstanceId.1", instance)];
    all.extend_from_slice(pairs);
    let (status, s) = plane.client().call("StartTerminalSession", &all).await;
    assert_eq!(status, 200, "{s}");
    OpenChannel {
        session_id: s["SessionId"].as_str().unwrap().into(),
        token: s["SecurityToken"].as_str().unwrap().into(),
        client_ip: "127.0.0.1".into(),
        gateway_id: GATEWAY_ID.into(),
        gateway_boot: "boot-1".into(),
        instance_id: None,
    }
}

#[tokio::test]
async fn every_route_wants_the_token_and_exactly_its_own_request() {
    let plane = TestPlane::start(&[]).await;
    let http = reqwest::Client::new();
    for route in ROUTES {
        let url = format!("http://{}{BASE}{route}", plane.addr);
        for token in ["", "test-internal-tokeN", "Bearer x"] {
            let resp = http
                .post(&url)
                .header("authorization", format!("Bearer {token}"))
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 401, "{route}");
        }
        // An empty body is no route's request: refused in the contract's own shape.
        let resp = http
            .post(&url)
            .bearer_auth(INTERNAL_TOKEN)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{route}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "MalformedRequest", "{route}: {body}");
    }
    // A field renamed on one side is an error, not a default.
    let resp = http
        .post(format!("http://{}{BASE}{}", plane.addr, VerifyToken::ROUTE))
        .bearer_auth(INTERNAL_TOKEN)
        .json(&json!({"sessionID": "s-1", "token": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn channels_carry_the_spec_the_stock_agent_expects() {
    let plane = TestPlane::start(&["--session-rate-limit", "204800"]).await;
    let instance = plane.ready_instance().await;
    let cp = plane.gateway();
    let open = open_request(
        &plane,
        &instance,
        &[
            ("PortNumber", "8080"),
            ("TargetServer", "db.internal"),
            ("Username", "ops"),
        ],
    )
    .await;
    let grant = cp.call(&open).await.unwrap();
    assert!(grant.channel_id.len() <= 32);
    assert_eq!(grant.session.rate_limit.map(|r| r.get()), Some(204_800));
    assert_eq!(grant.session.port_number, Some(8080));
    let request = ChannelSpecRequest {
        channel_id: grant.channel_id.clone(),
    };
    let pulled = cp.call(&request).await.unwrap();
    assert_eq!(pulled.status, ConnectionStatus::Connecting);
    let spec = serde_json::to_value(&pulled.spec).unwrap();
    assert_eq!(spec["channelId"], grant.channel_id.as_str());
    assert_eq!(spec["portNumber"], "8080", "a JSON string, never a number");
    assert_eq!(
        (spec["targetHost"].as_str(), spec["username"].as_str()),
        (Some("db.internal"), Some("ops"))
    );
    assert_eq!(spec["flowLimit"], 1_638_400);
    let unknown = ChannelSpecRequest {
        channel_id: "c-unknown".into(),
    };
    assert_eq!(
        refused(cp.call(&unknown).await),
        RefusalCode::ChannelNotFound
    );

    // Connected marks the session active; an ended connection stays ended.
    let channel = &grant.channel_id;
    cp.call(&RecordChannel::status(channel, ConnectionStatus::Connected))
        .await
        .unwrap();
    let session = plane
        .shared
        .store
        .session(&open.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.state, SessionState::Active);
    // An agent reports on its own channels only: another instance's report changes nothing.
    let foreign = RecordChannel {
        reporter: Some("i-someone-else".into()),
        ..RecordChannel::status(channel, ConnectionStatus::Terminated)
    };
    assert_eq!(
        refused(cp.call(&foreign).await),
        RefusalCode::ChannelNotFound
    );
    let untouched = plane
        .shared
        .store
        .connection(channel)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.status, ConnectionStatus::Connected);
    let own = RecordChannel {
        reporter: Some(instance.clone()),
        ..RecordChannel::status(channel, ConnectionStatus::Connected)
    };
    cp.call(&own).await.unwrap();
    let failed = RecordChannel {
        closed_reason: Some(ClosedReason::AgentNotOnline),
        failed_detail: Some("no kick channel".into()),
        ..RecordChannel::status(channel, ConnectionStatus::Failed)
    };
    cp.call(&failed).await.unwrap();
    let late = RecordChannel {
        bytes_out: 99,
        ..RecordChannel::status(channel, ConnectionStatus::Connected)
    };
    cp.call(&late).await.unwrap();
    let c = plane
        .shared
        .store
        .connection(channel)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (c.status, c.closed_reason.as_str(), c.bytes_out),
        (ConnectionStatus::Failed, "AgentNotOnline", 99)
    );
    assert!(c.end_time.is_some());
}

#[tokio::test]
async fn tokens_are_checked_and_urls_expire() {
    let plane = TestPlane::start(&["--url-ttl-secs", "0"]).await;
    let instance = plane.ready_instance().await;
    let cp = plane.gateway();
    let open = open_request(&plane, &instance, &[]).await;
    let verify = VerifyToken {
        session_id: open.session_id.clone(),
        token: open.token.clone(),
    };
    assert_eq!(refused(cp.call(&verify).await), RefusalCode::UrlExpired);
    let forged = OpenChannel {
        token: "d86c2df2-d19c-4bd8-b817-a19ef1230000".into(),
        ..open
    };
    assert_eq!(refused(cp.call(&forged).await), RefusalCode::InvalidToken);
}

#[tokio::test]
async fn ended_sessions_are_reported_to_gateways() {
    let plane = TestPlane::start(&[]).await;
    let instance = plane.ready_instance().await;
    let cp = plane.gateway();
    let open = open_request(&plane, &instance, &[]).await;
    let states = SessionStates {
        session_ids: vec![open.session_id.clone(), "s-unknown".into()],
    };
    let answer = cp.call(&states).await.unwrap();
    assert_eq!(answer.sessions.len(), 1, "unknown ids are left out");
    assert_eq!(answer.sessions[0].state, SessionVerdict::Live);
    let (status, _) = plane
        .client()
        .call(
            "EndTerminalSession",
            &[("RegionId", REGION), ("SessionId", &open.session_id)],
        )
        .await;
    assert_eq!(status, 200);
    let answer = cp.call(&states).await.unwrap();
    assert_eq!(answer.sessions[0].state, SessionVerdict::Ended);
    assert_eq!(refused(cp.call(&open).await), RefusalCode::SessionEnded);
}

#[tokio::test]
async fn the_per_instance_session_limit_holds_under_concurrency() {
    let plane = TestPlane::start(&[
        "--max-connections-per-instance",
        "5",
        "--max-sessions-per-region",
        "100",
    ])
    .await;
    let instance = plane.ready_instance().await;
    let mut requests = Vec::new();
    for _ in 0..20 {
        requests.push(open_request(&plane, &instance, &[]).await);
    }
    let tries: Vec<_> = requests
        .iter()
        .map(|request| {
            let (cp, request) = (plane.gateway(), request.clone());
            tokio::spawn(async move { cp.call(&request).await })
        })
        .collect();
    let (mut granted, mut full) = (0, 0);
    for t in tries {
        match t.await.unwrap() {
            Ok(_) => granted += 1,
            Err(CpError::Refused(r)) if r.code == RefusalCode::SessionCountExceedLimit => full += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((granted, full), (5, 15));
    // A connected session may open more connections (a port forward opens one per TCP
    // connection) without counting again.
    let cp = plane.gateway();
    let mut more = 0;
    for request in &requests {
        if cp.call(request).await.is_ok() {
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
    let cp: ControlPlane = plane.gateway();
    let id = plane.agent(None, "2.2.3.578").await;
    let request = AgentIdentityRequest {
        instance_id: id.clone(),
    };
    let agent = cp.call(&request).await.unwrap();
    assert!(agent.public_key.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(
        (agent.machine_id.as_str(), agent.agent_version.as_str()),
        ("m-1", "2.2.3.578")
    );
    let nobody = AgentHeartbeat {
        instance_id: "mi-nobody".into(),
        agent_version: String::new(),
        gateway_id: GATEWAY_ID.into(),
        gateway_boot: "boot-1".into(),
        kick_link: None,
    };
    assert_eq!(
        refused(cp.call(&nobody).await),
        RefusalCode::InstanceNotRegistered
    );
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
    let again = RegisterAgent {
        claim_instance_id: Some(ecs.clone()),
        ..registration(&act)
    };
    assert_eq!(
        refused(cp.call(&again).await),
        RefusalCode::RegistrationRefused
    );
    // An agent that deregisters itself is known no more.
    let bye = DeregisterAgent {
        instance_id: id.clone(),
    };
    cp.call(&bye).await.unwrap();
    assert_eq!(
        refused(cp.call(&request).await),
        RefusalCode::InstanceNotRegistered
    );
}

#[tokio::test]
async fn kick_channels_are_recorded_per_gateway() {
    let plane = TestPlane::start(&[]).await;
    let instance = plane.ready_instance().await;
    let store = &plane.shared.store;
    let holder = || async { store.kick_channel_holder(&instance).await.unwrap() };
    assert_eq!(holder().await.as_deref(), Some(GATEWAY_ID));
    let cp = plane.gateway();
    let report = |gateway: &str, link: u64, open: bool| KickChannel {
        instance_id: instance.clone(),
        gateway_id: gateway.into(),
        gateway_boot: "boot-1".into(),
        link,
        open,
    };
    // The agent moved to another gateway; the old one's late report erases nothing.
    cp.call(&report("gw-2", 7, true)).await.unwrap();
    cp.call(&report(GATEWAY_ID, 1, false)).await.unwrap();
    assert_eq!(holder().await.as_deref(), Some("gw-2"));
    // Nor does an older channel's end on the same gateway.
    cp.call(&report("gw-2", 8, true)).await.unwrap();
    cp.call(&report("gw-2", 7, false)).await.unwrap();
    assert_eq!(holder().await.as_deref(), Some("gw-2"));
    cp.call(&report("gw-2", 8, false)).await.unwrap();
    assert_eq!(holder().await, None);
    cp.call(&report("gw-2", 9, true)).await.unwrap();
    // A gateway that restarts holds nothing any more.
    let restarted = GatewayStarted {
        gateway_id: "gw-2".into(),
        gateway_boot: "boot-2".into(),
    };
    cp.call(&restarted).await.unwrap();
    assert_eq!(holder().await, None);
}

/// The connection record of `channel_id` once `done` holds for it (bounded: the lease janitor
/// runs every second).
async fn connection_when(
    plane: &TestPlane,
    channel_id: &str,
    done: impl Fn(&axt_control_plane::store::Connection) -> bool,
) -> axt_control_plane::store::Connection {
    axt_kit::wait::eventually(
        std::time::Duration::from_secs(15),
        "the connection's record",
        || async {
            plane
                .shared
                .store
                .connection(channel_id)
                .await
                .unwrap()
                .unwrap()
        },
        done,
    )
    .await
}

#[tokio::test]
async fn a_gateway_that_stops_renewing_its_lease_frees_its_connections() {
    let plane = TestPlane::start(&[
        "--gateway-lease-secs",
        "1",
        "--max-connections-per-instance",
        "1",
    ])
    .await;
    let instance = plane.ready_instance().await;
    let cp = plane.gateway();
    let held = cp
        .call(&open_request(&plane, &instance, &[]).await)
        .await
        .unwrap();
    cp.call(&RecordChannel::status(
        &held.channel_id,
        ConnectionStatus::Connected,
    ))
    .await
    .unwrap();
    // The instance is at its limit while the gateway lives…
    let next = open_request(&plane, &instance, &[]).await;
    assert_eq!(
        refused(cp.call(&next).await),
        RefusalCode::SessionCountExceedLimit
    );
    // …and free again once its lease ran out, without anyone ending the session.
    let lost = connection_when(&plane, &held.channel_id, |c| !c.status.is_live()).await;
    assert_eq!(
        (lost.status, lost.closed_reason.as_str()),
        (ConnectionStatus::Failed, "GatewayLost")
    );
    let other = OpenChannel {
        gateway_boot: "boot-after-a-restart".into(),
        ..next
    };
    cp.call(&other).await.unwrap();
}

#[tokio::test]
async fn a_connection_its_gateway_no_longer_names_is_released() {
    let plane = TestPlane::start(&["--gateway-lease-secs", "3"]).await;
    let instance = plane.ready_instance().await;
    let cp = plane.gateway();
    let named = cp
        .call(&open_request(&plane, &instance, &[]).await)
        .await
        .unwrap();
    let forgotten = cp
        .call(&open_request(&plane, &instance, &[]).await)
        .await
        .unwrap();
    let lease = GatewayLease {
        gateway_id: GATEWAY_ID.into(),
        gateway_boot: "boot-1".into(),
        channel_ids: vec![named.channel_id.clone()],
    };
    // Renewed again and again, naming only one: the other goes once it is past settling.
    let released = axt_kit::wait::eventually(
        std::time::Duration::from_secs(15),
        "the unnamed connection released",
        || async {
            let granted = cp.call(&lease).await.unwrap();
            assert_eq!(granted.lease_secs, 3);
            plane
                .shared
                .store
                .connection(&forgotten.channel_id)
                .await
                .unwrap()
                .unwrap()
        },
        |c| !c.status.is_live(),
    )
    .await;
    assert_eq!(released.closed_reason, "GatewayLost");
    let kept = plane
        .shared
        .store
        .connection(&named.channel_id)
        .await
        .unwrap()
        .unwrap();
    assert!(kept.status.is_live(), "{kept:?}");
}
