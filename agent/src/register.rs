//! `axt-agent register`: hybrid registration with an activation code (docs/protocol.md §2.1). A
//! new RSA-2048 key and the machine id go to `/luban/api/instance/register`; only a
//! `{"code":200,"instanceId":…}` answer writes the state directory.

use anyhow::Context as _;
use axt_proto::{
    identity::AgentKey,
    luban::{RegisterRequest, RegisterResponse, RegisterTag},
};
use base64::Engine as _;
use secrecy::ExposeSecret as _;

use crate::{
    client::Client,
    config::RegisterArgs,
    host,
    state::{files, Registration, ServerConfig, StateDir},
};

/// Registers and stores the identity; returns the instance id.
pub async fn register(args: RegisterArgs) -> anyhow::Result<String> {
    let state = StateDir::new(&args.state_dir);
    let server = ServerConfig {
        server: args.server.clone(),
        plain: args.plain,
        ca_cert: args.ca_cert.clone(),
    };
    // Before registration there is no identity: the stock agent sends no identity headers.
    let client = Client::new(&server, None)?;
    // Key generation is seconds of CPU; keep it off the async workers.
    let key = tokio::task::spawn_blocking(AgentKey::generate)
        .await
        .context("key generation panicked")??;
    let machine_id = host::machine_id(state.read(files::MACHINE_ID)?);
    let body = request_body(&args, &key, &machine_id)?;

    let request = client
        .request(reqwest::Method::POST, "/luban/api/instance/register")?
        .header("content-type", "application/json; charset=utf-8")
        .body(serde_json::to_vec(&body)?);
    let answer: RegisterResponse = client
        .send_json(request)
        .await
        .with_context(|| format!("registering with {}", client.url("")))?;
    if answer.code != 200 || answer.instance_id.is_empty() {
        anyhow::bail!(
            "register failed: code {}{}",
            answer.code,
            if answer.err_msg.is_empty() {
                String::new()
            } else {
                format!(": {}", answer.err_msg)
            }
        );
    }
    state.save(&Registration {
        instance_id: answer.instance_id.clone(),
        machine_id,
        key,
        server,
    })?;
    Ok(answer.instance_id)
}

/// The registration body, in the stock agent's field order and formats.
fn request_body(
    args: &RegisterArgs,
    key: &AgentKey,
    machine_id: &str,
) -> anyhow::Result<RegisterRequest> {
    let tag = args
        .tags
        .iter()
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .with_context(|| format!("tag {pair:?} is not KEY=VALUE"))?;
            Ok(RegisterTag {
                key: key.to_owned(),
                value: value.to_owned(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(RegisterRequest {
        activation_code: args.activation_code.expose_secret().to_owned(),
        machine_id: machine_id.to_owned(),
        region_id: args.region.clone(),
        instance_name: args.instance_name.clone(),
        hostname: host::hostname(),
        intranet_ip: host::intranet_ip(),
        os_version: host::os_version(),
        os_type: "linux".into(),
        agent_version: host::AGENT_VERSION.into(),
        // Base64 of the PEM *text*, PEM wrapped in base64 again, as the stock agent sends it.
        public_key: base64::engine::general_purpose::STANDARD.encode(key.public_pem()?),
        activation_id: args.activation_id.clone(),
        tag,
        instance_id: args.claim_instance.clone(),
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::config::{Cli, Command};

    #[test]
    fn the_body_wraps_the_pem_in_base64_and_carries_the_claim() {
        let cli = Cli::parse_from([
            "axt-agent",
            "register",
            "--server",
            "127.0.0.1:1",
            "--activation-code",
            "code",
            "--activation-id",
            "act",
            "--state-dir",
            "/nonexistent",
            "--claim-instance",
            "i-1",
            "--tag",
            "env=lab",
        ]);
        let Command::Register(args) = cli.command else {
            panic!()
        };
        let key = AgentKey::generate().unwrap();
        let body = request_body(&args, &key, "m-1").unwrap();
        assert_eq!(
            axt_proto::luban::unwrap_public_key(&body.public_key).unwrap(),
            key.public_pem().unwrap()
        );
        assert_eq!(body.instance_id.as_deref(), Some("i-1"));
        assert_eq!(
            (body.tag[0].key.as_str(), body.tag[0].value.as_str()),
            ("env", "lab")
        );
        assert_eq!(body.agent_version, host::AGENT_VERSION);
    }
}
