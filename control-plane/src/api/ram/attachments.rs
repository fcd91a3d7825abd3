//! Which policy is attached to whom: AttachPolicyTo{User,Group,Role},
//! DetachPolicyFrom{User,Group,Role}, ListPoliciesFor{User,Group,Role} and
//! ListEntitiesForPolicy.

use serde_json::{json, Value};

use super::validate::{self, GROUP_NAME, POLICY_NAME, ROLE_NAME, USER_NAME};
use crate::{
    api::{ApiError, Ctx},
    store::{iso, ram::Kind},
};

/// The principal's parameter and its name, checked.
fn principal<'a>(ctx: &Ctx<'a>, kind: Kind) -> Result<&'a str, ApiError> {
    match kind {
        Kind::User => validate::required_name(ctx, "UserName", &USER_NAME),
        Kind::Group => validate::required_name(ctx, "GroupName", &GROUP_NAME),
        Kind::Role => validate::required_name(ctx, "RoleName", &ROLE_NAME),
    }
}

/// `AttachPolicyTo{User,Group,Role}`: `PolicyType`, `PolicyName` and the principal.
pub async fn attach(ctx: &Ctx<'_>, kind: Kind) -> Result<Value, ApiError> {
    let policy_type = validate::required_policy_type(ctx)?;
    let policy = validate::required_name(ctx, "PolicyName", &POLICY_NAME)?;
    let who = principal(ctx, kind)?;
    ctx.shared
        .store
        .attach_policy(&ctx.caller.account_id, kind, who, policy_type, policy)
        .await?;
    ctx.audit(&format!("{}/{who}:{policy}", kind.as_str()))
        .await?;
    Ok(json!({}))
}

/// `DetachPolicyFrom{User,Group,Role}`.
pub async fn detach(ctx: &Ctx<'_>, kind: Kind) -> Result<Value, ApiError> {
    let policy_type = validate::required_policy_type(ctx)?;
    let policy = validate::required_name(ctx, "PolicyName", &POLICY_NAME)?;
    let who = principal(ctx, kind)?;
    ctx.shared
        .store
        .detach_policy(&ctx.caller.account_id, kind, who, policy_type, policy)
        .await?;
    ctx.audit(&format!("{}/{who}:{policy}", kind.as_str()))
        .await?;
    Ok(json!({}))
}

/// `ListPoliciesFor{User,Group,Role}` → `Policies.Policy[]`: what is attached to the
/// principal itself (a user's groups' policies are not listed, as in RAM).
pub async fn list_for(ctx: &Ctx<'_>, kind: Kind) -> Result<Value, ApiError> {
    let who = principal(ctx, kind)?;
    let rows = ctx
        .shared
        .store
        .policies_for(&ctx.caller.account_id, kind, who)
        .await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|p| {
            json!({
                "PolicyName": p.name,
                "PolicyType": validate::policy_type_name(p.policy_type),
                "Description": p.description,
                "DefaultVersion": p.default_version,
                "AttachDate": iso(p.attached_at),
            })
        })
        .collect();
    Ok(json!({ "Policies": { "Policy": list } }))
}

/// `ListEntitiesForPolicy` → `Users.User[]`, `Groups.Group[]`, `Roles.Role[]`.
pub async fn list_entities_for_policy(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let policy_type = validate::required_policy_type(ctx)?;
    let policy = validate::required_name(ctx, "PolicyName", &POLICY_NAME)?;
    let account = &ctx.caller.account_id;
    let found = ctx
        .shared
        .store
        .entities_for_policy(account, policy_type, policy)
        .await?;
    let users: Vec<Value> = found
        .users
        .iter()
        .map(|(u, at)| {
            json!({
                "UserId": u.id,
                "UserName": u.name,
                "DisplayName": u.display_name,
                "AttachDate": iso(*at),
            })
        })
        .collect();
    let groups: Vec<Value> = found
        .groups
        .iter()
        .map(|(g, at)| {
            json!({
                "GroupName": g.name,
                "Comments": g.comments,
                "AttachDate": iso(*at),
            })
        })
        .collect();
    let roles: Vec<Value> = found
        .roles
        .iter()
        .map(|(r, at)| {
            json!({
                "RoleId": r.id,
                "RoleName": r.name,
                "Arn": axt_iam::arn::role(account, &r.name),
                "Description": r.description,
                "AttachDate": iso(*at),
            })
        })
        .collect();
    Ok(json!({
        "Users": { "User": users },
        "Groups": { "Group": groups },
        "Roles": { "Role": roles },
    }))
}
