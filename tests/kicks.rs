//! No kick lost under a burst: 200 clients connecting to one instance at once all get their
//! session, and 1,000 sessions of one agent closed at once all reach the agent as stops
//! (`Notified`), none left to time out redialling.

use std::time::Duration;

use axt_e2e::{client::RawClient, Stack};
use futures_util::{stream, StreamExt as _};

const LIMIT: Duration = Duration::from_secs(60);

/// Room for thousands of sockets in this process and the agent it starts (CI's default soft
/// limit may be 1024).
fn raise_open_files() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let wanted = hard.min(65_536);
    assert!(wanted >= 8_192, "the hard limit of open files is {hard}");
    setrlimit(Resource::RLIMIT_NOFILE, wanted, hard).unwrap();
}

/// A stack whose limits let `n` sessions of one instance run at once, its agent, and `n`
/// port sessions to an echo server.
async fn sessions(n: usize) -> (Stack, Vec<String>) {
    raise_open_files();
    let room = (n + 10).to_string();
    let cp_flags = [
        "--max-sessions-per-region",
        room.as_str(),
        "--max-connections-per-instance",
        room.as_str(),
    ];
    let mut stack = Stack::start(&cp_flags, &[]).await;
    let instance = stack.agent(&["--max-sessions", room.as_str()]).await;
    let port = axt_e2e::echo_server().await.to_string();
    let mut urls = Vec::with_capacity(n);
    for _ in 0..n {
        let started = stack
            .start_session(&[("InstanceId.1", &instance), ("PortNumber", &port)])
            .await;
        urls.push(started["WebSocketUrl"].as_str().unwrap().to_owned());
    }
    (stack, urls)
}

/// Connects to `url` and proves the port session carries bytes both ways.
async fn working(url: String, ca: &std::path::Path, tag: usize) -> RawClient {
    let mut client = RawClient::connect(&url, ca, false)
        .await
        .unwrap_or_else(|refused| panic!("client {tag} refused: {refused:?}"));
    let word = format!("ping-{tag}.");
    client.input(&word).await;
    client.expect_output(&word, LIMIT).await;
    client
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_clients_connecting_to_one_instance_at_once_all_get_through() {
    let (stack, urls) = sessions(200).await;
    // All at once: every kick is queued for the one agent together.
    let clients = futures_util::future::join_all(
        urls.into_iter()
            .enumerate()
            .map(|(tag, url)| working(url, &stack.ca, tag)),
    )
    .await;
    assert_eq!(clients.len(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_sessions_closed_at_once_all_reach_the_agent_as_stops() {
    let (stack, urls) = sessions(1_000).await;
    // Opened a hundred at a time (the gateway caps half-open connections per address).
    let clients: Vec<RawClient> = stream::iter(urls.into_iter().enumerate())
        .map(|(tag, url)| working(url, &stack.ca, tag))
        .buffer_unordered(100)
        .collect()
        .await;
    assert_eq!(clients.len(), 1_000);

    // All closed at once: a thousand stop kicks for one agent.
    drop(clients);
    let log = stack.dir.path().join("agent-0.log");
    // How many sessions ended with each result, by the agent's own log.
    let results = || {
        let mut results = std::collections::BTreeMap::<String, usize>::new();
        for line in std::fs::read_to_string(&log).unwrap_or_default().lines() {
            if let Some(result) = line
                .contains("session ended")
                .then(|| line.split("result=").nth(1))
                .flatten()
                .and_then(|rest| rest.split_whitespace().next())
            {
                *results
                    .entry(result.trim_matches('"').to_owned())
                    .or_default() += 1;
            }
        }
        results
    };
    let ended = axt_kit::wait::eventually(
        LIMIT,
        "every session stopped",
        || async { results() },
        |results| results.values().sum::<usize>() >= 1_000,
    )
    .await;
    assert_eq!(
        ended,
        [("Notified".to_owned(), 1_000)].into(),
        "each one told to stop"
    );
}
