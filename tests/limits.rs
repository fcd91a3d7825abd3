//! Nothing one party can exhaust: a WebSocketUrl opens at most its per-session number of
//! connections, and half-sent requests — a slowloris — neither hold a place a new session
//! needs nor stay open past the header-read timeout.

use std::{net::SocketAddr, time::Duration};

use axt_e2e::{client::RawClient, Stack};
use axt_proto::client_frame::ClientMessageType;
use futures_util::future::join_all;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpSocket, TcpStream},
};

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn one_websocket_url_opens_at_most_its_per_session_number_of_connections() {
    let mut stack = Stack::start(&[], &[]).await;
    // The agent's own cap is not what is tested here.
    let instance = stack.agent(&["--max-sessions", "200"]).await;
    let port = axt_e2e::echo_server().await.to_string();
    let started = stack
        .start_session(&[("InstanceId.1", &instance), ("PortNumber", &port)])
        .await;
    let url = started["WebSocketUrl"].as_str().unwrap().to_owned();

    // 120 at once, as a browser behind a port forward might (but more).
    let tries = (0..120).map(|_| RawClient::connect(&url, &stack.ca, false));
    let (mut open, refused): (Vec<_>, Vec<_>) =
        join_all(tries).await.into_iter().partition(Result::is_ok);
    assert_eq!(
        (open.len(), refused.len()),
        (100, 20),
        "the default cap is 100"
    );
    for refusal in refused {
        let refusal = refusal.err().unwrap();
        assert_eq!(refusal.0, 429, "{refusal:?}");
        assert!(
            refusal.1.contains("ConnectionCount.ExceedLimit") && refusal.1.contains("100"),
            "{refusal:?}"
        );
    }
    // Those let in work.
    let mut first = open.pop().unwrap().unwrap();
    first
        .send(ClientMessageType::Input, b"still-here".to_vec())
        .await;
    first.expect_output("still-here", LIMIT).await;
    // A place freed is a place taken again.
    drop(first);
    axt_kit::wait::eventually(
        LIMIT,
        "a freed place given again",
        || async {
            let held = open.len();
            RawClient::connect(&url, &stack.ca, false)
                .await
                .map(|_| held)
                .map_err(|refused| refused.0)
        },
        Result::is_ok,
    )
    .await
    .unwrap();
}

/// A TCP connection to `to` from the loopback address `from`.
async fn connect_from(from: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    socket.connect(to).await
}

/// Opens `n` connections to `to` from `from` and sends each `bytes`, then nothing more.
async fn half_sent(
    n: usize,
    from: [u8; 4],
    to: SocketAddr,
    bytes: &'static [u8],
) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let mut conn = connect_from(from, to).await.unwrap();
        // Refused ones may already be closed; what matters is that none stays.
        let _ = conn.write_all(bytes).await;
        held.push(conn);
    }
    held
}

/// Waits for the server to close every connection (end of stream or reset); returns how many
/// did not close within `limit`.
async fn still_open_after(conns: Vec<TcpStream>, limit: Duration) -> usize {
    let closed = conns.into_iter().map(|mut conn| async move {
        let mut sink = [0u8; 1024];
        let read = async {
            loop {
                match conn.read(&mut sink).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(limit, read).await.is_ok()
    });
    join_all(closed).await.into_iter().filter(|c| !c).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn half_sent_requests_do_not_stop_a_new_session_and_are_dropped() {
    let mut stack = Stack::start(&[], &[]).await;
    let instance = stack.agent(&[]).await;
    // 400 each on both servers from one address: the start of a TLS record on the gateway,
    // half a request head on the control plane's plain HTTP — and then silence.
    let gateway = half_sent(400, [127, 0, 0, 2], stack.gw_addr, b"\x16\x03\x01").await;
    let plane = half_sent(
        400,
        [127, 0, 0, 2],
        stack.cp_addr,
        b"POST / HTTP/1.1\r\nHost: cp\r\n",
    )
    .await;
    let since = tokio::time::Instant::now();

    // Meanwhile someone else opens a session and uses it.
    let mut client = stack.open(&[("InstanceId.1", &instance)]).await;
    client.shell_answers("through", LIMIT).await;

    // Every half-sent request is dropped within a minute of being made (the header-read
    // timeout is 10 s; past the per-address cap of 256 they are closed at once).
    let minute = Duration::from_secs(60).saturating_sub(since.elapsed());
    let (gateway_left, plane_left) = tokio::join!(
        still_open_after(gateway, minute),
        still_open_after(plane, minute)
    );
    assert_eq!(
        (gateway_left, plane_left),
        (0, 0),
        "still open after a minute"
    );
}
