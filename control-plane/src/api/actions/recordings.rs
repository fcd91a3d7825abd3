//! `ListTerminalSessionRecordings` and `GetTerminalSessionRecording`: axtlab's own actions on
//! the ECS product, not Alibaba Cloud's (no SDK has them; call them signed like any other, e.g.
//! `axt api GetTerminalSessionRecording`). They serve the asciicast v2 recordings the gateways
//! make of shell connections ([`crate::recordings`]).
//!
//! Authorized per instance, as StartTerminalSession is: RAM actions
//! `ecs:ListTerminalSessionRecordings` and `ecs:GetTerminalSessionRecording` on the ARN of the
//! recorded connection's instance ([`resources`]). A recording holds whatever the shell
//! echoed, secrets typed at a prompt that echoes included, so reading one is deliberately not a
//! `Describe*`/`List*` action: AliyunECSReadOnlyAccess (`ecs:Describe*`, `ecs:List*`) may list
//! recordings — who, when, how long, as DescribeTerminalSessions shows — but not read them;
//! AliyunECSFullAccess (`ecs:*`) may do both, and a custom policy may grant either.

use axt_iam::arn;
use serde_json::{json, Value};

use super::sessions::owned_session;
use crate::{
    api::{params::token_number, ApiError, Ctx, ErrorCode},
    store::{iso, Recording, RecordingFilter},
};

/// The instance ARNs a recording action acts on: the `InstanceId` given, else the instances
/// of the caller's session or connection named, else all of them (`instance/*`) — also for
/// ids that name nothing of the caller's, which the action then answers NotFound when allowed.
pub async fn resources(ctx: &Ctx<'_>) -> Result<Vec<String>, ApiError> {
    let account = ctx.caller.account_id.as_str();
    let region = ctx.args.str("RegionId").unwrap_or("*");
    let instance = |id: &str| arn::instance(region, account, id);
    let store = &ctx.shared.store;
    let mut instances = Vec::new();
    if ctx.action == "GetTerminalSessionRecording" {
        if let Some(id) = ctx.args.str("ConnectionId") {
            if let Some(c) = store.connection(id).await? {
                let session = store.session(&c.session_id).await?;
                if session.is_some_and(|s| s.account_id == account) {
                    instances.push(c.instance_id);
                }
            }
        }
    } else if let Some(id) = ctx.args.str("InstanceId") {
        instances.push(id.to_owned());
    } else if let Some(id) = ctx.args.str("SessionId") {
        if let Some(s) = store.session(id).await?.filter(|s| s.account_id == account) {
            instances = s.instance_id_list();
        }
    }
    if instances.is_empty() {
        instances.push("*".to_owned());
    }
    Ok(instances.iter().map(|id| instance(id)).collect())
}

fn render(r: &Recording) -> Value {
    json!({
        "SessionId": r.session_id,
        "ConnectionId": r.channel_id,
        "InstanceId": r.instance_id,
        "Size": r.size,
        "CreationTime": iso(r.created_at),
        "UpdateTime": iso(r.updated_at),
        "Truncated": r.truncated,
        "Complete": r.complete,
    })
}

/// `ListTerminalSessionRecordings` → `Recordings.Recording[]`, newest first, paged by
/// `MaxResults` (1 to 100, default 10) and `NextToken` (present while more follow).
pub async fn list(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.session_region()?;
    let limit = ctx.args.int("MaxResults")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("MaxResults", "must be 1 to 100"));
    }
    // A NextToken is the creation sequence number of the last recording of the previous page.
    let before = ctx
        .args
        .str("NextToken")
        .map(|t| token_number(t, 1))
        .transpose()?;
    let filter = RecordingFilter {
        account_id: ctx.caller.account_id.clone(),
        region_id: region.to_owned(),
        session_id: ctx.args.str("SessionId").map(str::to_owned),
        instance_id: ctx.args.str("InstanceId").map(str::to_owned),
        before,
        // One more than asked tells whether another page exists.
        limit: limit + 1,
    };
    let mut rows = ctx.shared.store.list_recordings(&filter).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let mut answer = json!({
        "Recordings": {"Recording": rows.iter().map(render).collect::<Vec<_>>()},
    });
    if let Some(last) = rows.last().filter(|_| more) {
        answer["NextToken"] = last.seq.to_string().into();
    }
    Ok(answer)
}

/// `GetTerminalSessionRecording`: the asciicast text of one connection, as far as it was
/// recorded (it grows while the connection lives).
pub async fn get(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.session_region()?;
    let session_id = ctx.args.required("SessionId")?;
    let connection_id = ctx.args.required("ConnectionId")?;
    let session = owned_session(ctx, region, session_id).await?;
    let store = &ctx.shared.store;
    store
        .connection(connection_id)
        .await?
        .filter(|c| c.session_id == session.id)
        .ok_or_else(|| ApiError::from(ErrorCode::ConnectionIdNotFound))?;
    let recording = store
        .recording(connection_id)
        .await?
        .ok_or_else(|| ApiError::from(ErrorCode::RecordingNotFound))?;
    let content = ctx
        .shared
        .recordings
        .read(&recording)
        .await
        .map_err(|e| ApiError::internal(&ctx.request_id, format!("{e:#}")))?;
    // Who read which recording: it may hold secrets.
    ctx.audit(&format!("{}/{}", session.id, recording.channel_id))
        .await?;
    Ok(json!({
        "SessionId": session.id,
        "ConnectionId": recording.channel_id,
        "Content": String::from_utf8_lossy(&content),
    }))
}
