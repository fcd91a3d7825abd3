//! A decision in words: which statement of which policy decided, and why every other
//! statement did not. What `axt iam explain` and `axt iam simulate` print.
//!
//! Statements are numbered from 1 here, as a person counts them and as parse errors name them
//! ([`StatementTrace::index`] counts from 0). The text depends on the trace alone, so the same
//! trace always reads the same.

use std::fmt::Write;

use crate::{
    evaluate::{ConditionTrace, Decision, PolicyType, StatementTrace, Trace},
    policy::Effect,
};

/// The trace as text: the decision, then the deciding statement(s), then every other
/// statement with the reason it did not decide, in evaluation order.
pub fn render(trace: &Trace) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} on {}",
        decision_name(trace.decision),
        trace.action,
        trace.resource
    );

    let deciding = |s: &StatementTrace| match trace.decision {
        Decision::ExplicitDeny => s.applies && s.effect == Effect::Deny,
        Decision::Allow => s.applies && s.effect == Effect::Allow,
        Decision::ImplicitDeny => false,
    };
    for statement in trace.statements.iter().filter(|s| deciding(s)) {
        let _ = writeln!(
            out,
            "decided by {}: {}",
            label(statement),
            matched(statement)
        );
    }
    if trace.decision == Decision::ImplicitDeny {
        let _ = writeln!(out, "{}", implicit_reason(trace));
    }
    for statement in trace.statements.iter().filter(|s| !deciding(s)) {
        let _ = writeln!(out, "{}: {}", label(statement), why_not(statement, trace));
    }
    out
}

fn decision_name(decision: Decision) -> &'static str {
    match decision {
        Decision::Allow => "Allow",
        Decision::ImplicitDeny => "ImplicitDeny",
        Decision::ExplicitDeny => "ExplicitDeny",
    }
}

/// `statement 2 (Sid OnlyOne) of Custom policy Name`, or `… of the session policy`.
fn label(s: &StatementTrace) -> String {
    let sid = s
        .sid
        .as_ref()
        .map(|sid| format!(" (Sid {sid})"))
        .unwrap_or_default();
    let policy = match s.policy_type {
        PolicyType::System => format!("System policy {}", s.policy),
        PolicyType::Custom => format!("Custom policy {}", s.policy),
        PolicyType::Session => "the session policy".to_owned(),
    };
    format!("statement {}{sid} of {policy}", s.index + 1)
}

fn effect_name(effect: Effect) -> &'static str {
    match effect {
        Effect::Allow => "Allow",
        Effect::Deny => "Deny",
    }
}

/// What an applying statement matched.
fn matched(s: &StatementTrace) -> String {
    let effect = effect_name(s.effect);
    let has_resource = !s.resources.is_empty() || s.not_resource;
    match (has_resource, s.conditions.is_empty()) {
        (true, false) => format!("{effect} matched action, resource and every condition"),
        (true, true) => format!("{effect} matched action and resource"),
        (false, false) => format!("{effect} matched action and every condition"),
        (false, true) => format!("{effect} matched action"),
    }
}

/// Why nothing allowed the request, with a session policy in the picture when there is one.
fn implicit_reason(trace: &Trace) -> &'static str {
    if trace.statements.is_empty() {
        return "no statement allows it: no policy is in force (implicit deny)";
    }
    let allows = |session: bool| {
        trace.statements.iter().any(|s| {
            s.applies
                && s.effect == Effect::Allow
                && (s.policy_type == PolicyType::Session) == session
        })
    };
    let has_session = trace
        .statements
        .iter()
        .any(|s| s.policy_type == PolicyType::Session);
    match (has_session, allows(false), allows(true)) {
        (true, true, false) => {
            "no statement of the session policy allows it: a session policy narrows what the identity's policies allow (implicit deny)"
        }
        (true, false, true) => {
            "the session policy allows it, but no statement of the identity's policies does: a session policy cannot grant on its own (implicit deny)"
        }
        _ => "no statement allows it (implicit deny)",
    }
}

/// Why a statement did not decide the request.
fn why_not(s: &StatementTrace, trace: &Trace) -> String {
    let effect = effect_name(s.effect);
    if s.applies {
        // Only an Allow can apply without deciding: a Deny elsewhere won, or the other set of
        // policies (identity or session) did not allow.
        let reason = if trace.decision == Decision::ExplicitDeny {
            "an explicit Deny wins".to_owned()
        } else if s.policy_type == PolicyType::Session {
            "the identity's policies do not allow it".to_owned()
        } else {
            "the session policy does not allow it".to_owned()
        };
        return format!("{}, but {reason}", matched(s));
    }
    let mut reasons = Vec::new();
    if !s.action_matched {
        reasons.push(if s.not_action {
            format!(
                "NotAction {}excludes {}",
                patterns(&s.actions),
                trace.action
            )
        } else {
            format!(
                "Action {}does not match {}",
                patterns(&s.actions),
                trace.action
            )
        });
    }
    if !s.resource_matched {
        reasons.push(if s.not_resource {
            format!(
                "NotResource {}excludes {}",
                patterns(&s.resources),
                trace.resource
            )
        } else {
            format!(
                "Resource {}does not match {}",
                patterns(&s.resources),
                trace.resource
            )
        });
    }
    reasons.extend(
        s.conditions
            .iter()
            .filter(|c| !c.holds)
            .map(condition_failure),
    );
    format!("{effect}, but {}", reasons.join("; "))
}

/// Patterns as a reason shows them, with a trailing space: one bare, several in brackets,
/// none (a trace from before patterns were recorded) as nothing.
fn patterns(list: &[String]) -> String {
    match list {
        [] => String::new(),
        [one] => format!("{one} "),
        many => format!("[{}] ", many.join(", ")),
    }
}

/// `Condition IpAddress acs:SourceIp [10.0.0.0/8] does not hold for 127.0.0.1 (note)`.
fn condition_failure(c: &ConditionTrace) -> String {
    let actual = if c.actual.is_empty() {
        "a request without it".to_owned()
    } else {
        c.actual.join(", ")
    };
    let note = c
        .note
        .as_ref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    format!(
        "Condition {} {} [{}] does not hold for {actual}{note}",
        c.operator,
        c.key,
        c.values.join(", ")
    )
}
