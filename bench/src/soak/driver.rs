//! The soak's sequence: warm up, read idle, open every session, echo on all of them, read,
//! close them all, read again after 5, 15 and 30 s. The sessions are tasks
//! ([`super::session`]) told what to do through one watch channel; each answers every phase
//! with one report (or fails and is gone), which the driver collects by session number.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::bail;
use tokio::sync::{mpsc, watch, Semaphore};

use super::{
    probe,
    session::{self, Phase, Report},
    stack::Stack,
    Figures, Plan, Snapshot,
};

/// No report from any session for this long ends the wait for a phase (every step of a
/// session has a timeout of its own below this).
const SILENCE: Duration = Duration::from_secs(120);
/// Pause before a reading, for the processes to finish what the last step set off.
const SETTLE: Duration = Duration::from_secs(3);
/// When the readings after the close are taken.
const AFTER: [Duration; 3] = [
    Duration::from_secs(5),
    Duration::from_secs(15),
    Duration::from_secs(30),
];

/// Runs the soak on `stack`.
pub async fn soak(stack: &Stack, plan: &Plan) -> anyhow::Result<Figures> {
    let port = session::echo_target().await?;
    session::check_target(port).await?;
    let mut figures = Figures {
        planned: plan.sessions,
        concurrency: plan.concurrency,
        payload: plan.payload,
        ..Figures::default()
    };

    // A few sessions first, so that idle means warmed up: pools, buffers and threads that the
    // first sessions bring into being and that stay are part of idle, not of the sessions.
    let mut warm = Crowd::open(stack, port, plan.warmup, plan).await?;
    warm.phase(Phase::Close).await?;
    figures.failures += warm.failures.len();
    tokio::time::sleep(SETTLE).await;
    figures.idle = snapshot(stack)?;

    let started = Instant::now();
    let mut crowd = Crowd::open(stack, port, plan.sessions, plan).await?;
    figures.open_time = started.elapsed();
    figures.open_latency = percentiles(&mut crowd.times);
    eprintln!(
        "soak: {} open in {:.1} s; echoing on all of them…",
        crowd.alive.len(),
        figures.open_time.as_secs_f64()
    );
    crowd.phase(Phase::Echo(1)).await?;
    figures.echo_latency = percentiles(&mut crowd.times);
    figures.held = crowd.alive.len();
    tokio::time::sleep(SETTLE).await;
    figures.open = snapshot(stack)?;

    eprintln!("soak: closing…");
    let closing = Instant::now();
    crowd.phase(Phase::Close).await?;
    let closed = Instant::now();
    figures.close_time = closed - closing;
    figures.failures += crowd.failures.len();
    figures.first_failure = warm.failures.into_iter().chain(crowd.failures).next();
    for at in AFTER {
        tokio::time::sleep_until((closed + at).into()).await;
        figures.after.push((at, snapshot(stack)?));
    }
    Ok(figures)
}

fn snapshot(stack: &Stack) -> anyhow::Result<Snapshot> {
    Ok(Snapshot {
        gateway: probe::rss(stack.gw_pid)?,
        agent: probe::rss(stack.agent_pid)?,
        agent_conns: probe::tcp_to_port(stack.agent_pid, stack.gw_port)?,
    })
}

/// p50 and p99 of `times` (sorted here).
fn percentiles(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    let at = |q: f64| {
        let i = ((times.len() as f64 - 1.0) * q).round() as usize;
        times.get(i).copied().unwrap_or_default()
    };
    (at(0.5), at(0.99))
}

/// Sessions driven together.
struct Crowd {
    phase: watch::Sender<Phase>,
    reports: mpsc::Receiver<(usize, Report)>,
    /// The sessions still open.
    alive: HashSet<usize>,
    /// The times reported in the last phase.
    times: Vec<Duration>,
    failures: Vec<String>,
}

impl Crowd {
    /// Opens `n` sessions, `plan.concurrency` at a time; returns once each opened or failed.
    async fn open(stack: &Stack, port: u16, n: usize, plan: &Plan) -> anyhow::Result<Self> {
        let (phase, watcher) = watch::channel(Phase::Hold);
        // Every session reports once per phase: a queue of n never makes one wait.
        let (reports_tx, reports) = mpsc::channel(n.max(1));
        let opening = Arc::new(Semaphore::new(plan.concurrency.max(1)));
        let common = Arc::new(session::Common {
            api: stack.api.clone(),
            instance: stack.instance.clone(),
            port,
            payload: (0..plan.payload).map(|i| (i * 131 % 251) as u8).collect(),
        });
        tokio::spawn(async move {
            for i in 0..n {
                let Ok(permit) = opening.clone().acquire_owned().await else {
                    return;
                };
                let run = session::run(
                    i,
                    common.clone(),
                    permit,
                    watcher.clone(),
                    reports_tx.clone(),
                );
                tokio::spawn(run);
            }
        });
        let mut crowd = Self {
            phase,
            reports,
            alive: (0..n).collect(),
            times: Vec::with_capacity(n),
            failures: Vec::new(),
        };
        crowd.collect(true).await?;
        Ok(crowd)
    }

    /// Moves every session to `phase` and waits for each to answer.
    async fn phase(&mut self, phase: Phase) -> anyhow::Result<()> {
        self.phase.send_replace(phase);
        self.collect(false).await?;
        if phase == Phase::Close {
            self.alive.clear();
        }
        Ok(())
    }

    /// Collects one report from every live session (`opening`: progress on the way).
    async fn collect(&mut self, opening: bool) -> anyhow::Result<()> {
        self.times.clear();
        let mut waiting = self.alive.clone();
        let total = waiting.len();
        let mut progress = 1000;
        while !waiting.is_empty() {
            let Ok(report) = tokio::time::timeout(SILENCE, self.reports.recv()).await else {
                bail!("{} sessions silent for {SILENCE:?}", waiting.len());
            };
            let Some((i, report)) = report else {
                bail!("the sessions' reports ended early");
            };
            match report {
                Report::Failed(why) => {
                    self.alive.remove(&i);
                    waiting.remove(&i);
                    if self.failures.len() < 3 {
                        eprintln!("soak: session {i} failed: {why}");
                    }
                    self.failures.push(why);
                }
                Report::Opened(t) | Report::Echoed(t) => {
                    if waiting.remove(&i) {
                        self.times.push(t);
                    }
                }
                Report::Closed => {
                    waiting.remove(&i);
                }
            }
            let done = total - waiting.len();
            if opening && done >= progress {
                eprintln!("soak: {done} of {total} opened");
                progress += 1000;
            }
        }
        Ok(())
    }
}
