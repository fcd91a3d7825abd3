//! A security group's life: created with its attributes, found by each filter and page of
//! DescribeSecurityGroups, given rules in both parameter styles and both directions, shown by
//! DescribeSecurityGroupAttribute as ECS spells them, revoked by fields and by id, deleted.

use serde_json::Value;

use super::{allow, group, ok, rules};
use crate::common::*;

#[tokio::test]
async fn a_group_from_creation_to_deletion() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let web = group(
        &c,
        &[
            ("SecurityGroupName", "web:front_1"),
            ("Description", "the web tier"),
            ("VpcId", "vpc-lab1"),
            ("Tag.1.Key", "env"),
            ("Tag.1.Value", "lab"),
        ],
    )
    .await;
    let adv = group(&c, &[("SecurityGroupType", "enterprise")]).await;
    assert!(web.starts_with("sg-") && web.len() == 23, "{web}");
    let listed = ok(
        &c,
        "DescribeSecurityGroups",
        &[("SecurityGroupName", "web:front_1")],
    )
    .await;
    let shown = &listed["SecurityGroups"]["SecurityGroup"][0];
    assert_eq!(
        (
            shown["SecurityGroupId"].as_str(),
            listed["TotalCount"].as_i64()
        ),
        (Some(web.as_str()), Some(1))
    );
    assert_eq!(
        (shown["VpcId"].as_str(), shown["SecurityGroupType"].as_str()),
        (Some("vpc-lab1"), Some("normal"))
    );
    assert_eq!(shown["Tags"]["Tag"][0]["TagValue"], "lab");
    assert_eq!(shown["Description"], "the web tier");
    for (filter, value, want) in [
        ("SecurityGroupType", "enterprise", &adv),
        ("NetworkType", "vpc", &web),
        ("NetworkType", "classic", &adv),
        (
            "SecurityGroupIds",
            &format!("[\"{adv}\",\"sg-other\"]"),
            &adv,
        ),
    ] {
        let got = ok(&c, "DescribeSecurityGroups", &[(filter, value)]).await;
        assert_eq!(
            got["SecurityGroups"]["SecurityGroup"][0]["SecurityGroupId"], **want,
            "{filter}"
        );
        assert_eq!(got["TotalCount"], 1, "{filter}");
    }
    let first = ok(&c, "DescribeSecurityGroups", &[("MaxResults", "1")]).await;
    assert_eq!(
        first["SecurityGroups"]["SecurityGroup"][0]["SecurityGroupId"],
        web
    );
    let token = first["NextToken"].as_str().unwrap();
    let rest = ok(
        &c,
        "DescribeSecurityGroups",
        &[("MaxResults", "1"), ("NextToken", token)],
    )
    .await;
    assert_eq!(
        (
            rest["SecurityGroups"]["SecurityGroup"][0]["SecurityGroupId"].as_str(),
            rest["NextToken"].as_str()
        ),
        (Some(adv.as_str()), Some(""))
    );

    // The flat parameters and the Permissions.N list; case-insensitive in, ECS's spelling out.
    allow(
        &c,
        &web,
        &[
            ("IpProtocol", "TCP"),
            ("PortRange", "80/80"),
            ("SourceCidrIp", "0.0.0.0/0"),
            ("Description", "http"),
        ],
    )
    .await;
    allow(
        &c,
        &web,
        &[
            ("Permissions.1.IpProtocol", "tcp"),
            ("Permissions.1.PortRange", "22/22"),
            ("Permissions.1.SourceCidrIp", "10.1.2.3/8"),
            ("Permissions.1.Policy", "Drop"),
            ("Permissions.1.Priority", "5"),
            ("Permissions.2.IpProtocol", "all"),
            ("Permissions.2.PortRange", "-1/-1"),
            ("Permissions.2.Ipv6SourceCidrIp", "2001:db8::/32"),
        ],
    )
    .await;
    // The same rule again (another priority and description): success, and no second rule.
    allow(
        &c,
        &web,
        &[
            ("IpProtocol", "tcp"),
            ("PortRange", "80/80"),
            ("SourceCidrIp", "0.0.0.0/0"),
            ("Priority", "9"),
        ],
    )
    .await;
    ok(
        &c,
        "AuthorizeSecurityGroupEgress",
        &[
            ("SecurityGroupId", &web),
            ("IpProtocol", "udp"),
            ("PortRange", "53/53"),
            ("DestCidrIp", "10.0.0.2"),
        ],
    )
    .await;
    let all = rules(&c, &web, &[]).await;
    assert_eq!(all.len(), 4);
    let http = &all[0];
    assert!(http["SecurityGroupRuleId"]
        .as_str()
        .unwrap()
        .starts_with("sgr-"));
    for (field, want) in [
        ("IpProtocol", "TCP"),
        ("PortRange", "80/80"),
        ("SourceCidrIp", "0.0.0.0/0"),
        ("Policy", "Accept"),
        ("Priority", "1"),
        ("Direction", "ingress"),
        ("NicType", "intranet"),
        ("Description", "http"),
    ] {
        assert_eq!(http[field], want, "{field}");
    }
    assert!(http["CreateTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        (
            all[1]["Policy"].as_str(),
            all[1]["Priority"].as_str(),
            all[1]["SourceCidrIp"].as_str()
        ),
        (Some("Drop"), Some("5"), Some("10.0.0.0/8"))
    );
    assert_eq!(
        (
            all[2]["IpProtocol"].as_str(),
            all[2]["Ipv6SourceCidrIp"].as_str()
        ),
        (Some("ALL"), Some("2001:db8::/32"))
    );
    assert_eq!(
        (all[3]["Direction"].as_str(), all[3]["DestCidrIp"].as_str()),
        (Some("egress"), Some("10.0.0.2"))
    );
    assert_eq!(rules(&c, &web, &[("Direction", "egress")]).await.len(), 1);
    let paged = ok(
        &c,
        "DescribeSecurityGroupAttribute",
        &[
            ("SecurityGroupId", &web),
            ("MaxResults", "10"),
            ("NextToken", "3"),
        ],
    )
    .await;
    assert_eq!(
        paged["Permissions"]["Permission"].as_array().unwrap().len(),
        1
    );
    let attribute = ok(
        &c,
        "DescribeSecurityGroupAttribute",
        &[("SecurityGroupId", &adv)],
    )
    .await;
    assert_eq!(
        (
            attribute["InnerAccessPolicy"].as_str(),
            attribute["NextToken"].as_str()
        ),
        (Some("Drop"), Some(""))
    );

    // Revoke by fields (one that matches nothing is no error) and by id.
    let revoke = [
        ("SecurityGroupId", web.as_str()),
        ("IpProtocol", "tcp"),
        ("PortRange", "22/22"),
        ("SourceCidrIp", "10.0.0.0/8"),
    ];
    ok(&c, "RevokeSecurityGroup", &revoke).await;
    assert_eq!(
        rules(&c, &web, &[]).await.len(),
        4,
        "the drop rule is not an accept rule"
    );
    ok(
        &c,
        "RevokeSecurityGroup",
        &[
            revoke[0],
            revoke[1],
            revoke[2],
            revoke[3],
            ("Policy", "drop"),
        ],
    )
    .await;
    let egress = rules(&c, &web, &[("Direction", "egress")]).await;
    let egress_id = egress[0]["SecurityGroupRuleId"].as_str().unwrap();
    ok(
        &c,
        "RevokeSecurityGroupEgress",
        &[
            ("SecurityGroupId", &web),
            ("SecurityGroupRuleId.1", egress_id),
        ],
    )
    .await;
    let left: Vec<Value> = rules(&c, &web, &[]).await;
    assert_eq!(
        left.iter()
            .map(|r| r["PortRange"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["80/80", "-1/-1"]
    );

    ok(&c, "DeleteSecurityGroup", &[("SecurityGroupId", &web)]).await;
    assert_error(
        &c.call(
            "DescribeSecurityGroupAttribute",
            &[("RegionId", REGION), ("SecurityGroupId", &web)],
        )
        .await,
        404,
        "InvalidSecurityGroupId.NotFound",
    );
}
