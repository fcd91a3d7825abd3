//! DescribeRegions: the regions this control plane serves.

use serde_json::{json, Value};

use crate::api::{ApiError, Ctx};

/// Local names of the regions a lab is likely to use; others show their id.
const LOCAL_NAMES: &[(&str, &str)] = &[
    ("cn-hangzhou", "华东1（杭州）"),
    ("cn-shanghai", "华东2（上海）"),
    ("cn-beijing", "华北2（北京）"),
    ("cn-shenzhen", "华南1（深圳）"),
    ("cn-hongkong", "中国香港"),
    ("ap-southeast-1", "新加坡"),
    ("us-west-1", "美国（硅谷）"),
    ("eu-central-1", "德国（法兰克福）"),
];

/// `DescribeRegions` → `Regions.Region[]`. Each region's `RegionEndpoint` is its real ECS
/// name, `ecs.<region>.aliyuncs.com`, as the real service answers: what an SDK calls next for
/// that region — served by this control plane over HTTPS (`--https-listen`) once the name
/// resolves to it. (A `RegionId` the lab does not serve was refused by the dispatcher.)
pub async fn describe_regions(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let regions: Vec<Value> = ctx
        .shared
        .config
        .regions
        .iter()
        .map(|id| {
            let local = LOCAL_NAMES.iter().find(|(r, _)| r == id).map_or(id.as_str(), |(_, n)| n);
            json!({"RegionId": id, "LocalName": local, "RegionEndpoint": endpoint(id), "Status": "available"})
        })
        .collect();
    Ok(json!({"Regions": {"Region": regions}}))
}

/// The real ECS endpoint name of `region`.
fn endpoint(region: &str) -> String {
    format!("ecs.{region}.{}", axt_proto::openapi::endpoints::SUFFIX)
}
