//! RAM user groups and their members: CreateGroup, GetGroup, ListGroups, UpdateGroup,
//! DeleteGroup, AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser, ListUsersForGroup.

use serde_json::{json, Value};

use super::{
    missing,
    validate::{self, GROUP_NAME, NEW_GROUP_NAME, USER_NAME},
    Paging,
};
use crate::{
    api::{ApiError, Ctx, ErrorCode},
    store::{
        iso,
        ram::{Entity, GroupChanges, RamGroup},
    },
};

fn render(g: &RamGroup, with_update: bool) -> Value {
    let mut v = json!({
        "GroupId": g.id,
        "GroupName": g.name,
        "Comments": g.comments,
        "CreateDate": iso(g.created_at),
    });
    if with_update {
        v["UpdateDate"] = iso(g.updated_at).into();
    }
    v
}

/// `CreateGroup` → `Group`.
pub async fn create_group(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "GroupName", &GROUP_NAME)?;
    let comments = validate::text(ctx, "Comments", 128, ErrorCode::RamCommentsLength)?;
    let group = ctx
        .shared
        .store
        .create_ram_group(&ctx.caller.account_id, name, comments.unwrap_or_default())
        .await?;
    ctx.audit(&group.id).await?;
    Ok(json!({ "Group": render(&group, false) }))
}

/// `GetGroup` → `Group`.
pub async fn get_group(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "GroupName", &GROUP_NAME)?;
    let group = ctx
        .shared
        .store
        .ram_group(&ctx.caller.account_id, name)
        .await?
        .ok_or_else(|| missing(Entity::Group))?;
    Ok(json!({ "Group": render(&group, true) }))
}

/// `ListGroups` → `Groups.Group[]`, by name, paged by `Marker`/`MaxItems`.
pub async fn list_groups(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let paging = Paging::of(ctx)?;
    let rows = ctx
        .shared
        .store
        .list_ram_groups(&ctx.caller.account_id, paging.after, paging.fetch())
        .await?;
    Ok(paging.answer(
        rows,
        "Groups",
        "Group",
        |g| g.name.clone(),
        |g| render(g, true),
    ))
}

/// `UpdateGroup` → `Group`, renamed (`NewGroupName`) and/or re-commented (`NewComments`).
pub async fn update_group(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "GroupName", &GROUP_NAME)?;
    let changes = GroupChanges {
        name: validate::optional_name(ctx, "NewGroupName", &NEW_GROUP_NAME)?.map(str::to_owned),
        comments: validate::text(ctx, "NewComments", 128, ErrorCode::RamNewCommentsLength)?
            .map(str::to_owned),
    };
    let group = ctx
        .shared
        .store
        .update_ram_group(&ctx.caller.account_id, name, &changes)
        .await?;
    ctx.audit(&group.id).await?;
    Ok(json!({ "Group": render(&group, true) }))
}

/// `DeleteGroup`: refused while it has members or policies.
pub async fn delete_group(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "GroupName", &GROUP_NAME)?;
    ctx.shared
        .store
        .delete_ram_group(&ctx.caller.account_id, name)
        .await?;
    ctx.audit(name).await?;
    Ok(json!({}))
}

/// `AddUserToGroup`.
pub async fn add_user_to_group(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let group = validate::required_name(ctx, "GroupName", &GROUP_NAME)?;
    let user = validate::required_name(ctx, "UserName", &USER_NAME)?;
    ctx.shared
        .store
        .add_user_to_group(&ctx.caller.account_id, group, user)
        .await?;
    ctx.audit(&format!("{group}/{user}")).await?;
    Ok(json!({}))
}

/// `RemoveUserFromGroup`.
pub async fn remove_user_from_group(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let group = validate::required_name(ctx, "GroupName", &GROUP_NAME)?;
    let user = validate::required_name(ctx, "UserName", &USER_NAME)?;
    ctx.shared
        .store
        .remove_user_from_group(&ctx.caller.account_id, group, user)
        .await?;
    ctx.audit(&format!("{group}/{user}")).await?;
    Ok(json!({}))
}

/// `ListGroupsForUser` → `Groups.Group[]` with each `JoinDate` (not paged, as in RAM).
pub async fn list_groups_for_user(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let user = validate::required_name(ctx, "UserName", &USER_NAME)?;
    let rows = ctx
        .shared
        .store
        .groups_for_user(&ctx.caller.account_id, user)
        .await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|m| {
            json!({
                "GroupId": m.entity.id,
                "GroupName": m.entity.name,
                "Comments": m.entity.comments,
                "JoinDate": iso(m.joined_at),
            })
        })
        .collect();
    Ok(json!({ "Groups": { "Group": list } }))
}

/// `ListUsersForGroup` → `Users.User[]` with each `JoinDate`, paged by `Marker`/`MaxItems`.
pub async fn list_users_for_group(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let group = validate::required_name(ctx, "GroupName", &GROUP_NAME)?;
    let paging = Paging::of(ctx)?;
    let rows = ctx
        .shared
        .store
        .users_for_group(&ctx.caller.account_id, group, paging.after, paging.fetch())
        .await?;
    Ok(paging.answer(
        rows,
        "Users",
        "User",
        |m| m.entity.name.clone(),
        |m| {
            json!({
                "UserName": m.entity.name,
                "DisplayName": m.entity.display_name,
                "JoinDate": iso(m.joined_at),
            })
        },
    ))
}
