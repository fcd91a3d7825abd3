//! The simulated ECS instances: RunInstances, StartInstance, StopInstance, DescribeInstances
//! (simulated and managed alike) and DescribeInstanceStatus. The security groups an instance is
//! in are kept by `security_groups`.

use serde_json::{json, Value};

use super::{next_token, paging, security_groups};
use crate::{
    api::{ApiError, Ctx, ErrorCode},
    ids,
    store::{iso_minutes, Instance, InstanceFilter, NewInstance},
};

/// `RunInstances`: creates `Amount` simulated instances, Running at once.
pub async fn run_instances(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.region()?;
    let amount = ctx.args.int("Amount")?.unwrap_or(1);
    if !(1..=100).contains(&amount) {
        return Err(ApiError::invalid("Amount", "must be 1 to 100"));
    }
    let groups = security_groups::run_instances_groups(ctx, region).await?;
    if ctx.args.bool("DryRun")? == Some(true) {
        return Err(ApiError::from(ErrorCode::DryRunOperation));
    }
    let name = ctx.args.str("InstanceName").unwrap_or("");
    let tags = ctx.args.tags();
    let instances: Vec<NewInstance> = (0..amount)
        .map(|n| {
            let id = ids::instance_id(false);
            NewInstance {
                name: if name.is_empty() {
                    id.clone()
                } else {
                    name.to_owned()
                },
                hostname: ctx
                    .args
                    .str("HostName")
                    .map_or_else(|| format!("iZ{}Z", &id[2..]), str::to_owned),
                zone_id: ctx
                    .args
                    .str("ZoneId")
                    .map_or_else(|| format!("{region}-a"), str::to_owned),
                instance_type: ctx
                    .args
                    .str("InstanceType")
                    .unwrap_or("ecs.lab.small")
                    .to_owned(),
                image_id: ctx.args.str("ImageId").unwrap_or("").to_owned(),
                intranet_ip: format!("172.16.0.{}", 10 + n),
                account_id: ctx.caller.account_id.clone(),
                region_id: region.to_owned(),
                tags: tags.clone(),
                id,
            }
        })
        .collect();
    ctx.shared.store.insert_instances(&instances).await?;
    let ids: Vec<&str> = instances.iter().map(|i| i.id.as_str()).collect();
    ctx.shared
        .store
        .add_instances_to_groups(&ids, &groups)
        .await?;
    ctx.audit(&ids.join(",")).await?;
    Ok(json!({"InstanceIdSets": {"InstanceIdSet": ids}, "OrderId": "", "TradePrice": 0.0}))
}

/// The caller's instance `id` in `region`, or `InvalidInstanceId.NotFound`.
pub async fn owned_instance(ctx: &Ctx<'_>, region: &str, id: &str) -> Result<Instance, ApiError> {
    ctx.shared
        .store
        .instance(id)
        .await?
        .filter(|i| {
            i.account_id == ctx.caller.account_id && i.region_id == region && !i.deregistered
        })
        .ok_or_else(|| ApiError::from(ErrorCode::InstanceIdNotFound))
}

async fn transition(ctx: &Ctx<'_>, from: &str, to: &str) -> Result<Value, ApiError> {
    let id = ctx.args.required("InstanceId")?;
    // StartInstance and StopInstance name no RegionId: the instance carries its own.
    let instance = ctx
        .shared
        .store
        .instance(id)
        .await?
        .filter(|i| i.account_id == ctx.caller.account_id && !i.deregistered && !i.is_managed())
        .ok_or_else(|| ApiError::from(ErrorCode::InstanceIdNotFound))?;
    if !ctx
        .shared
        .store
        .transition_instance(&instance.id, from, to)
        .await?
    {
        return Err(ApiError::with(
            ErrorCode::IncorrectInstanceStatus,
            format_args!("The instance is {}.", instance.status),
        ));
    }
    ctx.audit(id).await?;
    Ok(json!({}))
}

/// `StartInstance`: Stopped → Running.
pub async fn start_instance(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    transition(ctx, "Stopped", "Running").await
}

/// `StopInstance`: Running → Stopped.
pub async fn stop_instance(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    transition(ctx, "Running", "Stopped").await
}

/// One instance as DescribeInstances shows it, but for the groups it is in, which
/// `security_groups::render_instances` fills in.
pub fn render(i: &Instance) -> Value {
    let public: Vec<&str> = Some(i.internet_ip.as_str())
        .filter(|ip| !ip.is_empty())
        .into_iter()
        .collect();
    let tags: Value = serde_json::from_str(&i.tags).unwrap_or_else(|_| json!([]));
    let locks: Vec<Value> = Some(&i.lock_reason)
        .filter(|r| !r.is_empty())
        .map(|r| json!({"LockReason": r, "LockMsg": "locked by the lab's administrator"}))
        .into_iter()
        .collect();
    json!({
        "InstanceId": i.id,
        "InstanceName": i.name,
        "HostName": i.hostname,
        "Status": i.status,
        "RegionId": i.region_id,
        "ZoneId": i.zone_id,
        "InstanceType": i.instance_type,
        "ImageId": i.image_id,
        "OSType": i.os_type.to_ascii_lowercase(),
        "OSName": i.os_name,
        // DescribeInstances shows minutes only: `2026-11-29T19:57Z`.
        "CreationTime": iso_minutes(i.created_at),
        "InstanceNetworkType": "vpc",
        "VpcAttributes": {
            "VpcId": "", "VSwitchId": "", "NatIpAddress": "",
            "PrivateIpAddress": {"IpAddress": [i.intranet_ip]},
        },
        "PublicIpAddress": {"IpAddress": public},
        "EipAddress": {"IpAddress": "", "AllocationId": "", "InternetChargeType": ""},
        "SecurityGroupIds": {"SecurityGroupId": []},
        "OperationLocks": {"LockReason": locks},
        "Tags": {"Tag": tags},
    })
}

/// `DescribeInstances`: the region's simulated and managed instances.
pub async fn describe_instances(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.region()?;
    let (offset, limit, number, size) = paging(ctx, 10, 100)?;
    let filter = InstanceFilter {
        account_id: ctx.caller.account_id.clone(),
        region_id: region.to_owned(),
        ids: ctx.args.json_list("InstanceIds")?,
        name: ctx.args.str("InstanceName").map(str::to_owned),
        status: ctx.args.str("Status").map(str::to_owned),
        offset,
        limit,
        ..Default::default()
    };
    let (rows, total) = ctx.shared.store.list_instances(&filter).await?;
    Ok(json!({
        "TotalCount": total, "PageNumber": number, "PageSize": size,
        "NextToken": next_token(offset, rows.len(), total),
        "Instances": {"Instance": security_groups::render_instances(ctx, &rows).await?},
    }))
}

/// `DescribeInstanceStatus` → `InstanceStatuses.InstanceStatus[]`.
pub async fn describe_instance_status(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.region()?;
    let page = ctx.args.page(10, 50)?;
    let ids = ctx.args.list("InstanceId");
    let filter = InstanceFilter {
        account_id: ctx.caller.account_id.clone(),
        region_id: region.to_owned(),
        ids: (!ids.is_empty()).then(|| ids.iter().map(|s| s.to_string()).collect()),
        offset: page.offset,
        limit: page.size,
        ..Default::default()
    };
    let (rows, total) = ctx.shared.store.list_instances(&filter).await?;
    let statuses: Vec<Value> = rows
        .iter()
        .map(|i| json!({"InstanceId": i.id, "Status": i.status}))
        .collect();
    Ok(json!({
        "TotalCount": total, "PageNumber": page.number, "PageSize": page.size,
        "InstanceStatuses": {"InstanceStatus": statuses},
    }))
}
