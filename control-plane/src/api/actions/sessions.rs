//! EndTerminalSession and DescribeTerminalSessions: the rest of a session's life as the API
//! shows it.

use axt_proto::status::ConnectionStatus;
use serde_json::{json, Value};

use crate::{
    api::{params::token_number, ApiError, Ctx, ErrorCode},
    store::{self, iso, Connection, Session, SessionFilter},
};

/// How far back DescribeTerminalSessions looks: the documented four weeks.
const HISTORY_SECS: i64 = 28 * 24 * 3600;

/// The caller's session in the region, or `InvalidSessionId.NotFound`.
pub(super) async fn owned_session(
    ctx: &Ctx<'_>,
    region: &str,
    id: &str,
) -> Result<Session, ApiError> {
    ctx.shared
        .store
        .session(id)
        .await?
        .filter(|s| s.account_id == ctx.caller.account_id && s.region_id == region)
        .ok_or_else(|| ApiError::from(ErrorCode::SessionIdNotFound))
}

/// `EndTerminalSession`: the URL stops working at once; ending twice is not an error.
pub async fn end_terminal_session(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.session_region()?;
    let session = owned_session(ctx, region, ctx.args.required("SessionId")?).await?;
    ctx.shared
        .store
        .end_session(&session.id, "EndTerminalSession")
        .await?;
    ctx.audit(&session.id).await?;
    Ok(json!({}))
}

fn render_connection(c: &Connection) -> Value {
    let mut v = json!({
        "InstanceId": c.instance_id,
        "Status": c.status,
        "StartTime": iso(c.start_time),
        "EndTime": c.end_time.map(iso).unwrap_or_default(),
        "ClosedReason": c.closed_reason,
        // axtlab extension: bytes relayed each way (SDK models ignore fields they do not know).
        "BytesIn": c.bytes_in,
        "BytesOut": c.bytes_out,
        // axtlab extension: the connection's id, which names its recording
        // (GetTerminalSessionRecording's ConnectionId).
        "ConnectionId": c.channel_id,
    });
    if c.status == ConnectionStatus::Failed {
        v["FailedDetail"] = c.failed_detail.clone().into();
    }
    v
}

fn render_session(s: &Session, connections: &[Connection]) -> Value {
    let mut v = json!({
        "SessionId": s.id,
        "CreationTime": iso(s.created_at),
        "ClientIP": s.client_ip,
        "TargetServer": s.target_server,
        "Username": s.username,
        "IdentityType": s.identity_type,
        "PrincipalId": s.principal_id,
        "Connections": {"Connection": connections.iter().map(render_connection).collect::<Vec<_>>()},
    });
    if let Some(port) = s.port_number {
        v["PortNumber"] = port.into();
    }
    v
}

/// `DescribeTerminalSessions` → `Sessions.Session[]`, newest first, paged by NextToken.
pub async fn describe_terminal_sessions(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let region = ctx.session_region()?;
    let limit = ctx.args.int("MaxResults")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("MaxResults", "must be 1 to 100"));
    }
    let before = ctx.args.str("NextToken").map(decode_token).transpose()?;
    let filter = SessionFilter {
        account_id: ctx.caller.account_id.clone(),
        region_id: region.to_owned(),
        instance_id: ctx.args.str("InstanceId").map(str::to_owned),
        session_id: ctx.args.str("SessionId").map(str::to_owned),
        before,
        since: store::now() - HISTORY_SECS,
        // One more than asked tells whether another page exists.
        limit: limit + 1,
    };
    let mut rows = ctx.shared.store.list_sessions(&filter).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = match rows.last() {
        Some(last) if more => last.seq.to_string(),
        _ => String::new(),
    };
    let mut sessions = Vec::with_capacity(rows.len());
    for s in &rows {
        let connections = ctx.shared.store.connections(&s.id).await?;
        sessions.push(render_session(s, &connections));
    }
    Ok(json!({"NextToken": next, "Sessions": {"Session": sessions}}))
}

/// A NextToken is the creation sequence number of the last session of the previous page:
/// from 1, and within the bound of every NextToken.
fn decode_token(token: &str) -> Result<i64, ApiError> {
    token_number(token, 1)
}
