//! Every other Action over HTTP, with the request fields, response fields and list wrappers of
//! the reference.

mod common;

use axt_proto::{
    internal::{
        AgentHeartbeat, AgentIdentityRequest, OpenChannel, RecordChannel, RegisterAgent,
        VerifyToken,
    },
    status::{ClosedReason, ConnectionStatus},
};
use common::*;
use serde_json::json;

#[tokio::test]
async fn regions_list_the_configured_ones_with_this_endpoint() {
    let plane = TestPlane::start(&["--regions", "cn-hangzhou,cn-test1"]).await;
    let (_, body) = plane.client().call("DescribeRegions", &[]).await;
    let regions = body["Regions"]["Region"].as_array().unwrap();
    assert_eq!(regions.len(), 2);
    assert_eq!(regions[1]["RegionId"], "cn-test1");
    assert_eq!(regions[1]["RegionEndpoint"], "ecs.cn-test1.aliyuncs.com");
    assert_eq!(regions[0]["Status"], "available");
    assert_error(
        &plane
            .client()
            .call("DescribeInstances", &[("RegionId", "cn-beijing")])
            .await,
        404,
        "InvalidRegionId.NotFound",
    );
}

#[tokio::test]
async fn simulated_instances_run_stop_and_start() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let (status, run) = c
        .call(
            "RunInstances",
            &[
                ("RegionId", REGION),
                ("Amount", "3"),
                ("InstanceName", "web"),
                ("Tag.1.Key", "env"),
                ("Tag.1.Value", "lab"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{run}");
    let ids: Vec<String> =
        serde_json::from_value(run["InstanceIdSets"]["InstanceIdSet"].clone()).unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|i| i.starts_with("i-")));
    let filter = json!([ids[0], ids[1]]).to_string();
    let (_, listed) = c
        .call(
            "DescribeInstances",
            &[("RegionId", REGION), ("InstanceIds", &filter)],
        )
        .await;
    assert_eq!(listed["TotalCount"], 2);
    let first = &listed["Instances"]["Instance"][0];
    assert_eq!(
        (first["Status"].as_str(), first["InstanceName"].as_str()),
        (Some("Running"), Some("web"))
    );
    assert_eq!(first["Tags"]["Tag"][0]["TagKey"], "env");
    assert!(first["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0].is_string());
    assert_eq!(
        c.call("StopInstance", &[("InstanceId", &ids[0])]).await.0,
        200
    );
    assert_error(
        &c.call("StopInstance", &[("InstanceId", &ids[0])]).await,
        403,
        "IncorrectInstanceStatus",
    );
    let (_, st) = c
        .call(
            "DescribeInstanceStatus",
            &[
                ("RegionId", REGION),
                ("InstanceId.1", &ids[0]),
                ("InstanceId.2", &ids[1]),
            ],
        )
        .await;
    let statuses = st["InstanceStatuses"]["InstanceStatus"].as_array().unwrap();
    let status_of =
        |id: &str| statuses.iter().find(|s| s["InstanceId"] == id).unwrap()["Status"].clone();
    assert_eq!(
        (status_of(&ids[0]), status_of(&ids[1])),
        (json!("Stopped"), json!("Running"))
    );
    assert_eq!(
        c.call("StartInstance", &[("InstanceId", &ids[0])]).await.0,
        200
    );
    assert_error(
        &c.call("StartInstance", &[("InstanceId", "i-nope")]).await,
        404,
        "InvalidInstanceId.NotFound",
    );
    // Paging: by page number and by token.
    let (_, page) = c
        .call(
            "DescribeInstances",
            &[("RegionId", REGION), ("PageSize", "2"), ("PageNumber", "2")],
        )
        .await;
    assert_eq!(
        (
            page["TotalCount"].as_i64(),
            page["Instances"]["Instance"].as_array().unwrap().len()
        ),
        (Some(3), 1)
    );
    let (_, first_page) = c
        .call(
            "DescribeInstances",
            &[("RegionId", REGION), ("MaxResults", "2")],
        )
        .await;
    let token = first_page["NextToken"].as_str().unwrap().to_owned();
    assert!(!token.is_empty());
    let (_, second) = c
        .call(
            "DescribeInstances",
            &[
                ("RegionId", REGION),
                ("MaxResults", "2"),
                ("NextToken", &token),
            ],
        )
        .await;
    assert_eq!(
        (
            second["Instances"]["Instance"].as_array().unwrap().len(),
            second["NextToken"].as_str()
        ),
        (1, Some(""))
    );
}

#[tokio::test]
async fn activations_register_managed_instances_that_can_be_deregistered() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let (_, act) = c
        .call(
            "CreateActivation",
            &[
                ("RegionId", REGION),
                ("InstanceName", "edge"),
                ("InstanceCount", "1"),
                ("Description", "lab hosts"),
            ],
        )
        .await;
    let (act_id, code) = (
        act["ActivationId"].as_str().unwrap(),
        act["ActivationCode"].as_str().unwrap(),
    );
    let register = |code: &str| RegisterAgent {
        activation_code: code.into(),
        hostname: "edge-1".into(),
        agent_version: "2.2.3.578".into(),
        machine_id: "m-9".into(),
        intranet_ip: "192.0.2.7".into(),
        ..registration(&act)
    };
    let gateway = plane.gateway();
    let refused = gateway.call(&register("a-wrong")).await.unwrap_err();
    assert!(
        refused.to_string().contains("RegistrationRefused"),
        "{refused}"
    );
    let mi = gateway.call(&register(code)).await.unwrap().instance_id;
    assert!(mi.starts_with("mi-"));
    let exhausted = gateway.call(&register(code)).await.unwrap_err();
    assert!(exhausted.to_string().contains("all 1"), "{exhausted}");
    let beat = AgentHeartbeat {
        instance_id: mi.clone(),
        agent_version: String::new(),
        gateway_id: GATEWAY_ID.into(),
        gateway_boot: "boot-1".into(),
        kick_link: Some(1),
    };
    gateway.call(&beat).await.unwrap();

    let (_, acts) = c.call("DescribeActivations", &[("RegionId", REGION)]).await;
    let listed = &acts["ActivationList"][0];
    assert_eq!(
        (
            listed["RegisteredCount"].as_i64(),
            listed["InstanceCount"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        (listed["Description"].as_str(), listed["Disabled"].as_bool()),
        (Some("lab hosts"), Some(false))
    );
    assert!(listed.get("ActivationCode").is_none());

    let (_, managed) = c
        .call(
            "DescribeManagedInstances",
            &[("RegionId", REGION), ("ActivationId", act_id)],
        )
        .await;
    let m = &managed["Instances"][0];
    assert_eq!(
        (
            m["InstanceId"].as_str(),
            m["Connected"].as_bool(),
            m["Hostname"].as_str()
        ),
        (Some(mi.as_str()), Some(true), Some("edge-1"))
    );
    assert_eq!(
        (
            m["InstanceName"].as_str(),
            m["IntranetIp"].as_str(),
            m["AgentVersion"].as_str()
        ),
        (Some("edge"), Some("192.0.2.7"), Some("2.2.3.578"))
    );
    let (_, all) = c.call("DescribeInstances", &[("RegionId", REGION)]).await;
    assert_eq!(all["Instances"]["Instance"][0]["InstanceId"], mi.as_str());

    let (status, dereg) = c
        .call(
            "DeregisterManagedInstance",
            &[("RegionId", REGION), ("InstanceId", &mi)],
        )
        .await;
    assert_eq!(
        (status, dereg["Instance"]["InstanceId"].as_str()),
        (200, Some(mi.as_str()))
    );
    let (_, managed) = c
        .call("DescribeManagedInstances", &[("RegionId", REGION)])
        .await;
    assert_eq!(managed["Instances"].as_array().unwrap().len(), 0);
    let (_, acts) = c
        .call(
            "DescribeActivations",
            &[("RegionId", REGION), ("ActivationId", act_id)],
        )
        .await;
    assert_eq!(acts["ActivationList"][0]["DeregisteredCount"], 1);
    // Its agent is no longer recognised.
    let identity = AgentIdentityRequest {
        instance_id: mi.clone(),
    };
    assert!(gateway.call(&identity).await.is_err());
    assert_error(
        &c.call(
            "DeregisterManagedInstance",
            &[("RegionId", REGION), ("InstanceId", &mi)],
        )
        .await,
        404,
        "InvalidInstanceId.NotFound",
    );
}

#[tokio::test]
async fn cloud_assistant_status_follows_heartbeats_and_the_version_gate() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let (_, run) = c.call("RunInstances", &[("RegionId", REGION)]).await;
    let bare = run["InstanceIdSets"]["InstanceIdSet"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let new = plane.ready_instance().await;
    let old = plane.agent(None, "2.2.3.200").await;
    let (_, body) = c
        .call(
            "DescribeCloudAssistantStatus",
            &[
                ("RegionId", REGION),
                ("InstanceId.1", &bare),
                ("InstanceId.2", &new),
                ("InstanceId.3", &old),
            ],
        )
        .await;
    let set = body["InstanceCloudAssistantStatusSet"]["InstanceCloudAssistantStatus"]
        .as_array()
        .unwrap();
    let of = |id: &str| set.iter().find(|s| s["InstanceId"] == id).unwrap().clone();
    assert_eq!(
        (
            of(&bare)["CloudAssistantStatus"].clone(),
            of(&bare)["SupportSessionManager"].clone()
        ),
        (json!("false"), json!(false))
    );
    assert_eq!(
        (
            of(&new)["CloudAssistantStatus"].clone(),
            of(&new)["SupportSessionManager"].clone()
        ),
        (json!("true"), json!(true))
    );
    assert_eq!(of(&new)["CloudAssistantVersion"], "2.4.3.100");
    assert_eq!(
        (
            of(&old)["CloudAssistantStatus"].clone(),
            of(&old)["SupportSessionManager"].clone()
        ),
        (json!("true"), json!(false))
    );
    assert_eq!(of(&new)["OSType"], "Linux");
    assert!(of(&new)["LastHeartbeatTime"]
        .as_str()
        .unwrap()
        .ends_with('Z'));

    assert_eq!(
        c.call(
            "InstallCloudAssistant",
            &[("RegionId", REGION), ("InstanceId.1", &bare)]
        )
        .await
        .0,
        200
    );
    c.call("StopInstance", &[("InstanceId", &bare)]).await;
    assert_error(
        &c.call(
            "InstallCloudAssistant",
            &[("RegionId", REGION), ("InstanceId.1", &bare)],
        )
        .await,
        403,
        "IncorrectInstanceStatus",
    );
    assert_error(
        &c.call(
            "InstallCloudAssistant",
            &[("RegionId", REGION), ("InstanceId.1", "i-none")],
        )
        .await,
        404,
        "InvalidInstanceId.NotFound",
    );
}

#[tokio::test]
async fn an_agent_silent_past_the_window_is_offline() {
    let plane = TestPlane::start(&["--heartbeat-window-secs", "0"]).await;
    let id = plane.ready_instance().await;
    // Age the heart-beat by a second rather than sleeping through a window.
    sqlx_age_heartbeat(&plane, &id).await;
    let (_, body) = plane
        .client()
        .call(
            "DescribeCloudAssistantStatus",
            &[("RegionId", REGION), ("InstanceId.1", &id)],
        )
        .await;
    assert_eq!(
        body["InstanceCloudAssistantStatusSet"]["InstanceCloudAssistantStatus"][0]
            ["CloudAssistantStatus"],
        "false"
    );
}

async fn sqlx_age_heartbeat(plane: &TestPlane, id: &str) {
    let instance = plane.shared.store.instance(id).await.unwrap().unwrap();
    assert!(instance.last_heartbeat_at.is_some());
    plane
        .shared
        .store
        .set_heartbeat_for_test(id, instance.last_heartbeat_at.unwrap() - 5)
        .await
        .unwrap();
}

#[tokio::test]
async fn sessions_are_described_with_their_connections_and_paged() {
    let plane = TestPlane::start(&[]).await;
    let instance = plane.ready_instance().await;
    let c = plane.client();
    let mut started = Vec::new();
    for port in ["22", "80", "443"] {
        let (_, s) = c
            .call(
                "StartTerminalSession",
                &[
                    ("RegionId", REGION),
                    ("InstanceId.1", &instance),
                    ("PortNumber", port),
                ],
            )
            .await;
        started.push(s);
    }
    let newest = &started[2];
    let open = OpenChannel {
        session_id: newest["SessionId"].as_str().unwrap().into(),
        token: newest["SecurityToken"].as_str().unwrap().into(),
        client_ip: "127.0.0.1".into(),
        gateway_id: GATEWAY_ID.into(),
        gateway_boot: "boot-1".into(),
        instance_id: None,
    };
    let gateway = plane.gateway();
    let channel_id = gateway.call(&open).await.unwrap().channel_id;
    let connected = RecordChannel::status(&channel_id, ConnectionStatus::Connected);
    gateway.call(&connected).await.unwrap();
    let ended = RecordChannel {
        closed_reason: Some(ClosedReason::ClientClosed),
        bytes_in: 10,
        bytes_out: 20,
        ..RecordChannel::status(&channel_id, ConnectionStatus::Terminated)
    };
    gateway.call(&ended).await.unwrap();

    let (_, page1) = c
        .call(
            "DescribeTerminalSessions",
            &[("RegionId", REGION), ("MaxResults", "2")],
        )
        .await;
    let sessions = page1["Sessions"]["Session"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["SessionId"], newest["SessionId"]);
    assert_eq!(
        (
            sessions[0]["PortNumber"].as_i64(),
            sessions[0]["IdentityType"].as_str()
        ),
        (Some(443), Some("Account"))
    );
    assert_eq!(sessions[0]["ClientIP"], "127.0.0.1");
    let conn = &sessions[0]["Connections"]["Connection"][0];
    assert_eq!(
        (
            conn["Status"].as_str(),
            conn["ClosedReason"].as_str(),
            conn["InstanceId"].as_str()
        ),
        (
            Some("Terminated"),
            Some("ClientClosed"),
            Some(instance.as_str())
        )
    );
    assert!(conn["EndTime"].as_str().unwrap().ends_with('Z'));
    let token = page1["NextToken"].as_str().unwrap();
    let (_, page2) = c
        .call(
            "DescribeTerminalSessions",
            &[
                ("RegionId", REGION),
                ("MaxResults", "2"),
                ("NextToken", token),
            ],
        )
        .await;
    let rest = page2["Sessions"]["Session"].as_array().unwrap();
    assert_eq!(
        (
            rest.len(),
            rest[0]["SessionId"].clone(),
            page2["NextToken"].as_str()
        ),
        (1, started[0]["SessionId"].clone(), Some(""))
    );
    let (_, one) = c
        .call(
            "DescribeTerminalSessions",
            &[
                ("RegionId", REGION),
                ("SessionId", started[1]["SessionId"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(one["Sessions"]["Session"].as_array().unwrap().len(), 1);
    assert_error(
        &c.call(
            "DescribeTerminalSessions",
            &[("RegionId", REGION), ("NextToken", "garbage")],
        )
        .await,
        400,
        "InvalidParameter",
    );
    assert_error(
        &c.call(
            "DescribeTerminalSessions",
            &[("RegionId", REGION), ("MaxResults", "101")],
        )
        .await,
        400,
        "InvalidParameter",
    );
}

#[tokio::test]
async fn ending_a_session_invalidates_its_url_at_once() {
    let plane = TestPlane::start(&[]).await;
    let instance = plane.ready_instance().await;
    let c = plane.client();
    let (_, s) = c
        .call(
            "StartTerminalSession",
            &[("RegionId", REGION), ("InstanceId.1", &instance)],
        )
        .await;
    let verify = VerifyToken {
        session_id: s["SessionId"].as_str().unwrap().into(),
        token: s["SecurityToken"].as_str().unwrap().into(),
    };
    plane.gateway().call(&verify).await.unwrap();
    let id = s["SessionId"].as_str().unwrap();
    assert_eq!(
        c.call_v3(
            "EndTerminalSession",
            &[("RegionId", REGION), ("SessionId", id)]
        )
        .await
        .0,
        200
    );
    let refusal = plane.gateway().call(&verify).await.unwrap_err();
    assert!(refusal.to_string().contains("SessionEnded"), "{refusal}");
    assert_eq!(
        c.call(
            "EndTerminalSession",
            &[("RegionId", REGION), ("SessionId", id)]
        )
        .await
        .0,
        200
    );
    assert_error(
        &c.call(
            "EndTerminalSession",
            &[("RegionId", REGION), ("SessionId", "s-unknown")],
        )
        .await,
        404,
        "InvalidSessionId.NotFound",
    );
}
