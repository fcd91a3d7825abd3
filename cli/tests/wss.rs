//! `wss://` with a lab CA: trusted with --ca-cert (or the profile's `axt_ca_cert`), refused
//! with a clear message without it.

mod common;

use std::process::Stdio;

use axt_proto::client_frame::ClientMessageType::{Output, Status};
use common::{
    axt, finish, send,
    tls::{handshake_fails, lab_tls},
    PATIENCE,
};
use tokio::net::TcpListener;

#[tokio::test]
async fn wss_trusts_the_lab_ca_given_by_flag_or_profile_and_only_then() {
    let (ca_pem, acceptor) = lab_tls();
    let home = tempfile::tempdir().unwrap();
    let ca_path = home.path().join("lab-ca.pem");
    std::fs::write(&ca_path, &ca_pem).unwrap();
    std::fs::create_dir_all(home.path().join(".aliyun")).unwrap();
    let profile = serde_json::json!({"current": "lab", "profiles": [
        {"name": "lab", "mode": "AK", "axt_ca_cert": ca_path},
        {"name": "plain", "mode": "AK"}]});
    std::fs::write(home.path().join(".aliyun/config.json"), profile.to_string()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "wss://{}/session?sessionId=s-1&token=t",
        listener.local_addr().unwrap()
    );

    let ca_flag = ca_path.display().to_string();
    for global in [vec!["--ca-cert", ca_flag.as_str()], vec![]] {
        let child = axt(home.path())
            .args(&global)
            .args(["session", "--wss-url", &url])
            .stdin(Stdio::piped()) // held open: the session ends by the gateway's Status
            .spawn()
            .unwrap();
        let (tcp, _) = tokio::time::timeout(PATIENCE, listener.accept())
            .await
            .unwrap()
            .unwrap();
        let tls = acceptor.accept(tcp).await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tls).await.unwrap();
        send(&mut ws, Output, b"over tls").await;
        send(&mut ws, Status, b"\x05Exit").await;
        let out = finish(child).await;
        assert_eq!(out.code, Some(0), "{global:?}: {}", out.stderr);
        assert_eq!(out.stdout, "over tls");
    }

    // Another profile without the CA: the certificate is refused, and axt says why.
    let child = axt(home.path())
        .args(["--profile", "plain", "session", "--wss-url", &url])
        .spawn()
        .unwrap();
    handshake_fails(&listener, &acceptor).await;
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("UnknownIssuer"), "{}", out.stderr);
}
