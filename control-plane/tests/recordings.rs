//! Recordings of shell connections: the internal `AppendRecording` a gateway calls (appends in
//! order, retries idempotent, gaps refused, the size limit, completion, the retention sweep,
//! only the session's own connection on its own instance), and the two actions that serve them
//! (`recordings/actions.rs`), signed as the admin and as RAM users.

#[path = "recordings/actions.rs"]
mod actions;
mod common;

use std::{
    os::unix::fs::PermissionsExt as _,
    path::PathBuf,
    time::{Duration, SystemTime},
};

use axt_gateway::control_plane::CpError;
use axt_proto::internal::{AppendRecording, Call as _, OpenChannel, RefusalCode, BASE};
use clap::Parser as _;
use common::*;
use serde_json::{json, Value};

/// A shell session with one connection, as a gateway opened it.
pub struct Shell {
    pub session_id: String,
    pub channel_id: String,
    pub instance_id: String,
}

/// Starts a session on `instance` (`pairs` added) and opens its connection.
pub async fn shell_with(plane: &TestPlane, instance: &str, pairs: &[(&str, &str)]) -> Shell {
    let mut all = vec![("RegionId", REGION), ("InstanceId.1", instance)];
    all.extend_from_slice(pairs);
    let (status, s) = plane.client().call("StartTerminalSession", &all).await;
    assert_eq!(status, 200, "{s}");
    let open = OpenChannel {
        session_id: s["SessionId"].as_str().unwrap().into(),
        token: s["SecurityToken"].as_str().unwrap().into(),
        client_ip: "127.0.0.1".into(),
        gateway_id: GATEWAY_ID.into(),
        gateway_boot: "boot-1".into(),
        instance_id: None,
    };
    let grant = plane.gateway().call(&open).await.unwrap();
    Shell {
        session_id: open.session_id,
        channel_id: grant.channel_id,
        instance_id: grant.instance_id,
    }
}

pub async fn shell(plane: &TestPlane, instance: &str) -> Shell {
    shell_with(plane, instance, &[]).await
}

impl Shell {
    /// The append a gateway makes of `data` at `offset`.
    pub fn append(&self, offset: usize, data: &str, last: bool) -> AppendRecording {
        AppendRecording {
            session_id: self.session_id.clone(),
            channel_id: self.channel_id.clone(),
            instance_id: self.instance_id.clone(),
            offset: offset as u64,
            data: data.to_owned(),
            last,
        }
    }

    /// Where the control plane keeps its recording.
    pub fn file(&self, plane: &TestPlane) -> PathBuf {
        plane
            .dir
            .path()
            .join("recordings")
            .join(&self.session_id)
            .join(format!("{}.cast", self.channel_id))
    }
}

/// The asciicast v2 header line a gateway writes first.
pub fn header(shell: &Shell) -> String {
    let title = format!("{} {}", shell.session_id, shell.channel_id);
    let header = json!({"version": 2, "width": 80, "height": 24, "timestamp": 1_700_000_000,
        "title": title, "env": {"TERM": "xterm-256color"}});
    format!("{header}\n")
}

/// One output event line.
pub fn output(at: f64, text: &str) -> String {
    format!("{}\n", json!([at, "o", text]))
}

/// The refusal code of a call that must be refused.
fn refused<T: std::fmt::Debug>(result: Result<T, CpError>) -> RefusalCode {
    match result {
        Err(CpError::Refused(refusal)) => refusal.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The one recording of `shell`, as ListTerminalSessionRecordings shows it.
async fn listed(plane: &TestPlane, shell: &Shell) -> Value {
    let (status, body) = plane
        .client()
        .call(
            "ListTerminalSessionRecordings",
            &[("RegionId", REGION), ("SessionId", &shell.session_id)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["Recordings"]["Recording"][0].clone()
}

#[tokio::test]
async fn appends_continue_the_file_and_retries_are_done_already() {
    let plane = TestPlane::start(&[]).await;
    let instance = plane.ready_instance().await;
    let s = shell(&plane, &instance).await;
    let cp = plane.gateway();
    let (first, second) = (header(&s) + &output(0.1, "$ "), output(0.5, "hello\r\n"));
    cp.call(&s.append(0, &first, false)).await.unwrap();
    // A retry of an append already stored changes nothing, nor does one that repeats part.
    cp.call(&s.append(0, &first, false)).await.unwrap();
    cp.call(&s.append(first.len(), &second, false))
        .await
        .unwrap();
    cp.call(&s.append(first.len(), &second, false))
        .await
        .unwrap();
    let third = output(0.9, "bye\r\n");
    let overlapping = second.clone() + &third;
    cp.call(&s.append(first.len(), &overlapping, false))
        .await
        .unwrap();
    let text = first.clone() + &second + &third;
    assert_eq!(std::fs::read_to_string(s.file(&plane)).unwrap(), text);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&s.file(&plane)), 0o600);
    assert_eq!(mode(s.file(&plane).parent().unwrap()), 0o700);
    assert_eq!(mode(&plane.dir.path().join("recordings")), 0o700);

    // A gap is refused, with a 409 and the size stored.
    let gap = s.append(text.len() + 1, &output(1.0, "x"), false);
    let http = reqwest::Client::new();
    let url = format!("http://{}{BASE}{}", plane.addr, AppendRecording::ROUTE);
    let resp = http
        .post(&url)
        .bearer_auth(INTERNAL_TOKEN)
        .json(&gap)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "RecordingConflict", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(&text.len().to_string()),
        "{body}"
    );
    let row = listed(&plane, &s).await;
    assert_eq!(
        (row["Size"].as_u64(), row["Complete"].as_bool()),
        (Some(text.len() as u64), Some(false))
    );

    // The last append completes it; nothing may follow, though its retry is done already.
    let end = output(1.2, "exit\r\n");
    let last = s.append(text.len(), &end, true);
    cp.call(&last).await.unwrap();
    cp.call(&last).await.unwrap();
    let after = s.append(text.len() + end.len(), &output(2.0, "late"), false);
    assert_eq!(
        refused(cp.call(&after).await),
        RefusalCode::RecordingConflict
    );
    let row = listed(&plane, &s).await;
    assert_eq!(row["Complete"], true, "{row}");
    assert_eq!(row["Truncated"], false, "{row}");
    assert_eq!(row["Size"], (text.len() + end.len()) as u64);
    assert_eq!(row["ConnectionId"], s.channel_id.as_str());
    assert_eq!(row["InstanceId"], instance.as_str());
}

#[tokio::test]
async fn only_the_sessions_own_shell_connection_is_recorded() {
    let plane = TestPlane::start(&[]).await;
    let instance = plane.ready_instance().await;
    let (s, other) = (
        shell(&plane, &instance).await,
        shell(&plane, &instance).await,
    );
    let cp = plane.gateway();
    let line = header(&s);
    let wrong_instance = AppendRecording {
        instance_id: "i-someoneelse".into(),
        ..s.append(0, &line, false)
    };
    assert_eq!(
        refused(cp.call(&wrong_instance).await),
        RefusalCode::InvalidInstance
    );
    let foreign_channel = AppendRecording {
        channel_id: other.channel_id.clone(),
        ..s.append(0, &line, false)
    };
    assert_eq!(
        refused(cp.call(&foreign_channel).await),
        RefusalCode::ChannelNotFound
    );
    let unknown_session = AppendRecording {
        session_id: "s-nosuchsession".into(),
        ..s.append(0, &line, false)
    };
    assert_eq!(
        refused(cp.call(&unknown_session).await),
        RefusalCode::ChannelNotFound
    );
    // A port session carries arbitrary bytes: never recorded.
    let port = shell_with(&plane, &instance, &[("PortNumber", "22")]).await;
    assert_eq!(
        refused(cp.call(&port.append(0, &line, false)).await),
        RefusalCode::MalformedRequest
    );
    // None of these left a file or a row.
    assert!(!plane.dir.path().join("recordings").exists());
    let (_, body) = plane
        .client()
        .call("ListTerminalSessionRecordings", &[("RegionId", REGION)])
        .await;
    assert_eq!(body["Recordings"]["Recording"], json!([]), "{body}");
}

#[tokio::test]
async fn past_the_size_limit_whole_lines_are_kept_and_the_rest_dropped() {
    let plane = TestPlane::start(&["--recording-max-bytes", "400"]).await;
    let instance = plane.ready_instance().await;
    let s = shell(&plane, &instance).await;
    let cp = plane.gateway();
    let first = header(&s);
    assert!(first.len() < 300, "{}", first.len());
    cp.call(&s.append(0, &first, false)).await.unwrap();
    // Lines of 50 bytes each: those that fit within 400 are kept whole.
    let line = output(1.0, &"x".repeat(50 - output(1.0, "").len()));
    assert_eq!(line.len(), 50);
    let many = line.repeat(8);
    cp.call(&s.append(first.len(), &many, false)).await.unwrap();
    let kept = (400 - first.len()) / 50;
    let stored = std::fs::read_to_string(s.file(&plane)).unwrap();
    assert_eq!(stored, first.clone() + &line.repeat(kept));
    let row = listed(&plane, &s).await;
    assert_eq!(row["Truncated"], true, "{row}");
    assert_eq!(row["Size"], stored.len() as u64);
    // Later appends are dropped, whatever their offset; the last still completes it.
    let next = first.len() + many.len();
    cp.call(&s.append(next, &line, false)).await.unwrap();
    cp.call(&s.append(next + line.len(), "", true))
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(s.file(&plane)).unwrap(), stored);
    let row = listed(&plane, &s).await;
    assert_eq!(
        (row["Truncated"].as_bool(), row["Complete"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(row["Size"], stored.len() as u64);
}

#[tokio::test]
async fn recordings_past_their_retention_are_swept_hourly_and_at_start() {
    let plane = TestPlane::start(&["--recording-retention-days", "30"]).await;
    let instance = plane.ready_instance().await;
    let cp = plane.gateway();
    let (old, new) = (
        shell(&plane, &instance).await,
        shell(&plane, &instance).await,
    );
    for s in [&old, &new] {
        cp.call(&s.append(0, &header(s), true)).await.unwrap();
    }
    let (store, recordings) = (&plane.shared.store, &plane.shared.recordings);
    let now = chrono::Utc::now().timestamp();
    // Within the retention nothing goes; a clock 31 days on sweeps both, files and rows.
    assert_eq!(recordings.sweep(store, now + 29 * 86_400).await.unwrap(), 0);
    assert!(old.file(&plane).exists());

    // At start: a row last updated 31 days ago, and a file of 31 days no row speaks for.
    let month_ago = now - 31 * 86_400;
    let mut db = raw_db(&plane).await;
    sqlx::query("UPDATE recordings SET updated_at = ? WHERE channel_id = ?")
        .bind(month_ago)
        .bind(&old.channel_id)
        .execute(&mut db)
        .await
        .unwrap();
    let orphan = plane.dir.path().join("recordings/s-gone/c-gone.cast");
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, header(&old)).unwrap();
    let mtime = SystemTime::now() - Duration::from_secs(31 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&orphan)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let config = axt_control_plane::Config::parse_from([
        "axt-control-plane",
        "--data-dir",
        &plane.dir.path().display().to_string(),
        "--internal-token",
        INTERNAL_TOKEN,
    ]);
    drop(axt_control_plane::App::open(config).await.unwrap());
    assert!(!old.file(&plane).exists() && !orphan.exists());
    assert!(
        !orphan.parent().unwrap().exists(),
        "its empty directory went too"
    );
    assert!(new.file(&plane).exists());
    assert_eq!(store.recording(&old.channel_id).await.unwrap(), None);

    // Hourly, with the clock past the newer one's retention.
    assert_eq!(recordings.sweep(store, now + 31 * 86_400).await.unwrap(), 1);
    assert!(!new.file(&plane).exists());
    assert_eq!(store.recording(&new.channel_id).await.unwrap(), None);
}

#[tokio::test]
async fn a_retention_of_zero_days_keeps_recordings_forever() {
    let plane = TestPlane::start(&["--recording-retention-days", "0"]).await;
    let instance = plane.ready_instance().await;
    let s = shell(&plane, &instance).await;
    plane
        .gateway()
        .call(&s.append(0, &header(&s), true))
        .await
        .unwrap();
    let far = chrono::Utc::now().timestamp() + 10 * 365 * 86_400;
    let (store, recordings) = (&plane.shared.store, &plane.shared.recordings);
    assert_eq!(recordings.sweep(store, far).await.unwrap(), 0);
    assert!(s.file(&plane).exists());
}

/// The control plane's database, opened beside it.
async fn raw_db(plane: &TestPlane) -> sqlx::SqliteConnection {
    use sqlx::Connection as _;
    let path = plane.dir.path().join(axt_control_plane::store::DB_FILE);
    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap()
}
