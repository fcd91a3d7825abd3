//! `axt portforward` through the echo gateway, with the real control plane for the
//! StartTerminalSession and EndTerminalSession calls: many connections at once, half-close,
//! a refused WebSocket, Ctrl-C, and a refused session.

mod common;

use std::path::Path;

use axt_proto::internal::RefusalCode;
use common::{
    echo::{EchoGateway, Ending},
    finish, TestPlane, PATIENCE,
};
use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader},
    net::TcpStream,
    process::Child,
    task::JoinSet,
};

/// A running `axt portforward` and the port it printed.
struct Forwarder {
    child: Child,
    port: u16,
}

/// Starts `axt portforward --local-port 0` and waits (bounded) for its first line.
async fn forwarder(plane: &TestPlane, home: &Path, instance: &str) -> Forwarder {
    let args = ["portforward", "-i", instance, "--remote-port", "2222"];
    let mut child = plane
        .axt(home)
        .args(args)
        .args(["--local-port", "0"])
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .expect("no first line in time")
        .unwrap();
    let Some(first) = first else {
        let out = finish(child).await;
        panic!("axt portforward ended early: {}", out.stderr);
    };
    // "Port forwarding for SessionId: s-…, local port 40123, remote port 2222"
    assert!(
        first.starts_with("Port forwarding for SessionId: s-"),
        "{first}"
    );
    assert!(first.ends_with(", remote port 2222"), "{first}");
    let port = first
        .split("local port ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
    // The rest of stdout (a line per connection) is read so the pipe never fills.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Forwarder { child, port }
}

impl Forwarder {
    async fn connect(&self) -> TcpStream {
        let connecting = TcpStream::connect(("127.0.0.1", self.port));
        tokio::time::timeout(PATIENCE, connecting)
            .await
            .expect("connect timed out")
            .unwrap()
    }

    /// Ctrl-C, then the exit code and stderr.
    async fn interrupt(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().unwrap().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status();
        assert!(killed.unwrap().success());
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("axt did not exit after SIGINT")
            .unwrap();
        let mut stderr = String::new();
        let mut pipe = self.child.stderr.take().unwrap();
        pipe.read_to_string(&mut stderr).await.unwrap();
        (status.code(), stderr)
    }
}

/// `len` random bytes.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        out.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    out.truncate(len);
    out
}

/// Writes `data` and half-closes while reading everything back to EOF, concurrently (the
/// echo comes back while the writing goes on).
async fn round_trip(tcp: TcpStream, data: Vec<u8>) -> Vec<u8> {
    let (mut read, mut write) = tcp.into_split();
    let writing = tokio::spawn(async move {
        write.write_all(&data).await.unwrap();
        write.shutdown().await.unwrap();
    });
    let mut back = Vec::new();
    tokio::time::timeout(PATIENCE, read.read_to_end(&mut back))
        .await
        .expect("no EOF in time")
        .unwrap();
    writing.await.unwrap();
    back
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_connections_each_get_back_exactly_their_own_bytes() {
    let mut gateway = EchoGateway::start(Ending::CloseOnly).await;
    let plane = TestPlane::start(&format!("ws://{}", gateway.addr)).await;
    let home = tempfile::tempdir().unwrap();
    let instance = plane.ready_instance(home.path()).await;
    let forwarder = forwarder(&plane, home.path(), &instance).await;

    let mut clients = JoinSet::new();
    for _ in 0..20 {
        let tcp = forwarder.connect().await;
        let data = random_bytes(100 * 1024 + 17);
        clients.spawn(async move {
            let back = round_trip(tcp, data.clone()).await;
            assert!(back == data, "{} bytes back for {}", back.len(), data.len());
        });
    }
    while let Some(done) = clients.join_next().await {
        done.unwrap();
    }
    // One WebSocket per connection, all on the one session, each ended by a Close.
    let mut queries = Vec::new();
    for _ in 0..20 {
        let served = gateway.served().await;
        assert!(
            served.sent_close && served.echoed == 100 * 1024 + 17,
            "{served:?}"
        );
        queries.push(served.query);
    }
    queries.dedup();
    assert_eq!(queries.len(), 1, "one session URL for all: {queries:?}");
    assert_eq!(plane.verify(&queries[0]).await, None);

    let (code, stderr) = forwarder.interrupt().await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        plane.verify(&queries[0]).await,
        Some(RefusalCode::SessionEnded),
        "the session was ended"
    );
}

#[tokio::test]
async fn a_half_closed_connection_gets_everything_back_then_eof() {
    let mut gateway = EchoGateway::start(Ending::Exit).await;
    let plane = TestPlane::start(&format!("ws://{}", gateway.addr)).await;
    let home = tempfile::tempdir().unwrap();
    let instance = plane.ready_instance(home.path()).await;
    let forwarder = forwarder(&plane, home.path(), &instance).await;

    // Write everything, half-close, and only then start reading: the answer must wait.
    let data = random_bytes(40 * 1024);
    let mut tcp = forwarder.connect().await;
    tcp.write_all(&data).await.unwrap();
    tcp.shutdown().await.unwrap();
    let mut back = Vec::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut back))
        .await
        .expect("no EOF in time")
        .unwrap();
    assert!(back == data, "{} bytes back for {}", back.len(), data.len());
    let served = gateway.served().await;
    assert!(
        served.sent_close && served.largest <= axt_cli::channel::MAX_INPUT_LIMIT,
        "{served:?}"
    );

    let (code, stderr) = forwarder.interrupt().await;
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test]
async fn when_the_gateway_ends_first_the_app_gets_what_was_sent_then_eof() {
    let gateway = EchoGateway::start(Ending::AfterFirstInput("AgentTimeout")).await;
    let plane = TestPlane::start(&format!("ws://{}", gateway.addr)).await;
    let home = tempfile::tempdir().unwrap();
    let instance = plane.ready_instance(home.path()).await;
    let forwarder = forwarder(&plane, home.path(), &instance).await;

    // The app never half-closes: the EOF it reads is the gateway's end, passed on.
    let mut tcp = forwarder.connect().await;
    tcp.write_all(b"hello").await.unwrap();
    let mut back = Vec::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut back))
        .await
        .expect("no EOF in time")
        .unwrap();
    assert_eq!(back, b"hello");
    let (code, stderr) = forwarder.interrupt().await;
    assert_eq!(code, Some(0), "{stderr}");
    let logged = "]: AgentTimeout: session closed for agent timeout.";
    assert!(stderr.contains("connection[tcp 127.0.0.1:"), "{stderr}");
    assert!(stderr.contains(logged), "{stderr}");
}

#[tokio::test]
async fn a_refused_websocket_closes_its_connection_and_the_next_one_works() {
    let mut gateway = EchoGateway::start(Ending::Exit).await;
    let plane = TestPlane::start(&format!("ws://{}", gateway.addr)).await;
    let home = tempfile::tempdir().unwrap();
    let instance = plane.ready_instance(home.path()).await;
    let forwarder = forwarder(&plane, home.path(), &instance).await;

    gateway.refuse_next(1);
    let mut refused = forwarder.connect().await;
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(PATIENCE, refused.read(&mut buf))
        .await
        .expect("the refused connection stayed open");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(gateway.served().await.refused);

    let back = round_trip(forwarder.connect().await, b"still here".to_vec()).await;
    assert_eq!(back, b"still here");
    let (code, stderr) = forwarder.interrupt().await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("HTTP 403 Forbidden: InvalidToken: refused by the test"),
        "{stderr}"
    );
}

#[tokio::test]
async fn ctrl_c_closes_live_connections_and_ends_the_session() {
    let mut gateway = EchoGateway::start(Ending::Exit).await;
    let plane = TestPlane::start(&format!("ws://{}", gateway.addr)).await;
    let home = tempfile::tempdir().unwrap();
    let instance = plane.ready_instance(home.path()).await;
    let forwarder = forwarder(&plane, home.path(), &instance).await;

    let mut live = forwarder.connect().await;
    live.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    tokio::time::timeout(PATIENCE, live.read_exact(&mut buf))
        .await
        .expect("no echo in time")
        .unwrap();
    assert_eq!(&buf, b"ping");

    let (code, stderr) = forwarder.interrupt().await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("SIGINT: closing 1 connection(s)."),
        "{stderr}"
    );
    // The live connection was closed (EOF), and its WebSocket closed without a Close frame.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(PATIENCE, live.read_to_end(&mut rest)).await;
    assert!(matches!(read, Ok(Ok(0))), "{read:?}");
    let served = gateway.served().await;
    assert!(!served.sent_close && served.echoed == 4, "{served:?}");
    assert_eq!(
        plane.verify(&served.query).await,
        Some(RefusalCode::SessionEnded),
        "the session was ended"
    );
}

#[tokio::test]
async fn a_refused_session_exits_1_with_the_service_code() {
    let plane = TestPlane::start("ws://127.0.0.1:9").await;
    let home = tempfile::tempdir().unwrap();
    let child = plane
        .axt(home.path())
        .args(["portforward", "-i", "i-nowhere", "--remote-port", "22"])
        .args(["--local-port", "0"])
        .spawn()
        .unwrap();
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.starts_with("InvalidInstance.NotFound: "),
        "{}",
        out.stderr
    );
}
