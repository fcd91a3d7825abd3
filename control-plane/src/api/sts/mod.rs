//! The STS OpenAPI (version 2015-04-01): AssumeRole and GetCallerIdentity.
//!
//! SKELETON: the actions are being written.

use serde_json::Value;

use super::{ApiError, Ctx, ErrorCode};

/// Runs the call's STS Action; an unknown one is `InvalidAction.NotFound`.
pub async fn dispatch(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    match ctx.action.as_str() {
        _ => Err(ApiError::from(ErrorCode::ActionNotFound)),
    }
}
