//! The lab without Docker, end to end, as the README and the tour (docs/tour.md) tell a
//! newcomer to use it: `axt lab up --instances 2`, `axt api DescribeInstances`, a shell on
//! each instance, the RAM users' profiles (the operator opens instance-1, is refused
//! instance-2 with `Forbidden.RAM` and the explanation, and opens it as the role), the private
//! web service through `axt portforward`, the logs the tour quotes, and `axt lab down`
//! leaving no process, namespace, link or route behind. The target must not be reachable from
//! this host except through an instance.
//!
//! Needs root and iproute2 (the lab builds network namespaces); ignored otherwise, unless
//! `CI=true`, where it runs and fails.

use std::{
    net::SocketAddr,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::{Output, Stdio},
    time::Duration,
};

use axt_e2e::bin;
use axt_kit::{
    netns::{self, IP},
    process::{self, Record, Supervised},
};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    process::Command,
};

axt_e2e::stories! {
    needs [IP];
    the_lab_comes_up_serves_the_tour_and_goes_away,
}

/// Any one command of the tour finishes within this.
const LIMIT: Duration = Duration::from_secs(60);
/// What the target's page says.
const GREETING: &str = "Hello from the private target";

/// `axt ARGS` with `env`, `stdin` piped in (or none), within [`LIMIT`].
async fn axt(args: &[&str], env: &[(String, String)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(bin("axt"));
    // This host's proxies out, the lab's (from its exports) in.
    for var in axt_kit::PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).await.unwrap();
        drop(pipe);
    }
    let output = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("axt {args:?} did not finish within {LIMIT:?}"))
        .unwrap();
    let mut transcript = TRANSCRIPT.lock().unwrap_or_else(|p| p.into_inner());
    transcript.push_str(&format!(
        "$ axt {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ));
    output
}

/// A shell on instance `id` as the profile `profile`, a refusal explained.
async fn shell_as(profile: &str, id: &str, env: &[(String, String)]) -> Output {
    let args = [
        "--profile",
        profile,
        "--explain",
        "session",
        "--instance",
        id,
    ];
    axt(&args, env, Some("echo iam-$((6*7)); exit\n")).await
}

/// Every `axt` command of the story and what it printed, shown if the story fails.
static TRANSCRIPT: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

/// A lab in a temporary directory, brought down on drop whatever happened.
struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn dir_arg(&self) -> String {
        self.path().display().to_string()
    }

    fn state(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.path().join("state.json")).unwrap()).unwrap()
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join("logs").join(format!("{name}.log"))).unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let transcript = TRANSCRIPT.lock().unwrap_or_else(|p| p.into_inner());
            eprintln!("--- the commands so far ---\n{transcript}");
        }
        let _ = std::process::Command::new(bin("axt"))
            .args(["lab", "down", "--dir"])
            .arg(self.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
    }
}

async fn the_lab_comes_up_serves_the_tour_and_goes_away() {
    let user = axt_e2e::SessionUser::new();
    let lab = Lab {
        dir: tempfile::tempdir().unwrap(),
    };
    let dir = lab.dir_arg();

    // Up, as the README says, in a directory of its own and on a free API port (a lab of
    // the developer's may hold 8080; the gateway's 8443 is on the lab's own address). Its
    // shells run as an account of this test's, which goes away after the lab.
    let up = axt(
        &[
            "lab",
            "up",
            "--instances",
            "2",
            "--trace-frames",
            "--dir",
            &dir,
            "--api-port",
            "0",
            "--https-port",
            "0",
            "--proxy-port",
            "0",
            "--console-port",
            "0",
            "--default-user",
            &user.name(),
        ],
        &[],
        None,
    )
    .await;
    assert!(up.status.success(), "axt lab up failed");
    let printed = String::from_utf8_lossy(&up.stdout).into_owned();
    for expected in [
        "export ALIBABA_CLOUD_ACCESS_KEY_ID=",
        "export ALIBABA_CLOUD_CONFIG_FILE=",
        " session --instance mi-",
        " portforward --instance mi-",
        " --profile lab-operator session --instance mi-",
        " --profile lab-operator-as-admin session --instance mi-",
    ] {
        assert!(
            printed.contains(expected),
            "{expected:?} not in:\n{printed}"
        );
    }
    let state = lab.state();
    assert_eq!(state["mode"], "netns", "{state}");
    let index = state["net_index"].as_u64().unwrap();
    let prefix = format!("axtlab{index}-");
    assert_eq!(
        netns::namespaces()
            .iter()
            .filter(|ns| ns.starts_with(&prefix))
            .count(),
        3,
        "two instances and the target"
    );

    // The exports the lab prints, through `axt lab env`: the admin key, where the lab is,
    // and the RAM users' profiles (a file of the lab's, so nothing of this host's leaks in).
    let exported = axt(&["lab", "env", "--dir", &dir], &[], None).await;
    assert!(exported.status.success());
    let env: Vec<(String, String)> = String::from_utf8_lossy(&exported.stdout)
        .lines()
        .filter_map(|line| line.strip_prefix("export "))
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect();
    // No endpoint: the real names, through the lab's proxy, trusting the lab CA.
    assert_eq!(env.len(), 8, "{env:?}");
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(var("ALIBABA_CLOUD_ECS_ENDPOINT"), None, "{env:?}");
    assert!(
        var("HTTPS_PROXY").is_some_and(|p| p.starts_with("http://127.0.0.1:")),
        "{env:?}"
    );
    assert_eq!(var("SSL_CERT_FILE"), var("AXT_CA_CERT"), "{env:?}");
    // Each instance namespace resolves the names to the lab, in a hosts file of its own.
    let hosts_dirs: Vec<PathBuf> = serde_json::from_value(state["hosts_dirs"].clone()).unwrap();
    assert_eq!(hosts_dirs.len(), 2, "{state}");
    for dir in &hosts_dirs {
        let hosts = std::fs::read_to_string(dir.join("hosts")).unwrap();
        assert!(hosts.contains(" cn-hangzhou.axt.aliyuncs.com"), "{hosts}");
        assert!(hosts.contains("ecs-cn-hangzhou.aliyuncs.com "), "{hosts}");
    }
    let profiles = lab.path().join("aliyun-config.json");
    assert!(
        env.contains(&(
            "ALIBABA_CLOUD_CONFIG_FILE".into(),
            profiles.display().to_string()
        )),
        "{env:?}"
    );
    let mode = std::fs::metadata(&profiles).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the profiles hold keys");

    // The tour: the instances are there and running.
    let listed = axt(&["api", "DescribeInstances"], &env, None).await;
    assert!(listed.status.success());
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let instances = state["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 2);
    for instance in instances {
        let id = instance["id"].as_str().unwrap();
        let found = listed["Instances"]["Instance"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["InstanceId"] == id)
            .unwrap_or_else(|| panic!("{id} not in {listed}"));
        assert_eq!(found["Status"], "Running", "{found}");
    }

    // A shell on each instance, typed through a pipe.
    for instance in instances {
        let id = instance["id"].as_str().unwrap();
        let shell = axt(
            &["session", "--instance", id],
            &env,
            Some("echo tour-$((6*7)); exit\n"),
        )
        .await;
        assert!(shell.status.success(), "the shell on {id} failed");
        let out = String::from_utf8_lossy(&shell.stdout);
        assert!(out.contains("tour-42"), "{out}");
    }

    // Who may do what: the reader reads; the operator opens instance-1, is refused instance-2
    // with the explanation, and opens it as the role it may assume.
    let (one, two) = (
        instances[0]["id"].as_str().unwrap(),
        instances[1]["id"].as_str().unwrap(),
    );
    let read = axt(
        &["--profile", "lab-reader", "api", "DescribeInstances"],
        &env,
        None,
    )
    .await;
    assert!(
        read.status.success(),
        "the reader could not list the instances"
    );
    let opened = shell_as("lab-operator", one, &env).await;
    assert!(
        opened.status.success(),
        "the operator's shell on {one} failed"
    );
    assert!(String::from_utf8_lossy(&opened.stdout).contains("iam-42"));
    let refused = shell_as("lab-operator", two, &env).await;
    assert!(!refused.status.success(), "the operator opened {two}");
    let said = String::from_utf8_lossy(&refused.stderr);
    for needle in [
        "\"Code\": \"Forbidden.RAM\"",
        "\"EncodedDiagnosticMessage\"",
        "Principal: acs:ram::",
        ":user/lab-operator (SubUser",
        "ImplicitDeny: ecs:StartTerminalSession on acs:ecs:cn-hangzhou:",
    ] {
        assert!(said.contains(needle), "{needle:?} not in:\n{said}");
    }
    let as_admin = shell_as("lab-operator-as-admin", two, &env).await;
    assert!(
        as_admin.status.success(),
        "the operator as the role could not open {two}"
    );
    assert!(String::from_utf8_lossy(&as_admin.stdout).contains("iam-42"));

    // The private web service, through instance 1.
    let target = &state["target"];
    let target_ip = target["ip"].as_str().unwrap().to_owned();
    let http_port = target["http_port"].as_u64().unwrap().to_string();
    let first = &instances[0];
    let mut forward = process::command(&[], bin("axt"));
    forward
        .args(["portforward", "--instance", first["id"].as_str().unwrap()])
        .args(["--target-server", &target_ip, "--remote-port", &http_port])
        .args(["--local-port", "0"])
        .envs(env.iter().map(|(k, v)| (k, v)));
    let log = lab.path().join("portforward.log");
    let mut forward = Supervised::spawn("axt portforward", forward, &log).unwrap();
    let said = forward.line("local port ", LIMIT).await.unwrap();
    let local_port: u16 = said
        .split("local port ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|port| port.trim().parse().ok())
        .unwrap_or_else(|| panic!("no local port in {said:?}"));
    forward
        .line("Waiting for connections", LIMIT)
        .await
        .unwrap();
    let page = tokio::time::timeout(LIMIT, async {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", local_port))
            .await
            .unwrap();
        tcp.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let mut page = String::new();
        tcp.read_to_string(&mut page).await.unwrap();
        page
    })
    .await
    .expect("no page through the forward");
    assert!(page.starts_with("HTTP/1.0 200 OK"), "{page}");
    assert!(page.contains(GREETING), "{page}");
    let private_ip = first["private_ip"].as_str().unwrap();
    assert!(
        page.contains(&format!("came from {private_ip}:")),
        "the target saw the instance's private address: {page}"
    );
    forward.terminate();
    let status = forward.wait_exit(LIMIT).await.unwrap();
    assert!(status.success(), "portforward ended with {status}");

    // OpenSSH to the target through the instance, as the tour shows it (when the lab could
    // start sshd, which it does as root with OpenSSH installed).
    if let (Some(port), Some(key)) = (target["ssh_port"].as_u64(), target["ssh_key"].as_str()) {
        let proxy = format!(
            "{} ssh --instance {} --target-server {target_ip} --port {port}",
            bin("axt").display(),
            first["id"].as_str().unwrap()
        );
        let mut ssh = Command::new("ssh");
        ssh.args(["-F", "/dev/null", "-i", key])
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
            .arg("-o")
            .arg(format!("ProxyCommand={proxy}"))
            .args(["root@target", "ip -4 -o addr show"])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let out = tokio::time::timeout(LIMIT, ssh.output())
            .await
            .expect("ssh did not finish")
            .expect("running ssh");
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && shown.contains(&target_ip),
            "ssh to the target: {shown}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("lab: no sshd on the target, so no ssh check");
    }

    // The target is not reachable from here: only through an instance.
    let direct: SocketAddr = format!("{target_ip}:{http_port}").parse().unwrap();
    let reached = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(direct),
    )
    .await;
    assert!(
        !matches!(reached, Ok(Ok(_))),
        "{direct} answered this host directly"
    );

    // What the tour shows in the logs and the API.
    let api_log = lab.log("control-plane");
    assert!(
        api_log.contains("axt::api") && api_log.contains("action=\"StartTerminalSession\""),
        "{api_log}"
    );
    assert!(api_log.contains("call refused by RAM policy"), "{api_log}");
    let gateway_log = lab.log("gateway");
    for needle in [
        "kicking",
        "axt::frames",
        "direction=\"agent→gateway\"",
        // What was typed is one short frame, previewed whole; the shell's answer may share a
        // frame with the prompt and fall past the preview, so it is checked in the transcript.
        "echo tour-$((6*7))",
        "relay ended",
    ] {
        assert!(
            gateway_log.contains(needle),
            "{needle:?} not in the gateway log:\n{gateway_log}"
        );
    }
    let agent_log = lab.log("instance-1");
    for needle in [
        "kick channel open",
        "session starting",
        "data channel open",
        "connected to the target",
        "session ended",
    ] {
        assert!(
            agent_log.contains(needle),
            "{needle:?} not in the agent log:\n{agent_log}"
        );
    }
    assert!(lab.log("target-http").contains(&format!("{private_ip}:")));
    let sessions = axt(&["api", "DescribeTerminalSessions"], &env, None).await;
    assert!(sessions.status.success());
    let sessions: Value = serde_json::from_slice(&sessions.stdout).unwrap();
    let all = sessions["Sessions"]["Session"].as_array().unwrap();
    let expected = if target["ssh_port"].is_u64() { 6 } else { 5 };
    assert_eq!(
        all.len(),
        expected,
        "two shells, the operator's two (the refusal made none), one forward, ssh: {sessions}"
    );
    for session in all {
        let connection = &session["Connections"]["Connection"][0];
        assert_eq!(connection["Status"], "Terminated", "{session}");
        assert!(
            !connection["ClosedReason"].as_str().unwrap_or("").is_empty(),
            "{session}"
        );
    }

    // Down: nothing left.
    let processes: Vec<Record> = serde_json::from_value(state["processes"].clone()).unwrap();
    assert!(processes.len() >= 5, "{state}");
    let down = axt(&["lab", "down", "--dir", &dir], &[], None).await;
    assert!(down.status.success(), "axt lab down failed");
    for record in processes {
        assert!(!process::alive(&record), "{record:?} still runs");
    }
    let left = netns::namespaces();
    assert!(
        !left.iter().any(|ns| ns.starts_with(&prefix)),
        "namespaces left: {left:?}"
    );
    for dir in &hosts_dirs {
        assert!(!dir.exists(), "{} left", dir.display());
    }
    for link in state["links"].as_array().unwrap() {
        let link = link.as_str().unwrap();
        assert!(
            !PathBuf::from("/sys/class/net").join(link).exists(),
            "link {link} left"
        );
    }
    let routes = std::process::Command::new("ip")
        .args(["route", "show", "type", "unreachable"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&routes.stdout).contains(&format!("10.213.{index}.0/24")),
        "the guard route was left"
    );
    assert!(!lab.path().join("state.json").exists());
}
