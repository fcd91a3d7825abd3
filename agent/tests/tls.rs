//! TLS to the server: the lab CA given by `--ca-cert` is trusted for HTTP and WebSocket
//! upgrades alike, another CA is not, and the WebSocket handshake offers no ALPN (as the stock
//! agent's dialers).

use std::{path::Path, sync::Arc};

use axt_agent::{client::Client, state::ServerConfig};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_rustls::TlsAcceptor;

const WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A CA's PEM and a server configuration for 127.0.0.1 signed by it: the gateway's own lab
/// TLS, made in a directory of its own.
fn lab_ca() -> (String, Arc<rustls::ServerConfig>) {
    let dir = tempfile::tempdir().unwrap();
    let config = axt_gateway::tls::server_config(dir.path(), &["127.0.0.1".to_owned()]).unwrap();
    let ca = std::fs::read_to_string(dir.path().join(axt_gateway::tls::CA_FILE)).unwrap();
    (ca, config)
}

fn client(server: std::net::SocketAddr, ca: &Path) -> Client {
    let config = ServerConfig {
        server: server.to_string(),
        plain: false,
        ca_cert: Some(ca.to_owned()),
    };
    Client::new(&config, None).unwrap()
}

#[tokio::test]
async fn the_lab_ca_is_trusted_for_http_and_websockets() {
    let (ca_pem, server_config) = lab_ca();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(server_config);
    let server = tokio::spawn(async move {
        // First connection: one HTTP request, answered by hand.
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            tls.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        tls.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\nconnection: close\r\n\r\n{\"code\":200}\n",
        )
        .await
        .unwrap();
        tls.shutdown().await.unwrap();
        // Second: a WebSocket upgrade, which must come without ALPN.
        let (tcp, _) = listener.accept().await.unwrap();
        let tls = acceptor.accept(tcp).await.unwrap();
        let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        let _ws = tokio_tungstenite::accept_async(tls).await.unwrap();
        (String::from_utf8(head).unwrap(), alpn)
    });

    let client = client(addr, &ca);
    let body = client
        .send(
            client
                .request(reqwest::Method::GET, "/luban/api/heart-beat")
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(body, b"{\"code\":200}\n");
    client.websocket("/luban/notify_server", &[]).await.unwrap();
    let (head, alpn) = tokio::time::timeout(WAIT, server).await.unwrap().unwrap();
    assert!(
        head.starts_with("GET /luban/api/heart-beat HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(head.to_lowercase().contains("user-agent: linux_"), "{head}");
    assert_eq!(alpn, None);
}

#[tokio::test]
async fn a_server_signed_by_another_ca_is_refused() {
    let (_, server_config) = lab_ca();
    let (other_ca, _) = lab_ca();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("other.pem");
    std::fs::write(&ca, other_ca).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(server_config);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            // The handshake fails on the client's side; the result here does not matter.
            let _ = acceptor.accept(tcp).await;
        }
    });
    let client = client(addr, &ca);
    let request = client.request(reqwest::Method::GET, "/").unwrap();
    assert!(client.send(request).await.is_err());
    assert!(client.websocket("/luban/notify_server", &[]).await.is_err());
}
