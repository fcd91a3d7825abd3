//! Instances in security groups: RunInstances' groups, Join and Leave with their quota and the
//! last-group rule, what DescribeInstances and DescribeSecurityGroups show, and a group's rule
//! quota.

use serde_json::{json, Value};

use super::{allow, group, ok, rules};
use crate::common::*;

#[tokio::test]
async fn instances_join_and_leave_groups() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let groups: Vec<String> = groups(&c, 6).await;
    let run = ok(
        &c,
        "RunInstances",
        &[
            ("SecurityGroupIds.1", &groups[0]),
            ("SecurityGroupIds.2", &groups[1]),
            ("Amount", "2"),
        ],
    )
    .await;
    let ids: Vec<&str> = run["InstanceIdSets"]["InstanceIdSet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let described = ok(&c, "DescribeInstances", &[]).await;
    assert_eq!(shown(&described, ids[0]), json!([groups[0], groups[1]]));
    assert_eq!(shown(&described, ids[1]), json!([groups[0], groups[1]]));
    for g in &groups[2..5] {
        ok(
            &c,
            "JoinSecurityGroup",
            &[("InstanceId", ids[0]), ("SecurityGroupId", g)],
        )
        .await;
    }
    let full = c
        .call(
            "JoinSecurityGroup",
            &[("InstanceId", ids[0]), ("SecurityGroupId", &groups[5])],
        )
        .await;
    assert_error(&full, 400, "InstanceSecurityGroupLimitExceeded");
    // RegionId is optional here; the instance carries its own.
    let (status, _) = c
        .call(
            "LeaveSecurityGroup",
            &[("InstanceId", ids[0]), ("SecurityGroupId", &groups[0])],
        )
        .await;
    assert_eq!(status, 200);
    ok(
        &c,
        "LeaveSecurityGroup",
        &[("InstanceId", ids[1]), ("SecurityGroupId", &groups[0])],
    )
    .await;
    assert_error(
        &c.call(
            "LeaveSecurityGroup",
            &[("InstanceId", ids[1]), ("SecurityGroupId", &groups[1])],
        )
        .await,
        403,
        "InstanceLastSecurityGroup",
    );
    let single = ok(&c, "RunInstances", &[("SecurityGroupId", &groups[5])]).await;
    let described = ok(&c, "DescribeInstances", &[]).await;
    let third = single["InstanceIdSets"]["InstanceIdSet"][0]
        .as_str()
        .unwrap();
    assert_eq!(shown(&described, third), json!([groups[5]]));
    assert_eq!(shown(&described, ids[0]), json!(groups[1..5]));
    // A group with members cannot go; an empty one can.
    assert_error(
        &c.call(
            "DeleteSecurityGroup",
            &[("RegionId", REGION), ("SecurityGroupId", &groups[1])],
        )
        .await,
        403,
        "DependencyViolation",
    );
    ok(
        &c,
        "DeleteSecurityGroup",
        &[("SecurityGroupId", &groups[0])],
    )
    .await;
    let counted = ok(
        &c,
        "DescribeSecurityGroups",
        &[("SecurityGroupId", &groups[1])],
    )
    .await;
    assert_eq!(counted["SecurityGroups"]["SecurityGroup"][0]["EcsCount"], 2);
    assert_eq!(
        counted["SecurityGroups"]["SecurityGroup"][0]["AvailableInstanceAmount"],
        1998
    );
}

/// The groups DescribeInstances shows instance `id` in.
fn shown(described: &Value, id: &str) -> Value {
    let all = described["Instances"]["Instance"].as_array().unwrap();
    let instance = all.iter().find(|i| i["InstanceId"] == id).unwrap();
    instance["SecurityGroupIds"]["SecurityGroupId"].clone()
}

async fn groups(c: &Client, n: usize) -> Vec<String> {
    let mut groups = Vec::new();
    for _ in 0..n {
        groups.push(group(c, &[]).await);
    }
    groups
}

/// `Permissions.1..=n` for TCP ports `first..first + n` from anywhere.
fn permissions(first: u32, n: u32) -> Vec<(String, String)> {
    (0..n)
        .flat_map(|k| {
            let (i, p) = (k + 1, first + k);
            [
                (format!("Permissions.{i}.IpProtocol"), "tcp".to_owned()),
                (format!("Permissions.{i}.PortRange"), format!("{p}/{p}")),
                (
                    format!("Permissions.{i}.SourceCidrIp"),
                    "0.0.0.0/0".to_owned(),
                ),
            ]
        })
        .collect()
}

#[tokio::test]
async fn a_group_holds_at_most_200_rules() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let sg = group(&c, &[]).await;
    let authorize = async |first: u32, n: u32| {
        let mut pairs = vec![
            ("RegionId".to_owned(), REGION.to_owned()),
            ("SecurityGroupId".to_owned(), sg.clone()),
        ];
        pairs.extend(permissions(first, n));
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        c.call("AuthorizeSecurityGroup", &refs).await
    };
    assert_eq!(authorize(1, 100).await.0, 200);
    assert_eq!(authorize(101, 99).await.0, 200);
    ok(
        &c,
        "AuthorizeSecurityGroupEgress",
        &[
            ("SecurityGroupId", &sg),
            ("IpProtocol", "all"),
            ("PortRange", "-1/-1"),
            ("DestCidrIp", "0.0.0.0/0"),
        ],
    )
    .await;
    // Full: a rule it has already is still no error, a new one is refused with the whole call.
    assert_eq!(authorize(1, 1).await.0, 200);
    assert_error(&authorize(200, 2).await, 403, "AuthorizationLimitExceed");
    assert_eq!(rules(&c, &sg, &[("MaxResults", "1000")]).await.len(), 200);
    allow(
        &c,
        &sg,
        &[
            ("IpProtocol", "tcp"),
            ("PortRange", "1/1"),
            ("SourceCidrIp", "0.0.0.0/0"),
        ],
    )
    .await;
    let shown = ok(&c, "DescribeSecurityGroups", &[("SecurityGroupId", &sg)]).await;
    assert_eq!(
        shown["SecurityGroups"]["SecurityGroup"][0]["RuleCount"],
        200
    );
    let first = rules(&c, &sg, &[("MaxResults", "10")]).await;
    let id = first[0]["SecurityGroupRuleId"].as_str().unwrap();
    ok(
        &c,
        "RevokeSecurityGroup",
        &[("SecurityGroupId", &sg), ("SecurityGroupRuleId.1", id)],
    )
    .await;
    assert_eq!(authorize(200, 1).await.0, 200);
}
