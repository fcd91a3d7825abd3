//! Conditions: every operator true and false, dates against a fixed time, IPv4 and IPv6
//! blocks, missing keys, unknown operators and unreadable values, AND across conditions and OR
//! across values.

use std::net::IpAddr;

use axt_iam::{Context, Decision};
use chrono::{TimeZone, Utc};
use common::*;

mod common;

/// One condition, alone in an Allow statement (or a Deny one), against `ctx`.
fn holds_in(
    effect: &str,
    operator: &str,
    key: &str,
    values: &str,
    ctx: &Context,
) -> (bool, Option<String>) {
    let d = doc(&format!(
        r#"{{"Effect":"{effect}","Action":"*","Resource":"*","Condition":{{"{operator}":{{"{key}":{values}}}}}}}"#
    ));
    let e = run(&[&d], None, START, INSTANCE_1, ctx);
    let c = &e.trace.statements[0].conditions[0];
    assert_eq!(e.trace.statements[0].applies, c.holds);
    (c.holds, c.note.clone())
}

fn holds(operator: &str, key: &str, values: &str, ctx: &Context) -> bool {
    holds_in("Allow", operator, key, values, ctx).0
}

#[test]
fn every_operator_true_and_false() {
    let mut ctx = context();
    ctx.extra.insert("ecs:tag/team".into(), vec!["Dev".into()]);
    ctx.extra.insert("ecs:Count".into(), vec!["10".into()]);
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str, bool)] = &[
        ("StringEquals", "ecs:tag/team", r#""Dev""#, true),
        ("StringEquals", "ecs:tag/team", r#""dev""#, false),
        ("StringEquals", "ecs:tag/team", r#"["ops","Dev"]"#, true),
        ("StringNotEquals", "ecs:tag/team", r#""dev""#, true),
        ("StringNotEquals", "ecs:tag/team", r#"["ops","Dev"]"#, false),
        ("StringEqualsIgnoreCase", "ecs:tag/team", r#""DEV""#, true),
        ("StringEqualsIgnoreCase", "ecs:tag/team", r#""ops""#, false),
        ("StringNotEqualsIgnoreCase", "ecs:tag/team", r#""dEv""#, false),
        ("StringNotEqualsIgnoreCase", "ecs:tag/team", r#""ops""#, true),
        ("StringLike", "ecs:tag/team", r#""D?v""#, true),
        ("StringLike", "ecs:tag/team", r#""d*""#, false),
        ("StringNotLike", "ecs:tag/team", r#""o*""#, true),
        ("StringNotLike", "ecs:tag/team", r#""*e*""#, false),
        ("NumericEquals", "ecs:Count", "10", true),
        ("NumericEquals", "ecs:Count", r#""10.0""#, true),
        ("NumericEquals", "ecs:Count", "11", false),
        ("NumericNotEquals", "ecs:Count", "11", true),
        ("NumericNotEquals", "ecs:Count", "10", false),
        ("NumericLessThan", "ecs:Count", "11", true),
        ("NumericLessThan", "ecs:Count", "10", false),
        ("NumericLessThanEquals", "ecs:Count", "10", true),
        ("NumericLessThanEquals", "ecs:Count", "9.5", false),
        ("NumericGreaterThan", "ecs:Count", "9", true),
        ("NumericGreaterThan", "ecs:Count", "10", false),
        ("NumericGreaterThanEquals", "ecs:Count", "10", true),
        ("NumericGreaterThanEquals", "ecs:Count", "11", false),
        ("DateEquals", "acs:CurrentTime", r#""2025-06-01T12:00:00Z""#, true),
        ("DateEquals", "acs:CurrentTime", r#""2025-06-01T20:00:00+08:00""#, true),
        ("DateEquals", "acs:CurrentTime", r#""2025-06-01T12:00:01Z""#, false),
        ("DateNotEquals", "acs:CurrentTime", r#""2025-06-01T12:00:01Z""#, true),
        ("DateNotEquals", "acs:CurrentTime", r#""2025-06-01T12:00:00Z""#, false),
        ("DateLessThan", "acs:CurrentTime", r#""2026-01-01T00:00:00Z""#, true),
        ("DateLessThan", "acs:CurrentTime", r#""2025-06-01T12:00:00Z""#, false),
        ("DateLessThan", "acs:CurrentTime", r#""2025-06-01T19:00:00+08:00""#, false),
        ("DateLessThan", "acs:CurrentTime", r#""2025-06-02""#, true),
        ("DateLessThanEquals", "acs:CurrentTime", r#""2025-06-01T12:00:00.000Z""#, true),
        ("DateLessThanEquals", "acs:CurrentTime", r#""2025-01-01T00:00:00Z""#, false),
        ("DateGreaterThan", "acs:CurrentTime", r#""2025-01-01T00:00:00Z""#, true),
        ("DateGreaterThan", "acs:CurrentTime", r#""2025-06-01T12:00:00Z""#, false),
        ("DateGreaterThanEquals", "acs:CurrentTime", r#""2025-06-01T12:00:00Z""#, true),
        ("DateGreaterThanEquals", "acs:CurrentTime", r#""2030-01-01T00:00:00Z""#, false),
        ("Bool", "acs:SecureTransport", "true", true),
        ("Bool", "acs:SecureTransport", r#""TRUE""#, true),
        ("Bool", "acs:SecureTransport", r#""false""#, false),
        ("Bool", "acs:MFAPresent", "false", true),
        ("IpAddress", "acs:SourceIp", r#""10.0.0.0/8""#, true),
        ("IpAddress", "acs:SourceIp", r#"["192.168.0.0/16","10.1.2.3"]"#, true),
        ("IpAddress", "acs:SourceIp", r#""10.1.2.4""#, false),
        ("IpAddress", "acs:SourceIp", r#""10.1.2.0/31""#, false),
        ("NotIpAddress", "acs:SourceIp", r#""192.168.0.0/16""#, true),
        ("NotIpAddress", "acs:SourceIp", r#""10.0.0.0/8""#, false),
        // Condition keys ignore case; so do the acs: keys.
        ("StringEquals", "ECS:TAG/TEAM", r#""Dev""#, true),
        ("IpAddress", "acs:sourceip", r#""10.0.0.0/8""#, true),
    ];
    for &(operator, key, values, want) in cases {
        assert_eq!(
            holds(operator, key, values, &ctx),
            want,
            "{operator} {key} {values}"
        );
    }
}

#[test]
fn date_less_than_against_a_fixed_time() {
    let d = doc(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*",
        "Condition":{"DateLessThan":{"acs:CurrentTime":"2026-01-01T00:00:00Z"}}}"#);
    let at = |y, m, day, h| {
        let mut c = context();
        c.current_time = Utc.with_ymd_and_hms(y, m, day, h, 0, 0).unwrap();
        run(&[&d], None, START, INSTANCE_1, &c).decision
    };
    assert_eq!(at(2025, 12, 31, 23), Decision::Allow);
    assert_eq!(at(2026, 1, 1, 0), Decision::ImplicitDeny);
    let e = run(&[&d], None, START, INSTANCE_1, &context());
    assert_eq!(
        e.trace.statements[0].conditions[0].actual,
        ["2025-06-01T12:00:00Z"]
    );
}

#[test]
fn ipv4_and_ipv6_blocks() {
    let with_ip = |ip: &str| {
        let mut c = context();
        c.source_ip = Some(ip.parse::<IpAddr>().unwrap());
        c
    };
    let cases: &[(&str, &str, bool)] = &[
        ("10.255.255.255", "10.0.0.0/8", true),
        ("11.0.0.0", "10.0.0.0/8", false),
        ("10.0.0.1", "10.0.0.1/8", true),
        ("2001:db8::1", "2001:db8::/32", true),
        ("2001:db9::1", "2001:db8::/32", false),
        ("2001:db8::1", "2001:db8::1", true),
        ("::1", "127.0.0.1", false),
        ("::ffff:10.1.2.3", "10.0.0.0/8", true),
        ("10.1.2.3", "::ffff:10.0.0.0/104", true),
        ("10.1.2.3", "2001:db8::/32", false),
    ];
    for &(ip, block, want) in cases {
        let values = format!("\"{block}\"");
        assert_eq!(
            holds("IpAddress", "acs:SourceIp", &values, &with_ip(ip)),
            want,
            "{ip} in {block}"
        );
        assert_eq!(
            holds("NotIpAddress", "acs:SourceIp", &values, &with_ip(ip)),
            !want,
            "{ip} not in {block}"
        );
    }
}

#[test]
fn a_missing_key_never_grants() {
    let mut ctx = context();
    ctx.source_ip = None;
    let (h, note) = holds_in(
        "Allow",
        "IpAddress",
        "acs:SourceIp",
        r#""10.0.0.0/8""#,
        &ctx,
    );
    assert!(!h);
    assert_eq!(note.as_deref(), Some("the request has no acs:SourceIp"));
    let negated_note = "the request has no acs:SourceIp; a negated operator on a missing key holds only in a Deny statement";
    let (h, note) = holds_in(
        "Allow",
        "NotIpAddress",
        "acs:SourceIp",
        r#""10.0.0.0/8""#,
        &ctx,
    );
    assert!(!h);
    assert_eq!(note.as_deref(), Some(negated_note));
    let (h, note) = holds_in(
        "Deny",
        "NotIpAddress",
        "acs:SourceIp",
        r#""10.0.0.0/8""#,
        &ctx,
    );
    assert!(
        h,
        "\"deny unless from 10/8\" must deny a request with no address"
    );
    assert_eq!(note.as_deref(), Some(negated_note));
    assert!(!holds_in("Deny", "IpAddress", "acs:SourceIp", r#""10.0.0.0/8""#, &ctx).0);
    assert!(!holds("StringEquals", "ecs:tag/team", r#""dev""#, &ctx));
    assert!(!holds("StringNotEquals", "ecs:tag/team", r#""dev""#, &ctx));
    assert!(holds_in("Deny", "StringNotLike", "ecs:tag/team", r#""dev""#, &ctx).0);
    // An empty list of values in `extra` is no value at all.
    ctx.extra.insert("ecs:tag/team".into(), Vec::new());
    assert!(!holds("StringNotEquals", "ecs:tag/team", r#""dev""#, &ctx));
}

#[test]
fn unknown_operators_and_unreadable_values_are_explained() {
    let ctx = context();
    let (h, note) = holds_in("Allow", "StringEqual", "ecs:tag/team", r#""dev""#, &ctx);
    assert!(!h);
    assert!(note
        .unwrap()
        .starts_with("RAM has no condition operator \"StringEqual\" (it has StringEquals, "));
    let (h, note) = holds_in("Deny", "StringEqual", "ecs:tag/team", r#""dev""#, &ctx);
    assert!(!h, "an unknown operator never holds, whatever the effect");
    assert!(note.is_some());

    let (h, note) = holds_in(
        "Allow",
        "IpAddress",
        "acs:SourceIp",
        r#"["nonsense","10.0.0.0/8"]"#,
        &ctx,
    );
    assert!(h, "one readable value that matches is enough");
    assert_eq!(note, None);
    let (h, note) = holds_in("Allow", "IpAddress", "acs:SourceIp", r#""nonsense""#, &ctx);
    assert!(!h);
    assert_eq!(
        note.as_deref(),
        Some("policy value \"nonsense\" is not an IP address or CIDR block")
    );
    let (h, note) = holds_in(
        "Allow",
        "NotIpAddress",
        "acs:SourceIp",
        r#""nonsense""#,
        &ctx,
    );
    assert!(!h);
    assert_eq!(
        note.as_deref(),
        Some("policy value \"nonsense\" is not an IP address or CIDR block; an undecidable negated condition holds only in a Deny statement")
    );
    assert!(
        holds_in(
            "Deny",
            "NotIpAddress",
            "acs:SourceIp",
            r#""nonsense""#,
            &ctx
        )
        .0
    );
    let (_, note) = holds_in(
        "Allow",
        "DateLessThan",
        "acs:CurrentTime",
        r#""2026-01-01""#,
        &ctx,
    );
    assert_eq!(note, None);
    let (h, note) = holds_in(
        "Allow",
        "DateLessThan",
        "acs:CurrentTime",
        r#""2026-01-01T00:00:00""#,
        &ctx,
    );
    assert!(!h);
    assert!(note.unwrap().contains("is not an ISO 8601 time"));
    let (h, note) = holds_in("Allow", "NumericLessThan", "acs:SourceIp", "5", &ctx);
    assert!(!h);
    assert_eq!(
        note.as_deref(),
        Some("request value \"10.1.2.3\" is not a number")
    );
    assert_eq!(
        holds_in("Allow", "Bool", "acs:MFAPresent", r#""yes""#, &ctx)
            .1
            .as_deref(),
        Some("policy value \"yes\" is not true or false")
    );
}

#[test]
fn conditions_are_anded_values_ored() {
    let d = doc(
        r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
        "IpAddress":{"acs:SourceIp":["192.168.0.0/16","10.0.0.0/8"]},
        "Bool":{"acs:SecureTransport":"true"}}}"#,
    );
    assert_eq!(
        run(&[&d], None, START, INSTANCE_1, &context()).decision,
        Decision::Allow
    );
    let mut plain = context();
    plain.secure_transport = false;
    let e = run(&[&d], None, START, INSTANCE_1, &plain);
    assert_eq!(e.decision, Decision::ImplicitDeny);
    let holds: Vec<bool> = e.trace.statements[0]
        .conditions
        .iter()
        .map(|c| c.holds)
        .collect();
    assert_eq!(holds, [false, true]);
}
