//! Whether policies allow a request: an explicit Deny in any policy wins; otherwise some Allow
//! is needed (no Allow is an implicit deny); a session policy (STS) narrows what the identity's
//! policies allow. Every statement's verdict goes into a [`Trace`].
//!
//! SKELETON: the public types are the contract; the evaluator is being written.

use std::{collections::BTreeMap, net::IpAddr};

use serde::{Deserialize, Serialize};

use crate::policy::{Document, Effect};

/// What the conditions may look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// `acs:SourceIp`: the caller's address.
    pub source_ip: Option<IpAddr>,
    /// `acs:CurrentTime`.
    pub current_time: chrono::DateTime<chrono::Utc>,
    /// `acs:SecureTransport`: the call came over TLS.
    pub secure_transport: bool,
    /// `acs:MFAPresent`.
    pub mfa_present: bool,
    /// Any other key (a service's own, such as `ecs:tag/...`), with its values.
    pub extra: BTreeMap<String, Vec<String>>,
}

/// One request to decide: an action on a resource.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `ecs:StartTerminalSession`.
    pub action: &'a str,
    /// `acs:ecs:cn-hangzhou:1234567890123456:instance/i-abc`, or `*`.
    pub resource: &'a str,
    pub context: &'a Context,
}

/// Where a policy comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyType {
    System,
    Custom,
    /// The `Policy` parameter of AssumeRole.
    Session,
}

/// A policy in force for the caller.
#[derive(Debug, Clone, Copy)]
pub struct Attached<'a> {
    pub name: &'a str,
    pub policy_type: PolicyType,
    pub document: &'a Document,
}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Allow,
    ImplicitDeny,
    ExplicitDeny,
}

/// One condition, as evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionTrace {
    pub operator: String,
    pub key: String,
    /// The values the policy names.
    pub values: Vec<String>,
    /// The request's values for the key (empty when it has none).
    pub actual: Vec<String>,
    pub holds: bool,
    /// Why it did not hold, when that is not plain from the values (an unknown operator, a
    /// value that does not parse).
    pub note: Option<String>,
}

/// One statement, as evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementTrace {
    pub policy: String,
    pub policy_type: PolicyType,
    /// Its place in the policy, from 0.
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub action_matched: bool,
    pub resource_matched: bool,
    pub conditions: Vec<ConditionTrace>,
    /// Action, resource and every condition matched: the statement decides.
    pub applies: bool,
}

/// Everything that went into a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    pub action: String,
    pub resource: String,
    pub decision: Decision,
    /// Every statement of every policy, in order.
    pub statements: Vec<StatementTrace>,
}

/// A decision and its trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    pub trace: Trace,
}

/// Decides `request` under `policies`, narrowed by `session_policy` when the caller is an STS
/// session that was given one.
pub fn evaluate(
    policies: &[Attached<'_>],
    session_policy: Option<&Document>,
    request: &Request<'_>,
) -> Evaluation {
    let _ = (policies, session_policy, request);
    todo!("helper: the evaluator")
}

/// Whether `trust` (a role's trust policy) lets the principal `caller_arn` of account
/// `caller_account` call `sts:AssumeRole` on the role. An account root in `Principal.RAM`
/// (`acs:ram::<account>:root`) admits every identity of that account.
pub fn trusts(trust: &Document, caller_arn: &str, caller_account: &str, context: &Context) -> bool {
    let _ = (trust, caller_arn, caller_account, context);
    todo!("helper: the evaluator")
}
