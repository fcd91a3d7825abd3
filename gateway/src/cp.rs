//! The control plane's internal API as the gateway calls it: token checks and channel
//! allocation for clients, specs and registration for agents, state changes for the record.

use std::time::Duration;

use axt_proto::spec::SessionSpec;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{json, Value};

/// A call the control plane refused, or could not answer.
#[derive(Debug, thiserror::Error)]
pub enum CpError {
    /// A refusal with the control plane's HTTP status, code and message.
    #[error("{code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// The control plane is unreachable or answered garbage.
    #[error("control plane unavailable: {0}")]
    Unavailable(String),
}

/// A channel allocated for one client connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Opened {
    pub channel_id: String,
    pub instance_id: String,
    pub spec: SessionSpec,
    pub session: SessionView,
}

/// What the gateway needs of a session.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub session_id: String,
    #[serde(default)]
    pub port_number: Option<u16>,
    /// Bytes per second; 0 = unlimited.
    #[serde(default)]
    pub rate_limit: u64,
    /// Unix seconds when the WebSocketUrl stops being valid.
    #[serde(default)]
    pub url_expires_at: i64,
}

/// A channel as an agent pulls it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    pub channel_id: String,
    pub session_id: String,
    pub instance_id: String,
    pub status: String,
    pub spec: SessionSpec,
}

/// A registered agent's identity.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub instance_id: String,
    pub public_key: String,
    pub machine_id: String,
}

/// A connection's progress, as the control plane records it.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_detail: Option<String>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Client of the internal API.
#[derive(Clone)]
pub struct ControlPlane {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl ControlPlane {
    /// A client for the internal API under `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str, token: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            http,
            base: format!("{}/internal/v1", base.trim_end_matches('/')),
            token,
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, CpError> {
        // Ids in the path come from agents and clients: anything but a plain id (a `..`, a
        // `#`, a `%`) could steer this authenticated call to another endpoint.
        let plain = |segment: &str| {
            segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !path.split('/').all(plain) {
            return Err(CpError::Refused {
                status: 400,
                code: "InvalidId".into(),
                message: "ids may hold letters, digits, '-' and '_' only".into(),
            });
        }
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| CpError::Unavailable(e.to_string()))?;
        let status = resp.status().as_u16();
        let value: Value = resp
            .json()
            .await
            .map_err(|e| CpError::Unavailable(e.to_string()))?;
        if status >= 400 {
            return Err(CpError::Refused {
                status,
                code: value["code"].as_str().unwrap_or("Refused").to_owned(),
                message: value["message"].as_str().unwrap_or("").to_owned(),
            });
        }
        serde_json::from_value(value)
            .map_err(|e| CpError::Unavailable(format!("unexpected answer: {e}")))
    }

    /// Checks a client's token and allocates a channel for its connection.
    pub async fn open_channel(
        &self,
        session_id: &str,
        token: &str,
        client_ip: &str,
        gateway_id: &str,
    ) -> Result<Opened, CpError> {
        let body = json!({"sessionId": session_id, "token": token, "clientIp": client_ip, "gatewayId": gateway_id});
        self.call(reqwest::Method::POST, "/channels", Some(body))
            .await
    }

    /// Checks a client's token without allocating anything (a reconnect to a live channel).
    pub async fn verify(&self, session_id: &str, token: &str) -> Result<(), CpError> {
        let body = json!({"sessionId": session_id, "token": token});
        self.call::<Value>(reqwest::Method::POST, "/sessions/verify", Some(body))
            .await
            .map(drop)
    }

    /// Takes over a live channel of the session after this gateway restarted.
    pub async fn resume_channel(
        &self,
        channel_id: &str,
        session_id: &str,
        token: &str,
    ) -> Result<Opened, CpError> {
        let body = json!({"sessionId": session_id, "token": token});
        self.call(
            reqwest::Method::POST,
            &format!("/channels/{channel_id}/resume"),
            Some(body),
        )
        .await
    }

    /// The channel an agent was kicked for.
    pub async fn channel(&self, channel_id: &str) -> Result<Channel, CpError> {
        self.call(
            reqwest::Method::GET,
            &format!("/channels/{channel_id}"),
            None,
        )
        .await
    }

    /// Records a connection's progress.
    pub async fn update(&self, channel_id: &str, update: &StateUpdate) -> Result<(), CpError> {
        let body = serde_json::to_value(update).map_err(|e| CpError::Unavailable(e.to_string()))?;
        self.call::<Value>(
            reqwest::Method::POST,
            &format!("/channels/{channel_id}/state"),
            Some(body),
        )
        .await
        .map(drop)
    }

    /// Registers an agent; the body is the control plane's registration.
    pub async fn register(&self, registration: Value) -> Result<String, CpError> {
        let answer: Value = self
            .call(
                reqwest::Method::POST,
                "/agents/register",
                Some(registration),
            )
            .await?;
        Ok(answer["instanceId"].as_str().unwrap_or_default().to_owned())
    }

    /// Records a heart-beat.
    pub async fn heartbeat(&self, instance_id: &str, agent_version: &str) -> Result<(), CpError> {
        let body = json!({"agentVersion": agent_version});
        self.call::<Value>(
            reqwest::Method::POST,
            &format!("/agents/{instance_id}/heartbeat"),
            Some(body),
        )
        .await
        .map(drop)
    }

    /// A registered agent's identity.
    pub async fn agent(&self, instance_id: &str) -> Result<Agent, CpError> {
        self.call(
            reqwest::Method::GET,
            &format!("/agents/{instance_id}"),
            None,
        )
        .await
    }

    /// Deregisters an agent at its own request.
    pub async fn deregister(&self, instance_id: &str) -> Result<(), CpError> {
        self.call::<Value>(
            reqwest::Method::POST,
            &format!("/agents/{instance_id}/deregister"),
            Some(json!({})),
        )
        .await
        .map(drop)
    }

    /// `(session id, state)` for each of `ids` the control plane knows: `Live`, `Ended` or
    /// `InstanceNotRunning`.
    pub async fn session_states(&self, ids: &[String]) -> Result<Vec<(String, String)>, CpError> {
        let answer: Value = self
            .call(
                reqwest::Method::POST,
                "/sessions/states",
                Some(json!({"sessionIds": ids})),
            )
            .await?;
        Ok(answer["sessions"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|s| {
                        let field = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
                        (field("sessionId"), field("state"))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}
