//! Faults, end to end: the control plane killed with SIGKILL and restarted under live
//! sessions, the gateway restarted under a schema-1.02 client, and an agent's links cut and
//! restored. Here the control plane runs as the real binary, so that it can really be killed.

use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use axt_e2e::{
    bin, client::RawClient, proxy::Proxy, start_agent, wait_for, Api, SessionUser, Stack,
    INTERNAL_TOKEN, KEY_ID, REGION, SECRET,
};
use axt_kit::process::Supervised;
use axt_proto::{client_frame::ClientMessageType, status::ChannelState};
use clap::Parser as _;

const LIMIT: Duration = Duration::from_secs(30);

/// The control plane binary on `listen`, and the address it reports once listening.
async fn spawn_control_plane(
    dir: &Path,
    listen: &str,
    gateway_url: &str,
) -> (Supervised, SocketAddr) {
    let data = dir.join("cp");
    let addr_file = data.join(axt_control_plane::LISTEN_ADDR_FILE);
    let _ = std::fs::remove_file(&addr_file);
    let mut cmd = axt_kit::process::command(&[], bin("axt-control-plane"));
    cmd.args([
        "--listen",
        listen,
        "--gateway-url",
        gateway_url,
        "--internal-token",
        INTERNAL_TOKEN,
    ])
    .args([
        "--admin-access-key-id",
        KEY_ID,
        "--admin-access-key-secret",
        SECRET,
        "--data-dir",
    ])
    .arg(&data)
    .env("RUST_LOG", "info");
    let mut child = Supervised::spawn("control-plane", cmd, &dir.join("cp.log")).unwrap();
    let addr = child
        .ready("listening", LIMIT, || {
            std::fs::read_to_string(&addr_file)
                .ok()?
                .trim()
                .parse()
                .ok()
        })
        .await
        .unwrap();
    (child, addr)
}

/// A gateway in this process on `addr`, until the returned sender fires.
async fn start_gateway(
    dir: &Path,
    cp: SocketAddr,
    addr: SocketAddr,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
    Arc<axt_gateway::Shared>,
) {
    let args = [
        "axt-gateway".to_owned(),
        "--data-dir".into(),
        dir.join("gw").display().to_string(),
        "--control-plane".into(),
        format!("http://{cp}"),
        "--internal-token".into(),
        INTERNAL_TOKEN.into(),
        "--public-url".into(),
        format!("wss://{addr}"),
    ];
    let gateway = axt_gateway::Gateway::open(axt_gateway::Config::parse_from(args))
        .await
        .unwrap();
    let shared = gateway.shared();
    // The port was just released by the previous gateway; binding may need a moment.
    let listener = axt_kit::wait::until(LIMIT, || std::net::TcpListener::bind(addr).ok())
        .await
        .unwrap_or_else(|| panic!("{addr} did not come free"));
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = gateway
            .serve(listener, async move {
                let _ = stopped.await;
            })
            .await;
    });
    (stop, task, shared)
}

/// A control plane process, an in-process gateway, and one agent, on loopback.
struct Plant {
    dir: tempfile::TempDir,
    gw_addr: SocketAddr,
    cp_addr: SocketAddr,
    api: Api,
    instance: String,
    /// The control plane, then the agent.
    children: Vec<Supervised>,
    /// Who the agent's sessions run as; goes after the agent.
    _user: SessionUser,
    gateway_stop: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
    url: String,
    session_id: String,
}

impl Plant {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let gw_addr = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let (cp, cp_addr) =
            spawn_control_plane(dir.path(), "127.0.0.1:0", &format!("wss://{gw_addr}")).await;
        let mut children = vec![cp];
        let (stop, task, gateway) = start_gateway(dir.path(), cp_addr, gw_addr).await;
        let api = Api::new(cp_addr, KEY_ID, SECRET);
        let ca = dir.path().join("gw").join("ca.pem");
        let user = SessionUser::new();
        let args = ["--default-user".to_owned(), user.name()];
        let (agent, instance) =
            start_agent(&api, dir.path(), "agent", &[], gw_addr, &ca, &args).await;
        children.push(agent);
        wait_for(LIMIT, || gateway.kicks.online(&instance)).await;
        Self {
            dir,
            gw_addr,
            cp_addr,
            api,
            instance,
            children,
            _user: user,
            gateway_stop: Some((stop, task)),
            url: String::new(),
            session_id: String::new(),
        }
    }

    fn ca(&self) -> std::path::PathBuf {
        self.dir.path().join("gw/ca.pem")
    }

    /// Starts a shell session and connects a client of schema 1.02 or 1.01 to it.
    async fn session(&mut self, v102: bool) -> RawClient {
        let (_, started) = self
            .api
            .call(
                "StartTerminalSession",
                &[("RegionId", REGION), ("InstanceId.1", &self.instance)],
            )
            .await;
        self.url = started["WebSocketUrl"].as_str().unwrap().to_owned();
        self.session_id = started["SessionId"].as_str().unwrap().to_owned();
        let mut client = RawClient::connect(&self.url, &self.ca(), v102)
            .await
            .unwrap();
        client
            .expect_status(ChannelState::Opened as u8, LIMIT)
            .await;
        client
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_control_plane_killed_and_restarted_loses_nothing_and_live_sessions_go_on() {
    let mut plant = Plant::start().await;
    let mut client = plant.session(false).await;

    let (dir, gw_url, cp_addr, api, instance) = (
        plant.dir.path().to_owned(),
        format!("wss://{}", plant.gw_addr),
        plant.cp_addr,
        plant.api.clone(),
        plant.instance.clone(),
    );
    plant.children[0].kill(); // SIGKILL
    client.input("echo without-cp-$((6*7))\r").await;
    client.expect_output("without-cp-42", LIMIT).await;

    let (cp, again) = spawn_control_plane(&dir, &cp_addr.to_string(), &gw_url).await;
    plant.children[0] = cp;
    assert_eq!(again, cp_addr);
    let session_id = plant.session_id.as_str();
    let (_, listed) = api
        .call(
            "DescribeTerminalSessions",
            &[("RegionId", REGION), ("SessionId", session_id)],
        )
        .await;
    let connection = &listed["Sessions"]["Session"][0]["Connections"]["Connection"][0];
    assert_eq!(connection["Status"], "Connected", "{listed}");
    let (_, instances) = api
        .call("DescribeManagedInstances", &[("RegionId", REGION)])
        .await;
    assert_eq!(instances["Instances"][0]["InstanceId"], instance.as_str());
    // And the session still ends properly through the restarted control plane.
    api.call(
        "EndTerminalSession",
        &[("RegionId", REGION), ("SessionId", session_id)],
    )
    .await;
    assert_eq!(
        client
            .expect_status(ChannelState::Closed as u8, LIMIT)
            .await,
        "SessionEnded"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_gateway_gets_its_agents_back_and_a_1_02_client_reconnects() {
    let mut plant = Plant::start().await;
    let mut client = plant.session(true).await;
    let (url, ca, instance) = (plant.url.clone(), plant.ca(), plant.instance.clone());
    let (stop, task) = plant.gateway_stop.take().unwrap();
    client.input("echo before-$((1+1))\r").await;
    client.expect_output("before-2", LIMIT).await;

    stop.send(()).unwrap();
    // The web client is told to come back (Frozen), then the socket closes (1012).
    client
        .expect_status(ChannelState::Frozen as u8, LIMIT)
        .await;
    assert!(client.expect_end(LIMIT).await);
    task.await.unwrap();
    let (_stop, _task, gateway) =
        start_gateway(plant.dir.path(), plant.cp_addr, plant.gw_addr).await;
    wait_for(LIMIT, || gateway.kicks.online(&instance)).await;

    let (seq, last, channel, seen) = (
        client.seq_sent(),
        client.last_output,
        client.channel_id.clone(),
        client.output.clone(),
    );
    let mut back = RawClient::connect(&format!("{url}&channelId={channel}"), &ca, true)
        .await
        .unwrap();
    back.resume(seq, last, &channel, seen);
    back.send_numbered(ClientMessageType::Sync, seq, Vec::new())
        .await;
    back.input("echo after-$((2+2))\r").await;
    back.expect_output("after-4", LIMIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_whose_links_are_cut_restores_them_and_the_session_goes_on() {
    let mut stack = Stack::start(&[], &[]).await;
    let proxy = Proxy::start(stack.gw_addr).await;
    let instance = stack.agent(&["--server", &proxy.addr.to_string()]).await;
    let started = stack.start_session(&[("InstanceId.1", &instance)]).await;
    let mut client =
        RawClient::connect(started["WebSocketUrl"].as_str().unwrap(), &stack.ca, false)
            .await
            .unwrap();
    client
        .expect_status(ChannelState::Opened as u8, LIMIT)
        .await;
    client.input("echo linked-$((3*3))\r").await;
    client.expect_output("linked-9", LIMIT).await;

    proxy.cut(); // the data channel and the kick channel both drop
                 // Like the stock agent, the link carries no acknowledgements: input sent into the broken
                 // connection before anyone noticed is lost. Type until the re-dialled channel answers.
    let mut tries = 0;
    while !client.output_text().contains("restored-16") {
        tries += 1;
        assert!(
            tries <= 30,
            "the session did not come back: {}",
            client.output_text()
        );
        client.input("echo restored-$((4*4))\r").await;
        while client.next_frame(Duration::from_secs(1)).await.is_some()
            && !client.output_text().contains("restored-16")
        {}
    }
    let gateway = stack.gateway.clone();
    wait_for(LIMIT, || gateway.kicks.online(&instance)).await;
    let connections = stack
        .connections(started["SessionId"].as_str().unwrap())
        .await;
    assert_eq!(connections[0]["Status"], "Connected");
}
