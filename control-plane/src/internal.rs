//! The internal API that gateways call, under `/internal/v1`, authenticated by the shared
//! internal token (`Authorization: Bearer <AXT_INTERNAL_TOKEN>`, compared in constant time).
//! Bodies are JSON with camelCase names; a refusal is `{"code": …, "message": …}` with a
//! 4xx status.
//!
//! | call | what it does |
//! |---|---|
//! | `POST /sessions/verify` `{sessionId, token}` | checks a client's token and the URL's validity → `{session}` |
//! | `POST /sessions/states` `{sessionIds}` | which of these live sessions must end → `{sessions: [{sessionId, state}]}`, state `Live`, `Ended` (EndTerminalSession) or `InstanceNotRunning` |
//! | `POST /channels` `{sessionId, token, clientIp, gatewayId, instanceId?}` | the same check, then allocates a channel for one client connection (`Connecting`) under the per-instance limit → `{channelId, instanceId, spec, session}` |
//! | `POST /channels/{channelId}/resume` `{sessionId, token}` | a restarted gateway takes over a live channel of the session (a 1.02 client reconnecting) → like `POST /channels` |
//! | `GET /channels/{channelId}` | the spec an agent pulls after its kick → `{channelId, sessionId, instanceId, status, spec}` |
//! | `POST /channels/{channelId}/state` `{status?, closedReason?, failedDetail?, bytesIn?, bytesOut?}` | records a connection's progress and byte counts |
//! | `POST /agents/register` `{activationId, activationCode, publicKey, …}` | registers an agent → `{instanceId}` |
//! | `POST /agents/{instanceId}/heartbeat` `{agentVersion?}` | marks the agent online → `{instanceId}` |
//! | `GET /agents/{instanceId}` | the registered identity, for checking an agent's signed headers |
//! | `POST /agents/{instanceId}/deregister` | the agent deregisters itself: a managed instance is deregistered, a claimed ECS instance released |

use std::sync::Arc;

use axum::{
    extract::{Path, Request, State},
    http::{header, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    ids,
    store::{ConnectionUpdate, Registration, RegistrationError, Session, TokenCheck},
    Shared,
};

/// A refusal of the internal API.
#[derive(Debug)]
pub struct Refusal(StatusCode, &'static str, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"code": self.1, "message": self.2}))).into_response()
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(error: sqlx::Error) -> Self {
        tracing::error!(%error, "database error on the internal API");
        Refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "database error".into(),
        )
    }
}

type Answer = Result<Json<Value>, Refusal>;

/// The internal routes, behind the token check.
pub fn router(shared: Arc<Shared>) -> axum::Router<Arc<Shared>> {
    Router::new()
        .route("/sessions/verify", post(verify))
        .route("/sessions/states", post(session_states))
        .route("/channels", post(open_channel))
        .route("/channels/{channel_id}", get(channel))
        .route("/channels/{channel_id}/state", post(channel_state))
        .route("/channels/{channel_id}/resume", post(resume_channel))
        .route("/agents/register", post(register))
        .route("/agents/{instance_id}/heartbeat", post(heartbeat))
        .route("/agents/{instance_id}", get(agent))
        .route("/agents/{instance_id}/deregister", post(deregister))
        .layer(middleware::from_fn_with_state(shared, require_token))
}

async fn require_token(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !ids::secrets_equal(presented, &shared.internal_token) {
        return Refusal(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "bad internal token".into(),
        )
        .into_response();
    }
    next.run(request).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenRequest {
    session_id: String,
    token: String,
    #[serde(default)]
    client_ip: String,
    #[serde(default)]
    gateway_id: String,
    #[serde(default)]
    instance_id: Option<String>,
}

fn session_view(shared: &Shared, s: &Session) -> Value {
    json!({
        "sessionId": s.id,
        "regionId": s.region_id,
        "instanceId": s.instance_id,
        "instanceIds": serde_json::from_str::<Value>(&s.instance_ids).unwrap_or_default(),
        "state": s.state,
        "urlExpiresAt": s.url_expires_at,
        "portNumber": s.port_number,
        "targetServer": s.target_server,
        "commandLine": s.command_line,
        "username": s.username,
        "encryption": s.encryption.as_deref().and_then(|e| serde_json::from_str::<Value>(e).ok()),
        "rateLimit": shared.config.session_rate_limit,
    })
}

/// The spec an agent runs for `channel_id` of session `s`.
fn spec(shared: &Shared, s: &Session, channel_id: &str) -> axt_proto::spec::SessionSpec {
    axt_proto::spec::SessionSpec {
        channel_id: channel_id.to_owned(),
        cmd_content: s.command_line.clone(),
        username: s.username.clone(),
        windows_password_name: s.password_name.clone(),
        target_host: s.target_server.clone(),
        port_number: s.port_number.map(|p| p.to_string()).unwrap_or_default(),
        flow_limit: axt_proto::spec::flow_limit_bits(shared.config.session_rate_limit),
        ..Default::default()
    }
}

async fn check(shared: &Shared, r: &TokenRequest) -> Result<Session, Refusal> {
    match shared
        .store
        .check_session_token(&r.session_id, &r.token)
        .await?
    {
        TokenCheck::Valid(s) => Ok(*s),
        TokenCheck::Unknown => Err(Refusal(
            StatusCode::FORBIDDEN,
            "InvalidToken",
            "unknown session or token".into(),
        )),
        TokenCheck::Expired => Err(Refusal(
            StatusCode::GONE,
            "UrlExpired",
            "the WebSocketUrl has expired".into(),
        )),
        TokenCheck::Ended => Err(Refusal(
            StatusCode::GONE,
            "SessionEnded",
            "the session was ended".into(),
        )),
    }
}

async fn verify(State(shared): State<Arc<Shared>>, Json(r): Json<TokenRequest>) -> Answer {
    let session = check(&shared, &r).await?;
    Ok(Json(json!({"session": session_view(&shared, &session)})))
}

async fn open_channel(State(shared): State<Arc<Shared>>, Json(r): Json<TokenRequest>) -> Answer {
    let mut session = check(&shared, &r).await?;
    if let Some(id) = r.instance_id.filter(|id| !id.is_empty()) {
        let named: Vec<String> = serde_json::from_str(&session.instance_ids).unwrap_or_default();
        if !named.contains(&id) {
            return Err(Refusal(
                StatusCode::BAD_REQUEST,
                "InvalidInstance",
                format!("{id} is not part of the session"),
            ));
        }
        session.instance_id = id;
    }
    // The count and the insert must not interleave with another allocation.
    let _gate = shared.channel_gate.lock().await;
    let max = shared.config.max_connections_per_instance;
    let Some(connection) = shared
        .store
        .open_connection(&session, &r.gateway_id, &r.client_ip, max)
        .await?
    else {
        return Err(Refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "SessionCount.ExceedLimit",
            format!(
                "instance {} already has {max} connected sessions",
                session.instance_id
            ),
        ));
    };
    Ok(Json(json!({
        "channelId": connection.channel_id,
        "instanceId": connection.instance_id,
        "spec": spec(&shared, &session, &connection.channel_id),
        "session": session_view(&shared, &session),
    })))
}

async fn channel(State(shared): State<Arc<Shared>>, Path(channel_id): Path<String>) -> Answer {
    let not_found = || {
        Refusal(
            StatusCode::NOT_FOUND,
            "ChannelNotFound",
            "no such channel".into(),
        )
    };
    let connection = shared
        .store
        .connection(&channel_id)
        .await?
        .ok_or_else(not_found)?;
    let session = shared
        .store
        .session(&connection.session_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(json!({
        "channelId": connection.channel_id,
        "sessionId": connection.session_id,
        "instanceId": connection.instance_id,
        "status": connection.status,
        "spec": spec(&shared, &session, &connection.channel_id),
    })))
}

async fn channel_state(
    State(shared): State<Arc<Shared>>,
    Path(channel_id): Path<String>,
    Json(update): Json<ConnectionUpdate>,
) -> Answer {
    const STATES: &[&str] = &["Connecting", "Connected", "Terminated", "Failed"];
    if update
        .status
        .as_deref()
        .is_some_and(|s| !STATES.contains(&s))
    {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            "InvalidStatus",
            format!("status must be one of {STATES:?}"),
        ));
    }
    if !shared.store.update_connection(&channel_id, &update).await? {
        return Err(Refusal(
            StatusCode::NOT_FOUND,
            "ChannelNotFound",
            "no such channel".into(),
        ));
    }
    Ok(Json(json!({})))
}

async fn register(State(shared): State<Arc<Shared>>, Json(r): Json<Registration>) -> Answer {
    match shared.store.register_agent(&r).await {
        Ok(instance_id) => {
            tracing::info!(%instance_id, activation_id = %r.activation_id, hostname = %r.hostname, "agent registered");
            Ok(Json(json!({"instanceId": instance_id})))
        }
        Err(RegistrationError::Database(e)) => Err(e.into()),
        Err(e) => Err(Refusal(
            StatusCode::BAD_REQUEST,
            "RegistrationRefused",
            e.to_string(),
        )),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Heartbeat {
    agent_version: Option<String>,
}

async fn heartbeat(
    State(shared): State<Arc<Shared>>,
    Path(instance_id): Path<String>,
    Json(beat): Json<Heartbeat>,
) -> Answer {
    if !shared
        .store
        .heartbeat(&instance_id, beat.agent_version.as_deref())
        .await?
    {
        return Err(Refusal(
            StatusCode::NOT_FOUND,
            "InstanceNotRegistered",
            "no registered agent for this instance".into(),
        ));
    }
    Ok(Json(json!({"instanceId": instance_id})))
}

async fn agent(State(shared): State<Arc<Shared>>, Path(instance_id): Path<String>) -> Answer {
    let instance = shared
        .store
        .instance(&instance_id)
        .await?
        .filter(|i| !i.deregistered && i.agent_public_key.is_some())
        .ok_or_else(|| {
            Refusal(
                StatusCode::NOT_FOUND,
                "InstanceNotRegistered",
                "no registered agent for this instance".into(),
            )
        })?;
    Ok(Json(json!({
        "instanceId": instance.id,
        "kind": instance.kind,
        "regionId": instance.region_id,
        "status": instance.status,
        "machineId": instance.machine_id,
        "publicKey": instance.agent_public_key,
        "agentVersion": instance.agent_version,
    })))
}

async fn deregister(State(shared): State<Arc<Shared>>, Path(instance_id): Path<String>) -> Answer {
    if !shared.store.release_agent(&instance_id).await? {
        return Err(Refusal(
            StatusCode::NOT_FOUND,
            "InstanceNotRegistered",
            "no registered agent for this instance".into(),
        ));
    }
    tracing::info!(%instance_id, "agent deregistered itself");
    Ok(Json(json!({"instanceId": instance_id})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatesRequest {
    session_ids: Vec<String>,
}

/// Gateways ask this four times a second for the sessions they relay, so that EndTerminalSession
/// and StopInstance reach live connections within a second.
async fn session_states(State(shared): State<Arc<Shared>>, Json(r): Json<StatesRequest>) -> Answer {
    let states = shared.store.session_states(&r.session_ids).await?;
    let sessions: Vec<Value> = states
        .into_iter()
        .map(|(id, state)| json!({"sessionId": id, "state": state}))
        .collect();
    Ok(Json(json!({"sessions": sessions})))
}

async fn resume_channel(
    State(shared): State<Arc<Shared>>,
    Path(channel_id): Path<String>,
    Json(r): Json<TokenRequest>,
) -> Answer {
    let session = check(&shared, &r).await?;
    let connection = shared
        .store
        .connection(&channel_id)
        .await?
        .filter(|c| {
            c.session_id == session.id && matches!(c.status.as_str(), "Connecting" | "Connected")
        })
        .ok_or_else(|| {
            Refusal(
                StatusCode::NOT_FOUND,
                "ChannelNotFound",
                "no live channel of this session".into(),
            )
        })?;
    Ok(Json(json!({
        "channelId": connection.channel_id,
        "instanceId": connection.instance_id,
        "spec": spec(&shared, &session, &connection.channel_id),
        "session": session_view(&shared, &session),
    })))
}
