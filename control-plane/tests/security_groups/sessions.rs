//! StartTerminalSession's security-group check: a port session to the instance's own port
//! passes only when the inbound rules of all its groups accept TCP to that port from the
//! caller (127.0.0.1 here). The smallest priority decides, a drop before an accept of the same
//! priority, and no matching rule refuses; shells, forwards to a TargetServer and instances in
//! no group are not checked.

use serde_json::Value;

use super::{allow, group, ok};
use crate::common::*;

async fn session(c: &Client, instance: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut pairs = vec![("RegionId", REGION), ("InstanceId.1", instance)];
    pairs.extend_from_slice(extra);
    c.call("StartTerminalSession", &pairs).await
}

async fn port(c: &Client, instance: &str, port: &str) -> (u16, Value) {
    session(c, instance, &[("PortNumber", port)]).await
}

/// A TCP rule for `ports` from `source`.
fn tcp<'a>(
    ports: &'a str,
    source: &'a str,
    policy: &'a str,
    priority: &'a str,
) -> [(&'a str, &'a str); 5] {
    [
        ("IpProtocol", "tcp"),
        ("PortRange", ports),
        ("SourceCidrIp", source),
        ("Policy", policy),
        ("Priority", priority),
    ]
}

#[track_caller]
fn denied(got: &(u16, Value), mentions: &str) {
    assert_error(got, 403, "InvalidOperation.SecurityGroupRuleDenied");
    let message = got.1["Message"].as_str().unwrap();
    assert!(
        message.contains(mentions) && message.contains("127.0.0.1"),
        "{message}"
    );
}

#[tokio::test]
async fn port_sessions_follow_the_inbound_rules() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let instance = plane.ready_instance().await;
    let sg = group(&c, &[]).await;
    assert_eq!(
        port(&c, &instance, "22").await.0,
        200,
        "in no group: not checked"
    );
    ok(
        &c,
        "JoinSecurityGroup",
        &[("InstanceId", &instance), ("SecurityGroupId", &sg)],
    )
    .await;
    denied(&port(&c, &instance, "22").await, &sg);
    allow(&c, &sg, &tcp("22/22", "10.0.0.0/8", "accept", "1")).await;
    denied(&port(&c, &instance, "22").await, &sg);

    // Everything dropped at priority 2 beats an accept at 3 ...
    allow(
        &c,
        &sg,
        &[
            ("IpProtocol", "all"),
            ("PortRange", "-1/-1"),
            ("SourceCidrIp", "0.0.0.0/0"),
            ("Policy", "drop"),
            ("Priority", "2"),
        ],
    )
    .await;
    allow(&c, &sg, &tcp("22/22", "127.0.0.1", "accept", "3")).await;
    denied(&port(&c, &instance, "22").await, "drops TCP port 22");
    // ... and loses to an accept at 1, for that port only.
    allow(&c, &sg, &tcp("20/30", "127.0.0.0/8", "accept", "1")).await;
    assert_eq!(port(&c, &instance, "22").await.0, 200);
    denied(&port(&c, &instance, "80").await, "drops TCP port 80");
    // A drop of the same priority beats the accept.
    let shut = tcp("1/1024", "0.0.0.0/0", "drop", "1");
    allow(&c, &sg, &shut).await;
    denied(&port(&c, &instance, "22").await, "drops TCP port 22");

    // A shell rides the agent's own connection; a forward to another host leaves the instance.
    assert_eq!(session(&c, &instance, &[]).await.0, 200);
    let forward = [("PortNumber", "22"), ("TargetServer", "10.0.0.9")];
    assert_eq!(session(&c, &instance, &forward).await.0, 200);

    let mut revoke = vec![("SecurityGroupId", sg.as_str())];
    revoke.extend_from_slice(&shut);
    ok(&c, "RevokeSecurityGroup", &revoke).await;
    assert_eq!(port(&c, &instance, "22").await.0, 200);
}

#[tokio::test]
async fn the_rules_of_all_groups_count_together() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let instance = plane.ready_instance().await;
    let (open, quiet) = (group(&c, &[]).await, group(&c, &[]).await);
    for g in [&open, &quiet] {
        ok(
            &c,
            "JoinSecurityGroup",
            &[("InstanceId", &instance), ("SecurityGroupId", g)],
        )
        .await;
    }
    allow(&c, &open, &tcp("22/22", "0.0.0.0/0", "accept", "1")).await;
    assert_eq!(
        port(&c, &instance, "22").await.0,
        200,
        "one group's accept suffices"
    );
    allow(&c, &quiet, &tcp("22/22", "127.0.0.1/32", "drop", "1")).await;
    denied(&port(&c, &instance, "22").await, &quiet);
    ok(
        &c,
        "LeaveSecurityGroup",
        &[("InstanceId", &instance), ("SecurityGroupId", &quiet)],
    )
    .await;
    assert_eq!(port(&c, &instance, "22").await.0, 200);

    // An advanced group has no drop rules; its accept rules open what they name.
    let adv = group(&c, &[("SecurityGroupType", "enterprise")]).await;
    let other = plane.ready_instance().await;
    ok(
        &c,
        "JoinSecurityGroup",
        &[("InstanceId", &other), ("SecurityGroupId", &adv)],
    )
    .await;
    allow(&c, &adv, &tcp("8000/8100", "127.0.0.1", "accept", "100")).await;
    assert_eq!(port(&c, &other, "8080").await.0, 200);
    denied(&port(&c, &other, "22").await, &adv);
}

#[tokio::test]
async fn managed_instances_are_in_no_group() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let managed = plane.agent(None, "2.4.3.100").await;
    assert_eq!(port(&c, &managed, "22").await.0, 200);
    let described = ok(
        &c,
        "DescribeInstances",
        &[("InstanceIds", &format!("[\"{managed}\"]"))],
    )
    .await;
    let shown = &described["Instances"]["Instance"][0]["SecurityGroupIds"]["SecurityGroupId"];
    assert_eq!(shown, &serde_json::json!([]));
}
