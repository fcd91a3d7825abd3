//! The real binary, killed with SIGKILL and restarted on the same data directory: nothing that
//! was committed is lost. Also the first-start bootstrap of a generated admin key.

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
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(p.iter())
        .finish();
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/?{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
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
