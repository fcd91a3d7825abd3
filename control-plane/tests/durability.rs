//! The real binary, killed with SIGKILL and restarted on the same data directory: nothing that
//! was committed is lost. Also the first-start bootstrap of a generated admin key, and what a
//! restart does to replay protection: the SignatureNonces live in memory and reach the
//! database in batches, yet no nonce spent before a clean restart, and no nonce of a call that
//! changes something spent before a `kill -9`, can be used again.

use std::{os::unix::fs::PermissionsExt as _, path::Path, time::Duration};

use axt_kit::process::Supervised;
use axt_proto::openapi::{v1, Credentials, Params, TIMESTAMP_FORMAT};
use serde_json::Value;

/// Starts the binary on port 0 and reads its address from the file it writes once listening,
/// waiting at most 20 s for it.
async fn spawn(dir: &Path) -> (Supervised, String) {
    let addr_file = dir.join(axt_control_plane::LISTEN_ADDR_FILE);
    let _ = std::fs::remove_file(&addr_file);
    let mut cmd = axt_kit::process::command(&[], env!("CARGO_BIN_EXE_axt-control-plane"));
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env_remove("AXT_ADMIN_ACCESS_KEY_ID")
        .env_remove("AXT_ADMIN_ACCESS_KEY_SECRET")
        .env("RUST_LOG", "info");
    let log = dir.join("control-plane.log");
    let mut child = Supervised::spawn("control-plane", cmd, &log).unwrap();
    let addr = child
        .ready("listening", Duration::from_secs(20), || {
            std::fs::read_to_string(&addr_file).ok()
        })
        .await
        .unwrap();
    (child, addr)
}

async fn call(addr: &str, id: &str, secret: &str, action: &str, pairs: &[(&str, &str)]) -> Value {
    let (status, body) = send(addr, &signed(id, secret, action, pairs)).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The query of a V1-signed call, signed now with a nonce of its own: sent twice, a replay.
fn signed(id: &str, secret: &str, action: &str, pairs: &[(&str, &str)]) -> String {
    let mut p: Params = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    p.insert("Action".into(), action.into());
    let now = chrono::Utc::now().format(TIMESTAMP_FORMAT).to_string();
    v1::sign_request(
        "POST",
        &mut p,
        Credentials {
            access_key_id: id,
            secret,
        },
        &now,
        &uuid::Uuid::new_v4().to_string(),
    );
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(p.iter())
        .finish()
}

async fn send(addr: &str, query: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/?{query}"))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// The generated admin key of the data directory `dir`.
fn admin_key(dir: &Path) -> (String, String) {
    let key: Value =
        serde_json::from_slice(&std::fs::read(dir.join("admin-access-key.json")).unwrap()).unwrap();
    let field = |name: &str| key[name].as_str().unwrap().to_owned();
    (field("AccessKeyId"), field("AccessKeySecret"))
}

#[track_caller]
fn assert_replay_refused((status, body): (u16, Value)) {
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("SignatureNonceUsed")),
        "{body}"
    );
}

#[tokio::test]
async fn no_nonce_spent_before_a_clean_restart_can_be_used_again() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn(dir.path()).await;
    let (id, secret) = admin_key(dir.path());
    // A call that changes something, whose nonce is written before it runs, then a read,
    // whose nonce goes to the database with the next batch — here, the one of the shutdown.
    let write = signed(
        &id,
        &secret,
        "CreateActivation",
        &[("RegionId", "cn-hangzhou")],
    );
    let read = signed(&id, &secret, "DescribeRegions", &[]);
    for query in [&write, &read] {
        assert_eq!(send(&addr, query).await.0, 200);
        assert_replay_refused(send(&addr, query).await);
    }
    child.terminate();
    assert!(child
        .wait_exit(Duration::from_secs(20))
        .await
        .unwrap()
        .success());

    let (mut child, addr) = spawn(dir.path()).await;
    for query in [&read, &write] {
        assert_replay_refused(send(&addr, query).await);
    }
    child.kill();
}

#[tokio::test]
async fn a_call_that_changes_something_cannot_be_replayed_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn(dir.path()).await;
    let (id, secret) = admin_key(dir.path());
    let write = signed(
        &id,
        &secret,
        "CreateActivation",
        &[("RegionId", "cn-hangzhou")],
    );
    assert_eq!(send(&addr, &write).await.0, 200);
    // At once: no batch of nonces has been written since, no shutdown writes one.
    child.kill();

    let (mut child, addr) = spawn(dir.path()).await;
    assert_replay_refused(send(&addr, &write).await);
    // What the replay would have done, it did not: one activation, the original one.
    let listed = call(
        &addr,
        &id,
        &secret,
        "DescribeActivations",
        &[("RegionId", "cn-hangzhou")],
    )
    .await;
    assert_eq!(listed["TotalCount"], 1, "{listed}");
    child.kill();
}

#[tokio::test]
async fn kill_9_loses_no_committed_record() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn(dir.path()).await;
    let key_file = dir.path().join("admin-access-key.json");
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let key: Value = serde_json::from_slice(&std::fs::read(&key_file).unwrap()).unwrap();
    let (id, secret) = (
        key["AccessKeyId"].as_str().unwrap(),
        key["AccessKeySecret"].as_str().unwrap(),
    );

    let run = call(
        &addr,
        id,
        secret,
        "RunInstances",
        &[("RegionId", "cn-hangzhou")],
    )
    .await;
    let instance = run["InstanceIdSets"]["InstanceIdSet"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let act = call(
        &addr,
        id,
        secret,
        "CreateActivation",
        &[("RegionId", "cn-hangzhou")],
    )
    .await;
    child.kill(); // SIGKILL: no shutdown, no checkpoint

    let (mut child, addr) = spawn(dir.path()).await;
    // The same key still works: it was neither lost nor regenerated.
    let listed = call(
        &addr,
        id,
        secret,
        "DescribeInstances",
        &[("RegionId", "cn-hangzhou")],
    )
    .await;
    assert_eq!(
        listed["Instances"]["Instance"][0]["InstanceId"],
        instance.as_str()
    );
    let acts = call(
        &addr,
        id,
        secret,
        "DescribeActivations",
        &[("RegionId", "cn-hangzhou")],
    )
    .await;
    assert_eq!(
        acts["ActivationList"][0]["ActivationId"],
        act["ActivationId"]
    );
    let again: Value = serde_json::from_slice(&std::fs::read(&key_file).unwrap()).unwrap();
    assert_eq!(again["AccessKeyId"], key["AccessKeyId"]);
    child.kill();
}
