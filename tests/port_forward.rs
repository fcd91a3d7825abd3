//! Port forwarding and SSH across real hosts. Each story builds its own network lab
//! (`axt_e2e::netns`): a client host running `axt`, ssh and scp; an instance host running the
//! real `axt-agent`; a private target host that only the instance reaches; and, in this
//! process on the root namespace's address, the control plane and the gateway. No namespace
//! has a default route, so nothing here can send a packet off the machine.
//!
//! These stories need root, iproute2 and OpenSSH (`.ci/run` installs them). Without them
//! they print why and pass, except under `CI=true`, where that is a failure.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    process::{Output, Stdio},
    time::{Duration, Instant},
};

use axt_e2e::{
    bin,
    netns::{self, Echo, Lab, Lines, SshKeys, Sshd, IP, SSHD},
    wait_for, Stack,
};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    process::{Child, Command},
};

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
    /// Builds everything, or `None` (after saying why) when this machine cannot.
    async fn start(
        test: &str,
        programs: &[&str],
        cp_flags: &[&str],
        hosts: Option<fn(&Lab) -> String>,
    ) -> Option<Self> {
        let mut needs = vec![IP];
        needs.extend_from_slice(programs);
        if !netns::available(test, &needs) {
            return None;
        }
        let lab = Lab::create();
        let mut stack = Stack::start_on(IpAddr::V4(lab.host), cp_flags, &[]).await;
        let launcher = match hosts {
            // The agent's own /etc/hosts: the system's plus `extra`, in the agent's private
            // mount namespace only.
            Some(extra) => {
                let system = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
                let path = lab.dir.path().join("hosts");
                std::fs::write(&path, format!("{system}\n{}\n", extra(&lab))).unwrap();
                lab.instance.launcher_with_hosts(&path)
            }
            None => lab.instance.launcher(),
        };
        let instance = stack.agent_via(&launcher, &[]).await;
        Some(Self {
            stack,
            instance,
            lab,
        })
    }

    /// `axt` on the client host, with the lab's credentials, endpoint and CA.
    fn axt(&self) -> Command {
        let mut cmd = self.lab.client.command(bin("axt"));
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
        let mut cmd = self.axt();
        cmd.args(["portforward", "--instance", &self.instance])
            .args([
                "--target-server",
                target,
                "--remote-port",
                &port.to_string(),
            ])
            .args(["--local-port", "0"]);
        let mut child = spawn_piped(cmd);
        let mut stdout = Lines::read("axt portforward", child.stdout.take().unwrap());
        let stderr = Lines::read("axt portforward stderr", child.stderr.take().unwrap());
        // "Port forwarding for SessionId: s-…, local port N, remote port R"
        let line = stdout.expect("local port", LIMIT).await;
        let session = between(&line, "SessionId: ", ",").to_owned();
        let local_port = between(&line, "local port ", ",").parse().unwrap();
        stdout.expect("Waiting for connections", LIMIT).await;
        Forward {
            child,
            session,
            local: SocketAddr::from((Ipv4Addr::LOCALHOST, local_port)),
            stdout,
            stderr,
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

/// A running `axt portforward`.
struct Forward {
    child: Child,
    session: String,
    /// Where it listens on the client host.
    local: SocketAddr,
    stdout: Lines,
    stderr: Lines,
}

impl Forward {
    /// Ctrl-C (SIGINT, to its pid): it closes its connections, ends the session and exits 0.
    async fn interrupt(mut self) -> Self {
        let pid = nix::unistd::Pid::from_raw(self.child.id().unwrap() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
        let status = tokio::time::timeout(LIMIT, self.child.wait())
            .await
            .expect("axt portforward did not exit after SIGINT")
            .unwrap();
        assert!(status.success(), "axt portforward: {status}");
        self
    }
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

/// Polls `probe` every 50 ms until what it returns satisfies `done`, for at most `LIMIT`;
/// returns that, or panics with the last answer. For the records, which the gateway writes
/// after it has closed the client's WebSocket.
async fn eventually<T: std::fmt::Debug, F: std::future::Future<Output = T>>(
    what: &str,
    mut probe: impl FnMut() -> F,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + LIMIT;
    loop {
        let answer = probe().await;
        if done(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {LIMIT:?}; last: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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

#[tokio::test(flavor = "multi_thread")]
async fn ssh_runs_commands_on_a_private_host_and_on_the_instance() {
    let Some(w) = World::start(
        "ssh_runs_commands_on_a_private_host_and_on_the_instance",
        &[SSHD, "ssh", "ssh-keygen"],
        &[],
        None,
    )
    .await
    else {
        return;
    };
    let keys = SshKeys::generate(w.lab.dir.path());
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
    let mut ssh = w.lab.client.command("ssh");
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
    let mut ssh = w.lab.client.command("ssh");
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

#[tokio::test(flavor = "multi_thread")]
async fn scp_of_32_mib_through_portforward_arrives_intact() {
    let Some(w) = World::start(
        "scp_of_32_mib_through_portforward_arrives_intact",
        &[SSHD, "ssh", "scp", "ssh-keygen"],
        // No bandwidth cap: at the default 200 KB/s, 32 MiB would take minutes.
        &["--session-rate-limit", "0"],
        None,
    )
    .await
    else {
        return;
    };
    let dir = w.lab.dir.path();
    let keys = SshKeys::generate(dir);
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
    let mut scp = w.lab.client.command("scp");
    scp.args(keys.client_options())
        .args(["-q", "-P", &forward.local.port().to_string()])
        .arg(&source)
        .arg(format!("root@127.0.0.1:{}", copy.display()));
    let started = Instant::now();
    let out = run(scp, Duration::from_secs(300)).await;
    assert!(out.status.success(), "{out:?}");
    eprintln!("scp of 32 MiB took {:?}", started.elapsed());
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

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_connections_each_get_their_own_data() {
    const CONNECTIONS: usize = 50;
    const SIZE: usize = 16 * 1024;
    let Some(w) = World::start(
        "fifty_concurrent_connections_each_get_their_own_data",
        &[],
        &[],
        None,
    )
    .await
    else {
        return;
    };
    let echo = Echo::serve(
        w.lab
            .target
            .listen(SocketAddr::from((w.lab.target_ip, ECHO_PORT))),
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

    let started = Instant::now();
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
    eprintln!(
        "{CONNECTIONS} × {SIZE} bytes echoed in {:?}",
        started.elapsed()
    );
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

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_target_is_a_clear_error_and_the_session_ends() {
    let Some(w) = World::start(
        "a_refused_target_is_a_clear_error_and_the_session_ends",
        &[],
        &[],
        None,
    )
    .await
    else {
        return;
    };
    let target = w.lab.target_ip.to_string();
    let _echo = Echo::serve(
        w.lab
            .target
            .listen(SocketAddr::from((w.lab.target_ip, ECHO_PORT))),
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
    forward.stderr.expect("Open_port_failed", LIMIT).await;
    forward.stdout.expect("closed", LIMIT).await;
    let forward = forward.interrupt().await;
    w.ended(&forward.session).await;
    assert_open_port_failed(&w, &forward.session).await;

    // The agent is none the worse: the next session reaches an open port.
    let out = w.axt_ssh(&target, ECHO_PORT, b"still-here\n").await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "still-here\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deny_list_holds_for_metadata_addresses_and_names() {
    let Some(w) = World::start(
        "the_deny_list_holds_for_metadata_addresses_and_names",
        &[],
        &[],
        // Names for the agent only (its own /etc/hosts, in its own mount namespace).
        Some(|lab| {
            format!(
                "{} target.axt-lab.test\n{METADATA} metadata.axt-lab.test",
                lab.target_ip
            )
        }),
    )
    .await
    else {
        return;
    };
    for ns in [&w.lab.client, &w.lab.instance, &w.lab.target] {
        let out = std::process::Command::new(IP)
            .args(["-n", &ns.name, "route", "show", "default"])
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stdout.is_empty(),
            "{}: {out:?}",
            ns.name
        );
    }

    // The metadata address is live on the target host and routed from the instance host:
    // the deny-list is all that stands between the agent and it.
    w.lab.serve_on_target(METADATA);
    let metadata = Echo::serve(w.lab.target.listen(SocketAddr::from((METADATA, 80))));
    let _echo = Echo::serve(
        w.lab
            .target
            .listen(SocketAddr::from((w.lab.target_ip, ECHO_PORT))),
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
