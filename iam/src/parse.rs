//! The walk over a policy's JSON, by hand rather than by derive, so that every refusal names
//! the element, the statement (counted from 1, as a person counts) and the offending value.

use serde_json::{Map, Value};

use crate::policy::{Document, Effect, PolicyError, Statement};

mod blocks;

use blocks::{conditions, principals};

/// Which of RAM's two document shapes is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Attached to users, groups and roles, or passed as a session policy: has `Resource`.
    Permission,
    /// A role's trust policy: has `Principal`, never `Resource` (the role is the resource).
    Trust,
}

const TOP_ELEMENTS: &[&str] = &["Version", "Statement"];
const STATEMENT_ELEMENTS: &[&str] = &[
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "Condition",
];

fn malformed(message: impl Into<String>) -> PolicyError {
    PolicyError::Malformed(message.into())
}

pub(crate) fn document(text: &str, kind: Kind, max: usize) -> Result<Document, PolicyError> {
    // RAM states its limit in characters, so count characters rather than bytes.
    let len = text.chars().count();
    if len > max {
        return Err(PolicyError::TooLong { len, max });
    }
    if text.trim().is_empty() {
        return Err(malformed("the policy document is empty"));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| malformed(format!("the policy document is not valid JSON: {e}")))?;
    let Value::Object(top) = value else {
        return Err(malformed(format!(
            "the policy document must be a JSON object, not {}",
            describe(&value)
        )));
    };
    check_elements(&top, TOP_ELEMENTS, "at the top of the policy")?;

    let version = match top.get("Version") {
        None => return Err(malformed("Version is missing: write \"Version\": \"1\"")),
        Some(Value::String(v)) if v == "1" => v.clone(),
        Some(Value::String(v)) => {
            return Err(malformed(format!("Version must be \"1\", not \"{v}\"")))
        }
        Some(other) => {
            return Err(malformed(format!(
                "Version must be the string \"1\", not {}",
                describe(other)
            )))
        }
    };

    // RAM's grammar lets every many-valued element hold a single value, Statement included.
    let raw: Vec<&Value> = match top.get("Statement") {
        None => return Err(malformed("Statement is missing")),
        Some(Value::Array(list)) if list.is_empty() => {
            return Err(malformed(
                "Statement is an empty list: a policy needs a statement",
            ))
        }
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        Some(other) => {
            return Err(malformed(format!(
                "Statement must be a list of statements, not {}",
                describe(other)
            )))
        }
    };
    let statements = raw
        .into_iter()
        .enumerate()
        .map(|(i, v)| statement(v, i + 1, kind))
        .collect::<Result<_, _>>()?;
    Ok(Document {
        version,
        statements,
    })
}

fn statement(value: &Value, n: usize, kind: Kind) -> Result<Statement, PolicyError> {
    let Value::Object(map) = value else {
        return Err(malformed(format!(
            "Statement {n} must be an object, not {}",
            describe(value)
        )));
    };
    check_elements(map, STATEMENT_ELEMENTS, &format!("in Statement {n}"))?;

    let sid = match map.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(malformed(format!(
                "Statement {n}: Sid must be a string, not {}",
                describe(other)
            )))
        }
    };
    let effect = match map.get("Effect") {
        None => return Err(malformed(format!("Statement {n}: Effect is missing"))),
        Some(Value::String(s)) if s == "Allow" => Effect::Allow,
        Some(Value::String(s)) if s == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(malformed(format!(
                "Statement {n}: Effect must be Allow or Deny, not {}",
                describe(other)
            )))
        }
    };

    let (actions, not_action) = either(map, "Action", "NotAction", n)?
        .ok_or_else(|| malformed(format!("Statement {n} has neither Action nor NotAction")))?;
    for action in &actions {
        check_action(action, n)?;
    }

    let (resources, not_resource, principals) = match kind {
        Kind::Permission => {
            if map.contains_key("Principal") {
                return Err(malformed(format!(
                    "Statement {n}: Principal belongs only in a role's trust policy"
                )));
            }
            let (resources, not) = either(map, "Resource", "NotResource", n)?.ok_or_else(|| {
                malformed(format!(
                    "Statement {n} has neither Resource nor NotResource"
                ))
            })?;
            for resource in &resources {
                check_resource(resource, n)?;
            }
            (resources, not, None)
        }
        Kind::Trust => {
            for element in ["Resource", "NotResource"] {
                if map.contains_key(element) {
                    return Err(malformed(format!(
                        "Statement {n}: a trust policy has no {element}: the role itself is the resource"
                    )));
                }
            }
            let principal = map
                .get("Principal")
                .ok_or_else(|| malformed(format!("Statement {n}: Principal is missing")))?;
            (Vec::new(), false, Some(principals(principal, n)?))
        }
    };

    let conditions = match map.get("Condition") {
        None => Vec::new(),
        Some(value) => conditions(value, n)?,
    };
    Ok(Statement {
        sid,
        effect,
        actions,
        not_action,
        resources,
        not_resource,
        principals,
        conditions,
    })
}

/// `Action` or `NotAction` (likewise `Resource` or `NotResource`): at most one of the pair.
fn either(
    map: &Map<String, Value>,
    plain: &str,
    not: &str,
    n: usize,
) -> Result<Option<(Vec<String>, bool)>, PolicyError> {
    match (map.get(plain), map.get(not)) {
        (Some(_), Some(_)) => Err(malformed(format!(
            "Statement {n} has both {plain} and {not}: use one of them"
        ))),
        (Some(v), None) => Ok(Some((
            strings(v, &format!("Statement {n}: {plain}"))?,
            false,
        ))),
        (None, Some(v)) => Ok(Some((strings(v, &format!("Statement {n}: {not}"))?, true))),
        (None, None) => Ok(None),
    }
}

/// A string or a non-empty list of non-empty strings.
fn strings(value: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    let list = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if items.is_empty() => {
            return Err(malformed(format!("{what} is an empty list")))
        }
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(malformed(format!(
                    "{what} must hold strings, not {}",
                    describe(other)
                ))),
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(malformed(format!(
                "{what} must be a string or a list of strings, not {}",
                describe(other)
            )))
        }
    };
    if list.iter().any(|s| s.trim().is_empty()) {
        return Err(malformed(format!("{what} holds an empty string")));
    }
    Ok(list)
}

/// `*`, or `<ram-code>:<action-name>` with `*` and `?` allowed on either side.
fn check_action(action: &str, n: usize) -> Result<(), PolicyError> {
    if action == "*" {
        return Ok(());
    }
    let well_formed = match action.split_once(':') {
        Some((service, name)) => {
            !service.is_empty()
                && !name.is_empty()
                && !name.contains(':')
                && !action.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if well_formed {
        Ok(())
    } else {
        Err(malformed(format!(
            "Statement {n}: Action \"{action}\" must be written service:Name (such as ecs:DescribeInstances), or *"
        )))
    }
}

/// `*`, or an ARN pattern `acs:<ram-code>:<region>:<account>:<relative-id>`.
fn check_resource(resource: &str, n: usize) -> Result<(), PolicyError> {
    if resource == "*" || (resource.starts_with("acs:") && resource.matches(':').count() >= 4) {
        Ok(())
    } else {
        Err(malformed(format!(
            "Statement {n}: Resource \"{resource}\" must be an ARN such as acs:ecs:*:*:instance/i-abc, or *"
        )))
    }
}

/// Refuses an element outside `allowed`; element names are case-sensitive, so a near miss
/// gets the right spelling.
fn check_elements(
    map: &Map<String, Value>,
    allowed: &[&str],
    place: &str,
) -> Result<(), PolicyError> {
    let mut names: Vec<&String> = map.keys().collect();
    names.sort();
    for name in names {
        if allowed.contains(&name.as_str()) {
            continue;
        }
        let hint = match allowed.iter().find(|a| a.eq_ignore_ascii_case(name)) {
            Some(right) => format!(" (element names are case-sensitive: write {right})"),
            None => format!(" (allowed: {})", allowed.join(", ")),
        };
        return Err(malformed(format!(
            "unknown element \"{name}\" {place}{hint}"
        )));
    }
    Ok(())
}

/// A JSON value as a message shows it: scalars as written, containers by kind.
fn describe(value: &Value) -> String {
    match value {
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
        scalar => scalar.to_string(),
    }
}
