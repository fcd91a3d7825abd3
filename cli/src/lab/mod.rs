//! `axt lab`: a whole axtlab region on one machine, without Docker — for newcomers, demos and
//! the end-to-end tests.
//!
//! `axt lab up --instances 2` starts, in the background, the real binaries found next to
//! `axt`: `axt-control-plane` on 127.0.0.1:8080, `axt-gateway`, and one `axt-agent` per
//! instance, each registered through an activation (a managed instance `mi-…`), plus a
//! private target host with a web service and, when OpenSSH is installed, sshd. As root with
//! iproute2 every instance and the target are network namespaces ([`net`]): the target is
//! reachable only from the instances, so the only way to it from this host is a port-forward
//! session. Otherwise everything shares loopback, and the lab says that the target is then
//! not isolated.
//!
//! Everything lives in the lab directory (default `./axt-data/lab`): `state.json` (what was
//! started and created, [`state`]), `logs/` (one file per process), the control plane's
//! SQLite and admin key, the gateway's CA, the agents' identities (kept, so the same
//! instances come back on the next `up`). `axt lab down` stops the processes by pid and
//! removes the namespaces, links and routes by name ([`net`]; processes are supervised with
//! `axt_kit::process`).
//!
//! Once the instances are up, the lab makes the tour's RAM users and role through the RAM API
//! and writes their aliyun CLI profiles ([`identities`]), which `axt lab env` points
//! `ALIBABA_CLOUD_CONFIG_FILE` at.

pub mod account;
mod hosts;
pub mod identities;
mod names;
pub mod net;
mod ram_calls;
pub mod state;
mod summary;
pub mod target;

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use anyhow::{bail, Context as _};
use axt_kit::{
    netns,
    process::{self, LogWatch, Record, Supervised},
};
use axt_proto::openapi::Params;

use crate::{
    api::ApiClient,
    args::{GlobalArgs, LabArgs, LabCommand, LabDirArgs, LabDownArgs, LabUpArgs},
    profile::Settings,
};
use hosts::{start_instance, start_target};
use net::Plan;
use state::{Instance, LabState, Mode, Target};
use summary::{exports, quote, summary, write_env_file};

/// The region of the lab's instances and sessions.
pub const REGION: &str = "cn-hangzhou";
/// How long a service gets to start listening.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long `axt-agent register` may take.
const REGISTER_LIMIT: Duration = Duration::from_secs(60);
/// How long a process gets to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// The log line that says an agent's kick channel is up: it can take sessions from then on.
const AGENT_READY: &str = "kick channel open";
/// The target's address in a loopback lab.
const LOOPBACK_TARGET: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// sshd's port on the target in a loopback lab (22 is the host's own).
const LOOPBACK_SSH_PORT: u16 = 2222;

/// `axt lab …`; `global` holds the admin key for `axt lab iam` (the others make their own).
pub async fn run(args: &LabArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        LabCommand::Up(up) => self::up(up).await,
        LabCommand::Down(down) => self::down(down).await,
        LabCommand::Env(dir) => env(dir),
        LabCommand::Iam(iam) => identities::command(iam, global).await,
        LabCommand::ServeTarget(serve) => target::serve(serve).await,
    }
}

/// The binaries `axt lab` runs: next to the running `axt`.
struct Binaries {
    axt: PathBuf,
    control_plane: PathBuf,
    gateway: PathBuf,
    agent: PathBuf,
}

impl Binaries {
    fn find() -> anyhow::Result<Self> {
        let axt = std::env::current_exe().context("finding the axt executable")?;
        let dir = axt.parent().context("axt has no directory")?.to_owned();
        let next_to = |name: &str| -> anyhow::Result<PathBuf> {
            let path = dir.join(name);
            if !path.exists() {
                bail!(
                    "{name} is not next to axt in {}: build every binary first \
                     (`cargo build --workspace --bins`)",
                    dir.display()
                );
            }
            Ok(path)
        };
        Ok(Self {
            control_plane: next_to("axt-control-plane")?,
            gateway: next_to("axt-gateway")?,
            agent: next_to("axt-agent")?,
            axt,
        })
    }
}

/// The lab being built: its directory, its state (saved at every step) and the handles of
/// the processes started so far (let go to run on their own once the whole lab is up).
struct Builder {
    dir: PathBuf,
    state: LabState,
    started: Vec<Supervised>,
}

impl Builder {
    fn save(&self) -> anyhow::Result<()> {
        self.state.save(&self.dir)
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{name}.log"))
    }

    /// Starts `cmd` in the background as `name` (log `logs/<name>.log`, truncated), records
    /// it, and returns its index in `started`.
    fn start(&mut self, name: &str, cmd: std::process::Command) -> anyhow::Result<usize> {
        let _ = std::fs::remove_file(self.log(name));
        self.start_appending(name, cmd)
    }

    /// Like [`Builder::start`], appending to the log (after a `register` wrote to it).
    fn start_appending(&mut self, name: &str, cmd: std::process::Command) -> anyhow::Result<usize> {
        let started = Supervised::spawn_in_own_group(name, cmd, &self.log(name))?;
        self.state.processes.push(started.record());
        self.started.push(started);
        self.save()?;
        Ok(self.started.len() - 1)
    }
}

/// `axt lab up`.
async fn up(args: &LabUpArgs) -> anyhow::Result<ExitCode> {
    let bins = Binaries::find()?;
    let dir = absolute(&args.dir.dir)?;
    if let Some(old) = LabState::load(&dir)? {
        if old.processes.iter().any(process::alive) {
            bail!(
                "a lab already runs in {}: `axt lab down{}` stops it",
                dir.display(),
                dir_flag(&args.dir.dir)
            );
        }
        // What a crash or a reboot left behind.
        net::remove(&old);
        LabState::remove(&dir)?;
    }
    std::fs::create_dir_all(dir.join("logs"))
        .with_context(|| format!("creating {}", dir.display()))?;

    let mode = if args.loopback {
        Mode::Loopback
    } else if let Some(why) = netns::unavailable() {
        eprintln!(
            "axt lab: {why}, so no network namespaces: every host shares loopback and the \
             private target is NOT isolated (it is reachable from this host too). Run as \
             root with iproute2 for the real topology."
        );
        Mode::Loopback
    } else {
        Mode::Netns
    };
    let mut lab = Builder {
        state: LabState {
            mode,
            default_user: account::DefaultUser::planned(args.default_user.as_deref()),
            ..Default::default()
        },
        dir: dir.clone(),
        started: Vec::new(),
    };
    match build(&mut lab, &bins, args).await {
        Ok(()) => {
            lab.save()?;
            // The services run on their own from now on; `axt lab down` stops them by pid.
            for started in lab.started.drain(..) {
                started.detach();
            }
            print!("{}", summary(&lab.state, &lab.dir, &args.dir.dir)?);
            if let Some(note) = lab.state.default_user.as_ref().and_then(|u| u.note_at_up()) {
                print!("\n{note}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            eprintln!("axt lab: the lab did not come up; removing what was started");
            let left = teardown(&lab.state).await;
            for child in &mut lab.started {
                let _ = child.try_wait();
            }
            if left.is_empty() {
                let _ = LabState::remove(&dir);
            } else {
                eprintln!("axt lab: still there: {}", left.join("; "));
            }
            Err(err)
        }
    }
}

/// Builds the network, then starts the services in dependency order, each waited for.
async fn build(lab: &mut Builder, bins: &Binaries, args: &LabUpArgs) -> anyhow::Result<()> {
    // A port in use fails here, before anything is created, with a hint.
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    pick_port(localhost, args.api_port, "--api-port")?;
    if lab.state.mode == Mode::Loopback {
        pick_port(localhost, args.gateway_port, "--gateway-port")?;
    }
    let plan = match lab.state.mode {
        Mode::Netns => {
            let index = match args.net_index {
                Some(index) => {
                    net::check_index(index)?;
                    index
                }
                None => net::free_index()?,
            };
            lab.state.net_index = Some(index);
            let plan = Plan { index };
            lab.save()?;
            net::create_region(&mut lab.state, &plan)?;
            for i in 1..=args.instances {
                net::create_instance(&mut lab.state, &plan, i)?;
            }
            lab.save()?;
            Some(plan)
        }
        Mode::Loopback => None,
    };
    let host_ip = plan.map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |p| p.host_ip().into());
    let gateway = SocketAddr::new(
        host_ip,
        pick_port(host_ip, args.gateway_port, "--gateway-port")?,
    );

    lab.state.gateway = gateway.to_string();
    // Clients know the gateway by its real-looking name (through the proxy, or a namespace's
    // hosts file); agents by its address, which the certificate names too.
    let gateway_url = names::gateway_url(gateway);
    let https = names::https_addr(plan, args.https_port)?;
    let dir = lab.dir.clone();
    let ca_dir = dir.join("ca");

    // The control plane: the OpenAPI on loopback, state in SQLite.
    let cp_dir = dir.join("control-plane");
    let listen_file = cp_dir.join("listen-addr");
    let _ = std::fs::remove_file(&listen_file);
    let mut cmd = process::command(&[], &bins.control_plane);
    cmd.arg("--listen")
        .arg(format!("127.0.0.1:{}", args.api_port))
        .arg("--data-dir")
        .arg(&cp_dir)
        .args(["--https-listen", &https.to_string()])
        .arg("--ca-dir")
        .arg(&ca_dir)
        .args(["--gateway-url", &gateway_url])
        .env("RUST_LOG", "info");
    let cp = lab.start("control-plane", cmd)?;
    let api = lab.started[cp]
        .ready("listening", START_LIMIT, || {
            std::fs::read_to_string(&listen_file)
                .ok()
                .and_then(|text| text.trim().parse::<SocketAddr>().ok())
        })
        .await?;
    lab.state.api = api.to_string();

    // The gateway: the agents' and the clients' only address, TLS with the lab CA.
    let gw_dir = dir.join("gateway");
    let mut cmd = process::command(&[], &bins.gateway);
    cmd.args(["--listen", &gateway.to_string()])
        .args(["--control-plane", &format!("http://{api}")])
        .arg("--internal-token-file")
        .arg(cp_dir.join("internal-token"))
        .arg("--data-dir")
        .arg(&gw_dir)
        .arg("--ca-dir")
        .arg(&ca_dir)
        .args(["--public-url", &gateway_url])
        .args(["--san", &gateway.ip().to_string()])
        .env("RUST_LOG", gateway_log_filter(args.trace_frames));
    let gw = lab.start("gateway", cmd)?;
    lab.started[gw]
        .ready("listening", START_LIMIT, || {
            listening(gateway).then_some(())
        })
        .await?;
    lab.state.ca_cert = ca_dir.join("ca.pem");
    lab.state.https_api = Some(https.to_string());
    let proxy = names::start_proxy(lab, bins, https, gateway, args.proxy_port).await?;
    lab.state.proxy = Some(proxy.to_string());
    lab.state.console = Some(names::start_console(lab, bins, proxy, args.console_port).await?);
    if let Some(plan) = plan {
        names::write_hosts(lab, plan)?;
    }

    start_target(lab, bins, plan).await?;

    // The instances: an activation each, `axt-agent register` once, `axt-agent run`.
    let settings = lab_settings(&dir, &lab.state)?;
    let client = ApiClient::new(&settings)?;
    for i in 1..=args.instances {
        let instance = start_instance(lab, bins, plan, i, &client, args).await?;
        lab.state.instances.push(instance);
        lab.save()?;
    }

    // The tour's RAM identities, allowed sessions on instance-1 only.
    let first = &lab.state.instances[0].id;
    let profiles = dir.join(identities::PROFILES_FILE);
    let ca = lab.state.ca_cert.clone();
    match identities::create(&client, REGION, first, &profiles, Some(&ca)).await? {
        Some(cast) => {
            identities::hand_to_sudo_user(&profiles)?;
            lab.state.iam = Some(cast);
        }
        None => {
            eprintln!("axt lab: this control plane has no RAM API, so no RAM users or profiles")
        }
    }
    write_env_file(&dir, &lab.state)?;
    Ok(())
}

/// The gateway's `RUST_LOG`: info, the kicks it sends (debug: one line per session), and
/// with `trace_frames` every frame it relays.
fn gateway_log_filter(trace_frames: bool) -> String {
    let mut filter = String::from("info,axt_gateway::kick=debug");
    if trace_frames {
        filter.push_str(",axt::frames=debug");
    }
    filter
}

/// Whether something accepts TCP connections on `addr` (from this namespace).
fn listening(addr: SocketAddr) -> bool {
    std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// `port` once checked free on `ip`, or when 0 a port free there now.
fn pick_port(ip: IpAddr, port: u16, flag: &str) -> anyhow::Result<u16> {
    match std::net::TcpListener::bind((ip, port)) {
        Ok(listener) => Ok(listener.local_addr()?.port()),
        Err(err) => bail!(
            "cannot listen on {ip}:{port} ({err}): another lab, or `scripts/lab`, may hold it; \
             choose another port with {flag} (0 picks a free one)"
        ),
    }
}

/// `path` made absolute against the current directory.
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    Ok(if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()?.join(path)
    })
}

/// ` --dir DIR` when `dir` is not the default, for the commands the lab prints.
fn dir_flag(dir: &Path) -> String {
    if dir == Path::new("axt-data/lab") {
        String::new()
    } else {
        format!(" --dir {}", quote(&dir.display().to_string()))
    }
}

/// The admin key the control plane generated on its first start.
fn admin_key(dir: &Path) -> anyhow::Result<(String, String)> {
    let path = dir.join("control-plane").join("admin-access-key.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let field = |key: &str| {
        json[key]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("{} has no {key}", path.display()))
    };
    Ok((field("AccessKeyId")?, field("AccessKeySecret")?))
}

/// The settings `axt` commands get from the lab's `export` lines.
fn lab_settings(dir: &Path, state: &LabState) -> anyhow::Result<Settings> {
    let (id, secret) = admin_key(dir)?;
    let global = GlobalArgs {
        access_key_id: Some(id),
        access_key_secret: Some(secret),
        endpoint: state.api.clone(),
        region: Some(REGION.to_owned()),
        ca_cert: Some(state.ca_cert.clone()),
        ..Default::default()
    };
    Ok(Settings::resolve(&global, None)?)
}

/// `axt lab env`.
fn env(args: &LabDirArgs) -> anyhow::Result<ExitCode> {
    let dir = absolute(&args.dir)?;
    let state = LabState::load(&dir)?
        .with_context(|| format!("no lab in {}: start one with `axt lab up`", dir.display()))?;
    print!("{}", exports(&dir, &state)?);
    Ok(ExitCode::SUCCESS)
}

/// Stops every process (the recorded ones, and anything else running in the lab's
/// namespaces) and removes the network; returns what is left.
async fn teardown(state: &LabState) -> Vec<String> {
    // Agents first, so that they do not spend their last seconds redialling a gateway that
    // is already gone; the rest after.
    let (agents, services): (Vec<Record>, Vec<Record>) = state
        .processes
        .iter()
        .cloned()
        .partition(|p| p.name.starts_with("instance-"));
    let mut left = process::stop(&agents, STOP_GRACE).await;
    left.extend(process::stop(&services, STOP_GRACE).await);
    // Shells of sessions, sshd's children: whatever still runs on a lab host.
    let mut strays = Vec::new();
    for ns in &state.namespaces {
        for pid in netns::pids_in(ns) {
            if let Some(start_time) = process::start_time(pid) {
                strays.push(Record {
                    name: format!("a process in {ns}"),
                    pid,
                    start_time,
                });
            }
        }
    }
    left.extend(process::stop(&strays, STOP_GRACE).await);
    let mut report: Vec<String> = left
        .iter()
        .map(|p| format!("{} (pid {})", p.name, p.pid))
        .collect();
    report.extend(net::remove(state));
    report.extend(names::remove_hosts(state));
    report
}

/// `axt lab down`.
async fn down(args: &LabDownArgs) -> anyhow::Result<ExitCode> {
    let dir = absolute(&args.dir.dir)?;
    let Some(state) = LabState::load(&dir)? else {
        println!("no lab runs in {}", dir.display());
        if args.purge && dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    let left = teardown(&state).await;
    if !left.is_empty() {
        bail!("could not remove: {}", left.join("; "));
    }
    LabState::remove(&dir)?;
    let _ = std::fs::remove_file(dir.join("env.sh"));
    if let Some(note) = state.default_user.as_ref().and_then(|u| u.note_at_down()) {
        eprintln!("{note}");
    }
    if args.purge {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        println!("axtlab is down; {} removed", args.dir.dir.display());
    } else {
        println!(
            "axtlab is down; its data stays in {} (`axt lab down --purge` removes it)",
            args.dir.dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(quote("127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(quote("/a/b/ca.pem"), "/a/b/ca.pem");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn names_the_directory_only_when_it_is_not_the_default() {
        assert_eq!(dir_flag(Path::new("axt-data/lab")), "");
        assert_eq!(dir_flag(Path::new("/tmp/x")), " --dir /tmp/x");
    }
}
