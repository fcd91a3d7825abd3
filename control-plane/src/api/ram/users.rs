//! RAM users: CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser, and GetAccountAlias.

use serde_json::{json, Value};

use super::{
    missing,
    validate::{self, DISPLAY_NAME, NEW_DISPLAY_NAME, NEW_USER_NAME, USER_NAME},
    Paging,
};
use crate::{
    api::{ApiError, Ctx, ErrorCode},
    store::{
        iso,
        ram::{Entity, NewUser, RamUser, UserChanges},
    },
};

/// A user as CreateUser answers it (GetUser, UpdateUser and ListUsers add `UpdateDate`).
pub fn render(u: &RamUser, with_update: bool) -> Value {
    let mut v = json!({
        "UserId": u.id,
        "UserName": u.name,
        "DisplayName": u.display_name,
        "MobilePhone": u.mobile_phone,
        "Email": u.email,
        "Comments": u.comments,
        "CreateDate": iso(u.created_at),
    });
    if with_update {
        v["UpdateDate"] = iso(u.updated_at).into();
    }
    v
}

/// The user named by the mandatory `UserName`, or `EntityNotExist.User`.
pub async fn existing(ctx: &Ctx<'_>) -> Result<RamUser, ApiError> {
    let name = validate::required_name(ctx, "UserName", &USER_NAME)?;
    ctx.shared
        .store
        .ram_user(&ctx.caller.account_id, name)
        .await?
        .ok_or_else(|| missing(Entity::User))
}

/// `CreateUser` → `User`.
pub async fn create_user(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "UserName", &USER_NAME)?;
    let new = NewUser {
        name: name.to_owned(),
        display_name: validate::optional_name(ctx, "DisplayName", &DISPLAY_NAME)?
            .unwrap_or_default()
            .to_owned(),
        mobile_phone: validate::mobile_phone(ctx, "MobilePhone", ErrorCode::RamMobilePhoneFormat)?
            .unwrap_or_default()
            .to_owned(),
        email: validate::email(ctx, "Email", ErrorCode::RamEmailFormat)?
            .unwrap_or_default()
            .to_owned(),
        comments: validate::text(ctx, "Comments", 128, ErrorCode::RamCommentsLength)?
            .unwrap_or_default()
            .to_owned(),
    };
    let user = ctx
        .shared
        .store
        .create_ram_user(&ctx.caller.account_id, &new)
        .await?;
    ctx.audit(&user.id).await?;
    Ok(json!({ "User": render(&user, false) }))
}

/// `GetUser` → `User`.
pub async fn get_user(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let user = existing(ctx).await?;
    Ok(json!({ "User": render(&user, true) }))
}

/// `ListUsers` → `Users.User[]`, by name, paged by `Marker`/`MaxItems`.
pub async fn list_users(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let paging = Paging::of(ctx)?;
    let rows = ctx
        .shared
        .store
        .list_ram_users(&ctx.caller.account_id, paging.after, paging.fetch())
        .await?;
    Ok(paging.answer(
        rows,
        "Users",
        "User",
        |u| u.name.clone(),
        |u| render(u, true),
    ))
}

/// `UpdateUser` → `User`, with the `New*` fields applied.
pub async fn update_user(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "UserName", &USER_NAME)?;
    let changes = UserChanges {
        name: validate::optional_name(ctx, "NewUserName", &NEW_USER_NAME)?.map(str::to_owned),
        display_name: validate::optional_name(ctx, "NewDisplayName", &NEW_DISPLAY_NAME)?
            .map(str::to_owned),
        mobile_phone: validate::mobile_phone(
            ctx,
            "NewMobilePhone",
            ErrorCode::RamNewMobilePhoneFormat,
        )?
        .map(str::to_owned),
        email: validate::email(ctx, "NewEmail", ErrorCode::RamNewEmailFormat)?.map(str::to_owned),
        comments: validate::text(ctx, "NewComments", 128, ErrorCode::RamNewCommentsLength)?
            .map(str::to_owned),
    };
    let user = ctx
        .shared
        .store
        .update_ram_user(&ctx.caller.account_id, name, &changes)
        .await?;
    ctx.audit(&user.id).await?;
    Ok(json!({ "User": render(&user, true) }))
}

/// `DeleteUser`: refused while the user has AccessKeys, groups or policies.
pub async fn delete_user(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "UserName", &USER_NAME)?;
    ctx.shared
        .store
        .delete_ram_user(&ctx.caller.account_id, name)
        .await?;
    ctx.audit(name).await?;
    Ok(json!({}))
}

/// `GetAccountAlias` → `AccountAlias`: the account's name.
pub async fn get_account_alias(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let alias = ctx
        .shared
        .store
        .account_name(&ctx.caller.account_id)
        .await?
        .unwrap_or_default();
    Ok(json!({ "AccountAlias": alias }))
}
