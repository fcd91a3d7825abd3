//! Whether policies allow a request: an explicit Deny in any policy wins; otherwise some Allow
//! is needed (no Allow is an implicit deny); a session policy (STS) narrows what the identity's
//! policies allow. Every statement's verdict goes into a [`Trace`].
//!
//! The order is RAM's ("Policy evaluation process"): within one set of policies an applying
//! Deny gives ExplicitDeny, else an applying Allow gives Allow, else ImplicitDeny. A session
//! policy is a second set evaluated the same way, and a request passes only if both sets allow
//! it. RAM stops at the session policy when it does not allow; here every statement is still
//! evaluated so that the trace is complete, and an explicit Deny in either set is reported as
//! ExplicitDeny (RAM would call a session-policy implicit deny plus an identity Deny an
//! implicit deny; both refuse).

use std::{collections::BTreeMap, net::IpAddr};

use serde::{Deserialize, Serialize};

use crate::{
    arn, condition,
    matching::{action_matches, resource_matches},
    policy::{Document, Effect, Principals, Statement},
};

/// The name session-policy statements carry in a [`Trace`].
pub const SESSION_POLICY_NAME: &str = "session policy";

/// The action a trust policy is asked about.
pub const ASSUME_ROLE_ACTION: &str = "sts:AssumeRole";

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

impl Context {
    /// A request at `current_time` with nothing else known: no source address, no TLS, no
    /// MFA, no other keys.
    pub fn at(current_time: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            source_ip: None,
            current_time,
            secure_transport: false,
            mfa_present: false,
            extra: BTreeMap::new(),
        }
    }
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
    /// The statement's `Action` patterns (its `NotAction` patterns when `not_action`), so that
    /// an explanation can show what did not match. Absent from traces serialized before these
    /// fields existed, hence the defaults.
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub not_action: bool,
    /// The statement's `Resource` (or `NotResource`) patterns; empty in a trust policy.
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub not_resource: bool,
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
    let mut statements: Vec<StatementTrace> = policies
        .iter()
        .flat_map(|p| trace_document(p.name, p.policy_type, p.document, request))
        .collect();
    let mut decision = decide(&statements);
    if let Some(session) = session_policy {
        let from = statements.len();
        statements.extend(trace_document(
            SESSION_POLICY_NAME,
            PolicyType::Session,
            session,
            request,
        ));
        decision = combine(decision, decide(&statements[from..]));
    }
    Evaluation {
        decision,
        trace: Trace {
            action: request.action.to_owned(),
            resource: request.resource.to_owned(),
            decision,
            statements,
        },
    }
}

/// Whether `trust` (a role's trust policy) lets the principal `caller_arn` of account
/// `caller_account` call `sts:AssumeRole` on the role. An account root in `Principal.RAM`
/// (`acs:ram::<account>:root`) admits every identity of that account.
///
/// `Principal.RAM` entries are compared with `caller_arn` ignoring ASCII case (RAM writes role
/// names in lower case in ARNs, and a policy may not). A role's ARN admits the sessions of that
/// role (`acs:ram::<account>:assumed-role/<role>/<session>`). A bare account id is not a
/// principal: RAM documents only ARNs there. Wildcards are not expanded.
pub fn trusts(trust: &Document, caller_arn: &str, caller_account: &str, context: &Context) -> bool {
    let root = arn::account_root(caller_account);
    let role = role_of_session(caller_arn);
    trusted(trust, context, |p| {
        p.ram.iter().any(|entry| {
            entry.eq_ignore_ascii_case(&root)
                || entry.eq_ignore_ascii_case(caller_arn)
                || role
                    .as_deref()
                    .is_some_and(|r| entry.eq_ignore_ascii_case(r))
        })
    })
}

/// Whether `trust` lets the cloud service `service` (`ecs.aliyuncs.com`) assume the role, as
/// [`trusts`] does for RAM identities; service names compare ignoring ASCII case.
pub fn trusts_service(trust: &Document, service: &str, context: &Context) -> bool {
    trusted(trust, context, |p| {
        p.service.iter().any(|s| s.eq_ignore_ascii_case(service))
    })
}

/// Some applying Allow names the principal, and no applying Deny does.
fn trusted(trust: &Document, context: &Context, names: impl Fn(&Principals) -> bool) -> bool {
    let request = Request {
        action: ASSUME_ROLE_ACTION,
        resource: "*",
        context,
    };
    let mut allowed = false;
    for (index, statement) in trust.statements.iter().enumerate() {
        let names_caller = statement.principals.as_ref().is_some_and(&names);
        if !names_caller
            || !trace_statement(
                "trust policy",
                PolicyType::Custom,
                index,
                statement,
                &request,
            )
            .applies
        {
            continue;
        }
        match statement.effect {
            Effect::Deny => return false,
            Effect::Allow => allowed = true,
        }
    }
    allowed
}

/// `acs:ram::<account>:role/<role>` for `acs:ram::<account>:assumed-role/<role>/<session>`.
fn role_of_session(caller_arn: &str) -> Option<String> {
    let (account_part, rest) = caller_arn.split_once(":assumed-role/")?;
    let role = rest.split('/').next().filter(|r| !r.is_empty())?;
    Some(format!("{account_part}:role/{role}"))
}

fn trace_document<'a>(
    name: &'a str,
    policy_type: PolicyType,
    document: &'a Document,
    request: &'a Request<'a>,
) -> impl Iterator<Item = StatementTrace> + 'a {
    document
        .statements
        .iter()
        .enumerate()
        .map(move |(index, s)| trace_statement(name, policy_type, index, s, request))
}

fn trace_statement(
    policy: &str,
    policy_type: PolicyType,
    index: usize,
    statement: &Statement,
    request: &Request<'_>,
) -> StatementTrace {
    let any_action = statement
        .actions
        .iter()
        .any(|p| action_matches(p, request.action));
    let action_matched = any_action != statement.not_action;
    // A trust policy's statements have no Resource: the role they guard is the resource.
    let resource_matched = if statement.resources.is_empty() && !statement.not_resource {
        true
    } else {
        let any = statement
            .resources
            .iter()
            .any(|p| resource_matches(p, request.resource));
        any != statement.not_resource
    };
    let conditions: Vec<ConditionTrace> = statement
        .conditions
        .iter()
        .map(|c| condition::evaluate(c, statement.effect, request.context))
        .collect();
    let applies = action_matched && resource_matched && conditions.iter().all(|c| c.holds);
    StatementTrace {
        policy: policy.to_owned(),
        policy_type,
        index,
        sid: statement.sid.clone(),
        effect: statement.effect,
        actions: statement.actions.clone(),
        not_action: statement.not_action,
        resources: statement.resources.clone(),
        not_resource: statement.not_resource,
        action_matched,
        resource_matched,
        conditions,
        applies,
    }
}

/// RAM's basic evaluation of one set of policies: Deny first, then Allow, else implicit deny.
fn decide(statements: &[StatementTrace]) -> Decision {
    let applying = |effect| statements.iter().any(|s| s.applies && s.effect == effect);
    if applying(Effect::Deny) {
        Decision::ExplicitDeny
    } else if applying(Effect::Allow) {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// The identity's policies and the session policy must both allow.
fn combine(identity: Decision, session: Decision) -> Decision {
    match (identity, session) {
        (Decision::ExplicitDeny, _) | (_, Decision::ExplicitDeny) => Decision::ExplicitDeny,
        (Decision::Allow, Decision::Allow) => Decision::Allow,
        _ => Decision::ImplicitDeny,
    }
}
