//! AccessKeys of RAM users: CreateAccessKey, ListAccessKeys, UpdateAccessKey and
//! DeleteAccessKey. Without `UserName` each acts on the caller's own keys, as RAM's do: a RAM
//! user's, or the account's root keys for the account itself.

use serde_json::{json, Value};

use super::validate::{self, USER_NAME};
use crate::{
    api::{ApiError, Ctx, Principal},
    store::{iso, KeySummary},
};

/// Whose keys: `Some(user)` for a RAM user's, `None` for the account's own.
pub fn owner<'a>(ctx: &'a Ctx<'_>) -> Result<Option<&'a str>, ApiError> {
    if let Some(name) = validate::optional_name(ctx, "UserName", &USER_NAME)? {
        return Ok(Some(name));
    }
    match &ctx.caller.principal {
        Principal::Root => Ok(None),
        Principal::User { name, .. } => Ok(Some(name.as_str())),
        // A role's session has no keys of its own to manage.
        Principal::AssumedRole { .. } => Err(ApiError::missing("UserName")),
    }
}

fn status(enabled: bool) -> &'static str {
    if enabled {
        "Active"
    } else {
        "Inactive"
    }
}

fn render(k: &KeySummary) -> Value {
    json!({
        "AccessKeyId": k.id,
        "Status": status(k.enabled),
        "CreateDate": iso(k.created_at),
    })
}

/// `CreateAccessKey` → `AccessKey` with its `AccessKeySecret`, shown this once (it is kept
/// sealed, and no call shows it again).
pub async fn create_access_key(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let owner = owner(ctx)?;
    let (key, secret) = ctx
        .shared
        .store
        .create_access_key(&ctx.caller.account_id, owner)
        .await?;
    ctx.audit(&key.id).await?;
    let mut access_key = render(&key);
    access_key["AccessKeySecret"] = secret.into();
    Ok(json!({ "AccessKey": access_key }))
}

/// `ListAccessKeys` → `AccessKeys.AccessKey[]`, without secrets.
pub async fn list_access_keys(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let owner = owner(ctx)?;
    let keys = ctx
        .shared
        .store
        .list_access_keys(&ctx.caller.account_id, owner)
        .await?;
    let list: Vec<Value> = keys.iter().map(render).collect();
    Ok(json!({ "AccessKeys": { "AccessKey": list } }))
}

/// `UpdateAccessKey`: `Status` `Active` or `Inactive` (an inactive key is refused at
/// sign-in with `InvalidAccessKeyId.Inactive`).
pub async fn update_access_key(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let owner = owner(ctx)?;
    let key_id = ctx.args.required("UserAccessKeyId")?;
    let enabled = match ctx.args.required("Status")? {
        "Active" => true,
        "Inactive" => false,
        _ => return Err(ApiError::invalid("Status", "must be Active or Inactive")),
    };
    ctx.shared
        .store
        .set_access_key_enabled(&ctx.caller.account_id, owner, key_id, enabled)
        .await?;
    ctx.audit(key_id).await?;
    Ok(json!({}))
}

/// `DeleteAccessKey`.
pub async fn delete_access_key(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let owner = owner(ctx)?;
    let key_id = ctx.args.required("UserAccessKeyId")?;
    ctx.shared
        .store
        .delete_access_key(&ctx.caller.account_id, owner, key_id)
        .await?;
    ctx.audit(key_id).await?;
    Ok(json!({}))
}
