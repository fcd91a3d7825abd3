//! Pulling session specs (docs/protocol.md §2.3, §2.11): `POST /luban/api/v1/session/list` after a
//! start kick, and the task list the stock agent asks for once at start-up, whose `session`
//! array may hold sessions too.

use std::time::Duration;

use axt_proto::{luban::TaskListResponse, spec::SessionSpec};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::client::{query, Client, ClientError};

/// The stock agent's timeout for a session/list call.
const LIST_TIMEOUT: Duration = Duration::from_secs(8);
/// Wait between retries of a failed call, and after a `{"code":408}`.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// Retries of a failed call, and of a 408, per round.
const RETRIES: usize = 3;
const BUSY_ROUNDS: usize = 4;
/// Wait before the one more round after a round that brought nothing.
const NEXT_ROUND_AFTER: Duration = Duration::from_secs(3);

/// The specs of the session `channel_id`; empty when the server has none to give.
pub async fn session_list(
    client: &Client,
    channel_id: &str,
    shutdown: &CancellationToken,
) -> Vec<SessionSpec> {
    let path = format!(
        "/luban/api/v1/session/list{}",
        query(&[("channelId", channel_id)])
    );
    for round in 0..2 {
        if round > 0 && !pause(NEXT_ROUND_AFTER, shutdown).await {
            return Vec::new();
        }
        if let Some(specs) = list_round(client, &path, shutdown).await {
            if !specs.is_empty() {
                return specs;
            }
        }
    }
    warn!(channel = channel_id, "the server gave no session spec");
    Vec::new()
}

/// One round: a call, retried on errors and while the server answers 408.
async fn list_round(
    client: &Client,
    path: &str,
    shutdown: &CancellationToken,
) -> Option<Vec<SessionSpec>> {
    let (mut failures, mut busy) = (0, 0);
    loop {
        match list_once(client, path).await {
            Ok(answer) if answer.code == 200 => return Some(answer.session),
            Ok(answer) if answer.code == 408 && busy < BUSY_ROUNDS => busy += 1,
            Ok(answer) => {
                warn!(code = answer.code, "session/list refused");
                return None;
            }
            // An HTTP error (404 included) or no answer is retried; a body that is not the
            // expected JSON is not.
            Err(e @ (ClientError::Status(_) | ClientError::Http(_))) if failures < RETRIES => {
                warn!(error = %e, "session/list failed, retrying");
                failures += 1;
            }
            Err(e) => {
                warn!(error = %e, "session/list failed");
                return None;
            }
        }
        if !pause(RETRY_AFTER, shutdown).await {
            return None;
        }
    }
}

async fn list_once(client: &Client, path: &str) -> Result<TaskListResponse, ClientError> {
    let request = client
        .request(reqwest::Method::POST, path)?
        .header("content-type", "application/json; charset=utf-8")
        .timeout(LIST_TIMEOUT)
        .body("");
    client.send_json(request).await
}

/// The start-up task list: `POST /luban/api/v1/task/list?reason=startup&…`, one call; its
/// sessions, if any, are returned. Failures are only logged.
pub async fn startup_task_list(client: &Client, cold_start: bool) -> Vec<SessionSpec> {
    let now = chrono::Local::now();
    let current = now.timestamp_millis().to_string();
    let offset = now.offset().local_minus_utc().to_string();
    let zone = time_zone();
    let path = format!(
        "/luban/api/v1/task/list{}",
        query(&[
            ("reason", "startup"),
            ("cold_start", if cold_start { "true" } else { "false" }),
            ("currentTime", &current),
            ("offset", &offset),
            ("timeZone", &zone),
        ])
    );
    let answer = match client.request(reqwest::Method::POST, &path) {
        Ok(request) => {
            let request = request
                .header("content-type", "application/json; charset=utf-8")
                .body("");
            client.send_json::<TaskListResponse>(request).await
        }
        Err(e) => Err(e),
    };
    match answer {
        Ok(answer) if answer.code == 200 => answer.session,
        Ok(answer) => {
            warn!(code = answer.code, "task/list refused");
            Vec::new()
        }
        Err(e) => {
            warn!(error = %e, "task/list failed");
            Vec::new()
        }
    }
}

/// The IANA name of the local time zone: `$TZ`, `/etc/timezone`, or the target of
/// `/etc/localtime`; `UTC` when none says.
fn time_zone() -> String {
    let from_env = std::env::var("TZ")
        .ok()
        .map(|tz| tz.trim_start_matches(':').to_owned());
    let from_file = || {
        std::fs::read_to_string("/etc/timezone")
            .ok()
            .map(|t| t.trim().to_owned())
    };
    let from_link = || {
        let target = std::fs::read_link("/etc/localtime").ok()?;
        let text = target.to_string_lossy().into_owned();
        text.split_once("zoneinfo/")
            .map(|(_, zone)| zone.to_owned())
    };
    from_env
        .or_else(from_file)
        .or_else(from_link)
        .filter(|zone| !zone.is_empty())
        .unwrap_or_else(|| "UTC".into())
}

/// Sleeps; `false` if the agent is stopping.
async fn pause(duration: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(duration) => true,
        () = shutdown.cancelled() => false,
    }
}
