//! Key exchanges of the real agent that fail: each is answered with a KeyExchangeError frame
//! naming its reason, then the session ends with `KeyExchangeFailed`. (The 20 s timeout is not
//! tested here: it is a constant, and a test would wait for it.)

mod common;

use axt_proto::{
    agent_frame::AgentMessageType,
    e2e::{
        compat::EcdhKeyPair,
        exchange::{client_hello, ClientKeyExchange, ErrorReason, Message},
        Mode,
    },
    spec::SessionSpec,
};
use common::{
    e2e::{self, encrypted_spec},
    kick, port_spec, shell_spec, Agent, DataSocket, Event, Luban,
};

const IV: [u8; 16] = [3; 16];

fn hello(mode: Mode) -> Vec<u8> {
    Message::from(client_hello(mode, IV, None)).encode()
}

fn raw(action: u8, json: &str) -> Vec<u8> {
    [&[action][..], json.as_bytes()].concat()
}

/// Sends each of `payloads` as a key-exchange frame, reading the agent's answer to all but the
/// last.
async fn exchange(data: &mut DataSocket, payloads: &[Vec<u8>]) {
    let (last, first) = payloads.split_last().unwrap();
    for payload in first {
        e2e::send(data, payload).await;
        let answer = e2e::recv(data).await;
        assert!(
            !matches!(answer, Message::KeyExchangeError(_)),
            "{answer:?}"
        );
    }
    e2e::send(data, last).await;
}

#[tokio::test]
async fn each_fault_is_answered_with_its_reason_and_ends_the_session() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let _agent = Agent::registered(&luban, root.path(), &[]).await;
    let mut notify = luban.notify_socket().await;
    let unknown = r#"{"cipherSuite":"AXT_ROT13","encryptIV":"AAAAAAAAAAAAAAAAAAAAAA=="}"#;
    let bad_iv = r#"{"cipherSuite":"AXT_ECDHE_WITH_AES_256_CBC","encryptIV":"not base64!"}"#;
    let ecdhe_kx = Message::from(ClientKeyExchange::ecdhe(
        EcdhKeyPair::generate().public_sec1(),
    ));
    let off_curve = Message::from(ClientKeyExchange::ecdhe([4; 65])).encode();
    let cases: Vec<(&str, &str, Vec<Vec<u8>>, ErrorReason)> = vec![
        (
            "c-empty",
            "Auto",
            vec![vec![]],
            ErrorReason::ActionTypeParseError,
        ),
        (
            "c-order",
            "Auto",
            vec![ecdhe_kx.encode()],
            ErrorReason::WrongActionTypeError,
        ),
        (
            "c-json",
            "Auto",
            vec![raw(0, "{")],
            ErrorReason::ClientHelloParseError,
        ),
        (
            "c-iv",
            "Auto",
            vec![raw(0, bad_iv)],
            ErrorReason::IVDecodeError,
        ),
        (
            "c-suite",
            "Auto",
            vec![raw(0, unknown)],
            ErrorReason::UnknownCipherSuiteError,
        ),
        (
            "c-mode",
            "Kms",
            vec![hello(Mode::Auto)],
            ErrorReason::UnsupportedCipherSuiteError,
        ),
        (
            "c-twice",
            "Auto",
            vec![hello(Mode::Auto), hello(Mode::Auto)],
            ErrorReason::WrongActionTypeError,
        ),
        (
            "c-point",
            "Auto",
            vec![hello(Mode::Auto), off_curve],
            ErrorReason::ClientPublicKeyDecodeError,
        ),
        (
            "c-kmsno",
            "Kms",
            vec![
                hello(Mode::Kms),
                Message::from(ClientKeyExchange::kms("unknown-blob".into())).encode(),
            ],
            ErrorReason::KMSDecryptError,
        ),
    ];
    for (channel, mode, payloads, reason) in cases {
        let mut data = start(&mut luban, &mut notify, encrypted_spec(channel, mode)).await;
        exchange(&mut data, &payloads).await;
        e2e::expect_error(&mut data, reason.clone()).await;
        assert_eq!(
            luban.status(channel).await,
            ("Failed".into(), "KeyExchangeFailed".into()),
            "{channel}: {reason}"
        );
    }
}

#[tokio::test]
async fn data_and_key_exchanges_out_of_their_place_end_the_session() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let _agent = Agent::registered(&luban, root.path(), &[]).await;
    let mut notify = luban.notify_socket().await;
    // Typed before the exchange finished (a keep-alive is not data).
    let mut data = start(&mut luban, &mut notify, encrypted_spec("c-early", "Auto")).await;
    data.send(AgentMessageType::Input, b"").await;
    data.input("echo too-early\n").await;
    let reason = ErrorReason::RecvDataMessageBeforeKeyExchange;
    failed(&mut luban, &mut data, reason).await;

    // A second exchange once the first succeeded.
    let data = start(&mut luban, &mut notify, encrypted_spec("c-again", "Auto")).await;
    let mut session = e2e::ecdhe(data).await;
    session.type_text("echo keyed-$((1+1))\n").await;
    session.output_until("keyed-2").await;
    e2e::send(&mut session.data, &hello(Mode::Auto)).await;
    let reason = ErrorReason::InvalidKeyExchangeStateError;
    failed(&mut luban, &mut session.data, reason).await;

    // A session that is not encrypted has no exchange to take part in.
    let mut data = start(&mut luban, &mut notify, shell_spec("c-plain")).await;
    e2e::send(&mut data, &hello(Mode::Auto)).await;
    failed(
        &mut luban,
        &mut data,
        ErrorReason::InvalidKeyExchangeStateError,
    )
    .await;

    // An encrypted port forward is not run at all, in the clear or otherwise.
    let mut spec = port_spec("c-port", "127.0.0.1", "9");
    spec.encryption_options = encrypted_spec("c-port", "Auto").encryption_options;
    luban.set_spec("c-port", spec);
    kick(&mut notify, "kick_vm session start c-port").await;
    assert_eq!(
        luban.status("c-port").await,
        ("Failed".into(), "KeyExchangeFailed".into())
    );
    assert!(!luban.seen(|e| matches!(e, Event::Data { channel, .. } if channel == "c-port")));
}

async fn start(
    luban: &mut Luban,
    notify: &mut axum::extract::ws::WebSocket,
    spec: SessionSpec,
) -> DataSocket {
    let channel = spec.channel_id.clone();
    luban.set_spec(&channel, spec);
    kick(notify, &format!("kick_vm session start {channel}")).await;
    luban.data_socket(&channel).await.0
}

/// Waits for the agent's KeyExchangeError with `reason` (after whatever Output a running shell
/// sent first), then for the session's end with `KeyExchangeFailed`.
async fn failed(luban: &mut Luban, data: &mut DataSocket, reason: ErrorReason) {
    loop {
        let frame = data
            .next_frame()
            .await
            .expect("closed before the KeyExchangeError");
        if frame.kind == data.key_exchange {
            let Ok(Message::KeyExchangeError(e)) = Message::decode(&frame.payload) else {
                panic!("not a KeyExchangeError");
            };
            assert_eq!(e.code, reason, "{}", e.message);
            break;
        }
    }
    let channel = data.channel.clone();
    assert_eq!(
        luban.status(&channel).await,
        ("Failed".into(), "KeyExchangeFailed".into()),
        "{channel}: {reason}"
    );
}
