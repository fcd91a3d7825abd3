//! The soak: memory per session, and what is left once sessions close.
//!
//! On a stack of its own ([`stack`]: every session limit raised past the count), the soak
//! opens N port sessions at once the way `axt portforward` holds forwarded connections — one
//! StartTerminalSession and one client WebSocket each, driven in-process on the client framing
//! ([`session`]) rather than through N `axt` processes, whose own memory and start-up would
//! swamp what is measured — each forwarded by the agent to an echo target. Every session
//! echoes 1 KiB when it opens and again once all are open. The gateway's and the agent's
//! resident memory ([`probe`]) is read idle (after a warm-up of a few sessions), with all N
//! open (per session: the difference over N), and 5, 15 and 30 s after they all closed,
//! together with the TCP connections the agent still holds to the gateway.
//!
//! A session costs two file descriptors in the gateway (client and data channel), two in the
//! agent (data channel and target) and two here (WebSocket and target): the soak raises its
//! descriptor limit to the hard limit, which the stack inherits, and says when that caps N.

mod driver;
mod probe;
mod session;
mod stack;

use std::{fmt::Write as _, path::Path, time::Duration};

use anyhow::Context as _;

/// The soak's options.
#[derive(clap::Args, Debug, Clone)]
pub struct SoakArgs {
    /// Leave the soak out.
    #[arg(long, env = "AXT_BENCH_NO_SOAK", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_soak: bool,
    /// Port sessions the soak holds open at once [default: 10000, 50 with --quick]; fewer
    /// when the file-descriptor limit cannot carry them (the run says so).
    #[arg(long, env = "AXT_BENCH_SOAK_SESSIONS")]
    pub soak_sessions: Option<usize>,
}

/// Descriptors each process of the path holds per session.
const FDS_PER_SESSION: u64 = 2;
/// Descriptors kept for everything else: listeners, logs, HTTP connections, the runtime.
const FDS_RESERVE: u64 = 256;

/// How the soak runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Sessions held open at once.
    pub sessions: usize,
    /// Sessions opened and closed before the idle reading.
    pub warmup: usize,
    /// Sessions being opened at any moment.
    pub concurrency: usize,
    /// Bytes echoed per round on each session.
    pub payload: usize,
}

/// Resident memory of the gateway and the agent, and the agent's connections to the gateway.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    pub gateway: u64,
    pub agent: u64,
    pub agent_conns: usize,
}

/// What the soak measured.
#[derive(Debug, Default)]
pub struct Figures {
    /// Sessions asked for, and held (fewer when some failed or the limit capped the run).
    pub asked: usize,
    pub planned: usize,
    pub held: usize,
    /// The hard descriptor limit, when it capped the run.
    pub capped_by: Option<u64>,
    pub idle: Snapshot,
    pub open: Snapshot,
    /// 5, 15 and 30 s after the last session closed.
    pub after: Vec<(Duration, Snapshot)>,
    /// Opening all of them, and closing all of them.
    pub open_time: Duration,
    pub close_time: Duration,
    /// StartTerminalSession to first echo, p50 / p99.
    pub open_latency: (Duration, Duration),
    /// The echo round with every session open, p50 / p99.
    pub echo_latency: (Duration, Duration),
    pub failures: usize,
    pub first_failure: Option<String>,
    pub concurrency: usize,
    pub payload: usize,
}

impl SoakArgs {
    /// The plan for a run (`quick`: a small N), before the descriptor limit is applied.
    pub fn plan(&self, quick: bool) -> Option<Plan> {
        if self.no_soak {
            return None;
        }
        let sessions = self
            .soak_sessions
            .unwrap_or(if quick { 50 } else { 10_000 })
            .max(1);
        Some(Plan {
            sessions,
            warmup: sessions.min(16),
            concurrency: 32,
            payload: 1024,
        })
    }
}

/// Runs the soak as `args` and `quick` say (nothing with `--no-soak`) and prints its table.
pub fn run(args: &SoakArgs, quick: bool, bin_dir: &Path, work: &Path) -> anyhow::Result<()> {
    let Some(mut plan) = args.plan(quick) else {
        return Ok(());
    };
    let (limit, was) = probe::raise_nofile()?;
    if limit > was {
        eprintln!("soak: file-descriptor limit raised from {was} to the hard limit {limit}");
    }
    let asked = plan.sessions;
    let fits = (limit.saturating_sub(FDS_RESERVE) / FDS_PER_SESSION) as usize;
    let capped_by = (fits < asked + plan.warmup).then_some(limit);
    plan.sessions = plan.sessions.min(fits.saturating_sub(plan.warmup)).max(1);
    if capped_by.is_some() {
        eprintln!(
            "soak: the hard file-descriptor limit ({limit}) carries {} sessions, not {asked}",
            plan.sessions
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the soak's runtime")?;
    let dir = work.join("soak");
    std::fs::create_dir_all(&dir)?;
    let stack =
        stack::start(bin_dir, plan.sessions, &dir, &rt).context("starting the soak's stack")?;
    eprintln!(
        "soak: {} port sessions (gateway pid {}, agent pid {}), {} at a time…",
        plan.sessions, stack.gw_pid, stack.agent_pid, plan.concurrency
    );
    let mut figures = rt.block_on(driver::soak(&stack, &plan))?;
    figures.asked = asked;
    figures.capped_by = capped_by;
    drop(stack);
    // Sessions tasks still parked (failed ones) end with the runtime.
    rt.shutdown_timeout(Duration::from_secs(1));
    println!("Memory per session (ws, plain):\n\n{}", render(&figures));
    Ok(())
}

/// The soak's table and the line under it.
pub fn render(f: &Figures) -> String {
    let mib = |b: u64| format!("{:.1} MiB", b as f64 / (1 << 20) as f64);
    let per = |open: u64, idle: u64| match f.held {
        0 => "–".to_owned(),
        n => format!(
            "{:.1} KiB",
            open.saturating_sub(idle) as f64 / 1024.0 / n as f64
        ),
    };
    let vs_idle = |now: u64, idle: u64| match idle {
        0 => "–".to_owned(),
        idle => format!("{:+.0} %", (now as f64 / idle as f64 - 1.0) * 100.0),
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "| {} port sessions | idle | all open | per session |",
        f.held
    );
    for (at, _) in &f.after {
        let _ = write!(out, " closed + {} s |", at.as_secs());
    }
    out.push_str(" last vs idle |\n|---|---:|---:|---:|");
    out.push_str(&"---:|".repeat(f.after.len() + 1));
    out.push('\n');
    let last = f.after.last().map(|(_, s)| *s).unwrap_or_default();
    type Field = fn(&Snapshot) -> u64;
    let rows: [(&str, Field); 2] = [("gateway RSS", |s| s.gateway), ("agent RSS", |s| s.agent)];
    for (name, get) in rows {
        let (idle, open) = (get(&f.idle), get(&f.open));
        let _ = write!(
            out,
            "| {name} | {} | {} | {} |",
            mib(idle),
            mib(open),
            per(open, idle)
        );
        for (_, s) in &f.after {
            let _ = write!(out, " {} |", mib(get(s)));
        }
        let _ = writeln!(out, " {} |", vs_idle(get(&last), idle));
    }
    let _ = write!(
        out,
        "| agent → gateway TCP connections | {} | {} | – |",
        f.idle.agent_conns, f.open.agent_conns
    );
    for (_, s) in &f.after {
        let _ = write!(out, " {} |", s.agent_conns);
    }
    out.push_str(" – |\n");
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
    let _ = write!(
        out,
        "\nOpened in {:.1} s ({:.0}/s, {} at a time; StartTerminalSession to the first echo \
         p50 {} ms, p99 {} ms); {} B echoed on every session with all open: p50 {} ms, p99 {} \
         ms; closing all took {:.1} s; {} failed",
        f.open_time.as_secs_f64(),
        f.planned as f64 / f.open_time.as_secs_f64().max(1e-3),
        f.concurrency,
        ms(f.open_latency.0),
        ms(f.open_latency.1),
        f.payload,
        ms(f.echo_latency.0),
        ms(f.echo_latency.1),
        f.close_time.as_secs_f64(),
        f.failures,
    );
    if let Some(first) = &f.first_failure {
        let _ = write!(out, " (first: {first})");
    }
    out.push('.');
    if let Some(limit) = f.capped_by {
        let _ = write!(
            out,
            " The hard file-descriptor limit ({limit}, {FDS_PER_SESSION} per session in the \
             gateway and in the agent) capped the run at {} of {} sessions.",
            f.planned, f.asked
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_per_session_memory_and_what_is_left() {
        let snap = |gateway: u64, agent: u64, agent_conns| Snapshot {
            gateway: gateway << 20,
            agent: agent << 20,
            agent_conns,
        };
        let figures = Figures {
            asked: 10_000,
            planned: 1000,
            held: 1000,
            capped_by: Some(2256),
            idle: snap(10, 8, 1),
            open: snap(40, 20, 1001),
            after: vec![(Duration::from_secs(5), snap(12, 9, 40))],
            open_time: Duration::from_secs(10),
            concurrency: 32,
            payload: 1024,
            ..Figures::default()
        };
        let table = render(&figures);
        assert!(
            table.contains("| gateway RSS | 10.0 MiB | 40.0 MiB | 30.7 KiB | 12.0 MiB | +20 % |")
        );
        assert!(table.contains("| agent → gateway TCP connections | 1 | 1001 | – | 40 | – |"));
        assert!(table.contains("(100/s, 32 at a time"));
        assert!(table.contains("capped the run at 1000 of 10000 sessions"));
    }
}
