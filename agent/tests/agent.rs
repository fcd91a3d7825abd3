//! The real `axt-agent` binary against an in-test luban server on 127.0.0.1: registration,
//! heart-beat identity, kicks, shell and port sessions, and their result reports.

mod common;

use std::os::unix::fs::PermissionsExt as _;

use axt_proto::{agent_frame::AgentMessageType, identity, spec::SessionSpec};
use common::{identity_of, kick, register, session_user, Agent, Event, Luban};

fn shell_spec(channel: &str) -> SessionSpec {
    SessionSpec {
        channel_id: channel.into(),
        ..Default::default()
    }
}

fn port_spec(channel: &str, host: &str, port: &str) -> SessionSpec {
    SessionSpec {
        channel_id: channel.into(),
        target_host: host.into(),
        port_number: port.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn register_writes_private_state_and_a_refusal_writes_nothing() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join("state");
    let (ok, stdout, stderr) = register(
        luban.addr,
        &state,
        "good",
        &["--claim-instance", "i-claimed1", "--region", "cn-test"],
    );
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "instance id: i-claimed1");
    let body = luban
        .wait_for(
            "registration",
            |e| matches!(e, Event::Registered(_)),
            |e| match e {
                Event::Registered(body) => body,
                _ => unreachable!(),
            },
        )
        .await;
    assert_eq!(
        (body.activation_id.as_str(), body.region_id.as_str()),
        ("act-test", "cn-test")
    );
    assert_eq!(body.agent_version, "2.3.0.1");
    let read = |name: &str| std::fs::read_to_string(state.join(name)).unwrap();
    assert_eq!(read("instance-id").trim(), "i-claimed1");
    assert_eq!(read("machine-id").trim(), body.machine_id);
    assert_eq!(
        axt_proto::luban::unwrap_public_key(&body.public_key)
            .unwrap()
            .trim(),
        read("pub-key").trim()
    );
    assert!(read("pri-key").contains("BEGIN RSA PRIVATE KEY"));
    let json: serde_json::Value = serde_json::from_str(&read("agent.json")).unwrap();
    assert_eq!(
        (json["server"].as_str().unwrap(), json["plain"].as_bool()),
        (luban.addr.to_string().as_str(), Some(true))
    );
    for name in [
        "instance-id",
        "machine-id",
        "pri-key",
        "pub-key",
        "agent.json",
    ] {
        let mode = std::fs::metadata(state.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }

    let refused = root.path().join("refused");
    let (ok, _, stderr) = register(luban.addr, &refused, "bad", &[]);
    assert!(!ok);
    assert!(
        stderr.contains("register failed") && stderr.contains("bad activation"),
        "{stderr}"
    );
    assert!(!refused.join("instance-id").exists() && !refused.join("pri-key").exists());
}

#[tokio::test]
async fn heartbeats_and_upgrades_carry_a_valid_identity() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let _agent = Agent::registered(&luban, root.path(), &[]);
    let state = root.path().join("state");
    let public = std::fs::read_to_string(state.join("pub-key")).unwrap();
    let machine = std::fs::read_to_string(state.join("machine-id")).unwrap();
    let (query, headers) = luban
        .wait_for(
            "a heart-beat",
            |e| matches!(e, Event::Heartbeat { .. }),
            |e| match e {
                Event::Heartbeat { query, headers } => (query, headers),
                _ => unreachable!(),
            },
        )
        .await;
    let id = identity_of(&headers);
    assert_eq!(id.instance_id, "mi-test000001");
    identity::verify(&public, machine.trim(), &id).unwrap();
    let ua = headers["user-agent"].to_str().unwrap();
    assert!(ua.starts_with("linux_") && ua.ends_with("/2.3.0.1"), "{ua}");
    for key in [
        "uptime",
        "timestamp",
        "pid",
        "process_uptime",
        "index",
        "seq_no",
        "virt_type",
        "os_version",
        "az",
        "cold_start",
    ] {
        assert!(query.contains_key(key), "no {key} in {query:?}");
    }
    assert_eq!(query["machineid"], machine.trim());
    assert_eq!(
        (query["index"].as_str(), query["seq_no"].as_str()),
        ("0", "0")
    );

    // The kick channel replies to every text frame, understood or not.
    let mut notify = luban.notify_socket().await;
    assert_eq!(
        kick(&mut notify, "kick_vm noop").await,
        "accept:kick_vm noop"
    );
    assert_eq!(kick(&mut notify, "hello world").await, "unknow:hello world");
}

#[tokio::test]
async fn a_kicked_shell_session_runs_commands_and_reports_ok() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let _agent = Agent::registered(&luban, root.path(), &[]);
    let public = std::fs::read_to_string(root.path().join("state/pub-key")).unwrap();
    let machine = std::fs::read_to_string(root.path().join("state/machine-id")).unwrap();
    let mut notify = luban.notify_socket().await;
    luban.set_spec("c-1", shell_spec("c-1"));
    assert_eq!(
        kick(&mut notify, "kick_vm session start c-1").await,
        "accept:kick_vm session start c-1"
    );
    luban
        .wait_for(
            "session/list",
            |e| matches!(e, Event::SessionList(c) if c == "c-1"),
            drop,
        )
        .await;
    let (mut data, headers) = luban.data_socket("c-1").await;
    identity::verify(&public, machine.trim(), &identity_of(&headers)).unwrap();

    data.input("echo hello-$((6*7)); whoami; echo done-$((1+2))\n")
        .await;
    let frames = data.output_until("done-3").await;
    let text: String = frames
        .iter()
        .map(|f| String::from_utf8_lossy(&f.payload).into_owned())
        .collect();
    assert!(text.contains("hello-42\r\n"), "{text:?}");
    assert!(
        text.contains(&format!("\n{}\r\n", session_user())),
        "{text:?}"
    );
    for (i, frame) in frames.iter().enumerate() {
        assert_eq!(
            (frame.kind, frame.channel_id.as_str(), frame.seq),
            (AgentMessageType::Output, "c-1", i as i64)
        );
        assert_eq!(frame.schema, "1.01");
        assert!(frame.payload.len() <= 1024);
    }
    data.input("exit\n").await;
    assert_eq!(luban.status("c-1").await, ("Success".into(), "Ok".into()));
}

#[tokio::test]
async fn input_and_size_sent_before_the_pty_exists_are_not_lost() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let _agent = Agent::registered(&luban, root.path(), &[]);
    let mut notify = luban.notify_socket().await;
    luban.set_spec("c-early", shell_spec("c-early"));
    kick(&mut notify, "kick_vm session start c-early").await;
    let (mut data, _) = luban.data_socket("c-early").await;
    // At once after the upgrade: the agent has not started the shell yet.
    data.set_size(100, 30).await;
    data.input("stty size; echo early-$((1+1))\n").await;
    data.output_until("early-2").await;
    // stty's answer comes before the echo's.
    data.input("stty size\n").await;
    data.output_until("30 100").await;
    data.input("exit\n").await;
    assert_eq!(
        luban.status("c-early").await,
        ("Success".into(), "Ok".into())
    );
}

#[tokio::test]
async fn a_duplicate_start_is_refused_and_a_stop_kills_the_shell() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let _agent = Agent::registered(&luban, root.path(), &[]);
    let mut notify = luban.notify_socket().await;
    luban.set_spec("c-dup", shell_spec("c-dup"));
    kick(&mut notify, "kick_vm session start c-dup").await;
    let (mut data, _) = luban.data_socket("c-dup").await;
    data.input("echo pid=$$.$((1+1))x\n").await;
    let frames = data.output_until(".2x").await;
    let text: String = frames
        .iter()
        .map(|f| String::from_utf8_lossy(&f.payload).into_owned())
        .collect();
    let pid: u32 = text
        .rsplit("pid=")
        .next()
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());

    kick(&mut notify, "kick_vm session start c-dup").await;
    assert_eq!(
        luban.status("c-dup").await,
        ("Failed".into(), "Session_id_duplicate".into())
    );
    // The first session goes on.
    data.input("echo still-$((2*3))\n").await;
    data.output_until("still-6").await;

    kick(&mut notify, "kick_vm session stop c-dup").await;
    assert_eq!(
        luban.status("c-dup").await,
        ("Success".into(), "Notified".into())
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the shell {pid} survived the stop"
    );
}

#[tokio::test]
async fn a_port_session_relays_bytes_and_reports_ok_when_the_target_closes() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let _agent = Agent::registered(&luban, root.path(), &[]);
    // A one-shot echo server: echoes one read, then closes.
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = target.local_addr().unwrap().port().to_string();
    let echo = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (mut stream, _) = target.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = stream.read(&mut buf).await.unwrap();
        stream.write_all(&buf[..n]).await.unwrap();
    });
    let mut notify = luban.notify_socket().await;
    luban.set_spec("c-port", port_spec("c-port", "127.0.0.1", &port));
    kick(&mut notify, "kick_vm session start c-port").await;
    let (mut data, _) = luban.data_socket("c-port").await;
    data.input("ping-over-tcp").await;
    let frames = data.output_until("ping-over-tcp").await;
    assert_eq!(frames[0].seq, 0);
    tokio::time::timeout(common::WAIT, echo)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        luban.status("c-port").await,
        ("Success".into(), "Ok".into())
    );
}

#[tokio::test]
async fn refused_targets_fail_with_open_port_failed_without_a_connection() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    // A listener the deny-list covers: it must never see a connection.
    let watched = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    watched.set_nonblocking(true).unwrap();
    let port = watched.local_addr().unwrap().port().to_string();
    let _agent = Agent::registered(&luban, root.path(), &["--deny", "127.0.0.1/32"]);
    let mut notify = luban.notify_socket().await;

    luban.set_spec("c-meta", port_spec("c-meta", "169.254.169.254", "80"));
    kick(&mut notify, "kick_vm session start c-meta").await;
    assert_eq!(
        luban.status("c-meta").await,
        ("Failed".into(), "Open_port_failed".into())
    );

    luban.set_spec("c-denied", port_spec("c-denied", "127.0.0.1", &port));
    kick(&mut notify, "kick_vm session start c-denied").await;
    assert_eq!(
        luban.status("c-denied").await,
        ("Failed".into(), "Open_port_failed".into())
    );
    // The report comes after the agent's decision: a dial would already be in the backlog.
    match watched.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the denied target was dialled: {other:?}"),
    }
}

#[tokio::test]
async fn unknown_users_and_malformed_commands_fail_with_open_pty_failed() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let _agent = Agent::registered(&luban, root.path(), &[]);
    let mut notify = luban.notify_socket().await;
    for (channel, spec) in [
        (
            "c-nouser",
            SessionSpec {
                username: "axt-no-such-user".into(),
                ..shell_spec("c-nouser")
            },
        ),
        (
            "c-root",
            SessionSpec {
                username: "root".into(),
                ..shell_spec("c-root")
            },
        ),
        (
            "c-quote",
            SessionSpec {
                cmd_content: "echo 'unclosed".into(),
                ..shell_spec("c-quote")
            },
        ),
    ] {
        luban.set_spec(channel, spec);
        kick(&mut notify, &format!("kick_vm session start {channel}")).await;
        assert_eq!(
            luban.status(channel).await,
            ("Failed".into(), "Open_pty_failed".into()),
            "{channel}"
        );
    }
    // A command line runs directly on the PTY and its end is the session's end.
    luban.set_spec(
        "c-cmd",
        SessionSpec {
            cmd_content: "sh -c 'echo cmd-ok; tty'".into(),
            ..shell_spec("c-cmd")
        },
    );
    kick(&mut notify, "kick_vm session start c-cmd").await;
    let (mut data, _) = luban.data_socket("c-cmd").await;
    data.output_until("/dev/pts/").await;
    assert_eq!(luban.status("c-cmd").await, ("Success".into(), "Ok".into()));
}
