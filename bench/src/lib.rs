//! `axt-bench`: how much an axtlab port forward costs, measured in one run on loopback beside
//! a direct TCP copy and beside bore, a well-known Rust TCP tunnel.
//!
//! One [`target`] serves all three variants; the same [`measure`] client copies through each:
//! bulk throughput each way (median of several copies, every byte counted at the far end) and
//! the time to open a connection and get a first byte back through it (median and p90 of many
//! sequential connects). The axtlab path is the real release binaries ([`axt`]): control plane
//! with the bandwidth cap lifted, gateway, agent, and `axt portforward`. bore ([`bore`]) is
//! skipped with a hint when it is not installed. [`report`] prints a Markdown table.

pub mod axt;
pub mod bore;
pub mod measure;
pub mod procs;
pub mod report;
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
    /// Bulk copies per direction and variant; the median is reported.
    #[arg(long, env = "AXT_BENCH_RUNS", default_value_t = 3)]
    pub runs: usize,
    /// Sequential connects per variant (connect + 1-byte round trip each).
    #[arg(long, env = "AXT_BENCH_CONNECTS", default_value_t = 200)]
    pub connects: usize,
    /// A short run: 32 MiB, 1 copy, 20 connects (overrides the three above).
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

/// Runs the benchmark and prints the table.
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
    let work = tempfile::Builder::new().prefix("axt-bench-").tempdir()?;
    let target = target::start()?;
    eprintln!(
        "target {target}; {} MiB per copy, {} copies each way, {} connects",
        plan.bulk_bytes >> 20,
        plan.runs,
        plan.connects
    );

    let mut rows = Vec::new();
    for variant in &args.variants {
        let row = match variant {
            Variant::Direct => direct_row(target, &plan)?,
            Variant::Bore => bore_row(args.bore.as_deref(), target.port(), &plan, work.path()),
            Variant::Axt => {
                let opts = axt::Options {
                    bin_dir: bin_dir.clone(),
                    tls: args.tls,
                    input_hold_ms: args.input_hold_ms,
                    frame_size: args.frame_size,
                };
                let dir = work.path().join("axt");
                std::fs::create_dir_all(&dir)?;
                let stack = axt::start(&opts, target.port(), &dir).context("starting axtlab")?;
                eprintln!(
                    "measuring axtlab through {} (pids {:?})…",
                    stack.addr,
                    stack.pids()
                );
                let pids: Vec<u32> = stack.pids().iter().map(|(_, pid)| *pid).collect();
                let figures = measure::run(stack.addr, &plan, &pids).context("axtlab")?;
                row(&axt_label(&opts), Kind::Axt, Outcome::Measured(figures))
            }
        };
        rows.push(row);
    }
    if args.keep_logs {
        eprintln!("logs kept in {}", work.keep().display());
    }
    println!("{}", report::render(&rows));
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
