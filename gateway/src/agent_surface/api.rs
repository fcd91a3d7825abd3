//! The HTTP calls of the agent surface, each answered the way the stock agent needs: values it
//! mishandles (a numeric portNumber, a need_update it would act on, a state configuration
//! without `changed`) are never sent.

use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use axt_proto::{
    internal::{
        AgentHeartbeat, ChannelSpecRequest, DecryptDataKey, DeregisterAgent, RegisterAgent,
    },
    luban::{
        unwrap_public_key, HeartbeatResponse, RegisterRequest, RegisterResponse, TaskListResponse,
    },
    status::AgentResult,
};
use axum::{
    body::Bytes,
    extract::{ConnectInfo, Query, State},
    http::{header, HeaderMap},
    Json,
};
use serde_json::{json, Value};

use super::identity::Verified;
use crate::{control_plane::CpError, Shared};

/// The interval the gateway asks for between heart-beats: inside the 55–65 s the stock agent
/// obeys.
const HEARTBEAT_INTERVAL_MS: u64 = 60_000;

pub async fn connection_detect() -> &'static str {
    "ok"
}

/// `POST /luban/api/instance/register`: the only call without identity headers. The peer's
/// address goes along, for the activation's `IpAddressRange`.
pub async fn register(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Json<RegisterResponse> {
    let throttle = shared.identities.throttle();
    let refuse = |why: String| {
        // A refused registration is a failed identity: guessing activation codes is bounded
        // by the same per-address budget.
        throttle.failed(peer.ip());
        Json(RegisterResponse {
            code: 400,
            err_msg: why,
            ..Default::default()
        })
    };
    if throttle.exhausted(peer.ip()) {
        return Json(RegisterResponse {
            code: 429,
            err_msg: "too many failed registrations from this address; try again in a minute"
                .into(),
            ..Default::default()
        });
    }
    let Ok(r) = serde_json::from_slice::<RegisterRequest>(&body) else {
        return refuse("the registration body is not valid JSON".into());
    };
    let Some(public_key) = unwrap_public_key(&r.public_key) else {
        return refuse("publicKey must be base64 of a PEM public key".into());
    };
    let registration = RegisterAgent {
        activation_id: r.activation_id,
        activation_code: r.activation_code,
        public_key,
        machine_id: r.machine_id,
        region_id: r.region_id,
        instance_name: r.instance_name,
        hostname: r.hostname,
        intranet_ip: r.intranet_ip,
        os_type: r.os_type,
        os_version: r.os_version,
        agent_version: r.agent_version,
        claim_instance_id: r.instance_id,
        source_ip: peer.ip().to_string(),
    };
    match shared.cp.call(&registration).await {
        Ok(registered) => {
            let instance_id = registered.instance_id;
            shared.identities.forget(&instance_id);
            Json(RegisterResponse {
                code: 200,
                instance_id,
                ..Default::default()
            })
        }
        Err(e) => refuse(e.to_string()),
    }
}

pub async fn deregister(State(shared): State<Arc<Shared>>, agent: Verified) -> Json<Value> {
    let request = DeregisterAgent {
        instance_id: agent.instance_id.clone(),
    };
    match shared.cp.call(&request).await {
        Ok(_) => {
            shared.identities.forget(&agent.instance_id);
            Json(json!({"code": 200}))
        }
        Err(e) => Json(json!({"code": 500, "errMsg": e.to_string()})),
    }
}

/// The agent version from `User-Agent: linux_amd64/2.2.3.578`.
fn agent_version(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.rsplit_once('/'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

pub async fn heartbeat(
    State(shared): State<Arc<Shared>>,
    agent: Verified,
    headers: HeaderMap,
) -> Json<Value> {
    let beat = AgentHeartbeat {
        agent_version: agent_version(&headers),
        gateway_id: shared.config.gateway_id.clone(),
        gateway_boot: shared.boot.clone(),
        kick_link: shared.kicks.link(&agent.instance_id),
        instance_id: agent.instance_id.clone(),
    };
    if let Err(error) = shared.cp.call(&beat).await {
        tracing::warn!(instance_id = %agent.instance_id, %error, "recording a heart-beat");
    }
    let answer = HeartbeatResponse {
        next_interval: HEARTBEAT_INTERVAL_MS,
        new_tasks: false,
    };
    Json(serde_json::to_value(answer).unwrap_or_default())
}

/// Kick channels go over the WebSocket; gshell (a virtio port) is never offered.
pub async fn gshell(agent: Verified) -> Json<Value> {
    Json(
        json!({"code": 200, "gshellSupport": "false", "instanceId": agent.instance_id,
                "requestId": uuid::Uuid::new_v4().to_string(), "retry": 0}),
    )
}

/// `POST /luban/api/v1/session/list?channelId=`: the spec of the channel the agent was kicked
/// for, if that channel belongs to this agent's instance.
pub async fn session_list(
    State(shared): State<Arc<Shared>>,
    agent: Verified,
    Query(query): Query<HashMap<String, String>>,
) -> Json<TaskListResponse> {
    let mut answer = TaskListResponse {
        code: 200,
        instance_id: agent.instance_id.clone(),
        ..Default::default()
    };
    let channel_id = query.get("channelId").map(String::as_str).unwrap_or("");
    let request = ChannelSpecRequest {
        channel_id: channel_id.to_owned(),
    };
    match shared.cp.call(&request).await {
        Ok(channel) if channel.instance_id == agent.instance_id => {
            shared
                .observe
                .spec_pulled(&channel.session_id, &channel.channel_id);
            answer.session.push(channel.spec)
        }
        Ok(_) => {
            tracing::warn!(instance_id = %agent.instance_id, channel_id, "agent asked for another instance's channel")
        }
        Err(CpError::Unavailable(why)) => {
            // 408 makes the stock agent ask again 2 s later.
            tracing::warn!(%why, "control plane unavailable for a session pull");
            answer.code = 408;
        }
        Err(e) => tracing::warn!(channel_id, error = %e, "session pull for an unknown channel"),
    }
    Json(answer)
}

/// `POST /luban/api/v1/session/status?channelId=&status=&errorcode=`: a session's result.
pub async fn session_status(
    State(shared): State<Arc<Shared>>,
    agent: Verified,
    Query(query): Query<HashMap<String, String>>,
) -> Json<Value> {
    let channel_id = query.get("channelId").cloned().unwrap_or_default();
    let result = AgentResult::parse(
        query
            .get("errorcode")
            .map(String::as_str)
            .unwrap_or("Unknown_error"),
    );
    tracing::info!(instance_id = %agent.instance_id, %channel_id, result = result.as_str(), "agent reported a session result");
    shared
        .channels
        .report(&shared, &agent.instance_id, &channel_id, result)
        .await;
    Json(json!({"code": 200}))
}

/// The body of `POST /luban/api/v1/kms/decrypt`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DecryptRequest {
    ciphertext_blob: String,
}

/// `POST /luban/api/v1/kms/decrypt?channelId=` with `{"ciphertextBlob": …}`: the data key of the
/// agent's Mode Kms session (docs/encryption.md §2), which the agent cannot ask KMS for itself.
/// The gateway vouches for the instance (its identity headers); the control plane decides.
/// Answered `{"code": 200, "plaintext": base64}` or `{"code": 4xx|5xx, "errMsg": …}`.
pub async fn kms_decrypt(
    State(shared): State<Arc<Shared>>,
    agent: Verified,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Json<Value> {
    let refuse = |code: u16, why: String| Json(json!({"code": code, "errMsg": why}));
    let Ok(DecryptRequest { ciphertext_blob }) = serde_json::from_slice(&body) else {
        return refuse(400, "the body must be {\"ciphertextBlob\": …}".into());
    };
    let request = DecryptDataKey {
        channel_id: query.get("channelId").cloned().unwrap_or_default(),
        instance_id: agent.instance_id.clone(),
        ciphertext_blob,
    };
    match shared.cp.call(&request).await {
        Ok(key) => Json(json!({"code": 200, "plaintext": key.plaintext_base64})),
        Err(CpError::Refused(refusal)) => {
            tracing::warn!(instance_id = %agent.instance_id, channel_id = %request.channel_id, %refusal, "data key refused");
            refuse(refusal.code.status(), refusal.message)
        }
        Err(CpError::Unavailable(why)) => refuse(503, why),
    }
}

pub async fn task_list(agent: Verified) -> Json<TaskListResponse> {
    Json(TaskListResponse {
        code: 200,
        instance_id: agent.instance_id,
        ..Default::default()
    })
}

/// No update is ever offered: a non-zero `need_update` makes the stock agent download one.
pub async fn update_check(_agent: Verified) -> Json<Value> {
    Json(json!({"code": 200, "need_update": 0}))
}

pub async fn acknowledge(_agent: Verified) -> Json<Value> {
    Json(json!({"code": 200}))
}

/// The stock agent backs off for a day on `ServiceNotSupported`; a result without
/// `changed: true` would make it panic.
pub async fn state_configurations(_agent: Verified) -> Json<Value> {
    Json(
        json!({"errCode": "ServiceNotSupported", "errMsg": "state configurations are not emulated by axtlab"}),
    )
}
