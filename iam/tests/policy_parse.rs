//! Parsing and validating documents as RAM's `CreatePolicy`, `CreateRole` and `AssumeRole`
//! would: every malformed shape refused with a message that names what is wrong.

use axt_iam::{
    policy::{MAX_DOCUMENT_LEN, MAX_SESSION_POLICY_LEN},
    Condition, Document, Effect, PolicyError, Principals,
};

fn malformed(text: &str) -> String {
    match Document::parse(text) {
        Err(e @ PolicyError::Malformed(_)) => {
            assert_eq!(e.code(), "MalformedPolicyDocument");
            e.to_string()
        }
        other => panic!("expected Malformed for {text}, got {other:?}"),
    }
}

fn malformed_trust(text: &str) -> String {
    match Document::parse_trust(text) {
        Err(e @ PolicyError::Malformed(_)) => e.to_string(),
        other => panic!("expected Malformed for {text}, got {other:?}"),
    }
}

#[test]
fn a_full_permission_policy() {
    let doc = Document::parse(
        r#"{"Version": "1", "Statement": [
            {"Sid": "One", "Effect": "Allow", "Action": ["ecs:Describe*", "ecs:StartTerminalSession"],
             "Resource": "acs:ecs:*:*:instance/i-1",
             "Condition": {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.1.1"]},
                           "Bool": {"acs:SecureTransport": true},
                           "NumericLessThan": {"ecs:Count": 5}}},
            {"Effect": "Deny", "NotAction": "ecs:Describe*", "NotResource": ["acs:ecs:*:*:instance/i-1"]}
        ]}"#,
    )
    .unwrap();
    assert_eq!(doc.version, "1");
    let [one, two] = &doc.statements[..] else {
        panic!("two statements")
    };
    assert_eq!(one.sid.as_deref(), Some("One"));
    assert_eq!(one.effect, Effect::Allow);
    assert_eq!(one.actions, ["ecs:Describe*", "ecs:StartTerminalSession"]);
    assert!(!one.not_action && !one.not_resource);
    assert_eq!(one.resources, ["acs:ecs:*:*:instance/i-1"]);
    assert_eq!(one.principals, None);
    // Values of every JSON scalar type become strings; conditions come sorted.
    let cond = |op: &str, key: &str, values: &[&str]| Condition {
        operator: op.into(),
        key: key.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    };
    assert_eq!(
        one.conditions,
        [
            cond("Bool", "acs:SecureTransport", &["true"]),
            cond("IpAddress", "acs:SourceIp", &["10.0.0.0/8", "192.168.1.1"]),
            cond("NumericLessThan", "ecs:Count", &["5"]),
        ]
    );
    assert_eq!(two.effect, Effect::Deny);
    assert!(two.not_action && two.not_resource);
    assert_eq!(two.actions, ["ecs:Describe*"]);
    assert!(two.conditions.is_empty());
}

#[test]
fn a_single_statement_object_is_a_list_of_one() {
    let doc = Document::parse(
        r#"{"Version":"1","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
    )
    .unwrap();
    assert_eq!(doc.statements.len(), 1);
    assert_eq!(doc.statements[0].actions, ["*"]);
}

#[test]
fn an_empty_condition_block_is_no_condition() {
    let doc = Document::parse(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}}]}"#,
    )
    .unwrap();
    assert!(doc.statements[0].conditions.is_empty());
}

#[test]
fn malformed_shapes_name_what_is_wrong() {
    let stmt = |body: &str| format!(r#"{{"Version":"1","Statement":[{body}]}}"#);
    let ok = r#""Effect":"Allow","Action":"ecs:*","Resource":"*""#;
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "the policy document is empty"),
        ("   ".into(), "the policy document is empty"),
        ("{".into(), "the policy document is not valid JSON: EOF while parsing an object at line 1 column 1"),
        ("[]".into(), "the policy document must be a JSON object, not a list"),
        ("\"x\"".into(), "the policy document must be a JSON object, not \"x\""),
        (r#"{"Statement":[]}"#.into(), "Version is missing: write \"Version\": \"1\""),
        (r#"{"Version":1,"Statement":[]}"#.into(), "Version must be the string \"1\", not 1"),
        (r#"{"Version":"2012-10-17","Statement":[]}"#.into(), "Version must be \"1\", not \"2012-10-17\""),
        (r#"{"Version":"1"}"#.into(), "Statement is missing"),
        (r#"{"Version":"1","Statement":[]}"#.into(), "Statement is an empty list: a policy needs a statement"),
        (r#"{"Version":"1","Statement":"x"}"#.into(), "Statement must be a list of statements, not \"x\""),
        (r#"{"Version":"1","Statement":[],"Id":"x"}"#.into(), "unknown element \"Id\" at the top of the policy (allowed: Version, Statement)"),
        (r#"{"version":"1","Statement":[]}"#.into(), "unknown element \"version\" at the top of the policy (element names are case-sensitive: write Version)"),
        (stmt("1"), "Statement 1 must be an object, not 1"),
        (stmt(&format!("{{{ok}}},{{\"Effect\":\"allow\",\"Action\":\"*\",\"Resource\":\"*\"}}")), "Statement 2: Effect must be Allow or Deny, not \"allow\""),
        (stmt(r#"{"Effect":true,"Action":"*","Resource":"*"}"#), "Statement 1: Effect must be Allow or Deny, not true"),
        (stmt(r#"{"Action":"*","Resource":"*"}"#), "Statement 1: Effect is missing"),
        (stmt(r#"{"Effect":"Allow","Resource":"*"}"#), "Statement 1 has neither Action nor NotAction"),
        (stmt(r#"{"Effect":"Allow","Action":"*","NotAction":"ecs:*","Resource":"*"}"#), "Statement 1 has both Action and NotAction: use one of them"),
        (stmt(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#), "Statement 1: Action is an empty list"),
        (stmt(r#"{"Effect":"Allow","Action":[1],"Resource":"*"}"#), "Statement 1: Action must hold strings, not 1"),
        (stmt(r#"{"Effect":"Allow","Action":{},"Resource":"*"}"#), "Statement 1: Action must be a string or a list of strings, not an object"),
        (stmt(r#"{"Effect":"Allow","Action":"","Resource":"*"}"#), "Statement 1: Action holds an empty string"),
        (stmt(r#"{"Effect":"Allow","Action":"ecs","Resource":"*"}"#), "Statement 1: Action \"ecs\" must be written service:Name (such as ecs:DescribeInstances), or *"),
        (stmt(r#"{"Effect":"Allow","Action":"ecs:a:b","Resource":"*"}"#), "Statement 1: Action \"ecs:a:b\" must be written service:Name (such as ecs:DescribeInstances), or *"),
        (stmt(r#"{"Effect":"Allow","Action":"ecs:*"}"#), "Statement 1 has neither Resource nor NotResource"),
        (stmt(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*","NotResource":"*"}"#), "Statement 1 has both Resource and NotResource: use one of them"),
        (stmt(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"instance/i-1"}"#), "Statement 1: Resource \"instance/i-1\" must be an ARN such as acs:ecs:*:*:instance/i-abc, or *"),
        (stmt(&format!(r#"{{{ok},"Principal":{{"RAM":"acs:ram::1:root"}}}}"#)), "Statement 1: Principal belongs only in a role's trust policy"),
        (stmt(&format!(r#"{{{ok},"Sid":7}}"#)), "Statement 1: Sid must be a string, not 7"),
        (stmt(&format!(r#"{{{ok},"Conditions":{{}}}}"#)), "unknown element \"Conditions\" in Statement 1 (allowed: Sid, Effect, Action, NotAction, Resource, NotResource, Principal, Condition)"),
        (stmt(&format!(r#"{{{ok},"effect":"Allow"}}"#)), "unknown element \"effect\" in Statement 1 (element names are case-sensitive: write Effect)"),
        (stmt(&format!(r#"{{{ok},"Condition":[]}}"#)), "Statement 1: Condition must be an object of operators, not a list"),
        (stmt(&format!(r#"{{{ok},"Condition":{{"StringEquals":"x"}}}}"#)), "Statement 1: Condition StringEquals must map condition keys to values, not \"x\""),
        (stmt(&format!(r#"{{{ok},"Condition":{{"StringEquals":{{}}}}}}"#)), "Statement 1: Condition StringEquals names no condition key"),
        (stmt(&format!(r#"{{{ok},"Condition":{{"StringEquals":{{"k":null}}}}}}"#)), "Statement 1: Condition StringEquals k must be a string, a number or a boolean, not null"),
        (stmt(&format!(r#"{{{ok},"Condition":{{"StringEquals":{{"k":[]}}}}}}"#)), "Statement 1: Condition StringEquals k is an empty list"),
        (stmt(&format!(r#"{{{ok},"Condition":{{"StringEquals":{{"k":[{{}}]}}}}}}"#)), "Statement 1: Condition StringEquals k must be a string, a number or a boolean, not an object"),
    ];
    for (text, want) in cases {
        assert_eq!(malformed(&text), want, "for {text}");
    }
}

#[test]
fn trust_policies() {
    let doc = Document::parse_trust(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",
            "Principal":{"RAM":"acs:ram::123:root","Service":["ecs.aliyuncs.com"],
                         "Federated":["acs:ram::123:saml-provider/idp"]}}]}"#,
    )
    .unwrap();
    assert_eq!(
        doc.statements[0].principals,
        Some(Principals {
            ram: vec!["acs:ram::123:root".into()],
            service: vec!["ecs.aliyuncs.com".into()],
            federated: vec!["acs:ram::123:saml-provider/idp".into()],
        })
    );
    assert!(doc.statements[0].resources.is_empty());

    let stmt = |body: &str| format!(r#"{{"Version":"1","Statement":[{body}]}}"#);
    let cases = [
        (stmt(r#"{"Effect":"Allow","Action":"sts:AssumeRole"}"#), "Statement 1: Principal is missing"),
        (stmt(r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::1:root"},"Resource":"*"}"#),
            "Statement 1: a trust policy has no Resource: the role itself is the resource"),
        (stmt(r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::1:root"},"NotResource":"*"}"#),
            "Statement 1: a trust policy has no NotResource: the role itself is the resource"),
        (stmt(r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":"*"}"#),
            "Statement 1: Principal must be an object such as {\"RAM\": [\"acs:ram::<account-id>:root\"]}, not \"*\""),
        (stmt(r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{}}"#),
            "Statement 1: Principal names nobody: give RAM, Service or Federated"),
        (stmt(r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"x"}}"#),
            "unknown element \"AWS\" in the Principal of Statement 1 (allowed: RAM, Service, Federated)"),
        (stmt(r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"ram":"x"}}"#),
            "unknown element \"ram\" in the Principal of Statement 1 (element names are case-sensitive: write RAM)"),
        (stmt(r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":[]}}"#),
            "Statement 1: Principal RAM is an empty list"),
        (stmt(r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"123456"}}"#),
            "Statement 1: Principal RAM entry \"123456\" must be an ARN: acs:ram::<account-id>:root, acs:ram::<account-id>:user/<name> or acs:ram::<account-id>:role/<name>"),
    ];
    for (text, want) in cases {
        assert_eq!(malformed_trust(&text), want, "for {text}");
    }
}

#[test]
fn length_limits_are_rams() {
    let padded = |len: usize| {
        let base =
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        let mut text = base.to_owned();
        text.insert_str(1, &" ".repeat(len - base.len()));
        text
    };
    assert!(Document::parse(&padded(MAX_DOCUMENT_LEN)).is_ok());
    let err = Document::parse(&padded(MAX_DOCUMENT_LEN + 1)).unwrap_err();
    assert_eq!(
        err,
        PolicyError::TooLong {
            len: 6145,
            max: 6144
        }
    );
    assert_eq!(err.code(), "InvalidParameter.PolicyDocument.Length");
    assert_eq!(
        err.to_string(),
        "the policy document is 6145 characters long, more than 6144"
    );
    assert!(Document::parse_trust(&padded(MAX_DOCUMENT_LEN + 1)).is_err());

    assert!(Document::parse_session(&padded(MAX_SESSION_POLICY_LEN)).is_ok());
    assert_eq!(
        Document::parse_session(&padded(MAX_SESSION_POLICY_LEN + 1)).unwrap_err(),
        PolicyError::TooLong {
            len: 2049,
            max: 2048
        }
    );
    // Characters, not bytes: a Sid in Chinese counts one per character.
    let sid = "中".repeat(6000);
    let text = format!(
        r#"{{"Version":"1","Statement":[{{"Sid":"{sid}","Effect":"Allow","Action":"*","Resource":"*"}}]}}"#
    );
    assert!(text.len() > MAX_DOCUMENT_LEN && text.chars().count() <= MAX_DOCUMENT_LEN);
    assert!(Document::parse(&text).is_ok());
}

#[test]
fn documents_round_trip_through_serde() {
    let doc = Document::parse(
        r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"ecs:*","Resource":"*",
            "Condition":{"DateGreaterThan":{"acs:CurrentTime":"2026-01-01T00:00:00Z"}}}]}"#,
    )
    .unwrap();
    let json = serde_json::to_string(&doc).unwrap();
    assert_eq!(serde_json::from_str::<Document>(&json).unwrap(), doc);
}
