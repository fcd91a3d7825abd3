//! What the evaluation tests share: a fixed request context, documents from statement
//! fragments, and evaluation of a request under custom policies named First, Second, Third.

#![allow(dead_code)] // each test binary uses its own part

use axt_iam::{evaluate, Attached, Context, Decision, Document, Evaluation, PolicyType, Request};
use chrono::{TimeZone, Utc};

pub const INSTANCE_1: &str = "acs:ecs:cn-hangzhou:1234567890123456:instance/i-1";
pub const INSTANCE_2: &str = "acs:ecs:cn-hangzhou:1234567890123456:instance/i-2";
pub const START: &str = "ecs:StartTerminalSession";
pub const ALLOW_ALL: &str = r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#;

/// 2025-06-01T12:00:00Z, from 10.1.2.3, over TLS, without MFA.
pub fn context() -> Context {
    let mut c = Context::at(Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap());
    c.source_ip = Some("10.1.2.3".parse().unwrap());
    c.secure_transport = true;
    c
}

pub fn doc(statements: &str) -> Document {
    Document::parse(&format!(r#"{{"Version":"1","Statement":[{statements}]}}"#))
        .unwrap_or_else(|e| panic!("{e}: {statements}"))
}

pub fn run(
    docs: &[&Document],
    session: Option<&Document>,
    action: &str,
    resource: &str,
    ctx: &Context,
) -> Evaluation {
    let names = ["First", "Second", "Third"];
    let attached: Vec<Attached<'_>> = docs
        .iter()
        .zip(names)
        .map(|(d, name)| Attached {
            name,
            policy_type: PolicyType::Custom,
            document: d,
        })
        .collect();
    evaluate(
        &attached,
        session,
        &Request {
            action,
            resource,
            context: ctx,
        },
    )
}

pub fn decide(docs: &[&Document], action: &str, resource: &str) -> Decision {
    run(docs, None, action, resource, &context()).decision
}
