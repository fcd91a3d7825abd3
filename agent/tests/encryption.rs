//! End-to-end encrypted shell sessions of the real agent, suite by suite: the key exchange
//! before the shell, then only ciphertext on the data channel, one sealed frame per output
//! chunk; the authenticated suite's signature, resizes, replays and integrity errors.

mod common;

use axt_proto::{
    agent_frame::AgentMessageType,
    e2e::{record::Inner, Mode},
    identity,
};
use base64::Engine as _;
use common::{
    e2e::{self, encrypted_spec, AgentIdentity},
    identity_of, kick,
    process::Start,
    Agent, Event, Luban,
};

/// The registered identity of the agent in `root`: (instance id, public key PEM).
fn registered(root: &std::path::Path) -> (String, String) {
    let read = |name: &str| std::fs::read_to_string(root.join("state").join(name)).unwrap();
    (read("instance-id").trim().to_owned(), read("pub-key"))
}

/// Kicks an encrypted session and returns its data channel.
async fn start(
    luban: &mut Luban,
    notify: &mut axum::extract::ws::WebSocket,
    channel: &str,
    mode: &str,
) -> common::DataSocket {
    luban.set_spec(channel, encrypted_spec(channel, mode));
    kick(notify, &format!("kick_vm session start {channel}")).await;
    luban.data_socket(channel).await.0
}

#[tokio::test]
async fn an_ecdhe_session_carries_only_ciphertext_one_frame_per_chunk() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let agent = Agent::registered(&luban, root.path(), &[]).await;
    let mut notify = luban.notify_socket().await;
    let mut data = start(&mut luban, &mut notify, "c-ecdhe", "Auto").await;
    // A size sent in the clear before the exchange is kept for the PTY.
    data.set_size(100, 30).await;
    let mut session = e2e::ecdhe(data).await;

    session.type_text("stty size; echo marker-$((6*7))\n").await;
    let (text, frames) = session.output_until("marker-42").await;
    assert!(text.contains("30 100"), "{text:?}");
    for frame in &frames {
        assert!(
            !String::from_utf8_lossy(&frame.payload).contains("marker"),
            "plaintext on the wire"
        );
        assert_eq!(frame.payload.len() % 16, 0, "not AES-CBC blocks");
    }
    // Long output: every frame opens on its own and holds at most one 1024-byte chunk.
    session
        .type_text("printf 'x%.0s' $(seq 1 3000); echo; echo big-$((1+1))\n")
        .await;
    let (text, frames) = session.output_until("big-2").await;
    assert!(text.contains(&"x".repeat(3000)), "{text:?}");
    for frame in frames.iter().filter(|f| !f.payload.is_empty()) {
        assert!(session.cipher.open(&frame.payload).len() <= 1024);
    }
    session.type_text("exit\n").await;
    assert_eq!(
        luban.status("c-ecdhe").await,
        ("Success".into(), "Ok".into())
    );
    // The log names the suite, never what was typed or printed.
    let log = std::fs::read_to_string(agent.log()).unwrap();
    assert!(log.contains("key exchange done"), "{log}");
    assert!(!log.contains("marker") && !log.contains("xxxx"), "{log}");
}

#[tokio::test]
async fn a_kms_session_has_its_data_key_decrypted_by_the_gateway() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let agent = Agent::registered(&luban, root.path(), &[]).await;
    let (_, public) = registered(root.path());
    let machine = std::fs::read_to_string(root.path().join("state/machine-id")).unwrap();
    let mut notify = luban.notify_socket().await;
    let plaintext = base64::engine::general_purpose::STANDARD.encode([0x42u8; 32]);
    luban.set_data_key("blob-kms-1", &plaintext);
    let data = start(&mut luban, &mut notify, "c-kms", "Kms").await;
    let mut session = e2e::kms(data, "blob-kms-1", &plaintext).await;

    let headers = luban
        .wait_for(
            "the kms/decrypt call",
            |e| matches!(e, Event::KmsDecrypt { channel, .. } if channel == "c-kms"),
            |e| match e {
                Event::KmsDecrypt { blob, headers, .. } => {
                    assert_eq!(blob, "blob-kms-1");
                    headers
                }
                _ => unreachable!(),
            },
        )
        .await;
    identity::verify(&public, machine.trim(), &identity_of(&headers)).unwrap();

    session.type_text("echo kms-$((6*7))\n").await;
    session.output_until("kms-42").await;
    session.type_text("exit\n").await;
    assert_eq!(luban.status("c-kms").await, ("Success".into(), "Ok".into()));
    let log = std::fs::read_to_string(agent.log()).unwrap();
    assert!(!log.contains(&plaintext), "the data key was logged");
}

#[tokio::test]
async fn the_authenticated_suite_is_signed_resized_by_records_and_drops_replays() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let _agent = Agent::registered(&luban, root.path(), &[]).await;
    let (instance_id, public_key) = registered(root.path());
    let agent = AgentIdentity {
        instance_id: &instance_id,
        public_key: &public_key,
    };
    let mut notify = luban.notify_socket().await;
    let data = start(&mut luban, &mut notify, "c-auth", "Auto").await;
    let mut session = e2e::authenticated(data, Mode::Auto, None, &agent).await;

    session
        .send(&Inner::Resize {
            cols: 100,
            rows: 30,
        })
        .await;
    // A size in the clear is not the client's word here.
    session.data.set_size(40, 10).await;
    session.type_text("stty size; echo auth-$((6*7))\n").await;
    let (text, _) = session.output_until("auth-42").await;
    assert!(text.contains("30 100"), "{text:?}");

    // A record sent again (as a 1.02 replay does) is dropped unread.
    let once = session.type_text("echo once-$((2+3))\n").await;
    session.output_until("once-5").await;
    session.data.send(AgentMessageType::Input, &once).await;
    session.type_text("echo after-$((3+4))\n").await;
    let (text, _) = session.output_until("after-7").await;
    assert!(!text.contains("once-5"), "the replay ran: {text:?}");

    // A Close record ends the session as the client's Close would; the agent's last record
    // says how it ended.
    session.send(&Inner::Close("bye".into())).await;
    assert_eq!(session.closing().await, "Ok");
    assert_eq!(
        luban.status("c-auth").await,
        ("Success".into(), "Ok".into())
    );
}

#[tokio::test]
async fn altered_or_missing_records_end_the_session_with_process_data_error() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let _agent = Agent::registered(&luban, root.path(), &[]).await;
    let (instance_id, public_key) = registered(root.path());
    let agent = AgentIdentity {
        instance_id: &instance_id,
        public_key: &public_key,
    };
    let mut notify = luban.notify_socket().await;
    let plaintext = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    luban.set_data_key("blob-auth-kms", &plaintext);

    // Mode Kms: the data key is mixed into the keys; an altered record ends the session.
    let data = start(&mut luban, &mut notify, "c-tamper", "Kms").await;
    let kms = Some(("blob-auth-kms", plaintext.as_str()));
    let mut session = e2e::authenticated(data, Mode::Kms, kms, &agent).await;
    session.type_text("echo sealed-$((1+1))\n").await;
    session.output_until("sealed-2").await;
    let mut altered = session.cipher.seal(&Inner::Data(b"echo nope\n".to_vec()));
    *altered.last_mut().unwrap() ^= 1;
    session.data.send(AgentMessageType::Input, &altered).await;
    assert_eq!(session.closing().await, "Process_data_error");
    assert_eq!(
        luban.status("c-tamper").await,
        ("Failed".into(), "Process_data_error".into())
    );

    // A record skipped (dropped on the way) is a gap.
    let data = start(&mut luban, &mut notify, "c-gap", "Auto").await;
    let mut session = e2e::authenticated(data, Mode::Auto, None, &agent).await;
    let _dropped = session.cipher.seal(&Inner::Data(b"echo one\n".to_vec()));
    let next = session.cipher.seal(&Inner::Data(b"echo two\n".to_vec()));
    session.data.send(AgentMessageType::Input, &next).await;
    assert_eq!(
        luban.status("c-gap").await,
        ("Failed".into(), "Process_data_error".into())
    );
}

#[tokio::test]
async fn the_key_exchange_message_type_is_a_setting() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let start_with = Start {
        env: &[("AXT_KEY_EXCHANGE_MESSAGE_TYPE", "42")],
        ..Start::default()
    };
    let _agent = Agent::registered_with(&luban, root.path(), start_with).await;
    let mut notify = luban.notify_socket().await;
    let mut data = start(&mut luban, &mut notify, "c-type", "Auto").await;
    // The default type means nothing to this agent now: it is ignored, not a key exchange.
    data.send(
        AgentMessageType::Other(axt_proto::e2e::DEFAULT_KEY_EXCHANGE_TYPE),
        b"\x00{}",
    )
    .await;
    data.key_exchange = AgentMessageType::Other(42);
    let mut session = e2e::ecdhe(data).await;
    session.type_text("echo typed-$((40+2))\n").await;
    session.output_until("typed-42").await;
    session.type_text("exit\n").await;
    assert_eq!(
        luban.status("c-type").await,
        ("Success".into(), "Ok".into())
    );
}
