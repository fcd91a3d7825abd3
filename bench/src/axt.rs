//! The axtlab path, built from the real release binaries: a control plane with the session
//! bandwidth cap lifted, a gateway, an `axt-agent` registered through an activation, and one
//! `axt portforward` whose local port carries the measurements (client → gateway → agent →
//! target). The same stack serves the shell part ([`crate::shell`]): it keeps what `axt
//! session` needs to reach it.

use std::{
    ffi::OsString,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context as _};

use axt_kit::process::Supervised;

use crate::procs;

const KEY_ID: &str = "LTAIbenchKey000000000001";
const SECRET: &str = "axt-bench-secret";
const REGION: &str = "cn-hangzhou";
const INTERNAL_TOKEN: &str = "axt-bench-internal-token";

/// The binaries of the stack.
pub const BINARIES: [&str; 4] = ["axt-control-plane", "axt-gateway", "axt-agent", "axt"];

/// How the stack is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the binaries are.
    pub bin_dir: PathBuf,
    /// wss:// with the lab CA instead of ws://.
    pub tls: bool,
    /// The gateway's `--input-hold-ms`, when given.
    pub input_hold_ms: Option<u64>,
    /// `axt portforward --frame-size`, when given.
    pub frame_size: Option<u32>,
    /// The agent's `--default-user`: sessions never run as root, so a root benchmark names
    /// an unprivileged account (an agent that is not root runs them as itself).
    pub default_user: Option<String>,
}

/// An environment variable for `axt`: set, or removed when `None`.
pub type EnvVar = (&'static str, Option<OsString>);

/// A running stack; its processes are killed in the reverse order of their start.
pub struct Axt {
    /// The local port of `axt portforward`.
    pub addr: SocketAddr,
    /// The agent's instance id, for `axt session --instance`.
    pub instance: String,
    /// What `axt` needs in its environment to reach this lab.
    pub cli_env: Vec<EnvVar>,
    procs: Vec<Supervised>,
}

impl Axt {
    /// `(name, pid)` of each process, for profiling a run from the outside.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.procs
            .iter()
            .map(|p| (p.name().to_owned(), p.pid()))
            .collect()
    }
}

impl Drop for Axt {
    fn drop(&mut self) {
        while let Some(proc) = self.procs.pop() {
            drop(proc);
        }
    }
}

/// Fails unless every binary of the stack is in `bin_dir`.
pub fn check_binaries(bin_dir: &Path) -> anyhow::Result<()> {
    for name in BINARIES {
        if !bin_dir.join(name).is_file() {
            bail!(
                "{} is missing: run `cargo build --release --bins` (or pass --bin-dir)",
                bin_dir.join(name).display()
            );
        }
    }
    Ok(())
}

/// Starts everything and a forward of `target_port`; `dir` holds state and logs.
pub fn start(opts: &Options, target_port: u16, dir: &Path) -> anyhow::Result<Axt> {
    check_binaries(&opts.bin_dir)?;
    let bin = |name: &str| opts.bin_dir.join(name);
    let mut procs = Vec::new();
    let scheme = if opts.tls { "wss" } else { "ws" };
    let gw_addr = format!("127.0.0.1:{}", procs::free_port()?);
    let gw_url = format!("{scheme}://{gw_addr}");

    let cp_dir = dir.join("cp");
    let mut cp = Command::new(bin("axt-control-plane"));
    cp.args(["--listen", "127.0.0.1:0", "--gateway-url", &gw_url])
        .arg("--data-dir")
        .arg(&cp_dir)
        .args(["--internal-token", INTERNAL_TOKEN])
        .args(["--admin-access-key-id", KEY_ID])
        .args(["--admin-access-key-secret", SECRET])
        // The point of the benchmark: the session bandwidth cap (200 KB/s by default) lifted.
        .args(["--session-rate-limit", "0"]);
    procs.push(procs::spawn("control-plane", cp, dir)?);
    let cp_addr = procs::wait_for_file(&cp_dir.join("listen-addr"))?;

    let gw_dir = dir.join("gw");
    let mut gw = Command::new(bin("axt-gateway"));
    gw.args(["--listen", &gw_addr, "--public-url", &gw_url])
        .args(["--control-plane", &format!("http://{cp_addr}")])
        .args(["--internal-token", INTERNAL_TOKEN])
        .arg("--data-dir")
        .arg(&gw_dir);
    if !opts.tls {
        gw.arg("--plain");
    }
    // The readiness lines waited for below are info-level, whatever RUST_LOG says outside.
    gw.env("RUST_LOG", "info");
    if let Some(hold) = opts.input_hold_ms {
        gw.args(["--input-hold-ms", &hold.to_string()]);
    }
    let mut gateway = procs::spawn("gateway", gw, dir)?;
    procs::wait_for(&mut gateway, "gateway listening")?;
    procs.push(gateway);
    let ca = gw_dir.join("ca.pem");

    let env = cli_vars(&cp_addr, opts.tls.then_some(ca.as_path()), dir);
    let api = |action: &str| {
        let mut command = Command::new(bin("axt"));
        cli_env(&mut command, &env);
        command.args(["api", action]);
        command
    };
    let activation: serde_json::Value =
        serde_json::from_str(&procs::output(&mut api("CreateActivation"))?)
            .context("CreateActivation did not answer JSON")?;
    let field = |name: &str| activation[name].as_str().unwrap_or_default().to_owned();

    let state = dir.join("agent");
    let mut register = Command::new(bin("axt-agent"));
    register
        .args(["register", "--server", &gw_addr, "--region", REGION])
        .args(["--activation-code", &field("ActivationCode")])
        .args(["--activation-id", &field("ActivationId")])
        .arg("--state-dir")
        .arg(&state);
    if opts.tls {
        register.arg("--ca-cert").arg(&ca);
    } else {
        register.arg("--plain");
    }
    procs::output(&mut register).context("registering the agent")?;
    let instance = procs::wait_for_file(&state.join("instance-id"))?;
    let mut run = Command::new(bin("axt-agent"));
    run.args(["run", "--state-dir"]).arg(&state);
    if let Some(user) = &opts.default_user {
        run.args(["--default-user", user]);
    }
    run.env("RUST_LOG", "info");
    let mut agent = procs::spawn("agent", run, dir)?;
    procs::wait_for(&mut agent, "kick channel open")?;
    procs.push(agent);

    let mut forward = Command::new(bin("axt"));
    cli_env(&mut forward, &env);
    forward
        .args(["portforward", "--instance", &instance])
        .args([
            "--remote-port",
            &target_port.to_string(),
            "--local-port",
            "0",
        ]);
    if let Some(size) = opts.frame_size {
        forward.args(["--frame-size", &size.to_string()]);
    }
    let mut portforward = procs::spawn("portforward", forward, dir)?;
    let said = procs::wait_for(&mut portforward, "local port")?;
    procs.push(portforward);
    let port: u16 = said
        .split(',')
        .next()
        .unwrap_or_default()
        .trim()
        .parse()
        .with_context(|| format!("axt portforward printed {said:?}, not a port"))?;
    Ok(Axt {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        instance,
        cli_env: env,
        procs,
    })
}

/// What `axt` needs to reach the lab: the key, the endpoint, the region and, with TLS, the
/// lab CA; and no aliyun CLI profile of whoever runs the benchmark.
pub fn cli_vars(cp_addr: &str, ca: Option<&Path>, home: &Path) -> Vec<EnvVar> {
    let set = |value: &str| Some(OsString::from(value));
    vec![
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", set(KEY_ID)),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", set(SECRET)),
        ("ALIBABA_CLOUD_ECS_ENDPOINT", set(cp_addr)),
        ("ALIBABA_CLOUD_REGION_ID", set(REGION)),
        // A HOME without .aliyun/config.json: no profile of the user's can interfere.
        ("HOME", Some(home.into())),
        ("ALIBABA_CLOUD_CONFIG_FILE", None),
        ("ALIBABA_CLOUD_PROFILE", None),
        ("ALIBABA_CLOUD_ECS_ENDPOINT_PROTOCOL", None),
        ("AXT_CA_CERT", ca.map(OsString::from)),
    ]
}

pub fn cli_env(command: &mut Command, vars: &[EnvVar]) {
    for (name, value) in vars {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
}
