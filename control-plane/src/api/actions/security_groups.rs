//! ECS security groups: CreateSecurityGroup, DeleteSecurityGroup, DescribeSecurityGroups and
//! DescribeSecurityGroupAttribute here; the rule actions in [`authorize`]; which instances are
//! in which group in [`membership`]; and the check a port session passes in [`check`].
//! docs/security-groups.md describes the whole model.

mod authorize;
mod check;
mod membership;
mod rules;

use serde_json::{json, Value};

pub use authorize::{
    authorize_security_group, authorize_security_group_egress, revoke_security_group,
    revoke_security_group_egress,
};
pub use check::check_port_session;
pub use membership::{
    join_security_group, leave_security_group, render_instances, run_instances_groups,
};

use super::next_token;
use crate::{
    api::{ApiError, Ctx, ErrorCode},
    store::{iso, security_group_id, NewSecurityGroup, SecurityGroup, SecurityGroupFilter},
};

/// The caller's group `id` in `region`, or `InvalidSecurityGroupId.NotFound`.
pub async fn owned_group(ctx: &Ctx<'_>, region: &str, id: &str) -> Result<SecurityGroup, ApiError> {
    ctx.shared
        .store
        .security_group(id)
        .await?
        .filter(|g| g.account_id == ctx.caller.account_id && g.region_id == region)
        .ok_or_else(|| ApiError::with(ErrorCode::SecurityGroupIdNotFound, format_args!("({id})")))
}

/// A name of 2 to 128 characters that starts with a letter and holds letters, digits, `.`,
/// `_`, `-` and `:` (so never `http://`).
fn valid_name(name: &str) -> bool {
    (2..=128).contains(&name.chars().count())
        && name.chars().next().is_some_and(char::is_alphabetic)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "._-:".contains(c))
}

/// `CreateSecurityGroup` → `SecurityGroupId`. The lab has no VPCs: `VpcId` is kept as given.
pub async fn create_security_group(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.region()?;
    let name = ctx.args.str("SecurityGroupName").unwrap_or("");
    if !name.is_empty() && !valid_name(name) {
        return Err(ApiError::from(ErrorCode::SecurityGroupNameMalformed));
    }
    let description = ctx.args.str("Description").unwrap_or("");
    if !description.is_empty()
        && (!(2..=256).contains(&description.chars().count())
            || description.starts_with("http://")
            || description.starts_with("https://"))
    {
        return Err(ApiError::from(ErrorCode::SecurityGroupDescriptionMalformed));
    }
    let security_group_type = match ctx.args.str("SecurityGroupType").unwrap_or("normal") {
        t @ ("normal" | "enterprise") => t,
        _ => {
            return Err(ApiError::invalid(
                "SecurityGroupType",
                "must be normal or enterprise",
            ))
        }
    };
    let group = NewSecurityGroup {
        id: security_group_id(),
        account_id: ctx.caller.account_id.clone(),
        region_id: region.to_owned(),
        name: name.to_owned(),
        description: description.to_owned(),
        vpc_id: ctx.args.str("VpcId").unwrap_or("").to_owned(),
        security_group_type: security_group_type.to_owned(),
        tags: ctx.args.tags(),
    };
    ctx.shared.store.insert_security_group(&group).await?;
    ctx.audit(&group.id).await?;
    Ok(json!({"SecurityGroupId": group.id}))
}

/// `DeleteSecurityGroup`: the group and its rules, once no instance is in it.
pub async fn delete_security_group(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.region()?;
    let group = owned_group(ctx, region, ctx.args.required("SecurityGroupId")?).await?;
    if !ctx.shared.store.delete_security_group(&group.id).await? {
        return Err(ApiError::from(ErrorCode::SecurityGroupInUse));
    }
    ctx.audit(&group.id).await?;
    Ok(json!({}))
}

fn render_group(g: &SecurityGroup) -> Value {
    let tags: Value = serde_json::from_str(&g.tags).unwrap_or_else(|_| json!([]));
    // The documented capacity of a basic and of an advanced group.
    let capacity = if g.security_group_type == "enterprise" {
        65_536
    } else {
        2_000
    };
    json!({
        "SecurityGroupId": g.id,
        "SecurityGroupName": g.name,
        "Description": g.description,
        "VpcId": g.vpc_id,
        "SecurityGroupType": g.security_group_type,
        "CreationTime": iso(g.created_at),
        "ResourceGroupId": "",
        "ServiceManaged": false,
        "EcsCount": g.instance_count,
        "AvailableInstanceAmount": capacity - g.instance_count,
        "RuleCount": g.rule_count,
        "GroupToGroupRuleCount": 0,
        "Tags": {"Tag": tags},
    })
}

/// `DescribeSecurityGroups`, paged by `PageNumber`/`PageSize` (up to 50) or
/// `MaxResults`/`NextToken` (up to 100); filters `SecurityGroupId`, `SecurityGroupIds`,
/// `SecurityGroupName`, `VpcId`, `SecurityGroupType` and `NetworkType`.
pub async fn describe_security_groups(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.region()?;
    let (offset, limit, number, size) = match ctx.args.tokens(10, 100)? {
        Some((offset, limit)) => (offset, limit, offset / limit + 1, limit),
        None => {
            let page = ctx.args.page(10, 50)?;
            (page.offset, page.size, page.number, page.size)
        }
    };
    let mut ids = ctx.args.json_list("SecurityGroupIds")?;
    if ids.as_ref().is_some_and(|ids| ids.len() > 100) {
        return Err(ApiError::invalid("SecurityGroupIds", "at most 100 ids"));
    }
    if let Some(id) = ctx.args.str("SecurityGroupId") {
        ids = Some(match ids {
            Some(list) => list.into_iter().filter(|i| i == id).collect(),
            None => vec![id.to_owned()],
        });
    }
    let in_vpc = match ctx.args.str("NetworkType") {
        None => None,
        Some("vpc") => Some(true),
        Some("classic") => Some(false),
        Some(_) => return Err(ApiError::invalid("NetworkType", "must be vpc or classic")),
    };
    let security_group_type = ctx.args.str("SecurityGroupType").map(str::to_owned);
    if security_group_type
        .as_deref()
        .is_some_and(|t| t != "normal" && t != "enterprise")
    {
        return Err(ApiError::invalid(
            "SecurityGroupType",
            "must be normal or enterprise",
        ));
    }
    if ctx.args.bool("DryRun")? == Some(true) {
        return Err(ApiError::from(ErrorCode::DryRunOperation));
    }
    let filter = SecurityGroupFilter {
        account_id: ctx.caller.account_id.clone(),
        region_id: region.to_owned(),
        ids,
        name: ctx.args.str("SecurityGroupName").map(str::to_owned),
        vpc_id: ctx.args.str("VpcId").map(str::to_owned),
        security_group_type,
        in_vpc,
        offset,
        limit,
    };
    let (rows, total) = ctx.shared.store.list_security_groups(&filter).await?;
    Ok(json!({
        "RegionId": region, "TotalCount": total, "PageNumber": number, "PageSize": size,
        "NextToken": next_token(offset, rows.len(), total),
        "SecurityGroups": {"SecurityGroup": rows.iter().map(render_group).collect::<Vec<_>>()},
    }))
}

/// `DescribeSecurityGroupAttribute`: a group and its rules (`Direction` all, ingress or
/// egress), paged by `MaxResults` (10 to 1000, 500 by default) and `NextToken`.
pub async fn describe_security_group_attribute(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.region()?;
    let group_id = ctx.args.required("SecurityGroupId")?;
    if ctx
        .args
        .str("NicType")
        .is_some_and(|n| n != "internet" && n != "intranet")
    {
        return Err(ApiError::from(ErrorCode::NicTypeNotSupported));
    }
    let direction = match ctx.args.str("Direction").unwrap_or("all") {
        "all" => None,
        d @ ("ingress" | "egress") => Some(d),
        _ => {
            return Err(ApiError::invalid(
                "Direction",
                "must be ingress, egress or all",
            ))
        }
    };
    let (offset, limit) = ctx.args.tokens(500, 1000)?.unwrap_or((0, 500));
    if limit < 10 {
        return Err(ApiError::invalid("MaxResults", "must be 10 to 1000"));
    }
    let group = owned_group(ctx, region, group_id).await?;
    let rules = ctx
        .shared
        .store
        .security_group_rules(&group.id, direction)
        .await?;
    let page: Vec<Value> = rules
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(rules::render)
        .collect();
    // A basic group lets its members reach each other; an advanced one does not.
    let inner = if group.security_group_type == "enterprise" {
        "Drop"
    } else {
        "Accept"
    };
    Ok(json!({
        "RegionId": region, "SecurityGroupId": group.id, "SecurityGroupName": group.name,
        "Description": group.description, "VpcId": group.vpc_id, "InnerAccessPolicy": inner,
        "NextToken": next_token(offset, page.len(), rules.len() as i64),
        "Permissions": {"Permission": page},
    }))
}
