//! What `axt` tells someone whose command cannot go on, the same for every command: a usage
//! line that asks only for what is missing (not for the options a lab shell exports), and, when
//! the OpenAPI endpoint's certificate is not trusted, how to pass the lab's CA.

mod common;

use common::{
    axt, finish,
    tls::{assert_told_to_pass_the_ca, handshake_fails, lab_tls},
    KEY_ID, SECRET,
};
use tokio::net::TcpListener;

#[tokio::test]
async fn the_usage_line_asks_only_for_what_is_missing() {
    // A lab shell exports the key and the endpoint; clap's own usage line listed them all as
    // if they were missing.
    let home = tempfile::tempdir().unwrap();
    let cases = [
        (
            "session",
            "axt session [OPTIONS] <--instance <ID>|--wss-url <URL>>",
        ),
        (
            "portforward",
            "axt portforward [OPTIONS] --instance <ID> --remote-port <PORT> --local-port <PORT>",
        ),
        ("ssh", "axt ssh [OPTIONS] <--instance <ID>|--wss-url <URL>>"),
    ];
    for (command, expected) in cases {
        let child = axt(home.path())
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
            .env("ALIBABA_CLOUD_ECS_ENDPOINT", "127.0.0.1:1")
            .arg(command)
            .spawn()
            .unwrap();
        let out = finish(child).await;
        assert_eq!(out.code, Some(2), "{command}: {}", out.stderr);
        let usage = out.stderr.lines().find(|line| line.starts_with("Usage:"));
        let expected = format!("Usage: {expected}");
        assert_eq!(usage, Some(expected.as_str()), "{}", out.stderr);
    }
}

#[tokio::test]
async fn every_command_says_to_pass_the_ca_when_the_endpoint_is_not_trusted() {
    let (_, acceptor) = lab_tls();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("https://{}", listener.local_addr().unwrap());
    let home = tempfile::tempdir().unwrap();
    let with_key = || {
        let mut cmd = axt(home.path());
        cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
            .env("ALIBABA_CLOUD_ECS_ENDPOINT", &endpoint);
        cmd
    };
    let commands: [&[&str]; 5] = [
        &["api", "DescribeRegions"],
        &[
            "iam",
            "simulate",
            "--user",
            "u",
            "--action",
            "ecs:X",
            "--resource",
            "*",
        ],
        &["session", "--instance", "i-x"],
        &[
            "portforward",
            "-i",
            "i-x",
            "--remote-port",
            "22",
            "--local-port",
            "0",
        ],
        &["ssh", "--instance", "i-x"],
    ];
    for command in commands {
        let child = with_key().args(command).spawn().unwrap();
        handshake_fails(&listener, &acceptor).await;
        let out = finish(child).await;
        assert_told_to_pass_the_ca(&out);
    }

    // A bundle of SSL_CERT_FILE without this lab's CA is named as what was tried.
    let (other_ca, _) = lab_tls();
    let bundle = home.path().join("bundle.pem");
    std::fs::write(&bundle, other_ca).unwrap();
    let child = with_key()
        .env("SSL_CERT_FILE", &bundle)
        .args(["api", "DescribeRegions"])
        .spawn()
        .unwrap();
    handshake_fails(&listener, &acceptor).await;
    let out = finish(child).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let tried = format!(
        "not even with the CA in {} (SSL_CERT_FILE)",
        bundle.display()
    );
    assert!(out.stderr.contains(&tried), "{}", out.stderr);
}
