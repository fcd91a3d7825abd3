//! One `Condition` against a request, by RAM's operators (String, Numeric, Date, Bool,
//! IpAddress families).
//!
//! Semantics, from RAM's "Policy elements" and "Conditional operators" pages where they speak:
//! several values for one key are ORed (the condition holds if the request matches any);
//! conditions are ANDed by the caller; String* are case-sensitive except the *IgnoreCase pair;
//! StringLike knows `*` and `?`; dates are ISO 8601, with `Z` or an offset such as `+08:00`.
//! Where the pages are silent:
//! - Condition keys match ignoring ASCII case (`acs:sourceip` is `acs:SourceIp`), as in the
//!   policy language RAM's follows; operator names must be spelled exactly.
//! - A negated operator (StringNotEquals, StringNotEqualsIgnoreCase, StringNotLike,
//!   NumericNotEquals, DateNotEquals, NotIpAddress) holds when no request value matches any
//!   policy value (a NOR).
//! - A key the request lacks (or a value that cannot be read as the operator's type) never
//!   helps grant: such a condition holds only when it is negated and sits in a Deny
//!   statement, so that "Deny unless from 10.0.0.0/8" still denies a request with no address.
//! - An operator RAM does not have never holds, and the trace says so.

use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use ipnet::IpNet;

use crate::{
    evaluate::{ConditionTrace, Context},
    matching::wildcard_match,
    policy::{Condition, Effect},
};

#[derive(Clone, Copy)]
enum Family {
    Equals { ignore_case: bool },
    Like,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Ip,
}

#[derive(Clone, Copy)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

/// Every operator RAM documents, with its family and whether it is the negated form.
const OPERATORS: &[(&str, Family, bool)] = &[
    ("StringEquals", Family::Equals { ignore_case: false }, false),
    (
        "StringNotEquals",
        Family::Equals { ignore_case: false },
        true,
    ),
    (
        "StringEqualsIgnoreCase",
        Family::Equals { ignore_case: true },
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Family::Equals { ignore_case: true },
        true,
    ),
    ("StringLike", Family::Like, false),
    ("StringNotLike", Family::Like, true),
    ("NumericEquals", Family::Numeric(Cmp::Eq), false),
    ("NumericNotEquals", Family::Numeric(Cmp::Eq), true),
    ("NumericLessThan", Family::Numeric(Cmp::Lt), false),
    ("NumericLessThanEquals", Family::Numeric(Cmp::Le), false),
    ("NumericGreaterThan", Family::Numeric(Cmp::Gt), false),
    ("NumericGreaterThanEquals", Family::Numeric(Cmp::Ge), false),
    ("DateEquals", Family::Date(Cmp::Eq), false),
    ("DateNotEquals", Family::Date(Cmp::Eq), true),
    ("DateLessThan", Family::Date(Cmp::Lt), false),
    ("DateLessThanEquals", Family::Date(Cmp::Le), false),
    ("DateGreaterThan", Family::Date(Cmp::Gt), false),
    ("DateGreaterThanEquals", Family::Date(Cmp::Ge), false),
    ("Bool", Family::Bool, false),
    ("IpAddress", Family::Ip, false),
    ("NotIpAddress", Family::Ip, true),
];

/// The names of the operators RAM knows, in RAM's own order.
pub(crate) fn operator_names() -> impl Iterator<Item = &'static str> {
    OPERATORS.iter().map(|(name, _, _)| *name)
}

/// `acs:CurrentTime` as conditions see it and traces show it.
pub(crate) fn format_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The request's values for `key` (empty when it has none).
pub(crate) fn request_values(key: &str, context: &Context) -> Vec<String> {
    let is = |name: &str| key.eq_ignore_ascii_case(name);
    let flag = |b: bool| vec![b.to_string()];
    if is("acs:SourceIp") {
        context.source_ip.iter().map(IpAddr::to_string).collect()
    } else if is("acs:CurrentTime") {
        vec![format_time(&context.current_time)]
    } else if is("acs:SecureTransport") {
        flag(context.secure_transport)
    } else if is("acs:MFAPresent") {
        flag(context.mfa_present)
    } else {
        // The exact spelling first, so that keys differing only in case stay apart if a caller
        // ever puts both in `extra`.
        context
            .extra
            .get(key)
            .or_else(|| {
                context
                    .extra
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            })
            .cloned()
            .unwrap_or_default()
    }
}

/// Evaluates `condition` for a statement of effect `effect` (which matters only for a key the
/// request lacks, or a value that cannot be read; see the module's notes).
pub(crate) fn evaluate(condition: &Condition, effect: Effect, context: &Context) -> ConditionTrace {
    let actual = request_values(&condition.key, context);
    let (holds, note) = decide(condition, effect, &actual);
    ConditionTrace {
        operator: condition.operator.clone(),
        key: condition.key.clone(),
        values: condition.values.clone(),
        actual,
        holds,
        note,
    }
}

fn decide(condition: &Condition, effect: Effect, actual: &[String]) -> (bool, Option<String>) {
    let Some(&(_, family, negated)) = OPERATORS.iter().find(|(n, _, _)| *n == condition.operator)
    else {
        let known: Vec<&str> = operator_names().collect();
        return (
            false,
            Some(format!(
                "RAM has no condition operator \"{}\" (it has {})",
                condition.operator,
                known.join(", ")
            )),
        );
    };
    // Holds only where it cannot grant: a negated condition in a Deny statement.
    let undecided = negated && effect == Effect::Deny;
    if actual.is_empty() {
        let rule = if negated {
            "; a negated operator on a missing key holds only in a Deny statement"
        } else {
            ""
        };
        return (
            undecided,
            Some(format!("the request has no {}{rule}", condition.key)),
        );
    }

    let mut matched = false;
    let mut problems: Vec<String> = Vec::new();
    for request in actual {
        for policy in &condition.values {
            match matches(family, request, policy) {
                Ok(true) => matched = true,
                Ok(false) => {}
                Err(problem) if !problems.contains(&problem) => problems.push(problem),
                Err(_) => {}
            }
        }
    }
    let problems = (!problems.is_empty()).then(|| problems.join("; "));
    match (negated, matched) {
        (false, true) => (true, None),
        (false, false) => (false, problems),
        (true, true) => (false, None),
        (true, false) => match problems {
            None => (true, None),
            Some(p) => (
                undecided,
                Some(format!(
                    "{p}; an undecidable negated condition holds only in a Deny statement"
                )),
            ),
        },
    }
}

/// Whether one request value matches one policy value under the (positive) family.
fn matches(family: Family, request: &str, policy: &str) -> Result<bool, String> {
    Ok(match family {
        Family::Equals { ignore_case: false } => request == policy,
        Family::Equals { ignore_case: true } => request.to_lowercase() == policy.to_lowercase(),
        Family::Like => wildcard_match(policy, request, false),
        Family::Numeric(cmp) => cmp.holds(number(request, "request")?, number(policy, "policy")?),
        Family::Date(cmp) => cmp.holds(date(request, "request")?, date(policy, "policy")?),
        Family::Bool => boolean(request, "request")? == boolean(policy, "policy")?,
        Family::Ip => {
            let address: IpAddr = request
                .trim()
                .parse()
                .map_err(|_| format!("request value \"{request}\" is not an IP address"))?;
            network(policy)?.contains(&address.to_canonical())
        }
    })
}

fn number(value: &str, side: &str) -> Result<f64, String> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or_else(|| format!("{side} value \"{value}\" is not a number"))
}

/// ISO 8601 as RFC 3339 writes it (`2026-01-01T00:00:00Z`, `2019-08-12T17:00:00+08:00`,
/// fractions allowed), or a bare date taken as midnight UTC.
fn date(value: &str, side: &str) -> Result<DateTime<Utc>, String> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        if let Some(midnight) = day.and_hms_opt(0, 0, 0) {
            return Ok(midnight.and_utc());
        }
    }
    Err(format!(
        "{side} value \"{value}\" is not an ISO 8601 time such as 2026-01-01T00:00:00Z or 2026-01-01T08:00:00+08:00"
    ))
}

fn boolean(value: &str, side: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{side} value \"{value}\" is not true or false")),
    }
}

/// A CIDR block, or a single address as the block of just itself.
fn network(value: &str) -> Result<IpNet, String> {
    let value = value.trim();
    if let Ok(net) = value.parse::<IpNet>() {
        return Ok(match net {
            IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
                // ::ffff:a.b.c.d/n+96 is the IPv4 block a.b.c.d/n: compare in IPv4.
                Some(v4) if v6.prefix_len() >= 96 => {
                    IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).unwrap_or(net)
                }
                _ => net,
            },
            v4 => v4,
        });
    }
    value
        .parse::<IpAddr>()
        .map(|a| IpNet::from(a.to_canonical()))
        .map_err(|_| format!("policy value \"{value}\" is not an IP address or CIDR block"))
}
