//! AuthorizeSecurityGroup, RevokeSecurityGroup and their Egress twins. Authorize adds rules
//! (one the group has already is skipped, and the call still succeeds, as the service
//! documents); Revoke removes rules by `SecurityGroupRuleId.N` (each must exist) or by their
//! fields (a rule that matches nothing is no error, again as documented).

use serde_json::{json, Value};

use super::{
    owned_group,
    rules::{names_rule_fields, parse_rules, Direction, MAX_PER_CALL},
};
use crate::{
    api::{ApiError, Ctx, ErrorCode},
    store::MAX_RULES_PER_GROUP,
};

/// `AuthorizeSecurityGroup`: inbound rules.
pub async fn authorize_security_group(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    authorize(ctx, Direction::Ingress).await
}

/// `AuthorizeSecurityGroupEgress`: outbound rules.
pub async fn authorize_security_group_egress(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    authorize(ctx, Direction::Egress).await
}

/// `RevokeSecurityGroup`: inbound rules.
pub async fn revoke_security_group(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    revoke(ctx, Direction::Ingress).await
}

/// `RevokeSecurityGroupEgress`: outbound rules.
pub async fn revoke_security_group_egress(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    revoke(ctx, Direction::Egress).await
}

async fn authorize(ctx: &Ctx<'_>, direction: Direction) -> Result<Value, ApiError> {
    let region = ctx.region()?;
    let group_id = ctx.args.required("SecurityGroupId")?;
    let rules = parse_rules(&ctx.args, direction)?;
    let group = owned_group(ctx, region, group_id).await?;
    // An advanced group allows only what its accept rules name: it has no drop rules.
    if group.security_group_type == "enterprise" && rules.iter().any(|r| r.policy == "drop") {
        return Err(ApiError::from(ErrorCode::EnterpriseGroupPolicy));
    }
    let added = ctx
        .shared
        .store
        .add_security_group_rules(&group.id, &rules)
        .await?;
    if added.is_none() {
        return Err(ApiError::with(
            ErrorCode::RuleLimitExceeded,
            format_args!(
                "{} would hold more than {MAX_RULES_PER_GROUP} rules.",
                group.id
            ),
        ));
    }
    ctx.audit(&group.id).await?;
    Ok(json!({}))
}

async fn revoke(ctx: &Ctx<'_>, direction: Direction) -> Result<Value, ApiError> {
    let region = ctx.region()?;
    let group_id = ctx.args.required("SecurityGroupId")?;
    let ids = ctx.args.list("SecurityGroupRuleId");
    let store = &ctx.shared.store;
    if ids.is_empty() {
        let rules = parse_rules(&ctx.args, direction)?;
        let group = owned_group(ctx, region, group_id).await?;
        store.remove_matching_rules(&group.id, &rules).await?;
        ctx.audit(&group.id).await?;
        return Ok(json!({}));
    }
    if names_rule_fields(&ctx.args) {
        return Err(ApiError::from(ErrorCode::PermissionsConflict));
    }
    if ids.len() > MAX_PER_CALL {
        return Err(ApiError::invalid(
            "SecurityGroupRuleId.N",
            format_args!("at most {MAX_PER_CALL} rule ids"),
        ));
    }
    if ids.iter().enumerate().any(|(i, id)| ids[..i].contains(id)) {
        return Err(ApiError::from(ErrorCode::SecurityGroupRuleIdRepeated));
    }
    let group = owned_group(ctx, region, group_id).await?;
    // A rule of the other direction is not one of this call's: Revoke does not remove an
    // outbound rule, nor RevokeSecurityGroupEgress an inbound one.
    if let Err(missing) = store
        .remove_security_group_rules(&group.id, direction.as_str(), &ids)
        .await?
    {
        return Err(ApiError::with(
            ErrorCode::SecurityGroupRuleIdNotFound,
            format_args!(
                "{missing} is not an {} rule of {}.",
                direction.as_str(),
                group.id
            ),
        ));
    }
    ctx.audit(&group.id).await?;
    Ok(json!({}))
}
