//! The two nested blocks of a statement: `Principal` (trust policies) and `Condition`.

use serde_json::Value;

use super::{check_elements, describe, malformed, strings};
use crate::policy::{Condition, PolicyError, Principals};

const PRINCIPAL_ELEMENTS: &[&str] = &["RAM", "Service", "Federated"];

pub(super) fn principals(value: &Value, n: usize) -> Result<Principals, PolicyError> {
    let Value::Object(map) = value else {
        return Err(malformed(format!(
            "Statement {n}: Principal must be an object such as {{\"RAM\": [\"acs:ram::<account-id>:root\"]}}, not {}",
            describe(value)
        )));
    };
    check_elements(
        map,
        PRINCIPAL_ELEMENTS,
        &format!("in the Principal of Statement {n}"),
    )?;
    let get = |name: &str| -> Result<Vec<String>, PolicyError> {
        map.get(name).map_or(Ok(Vec::new()), |v| {
            strings(v, &format!("Statement {n}: Principal {name}"))
        })
    };
    let principals = Principals {
        ram: get("RAM")?,
        service: get("Service")?,
        federated: get("Federated")?,
    };
    if principals.ram.is_empty() && principals.service.is_empty() && principals.federated.is_empty()
    {
        return Err(malformed(format!(
            "Statement {n}: Principal names nobody: give RAM, Service or Federated"
        )));
    }
    if let Some(bad) = principals.ram.iter().find(|p| !p.starts_with("acs:ram::")) {
        return Err(malformed(format!(
            "Statement {n}: Principal RAM entry \"{bad}\" must be an ARN: acs:ram::<account-id>:root, acs:ram::<account-id>:user/<name> or acs:ram::<account-id>:role/<name>"
        )));
    }
    Ok(principals)
}

/// `{operator: {key: value-or-values}}`, unfolded one key per [`Condition`], sorted by operator
/// then key so that the order never depends on how serde_json was built.
pub(super) fn conditions(value: &Value, n: usize) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(operators) = value else {
        return Err(malformed(format!(
            "Statement {n}: Condition must be an object of operators, not {}",
            describe(value)
        )));
    };
    let mut out = Vec::new();
    for (operator, keys) in operators {
        let Value::Object(keys) = keys else {
            return Err(malformed(format!(
                "Statement {n}: Condition {operator} must map condition keys to values, not {}",
                describe(keys)
            )));
        };
        if keys.is_empty() {
            return Err(malformed(format!(
                "Statement {n}: Condition {operator} names no condition key"
            )));
        }
        for (key, values) in keys {
            out.push(Condition {
                operator: operator.clone(),
                key: key.clone(),
                values: condition_values(
                    values,
                    &format!("Statement {n}: Condition {operator} {key}"),
                )?,
            });
        }
    }
    out.sort_by(|a, b| (&a.operator, &a.key).cmp(&(&b.operator, &b.key)));
    Ok(out)
}

/// Condition values may be written as JSON strings, numbers or booleans; all become strings.
fn condition_values(value: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(num) => Ok(num.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(malformed(format!(
            "{what} must be a string, a number or a boolean, not {}",
            describe(other)
        ))),
    };
    match value {
        Value::Array(items) if items.is_empty() => {
            Err(malformed(format!("{what} is an empty list")))
        }
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => Ok(vec![scalar(other)?]),
    }
}
