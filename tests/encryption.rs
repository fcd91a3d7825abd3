//! End-to-end encrypted sessions through the whole stack (docs/encryption.md): the control
//! plane in this process, the gateway as a process of its own with its frame trace on
//! (`RUST_LOG=info,axt::frames=debug`, into a log this test reads), the real `axt-agent` and
//! the real `axt` — on a terminal, typing.
//!
//! * The gateway cannot read: what is typed and printed is on the terminal and nowhere in the
//!   gateway's log, trace or data dir — in Mode Auto, in Mode Kms, and for a CommandLine —
//!   while the same check finds an unencrypted session's typed line in the trace.
//! * A man in the middle ([`axt_e2e::mitm`]) that rewrites the agent's AgentKeyExchange is
//!   caught by the authenticated suite; one that strips its offer is refused, and — when the
//!   client allows the compatibility suite — reads the session, as §4 says it can.
//! * A 1.02 client: `axt` speaks only 1.01 and never reconnects, so there is no such path to
//!   test here (the gateway's handling of key exchange for 1.02 clients has unit tests).
//!
//! The gateway runs `--plain` (ws://) so the proxy needs no certificate: TLS is the gateway's
//! own end, not what these stories are about.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use axt_e2e::{
    bin,
    mitm::{Attack, Mitm},
    pty::Terminal,
    Api, SessionUser, INTERNAL_TOKEN, KEY_ID, REGION, SECRET,
};
use axt_kit::process::{run_to_end, Supervised};
use clap::Parser as _;

const LIMIT: Duration = Duration::from_secs(30);
const NOT_SIGNED: &str = "the agent's key exchange is not signed by the instance's identity key";

/// A control plane, a gateway process, one agent, and maybe a proxy in front of the gateway.
/// Fields drop in order: the agent first, the user last.
struct Lab {
    _agent: Supervised,
    gateway: Supervised,
    mitm: Option<Mitm>,
    _plane: axt_control_plane::Background,
    cp_addr: SocketAddr,
    instance: String,
    dir: tempfile::TempDir,
    _user: SessionUser,
}

impl Lab {
    /// Starts everything; with `mitm`, session URLs name the proxy instead of the gateway.
    async fn start(mitm: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let user = SessionUser::new();
        // The gateway's port, chosen now: the control plane's session URLs need it first.
        let gw_addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let proxy = match mitm {
            true => Some(Mitm::bind().await),
            false => None,
        };
        let front = proxy.as_ref().map_or(gw_addr, |(m, _)| m.addr);
        let cp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cp_addr = cp_listener.local_addr().unwrap();
        let cp_dir = dir.path().join("cp").display().to_string();
        let config = axt_control_plane::Config::parse_from([
            "axt-control-plane",
            "--data-dir",
            &cp_dir,
            "--gateway-url",
            &format!("ws://{front}"),
            "--internal-token",
            INTERNAL_TOKEN,
            "--admin-access-key-id",
            KEY_ID,
            "--admin-access-key-secret",
            SECRET,
        ]);
        let plane = axt_control_plane::App::open(config).await.unwrap();
        let plane = plane.spawn(cp_listener).unwrap();

        let mut cmd = axt_kit::process::command(&[], bin("axt-gateway"));
        cmd.args(["--listen", &gw_addr.to_string(), "--plain"])
            .arg("--data-dir")
            .arg(dir.path().join("gw"))
            .args(["--control-plane", &format!("http://{cp_addr}")])
            .args(["--internal-token", INTERNAL_TOKEN])
            .args(["--public-url", &format!("ws://{gw_addr}")])
            .env("RUST_LOG", "info,axt::frames=debug");
        let log = dir.path().join("gateway.log");
        let mut gateway = Supervised::spawn("gateway", cmd, &log).unwrap();
        gateway.line("gateway listening", LIMIT).await.unwrap();
        let mitm = proxy.map(|(mut mitm, listener)| {
            mitm.serve(listener, gw_addr);
            mitm
        });

        let api = Api::new(cp_addr, KEY_ID, SECRET);
        let (agent, instance) = agent(&api, dir.path(), gw_addr, &user).await;
        let store = plane.shared.store.clone();
        axt_kit::wait::eventually(
            LIMIT,
            "the agent online",
            || store.kick_channel_holder(&instance),
            |holder| matches!(holder, Ok(Some(_))),
        )
        .await
        .unwrap();
        Self {
            _agent: agent,
            gateway,
            mitm,
            _plane: plane,
            cp_addr,
            instance,
            dir,
            _user: user,
        }
    }

    /// Environment for `axt`: the admin key and the endpoint, and a HOME of the lab's own, so
    /// that no profile of this machine's takes part.
    fn env(&self) -> Vec<(String, String)> {
        [
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID.to_owned()),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET.to_owned()),
            ("ALIBABA_CLOUD_ECS_ENDPOINT", self.cp_addr.to_string()),
            ("ALIBABA_CLOUD_REGION_ID", REGION.to_owned()),
            ("HOME", self.dir.path().display().to_string()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .to_vec()
    }

    /// A new KMS key, made with the admin key through the API.
    async fn kms_key(&self) -> String {
        let api = Api::new(self.cp_addr, KEY_ID, SECRET);
        let params = [("Version", "2016-01-20"), ("RegionId", REGION)];
        let (status, body) = api.call("CreateKey", &params).await;
        assert_eq!(status, 200, "{body}");
        body["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
    }

    /// Whether `needle` is anywhere the gateway wrote: its log (with the frame trace) and every
    /// file under its data dir. The control plane's files are searched too: it relays nothing,
    /// so it must not have it either.
    fn gateway_saw(&self, needle: &str) -> bool {
        let mut files = vec![self.gateway.log().to_owned()];
        files.extend(files_under(&self.dir.path().join("gw")));
        files.extend(files_under(&self.dir.path().join("cp")));
        files.iter().any(|file| {
            let bytes = std::fs::read(file).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
    }

    /// `axt session --instance … ARGS` with `stdin` piped in: exit code, stdout, stderr.
    async fn piped(&self, args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
        let mut child = tokio::process::Command::new(bin("axt"))
            .args(["session", "--instance", &self.instance])
            .args(args)
            .env_clear()
            .envs(self.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut pipe = child.stdin.take().unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut pipe, stdin.as_bytes())
            .await
            .unwrap();
        drop(pipe);
        let out = tokio::time::timeout(LIMIT, child.wait_with_output())
            .await
            .expect("axt did not exit in time")
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    }

    /// `axt session --instance … ARGS` on a terminal: types a line that prints
    /// `<marker>-42` (the shell computes it, so the echo of the typing cannot pass for it),
    /// checks the terminal's size before and after a resize, then `exit`. Returns the screen.
    async fn on_terminal(&self, args: &[&str], marker: &str) -> String {
        let mut argv = vec![
            "session".to_owned(),
            "--instance".into(),
            self.instance.clone(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        let env = self.env();
        let marker = marker.to_owned();
        tokio::task::spawn_blocking(move || {
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let mut term = Terminal::spawn(&bin("axt"), &argv, &env, 100, 30);
            term.type_text(&format!("echo {marker}-$((6*7))\r"));
            term.expect(&format!("{marker}-42"), LIMIT);
            // Sizes travel too (sealed, in the authenticated suite): the first and a new one.
            term.type_text("stty size\r");
            term.expect("30 100", LIMIT);
            term.resize(120, 40);
            term.expect_after_retries("stty size\r", "40 120", 20, LIMIT);
            term.type_text("exit\r");
            assert_eq!(term.wait(LIMIT), 0, "{}", term.screen);
            std::mem::take(&mut term.screen)
        })
        .await
        .unwrap()
    }
}

/// Registers an agent (plain HTTP, like the gateway) and runs it as `user`'s sessions.
async fn agent(
    api: &Api,
    dir: &Path,
    server: SocketAddr,
    user: &SessionUser,
) -> (Supervised, String) {
    let act = api
        .call("CreateActivation", &[("RegionId", REGION)])
        .await
        .1;
    let state = dir.join("agent");
    let log = dir.join("agent.log");
    let mut register = axt_kit::process::command(&[], bin("axt-agent"));
    register
        .args(["register", "--plain", "--server", &server.to_string()])
        .args(["--region", REGION])
        .args(["--activation-code", act["ActivationCode"].as_str().unwrap()])
        .args(["--activation-id", act["ActivationId"].as_str().unwrap()])
        .arg("--state-dir")
        .arg(&state);
    run_to_end("agent register", register, &log, LIMIT)
        .await
        .unwrap();
    let instance = std::fs::read_to_string(state.join("instance-id")).unwrap();
    let mut run = axt_kit::process::command(&[], bin("axt-agent"));
    run.args(["run", "--plain", "--state-dir"])
        .arg(&state)
        .args(["--default-user", &user.name()])
        .env("RUST_LOG", "info");
    (
        Supervised::spawn("agent", run, &log).unwrap(),
        instance.trim().to_owned(),
    )
}

/// Every file below `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => files_under(&entry.path()),
            _ => vec![entry.path()],
        })
        .collect()
}

/// A text no session prints by chance.
fn marker() -> String {
    format!("mk{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_relays_only_ciphertext() {
    let lab = Lab::start(false).await;
    // The check can see: the typed line of an unencrypted session is in the frame trace.
    let plain = marker();
    lab.on_terminal(&[], &plain).await;
    assert!(lab.gateway_saw(&plain), "the frame trace is not on");

    let key = lab.kms_key().await;
    let cases: [&[&str]; 3] = [
        &["--encrypt", "auto"],
        &["--encrypt", "kms", "--kms-key-id", &key],
        &["--encrypt", "auto", "--command-line", "sh"],
    ];
    for args in cases {
        let secret = marker();
        let screen = lab.on_terminal(args, &secret).await;
        assert!(
            screen.contains("encrypted end to end with the authenticated suite"),
            "{args:?}: {screen}"
        );
        assert!(
            !lab.gateway_saw(&secret),
            "{args:?}: the gateway read {secret}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_man_in_the_middle_is_caught_or_reads_only_a_session_allowed_to_downgrade() {
    let lab = Lab::start(true).await;
    let mitm = lab.mitm.as_ref().unwrap();
    let typing = |m: &str| format!("echo {m}-$((6*7))\nexit\n");

    // Through the proxy, untouched, a session works.
    let m = marker();
    let (code, stdout, stderr) = lab.piped(&["--encrypt", "auto"], &typing(&m)).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(&format!("{m}-42")), "{stdout}");

    // Its own key in place of the agent's: the signature no longer verifies.
    mitm.set_attack(Attack::SwapAgentKey);
    let m = marker();
    let (code, stdout, stderr) = lab.piped(&["--encrypt", "auto"], &typing(&m)).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stderr.contains(NOT_SIGNED), "{stderr}");
    assert!(!lab.gateway_saw(&m));

    // The offer of the authenticated suite stripped: refused unless allowed...
    mitm.set_attack(Attack::Downgrade);
    let (code, _, stderr) = lab.piped(&["--encrypt", "auto"], &typing(&marker())).await;
    assert_eq!(code, Some(1));
    assert!(stderr.contains("--allow-compat-suite"), "{stderr}");

    // ...and when allowed, the session works and the man in the middle reads it (§4).
    let m = marker();
    let args = ["--encrypt", "auto", "--allow-compat-suite"];
    let (code, stdout, stderr) = lab.piped(&args, &typing(&m)).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(&format!("{m}-42")), "{stdout}");
    assert!(stderr.contains("compatibility suite"), "{stderr}");
    let read = String::from_utf8_lossy(&mitm.read()).into_owned();
    assert!(read.contains(&format!("echo {m}-")), "typed: {read}");
    assert!(read.contains(&format!("{m}-42")), "printed: {read}");
    // The gateway itself still saw only ciphertext.
    assert!(!lab.gateway_saw(&m));
}
