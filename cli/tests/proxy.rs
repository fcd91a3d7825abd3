//! `axt proxy` and the public endpoint names: the real binary splices an allowed CONNECT and
//! refuses everything else (another name, another port, plain HTTP); `axt` with no endpoint
//! calls each product at its public name over HTTPS through `HTTPS_PROXY`, trusting the lab CA
//! from `SSL_CERT_FILE`, and opens a session WebSocket the same way — against a real control
//! plane serving `--https-listen`. Every name resolves only in the proxy's table, to loopback.

mod common;

use std::{net::SocketAddr, path::Path, process::Stdio};

use axt_cli::proxy::head::read_head;
use axt_proto::client_frame::ClientMessageType::{Output, Status};
use common::{axt, finish, send, TestPlane, KEY_ID, PATIENCE, SECRET};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    process::Child,
};

/// A running `axt proxy` on port 0; killed when dropped.
struct Proxy {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Proxy {
    /// Starts `axt proxy` with `args` and waits for its --addr-file.
    async fn start(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("proxy-addr");
        let mut child = axt(dir.path())
            .args(["proxy", "--listen", "127.0.0.1:0", "--addr-file"])
            .arg(&file)
            .args(args)
            .spawn()
            .unwrap();
        let addr = axt_kit::wait::until(PATIENCE, || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("axt proxy exited: {status}");
            }
            std::fs::read_to_string(&file).ok()?.trim().parse().ok()
        })
        .await
        .expect("axt proxy did not start");
        Self {
            child,
            addr,
            _dir: dir,
        }
    }

    /// `HTTPS_PROXY`'s value for it.
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops it and returns what it printed on stderr.
    async fn stop(mut self) -> String {
        self.child.start_kill().unwrap();
        let out = finish(self.child).await;
        out.stderr
    }
}

/// A TCP server on port 0 echoing every connection back.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut from, mut to) = tcp.split();
                let _ = tokio::io::copy(&mut from, &mut to).await;
            });
        }
    });
    addr
}

/// Sends `request` to `proxy` and reads the answer's head: the stream, the status line, and
/// any bytes that came after the head.
async fn ask(proxy: SocketAddr, request: &[u8]) -> (TcpStream, String, Vec<u8>) {
    let mut tcp = TcpStream::connect(proxy).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let head = tokio::time::timeout(PATIENCE, read_head(&mut tcp))
        .await
        .expect("no answer from the proxy")
        .unwrap();
    (tcp, head.first_line, head.rest)
}

/// The whole answer to a refused request: status line and body (the proxy closes after it).
async fn refused(proxy: SocketAddr, request: &str) -> (String, String) {
    let (mut tcp, status, mut body) = ask(proxy, request.as_bytes()).await;
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut body))
        .await
        .expect("the proxy did not close")
        .unwrap();
    (status, String::from_utf8(body).unwrap())
}

/// Reads exactly `n` bytes.
async fn read_n(tcp: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    tokio::time::timeout(PATIENCE, tcp.read_exact(&mut buf))
        .await
        .expect("nothing spliced back")
        .unwrap();
    buf
}

#[tokio::test]
async fn the_proxy_splices_only_the_names_and_ports_it_lists() {
    let echo = echo_server().await;
    let echo_text = echo.to_string();
    let route = format!("other.test:8443={echo}");
    let proxy = Proxy::start(&["--api", &echo_text, "--route", &route]).await;

    // An OpenAPI name on 443: 200, then bytes both ways — also those sent right behind the
    // CONNECT, before its answer.
    let connect = b"CONNECT ecs-cn-hangzhou.aliyuncs.com:443 HTTP/1.1\r\n\
                    Host: ecs-cn-hangzhou.aliyuncs.com:443\r\n\r\nearly";
    let (mut tcp, status, rest) = ask(proxy.addr, connect).await;
    assert_eq!(status, "HTTP/1.1 200 Connection established");
    let mut echoed = rest;
    echoed.extend(read_n(&mut tcp, 5 - echoed.len()).await);
    assert_eq!(echoed, b"early");
    tcp.write_all(b"\x16\x03\x01 any bytes").await.unwrap();
    assert_eq!(read_n(&mut tcp, 13).await, b"\x16\x03\x01 any bytes");

    // An extra route, named in another case and fully qualified.
    let (mut tcp, status, _) = ask(proxy.addr, b"CONNECT Other.TEST.:8443 HTTP/1.1\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 200 Connection established");
    tcp.write_all(b"ok").await.unwrap();
    assert_eq!(read_n(&mut tcp, 2).await, b"ok");

    // Another name, or a listed name on another port: 403, saying why.
    for target in [
        "example.com:443",
        "ecs-cn-hangzhou.aliyuncs.com:80",
        "127.0.0.1:22",
    ] {
        let (status, body) =
            refused(proxy.addr, &format!("CONNECT {target} HTTP/1.1\r\n\r\n")).await;
        assert_eq!(status, "HTTP/1.1 403 Forbidden", "{target}");
        assert!(body.contains("reaches only the lab's endpoints"), "{body}");
        assert!(body.contains(target), "{body}");
        assert_eq!(body.lines().count(), 1, "{body}");
    }

    // Plain HTTP proxying: 405, and what to do instead.
    let get = "GET http://ecs-cn-hangzhou.aliyuncs.com/ HTTP/1.1\r\n\
               Host: ecs-cn-hangzhou.aliyuncs.com\r\n\r\n";
    let (status, body) = refused(proxy.addr, get).await;
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    assert!(body.contains("https://"), "{body}");

    // Not HTTP at all.
    let (status, _) = refused(proxy.addr, "SSH-2.0-OpenSSH_9.6\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 400 Bad Request");

    let stderr = proxy.stop().await;
    assert!(
        stderr.contains("axt proxy: listening on 127.0.0.1:"),
        "{stderr}"
    );
    for listed in [
        format!("  ecs-cn-hangzhou.aliyuncs.com:443 -> {echo}"),
        format!("  ram.aliyuncs.com:443 -> {echo}"),
        format!("  other.test:8443 -> {echo}"),
    ] {
        assert!(stderr.contains(&listed), "{listed} not in {stderr}");
    }
}

#[tokio::test]
async fn a_proxy_without_routes_or_with_a_name_for_an_address_does_not_start() {
    let home = tempfile::tempdir().unwrap();
    let attempts: [&[&str]; 3] = [
        &["proxy"],
        &["proxy", "--api", "localhost:8443"],
        &["proxy", "--regions", "cn hangzhou", "--api", "127.0.0.1:1"],
    ];
    for args in attempts {
        let out = finish(axt(home.path()).args(args).spawn().unwrap()).await;
        assert_ne!(out.code, Some(0), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

/// `axt` with the admin key, no endpoint, and the lab reached through `proxy`, trusting the
/// CA of `ca_pem` (if any) through `SSL_CERT_FILE`.
fn axt_via(home: &Path, proxy: &Proxy, ca_pem: Option<&Path>) -> tokio::process::Command {
    let mut cmd = axt(home);
    cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .env("HTTPS_PROXY", proxy.url());
    if let Some(ca) = ca_pem {
        cmd.env("SSL_CERT_FILE", ca);
    }
    cmd
}

#[tokio::test]
async fn without_an_endpoint_axt_calls_the_public_names_through_the_proxy() {
    let plane = TestPlane::start_https("wss://cn-hangzhou.axt.aliyuncs.com").await;
    let https = plane
        .https
        .expect("the control plane serves HTTPS")
        .to_string();
    let proxy = Proxy::start(&["--api", &https]).await;
    let ca = plane.ca_dir().join(axt_kit::tls::CA_FILE);
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str], ca: Option<&Path>| {
        let child = axt_via(home.path(), &proxy, ca).args(args).spawn().unwrap();
        finish(child)
    };

    // ECS at ecs-cn-hangzhou.aliyuncs.com, RAM at ram.aliyuncs.com, STS at
    // sts.cn-hangzhou.aliyuncs.com: the plane refuses a call on another product's name, so
    // each answer says the call went to its own product's name.
    let out = run(&["api", "DescribeRegions"], Some(&ca)).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let answer: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(answer["Regions"]["Region"].is_array(), "{answer}");
    for action in ["Ram.ListUsers", "Sts.GetCallerIdentity"] {
        let out = run(&["api", action], Some(&ca)).await;
        assert_eq!(out.code, Some(0), "{action}: {}", out.stderr);
    }
    // RAM's action on ECS's name, given explicitly: through the proxy too, and refused by the
    // plane as the real ECS endpoint would, which shows the Host the call carried.
    let explicit = ["--endpoint", "https://ecs-cn-hangzhou.aliyuncs.com"];
    let out = run(
        &[&explicit[..], &["api", "Ram.ListUsers"][..]].concat(),
        Some(&ca),
    )
    .await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("InvalidVersion"), "{}", out.stderr);

    // Without the lab CA the certificate is not trusted.
    let out = run(&["api", "DescribeRegions"], None).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains("calling https://ecs-cn-hangzhou.aliyuncs.com/"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("UnknownIssuer"), "{}", out.stderr);
}

#[tokio::test]
async fn a_session_websocket_goes_through_the_proxy_to_the_gateway_name() {
    let plane = TestPlane::start_https("wss://cn-hangzhou.axt.aliyuncs.com").await;
    let ca_dir = plane.ca_dir();
    let gateway_dir = tempfile::tempdir().unwrap();
    let names = ["cn-hangzhou.axt.aliyuncs.com".to_owned()];
    let tls = axt_kit::tls::server_config(&ca_dir, gateway_dir.path(), "gw", &names).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let gateway = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway_addr = gateway.local_addr().unwrap().to_string();
    let proxy = Proxy::start(&["--gateway", &gateway_addr]).await;
    let ca = ca_dir.join(axt_kit::tls::CA_FILE);
    let home = tempfile::tempdir().unwrap();

    let url = "wss://cn-hangzhou.axt.aliyuncs.com/session?sessionId=s-1&token=t";
    let child = axt_via(home.path(), &proxy, Some(&ca))
        .args(["session", "--wss-url", url])
        .stdin(Stdio::piped()) // held open: the session ends by the gateway's Status
        .spawn()
        .unwrap();
    let (tcp, _) = tokio::time::timeout(PATIENCE, gateway.accept())
        .await
        .expect("nothing reached the gateway")
        .unwrap();
    let tls = acceptor.accept(tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.server_name(), Some(names[0].as_str()));
    let mut ws = tokio_tungstenite::accept_async(tls).await.unwrap();
    send(&mut ws, Output, b"through the proxy").await;
    send(&mut ws, Status, b"\x05Exit").await;
    let out = finish(child).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "through the proxy");

    // A region the proxy does not serve: its refusal is shown as it said it.
    let url = "wss://cn-shanghai.axt.aliyuncs.com/session?sessionId=s-1&token=t";
    let child = axt_via(home.path(), &proxy, Some(&ca))
        .args(["session", "--wss-url", url])
        .spawn()
        .unwrap();
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    for said in [
        "refused CONNECT cn-shanghai.axt.aliyuncs.com:443: HTTP 403 Forbidden",
        "reaches only the lab's endpoints",
        "(from HTTPS_PROXY)",
    ] {
        assert!(out.stderr.contains(said), "{said} not in {}", out.stderr);
    }
}
