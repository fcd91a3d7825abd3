//! Nothing lost under the bandwidth limit: at the documented default (204800 bytes/s each way,
//! the control plane's default), every byte of a port session and of a shell arrives in order
//! — through `axt portforward` with the client half-closing, from a target that says
//! everything and closes first, and from a shell.

use std::time::Duration;

use axt_e2e::{bin, client::RawClient, Stack};
use axt_proto::status::ChannelState;
use sha2::{Digest as _, Sha256};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
};

/// At 200 KB/s a megabyte takes five seconds; every wait is bounded well above that.
const LIMIT: Duration = Duration::from_secs(60);
/// What each story carries: five seconds' worth at the default limit.
const SIZE: usize = 1 << 20;

/// `SIZE` bytes that are not all alike, so that a reordering would show.
fn payload(seed: u8) -> Vec<u8> {
    (0..SIZE)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 10) as u8)
        .collect()
}

fn digest(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// A TCP echo server on loopback for one connection: echoes until its peer stops sending,
/// then closes.
async fn echo() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let (mut read, mut write) = conn.split();
        let _ = tokio::io::copy(&mut read, &mut write).await;
        let _ = write.shutdown().await;
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn an_echo_through_axt_portforward_comes_back_whole_at_the_default_limit() {
    let mut stack = Stack::start(&[], &[]).await;
    let instance = stack.agent(&[]).await;
    let port = echo().await;
    let log = stack.dir.path().join("portforward.log");
    let mut forward = axt_kit::process::command(&[], bin("axt"));
    forward
        .envs(stack.cli_env())
        .args(["portforward", "--instance", &instance])
        .args(["--remote-port", &port.to_string(), "--local-port", "0"]);
    let mut forward =
        axt_kit::process::Supervised::spawn("axt portforward", forward, &log).unwrap();
    let said = forward.line("local port ", LIMIT).await.unwrap();
    let local: u16 = said
        .split("local port ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|p| p.trim().parse().ok())
        .unwrap();
    forward
        .line("Waiting for connections", LIMIT)
        .await
        .unwrap();

    let sent = payload(7);
    let conn = TcpStream::connect(("127.0.0.1", local)).await.unwrap();
    let (mut read, mut write) = conn.into_split();
    let writer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            write.write_all(&sent).await.unwrap();
            // Half-close: the rest must still come back.
            write.shutdown().await.unwrap();
        })
    };
    let mut back = Vec::with_capacity(SIZE);
    tokio::time::timeout(LIMIT, read.read_to_end(&mut back))
        .await
        .expect("the echo did not finish")
        .unwrap();
    writer.await.unwrap();
    assert_eq!(back.len(), SIZE, "bytes lost on the way");
    assert_eq!(digest(&back), digest(&sent), "bytes changed or reordered");
    forward.interrupt();
    forward.wait_exit(LIMIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_that_speaks_and_closes_first_is_heard_out() {
    let mut stack = Stack::start(&[], &[]).await;
    let instance = stack.agent(&[]).await;
    let sent = payload(3);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = sent.clone();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        conn.write_all(&served).await.unwrap();
        conn.shutdown().await.unwrap();
    });
    let port = port.to_string();
    let mut client = stack
        .open(&[("InstanceId.1", &instance), ("PortNumber", &port)])
        .await;
    let reason = client
        .expect_status(ChannelState::Closed as u8, LIMIT)
        .await;
    assert_eq!(reason, "Exit");
    assert_eq!(client.output.len(), SIZE, "bytes lost on the way");
    assert_eq!(digest(&client.output), digest(&sent));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shell_printing_a_lot_is_read_to_the_end() {
    let mut stack = Stack::start(&[], &[]).await;
    let instance = stack.agent(&[]).await;
    let started = stack
        .start_session(&[
            ("InstanceId.1", &instance),
            // 600 000 bytes of digits in lines of 60, then a marker: three seconds' worth.
            (
                "CommandLine",
                "sh -c 'seq 1000000 1099999 | tr -d \"\\n\" | fold -w 60; echo; echo END'",
            ),
        ])
        .await;
    let mut client =
        RawClient::connect(started["WebSocketUrl"].as_str().unwrap(), &stack.ca, false)
            .await
            .unwrap();
    client.expect_output("END", LIMIT).await;
    let text = client.output_text();
    let digits: String = text
        .split("END")
        .next()
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let expected: String = (1_000_000..1_100_000).map(|n: u32| n.to_string()).collect();
    assert_eq!(digits.len(), expected.len(), "digits lost on the way");
    assert!(digits == expected, "digits changed or reordered");
}
