//! The stock client, unmodified: Alibaba's `ali-instance-cli` (built from the public source of
//! aliyun/aliyun_assist_client) reaches the lab by the real endpoint names, with nothing but an
//! aliyun-format profile, `HTTPS_PROXY` and `SSL_CERT_FILE` — `session`, `portforward` and
//! `ssh` end to end against the real control plane, gateway, agent and `axt proxy`.
//!
//! Everything runs in one network namespace with loopback alone, so the stock binary can reach
//! nothing else. The client sends its OpenAPI calls to `ecs-cn-hangzhou.aliyuncs.com:443`
//! through the proxy, but dials the gateway named in the WebSocketUrl itself, ignoring the
//! proxy: the namespace's own hosts file (`/etc/netns/<ns>/hosts`, which `ip netns exec` mounts
//! over `/etc/hosts`) sends `cn-hangzhou.axt.aliyuncs.com` to the gateway's loopback address.
//!
//! It needs `ali-instance-cli` on `PATH`: the client is in no package registry, so without it
//! the stories show as ignored and say why, under `CI=true` as well. Like the other root
//! stories, it also needs root, iproute2 and OpenSSH (ignored without them, unless `CI=true`).

use std::{
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    path::{Path, PathBuf},
    process::ExitCode,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use axt_e2e::{
    bin,
    harness::{self, Story},
    netns::{Echo, Sshd},
    pty::Terminal,
    SessionUser, INTERNAL_TOKEN, KEY_ID, REGION, SECRET,
};
use axt_kit::{
    netns::{Namespace, IP},
    process::{self, run_to_end, LogWatch, Supervised},
    sshd::{Keys, SSHD},
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The stock client's program name.
const CLI: &str = "ali-instance-cli";
/// The gateway's public name in the lab's region, as the real service's WebSocketUrls carry it.
const GATEWAY_NAME: &str = "cn-hangzhou.axt.aliyuncs.com";
/// Where the gateway listens in the namespace: port 443, so the URL carries the name alone.
const GATEWAY_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 443);
/// The port `portforward` listens on (the stock client prints no port it picked itself).
const LOCAL_PORT: u16 = 19001;
const LIMIT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let stories = vec![
        Story {
            name: "session_runs_commands_on_a_terminal",
            run: || Box::pin(session_runs_commands_on_a_terminal()),
        },
        Story {
            name: "portforward_echoes_through_each_connection",
            run: || Box::pin(portforward_echoes_through_each_connection()),
        },
        Story {
            name: "ssh_runs_a_command_through_proxycommand",
            run: || Box::pin(ssh_runs_a_command_through_proxycommand()),
        },
    ];
    // Unlike what the other root stories need, the client is no failure under CI when
    // missing: nothing can install it.
    if on_path(CLI).is_none() {
        eprintln!(
            "stock_client: {CLI} is not on PATH: ignored (Alibaba's stock client is in no \
             package registry; it is built by hand from aliyun/aliyun_assist_client)"
        );
        let trials = stories
            .into_iter()
            .map(|story| libtest_mimic::Trial::test(story.name, || Ok(())).with_ignored_flag(true))
            .collect();
        return libtest_mimic::run(&libtest_mimic::Arguments::from_args(), trials).exit_code();
    }
    harness::run_stories(&[IP, SSHD, "ssh", "ssh-keygen"], stories)
}

/// `session --instance`: a shell on a real terminal, a command, the terminal's size, exit.
async fn session_runs_commands_on_a_terminal() {
    let world = World::start().await;
    let line = world.cli_line(&["session", "--instance", &world.instance]);
    let env = world.env.clone();
    let screen = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = line[1..].iter().map(String::as_str).collect();
        let mut term = Terminal::spawn(Path::new(&line[0]), &args, &env, 100, 30);
        // Typed before the shell shows anything: the gateway holds it until the shell can take it.
        term.type_text("echo stock-$((6*7))\r");
        term.expect("stock-42", LIMIT);
        // The client sends the terminal's size at its first 500 ms poll after the first output,
        // beside the typed text rather than in order with it: ask until the size shows.
        term.expect_after_retries("stty size\r", "30 100", 20, LIMIT);
        term.type_text("exit\r");
        term.wait(LIMIT);
        term.screen.clone()
    })
    .await
    .unwrap();
    assert!(screen.contains("Exit: session closed."), "{screen}");
    // The gate the client passes before every session, reached by its public name.
    world.plane_answered("DescribeUserBusinessBehavior");
    world.plane_answered("StartTerminalSession");
}

/// `portforward --instance --local-port --remote-port`: each TCP connection gets its own
/// WebSocket on the one session URL, and its bytes come back from an echo server.
async fn portforward_echoes_through_each_connection() {
    let world = World::start().await;
    let listener = world.ns.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let remote_port = listener.local_addr().unwrap().port().to_string();
    let echo = Echo::serve(listener);
    let mut cmd = world.cli(&["portforward", "--instance", &world.instance]);
    cmd.args(["--local-port", &LOCAL_PORT.to_string()])
        .args(["--remote-port", &remote_port]);
    let log = world.dir.path().join("portforward.log");
    let mut forward = Supervised::spawn("ali-instance-cli portforward", cmd, &log).unwrap();
    forward
        .line("Waiting for connections", LIMIT)
        .await
        .unwrap();
    let local = SocketAddr::from((Ipv4Addr::LOCALHOST, LOCAL_PORT));
    for n in 0..2 {
        let mut conn = world.ns.connect(local).unwrap();
        let sent = format!("stock-portforward-{n}\n");
        conn.write_all(sent.as_bytes()).await.unwrap();
        // The client reads nothing from a new connection for its first 3 s.
        let mut back = vec![0u8; sent.len()];
        tokio::time::timeout(LIMIT, conn.read_exact(&mut back))
            .await
            .unwrap_or_else(|_| panic!("no echo within {LIMIT:?}; {}", process::tail(&log, 20)))
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&back), sent);
        // The stock client never closes a local connection itself: this one is left as it is.
    }
    assert_eq!(echo.accepted.load(Ordering::SeqCst), 2);
}

/// `ssh --instance` as OpenSSH's ProxyCommand, to an sshd on the instance's port 22 (the
/// client's default `PortNumber`).
async fn ssh_runs_a_command_through_proxycommand() {
    let world = World::start().await;
    let keys = Keys::generate(world.dir.path(), "stock-client").unwrap();
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 22));
    let _sshd = Sshd::start(&world.ns, listen, &keys, world.dir.path()).await;
    let proxy = format!("ProxyCommand={} ssh --instance %h", world.cli.display());
    let mut cmd = process::command(&world.ns.launcher(), "ssh");
    cmd.args(keys.client_options())
        .args(["-o", &proxy, &format!("root@{}", world.instance)])
        .arg("echo ssh-$((6*7))")
        .envs(world.env.clone());
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    let out = tokio::time::timeout(LIMIT, cmd.output())
        .await
        .expect("ssh did not finish in time")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ssh-42"),
        "{}: {stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One region in a namespace of its own: control plane (plain and HTTPS), gateway, one
/// registered agent, `axt proxy`, and the stock client configured with a profile. Fields drop
/// in order: the processes, then the session user, the namespace, its hosts file, the files.
struct World {
    processes: Vec<Supervised>,
    user: SessionUser,
    ns: Namespace,
    _hosts: NetnsHosts,
    /// The managed instance the agent registered as.
    instance: String,
    /// The client's copy in `dir`: it writes its log beside itself, in `dir/bin/log`.
    cli: PathBuf,
    /// The client's environment: its home (and profile), the proxy, the lab CA.
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

impl World {
    async fn start() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = tempfile::tempdir().unwrap();
        let ns = Namespace::create(&format!("axtstock{}-{n}", std::process::id())).unwrap();
        let hosts = NetnsHosts::write(
            ns.name(),
            &format!(
                "127.0.0.1 localhost\n::1 localhost\n{} {GATEWAY_NAME}\n",
                GATEWAY_ADDR.ip()
            ),
        );
        let user = SessionUser::new();
        let mut world = Self {
            processes: Vec::new(),
            user,
            ns,
            _hosts: hosts,
            instance: String::new(),
            cli: dir.path().join("bin").join(CLI),
            env: Vec::new(),
            dir,
        };
        let (api, https) = world.control_plane().await;
        world.gateway(api).await;
        let proxy = world.proxy(https).await;
        world.instance = world.agent(api).await;
        world.client(proxy).await;
        world
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The lab CA's certificate, which the control plane makes and the gateway shares.
    fn ca(&self) -> PathBuf {
        self.path("ca").join(axt_kit::tls::CA_FILE)
    }

    /// Starts `program` in the namespace with its log in `<name>.log`.
    fn spawn(&mut self, name: &str, cmd: std::process::Command) -> &mut Supervised {
        let log = self.path(&format!("{name}.log"));
        let process = Supervised::spawn(name, cmd, &log).unwrap();
        self.processes.push(process);
        self.processes.last_mut().unwrap()
    }

    /// The control plane on port 0, plain and HTTPS; returns both addresses.
    async fn control_plane(&mut self) -> (SocketAddr, SocketAddr) {
        let data = self.path("cp");
        let mut cmd = process::command(&self.ns.launcher(), bin("axt-control-plane"));
        cmd.arg("--data-dir").arg(&data);
        cmd.arg("--ca-dir").arg(self.path("ca"));
        cmd.args(["--listen", "127.0.0.1:0", "--https-listen", "127.0.0.1:0"])
            .args(["--gateway-url", &format!("wss://{GATEWAY_NAME}")])
            .args(["--internal-token", INTERNAL_TOKEN])
            .args(["--admin-access-key-id", KEY_ID])
            .args(["--admin-access-key-secret", SECRET]);
        let plane = self.spawn("control-plane", cmd);
        let line = plane
            .line("control plane listening addr=", LIMIT)
            .await
            .unwrap();
        let api = word_after(&line, "addr=").parse().unwrap();
        let https_file = data.join("https-addr");
        let https = plane
            .ready("writing https-addr", LIMIT, || read_addr(&https_file))
            .await
            .unwrap();
        (api, https)
    }

    async fn gateway(&mut self, api: SocketAddr) {
        let mut cmd = process::command(&self.ns.launcher(), bin("axt-gateway"));
        cmd.arg("--data-dir").arg(self.path("gw"));
        cmd.arg("--ca-dir").arg(self.path("ca"));
        cmd.args(["--listen", &GATEWAY_ADDR.to_string()])
            .args(["--public-url", &format!("wss://{GATEWAY_NAME}")])
            .args(["--control-plane", &format!("http://{api}")])
            .args(["--internal-token", INTERNAL_TOKEN]);
        let gateway = self.spawn("gateway", cmd);
        gateway.line("gateway listening", LIMIT).await.unwrap();
    }

    /// `axt proxy` for the API names (to the HTTPS listener) and the gateway's; its address.
    async fn proxy(&mut self, https: SocketAddr) -> SocketAddr {
        let addr_file = self.path("proxy-addr");
        let mut cmd = process::command(&self.ns.launcher(), bin("axt"));
        cmd.args(["--region", REGION, "proxy", "--listen", "127.0.0.1:0"])
            .args(["--api", &https.to_string()])
            .args(["--gateway", &GATEWAY_ADDR.to_string()])
            .arg("--addr-file")
            .arg(&addr_file);
        let proxy = self.spawn("axt-proxy", cmd);
        proxy
            .ready("writing its address", LIMIT, || read_addr(&addr_file))
            .await
            .unwrap()
    }

    /// Registers and runs `axt-agent` against the gateway by its name; the instance id once
    /// its kick channel is open.
    async fn agent(&mut self, api: SocketAddr) -> String {
        let mut call = process::command(&self.ns.launcher(), bin("axt"));
        call.args(["--endpoint", &api.to_string(), "--region", REGION])
            .args(["--access-key-id", KEY_ID, "--access-key-secret", SECRET])
            .args(["api", "CreateActivation"])
            // A home without ~/.aliyun: no profile of this machine's user gets in the way.
            .env("HOME", self.dir.path());
        let out = tokio::time::timeout(LIMIT, tokio::process::Command::from(call).output())
            .await
            .expect("CreateActivation in time")
            .unwrap();
        let act: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("CreateActivation: {e}: {out:?}"));
        let field = |name: &str| act[name].as_str().unwrap_or_default().to_owned();
        let state = self.path("agent");
        let mut register = process::command(&self.ns.launcher(), bin("axt-agent"));
        register
            .args(["register", "--server", &format!("{GATEWAY_NAME}:443")])
            .args(["--region", REGION])
            .args(["--activation-code", &field("ActivationCode")])
            .args(["--activation-id", &field("ActivationId")])
            .arg("--state-dir")
            .arg(&state)
            .arg("--ca-cert")
            .arg(self.ca());
        let log = self.path("agent.log");
        run_to_end("agent register", register, &log, LIMIT)
            .await
            .unwrap();
        let mut run = process::command(&self.ns.launcher(), bin("axt-agent"));
        run.arg("run").arg("--state-dir").arg(&state);
        run.args(["--default-user", &self.user.name()])
            .env("RUST_LOG", "info");
        let agent = self.spawn("agent", run);
        agent.line("kick channel open", LIMIT).await.unwrap();
        std::fs::read_to_string(state.join("instance-id"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Copies the stock client into the world and gives it a profile, the aliyun way.
    async fn client(&mut self, proxy: SocketAddr) {
        let found = on_path(CLI).expect("checked before the stories ran");
        std::fs::create_dir_all(self.path("bin")).unwrap();
        std::fs::copy(found, &self.cli).unwrap();
        let home = self.path("home");
        std::fs::create_dir_all(&home).unwrap();
        self.env = vec![
            ("HOME".into(), home.display().to_string()),
            ("HTTPS_PROXY".into(), format!("http://{proxy}")),
            ("SSL_CERT_FILE".into(), self.ca().display().to_string()),
            // Empty is unset to Go: no setting of this machine's may bypass or replace the proxy.
            ("https_proxy".into(), String::new()),
            ("NO_PROXY".into(), String::new()),
            ("no_proxy".into(), String::new()),
        ];
        let mut cmd = self.cli(&["configure", "set", "--profile", "lab", "--mode", "AK"]);
        cmd.args(["--region", REGION, "--access-key-id", KEY_ID])
            .args(["--access-key-secret", SECRET]);
        run_to_end("configure", cmd, &self.path("configure.log"), LIMIT)
            .await
            .unwrap();
    }

    /// The command line that runs the client with `args` in the namespace.
    fn cli_line(&self, args: &[&str]) -> Vec<String> {
        let mut line = self.ns.launcher();
        line.push(self.cli.display().to_string());
        line.extend(args.iter().map(|a| a.to_string()));
        line
    }

    /// The client with `args` in the namespace, in its environment.
    fn cli(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = process::command(&self.ns.launcher(), &self.cli);
        cmd.args(args).envs(self.env.clone());
        cmd
    }

    /// Fails unless the control plane logged a call of `action` answered 200.
    fn plane_answered(&self, action: &str) {
        let log = self.path("control-plane.log");
        let line = LogWatch::from_start(&log).find(&format!("action=\"{action}\""));
        assert!(
            line.is_some_and(|line| line.contains("status=200")),
            "the control plane logged no {action} answered 200; {}",
            process::tail(&log, 30)
        );
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // The stock client reports WebSocket failures only in its own log.
        if std::thread::panicking() {
            let logs = std::fs::read_dir(self.path("bin/log"))
                .into_iter()
                .flatten();
            // Dated files, and a link to the newest: each once.
            let files = logs
                .flatten()
                .filter(|f| f.file_type().is_ok_and(|t| t.is_file()));
            for log in files {
                eprintln!("--- {CLI} ---\n{}", process::tail(&log.path(), 40));
            }
        }
    }
}

/// `/etc/netns/<ns>/hosts`, which `ip netns exec <ns>` mounts over `/etc/hosts`; removed on
/// drop, panics included.
struct NetnsHosts(PathBuf);

impl NetnsHosts {
    fn write(ns: &str, text: &str) -> Self {
        let dir = Path::new("/etc/netns").join(ns);
        std::fs::create_dir_all(&dir).unwrap();
        let hosts = Self(dir);
        std::fs::write(hosts.0.join("hosts"), text).unwrap();
        hosts
    }
}

impl Drop for NetnsHosts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The address a file holds, once it holds one.
fn read_addr(path: &Path) -> Option<SocketAddr> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The word after `key` in a log line.
fn word_after<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line.find(key).map_or(line.len(), |i| i + key.len());
    line[start..].split_whitespace().next().unwrap_or_default()
}

/// Where `program` is on `PATH`.
fn on_path(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}
