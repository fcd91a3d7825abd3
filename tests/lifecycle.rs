//! A session's life and its limits, end to end: the URL's validity, the idle timeout and what
//! counts as data, the per-instance limit, EndTerminalSession reaching live connections, the
//! bandwidth limit, an agent killed mid-session, schema 1.02 reconnects, and bad input.

use std::time::{Duration, Instant};

use axt_e2e::{client::RawClient, Stack, REGION};
use axt_proto::{client_frame::ClientMessageType, status::ChannelState};

const LIMIT: Duration = Duration::from_secs(20);
const CLOSED: u8 = ChannelState::Closed as u8;

async fn shell(stack: &mut Stack, v102: bool) -> (RawClient, String, String) {
    let instance = stack.agent(&[]).await;
    let started = stack.start_session(&[("InstanceId.1", &instance)]).await;
    let url = started["WebSocketUrl"].as_str().unwrap().to_owned();
    let mut client = RawClient::connect(&url, &stack.ca, v102).await.unwrap();
    client
        .expect_status(ChannelState::Opened as u8, LIMIT)
        .await;
    (
        client,
        url,
        started["SessionId"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_url_is_refused_before_any_agent_is_kicked() {
    let mut stack = Stack::start(&["--url-ttl-secs", "0"], &[]).await;
    let instance = stack.agent(&[]).await;
    let started = stack.start_session(&[("InstanceId.1", &instance)]).await;
    let refused = RawClient::connect(started["WebSocketUrl"].as_str().unwrap(), &stack.ca, false)
        .await
        .err()
        .unwrap();
    assert_eq!(refused.0, 410);
    assert!(refused.1.contains("UrlExpired"), "{refused:?}");
    assert!(stack
        .connections(started["SessionId"].as_str().unwrap())
        .await
        .is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_connection_closes_and_keep_alives_count_as_data() {
    let mut stack = Stack::start(&[], &["--idle-timeout-secs", "2"]).await;
    let (mut kept, _, _) = shell(&mut stack, true).await;
    let (mut idle, _, idle_session) = shell(&mut stack, false).await;
    // The web client's keep-alive is an empty Input; ali-instance-cli sends none.
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(400));
    while started.elapsed() < Duration::from_secs(4) {
        tick.tick().await;
        kept.send(ClientMessageType::Input, Vec::new()).await;
        while kept.next_frame(Duration::from_millis(1)).await.is_some() {}
    }
    assert!(
        !kept.statuses.iter().any(|s| s.first() == Some(&CLOSED)),
        "the kept-alive session closed"
    );
    assert_eq!(idle.expect_status(CLOSED, LIMIT).await, "AgentTimeout");
    kept.input("echo still-$((6*7))\r").await;
    kept.expect_output("still-42", LIMIT).await;
    assert_eq!(
        stack.connection_end(&idle_session).await,
        ("Terminated".to_owned(), "IdleTimeout".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_per_instance_limit_refuses_the_next_session() {
    let mut stack = Stack::start(&["--max-connections-per-instance", "1"], &[]).await;
    let (_first, _, _) = shell(&mut stack, false).await;
    let instance = stack
        .plane
        .store
        .connections(&stack.live_session_ids().await[0])
        .await
        .unwrap()[0]
        .instance_id
        .clone();
    let second = stack.start_session(&[("InstanceId.1", &instance)]).await;
    let refused = RawClient::connect(second["WebSocketUrl"].as_str().unwrap(), &stack.ca, false)
        .await
        .err()
        .unwrap();
    assert_eq!(refused.0, 429);
    assert!(
        refused.1.contains("SessionCount.ExceedLimit"),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn end_terminal_session_closes_live_connections_within_a_second_and_leaves_no_process() {
    let mut stack = Stack::start(&[], &[]).await;
    let (mut client, _, session) = shell(&mut stack, false).await;
    let marker = format!("sleep {}", 30_000 + std::process::id() % 10_000);
    let hardy = format!("sleep {}", 40_000 + std::process::id() % 10_000);
    // A plain background job, and one that ignores the hang-up.
    client
        .input(&format!(
            "{marker} & nohup {hardy} >/dev/null 2>&1 & echo bg-$((40+2))\r"
        ))
        .await;
    client.expect_output("bg-42", LIMIT).await;
    let ended = Instant::now();
    let (status, _) = stack
        .api()
        .call(
            "EndTerminalSession",
            &[("RegionId", REGION), ("SessionId", &session)],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(client.expect_status(CLOSED, LIMIT).await, "SessionEnded");
    let took = ended.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "the connection ended {took:?} after EndTerminalSession"
    );
    // The shell's whole process group went with it, reaped: no orphan, no zombie.
    let gone = || {
        let ps = std::process::Command::new("ps")
            .args(["-eo", "stat,args"])
            .output()
            .unwrap();
        !String::from_utf8_lossy(&ps.stdout)
            .lines()
            .any(|l| (l.contains(&marker) || l.contains(&hardy)) && !l.contains("ps -eo"))
    };
    axt_e2e::wait_for(LIMIT, gone).await;
    assert_eq!(
        stack.connection_end(&session).await,
        ("Terminated".to_owned(), "ClientClosed".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_killed_mid_session_closes_with_a_reason() {
    let mut stack = Stack::start(&[], &[]).await;
    let (mut client, _, session) = shell(&mut stack, false).await;
    client.input("echo alive-$((1+1))\r").await;
    client.expect_output("alive-2", LIMIT).await;
    stack.stop_agents(); // SIGKILL
    assert_eq!(
        client.expect_status(CLOSED, LIMIT).await,
        "AgentSocketClosed"
    );
    assert_eq!(
        stack.connection_end(&session).await,
        ("Failed".to_owned(), "AgentSocketClosed".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bandwidth_limit_holds_within_ten_percent() {
    const RATE: usize = 64 * 1024;
    const TOTAL: usize = 3 * RATE;
    let mut stack = Stack::start(&["--session-rate-limit", &RATE.to_string()], &[]).await;
    let instance = stack.agent(&[]).await;
    // A target that sends TOTAL bytes to whoever connects.
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = target.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt as _;
        if let Ok((mut conn, _)) = target.accept().await {
            let _ = conn.write_all(&vec![b'x'; TOTAL]).await;
            let _ = conn.shutdown().await;
        }
    });
    let port = port.to_string();
    let mut client = stack
        .open(&[("InstanceId.1", &instance), ("PortNumber", &port)])
        .await;
    // Measured from the first byte, so that set-up time does not count.
    while client.output.is_empty() {
        assert!(client.next_frame(LIMIT).await.is_some());
    }
    let (first, since) = (client.output.len(), Instant::now());
    while client.output.len() < TOTAL {
        assert!(
            client.next_frame(LIMIT).await.is_some(),
            "ended after {} bytes",
            client.output.len()
        );
    }
    let rate = (TOTAL - first) as f64 / since.elapsed().as_secs_f64();
    let ratio = rate / RATE as f64;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "measured {rate:.0} B/s against a limit of {RATE} B/s"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_1_02_client_reconnects_without_losing_output_or_applying_input_twice() {
    let mut stack = Stack::start(&[], &[]).await;
    let (mut client, url, _) = shell(&mut stack, true).await;
    client.input("echo one-$((0+1))\r").await;
    client.expect_output("one-1", LIMIT).await;
    // Output is produced while the client is away.
    client.input("sleep 1; echo away-$((20+5))\r").await;
    let (seq, last_output, channel) = (
        client.seq_sent(),
        client.last_output,
        client.channel_id.clone(),
    );
    let before = client.output.clone();
    drop(client);
    let mut back = RawClient::connect(&format!("{url}&channelId={channel}"), &stack.ca, true)
        .await
        .unwrap();
    back.resume(seq, last_output, &channel, before);
    back.send_numbered(ClientMessageType::Sync, seq, Vec::new())
        .await;
    back.expect_output("away-25", LIMIT).await;
    // A resend of an input the gateway already applied is not applied again.
    back.input("echo twice-$((1+1))\r").await;
    let resent = back.seq_sent();
    back.send_numbered(
        ClientMessageType::Input,
        resent,
        b"echo twice-$((1+1))\r".to_vec(),
    )
    .await;
    back.input("echo done-$((3+3))\r").await;
    back.expect_output("done-6", LIMIT).await;
    assert_eq!(
        back.output_text().matches("twice-2").count(),
        1,
        "{}",
        back.output_text()
    );
    assert_eq!(
        back.output_text().matches("away-25").count(),
        1,
        "{}",
        back.output_text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_and_touches_no_other_session() {
    let mut stack = Stack::start(&[], &[]).await;
    let (mut good, _, _) = shell(&mut stack, false).await;
    let (mut bad, _, _) = shell(&mut stack, false).await;
    let mut garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![1, 2, 3, 4, 5],
        vec![0xff; 28],
        vec![0; 29],
        b"\x00\x00\x00\x001.01\xc8".to_vec(),
    ];
    garbage.push(vec![0x42; 64 * 1024]);
    let mut other_channel = axt_proto::client_frame::ClientFrame::v101(
        ClientMessageType::Input,
        0,
        b"echo nope\r".to_vec(),
    );
    other_channel.channel_id = "c-someoneelsesxxxxxxxxxxxxx".into();
    garbage.push(other_channel.encode().unwrap());
    for bytes in garbage {
        bad.send_raw(bytes).await;
    }
    // The frame naming another channel was not applied; the rest was ignored.
    bad.input("echo marker-$((1+2))\r").await;
    bad.expect_output("marker-3", LIMIT).await;
    assert!(!bad.output_text().contains("nope"), "{}", bad.output_text());
    // An oversized message closes that socket only.
    bad.send_raw(vec![0; 2 << 20]).await;
    assert!(
        bad.expect_end(LIMIT).await,
        "an oversized message did not close the connection"
    );
    // Garbage on the HTTP endpoints gets errors, not crashes.
    let http = stack.gateway_http(None);
    let base = format!("https://{}", stack.gw_addr);
    for path in [
        "/luban/api/instance/register",
        "/luban/api/v1/session/status?channelId=x",
        "/luban/api/heart-beat",
        "/session?sessionId=s-x&token=t",
    ] {
        let resp = http
            .post(format!("{base}{path}"))
            .body(vec![0xfe; 1000])
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().as_u16() < 500 || resp.status().as_u16() == 503,
            "{path}: {}",
            resp.status()
        );
    }
    let resp = reqwest::Client::new()
        .post(format!("http://{}/", stack.cp_addr))
        .body(vec![0xfe; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["Code"].is_string() && body["RequestId"].is_string());
    // An id that would steer the gateway's own call to the control plane elsewhere steers
    // nothing (ids travel in bodies, never in paths): it is just an unknown session.
    let victim = stack
        .plane
        .store
        .connections(&stack.live_session_ids().await[0])
        .await
        .unwrap()[0]
        .instance_id
        .clone();
    let steer = format!(
        "wss://{}/session?sessionId=s-x&token=t&channelId=../agents/{victim}/deregister%23",
        stack.gw_addr
    );
    let refused = RawClient::connect(&steer, &stack.ca, true)
        .await
        .err()
        .unwrap();
    assert_eq!(refused.0, 403, "{refused:?}");
    let (_, managed) = stack
        .api()
        .call("DescribeManagedInstances", &[("RegionId", REGION)])
        .await;
    assert!(managed["Instances"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["InstanceId"] == victim.as_str()));
    // The other session did not notice.
    good.input("echo fine-$((7*6))\r").await;
    good.expect_output("fine-42", LIMIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_surface_refuses_forged_identities() {
    use axt_proto::identity::{AgentKey, INSTANCE_ID, REQUEST_ID, SIGNATURE, TIMESTAMP};
    let mut stack = Stack::start(&[], &[]).await;
    let instance = stack.agent(&[]).await;
    let http = stack.gateway_http(None);
    let beat = format!("https://{}/luban/api/heart-beat", stack.gw_addr);
    let send = |headers: Vec<(&'static str, String)>| {
        let mut req = http.get(&beat);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        req.send()
    };
    // No identity at all.
    assert_eq!(send(vec![]).await.unwrap().status(), 401);
    // The real instance id, signed with a key that is not the one it registered.
    let other = AgentKey::generate().unwrap();
    let now = axt_proto::now_ms().to_string();
    let forged = other
        .sign(
            &instance,
            "machine",
            &now,
            "c2457209-2ffe-4eb6-8118-7e226d8cf56a",
        )
        .unwrap();
    let headers = |id: &axt_proto::identity::Identity| {
        vec![
            (INSTANCE_ID, id.instance_id.clone()),
            (TIMESTAMP, id.timestamp_ms.clone()),
            (REQUEST_ID, id.request_id.clone()),
            (SIGNATURE, id.signature.clone()),
        ]
    };
    assert_eq!(send(headers(&forged)).await.unwrap().status(), 401);
    // An instance id that does not exist, or that would steer the gateway's lookup.
    for id in ["mi-doesnotexist", "../sessions/verify"] {
        let forged = other
            .sign(id, "machine", &now, &uuid::Uuid::new_v4().to_string())
            .unwrap();
        let status = send(headers(&forged)).await.unwrap().status();
        assert_eq!(status, 401, "{id}");
    }
    // A timestamp far off, even correctly signed by someone, is refused before anything else.
    let stale = other
        .sign(&instance, "machine", "1", &uuid::Uuid::new_v4().to_string())
        .unwrap();
    assert_eq!(send(headers(&stale)).await.unwrap().status(), 401);
    // The data channel refuses the same way: no upgrade without a verified identity.
    let backend = format!(
        "wss://{}/luban/session/backend?channelId=c-x",
        stack.gw_addr
    );
    let refused = RawClient::connect(&backend, &stack.ca, false)
        .await
        .err()
        .unwrap();
    assert_eq!(refused.0, 401);
}
