//! The shell part: `axt session` on a real terminal through the same stack as the port
//! forward, clear and end-to-end encrypted side by side — how long a typed key takes to come
//! back, and how fast a shell's output reaches the terminal.
//!
//! Each session first replaces the login shell with a bash that reads no rc files and shows a
//! known prompt, so what comes back is the same whoever's account the session runs as. The
//! echo is readline's: a key goes client → gateway → agent → shell's PTY → bash, and its echo
//! all the way back. The stream is base64 (the PTY would mangle raw bytes, and line ends grow
//! by the `\r` the agent's PTY adds) followed by a marker the shell computes, so that the
//! echo of the command line cannot pass for it.

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context as _};
use axt_kit::user::TemporaryUser;

use crate::{
    axt::{self, Axt},
    measure::{cpu_seconds, mb_per_s, median_f64, percentile},
    procs,
    pty::Terminal,
};

/// The session's terminal: wide enough that a line of echoes never wraps (readline redraws
/// a wrapped line, which is not an echo).
const SIZE: (u16, u16) = (200, 50);
/// Typed first: the gateway (or `axt`, during a key exchange) holds it until the shell can
/// take it. `ax''t> ` in the line is `axt> ` only once the new shell prints it; no history
/// file, so a non-root run leaves nothing in the user's home.
const SETUP: &[u8] = b"exec env PS1='ax''t> ' HISTFILE= bash --norc --noprofile\r";
const PROMPT: &[u8] = b"axt> ";
/// Keys typed on one line before it is ended (as a comment, so nothing runs).
const PER_LINE: usize = 50;
/// How long a session may take to show its prompt, and an echo to come back.
const START_LIMIT: Duration = Duration::from_secs(30);
const ECHO_LIMIT: Duration = Duration::from_secs(5);
/// Enough for the default stream even at the 200 KB/s cap the benchmark lifts.
const STREAM_LIMIT: Duration = Duration::from_secs(600);

/// How much to measure per session.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Keys typed, one at a time, each waited for.
    pub echoes: usize,
    /// Bytes of /dev/zero per stream (base64 on the terminal: 4/3 of it plus line ends).
    pub stream_bytes: u64,
    /// Streams per session; the median is kept.
    pub streams: usize,
}

/// A kind of shell session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Clear,
    /// `--encrypt auto`: the authenticated suite, the control plane vouching for the agent.
    Authenticated,
    /// `--encrypt kms`: the authenticated suite with a KMS data key mixed in.
    AuthenticatedKms,
    /// `--wss-url` and `--encrypt auto --allow-compat-suite`: without StartTerminalSession's
    /// answer `axt` has no agent key to check, so it offers only the stock agent's suites.
    CompatEcdhe,
}

impl Mode {
    /// Every mode, in the order of the table; the first is the one the others are compared to.
    pub const ALL: [Mode; 4] = [
        Mode::Clear,
        Mode::Authenticated,
        Mode::AuthenticatedKms,
        Mode::CompatEcdhe,
    ];

    /// The row's label.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Clear => "shell, clear",
            Mode::Authenticated => "shell, encrypted (authenticated suite)",
            Mode::AuthenticatedKms => "shell, encrypted (authenticated suite, Mode Kms)",
            Mode::CompatEcdhe => "shell, encrypted (compat ECDHE, --allow-compat-suite)",
        }
    }

    /// What `axt` says once the keys are agreed: proof the row measured what it is called.
    fn said(self) -> Option<&'static [u8]> {
        match self {
            Mode::Clear => None,
            Mode::Authenticated | Mode::AuthenticatedKms => Some(b"with the authenticated suite"),
            Mode::CompatEcdhe => Some(b"with a compatibility suite"),
        }
    }
}

/// What one kind of session achieved.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub echo_median: Duration,
    pub echo_p90: Duration,
    /// Bytes at the client's terminal per second (10^6), median of the streams.
    pub stream: f64,
    /// CPU seconds of `axt`, the gateway and the agent per GB streamed.
    pub cpu_per_gb: Option<f64>,
}

/// One row: figures, or why there are none (a failed session is not a failed benchmark).
pub struct Row {
    pub mode: Mode,
    pub outcome: Result<Figures, String>,
}

/// The account sessions run as when the benchmark is root (the agent never runs a session as
/// root); `None` otherwise, and the agent runs them as the benchmark's own user.
pub fn session_user() -> anyhow::Result<Option<TemporaryUser>> {
    if !nix::unistd::Uid::effective().is_root() {
        return Ok(None);
    }
    TemporaryUser::create("axtbench").map(Some)
}

/// Measures every mode through `stack`, one session each.
pub fn run(stack: &Axt, bin_dir: &Path, plan: &Plan) -> Vec<Row> {
    let axt_bin = bin_dir.join("axt");
    Mode::ALL
        .into_iter()
        .map(|mode| {
            eprintln!("measuring {}…", mode.label());
            let outcome = session_args(stack, &axt_bin, mode)
                .and_then(|args| measure(stack, &axt_bin, &args, mode, plan))
                .map_err(|e| {
                    eprintln!("{} failed: {e:#}", mode.label());
                    format!("failed: {e}")
                });
            Row { mode, outcome }
        })
        .collect()
}

/// `axt`'s arguments for a session of `mode`.
fn session_args(stack: &Axt, axt_bin: &Path, mode: Mode) -> anyhow::Result<Vec<String>> {
    let on = |rest: &[&str]| {
        let mut args = vec!["session", "--instance", &stack.instance];
        args.extend(rest);
        args.into_iter().map(str::to_owned).collect()
    };
    Ok(match mode {
        Mode::Clear => on(&[]),
        Mode::Authenticated => on(&["--encrypt", "auto"]),
        Mode::AuthenticatedKms => {
            let key = api(stack, axt_bin, &["Kms.CreateKey"])?;
            let key = key["KeyMetadata"]["KeyId"]
                .as_str()
                .context("CreateKey answered no KeyId")?;
            on(&["--encrypt", "kms", "--kms-key-id", key])
        }
        Mode::CompatEcdhe => {
            let options = r#"{"Enabled":true,"Mode":"Auto"}"#;
            let instance = ["--InstanceId.1", &stack.instance];
            let started = api(
                stack,
                axt_bin,
                &[
                    &["StartTerminalSession"][..],
                    &instance,
                    &["--EncryptionOptions", options],
                ]
                .concat(),
            )?;
            let url = started["WebSocketUrl"]
                .as_str()
                .context("StartTerminalSession answered no WebSocketUrl")?;
            let args = ["session", "--wss-url", url, "--encrypt", "auto"];
            args.iter()
                .chain(&["--allow-compat-suite"])
                .map(|a| a.to_string())
                .collect()
        }
    })
}

/// `axt api ARGS` against the stack, its answer as JSON.
fn api(stack: &Axt, axt_bin: &Path, args: &[&str]) -> anyhow::Result<serde_json::Value> {
    let mut command = Command::new(axt_bin);
    axt::cli_env(&mut command, &stack.cli_env);
    command.arg("api").args(args);
    let out = procs::output(&mut command)?;
    serde_json::from_str(&out).with_context(|| format!("axt api {args:?} answered {out:?}"))
}

fn measure(
    stack: &Axt,
    axt_bin: &Path,
    args: &[String],
    mode: Mode,
    plan: &Plan,
) -> anyhow::Result<Figures> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut term = Terminal::spawn(axt_bin, &args, &stack.cli_env, SIZE)?;
    term.type_keys(SETUP)?;
    if let Some(said) = mode.said() {
        term.expect(said, START_LIMIT)
            .context("the session did not say its suite")?;
    }
    term.expect(PROMPT, START_LIMIT)
        .context("the bench shell's prompt")?;

    let mut echoes = echo(&mut term, plan.echoes)?;
    echoes.sort();

    let mut pids: Vec<u32> = stack
        .pids()
        .into_iter()
        .filter(|(name, _)| name == "gateway" || name == "agent")
        .map(|(_, pid)| pid)
        .collect();
    pids.extend(term.pid());
    let cpu_before = cpu_seconds(&pids);
    let mut rates = Vec::new();
    let mut total = 0;
    for _ in 0..plan.streams.max(1) {
        let (bytes, took) = stream(&mut term, plan.stream_bytes)?;
        rates.push(mb_per_s(bytes, took));
        total += bytes;
    }
    let cpu_per_gb = match (cpu_before, cpu_seconds(&pids)) {
        (Some(before), Some(after)) => Some((after - before) / (total as f64 / 1e9)),
        _ => None,
    };
    term.type_keys(b"exit\r")?;
    // Not waiting long: the figures are in, and dropping the terminal kills `axt`.
    term.wait_exit(Duration::from_secs(5));
    Ok(Figures {
        echo_median: percentile(&echoes, 50),
        echo_p90: percentile(&echoes, 90),
        stream: median_f64(&mut rates),
        cpu_per_gb,
    })
}

/// Types `count` keys one at a time, each only once the last came back; the time each took.
/// Lines start with `#` and end every [`PER_LINE`] keys, so bash runs nothing.
fn echo(term: &mut Terminal, count: usize) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(count);
    for i in 0..count {
        if i % PER_LINE == 0 {
            if i > 0 {
                term.type_keys(b"\r")?;
                term.expect(PROMPT, ECHO_LIMIT)?;
            }
            term.type_keys(b"#")?;
            term.expect(b"#", ECHO_LIMIT)?;
        }
        // Consecutive keys differ, and nothing earlier is left to be taken for this echo.
        let key = b'a' + (i % 26) as u8;
        term.drain();
        let start = Instant::now();
        term.type_keys(&[key])?;
        term.expect(&[key], ECHO_LIMIT)
            .with_context(|| format!("echo {} of {count}", i + 1))?;
        times.push(start.elapsed());
    }
    term.type_keys(b"\r")?;
    term.expect(PROMPT, ECHO_LIMIT)?;
    Ok(times)
}

/// Has the shell print `bytes` of /dev/zero in base64; the bytes that reached the terminal
/// from Enter to the end marker, and how long that took.
fn stream(term: &mut Terminal, bytes: u64) -> anyhow::Result<(u64, Duration)> {
    // The line is typed and its echo waited for first: the clock runs from Enter.
    let line = format!("head -c {bytes} /dev/zero | base64 -w 1024; echo stream-end-$((6*7))");
    term.drain();
    term.type_keys(line.as_bytes())?;
    term.expect(b"$((6*7))", ECHO_LIMIT)?;
    let start = Instant::now();
    term.type_keys(b"\r")?;
    let read = term
        .expect(b"stream-end-42", STREAM_LIMIT)
        .context("the stream's end")?;
    let took = start.elapsed();
    term.expect(PROMPT, ECHO_LIMIT)?;
    ensure!(
        read >= bytes * 4 / 3,
        "{read} bytes came for {bytes} in base64"
    );
    Ok((read, took))
}
