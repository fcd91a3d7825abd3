//! Port forwarding and SSH across real hosts. Each story builds its own network lab
//! (`axt_e2e::netns`): a client host running `axt`, ssh and scp; an instance host running the
//! real `axt-agent`; a private target host that only the instance reaches; and, in this
//! process on the root namespace's address, the control plane and the gateway. No namespace
//! has a default route, so nothing here can send a packet off the machine.
//!
//! These stories need root, iproute2 and OpenSSH (`.ci/run` installs them). Without them they
//! show as ignored, except under `CI=true`, where they run and fail.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    process::{Output, Stdio},
    time::Duration,
};

use axt_e2e::{
    bin,
    netns::{self, Echo, Lab, Sshd},
    wait_for, Stack,
};
use axt_kit::{
    netns::{Namespace, IP},
    process::Supervised,
    sshd::{Keys, SSHD},
};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    process::{Child, Command},
};

axt_e2e::stories! {
    needs [IP, SSHD, "ssh", "scp", "ssh-keygen"];
    ssh_runs_commands_on_a_private_host_and_on_the_instance,
    scp_of_32_mib_through_portforward_arrives_intact,
    fifty_concurrent_connections_each_get_their_own_data,
    a_refused_target_is_a_clear_error_and_the_session_ends,
    the_deny_list_holds_for_metadata_addresses_and_names,
}

const LIMIT: Duration = Duration::from_secs(30);
/// The link-local metadata address of most clouds; served in the lab by the target host.
const METADATA: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// The port of the echo servers on the target.
const ECHO_PORT: u16 = 7;
/// A port nothing listens on, on the target.
const CLOSED_PORT: u16 = 2222;

/// A lab, the stack on its host address, and an agent on its instance host. The stack (and
/// with it the agent) goes before the lab.
struct World {
    stack: Stack,
    instance: String,
    lab: Lab,
}

impl World {
    /// Builds everything.
    async fn start(cp_flags: &[&str], hosts: Option<fn(&Lab) -> String>) -> Self {
        let lab = Lab::create();
        let mut stack = Stack::start_on(IpAddr::V4(lab.host), cp_flags, &[]).await;
        let launcher = match hosts {
            // The agent's own /etc/hosts: the system's plus `extra`, in the agent's private
            // mount namespace only.
            Some(extra) => {
                let system = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
                let path = lab.dir.path().join("hosts");
                std::fs::write(&path, format!("{system}\n{}\n", extra(&lab))).unwrap();
                netns::launcher_with_hosts(&lab.instance, &path)
            }
            None => lab.instance.launcher(),
        };
        let instance = stack.agent_via(&launcher, &[]).await;
        Self {
            stack,
            instance,
            lab,
        }
    }

    /// `axt` on the client host, with the lab's credentials, endpoint and CA.
    fn axt(&self) -> Command {
        let mut cmd = on(&self.lab.client, bin("axt"));
        cmd.envs(self.stack.cli_env());
        cmd
    }

    /// `axt ssh --instance … --target-server TARGET --port PORT`, fed `input`; its output.
    async fn axt_ssh(&self, target: &str, port: u16, input: &[u8]) -> Output {
        let mut cmd = self.axt();
        cmd.args([
            "ssh",
            "--instance",
            &self.instance,
            "--target-server",
            target,
        ])
        .args(["--port", &port.to_string()])
        .stdin(Stdio::piped());
        let mut child = spawn_piped(cmd);
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).await.unwrap();
        drop(stdin);
        finish(child, LIMIT).await
    }

    /// `axt portforward` on the client host to `target:port`, once it listens.
    async fn portforward(&self, target: &str, port: u16) -> Forward {
        let mut cmd = axt_kit::process::command(&self.lab.client.launcher(), bin("axt"));
        cmd.envs(self.stack.cli_env())
            .args(["portforward", "--instance", &self.instance])
            .args([
                "--target-server",
                target,
                "--remote-port",
                &port.to_string(),
            ])
            .args(["--local-port", "0"]);
        let log = self.lab.dir.path().join(format!("portforward-{port}.log"));
        let mut process = Supervised::spawn("axt portforward", cmd, &log).unwrap();
        // "Port forwarding for SessionId: s-…, local port N, remote port R"
        let line = process.line("local port", LIMIT).await.unwrap();
        let session = between(&line, "SessionId: ", ",").to_owned();
        let local_port = between(&line, "local port ", ",").parse().unwrap();
        process
            .line("Waiting for connections", LIMIT)
            .await
            .unwrap();
        Forward {
            process,
            session,
            local: SocketAddr::from((Ipv4Addr::LOCALHOST, local_port)),
        }
    }

    /// The newest session as DescribeTerminalSessions shows it.
    async fn newest_session(&self) -> Value {
        let (status, body) = self
            .stack
            .api()
            .call("DescribeTerminalSessions", &[("RegionId", axt_e2e::REGION)])
            .await;
        assert_eq!(status, 200, "{body}");
        body["Sessions"]["Session"][0].clone()
    }

    /// Asserts that the session was ended (EndTerminalSession) and returns its record.
    async fn ended(&self, session_id: &str) -> axt_control_plane::store::Session {
        let session = self
            .stack
            .plane
            .store
            .session(session_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            session.state,
            axt_proto::status::SessionState::Ended,
            "{session:?}"
        );
        session
    }
}

/// A running `axt portforward` (what it prints is in its log).
struct Forward {
    process: Supervised,
    session: String,
    /// Where it listens on the client host.
    local: SocketAddr,
}

impl Forward {
    /// Ctrl-C (SIGINT, to its pid): it closes its connections, ends the session and exits 0.
    async fn interrupt(mut self) -> Self {
        self.process.interrupt();
        let status = self.process.wait_exit(LIMIT).await.unwrap();
        assert!(status.success(), "axt portforward: {status}");
        self
    }
}

/// `program` on host `ns`: no stdin, no proxy settings, killed when dropped.
fn on(ns: &Namespace, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::from(axt_kit::process::command(&ns.launcher(), program));
    cmd.kill_on_drop(true);
    cmd
}

fn spawn_piped(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

/// Waits for `child` for at most `limit` (it is killed otherwise) and returns its output.
async fn finish(child: Child, limit: Duration) -> Output {
    let pid = child.id();
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(out) => out.unwrap(),
        Err(_) => panic!("process {pid:?} did not finish within {limit:?}"),
    }
}

/// Runs `cmd` to its end, for at most `limit`.
async fn run(cmd: Command, limit: Duration) -> Output {
    finish(spawn_piped(cmd), limit).await
}

fn between<'a>(line: &'a str, start: &str, end: &str) -> &'a str {
    let rest = &line[line
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} in {line:?}"))
        + start.len()..];
    rest.split(end).next().unwrap().trim()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sha256(path: &std::path::Path) -> String {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path).unwrap();
    std::io::copy(&mut file, &mut hasher).unwrap();
    format!("{:x}", hasher.finalize())
}

/// Asks `probe` until its answer satisfies `done`, for at most [`LIMIT`]: for the records,
/// which the gateway writes after it has closed the client's WebSocket.
async fn eventually<T: std::fmt::Debug, F: std::future::Future<Output = T>>(
    what: &str,
    probe: impl FnMut() -> F,
    done: impl Fn(&T) -> bool,
) -> T {
    axt_kit::wait::eventually(LIMIT, what, probe, done).await
}

/// Asserts that the (first) connection of a port session is recorded `Failed` with the
/// agent's `Open_port_failed`, and ended.
async fn assert_open_port_failed(w: &World, session_id: &str) {
    let connections = eventually(
        "the record of Open_port_failed",
        || w.stack.connections(session_id),
        |c: &Vec<Value>| {
            c.first()
                .is_some_and(|c| c["Status"] == "Failed" && c["FailedDetail"] == "Open_port_failed")
        },
    )
    .await;
    assert_ne!(connections[0]["EndTime"], "", "{connections:?}");
}

async fn ssh_runs_commands_on_a_private_host_and_on_the_instance() {
    let w = World::start(&[], None).await;
    let keys = Keys::generate(w.lab.dir.path(), "axt-e2e").unwrap();
    let target_ssh = SocketAddr::from((w.lab.target_ip, 22));
    let _target_sshd = Sshd::start(&w.lab.target, target_ssh, &keys, w.lab.dir.path()).await;
    let instance_ssh = SocketAddr::from((Ipv4Addr::LOCALHOST, 22));
    let _instance_sshd = Sshd::start(&w.lab.instance, instance_ssh, &keys, w.lab.dir.path()).await;
    // The client host has no way to the target but through the lab.
    let direct = w.lab.client.connect(target_ssh);
    assert!(direct.is_err(), "the client reached {target_ssh} directly");

    // ssh -o ProxyCommand="axt ssh …" to the private host: the target sees the connection
    // come from the instance host.
    let axt = bin("axt");
    let mut ssh = on(&w.lab.client, "ssh");
    ssh.envs(w.stack.cli_env())
        .args(keys.client_options())
        .arg("-o")
        .arg(format!(
            "ProxyCommand={} ssh --instance {} --target-server %h --port %p",
            axt.display(),
            w.instance,
        ))
        .arg(format!("root@{}", w.lab.target_ip))
        .arg("echo ok-$((6*7)); echo from $SSH_CONNECTION");
    let out = run(ssh, LIMIT).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("ok-42"), "{stdout}");
    let from: Vec<&str> = between(&stdout, "from ", "\n").split(' ').collect();
    assert_eq!(
        (from[0], from[2], from[3]),
        (
            &*w.lab.instance_private_ip.to_string(),
            &*w.lab.target_ip.to_string(),
            "22"
        ),
        "{stdout}"
    );
    let session = w.newest_session().await;
    assert_eq!(
        session["TargetServer"],
        w.lab.target_ip.to_string(),
        "{session}"
    );
    assert_eq!(session["PortNumber"], 22, "{session}");
    assert_eq!(
        session["Connections"]["Connection"][0]["Status"], "Terminated",
        "{session}"
    );
    w.ended(session["SessionId"].as_str().unwrap()).await;

    // The README's ~/.ssh/config stanza, to the instance's own sshd (on its loopback).
    let config = w.lab.dir.path().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host i-* mi-*\n\
             \x20   User root\n\
             \x20   ProxyCommand {} ssh --instance %h --port %p\n\
             \x20   IdentityFile {}\n\
             \x20   IdentitiesOnly yes\n\
             \x20   BatchMode yes\n\
             \x20   StrictHostKeyChecking no\n\
             \x20   UserKnownHostsFile /dev/null\n\
             \x20   LogLevel ERROR\n",
            axt.display(),
            keys.client_key.display()
        ),
    )
    .unwrap();
    let mut ssh = on(&w.lab.client, "ssh");
    ssh.envs(w.stack.cli_env())
        .arg("-F")
        .arg(&config)
        .arg(&w.instance)
        .arg("echo instance-$((6*7)); echo from $SSH_CONNECTION");
    let out = run(ssh, LIMIT).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("instance-42"), "{stdout}");
    let from: Vec<&str> = between(&stdout, "from ", "\n").split(' ').collect();
    assert_eq!((from[2], from[3]), ("127.0.0.1", "22"), "{stdout}");
    let session = w.newest_session().await;
    assert_eq!(session["TargetServer"], "", "{session}");
    w.ended(session["SessionId"].as_str().unwrap()).await;
}

async fn scp_of_32_mib_through_portforward_arrives_intact() {
    let w = World::start(
        // No bandwidth cap: at the default 200 KB/s, 32 MiB would take minutes.
        &["--session-rate-limit", "0"],
        None,
    )
    .await;
    let dir = w.lab.dir.path();
    let keys = Keys::generate(dir, "axt-e2e").unwrap();
    let target_ssh = SocketAddr::from((w.lab.target_ip, 22));
    let _sshd = Sshd::start(&w.lab.target, target_ssh, &keys, dir).await;
    let source = dir.join("random.bin");
    let mut random = std::fs::File::open("/dev/urandom").unwrap();
    let mut file = std::fs::File::create(&source).unwrap();
    let copied = std::io::copy(&mut std::io::Read::take(&mut random, 32 << 20), &mut file).unwrap();
    assert_eq!(copied, 32 << 20);
    drop(file);
    let target_dir = tempfile::tempdir().unwrap();
    let copy = target_dir.path().join("copy.bin");

    let forward = w.portforward(&w.lab.target_ip.to_string(), 22).await;
    let mut scp = on(&w.lab.client, "scp");
    scp.args(keys.client_options())
        .args(["-q", "-P", &forward.local.port().to_string()])
        .arg(&source)
        .arg(format!("root@127.0.0.1:{}", copy.display()));

    let out = run(scp, Duration::from_secs(300)).await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(sha256(&copy), sha256(&source));

    let forward = forward.interrupt().await;
    w.ended(&forward.session).await;
    // One connection, ended, with the whole copy counted.
    let store = &w.stack.plane.store;
    let connections = eventually(
        "the record of the copy's bytes",
        || async { store.connections(&forward.session).await.unwrap() },
        |c| c.iter().any(|c| c.bytes_in.max(c.bytes_out) >= 32 << 20),
    )
    .await;
    assert_eq!(connections.len(), 1, "{connections:?}");
    assert_eq!(
        connections[0].status,
        axt_proto::status::ConnectionStatus::Terminated,
        "{connections:?}"
    );
}

async fn fifty_concurrent_connections_each_get_their_own_data() {
    const CONNECTIONS: usize = 50;
    const SIZE: usize = 16 * 1024;
    let w = World::start(&[], None).await;
    let echo = Echo::serve(
        w.lab
            .target
            .listen(SocketAddr::from((w.lab.target_ip, ECHO_PORT)))
            .unwrap(),
    );
    let forward = w.portforward(&w.lab.target_ip.to_string(), ECHO_PORT).await;
    let local = forward.local;
    let streams = w.lab.client.enter(|| {
        (0..CONNECTIONS)
            .map(|_| std::net::TcpStream::connect_timeout(&local, LIMIT).unwrap())
            .collect::<Vec<_>>()
    });
    // Every connection is through to the target before any byte is sent: they are all open
    // at once.
    let active = echo.active.clone();
    wait_for(LIMIT, move || {
        active.load(std::sync::atomic::Ordering::SeqCst) == CONNECTIONS
    })
    .await;

    let mut tasks = tokio::task::JoinSet::new();
    for (i, stream) in streams.into_iter().enumerate() {
        stream.set_nonblocking(true).unwrap();
        let stream = tokio::net::TcpStream::from_std(stream).unwrap();
        tasks.spawn(async move {
            let data = payload(i, SIZE);
            let (mut read, mut write) = stream.into_split();
            let sent = data.clone();
            let writer = tokio::spawn(async move {
                write.write_all(&sent).await.unwrap();
                write.shutdown().await.unwrap();
            });
            let mut back = Vec::with_capacity(SIZE);
            read.read_to_end(&mut back).await.unwrap();
            writer.await.unwrap();
            (i, back == data, back.len())
        });
    }
    let results = tokio::time::timeout(Duration::from_secs(120), tasks.join_all())
        .await
        .expect("the connections did not finish in time");
    for (i, same, len) in results {
        assert!(same, "connection {i} got {len} bytes that are not its own");
    }
    assert_eq!(
        echo.peak.load(std::sync::atomic::Ordering::SeqCst),
        CONNECTIONS
    );
    assert_eq!(
        echo.accepted.load(std::sync::atomic::Ordering::SeqCst),
        CONNECTIONS
    );

    let forward = forward.interrupt().await;
    w.ended(&forward.session).await;
    let connections = w
        .stack
        .plane
        .store
        .connections(&forward.session)
        .await
        .unwrap();
    assert_eq!(connections.len(), CONNECTIONS, "{connections:?}");
    for connection in &connections {
        assert_eq!(
            connection.status,
            axt_proto::status::ConnectionStatus::Terminated,
            "{connection:?}"
        );
    }
}

/// `size` bytes no other connection sends: the index, then a stream seeded by it.
fn payload(i: usize, size: usize) -> Vec<u8> {
    let mut data = format!("connection-{i:02}:").into_bytes();
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (i as u64 + 1);
    while data.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.push((state >> 24) as u8);
    }
    data
}

async fn a_refused_target_is_a_clear_error_and_the_session_ends() {
    let w = World::start(&[], None).await;
    let target = w.lab.target_ip.to_string();
    let _echo = Echo::serve(
        w.lab
            .target
            .listen(SocketAddr::from((w.lab.target_ip, ECHO_PORT)))
            .unwrap(),
    );

    // axt ssh: exit 1 with the agent's reason; the record says the port did not open.
    let out = w.axt_ssh(&target, CLOSED_PORT, b"").await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Open_port_failed: session closed"),
        "{stderr}"
    );
    let session = w.newest_session().await;
    let id = session["SessionId"].as_str().unwrap();
    assert_open_port_failed(&w, id).await;
    w.ended(id).await;

    // axt portforward: the local connection is closed at once and the reason printed; the
    // forward keeps listening, and Ctrl-C ends the session.
    let mut forward = w.portforward(&target, CLOSED_PORT).await;
    let mut stream = w.lab.client.connect(forward.local).unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(LIMIT, stream.read(&mut buf))
        .await
        .expect("the local connection to a refused target stayed open");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    forward
        .process
        .line("Open_port_failed", LIMIT)
        .await
        .unwrap();
    forward.process.line("closed", LIMIT).await.unwrap();
    let forward = forward.interrupt().await;
    w.ended(&forward.session).await;
    assert_open_port_failed(&w, &forward.session).await;

    // The agent is none the worse: the next session reaches an open port.
    let out = w.axt_ssh(&target, ECHO_PORT, b"still-here\n").await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "still-here\n");
}

async fn the_deny_list_holds_for_metadata_addresses_and_names() {
    let w = World::start(
        &[],
        // Names for the agent only (its own /etc/hosts, in its own mount namespace).
        Some(|lab| {
            format!(
                "{} target.axt-lab.test\n{METADATA} metadata.axt-lab.test",
                lab.target_ip
            )
        }),
    )
    .await;
    for ns in [&w.lab.client, &w.lab.instance, &w.lab.target] {
        let out = std::process::Command::new(IP)
            .args(["-n", ns.name(), "route", "show", "default"])
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stdout.is_empty(),
            "{}: {out:?}",
            ns.name()
        );
    }

    // The metadata address is live on the target host and routed from the instance host:
    // the deny-list is all that stands between the agent and it.
    w.lab.serve_on_target(METADATA);
    let metadata = Echo::serve(
        w.lab
            .target
            .listen(SocketAddr::from((METADATA, 80)))
            .unwrap(),
    );
    let _echo = Echo::serve(
        w.lab
            .target
            .listen(SocketAddr::from((w.lab.target_ip, ECHO_PORT)))
            .unwrap(),
    );
    let probe = w
        .lab
        .instance
        .connect(SocketAddr::from((METADATA, 80)))
        .expect("the instance host reaches the metadata address");
    drop(probe);
    let accepted = metadata.accepted.clone();
    wait_for(LIMIT, move || {
        accepted.load(std::sync::atomic::Ordering::SeqCst) == 1
    })
    .await;

    // Names resolve in the agent: one that points at the target works.
    let out = w
        .axt_ssh("target.axt-lab.test", ECHO_PORT, b"by-name\n")
        .await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "by-name\n");
    assert_eq!(
        w.newest_session().await["Connections"]["Connection"][0]["Status"],
        "Terminated"
    );

    // The address itself, a name for it, its IPv4-mapped IPv6 form and its decimal form.
    for refused in [
        METADATA.to_string(),
        "metadata.axt-lab.test".to_owned(),
        format!("::ffff:{METADATA}"),
        u32::from(METADATA).to_string(),
    ] {
        let out = w.axt_ssh(&refused, 80, b"GET / HTTP/1.0\r\n\r\n").await;
        assert_eq!(out.status.code(), Some(1), "{refused}: {out:?}");
        assert!(out.stdout.is_empty(), "{refused}: {out:?}");
        assert!(
            text(&out.stderr).contains("Open_port_failed"),
            "{refused}: {out:?}"
        );
        let session = w.newest_session().await;
        assert_eq!(session["TargetServer"], refused.as_str(), "{session}");
        assert_open_port_failed(&w, session["SessionId"].as_str().unwrap()).await;
    }
    assert_eq!(
        metadata.accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "only the probe may have reached the metadata address"
    );
}
