//! Trust policies: who may call sts:AssumeRole on a role.

use axt_iam::{trusts, trusts_service, Document};
use common::*;

mod common;

fn trust(statements: &str) -> Document {
    Document::parse_trust(&format!(r#"{{"Version":"1","Statement":[{statements}]}}"#)).unwrap()
}

#[test]
fn trust_policies_name_who_may_assume() {
    let ctx = context();
    let root = trust(
        r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::111:root"}}"#,
    );
    assert!(trusts(&root, "acs:ram::111:user/alice", "111", &ctx));
    assert!(trusts(
        &root,
        "acs:ram::111:assumed-role/ops/s1",
        "111",
        &ctx
    ));
    assert!(
        !trusts(&root, "acs:ram::222:user/alice", "222", &ctx),
        "another account"
    );

    let alice = trust(
        r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::111:user/alice","acs:ram::111:role/Ops"]}}"#,
    );
    assert!(trusts(&alice, "acs:ram::111:user/alice", "111", &ctx));
    assert!(!trusts(&alice, "acs:ram::111:user/bob", "111", &ctx));
    assert!(trusts(&alice, "acs:ram::111:role/ops", "111", &ctx));
    assert!(
        trusts(&alice, "acs:ram::111:assumed-role/ops/session", "111", &ctx),
        "a role's sessions"
    );
    assert!(!trusts(
        &alice,
        "acs:ram::111:assumed-role/dev/session",
        "111",
        &ctx
    ));
    assert!(!trusts(&alice, "acs:ram::222:user/alice", "222", &ctx));

    let deny_bob = trust(
        r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::111:root"}},
           {"Effect":"Deny","Action":"sts:*","Principal":{"RAM":"acs:ram::111:user/bob"}}"#,
    );
    assert!(trusts(&deny_bob, "acs:ram::111:user/alice", "111", &ctx));
    assert!(!trusts(&deny_bob, "acs:ram::111:user/bob", "111", &ctx));

    let other_action = trust(
        r#"{"Effect":"Allow","Action":"sts:GetCallerIdentity","Principal":{"RAM":"acs:ram::111:root"}}"#,
    );
    assert!(!trusts(
        &other_action,
        "acs:ram::111:user/alice",
        "111",
        &ctx
    ));

    let from_office = trust(
        r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::111:root"},
            "Condition":{"IpAddress":{"acs:SourceIp":"192.168.0.0/16"}}}"#,
    );
    assert!(!trusts(
        &from_office,
        "acs:ram::111:user/alice",
        "111",
        &ctx
    ));
    let mut office = context();
    office.source_ip = Some("192.168.3.4".parse().unwrap());
    assert!(trusts(
        &from_office,
        "acs:ram::111:user/alice",
        "111",
        &office
    ));

    let service = trust(
        r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":"ecs.aliyuncs.com"}}"#,
    );
    assert!(trusts_service(&service, "ecs.aliyuncs.com", &ctx));
    assert!(!trusts_service(&service, "fc.aliyuncs.com", &ctx));
    assert!(!trusts(&service, "acs:ram::111:user/alice", "111", &ctx));
    assert!(!trusts_service(&root, "ecs.aliyuncs.com", &ctx));
}
