//! RAM roles: CreateRole, GetRole, ListRoles, UpdateRole and DeleteRole. Who may assume a
//! role is its trust policy (`AssumeRolePolicyDocument`), validated as one here and evaluated
//! by STS AssumeRole.

use serde_json::{json, Value};

use super::{
    missing,
    validate::{self, ROLE_NAME},
    Paging,
};
use crate::{
    api::{ApiError, Ctx, ErrorCode},
    store::{
        iso,
        ram::{Entity, NewRole, RoleChanges},
        RoleRow,
    },
};

/// Longest role description.
const MAX_DESCRIPTION: usize = 1024;

/// A role as GetRole answers it; `full` adds the trust policy and the principal name that
/// CreateRole/GetRole/UpdateRole show and ListRoles does not.
fn render(ctx: &Ctx<'_>, r: &RoleRow, alias: &str, full: bool) -> Value {
    let account = &ctx.caller.account_id;
    let mut v = json!({
        "RoleId": r.id,
        "RoleName": r.name,
        "Arn": axt_iam::arn::role(account, &r.name),
        "Description": r.description,
        "MaxSessionDuration": r.max_session_duration,
        "CreateDate": iso(r.created_at),
        "UpdateDate": iso(r.updated_at),
    });
    if full {
        v["AssumeRolePolicyDocument"] = r.trust_policy.clone().into();
        v["RolePrincipalName"] = format!("{}@role.{alias}.onaliyunservice.com", r.name).into();
        v["IsServiceLinkedRole"] = false.into();
    }
    v
}

/// The account's alias, for `RolePrincipalName`.
async fn alias(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    Ok(ctx
        .shared
        .store
        .account_name(&ctx.caller.account_id)
        .await?
        .unwrap_or_else(|| ctx.caller.account_id.clone()))
}

/// `CreateRole` → `Role`. The trust policy must parse as one (`MalformedPolicyDocument`).
pub async fn create_role(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "RoleName", &ROLE_NAME)?;
    let trust = ctx.args.required("AssumeRolePolicyDocument")?;
    validate::trust_document(trust, ErrorCode::RamAssumeRolePolicyDocumentLength)?;
    let description = validate::text(
        ctx,
        "Description",
        MAX_DESCRIPTION,
        ErrorCode::RamDescriptionLength,
    )?;
    let new = NewRole {
        name: name.to_owned(),
        description: description.unwrap_or_default().to_owned(),
        trust_policy: trust.to_owned(),
        max_session_duration: validate::max_session_duration(ctx, "MaxSessionDuration")?
            .unwrap_or(3600),
    };
    let role = ctx
        .shared
        .store
        .create_ram_role(&ctx.caller.account_id, &new)
        .await?;
    ctx.audit(&role.id).await?;
    let mut out = render(ctx, &role, &alias(ctx).await?, true);
    // CreateRole's answer has no UpdateDate.
    if let Some(o) = out.as_object_mut() {
        o.remove("UpdateDate");
    }
    Ok(json!({ "Role": out }))
}

/// `GetRole` → `Role` (the name is matched ignoring case, as the role's ARN has it).
pub async fn get_role(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "RoleName", &ROLE_NAME)?;
    let role = ctx
        .shared
        .store
        .ram_role(&ctx.caller.account_id, name)
        .await?
        .ok_or_else(|| missing(Entity::Role))?;
    Ok(json!({ "Role": render(ctx, &role, &alias(ctx).await?, true) }))
}

/// `ListRoles` → `Roles.Role[]`, by name, paged by `Marker`/`MaxItems`.
pub async fn list_roles(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let paging = Paging::of(ctx)?;
    let rows = ctx
        .shared
        .store
        .list_ram_roles(&ctx.caller.account_id, paging.after, paging.fetch())
        .await?;
    Ok(paging.answer(
        rows,
        "Roles",
        "Role",
        |r| r.name.clone(),
        |r| render(ctx, r, "", false),
    ))
}

/// `UpdateRole` → `Role`: `NewAssumeRolePolicyDocument`, `NewMaxSessionDuration`,
/// `NewDescription`.
pub async fn update_role(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "RoleName", &ROLE_NAME)?;
    let trust = ctx.args.str("NewAssumeRolePolicyDocument");
    if let Some(t) = trust {
        validate::trust_document(t, ErrorCode::RamNewAssumeRolePolicyDocumentLength)?;
    }
    let changes = RoleChanges {
        description: validate::text(
            ctx,
            "NewDescription",
            MAX_DESCRIPTION,
            ErrorCode::RamNewDescriptionLength,
        )?
        .map(str::to_owned),
        trust_policy: trust.map(str::to_owned),
        max_session_duration: validate::max_session_duration(ctx, "NewMaxSessionDuration")?,
    };
    let role = ctx
        .shared
        .store
        .update_ram_role(&ctx.caller.account_id, name, &changes)
        .await?;
    ctx.audit(&role.id).await?;
    Ok(json!({ "Role": render(ctx, &role, &alias(ctx).await?, true) }))
}

/// `DeleteRole`: refused while policies are attached; the role's STS credentials are
/// revoked with it.
pub async fn delete_role(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "RoleName", &ROLE_NAME)?;
    ctx.shared
        .store
        .delete_ram_role(&ctx.caller.account_id, name)
        .await?;
    ctx.audit(name).await?;
    Ok(json!({}))
}
