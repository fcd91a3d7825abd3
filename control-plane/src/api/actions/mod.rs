//! The Actions, one file per family, and the one table that names them all.

mod activations;
mod assistant;
mod behaviour;
mod instances;
mod recordings;
mod regions;
mod resources;
mod security_groups;
mod sessions;
mod start_session;

pub use resources::resources;

use serde_json::Value;

use super::{ApiError, Ctx, ErrorCode};

/// Runs the call's Action; an unknown one is `InvalidAction.NotFound`. A `RegionId` the lab
/// does not serve is `InvalidRegionId.NotFound` for every Action, also those for which it is
/// optional (DescribeRegions, the business-behaviour switch), before anything else is read.
pub async fn dispatch(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    ctx.optional_region()?;
    match ctx.action.as_str() {
        "DescribeRegions" => regions::describe_regions(ctx).await,
        "RunInstances" => instances::run_instances(ctx).await,
        "StartInstance" => instances::start_instance(ctx).await,
        "StopInstance" => instances::stop_instance(ctx).await,
        "DescribeInstances" => instances::describe_instances(ctx).await,
        "DescribeInstanceStatus" => instances::describe_instance_status(ctx).await,
        "CreateActivation" => activations::create_activation(ctx).await,
        "DescribeActivations" => activations::describe_activations(ctx).await,
        "DescribeManagedInstances" => activations::describe_managed_instances(ctx).await,
        "DeregisterManagedInstance" => activations::deregister_managed_instance(ctx).await,
        "DescribeCloudAssistantStatus" => assistant::describe_cloud_assistant_status(ctx).await,
        "InstallCloudAssistant" => assistant::install_cloud_assistant(ctx).await,
        "DescribeUserBusinessBehavior" => behaviour::describe(ctx).await,
        "ModifyUserBusinessBehavior" => behaviour::modify(ctx).await,
        "StartTerminalSession" => start_session::start_terminal_session(ctx).await,
        "EndTerminalSession" => sessions::end_terminal_session(ctx).await,
        "DescribeTerminalSessions" => sessions::describe_terminal_sessions(ctx).await,
        "ListTerminalSessionRecordings" => recordings::list(ctx).await,
        "GetTerminalSessionRecording" => recordings::get(ctx).await,
        "CreateSecurityGroup" => security_groups::create_security_group(ctx).await,
        "DeleteSecurityGroup" => security_groups::delete_security_group(ctx).await,
        "DescribeSecurityGroups" => security_groups::describe_security_groups(ctx).await,
        "DescribeSecurityGroupAttribute" => {
            security_groups::describe_security_group_attribute(ctx).await
        }
        "AuthorizeSecurityGroup" => security_groups::authorize_security_group(ctx).await,
        "AuthorizeSecurityGroupEgress" => {
            security_groups::authorize_security_group_egress(ctx).await
        }
        "RevokeSecurityGroup" => security_groups::revoke_security_group(ctx).await,
        "RevokeSecurityGroupEgress" => security_groups::revoke_security_group_egress(ctx).await,
        "JoinSecurityGroup" => security_groups::join_security_group(ctx).await,
        "LeaveSecurityGroup" => security_groups::leave_security_group(ctx).await,
        _ => Err(ApiError::from(ErrorCode::ActionNotFound)),
    }
}

/// `NextToken` for the page after `offset + len` of `total`, or empty on the last page.
fn next_token(offset: i64, len: usize, total: i64) -> String {
    let next = offset + len as i64;
    if next < total {
        next.to_string()
    } else {
        String::new()
    }
}

/// Resolves the paging of a Describe call: token style when `MaxResults`/`NextToken` are
/// given, page style otherwise. Returns `(offset, limit, page_number, page_size)`.
fn paging(ctx: &Ctx<'_>, default: i64, max: i64) -> Result<(i64, i64, i64, i64), ApiError> {
    match ctx.args.tokens(default, max)? {
        Some((offset, limit)) => Ok((offset, limit, offset / limit + 1, limit)),
        None => {
            let page = ctx.args.page(default, max)?;
            Ok((page.offset, page.size, page.number, page.size))
        }
    }
}
