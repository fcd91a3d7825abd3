//! StartTerminalSession: one table row per documented error code, each with the seed's HTTP
//! status, and the success path with its record, URL and idempotency.

mod common;

use common::*;
use serde_json::Value;

/// `(code, status, parameters beyond RegionId)`; `{i}` is replaced by a ready instance's id,
/// `{N}` by N characters.
type Row = (&'static str, u16, &'static [(&'static str, &'static str)]);

const TABLE: &[Row] = &[
    (
        "InvalidRegionId.NotFound",
        404,
        &[("RegionId", "xx-nowhere-1"), ("InstanceId.1", "{i}")],
    ),
    (
        "RegionId.ApiNotSupported",
        400,
        &[("RegionId", "eu-central-1"), ("InstanceId.1", "{i}")],
    ),
    (
        "InvalidInstance.NotFound",
        404,
        &[("InstanceId.1", "i-doesnotexist")],
    ),
    (
        "InstanceIds.ExceedLimit",
        403,
        &[("InstanceId.1", "{i}"), ("InstanceId.2", "{i}")],
    ),
    (
        "InvalidInstanceIds.CountLimitExceeded",
        403,
        &[
            ("InstanceId.1", "{i}"),
            ("InstanceId.2", "{i}"),
            ("CommandLine", "top"),
        ],
    ),
    (
        "InvalidInstanceIds.CountLimitExceeded",
        403,
        &[
            ("InstanceId.1", "{i}"),
            ("InstanceId.2", "{i}"),
            ("TargetServer", "10.0.0.9"),
            ("PortNumber", "22"),
        ],
    ),
    (
        "PortNumber.Invalid",
        400,
        &[("InstanceId.1", "{i}"), ("PortNumber", "70000")],
    ),
    (
        "PortNumber.Invalid",
        400,
        &[("InstanceId.1", "{i}"), ("PortNumber", "0")],
    ),
    (
        "PortNumber.Invalid",
        400,
        &[("InstanceId.1", "{i}"), ("PortNumber", "ssh")],
    ),
    (
        "InvalidParameter.ConnectionType",
        400,
        &[("InstanceId.1", "{i}"), ("ConnectionType", "Satellite")],
    ),
    (
        "InvalidClientToken.Malformed",
        400,
        &[("InstanceId.1", "{i}"), ("ClientToken", "токен")],
    ),
    (
        "InvalidClientToken.Malformed",
        400,
        &[("InstanceId.1", "{i}"), ("ClientToken", "{65}")],
    ),
    (
        "InvalidCommandLine.Conflict",
        403,
        &[
            ("InstanceId.1", "{i}"),
            ("CommandLine", "top"),
            ("PortNumber", "22"),
        ],
    ),
    (
        "InvalidCommandLine.Conflict",
        403,
        &[
            ("InstanceId.1", "{i}"),
            ("CommandLine", "top"),
            ("TargetServer", "10.0.0.9"),
        ],
    ),
    (
        "InvalidTargetServer.MissingPortNumber",
        403,
        &[("InstanceId.1", "{i}"), ("TargetServer", "10.0.0.9")],
    ),
    (
        "InvalidCommandLine.LengthLimitExceeded",
        403,
        &[("InstanceId.1", "{i}"), ("CommandLine", "{513}")],
    ),
    (
        "Username.ExceedLimit",
        403,
        &[("InstanceId.1", "{i}"), ("Username", "{65}")],
    ),
    (
        "InvalidTargetServer.LengthLimitExceeded",
        403,
        &[
            ("InstanceId.1", "{i}"),
            ("TargetServer", "{129}"),
            ("PortNumber", "22"),
        ],
    ),
    (
        "InvalidPasswordName.LengthLimitExceeded",
        403,
        &[("InstanceId.1", "{i}"), ("PasswordName", "{256}")],
    ),
    (
        "InvalidEncryptionOptionsMode.EncryptionDisabled",
        403,
        &[
            ("InstanceId.1", "{i}"),
            ("EncryptionOptions", r#"{"Enabled":false,"Mode":"Auto"}"#),
        ],
    ),
    (
        "InvalidParameter.EncryptionOptionsKMSKeyId",
        403,
        &[
            ("InstanceId.1", "{i}"),
            (
                "EncryptionOptions",
                r#"{"Enabled":true,"Mode":"Auto","KMSKeyId":"key-1"}"#,
            ),
        ],
    ),
    (
        "InvalidParameter.EncryptionOptionsMode",
        403,
        &[
            ("InstanceId.1", "{i}"),
            ("EncryptionOptions", r#"{"Enabled":true,"Mode":"Rot13"}"#),
        ],
    ),
    (
        "MissingParameter.EncryptionOptionsKMSKeyId",
        403,
        &[
            ("InstanceId.1", "{i}"),
            ("EncryptionOptions", r#"{"Enabled": true, "Mode": "Kms"}"#),
        ],
    ),
    (
        "InvalidEncryptionOptions.Conflict",
        403,
        &[
            ("InstanceId.1", "{i}"),
            ("PortNumber", "22"),
            ("EncryptionOptions", r#"{"Enabled":true}"#),
        ],
    ),
    ("MissingInstanceId", 400, &[]),
];

fn expand(value: &str, instance: &str) -> String {
    match value {
        "{i}" => instance.to_owned(),
        v if v.starts_with('{')
            && v.ends_with('}')
            && v[1..v.len() - 1].parse::<usize>().is_ok() =>
        {
            "x".repeat(v[1..v.len() - 1].parse().unwrap())
        }
        v => v.to_owned(),
    }
}

#[tokio::test]
async fn every_documented_error_code() {
    let plane = TestPlane::start(&["--session-unsupported-regions", "eu-central-1"]).await;
    let instance = plane.ready_instance().await;
    let c = plane.client();
    for (code, status, extra) in TABLE {
        let mut pairs: Vec<(String, String)> = vec![("RegionId".into(), REGION.into())];
        for (k, v) in *extra {
            pairs.retain(|(name, _)| name != k);
            pairs.push((k.to_string(), expand(v, &instance)));
        }
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let got = c.call("StartTerminalSession", &refs).await;
        assert_error(&got, *status, code);
    }
    // The failures created nothing.
    let (_, listed) = c
        .call("DescribeTerminalSessions", &[("RegionId", REGION)])
        .await;
    assert_eq!(listed["Sessions"]["Session"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn intranet_needs_an_intranet_gateway() {
    let plane = TestPlane::start(&["--gateway-intranet-url", ""]).await;
    let instance = plane.ready_instance().await;
    let got = plane
        .client()
        .call(
            "StartTerminalSession",
            &[
                ("RegionId", REGION),
                ("InstanceId.1", &instance),
                ("ConnectionType", "Intranet"),
            ],
        )
        .await;
    assert_error(&got, 403, "InvalidOperation.ConnectionTypeUnsupported");
}

#[tokio::test]
async fn the_account_switch_disables_session_manager() {
    let plane = TestPlane::start(&[]).await;
    let instance = plane.ready_instance().await;
    let c = plane.client();
    let (_, status) = c
        .call(
            "DescribeUserBusinessBehavior",
            &[("statusKey", "sessionManagerStatus")],
        )
        .await;
    assert_eq!(status["StatusValue"], "enabled");
    let (s, _) = c
        .call(
            "ModifyUserBusinessBehavior",
            &[
                ("statusKey", "sessionManagerStatus"),
                ("statusValue", "disabled"),
            ],
        )
        .await;
    assert_eq!(s, 200);
    let (_, status) = c
        .call(
            "DescribeUserBusinessBehavior",
            &[("statusKey", "sessionManagerStatus")],
        )
        .await;
    assert_eq!(status["StatusValue"], "disabled");
    let got = c
        .call(
            "StartTerminalSession",
            &[("RegionId", REGION), ("InstanceId.1", &instance)],
        )
        .await;
    assert_error(&got, 403, "UserBehavior.SessionManagerDisabled");
    c.call(
        "ModifyUserBusinessBehavior",
        &[
            ("statusKey", "sessionManagerStatus"),
            ("statusValue", "enabled"),
        ],
    )
    .await;
    assert_eq!(
        c.call(
            "StartTerminalSession",
            &[("RegionId", REGION), ("InstanceId.1", &instance)]
        )
        .await
        .0,
        200
    );
    assert_error(
        &c.call("DescribeUserBusinessBehavior", &[("statusKey", "other")])
            .await,
        400,
        "InvalidStatusKey.NotFound",
    );
}

#[tokio::test]
async fn a_session_is_recorded_with_its_url_and_a_hashed_token() {
    let plane = TestPlane::start(&[]).await;
    let instance = plane.ready_instance().await;
    let (status, body) = plane
        .client()
        .call_v3(
            "StartTerminalSession",
            &[
                ("RegionId", REGION),
                ("InstanceId.1", &instance),
                ("PortNumber", "22"),
                ("Username", "ecs-user"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["SessionId"].as_str().unwrap();
    let token = body["SecurityToken"].as_str().unwrap();
    assert!(id.starts_with("s-"));
    assert_eq!(token.len(), 36);
    assert_eq!(
        body["WebSocketUrl"],
        format!("wss://gw.lab.test:8443/session?sessionId={id}&token={token}")
    );
    let session = plane.shared.store.session(id).await.unwrap().unwrap();
    assert_eq!(
        (
            session.port_number,
            session.username.as_str(),
            session.state.as_str()
        ),
        (Some(22), "ecs-user", "Pending")
    );
    assert_eq!(session.url_expires_at - session.created_at, 600);
    assert_eq!(session.access_key_id, KEY_ID);
    // The token is nowhere in the database file in clear.
    plane.shared.store.close().await;
    let db = std::fs::read(plane.dir.path().join("control-plane.db")).unwrap();
    let wal = std::fs::read(plane.dir.path().join("control-plane.db-wal")).unwrap_or_default();
    let haystack = [db, wal].concat();
    assert!(!haystack.windows(token.len()).any(|w| w == token.as_bytes()));
}

#[tokio::test]
async fn intranet_sessions_get_the_intranet_url() {
    let plane = TestPlane::start(&[]).await;
    let instance = plane.ready_instance().await;
    let (_, body) = plane
        .client()
        .call(
            "StartTerminalSession",
            &[
                ("RegionId", REGION),
                ("InstanceId.1", &instance),
                ("ConnectionType", "Intranet"),
            ],
        )
        .await;
    assert!(
        body["WebSocketUrl"]
            .as_str()
            .unwrap()
            .starts_with("wss://10.0.0.1:8443/session?sessionId=s-"),
        "{body}"
    );
}

#[tokio::test]
async fn client_token_makes_the_call_idempotent() {
    let plane = TestPlane::start(&[]).await;
    let instance = plane.ready_instance().await;
    let c = plane.client();
    let call = |port: &'static str| {
        let c = c.clone();
        let instance = instance.clone();
        async move {
            c.call(
                "StartTerminalSession",
                &[
                    ("RegionId", REGION),
                    ("InstanceId.1", &instance),
                    ("PortNumber", port),
                    ("ClientToken", "tok-123e4567"),
                ],
            )
            .await
        }
    };
    let (s1, first) = call("22").await;
    let (s2, again) = call("22").await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first["SessionId"], again["SessionId"]);
    // Both tokens open the same session.
    for body in [&first, &again] {
        let verify = axt_proto::internal::VerifyToken {
            session_id: body["SessionId"].as_str().unwrap().into(),
            token: body["SecurityToken"].as_str().unwrap().into(),
        };
        let verified = plane.gateway().call(&verify).await.unwrap();
        assert_eq!(verified.session.session_id, verify.session_id);
    }
    assert_error(&call("2222").await, 403, "IdempotentParameterMismatch");
}

#[tokio::test]
async fn a_client_token_still_processing_is_reported() {
    let plane = TestPlane::start(&[]).await;
    let instance = plane.ready_instance().await;
    let account = plane.shared.store.admin_account().await.unwrap();
    // A call with this token is in flight (claimed, not finished) when the retry arrives.
    let pairs = [
        ("RegionId", REGION),
        ("InstanceId.1", instance.as_str()),
        ("ClientToken", "tok-busy"),
    ];
    let business = axt_proto::openapi::canonical_query(&params(&pairs), &["ClientToken"]);
    let hash = axt_control_plane::ids::hash_secret(&business);
    let claim = plane
        .shared
        .store
        .claim_client_token(&account, "StartTerminalSession", "tok-busy", &hash, 60)
        .await
        .unwrap();
    assert_eq!(claim, axt_control_plane::store::Idempotency::Fresh);
    assert_error(
        &plane.client().call("StartTerminalSession", &pairs).await,
        403,
        "IdempotentProcessing",
    );
}

#[tokio::test]
async fn instances_must_be_running_with_a_new_enough_agent() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let start = |id: String| {
        let c = c.clone();
        async move {
            c.call(
                "StartTerminalSession",
                &[("RegionId", REGION), ("InstanceId.1", &id)],
            )
            .await
        }
    };
    let (_, run) = c
        .call("RunInstances", &[("RegionId", REGION), ("Amount", "2")])
        .await;
    let bare = run["InstanceIdSets"]["InstanceIdSet"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        &start(bare.clone()).await,
        403,
        "InvalidInstance.CloudAssistantNotInstalled",
    );
    let old = run["InstanceIdSets"]["InstanceIdSet"][1]
        .as_str()
        .unwrap()
        .to_owned();
    plane.agent(Some(&old), "2.2.3.255").await;
    assert_error(
        &start(old).await,
        403,
        "UnsupportedAgentVersion.SessionManager",
    );
    let ready = plane.ready_instance().await;
    assert_eq!(
        c.call("StopInstance", &[("InstanceId", &ready)]).await.0,
        200
    );
    assert_error(&start(ready.clone()).await, 403, "IncorrectInstanceStatus");
    assert_eq!(
        c.call("StartInstance", &[("InstanceId", &ready)]).await.0,
        200
    );
    assert_eq!(start(ready).await.0, 200);
    let old_agent = plane.agent(None, "2.2.3.578").await;
    let got = c
        .call(
            "StartTerminalSession",
            &[
                ("RegionId", REGION),
                ("InstanceId.1", &old_agent),
                ("EncryptionOptions", r#"{"Enabled":true}"#),
            ],
        )
        .await;
    assert_error(&got, 403, "UnsupportedAgentVersion.Encryption");
}

#[tokio::test]
async fn the_instance_limit_is_configurable() {
    let plane = TestPlane::start(&["--max-instances-per-session", "2"]).await;
    let (a, b) = (plane.ready_instance().await, plane.ready_instance().await);
    let (status, body) = plane
        .client()
        .call(
            "StartTerminalSession",
            &[
                ("RegionId", REGION),
                ("InstanceId.1", &a),
                ("InstanceId.2", &b),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let session = plane
        .shared
        .store
        .session(body["SessionId"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&session.instance_ids).unwrap(),
        serde_json::json!([a, b])
    );
}

#[tokio::test]
async fn concurrent_calls_never_pass_the_region_limit() {
    let plane = TestPlane::start(&["--max-sessions-per-region", "100"]).await;
    let instance = plane.ready_instance().await;
    let c = plane.client();
    let calls = (0..200).map(|_| {
        let (c, instance) = (c.clone(), instance.clone());
        tokio::spawn(async move {
            c.call(
                "StartTerminalSession",
                &[("RegionId", REGION), ("InstanceId.1", &instance)],
            )
            .await
        })
    });
    // Spawn all 200 before awaiting any, so that they really run at once.
    let calls: Vec<_> = calls.collect();
    let mut ok = 0;
    let mut refused = 0;
    for call in calls {
        let (status, body) = call.await.unwrap();
        match status {
            200 => ok += 1,
            _ => {
                assert_error(&(status, body), 403, "SessionCount.ExceedLimit");
                refused += 1;
            }
        }
    }
    assert_eq!((ok, refused), (100, 100));
    // Ending one frees a place.
    let (_, listed) = c
        .call(
            "DescribeTerminalSessions",
            &[("RegionId", REGION), ("MaxResults", "1")],
        )
        .await;
    let id = listed["Sessions"]["Session"][0]["SessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        c.call(
            "EndTerminalSession",
            &[("RegionId", REGION), ("SessionId", &id)]
        )
        .await
        .0,
        200
    );
    assert_eq!(
        c.call(
            "StartTerminalSession",
            &[("RegionId", REGION), ("InstanceId.1", &instance)]
        )
        .await
        .0,
        200
    );
}

/// The codes of the documentation's table of StartTerminalSession, every one of them.
const DOCUMENTED: &[&str] = &[
    "RegionId.ApiNotSupported",
    "PortNumber.Invalid",
    "InvalidParameter.ConnectionType",
    "InvalidClientToken.Malformed",
    "InternalError.Dispatch",
    "InstanceIds.ExceedLimit",
    "SessionCount.ExceedLimit",
    "Operation.Forbidden",
    "PortForwarding.NotSupported",
    "UserBehavior.SessionManagerDisabled",
    "InvalidCommandLine.Conflict",
    "InvalidTargetServer.MissingPortNumber",
    "InvalidCommandLine.LengthLimitExceeded",
    "InvalidInstanceIds.CountLimitExceeded",
    "Username.ExceedLimit",
    "InvalidOperation.SecurityGroupRuleDenied",
    "InvalidTargetServer.LengthLimitExceeded",
    "InvalidOperation.ConnectionTypeUnsupported",
    "InvalidPasswordName.LengthLimitExceeded",
    "InvalidEncryptionOptionsMode.EncryptionDisabled",
    "InvalidParameter.EncryptionOptionsKMSKeyId",
    "InvalidParameter.EncryptionOptionsMode",
    "MissingParameter.EncryptionOptionsKMSKeyId",
    "UnsupportedAgentVersion.Encryption",
    "InvalidEncryptionOptions.Conflict",
    "IdempotentParameterMismatch",
    "IdempotentProcessing",
    "InvalidRegionId.NotFound",
    "InvalidInstance.NotFound",
];

/// Documented codes that need a state of their own, and the test of this file producing each.
const PRODUCED_ELSEWHERE: &[(&str, &str)] = &[
    ("InternalError.Dispatch", "dispatch_needs_a_kick_channel"),
    (
        "SessionCount.ExceedLimit",
        "concurrent_calls_never_pass_the_region_limit",
    ),
    ("Operation.Forbidden", "a_locked_instance_is_forbidden"),
    (
        "PortForwarding.NotSupported",
        "port_forwarding_needs_a_new_enough_agent",
    ),
    (
        "UserBehavior.SessionManagerDisabled",
        "the_account_switch_disables_session_manager",
    ),
    (
        "InvalidOperation.ConnectionTypeUnsupported",
        "intranet_needs_an_intranet_gateway",
    ),
    (
        "UnsupportedAgentVersion.Encryption",
        "instances_must_be_running_with_a_new_enough_agent",
    ),
    (
        "IdempotentParameterMismatch",
        "client_token_makes_the_call_idempotent",
    ),
    (
        "IdempotentProcessing",
        "a_client_token_still_processing_is_reported",
    ),
];

/// Documented codes that need security groups, and the test of
/// `security_groups/sessions.rs` producing each.
const PRODUCED_WITH_SECURITY_GROUPS: &[(&str, &str)] = &[(
    "InvalidOperation.SecurityGroupRuleDenied",
    "port_sessions_follow_the_inbound_rules",
)];

#[test]
fn every_documented_code_is_declared_and_produced_by_a_test() {
    use axt_control_plane::api::ErrorCode;
    let source = include_str!("start_session.rs");
    for code in DOCUMENTED {
        let declared = ErrorCode::ALL.iter().find(|c| c.as_str() == *code);
        assert!(declared.is_some(), "{code} is not an ErrorCode");
        let in_table = TABLE.iter().any(|(c, _, _)| c == code);
        let elsewhere = PRODUCED_ELSEWHERE.iter().find(|(c, _)| c == code);
        if let Some((_, test)) = elsewhere {
            assert!(
                source.contains(&format!("async fn {test}()")),
                "{code}: no test named {test}"
            );
        }
        let with_groups = PRODUCED_WITH_SECURITY_GROUPS
            .iter()
            .find(|(c, _)| c == code);
        if let Some((_, test)) = with_groups {
            assert!(
                include_str!("security_groups/sessions.rs").contains(&format!("async fn {test}()")),
                "{code}: no test named {test}"
            );
        }
        assert!(
            in_table || elsewhere.is_some() || with_groups.is_some(),
            "{code} is produced by no test"
        );
    }
}

#[tokio::test]
async fn dispatch_needs_a_kick_channel() {
    let plane = TestPlane::start(&[]).await;
    let instance = plane.ready_instance().await;
    let start = async || {
        plane
            .client()
            .call(
                "StartTerminalSession",
                &[("RegionId", REGION), ("InstanceId.1", instance.as_str())],
            )
            .await
    };
    // The gateway lost the agent's kick channel: nothing can reach the agent.
    let gone = axt_proto::internal::KickChannel {
        instance_id: instance.clone(),
        gateway_id: GATEWAY_ID.into(),
        gateway_boot: "boot-1".into(),
        link: 1,
        open: false,
    };
    plane.gateway().call(&gone).await.unwrap();
    let got = start().await;
    assert_error(&got, 500, "InternalError.Dispatch");
    assert!(got.1["Message"].as_str().unwrap().contains(&instance));
    // Its next heart-beat through a gateway that holds it again mends the record.
    let beat = axt_proto::internal::AgentHeartbeat {
        instance_id: instance.clone(),
        agent_version: "2.4.3.100".into(),
        gateway_id: "gw-other".into(),
        gateway_boot: "boot-1".into(),
        kick_link: Some(4),
    };
    plane.gateway().call(&beat).await.unwrap();
    assert_eq!(start().await.0, 200);
}

#[tokio::test]
async fn a_locked_instance_is_forbidden() {
    use axt_control_plane::AdminTask;
    let plane = TestPlane::start(&[]).await;
    let instance = plane.ready_instance().await;
    let c = plane.client();
    let lock = AdminTask::LockInstance {
        instance_id: instance.clone(),
        reason: "security".into(),
    };
    axt_control_plane::run_task(&plane.shared.config, &lock)
        .await
        .unwrap();
    let (_, described) = c
        .call(
            "DescribeInstances",
            &[
                ("RegionId", REGION),
                ("InstanceIds", &format!("[\"{instance}\"]")),
            ],
        )
        .await;
    let locks = &described["Instances"]["Instance"][0]["OperationLocks"]["LockReason"];
    assert_eq!(locks[0]["LockReason"], "security", "{described}");
    let start = async || {
        c.call(
            "StartTerminalSession",
            &[("RegionId", REGION), ("InstanceId.1", instance.as_str())],
        )
        .await
    };
    assert_error(&start().await, 403, "Operation.Forbidden");
    let unlock = AdminTask::UnlockInstance {
        instance_id: instance.clone(),
    };
    axt_control_plane::run_task(&plane.shared.config, &unlock)
        .await
        .unwrap();
    assert_eq!(start().await.0, 200);
    let nobody = AdminTask::UnlockInstance {
        instance_id: "i-nobody".into(),
    };
    assert!(axt_control_plane::run_task(&plane.shared.config, &nobody)
        .await
        .is_err());
}

#[tokio::test]
async fn port_forwarding_needs_a_new_enough_agent() {
    let plane = TestPlane::start(&["--min-agent-version-port-forwarding", "2.3.0.0"]).await;
    let old = plane.agent(None, "2.2.3.578").await;
    let new = plane.agent(None, "2.4.3.100").await;
    let c = plane.client();
    let start = async |id: &str, port: Option<&str>| {
        let mut pairs = vec![("RegionId", REGION), ("InstanceId.1", id)];
        pairs.extend(port.map(|p| ("PortNumber", p)));
        c.call("StartTerminalSession", &pairs).await
    };
    assert_error(
        &start(&old, Some("22")).await,
        403,
        "PortForwarding.NotSupported",
    );
    assert_eq!(
        start(&old, None).await.0,
        200,
        "a shell needs no port forwarding"
    );
    assert_eq!(start(&new, Some("22")).await.0, 200);
}
