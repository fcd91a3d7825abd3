//! The client side of a measurement, the same for every variant: bulk copies each way and
//! sequential connects, all against the target's protocol (see [`crate::target`]).

use std::{
    io::{Read as _, Write as _},
    net::{Shutdown, SocketAddr, TcpStream},
    time::{Duration, Instant},
};

use anyhow::{ensure, Context as _};

use crate::target::{self, ACK, DOWNLOAD, GO, PING, UPLOAD};

/// No single read or write may stall longer: a wedged forward fails the run instead of
/// hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(120);

/// How much and how often to measure.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Bytes per bulk copy.
    pub bulk_bytes: u64,
    /// Bulk copies per direction; the median is kept.
    pub runs: usize,
    /// Sequential connects.
    pub connects: usize,
}

/// What one variant achieved.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Client → target, MB/s (10^6 bytes per second), median of the runs.
    pub upload: f64,
    /// Target → client, MB/s, median of the runs.
    pub download: f64,
    /// Connect + 1-byte round trip, median.
    pub connect_median: Duration,
    /// The same, 90th percentile.
    pub connect_p90: Duration,
    /// CPU seconds the tunnel's processes spent per GB copied (both directions together), when
    /// it has processes: on a small machine a tunnel is CPU-bound, and this says where the
    /// time goes more steadily than MB/s does while other work shares the cores.
    pub cpu_per_gb: Option<f64>,
}

/// Measures everything of `plan` through `addr`; `pids` are the tunnel's processes.
pub fn run(addr: SocketAddr, plan: &Plan, pids: &[u32]) -> anyhow::Result<Figures> {
    measure(addr, plan, pids, None)
}

/// Measures a direct copy, its bulk copies with this thread and the target's on `cpu`.
pub fn run_pinned(addr: SocketAddr, plan: &Plan, cpu: Option<usize>) -> anyhow::Result<Figures> {
    measure(addr, plan, &[], cpu)
}

fn measure(
    addr: SocketAddr,
    plan: &Plan,
    pids: &[u32],
    cpu: Option<usize>,
) -> anyhow::Result<Figures> {
    // Warm-up: the first connection through a forward pays for lazy set-up (TLS session,
    // allocator growth) that is not what the figures are about.
    connect_once(addr).context("warm-up connect")?;
    upload(addr, 4 << 20).context("warm-up upload")?;

    let mut ups = Vec::new();
    let mut downs = Vec::new();
    let cpu_before = cpu_seconds(pids);
    let mut bulk = || -> anyhow::Result<()> {
        for _ in 0..plan.runs {
            ups.push(mb_per_s(plan.bulk_bytes, upload(addr, plan.bulk_bytes)?));
            downs.push(mb_per_s(plan.bulk_bytes, download(addr, plan.bulk_bytes)?));
        }
        Ok(())
    };
    if cpu.is_some() {
        target::pin(cpu)?;
        target::pin_connections(cpu);
    }
    let copied = bulk();
    // Unpinned again before anything else: the connects below, and the other variants, run
    // wherever the scheduler puts them (pinning a thread per connect would cost time itself).
    if cpu.is_some() {
        target::pin_connections(None);
        target::pin(None)?;
    }
    copied?;
    let copied_gb = 2.0 * plan.runs as f64 * plan.bulk_bytes as f64 / 1e9;
    let cpu_per_gb = match (cpu_before, cpu_seconds(pids)) {
        (Some(before), Some(after)) if !pids.is_empty() => Some((after - before) / copied_gb),
        _ => None,
    };
    let mut times = Vec::with_capacity(plan.connects);
    for i in 0..plan.connects {
        times.push(connect_once(addr).with_context(|| format!("connect {}", i + 1))?);
    }
    times.sort();
    Ok(Figures {
        upload: median_f64(&mut ups),
        download: median_f64(&mut downs),
        connect_median: percentile(&times, 50),
        connect_p90: percentile(&times, 90),
        cpu_per_gb,
    })
}

/// User + system CPU seconds of `pids` so far, all threads (Linux `/proc/<pid>/stat`);
/// `None` where that cannot be read.
pub(crate) fn cpu_seconds(pids: &[u32]) -> Option<f64> {
    // USER_HZ: the unit of those fields, 100 on every Linux architecture that matters here.
    const TICKS_PER_SECOND: f64 = 100.0;
    let mut ticks = 0u64;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name, which is in parentheses and may hold spaces:
        // state is field 3, utime 14 and stime 15.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        ticks += fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    }
    Some(ticks as f64 / TICKS_PER_SECOND)
}

fn open(addr: SocketAddr, request: &[u8]) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("connecting {addr}"))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.write_all(request)?;
    let mut ack = [0u8; 1];
    stream
        .read_exact(&mut ack)
        .context("no acknowledgement from the target")?;
    ensure!(
        ack[0] == ACK,
        "the target answered {:?}, not an ack",
        ack[0]
    );
    Ok(stream)
}

/// Connect, send one byte, receive one byte: the time a new forwarded connection takes to
/// carry its first round trip.
pub fn connect_once(addr: SocketAddr) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let stream = open(addr, &[PING])?;
    let took = start.elapsed();
    stream.shutdown(Shutdown::Both).ok();
    Ok(took)
}

/// Sends `bytes` and waits for the target's count of what arrived.
pub fn upload(addr: SocketAddr, bytes: u64) -> anyhow::Result<Duration> {
    let mut stream = open(addr, &[UPLOAD])?;
    let start = Instant::now();
    target::source(&mut stream, bytes).context("uploading")?;
    stream.shutdown(Shutdown::Write)?;
    let mut count = [0u8; 8];
    stream
        .read_exact(&mut count)
        .context("no byte count from the target after the upload")?;
    let took = start.elapsed();
    let count = u64::from_be_bytes(count);
    ensure!(
        count == bytes,
        "upload: {bytes} bytes sent, {count} arrived"
    );
    Ok(took)
}

/// Asks for `bytes` and reads them to EOF.
pub fn download(addr: SocketAddr, bytes: u64) -> anyhow::Result<Duration> {
    let mut request = vec![DOWNLOAD];
    request.extend_from_slice(&bytes.to_be_bytes());
    let mut stream = open(addr, &request)?;
    let start = Instant::now();
    stream.write_all(&[GO])?;
    let count = target::sink(&mut stream).context("downloading")?;
    let took = start.elapsed();
    ensure!(
        count == bytes,
        "download: {bytes} bytes asked, {count} came"
    );
    Ok(took)
}

pub(crate) fn mb_per_s(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64().max(1e-9)
}

pub(crate) fn median_f64(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The `p`th percentile of sorted `times` (nearest rank).
pub(crate) fn percentile(times: &[Duration], p: usize) -> Duration {
    if times.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * times.len()).div_ceil(100).max(1);
    times[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let ms = |n: u64| Duration::from_millis(n);
        let times: Vec<_> = (1..=10).map(ms).collect();
        assert_eq!(percentile(&times, 50), ms(5));
        assert_eq!(percentile(&times, 90), ms(9));
        assert_eq!(percentile(&[ms(7)], 90), ms(7));
        assert_eq!(percentile(&[], 50), Duration::ZERO);
    }

    #[test]
    fn a_direct_copy_round_trips_through_the_target() {
        let addr = target::start().unwrap();
        let plan = Plan {
            bulk_bytes: 3 * target::IO_CHUNK as u64 + 17,
            runs: 1,
            connects: 3,
        };
        let figures = run(addr, &plan, &[std::process::id()]).unwrap();
        assert!(figures.upload > 0.0 && figures.download > 0.0);
        assert!(figures.cpu_per_gb.is_some_and(|cpu| cpu >= 0.0));
        assert!(figures.connect_p90 >= figures.connect_median);
        let allowed_before = allowed_cpus();
        let pinned = run_pinned(addr, &plan, Some(0)).unwrap();
        assert!(pinned.upload > 0.0 && pinned.cpu_per_gb.is_none());
        // Unpinned afterwards: children spawned later must not inherit the pin.
        assert_eq!(allowed_cpus(), allowed_before);
    }

    fn allowed_cpus() -> usize {
        use nix::sched::{sched_getaffinity, CpuSet};
        let mask = sched_getaffinity(nix::unistd::Pid::from_raw(0)).unwrap();
        (0..CpuSet::count())
            .filter(|c| mask.is_set(*c).unwrap_or(false))
            .count()
    }
}
