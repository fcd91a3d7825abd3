//! The JSON of the agent surface (`/luban/api/...`): registration, heart-beat and the task and
//! session lists, in the field names and types the stock agent uses.

use serde::{Deserialize, Serialize};

use crate::spec::SessionSpec;

/// `POST /luban/api/instance/register` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegisterRequest {
    pub activation_code: String,
    pub machine_id: String,
    pub region_id: String,
    pub instance_name: String,
    pub hostname: String,
    /// The first non-loopback address, or the text `<nil>`.
    pub intranet_ip: String,
    pub os_version: String,
    pub os_type: String,
    pub agent_version: String,
    /// Base64 of the PEM text of the agent's RSA public key (PEM wrapped in base64 again).
    pub public_key: String,
    pub activation_id: String,
    pub tag: Vec<RegisterTag>,
    /// axtlab extension: a simulated ECS instance (`i-…`) for this agent to claim. The stock
    /// agent never sends it and always becomes a managed instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

/// One `tag` of a registration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegisterTag {
    pub key: String,
    pub value: String,
}

/// Answer to a registration: `code` 200 and the instance id, or another code and `errMsg`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegisterResponse {
    pub code: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub instance_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub err_msg: String,
}

/// Answer to `GET /luban/api/heart-beat`. `nextInterval` outside 55000–65000 ms is replaced
/// by a random value in that range by the stock agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeartbeatResponse {
    pub next_interval: u64,
    pub new_tasks: bool,
}

/// Answer to `/luban/api/v1/session/list` and `/luban/api/v1/task/list`: one envelope, in
/// which only `code` and `session` matter to sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskListResponse {
    pub code: u16,
    pub instance_id: String,
    pub session: Vec<SessionSpec>,
    pub run: Vec<serde_json::Value>,
    pub stop: Vec<serde_json::Value>,
    pub test: Vec<serde_json::Value>,
    pub file: Vec<serde_json::Value>,
}

/// Reads the text of a base64-wrapped PEM (`publicKey` of a registration); a plain PEM is
/// accepted too.
pub fn unwrap_public_key(text: &str) -> Option<String> {
    if text.trim_start().starts_with("-----BEGIN") {
        return Some(text.to_owned());
    }
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    String::from_utf8(bytes)
        .ok()
        .filter(|pem| pem.contains("-----BEGIN"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_list_has_every_array_and_a_string_port() {
        let answer = TaskListResponse {
            code: 200,
            instance_id: "mi-1".into(),
            session: vec![SessionSpec {
                channel_id: "c-1".into(),
                port_number: "22".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let v = serde_json::to_value(&answer).unwrap();
        assert_eq!(v["session"][0]["portNumber"], "22");
        for key in ["run", "stop", "test", "file"] {
            assert!(v[key].is_array(), "{key}");
        }
    }

    #[test]
    fn registration_reads_the_stock_agents_body() {
        let body = r#"{"activationCode":"a-test1-code","machineId":"3d12","regionId":"cn-test1",
            "instanceName":"","hostname":"vm","intranetIp":"\u003cnil\u003e","osVersion":"Linux_#1",
            "osType":"linux","agentVersion":"1.0.0.1","publicKey":"LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0K",
            "activationId":"act-test1-id","tag":[{"key":"env","value":"test1"}]}"#;
        let r: RegisterRequest = serde_json::from_str(body).unwrap();
        assert_eq!(
            (r.intranet_ip.as_str(), r.tag[0].value.as_str()),
            ("<nil>", "test1")
        );
        assert_eq!(
            unwrap_public_key(&r.public_key).unwrap(),
            "-----BEGIN PUBLIC KEY-----\n"
        );
    }
}
