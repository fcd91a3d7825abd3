//! `axt session --encrypt` against a scripted agent end (the fake gateway plays the gateway and
//! the agent): each suite carries typed and printed bytes sealed, never in the clear, and each
//! way the client must refuse or fail ends `axt` non-zero with a clear line.

mod common;

use std::process::Stdio;

use axt_proto::{
    client_frame::ClientMessageType::{Close, Input, Output, Status},
    e2e::{exchange::ErrorReason, record::Inner, COMPAT_ECDHE, COMPAT_KMS},
    identity::AgentKey,
};
use common::{
    agent_end::{exchange, send_frame, Agreed, Script},
    axt, finish, recv, FakeGateway, ServerWs, TestPlane,
};
use tokio::io::AsyncWriteExt as _;

/// A control plane whose instance's agent registered `identity`, and the fake gateway its
/// session URLs point at.
struct Rig {
    gateway: FakeGateway,
    plane: TestPlane,
    home: tempfile::TempDir,
    identity: AgentKey,
    instance: String,
}

impl Rig {
    async fn start() -> Self {
        let gateway = FakeGateway::start().await;
        let plane = TestPlane::start(&format!("ws://{}", gateway.addr)).await;
        let home = tempfile::tempdir().unwrap();
        let identity = AgentKey::generate().unwrap();
        let pem = identity.public_pem().unwrap();
        let instance = plane.ready_instance_keyed(home.path(), &pem).await;
        Self {
            gateway,
            plane,
            home,
            identity,
            instance,
        }
    }

    /// `axt session --instance … ARGS` with `stdin` piped in and then closed.
    fn spawn(&self, args: &[&str], stdin: &[u8]) -> tokio::process::Child {
        let mut child = self
            .plane
            .axt(self.home.path())
            .args(["session", "--instance", &self.instance])
            .args(args)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = child.stdin.take().unwrap();
        let input = stdin.to_vec();
        tokio::spawn(async move {
            let _ = pipe.write_all(&input).await;
        });
        child
    }

    /// Accepts the client and plays the agent's exchange.
    async fn agree(
        &self,
        script: Script<'_>,
    ) -> (
        ServerWs,
        axt_proto::e2e::exchange::ClientHello,
        Option<Agreed>,
    ) {
        let mut ws = self.gateway.accept(None).await.0.unwrap();
        let plane = (&self.plane, self.home.path());
        let (hello, agreed) =
            exchange(&mut ws, script, &self.identity, &self.instance, plane).await;
        (ws, hello, agreed)
    }
}

/// The client's sealed Inputs until the Ctrl-D its end of input becomes; returns what was
/// typed, after checking that no payload carried `secret` in the clear and no plain Close came.
async fn typed(ws: &mut ServerWs, agreed: &mut Agreed, secret: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let frame = recv(ws).await;
        assert_ne!(
            frame.kind, Close,
            "an encrypting client sends no plain Close"
        );
        assert_eq!(frame.kind, Input, "{frame:?}");
        if frame.payload.is_empty() {
            continue; // a keep-alive stays empty
        }
        assert!(
            !contains(&frame.payload, secret),
            "typed bytes in the clear"
        );
        match agreed.open(&frame.payload) {
            Inner::Data(bytes) if bytes == [4] => return out,
            Inner::Data(bytes) => out.extend(bytes),
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Prints `line` sealed (after a keep-alive, and twice when the suite numbers its records, so
/// the duplicate must be dropped), then ends the session.
async fn answer_and_exit(ws: &mut ServerWs, agreed: &mut Agreed, line: &[u8]) {
    send_frame(ws, Output, b"").await;
    let sealed = agreed.seal(line);
    send_frame(ws, Output, &sealed).await;
    if agreed.is_authenticated() {
        send_frame(ws, Output, &sealed).await;
    }
    send_frame(ws, Status, b"\x05Exit").await;
}

#[tokio::test]
async fn the_authenticated_suite_seals_both_ways_in_mode_auto() {
    let rig = Rig::start().await;
    let child = rig.spawn(&["--encrypt", "auto"], b"echo marker-auto\n");
    let (mut ws, hello, agreed) = rig.agree(Script::Honest).await;
    assert_eq!(hello.cipher_suite, COMPAT_ECDHE);
    assert!(hello.offers_authenticated(), "{hello:?}");
    let mut agreed = agreed.unwrap();
    assert!(agreed.is_authenticated());
    assert_eq!(
        typed(&mut ws, &mut agreed, b"marker").await,
        b"echo marker-auto\n"
    );
    answer_and_exit(&mut ws, &mut agreed, b"marker-auto\r\n").await;
    let out = finish(child).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "marker-auto\r\n", "shown once, opened");
}

#[tokio::test]
async fn mode_kms_sends_the_data_key_and_mixes_it_in() {
    let rig = Rig::start().await;
    let created = rig
        .plane
        .api(rig.home.path(), &["--product", "kms", "CreateKey"])
        .await;
    let key_id = created["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let child = rig.spawn(
        &["--encrypt", "kms", "--kms-key-id", &key_id],
        b"echo marker-kms\n",
    );
    let (mut ws, hello, agreed) = rig.agree(Script::Honest).await;
    assert_eq!(hello.cipher_suite, COMPAT_KMS);
    let mut agreed = agreed.unwrap();
    assert_eq!(
        typed(&mut ws, &mut agreed, b"marker").await,
        b"echo marker-kms\n"
    );
    answer_and_exit(&mut ws, &mut agreed, b"marker-kms\r\n").await;
    let out = finish(child).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "marker-kms\r\n");
}

#[tokio::test]
async fn a_compat_answer_is_refused_unless_allowed() {
    let rig = Rig::start().await;
    let child = rig.spawn(&["--encrypt", "auto"], b"echo marker\n");
    let (_ws, _, _) = rig.agree(Script::CompatOnly).await;
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains("unauthenticated suite AXT_ECDHE_WITH_AES_256_CBC")
            && out.stderr.contains("--allow-compat-suite"),
        "{}",
        out.stderr
    );

    let child = rig.spawn(
        &["--encrypt", "auto", "--allow-compat-suite"],
        b"echo marker-compat\n",
    );
    let (mut ws, _, agreed) = rig.agree(Script::CompatOnly).await;
    let mut agreed = agreed.unwrap();
    assert!(!agreed.is_authenticated());
    assert_eq!(
        typed(&mut ws, &mut agreed, b"marker").await,
        b"echo marker-compat\n"
    );
    answer_and_exit(&mut ws, &mut agreed, b"marker-compat\r\n").await;
    let out = finish(child).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "marker-compat\r\n");
}

#[tokio::test]
async fn a_key_exchange_not_signed_by_the_instance_ends_the_session() {
    let rig = Rig::start().await;
    let impostor = AgentKey::generate().unwrap();
    let child = rig.spawn(&["--encrypt", "auto"], b"echo marker\n");
    let (mut ws, _, _) = rig.agree(Script::SignedBy(&impostor)).await;
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains("the agent's key exchange is not signed by the instance's identity key"),
        "{}",
        out.stderr
    );
    // Nothing typed left the client.
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        futures_util::StreamExt::next(&mut ws),
    )
    .await
    {
        if let tokio_tungstenite::tungstenite::Message::Binary(bytes) = msg {
            assert!(!contains(&bytes, b"marker"), "typed bytes left the client");
        }
    }
}

#[tokio::test]
async fn a_key_exchange_error_is_shown_with_its_code_and_message() {
    let rig = Rig::start().await;
    let child = rig.spawn(&["--encrypt", "auto"], b"");
    let refusal = Script::Refuse(ErrorReason::UnknownCipherSuiteError, "no such suite");
    let _ = rig.agree(refusal).await;
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains("KeyExchangeError.UnknownCipherSuiteError: no such suite"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn an_altered_output_fails_the_integrity_check() {
    let rig = Rig::start().await;
    let child = rig.spawn(&["--encrypt", "auto"], b"");
    let (mut ws, _, agreed) = rig.agree(Script::Honest).await;
    let mut sealed = agreed.unwrap().seal(b"rm -rf /\r\n");
    sealed[10] ^= 0x20;
    send_frame(&mut ws, Output, &sealed).await;
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("integrity check failed"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "", "nothing altered reached the terminal");
}

#[tokio::test]
async fn a_url_without_the_agents_key_offers_the_compat_suite_only() {
    let rig = Rig::start().await;
    let mut child = axt(rig.home.path())
        .args([
            "session",
            "--wss-url",
            &rig.gateway.url("tok-1"),
            "--encrypt",
            "auto",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"echo marker-url\n").await.unwrap();
    drop(stdin);
    let (mut ws, hello, agreed) = rig.agree(Script::Honest).await;
    assert!(
        !hello.offers_authenticated(),
        "no key to check a signature with"
    );
    let mut agreed = agreed.unwrap();
    assert_eq!(
        typed(&mut ws, &mut agreed, b"marker").await,
        b"echo marker-url\n"
    );
    answer_and_exit(&mut ws, &mut agreed, b"marker-url\r\n").await;
    let out = finish(child).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "marker-url\r\n");
    assert!(
        out.stderr.contains("only the unauthenticated suites"),
        "{}",
        out.stderr
    );
}

#[tokio::test(start_paused = true)]
async fn an_agent_that_never_answers_ends_the_exchange_after_20_s() {
    use axt_cli::{channel, e2e::Plan, session};
    use futures_util::StreamExt as _;
    use tokio_tungstenite::{tungstenite::protocol::Role, WebSocketStream};

    let (a, b) = tokio::io::duplex(64 * 1024);
    let client = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
    let mut server = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
    let (writer, reader) = channel::split(client);
    let kind = common::agent_end::KX;
    let plan = Plan {
        mode: axt_proto::e2e::Mode::Auto,
        allow_compat: false,
        agent_key: None,
        instance_id: "i-x".into(),
        data_key: None,
    };
    let start = tokio::time::Instant::now();
    let interacting = session::interact(
        writer.with_key_exchange_type(kind),
        reader.with_key_exchange_type(kind),
        false,
        Some(plan),
    );
    // The ClientHello goes out, and nothing answers it.
    let (ending, hello) = tokio::join!(interacting, server.next());
    assert!(hello.is_some_and(|m| m.is_ok()));
    assert_eq!(start.elapsed(), std::time::Duration::from_secs(20));
    assert_eq!(
        ending.message(),
        "the key exchange did not finish within 20 s"
    );
}
