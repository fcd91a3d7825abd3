//! Nothing is held forever: a gateway killed with -9 while it holds an instance at its
//! per-instance limit stops holding it when its lease runs out, with nobody calling
//! EndTerminalSession — a new session on that instance connects, and the dead gateway's
//! connections are recorded `Failed`/`GatewayLost`.

use std::{
    net::SocketAddr,
    path::Path,
    time::{Duration, Instant},
};

use axt_e2e::{bin, client::RawClient, start_agent, Stack, INTERNAL_TOKEN};
use axt_kit::process::Supervised;

const LIMIT: Duration = Duration::from_secs(30);
/// The control plane's default lease.
const LEASE: Duration = Duration::from_secs(15);

/// An `axt-gateway` process of its own (so that it can be killed), on `listen`, named `id`,
/// keeping its CA in `dir`; returns it and the address it bound.
async fn gateway(stack: &Stack, dir: &Path, id: &str, listen: &str) -> (Supervised, SocketAddr) {
    let mut cmd = axt_kit::process::command(&[], bin("axt-gateway"));
    cmd.args(["--listen", listen, "--gateway-id", id])
        .arg("--data-dir")
        .arg(dir)
        .args(["--control-plane", &format!("http://{}", stack.cp_addr)])
        .args(["--internal-token", INTERNAL_TOKEN])
        .env("RUST_LOG", "info");
    let log = stack.dir.path().join(format!("{id}.log"));
    let mut process = Supervised::spawn(id, cmd, &log).unwrap();
    let line = process.line("gateway listening", LIMIT).await.unwrap();
    let addr = line
        .split("addr=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (process, addr)
}

/// A new session on `instance`: its id and its WebSocketUrl, pointed at `gateway`.
async fn session(stack: &Stack, instance: &str, gateway: SocketAddr) -> (String, String) {
    let started = stack.start_session(&[("InstanceId.1", instance)]).await;
    let url = started["WebSocketUrl"].as_str().unwrap();
    let query = url.split_once('?').unwrap().1;
    let id = started["SessionId"].as_str().unwrap().to_owned();
    (id, format!("wss://{gateway}/session?{query}"))
}

/// Connects and proves the shell answers.
async fn shell(url: &str, ca: &Path, tag: &str) -> RawClient {
    let mut client = RawClient::connect(url, ca, false).await.unwrap();
    client.shell_answers(tag, LIMIT).await;
    client
}

/// Waits until gateway `id` holds `instance`'s kick channel.
async fn online(stack: &Stack, instance: &str, id: &str) {
    axt_kit::wait::eventually(
        LIMIT,
        "the agent online",
        || stack.plane.store.kick_channel_holder(instance),
        |holder| matches!(holder, Ok(Some(holder)) if holder == id),
    )
    .await
    .unwrap();
}

/// `axt-agent run` on the state `start_agent` left in `dir/agent`.
fn run_agent(stack: &Stack) -> Supervised {
    let dir = stack.dir.path();
    let mut run = axt_kit::process::command(&[], bin("axt-agent"));
    run.args(["run", "--state-dir"])
        .arg(dir.join("agent"))
        .args(["--default-user", &stack.user.name()])
        .env("RUST_LOG", "info");
    Supervised::spawn("agent", run, &dir.join("agent-again.log")).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_gateways_connections_are_freed_when_its_lease_runs_out() {
    let stack = Stack::start(&["--max-connections-per-instance", "2"], &[]).await;
    let data = stack.dir.path().join("gateway-process");
    let (mut first, addr) = gateway(&stack, &data, "gw-first", "127.0.0.1:0").await;
    let ca = data.join("ca.pem");
    let run_args = ["--default-user".to_owned(), stack.user.name()];
    let (mut agent, instance) = start_agent(
        &stack.api(),
        stack.dir.path(),
        "agent",
        &[],
        addr,
        &ca,
        &run_args,
    )
    .await;
    online(&stack, &instance, "gw-first").await;

    // The instance at its limit through the first gateway.
    let mut held = Vec::new();
    let mut held_ids = Vec::new();
    for tag in ["one", "two"] {
        let (id, url) = session(&stack, &instance, addr).await;
        held.push(shell(&url, &ca, tag).await);
        held_ids.push(id);
    }
    let (_, third) = session(&stack, &instance, addr).await;
    let refused = RawClient::connect(&third, &ca, false).await.err().unwrap();
    assert_eq!(refused.0, 429, "at the limit: {refused:?}");

    // The host goes down: gateway and agent killed, no goodbye, no records, no result report.
    // Only the lease can free what the gateway held.
    first.kill();
    agent.kill();
    let killed = Instant::now();
    let (_second, _) = gateway(&stack, &data, "gw-second", &addr.to_string()).await;
    let _agent = run_agent(&stack);
    online(&stack, &instance, "gw-second").await;
    let early = RawClient::connect(&third, &ca, false).await.err();
    assert!(
        early.as_ref().is_some_and(|refused| refused.0 == 429) || killed.elapsed() >= LEASE / 2,
        "still held before the lease ran out: {early:?}"
    );
    axt_kit::wait::eventually(
        LEASE + LIMIT,
        "a new session let in",
        || async {
            RawClient::connect(&third, &ca, false)
                .await
                .map(|_| ())
                .map_err(|refused| refused.0)
        },
        Result::is_ok,
    )
    .await
    .unwrap();
    let freed_after = killed.elapsed();
    assert!(
        freed_after < LEASE + Duration::from_secs(5),
        "freed {freed_after:?} after the kill"
    );
    drop(held);
    for id in held_ids {
        assert_eq!(
            stack.connection_end(&id).await,
            ("Failed".to_owned(), "GatewayLost".to_owned())
        );
    }
}
