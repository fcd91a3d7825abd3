//! A TLS server whose certificate `axt` does not trust unless given its CA: the lab's own TLS
//! (the gateway's), made in a directory of its own.

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::PATIENCE;

/// A lab CA (its PEM) and a TLS acceptor for 127.0.0.1 whose certificate it signed.
pub fn lab_tls() -> (String, TlsAcceptor) {
    let dir = tempfile::tempdir().unwrap();
    let config = axt_gateway::tls::server_config(dir.path(), &["127.0.0.1".to_owned()]).unwrap();
    let ca = std::fs::read_to_string(dir.path().join(axt_gateway::tls::CA_FILE)).unwrap();
    (ca, TlsAcceptor::from(config))
}

/// Accepts one connection (bounded) whose TLS handshake fails, because the client refuses the
/// certificate.
pub async fn handshake_fails(listener: &TcpListener, acceptor: &TlsAcceptor) {
    let (tcp, _) = tokio::time::timeout(PATIENCE, listener.accept())
        .await
        .expect("nobody connected")
        .unwrap();
    assert!(acceptor.accept(tcp).await.is_err());
}

/// That `out` is `axt` ending on an untrusted certificate, with no CA given: the error (exit
/// 1), then to pass the lab's CA, then where the lab keeps it — three lines in all.
pub fn assert_told_to_pass_the_ca(out: &super::Outcome) {
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stderr);
    assert!(lines[0].contains("UnknownIssuer"), "{}", out.stderr);
    let pass = "not trusted: pass the lab's CA with --ca-cert, AXT_CA_CERT or SSL_CERT_FILE";
    assert!(lines[1].contains(pass), "{}", out.stderr);
    assert!(lines[2].contains("axt-data/ca/ca.pem"), "{}", out.stderr);
}
