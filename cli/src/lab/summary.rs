//! What `axt lab up` tells the user: the `export` lines, the env file, and the summary with
//! the tour's commands.

use std::{fmt::Write as _, path::Path};

use anyhow::Context as _;

use super::{
    admin_key, dir_flag,
    identities::{Cast, OPERATOR, OPERATOR_AS_ADMIN, READER, ROLE},
    state::{LabState, Mode},
    REGION,
};

/// The `export` lines of a lab: the admin key, where the lab is, and the file of its RAM
/// users' profiles (`axt --profile lab-operator …`).
pub(super) fn exports(dir: &Path, state: &LabState) -> anyhow::Result<String> {
    let (id, secret) = admin_key(dir)?;
    let ca = state.ca_cert.display().to_string();
    let mut vars = vec![
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", id),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret),
        ("ALIBABA_CLOUD_REGION_ID", REGION.to_owned()),
    ];
    match &state.proxy {
        // The real endpoint names, through the lab's proxy: no endpoint to set anywhere.
        Some(proxy) => vars.extend([
            ("HTTPS_PROXY", format!("http://{proxy}")),
            ("NO_PROXY", "127.0.0.1,localhost".to_owned()),
            ("SSL_CERT_FILE", ca.clone()),
        ]),
        // A lab started by an older `axt`: its plain endpoint.
        None => vars.push(("ALIBABA_CLOUD_ECS_ENDPOINT", state.api.clone())),
    }
    vars.push(("AXT_CA_CERT", ca));
    if let Some(iam) = &state.iam {
        vars.push((
            "ALIBABA_CLOUD_CONFIG_FILE",
            iam.profiles.display().to_string(),
        ));
    }
    let mut out = String::new();
    for (name, value) in vars {
        writeln!(out, "export {name}={}", quote(&value))?;
    }
    Ok(out)
}

/// `<lab>/env.sh` (mode 0600: it holds the secret), for `. axt-data/lab/env.sh`.
pub(super) fn write_env_file(dir: &Path, state: &LabState) -> anyhow::Result<()> {
    axt_kit::files::write_private(&dir.join("env.sh"), exports(dir, state)?.as_bytes())
}

/// A shell word: as is when it is plain, else in single quotes.
pub(super) fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&b))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// How to type `axt` here: `axt` when that is what PATH finds, else its absolute path, so
/// that the printed commands work from any directory.
pub(super) fn axt_command() -> String {
    let Ok(exe) = std::env::current_exe().and_then(|e| e.canonicalize()) else {
        return "axt".into();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths)
            .any(|dir| dir.join("axt").canonicalize().is_ok_and(|p| p == exe))
    });
    if on_path {
        "axt".into()
    } else {
        exe.display().to_string()
    }
}

/// What `axt lab up` prints: the hosts, the `export` lines and the tour's two commands.
pub(super) fn summary(state: &LabState, dir: &Path, dir_arg: &Path) -> anyhow::Result<String> {
    let axt = axt_command();
    let target = state.target.as_ref().context("the lab has no target")?;
    let first = state.instances.first().context("the lab has no instance")?;
    let shown_dir = dir_arg.display();
    let mut out = String::new();
    match (state.mode, state.net_index) {
        (Mode::Netns, Some(n)) => writeln!(
            out,
            "axtlab is up: network namespaces on 10.213.{n}.0/24, state and logs in {shown_dir}/"
        )?,
        _ => writeln!(
            out,
            "axtlab is up on loopback (the private target is NOT isolated), state and logs in \
             {shown_dir}/"
        )?,
    }
    writeln!(out)?;
    writeln!(
        out,
        "  control plane  http://{}  (logs/control-plane.log)",
        state.api
    )?;
    if let Some(https) = &state.https_api {
        writeln!(
            out,
            "                 https://{https}  (as ecs-{REGION}.aliyuncs.com, ram.aliyuncs.com, …)"
        )?;
    }
    writeln!(
        out,
        "  gateway        wss://{}  (as {}; logs/gateway.log)",
        state.gateway,
        axt_proto::openapi::endpoints::gateway_name(REGION)
    )?;
    if let Some(console) = &state.console {
        writeln!(
            out,
            "  web console    {console}  (sign in with an AccessKey; logs/console.log)"
        )?;
    }
    if let Some(proxy) = &state.proxy {
        writeln!(
            out,
            "  proxy          http://{proxy}  (the lab's names only; logs/proxy.log)"
        )?;
    }
    for instance in &state.instances {
        let place = match (&instance.netns, &instance.public_ip, &instance.private_ip) {
            (Some(ns), Some(public), Some(private)) => {
                format!("netns {ns}, {public} and {private}")
            }
            _ => "this host".to_owned(),
        };
        writeln!(
            out,
            "  {:<14} {}  ({place}; logs/{}.log)",
            instance.name, instance.id, instance.name
        )?;
    }
    let ssh = target
        .ssh_port
        .map_or(String::new(), |port| format!(", ssh :{port}"));
    let reach = if target.netns.is_some() {
        "only the instances reach it"
    } else {
        "NOT isolated on loopback"
    };
    writeln!(
        out,
        "  private target {}  (http :{}{ssh}; {reach})",
        target.ip, target.http_port
    )?;
    writeln!(out)?;
    // Absolute, so that the line works from any directory.
    writeln!(
        out,
        "In a shell of its own (or: eval \"$({axt} lab env --dir {})\"):",
        quote(&dir.display().to_string())
    )?;
    writeln!(out)?;
    for line in exports(dir, state)?.lines() {
        writeln!(out, "  {line}")?;
    }
    writeln!(out)?;
    writeln!(out, "A shell on {}:", first.name)?;
    writeln!(out)?;
    writeln!(out, "  {axt} session --instance {}", first.id)?;
    writeln!(out)?;
    writeln!(
        out,
        "The private web service on http://127.0.0.1:{}/ (through {}):",
        target.http_port, first.name
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "  {axt} portforward --instance {} --target-server {} --remote-port {} --local-port {}",
        first.id, target.ip, target.http_port, target.http_port
    )?;
    if let Some(iam) = &state.iam {
        identities(&mut out, &axt, state, iam)?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "The tour (docs/tour.md) follows one session through the logs. `{axt} lab down{}` stops \
         it all.",
        dir_flag(dir_arg)
    )?;
    Ok(out)
}

/// The RAM users and the role, and a command for each profile.
fn identities(out: &mut String, axt: &str, state: &LabState, iam: &Cast) -> anyhow::Result<()> {
    let first = &state.instances[0];
    let other = state.instances.get(1).unwrap_or(first);
    writeln!(out)?;
    writeln!(
        out,
        "RAM users with profiles in {} (ALIBABA_CLOUD_CONFIG_FILE above):",
        iam.profiles.display()
    )?;
    writeln!(out)?;
    let lines = [
        (
            format!("{axt} --profile {READER} api DescribeInstances"),
            "AliyunECSReadOnlyAccess".to_owned(),
        ),
        (
            format!("{axt} --profile {OPERATOR} session --instance {}", first.id),
            format!("sessions on {} only", first.name),
        ),
        (
            format!(
                "{axt} --profile {OPERATOR} --explain session --instance {}",
                other.id
            ),
            "Forbidden.RAM, and why".to_owned(),
        ),
        (
            format!(
                "{axt} --profile {OPERATOR_AS_ADMIN} session --instance {}",
                other.id
            ),
            format!("as {ROLE} (STS AssumeRole)"),
        ),
    ];
    let width = lines.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    for (command, what) in lines {
        writeln!(out, "  {command:<width$}  # {what}")?;
    }
    Ok(())
}
