//! Evaluating requests: explicit Deny first, implicit deny by default, NotAction and
//! NotResource, the complete trace, session policies, system policies.

use axt_iam::{system::system_policy, Decision, Document, PolicyType};
use common::*;

mod common;

#[test]
fn no_policy_is_an_implicit_deny() {
    let e = run(&[], None, START, INSTANCE_1, &context());
    assert_eq!(e.decision, Decision::ImplicitDeny);
    assert!(e.trace.statements.is_empty());
    assert_eq!(e.trace.decision, Decision::ImplicitDeny);
    assert_eq!(
        (e.trace.action.as_str(), e.trace.resource.as_str()),
        (START, INSTANCE_1)
    );
}

#[test]
fn allow_and_implicit_deny() {
    let only_one = doc(&format!(
        r#"{{"Effect":"Allow","Action":"ecs:Start*","Resource":"{INSTANCE_1}"}}"#
    ));
    assert_eq!(decide(&[&only_one], START, INSTANCE_1), Decision::Allow);
    assert_eq!(
        decide(&[&only_one], START, INSTANCE_2),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(&[&only_one], "ecs:StopInstance", INSTANCE_1),
        Decision::ImplicitDeny
    );
    // Actions ignore case; resources do not.
    assert_eq!(
        decide(&[&only_one], "ECS:startterminalsession", INSTANCE_1),
        Decision::Allow
    );
    assert_eq!(
        decide(&[&only_one], START, &INSTANCE_1.to_uppercase()),
        Decision::ImplicitDeny
    );
}

#[test]
fn explicit_deny_beats_allow_in_any_policy() {
    let allow = doc(ALLOW_ALL);
    let deny = doc(r#"{"Effect":"Deny","Action":"ecs:*","Resource":"acs:ecs:*:*:instance/i-2"}"#);
    assert_eq!(
        decide(&[&allow, &deny], START, INSTANCE_2),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(&[&deny, &allow], START, INSTANCE_2),
        Decision::ExplicitDeny
    );
    assert_eq!(decide(&[&allow, &deny], START, INSTANCE_1), Decision::Allow);
    assert_eq!(decide(&[&deny], START, INSTANCE_1), Decision::ImplicitDeny);
}

#[test]
fn not_action_and_not_resource() {
    let all_but_start =
        doc(r#"{"Effect":"Allow","NotAction":["ecs:Start*","ram:*"],"Resource":"*"}"#);
    assert_eq!(
        decide(&[&all_but_start], START, INSTANCE_1),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(&[&all_but_start], "ecs:DescribeInstances", INSTANCE_1),
        Decision::Allow
    );
    assert_eq!(
        decide(&[&all_but_start], "ram:CreateUser", "*"),
        Decision::ImplicitDeny
    );

    let deny_elsewhere = doc(&format!(
        r#"{ALLOW_ALL},{{"Effect":"Deny","Action":"ecs:*","NotResource":"{INSTANCE_1}"}}"#
    ));
    assert_eq!(
        decide(&[&deny_elsewhere], START, INSTANCE_1),
        Decision::Allow
    );
    assert_eq!(
        decide(&[&deny_elsewhere], START, INSTANCE_2),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(&[&deny_elsewhere], "vpc:DescribeVpcs", INSTANCE_2),
        Decision::Allow
    );
}

#[test]
fn the_trace_holds_every_statement_in_order() {
    let a = doc(&format!(
        r#"{{"Sid":"A","Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}},
           {{"Effect":"Allow","Action":"ecs:*","Resource":"{INSTANCE_1}","Condition":{{"Bool":{{"acs:MFAPresent":"true"}}}}}}"#
    ));
    let b = doc(r#"{"Effect":"Deny","Action":"ecs:Start*","NotResource":"*"}"#);
    let e = run(&[&a, &b], None, START, INSTANCE_1, &context());
    let t = &e.trace.statements;
    assert_eq!(t.len(), 3);
    let summary: Vec<_> = t
        .iter()
        .map(|s| {
            (
                s.policy.as_str(),
                s.index,
                s.action_matched,
                s.resource_matched,
                s.applies,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("First", 0, false, true, false),
            ("First", 1, true, true, false),
            ("Second", 0, true, false, false)
        ]
    );
    assert_eq!(t[0].sid.as_deref(), Some("A"));
    assert_eq!(t[0].actions, ["ecs:Describe*"]);
    assert_eq!(t[2].resources, ["*"]);
    assert!(t[2].not_resource);
    assert_eq!(t[1].conditions.len(), 1);
    let c = &t[1].conditions[0];
    assert_eq!(
        (c.operator.as_str(), c.key.as_str()),
        ("Bool", "acs:MFAPresent")
    );
    assert_eq!(
        (c.values.clone(), c.actual.clone(), c.holds),
        (vec!["true".to_owned()], vec!["false".to_owned()], false)
    );
    assert_eq!(e.decision, Decision::ImplicitDeny);
}

#[test]
fn a_session_policy_narrows_and_can_deny() {
    let identity = doc(ALLOW_ALL);
    let narrow = doc(&format!(
        r#"{{"Effect":"Allow","Action":"ecs:*","Resource":"{INSTANCE_1}"}}"#
    ));
    let ctx = context();
    let with = |session: &Document, action, resource| {
        run(&[&identity], Some(session), action, resource, &ctx)
    };

    let e = with(&narrow, START, INSTANCE_1);
    assert_eq!(e.decision, Decision::Allow);
    let last = e.trace.statements.last().unwrap();
    assert_eq!(
        (last.policy.as_str(), last.policy_type),
        ("session policy", PolicyType::Session)
    );
    assert_eq!(
        with(&narrow, START, INSTANCE_2).decision,
        Decision::ImplicitDeny
    );
    assert_eq!(
        with(&narrow, "ram:CreateUser", "*").decision,
        Decision::ImplicitDeny
    );

    // A session policy cannot grant what the identity lacks.
    let nothing = doc(r#"{"Effect":"Allow","Action":"ram:*","Resource":"*"}"#);
    assert_eq!(
        run(&[&nothing], Some(&narrow), START, INSTANCE_1, &ctx).decision,
        Decision::ImplicitDeny
    );

    let deny = doc(&format!(
        r#"{ALLOW_ALL},{{"Effect":"Deny","Action":"ecs:Start*","Resource":"*"}}"#
    ));
    assert_eq!(
        with(&deny, START, INSTANCE_1).decision,
        Decision::ExplicitDeny
    );
    assert_eq!(
        with(&deny, "ecs:DescribeInstances", INSTANCE_1).decision,
        Decision::Allow
    );
    // An identity Deny is explicit even when the session policy does not allow either.
    let identity_deny = doc(r#"{"Effect":"Deny","Action":"*","Resource":"*"}"#);
    assert_eq!(
        run(&[&identity_deny], Some(&nothing), START, INSTANCE_1, &ctx).decision,
        Decision::ExplicitDeny
    );
}

#[test]
fn system_policies() {
    let admin = system_policy("AdministratorAccess").unwrap();
    for (action, resource) in [
        (START, INSTANCE_1),
        ("ram:DeleteUser", "acs:ram::1:user/x"),
        ("sts:AssumeRole", "*"),
    ] {
        assert_eq!(decide(&[admin], action, resource), Decision::Allow);
    }
    let read = system_policy("AliyunECSReadOnlyAccess").unwrap();
    assert_eq!(
        decide(&[read], "ecs:DescribeInstances", INSTANCE_1),
        Decision::Allow
    );
    assert_eq!(
        decide(&[read], "ecs:ListTagResources", "*"),
        Decision::Allow
    );
    assert_eq!(decide(&[read], START, INSTANCE_1), Decision::ImplicitDeny);
    let full = system_policy("AliyunECSFullAccess").unwrap();
    assert_eq!(decide(&[full], START, INSTANCE_1), Decision::Allow);
    assert_eq!(
        decide(&[full], "ram:CreateUser", "*"),
        Decision::ImplicitDeny
    );
    let ram_read = system_policy("AliyunRAMReadOnlyAccess").unwrap();
    assert_eq!(decide(&[ram_read], "ram:ListUsers", "*"), Decision::Allow);
    assert_eq!(
        decide(&[ram_read], "ram:CreateUser", "*"),
        Decision::ImplicitDeny
    );
    let ram_full = system_policy("AliyunRAMFullAccess").unwrap();
    assert_eq!(decide(&[ram_full], "ram:CreateUser", "*"), Decision::Allow);
    let sts = system_policy("AliyunSTSAssumeRoleAccess").unwrap();
    assert_eq!(
        decide(&[sts], "sts:AssumeRole", "acs:ram::1:role/r"),
        Decision::Allow
    );
    assert_eq!(decide(&[sts], START, INSTANCE_1), Decision::ImplicitDeny);
}

#[test]
fn traces_serialize() {
    let d = doc(ALLOW_ALL);
    let e = run(&[&d], None, START, INSTANCE_1, &context());
    let json = serde_json::to_string(&e.trace).unwrap();
    assert_eq!(
        serde_json::from_str::<axt_iam::Trace>(&json).unwrap(),
        e.trace
    );
    // A trace written before statements carried their patterns still reads.
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let statement = value["statements"][0].as_object_mut().unwrap();
    for field in ["actions", "not_action", "resources", "not_resource"] {
        statement.remove(field);
    }
    let old: axt_iam::Trace = serde_json::from_value(value).unwrap();
    assert!(old.statements[0].actions.is_empty());
}
