//! Versions of a policy: CreatePolicyVersion, GetPolicyVersion, ListPolicyVersions,
//! SetDefaultPolicyVersion and DeletePolicyVersion. A system policy has one, `v1`; a custom
//! one at most five, exactly one of them the default — the one in force.

use serde_json::{json, Value};

use super::{
    missing,
    policies::{named, render_version, versions_of},
    validate::{self, POLICY_NAME},
};
use crate::{
    api::{ApiError, Ctx},
    store::ram::Entity,
};

/// `CreatePolicyVersion` → `PolicyVersion`. At 5 versions it is refused
/// (`LimitExceeded.Policy.Version`) unless `RotateStrategy` is
/// `DeleteOldestNonDefaultVersionWhenLimitExceeded`.
pub async fn create_policy_version(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "PolicyName", &POLICY_NAME)?;
    let document = ctx.args.required("PolicyDocument")?;
    validate::permission_document(document)?;
    let set_default = ctx.args.bool("SetAsDefault")?.unwrap_or(false);
    let rotate = match ctx.args.str("RotateStrategy").unwrap_or("None") {
        "None" => false,
        "DeleteOldestNonDefaultVersionWhenLimitExceeded" => true,
        _ => {
            return Err(ApiError::invalid(
                "RotateStrategy",
                "must be None or DeleteOldestNonDefaultVersionWhenLimitExceeded",
            ))
        }
    };
    let version = ctx
        .shared
        .store
        .create_policy_version(&ctx.caller.account_id, name, document, set_default, rotate)
        .await?;
    ctx.audit(&format!("{name}/{}", version.version_id)).await?;
    Ok(json!({ "PolicyVersion": render_version(&version) }))
}

/// `GetPolicyVersion` → `PolicyVersion`.
pub async fn get_policy_version(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let (name, policy_type) = named(ctx)?;
    let version_id = validate::version_id(ctx)?;
    let (_, versions) = versions_of(ctx, &name, policy_type).await?;
    let version = versions
        .iter()
        .find(|v| v.version_id == version_id)
        .ok_or_else(|| missing(Entity::PolicyVersion))?;
    Ok(json!({ "PolicyVersion": render_version(version) }))
}

/// `ListPolicyVersions` → `PolicyVersions.PolicyVersion[]`, newest first.
pub async fn list_policy_versions(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let (name, policy_type) = named(ctx)?;
    let (_, versions) = versions_of(ctx, &name, policy_type).await?;
    let list: Vec<Value> = versions.iter().map(render_version).collect();
    Ok(json!({ "PolicyVersions": { "PolicyVersion": list } }))
}

/// `SetDefaultPolicyVersion`: the version now in force wherever the policy is attached.
pub async fn set_default_policy_version(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "PolicyName", &POLICY_NAME)?;
    let version_id = validate::version_id(ctx)?;
    ctx.shared
        .store
        .set_default_policy_version(&ctx.caller.account_id, name, version_id)
        .await?;
    ctx.audit(&format!("{name}/{version_id}")).await?;
    Ok(json!({}))
}

/// `DeletePolicyVersion`: never the default one (`DeleteConflict.Policy.Version.Default`).
pub async fn delete_policy_version(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "PolicyName", &POLICY_NAME)?;
    let version_id = validate::version_id(ctx)?;
    ctx.shared
        .store
        .delete_policy_version(&ctx.caller.account_id, name, version_id)
        .await?;
    ctx.audit(&format!("{name}/{version_id}")).await?;
    Ok(json!({}))
}
