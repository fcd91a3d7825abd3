//! The OpenAPI calls the browser asks for, each signed as the signed-in principal, answered
//! with the control plane's status and body unchanged: so the console can do exactly what the
//! principal may, and a denial arrives with its `AccessDeniedDetail` for the page to explain.
//! StartTerminalSession is the one call whose answer is kept back: its WebSocketUrl holds the
//! session's token, which stays here for the relays.

use std::{collections::HashMap, sync::Arc};

use axt_proto::openapi::Params;
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse as _, Response},
    Json,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{
    guard, parse_body,
    reply::Failure,
    store::{SignedIn, Started},
    Console,
};
use crate::api::Product;

/// `POST /api/call`'s body.
#[derive(Deserialize)]
struct CallBody {
    product: String,
    action: String,
    #[serde(default)]
    params: Map<String, Value>,
}

/// `POST /api/call`: any action of ECS, RAM, STS or KMS, passed through.
pub async fn call(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    let session = guard::writer(&console, &headers)?;
    let body: CallBody = parse_body(&body)?;
    let product = match body.product.to_ascii_lowercase().as_str() {
        "ecs" => Product::Ecs,
        "ram" => Product::Ram,
        "sts" => Product::Sts,
        "kms" => Product::Kms,
        other => {
            let message = format!("product {other:?} is not one of ecs, ram, sts, kms");
            return Err(Failure::invalid(message));
        }
    };
    if body.action.is_empty() || !body.action.bytes().all(|b| b.is_ascii_alphanumeric()) {
        let message = format!("{:?} is not an action name", body.action);
        return Err(Failure::invalid(message));
    }
    let mut params = Params::new();
    for (name, value) in body.params {
        let value = match value {
            Value::String(text) => text,
            Value::Number(number) => number.to_string(),
            Value::Bool(flag) => flag.to_string(),
            _ => {
                let message = format!("parameter {name} is not a string, number or bool");
                return Err(Failure::invalid(message));
            }
        };
        params.insert(name, value);
    }
    pass(&session, product, &body.action, params).await
}

/// `POST /api/sessions`'s body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionBody {
    instance_id: String,
    #[serde(default)]
    command_line: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

/// `POST /api/sessions`: StartTerminalSession; 200 `{sessionId, instanceId, requestId}`, the
/// WebSocketUrl kept for `/ws/session/<id>` and `/ws/events/<id>`.
pub async fn start_session(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    let session = guard::writer(&console, &headers)?;
    let body: SessionBody = parse_body(&body)?;
    let mut params = Params::new();
    params.insert("InstanceId.1".into(), body.instance_id.clone());
    let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    if let Some(command_line) = given(body.command_line) {
        params.insert("CommandLine".into(), command_line);
    }
    if let Some(username) = given(body.username) {
        params.insert("Username".into(), username);
    }
    let answer = signed(&session, Product::Ecs, "StartTerminalSession", params).await?;
    let field = |name: &str| answer[name].as_str().filter(|v| !v.is_empty());
    let (Some(id), Some(url)) = (field("SessionId"), field("WebSocketUrl")) else {
        return Err(Failure::new(
            StatusCode::BAD_GATEWAY,
            "Console.BadAnswer",
            "StartTerminalSession answered without a SessionId and WebSocketUrl",
        ));
    };
    let started = Started {
        url: SecretString::from(url.to_owned()),
        instance_id: body.instance_id.clone(),
    };
    session.remember(id.to_owned(), started);
    tracing::info!(session = id, instance = %body.instance_id, "session started");
    let answer = json!({
        "sessionId": id,
        "instanceId": body.instance_id,
        "requestId": answer["RequestId"],
    });
    Ok(Json(answer).into_response())
}

/// `GET /api/recordings?instanceId=&sessionId=&maxResults=&nextToken=`:
/// ListTerminalSessionRecordings, passed through.
pub async fn list_recordings(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let session = guard::reader(&console, &headers)?;
    let mut params = Params::new();
    for (from, to) in [
        ("instanceId", "InstanceId"),
        ("sessionId", "SessionId"),
        ("maxResults", "MaxResults"),
        ("nextToken", "NextToken"),
    ] {
        if let Some(value) = query.get(from).filter(|v| !v.is_empty()) {
            params.insert(to.into(), value.clone());
        }
    }
    pass(
        &session,
        Product::Ecs,
        "ListTerminalSessionRecordings",
        params,
    )
    .await
}

/// `GET /api/recordings/<sessionId>/<connectionId>.cast`: GetTerminalSessionRecording, its
/// `Content` as the body (asciicast v2); an error passed through as JSON.
pub async fn get_recording(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Path((session_id, file)): Path<(String, String)>,
) -> Result<Response, Failure> {
    let session = guard::reader(&console, &headers)?;
    let Some(connection_id) = file.strip_suffix(".cast").filter(|c| !c.is_empty()) else {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "Console.NotFound",
            "a recording is /api/recordings/<sessionId>/<connectionId>.cast",
        ));
    };
    let mut params = Params::new();
    params.insert("SessionId".into(), session_id);
    params.insert("ConnectionId".into(), connection_id.to_owned());
    let action = "GetTerminalSessionRecording";
    let answer = signed(&session, Product::Ecs, action, params).await?;
    let content = answer["Content"].as_str().unwrap_or_default().to_owned();
    Ok(([(header::CONTENT_TYPE, "application/x-asciicast")], content).into_response())
}

/// Calls `action` as `session`'s principal and answers what the control plane answered.
async fn pass(
    session: &SignedIn,
    product: Product,
    action: &str,
    params: Params,
) -> Result<Response, Failure> {
    let answer = signed(session, product, action, params).await?;
    Ok(Json(answer).into_response())
}

/// Calls `action` as `session`'s principal (with its STS token, for a temporary key).
async fn signed(
    session: &SignedIn,
    product: Product,
    action: &str,
    mut params: Params,
) -> Result<Value, Failure> {
    if let Some(token) = &session.security_token {
        params.insert("SecurityToken".into(), token.expose_secret().to_owned());
    }
    session
        .client
        .call_to(product, action, params)
        .await
        .map_err(Failure::from)
}
