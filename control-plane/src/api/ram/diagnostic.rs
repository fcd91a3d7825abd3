//! `DecodeDiagnosticMessage`: what an `EncodedDiagnosticMessage` of an `AccessDeniedDetail`
//! says, in RAM's own answer shape — the action, the principal, the resource, the condition
//! values the request had, and the policies whose statements decided — plus, as
//! `AxtlabTrace`, every statement's verdict, which `axt iam explain` prints. Reading it is the
//! permission `ram:DecodeDiagnosticMessage`, since it shows policy contents.

use axt_iam::{Decision, Effect, PolicyType};
use serde_json::{json, Value};

use crate::api::{authz, ApiError, Ctx};

/// `DecodeDiagnosticMessage`.
pub async fn decode_diagnostic_message(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let encoded = ctx.args.required("EncodedDiagnosticMessage")?;
    let diagnostic = authz::decode(ctx, encoded)
        .filter(|d| d.account_id == ctx.caller.account_id)
        .ok_or_else(|| {
            ApiError::invalid(
                "EncodedDiagnosticMessage",
                "it is not a diagnostic message of this account",
            )
        })?;
    let trace = &diagnostic.trace;
    let matched: Vec<Value> = trace
        .statements
        .iter()
        .filter(|s| s.applies)
        .map(|s| {
            json!({
                "AttachedEntityType": match diagnostic.principal_type.as_str() {
                    "AssumedRoleUser" => "Role",
                    _ => "User",
                },
                "AttachedScope": "Account",
                "Effect": match s.effect { Effect::Allow => "Allow", Effect::Deny => "Deny" },
                "PolicyIdentifier": s.policy,
                "PolicyType": match s.policy_type {
                    PolicyType::System => "System",
                    PolicyType::Custom => "Custom",
                    PolicyType::Session => "Session",
                },
                "PolicyVersion": "default",
            })
        })
        .collect();
    let conditions: Vec<Value> = diagnostic
        .conditions
        .iter()
        .map(|(key, values)| json!({"ConditionKey": key, "ConditionValues": values}))
        .collect();
    Ok(json!({
        "DecodedDiagnosticMessage": {
            "AuthAction": trace.action,
            "AuthResource": trace.resource,
            "AuthPrincipal": {
                "AuthPrincipalType": diagnostic.principal_type,
                "AuthPrincipalDisplayName": diagnostic.principal_display_name,
                "AuthPrincipalOwnerId": diagnostic.account_id,
            },
            "ExplicitDeny": trace.decision == Decision::ExplicitDeny,
            "NoPermissionPolicyType": diagnostic.policy_type,
            "AuthConditions": conditions,
            "MatchedPolicies": matched,
            "AxtlabTrace": trace,
        }
    }))
}
