//! DescribeUserBusinessBehavior and ModifyUserBusinessBehavior: the per-account Session Manager
//! switch that ali-instance-cli reads before every session.

use serde_json::{json, Value};

use crate::api::{ApiError, Ctx, ErrorCode};

/// The one switch emulated. The parameter names are lower-case on the wire (`statusKey`).
const SESSION_MANAGER: &str = "sessionManagerStatus";

fn key(ctx: &Ctx<'_>) -> Result<(), ApiError> {
    match ctx.args.required("statusKey")? {
        SESSION_MANAGER => Ok(()),
        _ => Err(ApiError::from(ErrorCode::StatusKeyNotFound)),
    }
}

/// `DescribeUserBusinessBehavior statusKey=sessionManagerStatus` → `StatusValue`.
pub async fn describe(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    key(ctx)?;
    let on = ctx
        .shared
        .store
        .session_manager_enabled(&ctx.caller.account_id)
        .await?;
    Ok(json!({"StatusValue": if on { "enabled" } else { "disabled" }}))
}

/// `ModifyUserBusinessBehavior statusKey=sessionManagerStatus statusValue=enabled|disabled`.
pub async fn modify(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    key(ctx)?;
    let on = match ctx.args.required("statusValue")? {
        "enabled" => true,
        "disabled" => false,
        _ => {
            return Err(ApiError::invalid(
                "statusValue",
                "must be enabled or disabled",
            ))
        }
    };
    ctx.shared
        .store
        .set_session_manager_enabled(&ctx.caller.account_id, on)
        .await?;
    ctx.audit(SESSION_MANAGER).await?;
    Ok(json!({}))
}
