//! Port-forward sessions of the real agent: relaying to a TCP target on 127.0.0.1, and
//! refusing denied targets before any dial.

mod common;

use axt_proto::agent_frame::AgentMessageType;
use common::{kick, port_spec, Agent, Luban};

#[tokio::test]
async fn a_port_session_relays_bytes_and_reports_ok_when_the_target_closes() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let _agent = Agent::registered(&luban, root.path(), &[]).await;
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
    let _agent = Agent::registered(&luban, root.path(), &["--deny", "127.0.0.1/32"]).await;
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
async fn close_channel_half_closes_the_target_and_relays_its_answer() {
    let mut luban = Luban::start().await;
    let root = tempfile::tempdir().unwrap();
    let _agent = Agent::registered(&luban, root.path(), &[]).await;
    // A target that answers only once its input has ended, as `wc -c` would.
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = target.local_addr().unwrap().port().to_string();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (mut stream, _) = target.accept().await.unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        let answer = format!("got {} bytes", all.len());
        stream.write_all(answer.as_bytes()).await.unwrap();
    });
    let mut notify = luban.notify_socket().await;
    luban.set_spec("c-half", port_spec("c-half", "127.0.0.1", &port));
    kick(&mut notify, "kick_vm session start c-half").await;
    let (mut data, headers) = luban.data_socket("c-half").await;
    assert_eq!(headers["x-axt-features"], "half-close");
    data.input("12345").await;
    data.input("678").await;
    data.send(AgentMessageType::CloseChannel, b"").await;
    data.output_until("got 8 bytes").await;
    assert_eq!(
        luban.status("c-half").await,
        ("Success".into(), "Ok".into())
    );
}
