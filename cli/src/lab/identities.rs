//! The lab's RAM identities — the cast of the tour's authorization steps — made through the
//! RAM API with the admin key, and their aliyun CLI profiles:
//!
//! - `lab-reader`, a user with AliyunECSReadOnlyAccess;
//! - `lab-operator`, a user allowed `ecs:StartTerminalSession` on instance-1 only, what finding
//!   instances needs (`ecs:Describe*`), and `sts:AssumeRole` on `lab-admin-role`;
//! - `lab-admin-role`, a role the account trusts, with AliyunECSFullAccess;
//!
//! and, both users, `ram:DecodeDiagnosticMessage`, so that each can read why it was refused.
//! The profiles file holds `lab-reader` and `lab-operator` (mode AK) and
//! `lab-operator-as-admin` (mode RamRoleArn: the operator's key assuming the role).
//!
//! Running it again is harmless: what exists is kept (a key already in the profiles file is
//! reused), so `axt lab up` on an old lab, or a restarted compose service, ends the same.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::Context as _;
use axt_proto::openapi::Params;
use serde_json::{json, Value};

use super::ram_calls::{Created, Ram};
use crate::{
    api::{ApiClient, CallError, Product},
    args::{GlobalArgs, LabIamArgs},
    profile::{
        file::{ConfigFile, Profile},
        Settings,
    },
};

/// The read-only user.
pub const READER: &str = "lab-reader";
/// The operator: one instance, and the role.
pub const OPERATOR: &str = "lab-operator";
/// The role the operator may assume.
pub const ROLE: &str = "lab-admin-role";
/// The profile of the operator acting as the role.
pub const OPERATOR_AS_ADMIN: &str = "lab-operator-as-admin";
/// The operator's own policy.
const OPERATOR_POLICY: &str = "lab-operator-sessions";
/// Lets its holder decode the diagnostics of its refusals.
const DECODE_POLICY: &str = "lab-decode-diagnostics";
/// The profiles file, in the lab directory.
pub const PROFILES_FILE: &str = "aliyun-config.json";
/// `RoleSessionName` of the operator's role sessions.
const SESSION_NAME: &str = "lab-operator";

/// What was made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cast {
    /// The account all of it belongs to.
    pub account_id: String,
    /// The one instance lab-operator may open sessions on, by ARN.
    pub instance_arn: String,
    /// `lab-admin-role`'s ARN.
    pub role_arn: String,
    /// The aliyun CLI config file with the three profiles.
    pub profiles: PathBuf,
}

/// Makes the cast in the account of `client`'s (admin) key and writes the profiles to `out`,
/// for `instance_id` in `region`. `None` when the control plane has no RAM API.
pub async fn create(
    client: &ApiClient,
    region: &str,
    instance_id: &str,
    out: &Path,
    ca_cert: Option<&Path>,
) -> anyhow::Result<Option<Cast>> {
    let identity = match client
        .call_to(Product::Sts, "GetCallerIdentity", Params::new())
        .await
    {
        Err(CallError::Service(e)) if e.code == "InvalidAction.NotFound" => return Ok(None),
        other => other.context("STS GetCallerIdentity with the admin key")?,
    };
    let account = identity["AccountId"]
        .as_str()
        .context("GetCallerIdentity answered without AccountId")?
        .to_owned();
    let ram = Ram(client);
    let instance_arn = axt_iam::arn::instance(region, &account, instance_id);

    let trust = json!({"Version": "1", "Statement": [{
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Principal": {"RAM": [axt_iam::arn::account_root(&account)]},
    }]});
    let role_arn = ram.role(ROLE, &trust).await?;
    ram.attach("Role", ROLE, "System", "AliyunECSFullAccess")
        .await?;

    ram.policy(DECODE_POLICY, &decode_policy()).await?;
    ram.policy(OPERATOR_POLICY, &operator_policy(&instance_arn, &role_arn))
        .await?;
    let old = ConfigFile::load(out).ok();
    let mut keys = Vec::new();
    for (user, policies) in [
        (
            READER,
            [
                ("System", "AliyunECSReadOnlyAccess"),
                ("Custom", DECODE_POLICY),
            ],
        ),
        (
            OPERATOR,
            [("Custom", OPERATOR_POLICY), ("Custom", DECODE_POLICY)],
        ),
    ] {
        let created = ram.user(user).await?;
        for (policy_type, policy) in policies {
            ram.attach("User", user, policy_type, policy).await?;
        }
        let kept = old
            .as_ref()
            .and_then(|file| file.profile(user))
            .and_then(|p| p.access_key_id.clone().zip(p.access_key_secret.clone()));
        let key = match (created, kept) {
            (Created::Existed, Some(key)) => key,
            (created, _) => ram.fresh_key(user, created).await?,
        };
        keys.push(key);
    }

    let profile = |name: &str, (id, secret): &(String, String)| Profile {
        name: name.to_owned(),
        mode: "AK".to_owned(),
        access_key_id: Some(id.clone()),
        access_key_secret: Some(secret.clone()),
        region_id: Some(region.to_owned()),
        output_format: Some("json".to_owned()),
        axt_ca_cert: ca_cert.map(Path::to_path_buf),
        ..Profile::default()
    };
    let file = ConfigFile {
        // Without --profile and without a key in the environment, the least privilege.
        current: READER.to_owned(),
        profiles: vec![
            profile(READER, &keys[0]),
            profile(OPERATOR, &keys[1]),
            Profile {
                mode: "RamRoleArn".to_owned(),
                ram_role_arn: Some(role_arn.clone()),
                ram_session_name: Some(SESSION_NAME.to_owned()),
                expired_seconds: Some(3600),
                ..profile(OPERATOR_AS_ADMIN, &keys[1])
            },
        ],
    };
    axt_kit::files::write_private(out, file.to_json().as_bytes())?;
    Ok(Some(Cast {
        account_id: account,
        instance_arn,
        role_arn,
        profiles: out.to_owned(),
    }))
}

/// `axt lab iam`: the cast for a lab that is already up (the compose lab), with the admin key
/// of the global options.
pub(super) async fn command(args: &LabIamArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let settings = Settings::resolve(global, home.as_deref())?;
    let client = ApiClient::new(&settings)?;
    let instance_id = match (&args.instance_id, &args.instance_name) {
        (Some(id), _) => id.clone(),
        (None, Some(name)) => {
            let mut params = Params::new();
            params.insert("InstanceName".into(), name.clone());
            let listed = client.call("DescribeInstances", params).await?;
            listed["Instances"]["Instance"][0]["InstanceId"]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("no instance is called {name}"))?
        }
        (None, None) => unreachable!("clap requires --instance-id or --instance-name"),
    };
    let ca = args.profile_ca_cert.as_deref();
    let cast = create(&client, &settings.region, &instance_id, &args.out, ca)
        .await?
        .context("this control plane has no RAM API")?;
    println!(
        "{READER}, {OPERATOR} (sessions on {} only) and {OPERATOR_AS_ADMIN} (as {}) are \
         profiles in {}",
        cast.instance_arn,
        cast.role_arn,
        cast.profiles.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Gives `path` to the user who ran `sudo axt lab up`, so that their own `axt` can read the
/// profiles; nothing without sudo. (The file stays 0600.)
pub(super) fn hand_to_sudo_user(path: &Path) -> anyhow::Result<()> {
    let id = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let (Some(uid), Some(gid)) = (id("SUDO_UID"), id("SUDO_GID")) else {
        return Ok(());
    };
    nix::unistd::chown(
        path,
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    )
    .with_context(|| format!("giving {} to uid {uid}", path.display()))
}

/// lab-operator's own policy: sessions on one instance, finding instances, the role.
fn operator_policy(instance_arn: &str, role_arn: &str) -> Value {
    json!({"Version": "1", "Statement": [
        {"Sid": "SessionsOnInstanceOne", "Effect": "Allow",
         "Action": "ecs:StartTerminalSession", "Resource": instance_arn},
        {"Sid": "FindInstances", "Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"},
        {"Sid": "BecomeLabAdmin", "Effect": "Allow", "Action": "sts:AssumeRole",
         "Resource": role_arn},
    ]})
}

/// Decoding one's own refusals (`axt iam explain`, `--explain`).
fn decode_policy() -> Value {
    json!({"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "ram:DecodeDiagnosticMessage", "Resource": "*"},
    ]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policies_parse_and_say_what_the_tour_says() {
        let instance = "acs:ecs:cn-hangzhou:1:instance/mi-one";
        let role = "acs:ram::1:role/lab-admin-role";
        let document = axt_iam::Document::parse(&operator_policy(instance, role).to_string())
            .expect("the operator's policy is valid");
        let resources: Vec<&str> = document
            .statements
            .iter()
            .flat_map(|s| s.resources.iter().map(String::as_str))
            .collect();
        assert_eq!(resources, [instance, "*", role]);
        axt_iam::Document::parse(&decode_policy().to_string()).unwrap();
    }
}
