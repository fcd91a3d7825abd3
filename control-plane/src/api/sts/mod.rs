//! The STS OpenAPI (version 2015-04-01): AssumeRole, which hands out a role's temporary
//! credentials, and GetCallerIdentity, which says who signed. The credentials themselves are
//! verified by [`super::auth`], like any AccessKey, with their SecurityToken.

mod assume_role;

use axt_iam::arn;
use serde_json::{json, Value};

use super::{ApiError, Ctx, ErrorCode, Principal};

/// Runs the call's STS Action; an unknown one is `InvalidAction.NotFound`.
pub async fn dispatch(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    match ctx.action.as_str() {
        "AssumeRole" => assume_role::assume_role(ctx).await,
        "GetCallerIdentity" => Ok(get_caller_identity(ctx)),
        _ => Err(ApiError::from(ErrorCode::ActionNotFound)),
    }
}

/// The resources `ctx`'s Action acts on, as RAM authorizes `sts:<Action>` on them; `None` for
/// an Action STS does not have here (the dispatcher answers it `InvalidAction.NotFound`).
///
/// - AssumeRole: the role `RoleArn` names, as `acs:ram::<account>:role/<name in lower case>`
///   (how RAM writes role ARNs, so that a policy naming the role matches however the caller
///   spelt it); `*` when RoleArn is missing or malformed, which the Action then reports.
/// - GetCallerIdentity: **none** (`Some(vec![])`): the real STS documents "No authorization for
///   this operation" — it needs no `sts:GetCallerIdentity` permission and no policy can deny
///   it, so the authorization hook must let it through for every authenticated caller.
pub fn resources(ctx: &Ctx<'_>) -> Option<Vec<String>> {
    match ctx.action.as_str() {
        "AssumeRole" => Some(vec![ctx
            .args
            .str("RoleArn")
            .and_then(parse_role_arn)
            .map_or_else(
                || "*".to_owned(),
                |(account, name)| arn::role(account, name),
            )]),
        "GetCallerIdentity" => Some(Vec::new()),
        _ => None,
    }
}

/// `acs:ram::<account id>:role/<role name>` → (account id, role name as given).
pub fn parse_role_arn(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("acs:ram::")?;
    let (account, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("role/")?;
    let valid_account = !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit());
    // RAM role names: 1 to 64 letters, digits, `.` and `-`.
    let valid_name = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    (valid_account && valid_name).then_some((account, name))
}

/// GetCallerIdentity: `UserId` for the account and RAM users only, `RoleId` for role sessions
/// only, as the real service answers.
fn get_caller_identity(ctx: &Ctx<'_>) -> Value {
    let caller = &ctx.caller;
    let mut body = json!({
        "AccountId": caller.account_id,
        "Arn": caller.arn(),
        "IdentityType": caller.identity_type(),
        "PrincipalId": caller.principal_id(),
    });
    match &caller.principal {
        Principal::Root => body["UserId"] = caller.account_id.clone().into(),
        Principal::User { id, .. } => body["UserId"] = id.clone().into(),
        Principal::AssumedRole { role_id, .. } => body["RoleId"] = role_id.clone().into(),
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_are_parsed_strictly() {
        assert_eq!(
            parse_role_arn("acs:ram::1234567890123456:role/Ops-Admin.1"),
            Some(("1234567890123456", "Ops-Admin.1"))
        );
        for bad in [
            "acs:ram::1234567890123456:user/ops",
            "acs:ram:::role/ops",
            "acs:ram::12ab:role/ops",
            "acs:ram::1234567890123456:role/",
            "acs:ram::1234567890123456:role/a/b",
            "acs:ecs::1234567890123456:role/ops",
            "acs:ram:cn-hangzhou:1234567890123456:role/ops",
            "role/ops",
        ] {
            assert_eq!(parse_role_arn(bad), None, "{bad}");
        }
        let long = format!("acs:ram::1:role/{}", "r".repeat(65));
        assert_eq!(parse_role_arn(&long), None);
    }
}
