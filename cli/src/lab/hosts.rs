//! Starting the lab's hosts: the private target (a web service and sshd) and each instance
//! (an `axt-agent` registered through an activation), in their namespaces or on loopback.

use super::*;

/// The private target: the web service, and sshd when OpenSSH is installed (and, on
/// loopback, only as root).
pub(super) async fn start_target(
    lab: &mut Builder,
    bins: &Binaries,
    plan: Option<Plan>,
) -> anyhow::Result<()> {
    let (ip, launcher, netns) = match plan {
        Some(plan) => (
            plan.target_ip(),
            netns::launcher(&plan.target_ns()),
            Some(plan.target_ns()),
        ),
        None => (LOOPBACK_TARGET, Vec::new(), None),
    };
    let http = SocketAddr::new(ip.into(), net::TARGET_HTTP_PORT);
    let ready = lab.dir.join("target-http.ready");
    let _ = std::fs::remove_file(&ready);
    let mut cmd = process::command(&launcher, &bins.axt);
    cmd.args(["lab", "serve-target", "--listen", &http.to_string()])
        .args(["--name", netns.as_deref().unwrap_or("the loopback target")])
        .arg("--ready-file")
        .arg(&ready);
    let started = lab.start("target-http", cmd)?;
    lab.started[started]
        .ready("listening", START_LIMIT, || ready.exists().then_some(()))
        .await?;

    let sshd = Path::new(axt_kit::sshd::SSHD);
    let root = nix::unistd::geteuid().is_root();
    let mut ssh_port = None;
    let mut ssh_key = None;
    let port = if plan.is_some() {
        22
    } else {
        LOOPBACK_SSH_PORT
    };
    let files = if sshd.exists() && root {
        // Without ssh-keygen, say so and go on: the web service is the tour's target.
        target::sshd(
            &lab.dir.join("ssh"),
            &launcher,
            SocketAddr::new(ip.into(), port),
        )
        .map_err(|err| eprintln!("axt lab: no sshd on the target ({err:#})"))
        .ok()
    } else {
        eprintln!(
            "axt lab: no sshd on the target ({})",
            if root {
                "/usr/sbin/sshd is not installed"
            } else {
                "it needs root"
            }
        );
        None
    };
    if let Some((cmd, client_key)) = files {
        let started = lab.start("target-sshd", cmd)?;
        lab.started[started]
            .line(axt_kit::sshd::READY, START_LIMIT)
            .await?;
        ssh_port = Some(port);
        ssh_key = Some(client_key);
    }
    lab.state.target = Some(Target {
        netns,
        ip: ip.to_string(),
        http_port: net::TARGET_HTTP_PORT,
        ssh_port,
        ssh_key,
    });
    lab.save()
}

/// Instance `i`: registered once (its identity stays in `<lab>/agents/instance-i`), then
/// `axt-agent run`, waited for until its kick channel is up.
pub(super) async fn start_instance(
    lab: &mut Builder,
    bins: &Binaries,
    plan: Option<Plan>,
    i: u8,
    client: &ApiClient,
    args: &LabUpArgs,
) -> anyhow::Result<Instance> {
    let name = format!("instance-{i}");
    let state_dir = lab.dir.join("agents").join(&name);
    let launcher = plan.map_or_else(Vec::new, |p| netns::launcher(&p.instance_ns(i)));
    let log = lab.log(&name);
    let _ = std::fs::remove_file(&log);
    let gateway = lab.state.gateway.clone();
    let ca = lab.state.ca_cert.clone();
    let id_file = state_dir.join("instance-id");
    if !id_file.exists() {
        let mut params = Params::new();
        params.insert("InstanceName".into(), name.clone());
        let activation = client.call("CreateActivation", params).await?;
        let field = |key: &str| {
            activation[key]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("CreateActivation answered without {key}"))
        };
        let mut cmd = process::command(&launcher, &bins.agent);
        cmd.args(["register", "--server", &gateway, "--region", REGION])
            .args(["--activation-id", &field("ActivationId")?])
            .args(["--instance-name", &name])
            .arg("--state-dir")
            .arg(&state_dir)
            .arg("--ca-cert")
            .arg(&ca)
            // The code stays out of the process list.
            .env("AXT_ACTIVATION_CODE", field("ActivationCode")?);
        process::run_to_end(&format!("{name} register"), cmd, &log, REGISTER_LIMIT).await?;
    }
    let id = std::fs::read_to_string(&id_file)
        .with_context(|| format!("reading {}", id_file.display()))?
        .trim()
        .to_owned();

    let mut cmd = process::command(&launcher, &bins.agent);
    cmd.args(["run", "--server", &gateway])
        .arg("--state-dir")
        .arg(&state_dir)
        .arg("--ca-cert")
        .arg(&ca)
        .env("RUST_LOG", "info");
    if let Some(user) = &args.default_user {
        cmd.args(["--default-user", user]);
    }
    let watch = LogWatch::from_end(&log);
    let started = lab.start_appending(&name, cmd)?;
    lab.started[started]
        .ready("opening its kick channel", START_LIMIT, || {
            watch.find(AGENT_READY)
        })
        .await?;
    Ok(Instance {
        name,
        id,
        netns: plan.map(|p| p.instance_ns(i)),
        public_ip: plan.map(|p| p.public_ip(i).to_string()),
        private_ip: plan.map(|p| p.private_ip(i).to_string()),
    })
}
