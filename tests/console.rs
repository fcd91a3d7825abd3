//! The web console in a real browser: a control plane and a gateway, a registered `axt-agent`,
//! a RAM user without any policy, and `axt console` in front of them; then Debian's headless
//! Chromium, driven by Playwright (`tests/console/run.mjs`), signs in, opens a terminal, types,
//! resizes, loses its socket and resumes, reads the flow view, ends the session, finds it in
//! the history, plays its recording, and sees the RAM user's denial explained. The screenshots
//! go to `<target dir>/console-screenshots/` (or `AXT_CONSOLE_SCREENSHOTS`).
//!
//! It needs Node, Chromium (`AXT_CHROMIUM`, default `/usr/bin/chromium`) and
//! `tests/console/node_modules` (`npm ci --prefix tests/console`, which `scripts/test` runs):
//! without them it shows as ignored and says why, except under `CI=true`, where it runs and
//! fails.

use std::{
    path::{Path, PathBuf},
    process::{ExitCode, Stdio},
    time::Duration,
};

use axt_e2e::{bin, Api, Stack, KEY_ID, REGION, SECRET};
use axt_kit::process::Supervised;
use axt_proto::openapi::RAM_VERSION;
use serde_json::Value;

/// How long the console may take to listen.
const LIMIT: Duration = Duration::from_secs(30);
/// How long the whole browser run may take (run.mjs bounds itself at 240 s).
const RUN_LIMIT: Duration = Duration::from_secs(270);

fn main() -> ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let lacking = missing().filter(|_| !ci);
    if let Some(why) = &lacking {
        eprintln!("console: {why}: ignored (.ci/run installs Chromium; scripts/test runs npm ci)");
    }
    let trial = libtest_mimic::Trial::test("the_console_in_chromium", || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("a runtime: {e}"))?;
        runtime.block_on(the_console_in_chromium());
        Ok(())
    })
    .with_ignored_flag(lacking.is_some());
    libtest_mimic::run(&args, vec![trial]).exit_code()
}

/// The browser, as run.mjs launches it.
fn chromium() -> PathBuf {
    std::env::var_os("AXT_CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from)
}

/// The browser tests' directory, beside this file (`file!()` is relative to the package's
/// directory, or absolute when this file is built from elsewhere).
fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(Path::new(file!()).with_extension(""))
}

/// What this host lacks to run the browser, if anything.
fn missing() -> Option<String> {
    let mut lacking = Vec::new();
    if !chromium().is_file() {
        lacking.push(format!("{} is missing", chromium().display()));
    }
    if !scripts().join("node_modules/playwright-core").is_dir() {
        lacking.push("tests/console/node_modules is missing".into());
    }
    let node = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("node").is_file()));
    if !node {
        lacking.push("node is not on PATH".into());
    }
    (!lacking.is_empty()).then(|| lacking.join(", "))
}

async fn the_console_in_chromium() {
    let mut stack = Stack::start(&[], &[]).await;
    let instance = stack.agent(&[]).await;
    let (denied_id, denied_secret) = user_without_policies(&stack.api()).await;
    let (mut console, url) = console(&stack).await;

    let shots = std::env::var_os("AXT_CONSOLE_SCREENSHOTS").map_or_else(
        // <target>/<profile>/axt → <target>/console-screenshots
        || {
            let axt = bin("axt");
            let target = axt
                .parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("."));
            target.join("console-screenshots")
        },
        PathBuf::from,
    );
    let mut run = tokio::process::Command::new("node");
    for var in axt_kit::PROXY_VARS {
        run.env_remove(var);
    }
    run.arg(scripts().join("run.mjs"))
        .current_dir(scripts())
        .env("AXT_CONSOLE_URL", &url)
        .env("AXT_CONSOLE_INSTANCE", &instance)
        .env("AXT_CONSOLE_ADMIN_KEY_ID", KEY_ID)
        .env("AXT_CONSOLE_ADMIN_KEY_SECRET", SECRET)
        .env("AXT_CONSOLE_DENIED_KEY_ID", &denied_id)
        .env("AXT_CONSOLE_DENIED_KEY_SECRET", &denied_secret)
        .env("AXT_CONSOLE_SCREENSHOTS", &shots)
        .env("AXT_CHROMIUM", chromium())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Node and the browser it starts in a group of their own, so that a timeout ends both.
        .process_group(0)
        .kill_on_drop(true);
    let child = run.spawn().expect("starting node");
    let group = child.id().map(|pid| nix::unistd::Pid::from_raw(pid as i32));
    let out = match tokio::time::timeout(RUN_LIMIT, child.wait_with_output()).await {
        Ok(out) => out.expect("waiting for node"),
        Err(_) => {
            if let Some(group) = group {
                let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            }
            panic!(
                "run.mjs did not end within {RUN_LIMIT:?}; {}",
                console.tail(30)
            );
        }
    };
    assert!(
        out.status.success(),
        "the browser tests failed ({}):\n{}{}\n--- axt console ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        console.tail(40)
    );
    // Still serving at the end: no step took it down.
    assert!(
        console.try_wait().unwrap().is_none(),
        "{}",
        console.tail(20)
    );
}

/// A RAM user with an AccessKey and no policy at all; its key id and secret.
async fn user_without_policies(admin: &Api) -> (String, String) {
    let ram = |action: &'static str| {
        let admin = admin.clone();
        async move {
            let (status, body) = admin
                .call(
                    action,
                    &[("Version", RAM_VERSION), ("UserName", "console-viewer")],
                )
                .await;
            assert_eq!(status, 200, "{action}: {body}");
            body
        }
    };
    ram("CreateUser").await;
    let key: Value = ram("CreateAccessKey").await;
    let field = |name: &str| key["AccessKey"][name].as_str().unwrap().to_owned();
    (field("AccessKeyId"), field("AccessKeySecret"))
}

/// `axt console` on port 0 for `stack`, with no key of its own (each browser signs in with
/// one); the process and its URL once listening.
async fn console(stack: &Stack) -> (Supervised, String) {
    let url_file = stack.dir.path().join("console-url");
    let mut cmd = axt_kit::process::command(&[], bin("axt"));
    // No key and no profile: the console signs each call with the key its browser signed in
    // with (HOME holds no ~/.aliyun either).
    let keyless = stack.cli_env().into_iter().filter(|(name, _)| {
        !name.starts_with("ALIBABA_CLOUD_ACCESS_KEY") && name != "ALIBABA_CLOUD_CONFIG_FILE"
    });
    cmd.envs(keyless)
        .env("HOME", stack.dir.path())
        .env("ALIBABA_CLOUD_REGION_ID", REGION)
        .args(["console", "--listen", "127.0.0.1:0", "--url-file"])
        .arg(&url_file);
    let log = stack.dir.path().join("console.log");
    let mut console = Supervised::spawn("axt console", cmd, &log).unwrap();
    let url = console
        .ready("writing its URL", LIMIT, || {
            let text = std::fs::read_to_string(&url_file).ok()?;
            let url = text.trim();
            (url.starts_with("http://127.0.0.1:") && url.ends_with('/')).then(|| url.to_owned())
        })
        .await
        .unwrap();
    (console, url)
}
