//! The agent's life against an in-test luban server: registration, the identity on every
//! request, kick replies and redials, and shutdown on SIGTERM.

mod common;

use std::os::unix::fs::PermissionsExt as _;

use axt_proto::identity;
use common::{identity_of, kick, register, shell_spec, Agent, Event, Luban};

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
    )
    .await;
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
    assert_eq!(body.agent_version, "2.4.3.1");
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
    let (ok, _, stderr) = register(luban.addr, &refused, "bad", &[]).await;
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
    let _agent = Agent::registered(&luban, root.path(), &[]).await;
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
    assert!(ua.starts_with("linux_") && ua.ends_with("/2.4.3.1"), "{ua}");
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
async fn sigterm_stops_sessions_reports_them_and_exits() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let mut agent = Agent::registered(&luban, root.path(), &[]).await;
    let mut notify = luban.notify_socket().await;
    luban.set_spec("c-term", shell_spec("c-term"));
    kick(&mut notify, "kick_vm session start c-term").await;
    let (mut data, _) = luban.data_socket("c-term").await;
    data.input("echo up-$((5*5))\n").await;
    data.output_until("up-25").await;
    agent.terminate();
    assert_eq!(
        luban.status("c-term").await,
        ("Success".into(), "Notified".into())
    );
    let status = agent.wait_exit().await;
    assert!(status.success(), "{status}");
}
