//! Which instances are in which security group: JoinSecurityGroup, LeaveSecurityGroup, the
//! groups RunInstances puts its instances in, and the groups DescribeInstances shows. Only ECS
//! instances are in groups: a managed instance (`mi-…`) is not an ECS instance, and ECS
//! security groups do not apply to it.

use serde_json::{json, Value};

use super::owned_group;
use crate::{
    api::{actions::instances::render, ApiError, Ctx, ErrorCode},
    store::{Instance, Membership, SecurityGroup, MAX_GROUPS_PER_INSTANCE},
};

/// The instance and the group of a Join/Leave call. `RegionId` is optional there: the
/// instance carries its own, and the group must be in it. Managed instances are not ECS
/// instances and are in no group: not found.
async fn parties(ctx: &Ctx<'_>) -> Result<(Instance, SecurityGroup), ApiError> {
    let instance_id = ctx.args.required("InstanceId")?;
    let group_id = ctx.args.required("SecurityGroupId")?;
    let region = ctx.args.str("RegionId").map(|_| ctx.region()).transpose()?;
    let instance = ctx
        .shared
        .store
        .instance(instance_id)
        .await?
        .filter(|i| {
            i.account_id == ctx.caller.account_id
                && !i.deregistered
                && !i.is_managed()
                && region.is_none_or(|r| r == i.region_id)
        })
        .ok_or_else(|| ApiError::from(ErrorCode::InstanceIdNotFound))?;
    let group = owned_group(ctx, &instance.region_id, group_id).await?;
    Ok((instance, group))
}

/// `JoinSecurityGroup`: puts an instance in one more group.
pub async fn join_security_group(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let (instance, group) = parties(ctx).await?;
    let store = &ctx.shared.store;
    match store.join_security_group(&instance.id, &group.id).await? {
        Membership::Changed => {}
        Membership::AlreadyIn => return Err(ApiError::from(ErrorCode::InstanceAlreadyInGroup)),
        Membership::Full => {
            return Err(ApiError::with(
                ErrorCode::InstanceGroupLimitExceeded,
                format_args!("An instance can be in at most {MAX_GROUPS_PER_INSTANCE} groups."),
            ))
        }
        _ => return Err(ApiError::from(ErrorCode::SecurityGroupIdNotFound)),
    }
    ctx.audit(&instance.id).await?;
    Ok(json!({}))
}

/// `LeaveSecurityGroup`: takes an instance out of a group, never out of its last one.
pub async fn leave_security_group(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let (instance, group) = parties(ctx).await?;
    match ctx
        .shared
        .store
        .leave_security_group(&instance.id, &group.id)
        .await?
    {
        Membership::Changed => {}
        Membership::Last => return Err(ApiError::from(ErrorCode::InstanceLastGroup)),
        _ => return Err(ApiError::from(ErrorCode::InstanceNotInGroup)),
    }
    ctx.audit(&instance.id).await?;
    Ok(json!({}))
}

/// The groups RunInstances puts its instances in: `SecurityGroupId` or `SecurityGroupIds.N`
/// (not both), each the caller's in the region. None at all is no group: the lab keeps
/// instances without one (docs/security-groups.md).
pub async fn run_instances_groups(ctx: &Ctx<'_>, region: &str) -> Result<Vec<String>, ApiError> {
    let single = ctx.args.str("SecurityGroupId");
    let list = ctx.args.list("SecurityGroupIds");
    if single.is_some() && !list.is_empty() {
        return Err(ApiError::invalid(
            "SecurityGroupIds.N",
            "cannot be given with SecurityGroupId",
        ));
    }
    let ids: Vec<&str> = single.into_iter().chain(list).collect();
    if ids.len() as i64 > MAX_GROUPS_PER_INSTANCE {
        return Err(ApiError::from(ErrorCode::InstanceGroupLimitExceeded));
    }
    if ids.iter().enumerate().any(|(i, id)| ids[..i].contains(id)) {
        return Err(ApiError::invalid(
            "SecurityGroupIds.N",
            "names a group twice",
        ));
    }
    for id in &ids {
        owned_group(ctx, region, id).await?;
    }
    Ok(ids.into_iter().map(str::to_owned).collect())
}

/// Instances as DescribeInstances shows them, each with the groups it is in.
pub async fn render_instances(ctx: &Ctx<'_>, rows: &[Instance]) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<&str> = rows.iter().map(|i| i.id.as_str()).collect();
    let mut groups = ctx.shared.store.security_groups_of(&ids).await?;
    Ok(rows
        .iter()
        .map(|i| {
            let mut shown = render(i);
            shown["SecurityGroupIds"]["SecurityGroupId"] =
                json!(groups.remove(&i.id).unwrap_or_default());
            shown
        })
        .collect())
}
