//! The explanation a learner reads, checked word for word.

use axt_iam::{
    evaluate, explain::render, system::system_policy, Attached, Context, Document, PolicyType,
    Request,
};
use chrono::{TimeZone, Utc};

const INSTANCE_2: &str = "acs:ecs:cn-hangzhou:1234567890123456:instance/i-2";

fn context() -> Context {
    let mut c = Context::at(Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap());
    c.source_ip = Some("127.0.0.1".parse().unwrap());
    c
}

fn only_instance_one() -> Document {
    Document::parse(
        r#"{"Version":"1","Statement":[
            {"Sid":"OnlyOne","Effect":"Allow","Action":"ecs:StartTerminalSession",
             "Resource":"acs:ecs:*:*:instance/i-1"},
            {"Effect":"Allow","Action":["ecs:Describe*","ecs:List*"],"Resource":"*"},
            {"Effect":"Allow","Action":"ecs:*","Resource":"*",
             "Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}},
            {"Sid":"NotTwo","Effect":"Deny","Action":"ecs:*","Resource":"acs:ecs:*:*:instance/i-2",
             "Condition":{"Bool":{"acs:SecureTransport":"false"}}}
        ]}"#,
    )
    .unwrap()
}

#[test]
fn an_explicit_deny() {
    let custom = only_instance_one();
    let policies = [
        Attached {
            name: "OnlyInstanceOne",
            policy_type: PolicyType::Custom,
            document: &custom,
        },
        Attached {
            name: "AliyunECSFullAccess",
            policy_type: PolicyType::System,
            document: system_policy("AliyunECSFullAccess").unwrap(),
        },
    ];
    let ctx = context();
    let request = Request {
        action: "ecs:StartTerminalSession",
        resource: INSTANCE_2,
        context: &ctx,
    };
    let text = render(&evaluate(&policies, None, &request).trace);
    assert_eq!(
        text,
        "\
ExplicitDeny: ecs:StartTerminalSession on acs:ecs:cn-hangzhou:1234567890123456:instance/i-2
decided by statement 4 (Sid NotTwo) of Custom policy OnlyInstanceOne: Deny matched action, resource and every condition
statement 1 (Sid OnlyOne) of Custom policy OnlyInstanceOne: Allow, but Resource acs:ecs:*:*:instance/i-1 does not match acs:ecs:cn-hangzhou:1234567890123456:instance/i-2
statement 2 of Custom policy OnlyInstanceOne: Allow, but Action [ecs:Describe*, ecs:List*] does not match ecs:StartTerminalSession
statement 3 of Custom policy OnlyInstanceOne: Allow, but Condition IpAddress acs:SourceIp [10.0.0.0/8] does not hold for 127.0.0.1
statement 1 of System policy AliyunECSFullAccess: Allow matched action and resource, but an explicit Deny wins
statement 2 of System policy AliyunECSFullAccess: Allow, but Action [vpc:DescribeVpcs, vpc:DescribeVSwitches] does not match ecs:StartTerminalSession
"
    );
}

#[test]
fn an_implicit_deny() {
    let doc = Document::parse(
        r#"{"Version":"1","Statement":[
            {"Effect":"Allow","NotAction":"ecs:Start*","NotResource":"acs:ecs:*:*:instance/i-2",
             "Condition":{"NotIpAddress":{"acs:SourceIp":"127.0.0.0/8"},
                          "StringEquals":{"ecs:tag/team":"dev"}}}
        ]}"#,
    )
    .unwrap();
    let ctx = context();
    let policies = [Attached {
        name: "Odd",
        policy_type: PolicyType::Custom,
        document: &doc,
    }];
    let request = Request {
        action: "ecs:StartTerminalSession",
        resource: INSTANCE_2,
        context: &ctx,
    };
    assert_eq!(
        render(&evaluate(&policies, None, &request).trace),
        "\
ImplicitDeny: ecs:StartTerminalSession on acs:ecs:cn-hangzhou:1234567890123456:instance/i-2
no statement allows it (implicit deny)
statement 1 of Custom policy Odd: Allow, but NotAction ecs:Start* excludes ecs:StartTerminalSession; \
NotResource acs:ecs:*:*:instance/i-2 excludes acs:ecs:cn-hangzhou:1234567890123456:instance/i-2; \
Condition NotIpAddress acs:SourceIp [127.0.0.0/8] does not hold for 127.0.0.1; \
Condition StringEquals ecs:tag/team [dev] does not hold for a request without it (the request has no ecs:tag/team)
"
    );

    let nothing = render(&evaluate(&[], None, &request).trace);
    assert_eq!(
        nothing,
        "\
ImplicitDeny: ecs:StartTerminalSession on acs:ecs:cn-hangzhou:1234567890123456:instance/i-2
no statement allows it: no policy is in force (implicit deny)
"
    );
}

#[test]
fn a_session_policy() {
    let session = Document::parse_session(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}]}"#,
    )
    .unwrap();
    let policies = [Attached {
        name: "AdministratorAccess",
        policy_type: PolicyType::System,
        document: system_policy("AdministratorAccess").unwrap(),
    }];
    let ctx = context();
    let start = Request {
        action: "ecs:StartTerminalSession",
        resource: INSTANCE_2,
        context: &ctx,
    };
    assert_eq!(
        render(&evaluate(&policies, Some(&session), &start).trace),
        "\
ImplicitDeny: ecs:StartTerminalSession on acs:ecs:cn-hangzhou:1234567890123456:instance/i-2
no statement of the session policy allows it: a session policy narrows what the identity's policies allow (implicit deny)
statement 1 of System policy AdministratorAccess: Allow matched action and resource, but the session policy does not allow it
statement 1 of the session policy: Allow, but Action ecs:Describe* does not match ecs:StartTerminalSession
"
    );
    let describe = Request {
        action: "ecs:DescribeInstances",
        resource: "*",
        context: &ctx,
    };
    assert_eq!(
        render(&evaluate(&policies, Some(&session), &describe).trace),
        "\
Allow: ecs:DescribeInstances on *
decided by statement 1 of System policy AdministratorAccess: Allow matched action and resource
decided by statement 1 of the session policy: Allow matched action and resource
"
    );
}

#[test]
fn rendering_is_deterministic() {
    let custom = only_instance_one();
    let policies = [Attached {
        name: "P",
        policy_type: PolicyType::Custom,
        document: &custom,
    }];
    let ctx = context();
    let request = Request {
        action: "ecs:StopInstance",
        resource: INSTANCE_2,
        context: &ctx,
    };
    let first = render(&evaluate(&policies, None, &request).trace);
    for _ in 0..3 {
        assert_eq!(render(&evaluate(&policies, None, &request).trace), first);
    }
}
