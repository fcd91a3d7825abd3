//! `axt-bench`: how much an axtlab port forward costs, measured in one run on loopback beside
//! a direct TCP copy and beside bore, a well-known Rust TCP tunnel.
//!
//! One [`target`] serves all three variants; the same [`measure`] client copies through each:
//! bulk throughput each way (median of several copies, every byte counted at the far end) and
//! the time to open a connection and get a first byte back through it (median and p90 of many
//! sequential connects). The axtlab path is the real release binaries ([`axt`]): control plane
//! with the bandwidth cap lifted, gateway, agent, and `axt portforward`. bore ([`bore`]) is
//! skipped with a hint when it is not installed. [`report`] prints a Markdown table.
//!
//! Then, through the same stack, the [`shell`] part: `axt session` on a real terminal
//! ([`pty`]), clear and end-to-end encrypted, for the echo time of a typed key and the rate a
//! shell's output reaches the terminal — a second table.
//!
//! Last, the [`api`] part: the control plane's signed OpenAPI calls per second, latency and CPU
//! per call, on a stack of its own — a third table.
//!
//! And the [`soak`]: thousands of port sessions held open at once on a stack of its own, the
//! gateway's and the agent's memory per session and what is left once they close.

pub mod api;
pub mod axt;
pub mod bore;
pub mod measure;
pub mod procs;
pub mod pty;
pub mod report;
pub mod shell;
pub mod soak;
pub mod target;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};

use report::{Kind, Outcome, Row};

/// Benchmark an axtlab port forward against a direct loopback copy and bore.
#[derive(Parser, Debug)]
#[command(name = "axt-bench", version)]
pub struct Args {
    /// MiB per bulk copy.
    #[arg(long, env = "AXT_BENCH_BULK_MIB", default_value_t = 256)]
    pub bulk_mib: u64,
    /// Bulk copies per direction and variant, and streams per shell session; the median is
    /// reported.
    #[arg(long, env = "AXT_BENCH_RUNS", default_value_t = 3)]
    pub runs: usize,
    /// Sequential connects per variant (connect + 1-byte round trip each).
    #[arg(long, env = "AXT_BENCH_CONNECTS", default_value_t = 200)]
    pub connects: usize,
    /// Measure shell sessions too, clear and encrypted: the default, and it wins over
    /// --no-shell (so that a run can ask for them whatever the environment says).
    #[arg(long)]
    pub shell: bool,
    /// Leave the shell sessions out.
    #[arg(long, env = "AXT_BENCH_NO_SHELL", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_shell: bool,
    /// Keys typed per shell session, each timed until its echo is back.
    #[arg(long, env = "AXT_BENCH_SHELL_ECHOES", default_value_t = 200)]
    pub shell_echoes: usize,
    /// MiB of /dev/zero a shell session prints (in base64) per stream.
    #[arg(long, env = "AXT_BENCH_SHELL_STREAM_MIB", default_value_t = 64)]
    pub shell_stream_mib: u64,
    /// A short run: 32 MiB, 1 copy, 20 connects; shells 20 keys and one 8 MiB stream
    /// (overrides the five above).
    #[arg(long)]
    pub quick: bool,
    /// Which variants to measure.
    #[arg(long, env = "AXT_BENCH_VARIANTS", value_enum, value_delimiter = ',',
          default_values_t = [Variant::Direct, Variant::Bore, Variant::Axt])]
    pub variants: Vec<Variant>,
    /// Run the axtlab path over TLS (wss://, the lab CA) instead of plain ws://.
    #[arg(long, env = "AXT_BENCH_TLS")]
    pub tls: bool,
    /// The gateway's --input-hold-ms (its default when not given).
    #[arg(long, env = "AXT_BENCH_INPUT_HOLD_MS")]
    pub input_hold_ms: Option<u64>,
    /// `axt portforward --frame-size` (its default when not given).
    #[arg(long, env = "AXT_BENCH_FRAME_SIZE")]
    pub frame_size: Option<u32>,
    /// Directory of the axtlab binaries [default: the directory of axt-bench itself, i.e.
    /// target/release after `cargo build --release --bins`].
    #[arg(long, env = "AXT_BENCH_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,
    /// The bore binary [default: `bore` on PATH or in ~/.cargo/bin].
    #[arg(long, env = "AXT_BENCH_BORE")]
    pub bore: Option<PathBuf>,
    /// Keep the logs and state of the services (their directory is printed).
    #[arg(long)]
    pub keep_logs: bool,
    #[command(flatten)]
    pub api: api::ApiArgs,
    #[command(flatten)]
    pub soak: soak::SoakArgs,
}

/// A path measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Variant {
    /// Straight to the target.
    Direct,
    /// Through `bore local` and `bore server`.
    Bore,
    /// Through `axt portforward`, the gateway and `axt-agent`.
    Axt,
}

/// Runs the benchmark and prints the tables.
pub fn run(args: Args) -> anyhow::Result<()> {
    let plan = if args.quick {
        measure::Plan {
            bulk_bytes: 32 << 20,
            runs: 1,
            connects: 20,
        }
    } else {
        measure::Plan {
            bulk_bytes: args.bulk_mib << 20,
            runs: args.runs.max(1),
            connects: args.connects.max(1),
        }
    };
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("axt-bench has no directory")?
            .to_owned(),
    };
    if bin_dir.ends_with("debug") {
        eprintln!("note: {} is a debug build; the figures are not release figures (cargo build --release --bins)", bin_dir.display());
    }
    if args.api.api_only {
        return api::run_alone(&args.api, args.quick, &bin_dir, args.keep_logs);
    }
    let shell_plan = match (args.no_shell && !args.shell, args.quick) {
        (true, _) => None,
        (false, true) => Some(shell::Plan {
            echoes: 20,
            stream_bytes: 8 << 20,
            streams: 1,
        }),
        (false, false) => Some(shell::Plan {
            echoes: args.shell_echoes.max(1),
            stream_bytes: args.shell_stream_mib.max(1) << 20,
            streams: plan.runs,
        }),
    };
    // Declared before the stack, so dropped after it: the agent is gone before its user.
    let session_user = match shell_plan {
        Some(_) => shell::session_user().context("creating the shell sessions' user")?,
        None => None,
    };
    let opts = axt::Options {
        bin_dir: bin_dir.clone(),
        tls: args.tls,
        input_hold_ms: args.input_hold_ms,
        frame_size: args.frame_size,
        default_user: session_user.as_ref().map(|u| u.name().to_owned()),
    };
    let work = tempfile::Builder::new().prefix("axt-bench-").tempdir()?;
    let target = target::start()?;
    let start_axt = || -> anyhow::Result<axt::Axt> {
        let dir = work.path().join("axt");
        std::fs::create_dir_all(&dir)?;
        axt::start(&opts, target.port(), &dir).context("starting axtlab")
    };
    eprintln!(
        "target {target}; {} MiB per copy, {} copies each way, {} connects",
        plan.bulk_bytes >> 20,
        plan.runs,
        plan.connects
    );

    let mut rows = Vec::new();
    // The port forward's stack, kept for the shell part.
    let mut stack = None;
    for variant in &args.variants {
        let row = match variant {
            Variant::Direct => direct_row(target, &plan)?,
            Variant::Bore => bore_row(args.bore.as_deref(), target.port(), &plan, work.path()),
            Variant::Axt => {
                let axt = stack.insert(start_axt()?);
                eprintln!(
                    "measuring axtlab through {} (pids {:?})…",
                    axt.addr,
                    axt.pids()
                );
                let pids: Vec<u32> = axt.pids().iter().map(|(_, pid)| *pid).collect();
                let figures = measure::run(axt.addr, &plan, &pids).context("axtlab")?;
                row(&axt_label(&opts), Kind::Axt, Outcome::Measured(figures))
            }
        };
        rows.push(row);
    }
    println!("{}", report::render(&rows));
    if let Some(shell_plan) = shell_plan {
        let axt = match stack.take() {
            Some(axt) => axt,
            None => start_axt()?,
        };
        eprintln!(
            "shell sessions{}: {} keys and {} × {} MiB streamed per session",
            session_user
                .as_ref()
                .map_or(String::new(), |u| format!(" as {}", u.name())),
            shell_plan.echoes,
            shell_plan.streams,
            shell_plan.stream_bytes >> 20,
        );
        let shells = shell::run(&axt, &bin_dir, &shell_plan);
        drop(axt);
        let transport = if args.tls { "wss, TLS" } else { "ws, plain" };
        println!(
            "Shell sessions ({transport}):\n\n{}",
            report::render_shells(&shells)
        );
    }
    drop(stack);
    if args.api.wanted() {
        api::run(&args.api, args.quick, &bin_dir, work.path())?;
    }
    soak::run(&args.soak, args.quick, &bin_dir, work.path())?;
    if args.keep_logs {
        eprintln!("logs kept in {}", work.keep().display());
    }
    Ok(())
}

/// The direct copy. Its bulk copies run with both ends pinned to one core: unpinned, whether
/// the scheduler gives the two threads one core or two changes the figure from run to run
/// (about 4 against up to 9 GB/s here); on one core it is steady, and it is the work each hop of
/// a tunnel does. See [`target::pin`].
fn direct_row(target: std::net::SocketAddr, plan: &measure::Plan) -> anyhow::Result<Row> {
    eprintln!("measuring a direct loopback copy…");
    let figures = measure::run_pinned(target, plan, Some(0)).context("direct")?;
    Ok(row(
        "direct loopback (one core)",
        Kind::Direct,
        Outcome::Measured(figures),
    ))
}

/// bore's row: measured, or why not. bore failing is not the benchmark failing.
fn bore_row(
    explicit: Option<&std::path::Path>,
    port: u16,
    plan: &measure::Plan,
    logs: &std::path::Path,
) -> Row {
    let Some(bin) = bore::find(explicit) else {
        eprintln!(
            "bore is not installed: `{}` adds it to ~/.cargo/bin",
            bore::INSTALL_HINT
        );
        return row(
            "bore",
            Kind::Bore,
            Outcome::Skipped(format!("not installed ({})", bore::INSTALL_HINT)),
        );
    };
    let version = procs::output(std::process::Command::new(&bin).arg("--version"))
        .map(|v| v.trim().replace("bore-cli ", "bore "))
        .unwrap_or_else(|_| "bore".into());
    eprintln!("measuring {version}…");
    let measured =
        bore::start(&bin, port, logs).and_then(|b| measure::run(b.addr, plan, &b.pids()));
    match measured {
        Ok(figures) => row(&version, Kind::Bore, Outcome::Measured(figures)),
        Err(e) => {
            eprintln!("bore failed: {e:#}");
            row(
                &version,
                Kind::Bore,
                Outcome::Skipped(format!("failed: {e}")),
            )
        }
    }
}

fn axt_label(opts: &axt::Options) -> String {
    let mut label = format!(
        "axtlab ({})",
        if opts.tls { "wss, TLS" } else { "ws, plain" }
    );
    if let Some(hold) = opts.input_hold_ms {
        label.push_str(&format!(", input hold {hold} ms"));
    }
    if let Some(size) = opts.frame_size {
        label.push_str(&format!(", frames ≤ {size} B"));
    }
    label
}

fn row(label: &str, kind: Kind, outcome: Outcome) -> Row {
    Row {
        label: label.to_owned(),
        kind,
        outcome,
    }
}
