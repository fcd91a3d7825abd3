//! The heart-beat (docs/protocol.md §2.2, §2.11): `GET /luban/api/heart-beat` at start and then
//! every `nextInterval`, which is how the server knows the agent is online. Failures are
//! logged and the beat goes on; nothing here ends the agent.

use std::{ops::RangeInclusive, time::Duration};

use axt_proto::luban::HeartbeatResponse;
use rand::Rng as _;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info_span, warn, Instrument as _};

use crate::client::{query, Client};

/// The intervals (ms) the stock agent obeys; anything else becomes a random one inside.
const OBEYED_MS: RangeInclusive<u64> = 55_000..=65_000;
/// Wait before the one retry of a beat that met a server error or no answer.
const RETRY_AFTER: Duration = Duration::from_secs(3);

/// What the first beat reports on top of the counters.
#[derive(Debug, Clone)]
pub struct FirstBeat {
    /// The machine id of the registration.
    pub machine_id: String,
    /// Whether this is the first start since the host booted.
    pub cold_start: bool,
}

/// Beats until `shutdown`.
pub async fn run(client: Client, first: FirstBeat, shutdown: CancellationToken) {
    let started = Instant::now();
    let (mut sent, mut acked) = (0u64, 0u64);
    async move {
        loop {
            let path = beat_path(&first, sent == 0, started.elapsed(), sent, acked);
            sent += 1;
            let mut answer = beat(&client, &path).await;
            let retry = match &answer {
                Err(e) if e.is_retryable() => Some(e.to_string()),
                _ => None,
            };
            if let Some(error) = retry {
                warn!(%error, "heart-beat failed, retrying once");
                tokio::select! {
                    () = tokio::time::sleep(RETRY_AFTER) => {}
                    () = shutdown.cancelled() => return,
                }
                // The same URL again, timestamp included, as the stock agent does.
                answer = beat(&client, &path).await;
            }
            let asked = match answer {
                Ok(answer) => {
                    acked += 1;
                    debug!(next_interval = answer.next_interval, "heart-beat");
                    answer.next_interval
                }
                Err(e) => {
                    warn!(error = %e, "heart-beat failed");
                    0
                }
            };
            let wait = next_interval(asked, rand::thread_rng().gen_range(OBEYED_MS));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
    .instrument(info_span!("heartbeat"))
    .await;
}

async fn beat(
    client: &Client,
    path: &str,
) -> Result<HeartbeatResponse, crate::client::ClientError> {
    let request = client
        .request(reqwest::Method::GET, path)?
        .header("content-type", "application/x-www-form-urlencoded");
    client.send_json(request).await
}

/// The beat's URL path: the short form, plus the first beat's host facts.
fn beat_path(
    first: &FirstBeat,
    is_first: bool,
    running: Duration,
    sent: u64,
    acked: u64,
) -> String {
    let uptime = crate::host::uptime_ms().to_string();
    let timestamp = axt_proto::now_ms().to_string();
    let pid = std::process::id().to_string();
    let process_uptime = running.as_millis().to_string();
    let (index, seq_no) = (acked.to_string(), sent.to_string());
    let mut pairs = vec![
        ("uptime", uptime.as_str()),
        ("timestamp", &timestamp),
        ("pid", &pid),
        ("process_uptime", &process_uptime),
        ("index", &index),
        ("seq_no", &seq_no),
    ];
    let os_version = crate::host::os_version();
    if is_first {
        pairs.extend([
            // The stock agent reports what it detected; axtlab hosts are KVM guests or
            // containers alike, and the server only stores it.
            ("virt_type", "kvm"),
            ("os_version", &os_version),
            // The zone comes from the metadata service, which this agent never asks.
            ("az", "unknown"),
            ("machineid", &first.machine_id),
            (
                "cold_start",
                if first.cold_start { "true" } else { "false" },
            ),
        ]);
    }
    format!("/luban/api/heart-beat{}", query(&pairs))
}

/// The wait before the next beat: what the server asked if the stock agent would obey it,
/// else `random` (drawn from the obeyed range).
fn next_interval(asked_ms: u64, random_ms: u64) -> Duration {
    Duration::from_millis(if OBEYED_MS.contains(&asked_ms) {
        asked_ms
    } else {
        random_ms
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_outside_the_obeyed_range_are_replaced() {
        assert_eq!(next_interval(56_000, 60_123), Duration::from_millis(56_000));
        assert_eq!(next_interval(1_000, 60_123), Duration::from_millis(60_123));
        assert_eq!(next_interval(0, 55_500), Duration::from_millis(55_500));
        assert_eq!(next_interval(65_001, 55_500), Duration::from_millis(55_500));
    }

    #[test]
    fn only_the_first_beat_carries_the_host_facts() {
        let first = FirstBeat {
            machine_id: "m-1".into(),
            cold_start: true,
        };
        let long = beat_path(&first, true, Duration::from_millis(5), 0, 0);
        assert!(long.starts_with("/luban/api/heart-beat?uptime="), "{long}");
        assert!(
            long.contains("&index=0&seq_no=0&virt_type=kvm&os_version="),
            "{long}"
        );
        assert!(
            long.ends_with("&az=unknown&machineid=m-1&cold_start=true"),
            "{long}"
        );
        let short = beat_path(&first, false, Duration::from_millis(5), 3, 2);
        assert!(
            short.ends_with("&process_uptime=5&index=2&seq_no=3"),
            "{short}"
        );
    }
}
