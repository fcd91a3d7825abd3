//! Cloud Assistant on instances: DescribeCloudAssistantStatus (is an agent there, online, new
//! enough for Session Manager?) and InstallCloudAssistant.

use serde_json::{json, Value};

use super::{instances::owned_instance, next_token, paging};
use crate::{
    api::{ApiError, Ctx, ErrorCode},
    store::{iso, Instance, InstanceFilter},
    version, Config,
};

/// Whether the instance's agent version passes the Session Manager gate of its OS.
pub fn supports_session_manager(config: &Config, i: &Instance) -> bool {
    let minimum = if i.os_type.eq_ignore_ascii_case("windows") {
        &config.min_agent_version_windows
    } else {
        &config.min_agent_version_linux
    };
    version::at_least(&i.agent_version, minimum)
}

/// `DescribeCloudAssistantStatus` → `InstanceCloudAssistantStatusSet.InstanceCloudAssistantStatus[]`.
pub async fn describe_cloud_assistant_status(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.region()?;
    let config = &ctx.shared.config;
    let (offset, limit, number, size) = paging(ctx, 10, 50)?;
    let ids = ctx.args.list("InstanceId");
    let filter = InstanceFilter {
        account_id: ctx.caller.account_id.clone(),
        region_id: region.to_owned(),
        ids: (!ids.is_empty()).then(|| ids.iter().map(|s| s.to_string()).collect()),
        os_type: ctx.args.str("OSType").map(str::to_owned),
        offset,
        limit,
        ..Default::default()
    };
    let (rows, total) = ctx.shared.store.list_instances(&filter).await?;
    let set: Vec<Value> = rows
        .iter()
        .map(|i| {
            json!({
                "InstanceId": i.id,
                // A string, not a bool: "true" when the agent heart-beat recently.
                "CloudAssistantStatus": i.agent_online(config.heartbeat_window_secs).to_string(),
                "CloudAssistantVersion": i.agent_version,
                "OSType": i.os_type_title(),
                "SupportSessionManager": supports_session_manager(config, i),
                "LastHeartbeatTime": i.last_heartbeat_at.map(iso).unwrap_or_default(),
                "LastInvokedTime": "",
                "InvocationCount": 0,
                "ActiveTaskCount": 0,
            })
        })
        .collect();
    Ok(json!({
        "TotalCount": total, "PageNumber": number, "PageSize": size,
        "NextToken": next_token(offset, rows.len(), total),
        "InstanceCloudAssistantStatusSet": {"InstanceCloudAssistantStatus": set},
    }))
}

/// `InstallCloudAssistant`: checks that every instance exists and is Running, as the real
/// call does, and records the request. In a lab the agent is then installed by running
/// `axt-agent register` on the host that plays the instance; nothing can reach into a
/// simulated instance to install software.
pub async fn install_cloud_assistant(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.region()?;
    let ids = ctx.args.list("InstanceId");
    if ids.is_empty() {
        return Err(ApiError::missing("InstanceId.N"));
    }
    for id in &ids {
        let instance = owned_instance(ctx, region, id).await?;
        if instance.status != "Running" {
            return Err(ApiError::with(
                ErrorCode::IncorrectInstanceStatus,
                format_args!("Instance {id} is {}.", instance.status),
            ));
        }
    }
    ctx.audit(&ids.join(",")).await?;
    Ok(json!({}))
}
