//! Security groups over the OpenAPI: every refusal with its code (the table of `codes.rs`),
//! a group's life from creation to deletion, instances joining and leaving, the rule quota, and
//! the check a port session passes — drops and accepts by priority, shells never checked.

#[path = "security_groups/codes.rs"]
mod codes;
mod common;
#[path = "security_groups/groups.rs"]
mod groups;
#[path = "security_groups/instances.rs"]
mod instances;
#[path = "security_groups/sessions.rs"]
mod sessions;

use common::*;
use serde_json::Value;

/// A successful call in the test region; its body.
pub async fn ok(c: &Client, action: &str, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("RegionId", REGION)];
    all.extend_from_slice(pairs);
    let (status, body) = c.call(action, &all).await;
    assert_eq!(status, 200, "{action}: {body}");
    body
}

pub async fn group(c: &Client, pairs: &[(&str, &str)]) -> String {
    let body = ok(c, "CreateSecurityGroup", pairs).await;
    body["SecurityGroupId"].as_str().unwrap().to_owned()
}

/// The rules DescribeSecurityGroupAttribute shows for `sg`, with `extra` parameters.
pub async fn rules(c: &Client, sg: &str, extra: &[(&str, &str)]) -> Vec<Value> {
    let mut pairs = vec![("SecurityGroupId", sg)];
    pairs.extend_from_slice(extra);
    let body = ok(c, "DescribeSecurityGroupAttribute", &pairs).await;
    body["Permissions"]["Permission"]
        .as_array()
        .unwrap()
        .clone()
}

pub async fn allow(c: &Client, sg: &str, rule: &[(&str, &str)]) {
    let mut pairs = vec![("SecurityGroupId", sg)];
    pairs.extend_from_slice(rule);
    ok(c, "AuthorizeSecurityGroup", &pairs).await;
}

#[tokio::test]
async fn every_refusal_has_its_code() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let instance = plane.ready_instance().await;
    let managed = plane.agent(None, "2.4.3.100").await;
    let sg = group(&c, &[]).await;
    let adv = group(&c, &[("SecurityGroupType", "enterprise")]).await;
    ok(
        &c,
        "JoinSecurityGroup",
        &[("SecurityGroupId", &sg), ("InstanceId", &instance)],
    )
    .await;
    allow(
        &c,
        &sg,
        &[
            ("IpProtocol", "tcp"),
            ("PortRange", "22/22"),
            ("SourceCidrIp", "10.0.0.0/8"),
        ],
    )
    .await;
    let rule = rules(&c, &sg, &[]).await[0]["SecurityGroupRuleId"]
        .as_str()
        .unwrap()
        .to_owned();
    let expand = |v: &str| match v {
        "{sg}" => sg.clone(),
        "{adv}" => adv.clone(),
        "{i}" => instance.clone(),
        "{mi}" => managed.clone(),
        "{rule}" => rule.clone(),
        v if v.starts_with('{') => "x".repeat(v.trim_matches(['{', '}']).parse().unwrap()),
        v => v.to_owned(),
    };
    for (action, status, code, extra) in codes::TABLE {
        let mut pairs: Vec<(String, String)> = vec![("RegionId".into(), REGION.into())];
        for (k, v) in *extra {
            pairs.retain(|(name, _)| name != k);
            pairs.push((k.to_string(), expand(v)));
        }
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let got = c.call(action, &refs).await;
        assert_error(&got, *status, code);
    }
    // The refusals changed nothing: the one rule, the one member.
    assert_eq!(rules(&c, &sg, &[]).await.len(), 1);
    let groups = ok(&c, "DescribeSecurityGroups", &[("SecurityGroupId", &sg)]).await;
    assert_eq!(groups["SecurityGroups"]["SecurityGroup"][0]["EcsCount"], 1);
}
