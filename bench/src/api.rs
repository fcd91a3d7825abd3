//! The control plane's OpenAPI under load: signed DescribeRegions (authentication and dispatch
//! alone) and signed StartTerminalSession (every check against a real, online instance, then a
//! session recorded), each with 1, 8 and 32 calls in flight for a few seconds — calls per
//! second, p50 and p99 latency, and the control plane's CPU time per call from
//! `/proc/<pid>/stat`. Then, on a fresh stack, StartTerminalSession with the widest
//! concurrency in a region without sessions and again once thousands of never-connected ones
//! exist, which says whether its cost grows with them.
//!
//! Stacks of its own ([`stack`]): the control plane's session limits are raised so that no call
//! is refused for a limit. The load ([`load`]) signs each call as it sends it.

pub mod load;
mod stack;

use std::{fmt::Write as _, path::Path, sync::Arc, time::Duration};

use anyhow::Context as _;
use clap::builder::BoolishValueParser;

use load::{Call, Outcome, Until};

/// The OpenAPI part's options.
#[derive(clap::Args, Debug, Clone)]
pub struct ApiArgs {
    /// Measure the control plane's OpenAPI: the default, and it wins over --no-api.
    #[arg(long)]
    pub api: bool,
    /// Leave the OpenAPI part out.
    #[arg(long, env = "AXT_BENCH_NO_API", value_parser = BoolishValueParser::new())]
    pub no_api: bool,
    /// Only the OpenAPI part: no port forward, no shell sessions.
    #[arg(long, env = "AXT_BENCH_API_ONLY", value_parser = BoolishValueParser::new())]
    pub api_only: bool,
    /// Seconds each OpenAPI measurement lasts.
    #[arg(long, env = "AXT_BENCH_API_SECS", default_value_t = 3.0)]
    pub api_secs: f64,
    /// Calls in flight, one measurement each.
    #[arg(long, env = "AXT_BENCH_API_CONCURRENCY", value_delimiter = ',',
          default_values_t = [1, 8, 32])]
    pub api_concurrency: Vec<usize>,
    /// Never-connected sessions that exist when StartTerminalSession is measured again
    /// (--quick: at most 500).
    #[arg(long, env = "AXT_BENCH_API_BACKLOG", default_value_t = 5000)]
    pub api_backlog: usize,
}

impl ApiArgs {
    /// Whether the part runs.
    pub fn wanted(&self) -> bool {
        self.api || self.api_only || !self.no_api
    }
}

/// One line of the table.
#[derive(Debug)]
pub struct Row {
    pub action: &'static str,
    pub concurrency: usize,
    /// Live sessions in the region when the measurement started (StartTerminalSession).
    pub sessions_before: Option<usize>,
    pub outcome: Outcome,
    /// Control-plane CPU seconds over the measurement.
    pub cpu_secs: Option<f64>,
}

impl Row {
    fn ok(&self) -> usize {
        self.outcome.latencies.len()
    }

    fn rate(&self) -> f64 {
        self.ok() as f64 / self.outcome.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs the part alone (`--api-only`): its own working directory, kept with `keep_logs`.
pub fn run_alone(
    args: &ApiArgs,
    quick: bool,
    bin_dir: &Path,
    keep_logs: bool,
) -> anyhow::Result<()> {
    let work = tempfile::Builder::new().prefix("axt-bench-").tempdir()?;
    run(args, quick, bin_dir, work.path())?;
    if keep_logs {
        eprintln!("logs kept in {}", work.keep().display());
    }
    Ok(())
}

/// Starts the stacks in `<work>/api` and `<work>/api-backlog`, measures, and prints the
/// table.
pub fn run(args: &ApiArgs, quick: bool, bin_dir: &Path, work: &Path) -> anyhow::Result<()> {
    let secs = if quick { 1.0 } else { args.api_secs.max(0.1) };
    let step = Duration::try_from_secs_f64(secs).context("--api-secs")?;
    let backlog = if quick {
        args.api_backlog.min(500)
    } else {
        args.api_backlog
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    // Two stacks: the rates at each concurrency, then — on a region without the sessions those
    // left — the widest concurrency with no session, and again with `backlog` of them.
    for part in [Part::Rates, Part::Backlog] {
        let dir = work.join(part.dir());
        std::fs::create_dir_all(&dir)?;
        let stack = stack::start(bin_dir, &dir, &rt).context("starting the OpenAPI stack")?;
        eprintln!(
            "OpenAPI: control plane {} (pid {}), instance {}; {:.1} s per measurement",
            stack.cp_addr,
            stack.cp_pid,
            stack.instance,
            step.as_secs_f64()
        );
        let measured = rt.block_on(measure(&stack, part, &args.api_concurrency, step, backlog));
        rows.extend(measured?);
    }
    println!(
        "Control plane, signed OpenAPI calls (V1, plain HTTP, SQLite):\n\n{}",
        render(&rows)
    );
    Ok(())
}

/// What one stack measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// DescribeRegions, then StartTerminalSession, at each concurrency.
    Rates,
    /// StartTerminalSession at the widest concurrency before and after a backlog.
    Backlog,
}

impl Part {
    fn dir(self) -> &'static str {
        match self {
            Self::Rates => "api",
            Self::Backlog => "api-backlog",
        }
    }
}

async fn measure(
    stack: &stack::Stack,
    part: Part,
    concurrency: &[usize],
    step: Duration,
    backlog: usize,
) -> anyhow::Result<Vec<Row>> {
    let client = load::client()?;
    let signer = Arc::new(stack.signer());
    let describe = Call {
        action: "DescribeRegions",
        params: vec![],
    };
    let start = Call {
        action: "StartTerminalSession",
        params: vec![
            ("RegionId", stack::REGION.into()),
            ("InstanceId.1", stack.instance.clone()),
        ],
    };
    // Online once the gateway told the control plane it holds the agent's kick channel.
    let deadline = tokio::time::Instant::now() + crate::procs::STARTUP;
    while let Err(error) = signer
        .call_raw(
            &client,
            start.action,
            &[
                ("RegionId", stack::REGION),
                ("InstanceId.1", &stack.instance),
            ],
        )
        .await
    {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the instance never came online: {error:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut sessions = 1;
    let cpu = || crate::measure::cpu_seconds(&[stack.cp_pid]);
    let one = |call: &Call, c: usize, sessions_before: Option<usize>, until: Until| {
        let (client, signer, call) = (client.clone(), signer.clone(), call.clone());
        async move {
            let before = cpu();
            let outcome = load::run(&client, &signer, &call, c, until).await;
            let cpu_secs = before.zip(cpu()).map(|(b, a)| a - b);
            if let Some(error) = &outcome.first_error {
                eprintln!(
                    "{} at {c}: {} errors, first: {error}",
                    call.action, outcome.errors
                );
            }
            eprintln!(
                "{} at {c}{}: {:.0}/s",
                call.action,
                sessions_before.map_or(String::new(), |n| format!(" with {n} sessions")),
                outcome.latencies.len() as f64 / outcome.elapsed.as_secs_f64().max(1e-9)
            );
            Row {
                action: call.action,
                concurrency: c,
                sessions_before,
                outcome,
                cpu_secs,
            }
        }
    };
    let mut rows = Vec::new();
    if part == Part::Rates {
        for &c in concurrency {
            rows.push(one(&describe, c, None, Until::Elapsed(step)).await);
        }
        for &c in concurrency {
            let row = one(&start, c, Some(sessions), Until::Elapsed(step)).await;
            sessions += row.ok();
            rows.push(row);
        }
        return Ok(rows);
    }
    let widest = concurrency.iter().copied().max().unwrap_or(1);
    let row = one(&start, widest, Some(sessions), Until::Elapsed(step)).await;
    sessions += row.ok();
    rows.push(row);
    if sessions < backlog {
        eprintln!("creating {} more sessions…", backlog - sessions);
        let fill = one(&start, widest, None, Until::Succeeded(backlog - sessions)).await;
        sessions += fill.ok();
    }
    rows.push(one(&start, widest, Some(sessions), Until::Elapsed(step)).await);
    Ok(rows)
}

/// The table, and how StartTerminalSession's rate at the widest concurrency held up.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(
        "| call | in flight | live sessions before | calls/s | latency ms, p50 / p99 \
         | control-plane CPU ms per call | errors |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {} / {} | {} | {} |",
            row.action,
            row.concurrency,
            row.sessions_before.map_or("–".into(), |n| n.to_string()),
            row.rate(),
            ms(percentile(&row.outcome.latencies, 50)),
            ms(percentile(&row.outcome.latencies, 99)),
            row.cpu_secs
                .filter(|_| row.ok() > 0)
                .map_or("–".into(), |s| format!(
                    "{:.3}",
                    s * 1e3 / row.ok() as f64
                )),
            row.outcome.errors,
        );
    }
    let starts: Vec<&Row> = rows
        .iter()
        .filter(|r| r.action == "StartTerminalSession")
        .collect();
    let earlier = |last: &Row| {
        let before = starts.len().saturating_sub(1);
        starts[..before]
            .iter()
            .rev()
            .find(|r| r.concurrency == last.concurrency)
            .copied()
    };
    if let Some((last, first)) = starts.last().and_then(|l| Some((*l, earlier(l)?))) {
        let _ = writeln!(
            out,
            "\nStartTerminalSession with {} calls in flight: {:.0}/s with {} live session(s) \
             in the region, {:.0}/s with {} ({:.2}×)",
            last.concurrency,
            first.rate(),
            first.sessions_before.unwrap_or(0),
            last.rate(),
            last.sessions_before.unwrap_or(0),
            last.rate() / first.rate().max(1e-9),
        );
    }
    out
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    crate::measure::percentile(sorted, p)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(action: &'static str, c: usize, before: Option<usize>, per_s: usize) -> Row {
        Row {
            action,
            concurrency: c,
            sessions_before: before,
            outcome: Outcome {
                latencies: (1..=per_s as u64).map(Duration::from_micros).collect(),
                errors: 0,
                first_error: None,
                elapsed: Duration::from_secs(1),
            },
            // Half a core over the second.
            cpu_secs: Some(0.5),
        }
    }

    #[test]
    fn the_table_compares_the_rate_before_and_after_the_backlog() {
        let rows = [
            row("DescribeRegions", 32, None, 1000),
            row("StartTerminalSession", 1, Some(1), 100),
            row("StartTerminalSession", 32, Some(101), 400),
            row("StartTerminalSession", 32, Some(5000), 200),
        ];
        let table = render(&rows);
        assert!(
            table.contains("| DescribeRegions | 32 | – | 1000 | 0.50 / 0.99 | 0.500 | 0 |"),
            "{table}"
        );
        assert!(
            table.contains("| StartTerminalSession | 32 | 5000 | 200 |"),
            "{table}"
        );
        assert!(
            table.contains("400/s with 101 live session(s) in the region, 200/s with 5000 (0.50×)"),
            "{table}"
        );
    }
}
