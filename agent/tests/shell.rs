//! Shell sessions of the real agent: commands on a PTY as the session user, input before the
//! PTY exists, duplicates, stops, refusals (`--max-sessions` among them) and data-channel
//! loss.

mod common;

use axt_proto::{agent_frame::AgentMessageType, identity, spec::SessionSpec};
use common::{identity_of, kick, shell_spec, Agent, DataSocket, Event, Luban};

#[tokio::test]
async fn a_kicked_shell_session_runs_commands_and_reports_ok() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let agent = Agent::registered(&luban, root.path(), &[]).await;
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
        text.contains(&format!("\n{}\r\n", agent.user())),
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
    let _agent = Agent::registered(&luban, root.path(), &[]).await;
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
    let _agent = Agent::registered(&luban, root.path(), &[]).await;
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
async fn unknown_users_and_malformed_commands_fail_with_open_pty_failed() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let _agent = Agent::registered(&luban, root.path(), &[]).await;
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

#[tokio::test]
async fn lost_channels_are_redialled_and_output_numbers_continue() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let _agent = Agent::registered(&luban, root.path(), &[]).await;
    let notify = luban.notify_socket().await;
    // The kick channel comes back after the server drops it.
    drop(notify);
    let mut notify = luban.notify_socket().await;

    luban.set_spec("c-re", shell_spec("c-re"));
    kick(&mut notify, "kick_vm session start c-re").await;
    let (mut data, _) = luban.data_socket("c-re").await;
    data.input("echo one-$((0+1))\n").await;
    let before = data.output_until("one-1").await;
    drop(data);
    let (mut data, _) = luban.data_socket("c-re").await;
    data.input("echo two-$((1+1))\n").await;
    let after = data.output_until("two-2").await;
    assert!(
        after[0].seq > before.last().unwrap().seq,
        "sequence numbers restarted"
    );
    // A CloseChannel frame ends the session normally.
    data.send(AgentMessageType::CloseChannel, b"").await;
    assert_eq!(luban.status("c-re").await, ("Success".into(), "Ok".into()));
}

#[tokio::test]
async fn a_command_that_leaves_a_background_job_still_ends() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let _agent = Agent::registered(&luban, root.path(), &[]).await;
    let mut notify = luban.notify_socket().await;
    let spec = SessionSpec {
        cmd_content: "sh -c 'sleep 600 & echo bg-$((3*3))'".into(),
        ..shell_spec("c-bg")
    };
    luban.set_spec("c-bg", spec);
    kick(&mut notify, "kick_vm session start c-bg").await;
    let (mut data, _) = luban.data_socket("c-bg").await;
    data.output_until("bg-9").await;
    assert_eq!(luban.status("c-bg").await, ("Success".into(), "Ok".into()));
}

#[tokio::test]
async fn a_start_beyond_max_sessions_is_refused_until_one_ends() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let agent = Agent::registered(&luban, root.path(), &["--max-sessions", "2"]).await;
    let mut notify = luban.notify_socket().await;

    let mut first = start(&mut luban, &mut notify, "c-one").await;
    let mut second = start(&mut luban, &mut notify, "c-two").await;

    luban.set_spec("c-three", shell_spec("c-three"));
    assert_eq!(
        kick(&mut notify, "kick_vm session start c-three").await,
        "accept:kick_vm session start c-three",
        "the kick is answered as any other"
    );
    assert_eq!(
        luban.status("c-three").await,
        ("Failed".into(), "Init_channel_failed".into())
    );
    // Refused before anything was set up: its spec was never pulled (a pull would have come
    // before the report).
    assert!(!luban.seen(|e| matches!(e, Event::SessionList(c) if c == "c-three")));
    let log = std::fs::read_to_string(agent.log()).unwrap();
    assert_eq!(
        log.matches("session refused").count(),
        1,
        "one line says why: {log}"
    );

    // The two running sessions were not disturbed.
    echo(&mut first, "one").await;
    echo(&mut second, "two").await;

    // One ends; its slot is free by the time its end is reported.
    first.input("exit\n").await;
    assert_eq!(luban.status("c-one").await, ("Success".into(), "Ok".into()));
    let mut fourth = start(&mut luban, &mut notify, "c-four").await;
    echo(&mut second, "two-again").await;

    fourth.input("exit\n").await;
    assert_eq!(
        luban.status("c-four").await,
        ("Success".into(), "Ok".into())
    );
    second.input("exit\n").await;
    assert_eq!(luban.status("c-two").await, ("Success".into(), "Ok".into()));
}

/// Kicks a shell session for `channel` and waits until its shell answers.
async fn start(
    luban: &mut Luban,
    notify: &mut axum::extract::ws::WebSocket,
    channel: &str,
) -> DataSocket {
    luban.set_spec(channel, shell_spec(channel));
    kick(notify, &format!("kick_vm session start {channel}")).await;
    let (mut data, _) = luban.data_socket(channel).await;
    echo(&mut data, channel).await;
    data
}

/// Runs an echo in the shell and waits for its output (computed, so that the terminal's echo
/// of the input does not count).
async fn echo(data: &mut DataSocket, tag: &str) {
    data.input(&format!("echo {tag}-$((20+22))\n")).await;
    data.output_until(&format!("{tag}-42")).await;
}
