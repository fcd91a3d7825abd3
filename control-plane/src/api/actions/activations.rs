//! Managed instances: CreateActivation, DescribeActivations, DescribeManagedInstances and
//! DeregisterManagedInstance. (Registration itself happens on the agent surface, through the
//! gateway and the internal API.)

use serde_json::{json, Value};

use super::{instances::owned_instance, next_token, paging};
use crate::{
    api::{ApiError, Ctx, ErrorCode},
    ip_range::{self, IpRange},
    store::{iso, Instance, InstanceFilter, NewActivation},
};

/// `CreateActivation` → `ActivationId`, `ActivationCode` (shown this once, stored hashed).
pub async fn create_activation(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.region()?;
    let count = ctx.args.int("InstanceCount")?.unwrap_or(10);
    if !(1..=1000).contains(&count) {
        return Err(ApiError::invalid("InstanceCount", "must be 1 to 1000"));
    }
    let ttl = ctx.args.int("TimeToLiveInHours")?.unwrap_or(4);
    if !(1..=876_000).contains(&ttl) {
        return Err(ApiError::invalid(
            "TimeToLiveInHours",
            "must be 1 to 876000",
        ));
    }
    // Checked now: a range stored unparsed would refuse every registration later.
    let ip_address_range = ctx.args.str("IpAddressRange").unwrap_or(ip_range::ANYWHERE);
    if let Err(e) = ip_address_range.parse::<IpRange>() {
        return Err(ApiError::invalid("IpAddressRange", e));
    }
    let new = NewActivation {
        account_id: ctx.caller.account_id.clone(),
        region_id: region.to_owned(),
        instance_name: ctx.args.str("InstanceName").unwrap_or("").to_owned(),
        description: ctx.args.str("Description").unwrap_or("").to_owned(),
        instance_count: count,
        ttl_hours: ttl,
        ip_address_range: ip_address_range.to_owned(),
        resource_group_id: ctx.args.str("ResourceGroupId").unwrap_or("").to_owned(),
        tags: ctx.args.tags(),
    };
    let (id, code) = ctx.shared.store.create_activation(&new).await?;
    ctx.audit(&id).await?;
    Ok(json!({"ActivationId": id, "ActivationCode": code}))
}

/// `DescribeActivations` → `ActivationList[]` (a plain array, as the newer Cloud Assistant
/// operations answer).
pub async fn describe_activations(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.region()?;
    let (offset, limit, number, size) = paging(ctx, 10, 50)?;
    let (rows, total) = ctx
        .shared
        .store
        .list_activations(
            &ctx.caller.account_id,
            region,
            ctx.args.str("ActivationId"),
            ctx.args.str("InstanceName"),
            offset,
            limit,
        )
        .await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|a| {
            json!({
                "ActivationId": a.id,
                "CreationTime": iso(a.created_at),
                "DeregisteredCount": a.deregistered_count,
                "Description": a.description,
                "Disabled": a.disabled,
                "InstanceCount": a.instance_count,
                "InstanceName": a.instance_name,
                "IpAddressRange": a.ip_address_range,
                "RegisteredCount": a.registered_count,
                "ResourceGroupId": a.resource_group_id,
                "TimeToLiveInHours": a.ttl_hours,
                "Tags": serde_json::from_str::<Value>(&a.tags).unwrap_or_else(|_| json!([])),
            })
        })
        .collect();
    Ok(json!({
        "TotalCount": total, "PageNumber": number, "PageSize": size,
        "NextToken": next_token(offset, rows.len(), total),
        "ActivationList": list,
    }))
}

/// One managed instance as DescribeManagedInstances shows it.
fn render_managed(i: &Instance, window: i64) -> Value {
    json!({
        "ActivationId": i.activation_id.clone().unwrap_or_default(),
        "AgentVersion": i.agent_version,
        "Connected": i.agent_online(window),
        "Hostname": i.hostname,
        "InstanceId": i.id,
        "InstanceName": i.name,
        "InternetIp": i.internet_ip,
        "IntranetIp": i.intranet_ip,
        "InvocationCount": 0,
        "LastInvokedTime": "",
        "MachineId": i.machine_id,
        "OsType": i.os_type,
        "OsVersion": i.os_name,
        "RegistrationTime": i.registered_at.map(iso).unwrap_or_default(),
        "ResourceGroupId": "",
        "Tags": serde_json::from_str::<Value>(&i.tags).unwrap_or_else(|_| json!([])),
    })
}

/// `DescribeManagedInstances` → `Instances[]`.
pub async fn describe_managed_instances(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.region()?;
    let (offset, limit, number, size) = paging(ctx, 10, 50)?;
    let window = ctx.shared.config.heartbeat_window_secs;
    let ids = ctx.args.list("InstanceId");
    let connected = ctx.args.bool("Connected")?;
    let filter = InstanceFilter {
        account_id: ctx.caller.account_id.clone(),
        region_id: region.to_owned(),
        kind: Some("managed"),
        ids: (!ids.is_empty()).then(|| ids.iter().map(|s| s.to_string()).collect()),
        activation_id: ctx.args.str("ActivationId").map(str::to_owned),
        name: ctx.args.str("InstanceName").map(str::to_owned),
        intranet_ip: ctx.args.str("InstanceIp").map(str::to_owned),
        machine_id: ctx.args.str("MachineId").map(str::to_owned),
        os_type: ctx.args.str("OsType").map(str::to_owned),
        offset,
        limit,
        ..Default::default()
    };
    let (rows, total) = ctx.shared.store.list_instances(&filter).await?;
    // Connected is derived from the heart-beat time, so it filters after the query.
    let list: Vec<Value> = rows
        .iter()
        .filter(|i| connected.is_none_or(|c| i.agent_online(window) == c))
        .map(|i| render_managed(i, window))
        .collect();
    Ok(json!({
        "TotalCount": total, "PageNumber": number, "PageSize": size,
        "NextToken": next_token(offset, rows.len(), total),
        "Instances": list,
    }))
}

/// `DeregisterManagedInstance` → the instance as it was; its agent can no longer sign in.
pub async fn deregister_managed_instance(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.region()?;
    let instance = owned_instance(ctx, region, ctx.args.required("InstanceId")?).await?;
    if !instance.is_managed() {
        return Err(ApiError::from(ErrorCode::InstanceIdNotFound));
    }
    ctx.shared.store.deregister_instance(&instance.id).await?;
    ctx.audit(&instance.id).await?;
    Ok(json!({"Instance": render_managed(&instance, ctx.shared.config.heartbeat_window_secs)}))
}
