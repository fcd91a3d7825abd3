//! How `axt` shows a refusal by RAM policies, against a scripted endpoint that answers as the
//! control plane does: the error body as JSON, then — when asked — the explanation decoded
//! through RAM DecodeDiagnosticMessage; a decode that is itself refused says what it needs; a
//! refused AssumeRole is explained with the key that asked. (`iam.rs` shows the same against
//! the real control plane.)

mod common;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use common::{axt, finish, Outcome};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpListener,
};

/// One request as the endpoint saw it: its query parameters.
type Seen = Vec<(String, String)>;

/// An endpoint that answers each request with `script(params)`: a status and a JSON body.
struct FakeApi {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeApi {
    async fn start(script: fn(&Seen) -> (u16, Value)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                // axt posts every parameter in the query and an empty body.
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let mut byte = [0];
                    if tcp.read(&mut byte).await.unwrap_or(0) == 0 {
                        break;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let target = head.split(' ').nth(1).unwrap_or("/");
                let url = reqwest::Url::parse(&format!("http://x{target}")).unwrap();
                let params: Seen = url.query_pairs().into_owned().collect();
                let (status, body) = script(&params);
                log.lock().unwrap().push(params);
                let body = body.to_string();
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.write_all(answer.as_bytes()).await;
            }
        });
        Self { addr, seen }
    }

    /// `axt` pointed here with the key `LTAIcaller`.
    fn axt(&self, home: &std::path::Path, args: &[&str]) -> tokio::process::Command {
        let mut cmd = axt(home);
        cmd.env("ALIBABA_CLOUD_ECS_ENDPOINT", self.addr.to_string())
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIcaller")
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret")
            .args(args);
        cmd
    }

    async fn run(&self, args: &[&str]) -> Outcome {
        let home = tempfile::tempdir().unwrap();
        finish(self.axt(home.path(), args).spawn().unwrap()).await
    }

    /// The value of `name` in each request, in order.
    fn params(&self, name: &str) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .map(|p| {
                p.iter()
                    .find(|(k, _)| k == name)
                    .map_or(String::new(), |(_, v)| v.clone())
            })
            .collect()
    }
}

fn param<'a>(params: &'a Seen, name: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// A refusal body as the control plane writes it.
fn refused(code: &str, action: &str) -> Value {
    json!({"RequestId": "R-1", "HostId": "h", "Code": code, "Message": "not authorized",
        "Recommend": "", "AccessDeniedDetail": {
            "AuthAction": action, "AuthPrincipalType": "SubUser",
            "AuthPrincipalDisplayName": "op", "AuthPrincipalOwnerId": "1",
            "PolicyType": "AccountLevelIdentityBasedPolicy", "NoPermissionType": "ImplicitDeny",
            "EncodedDiagnosticMessage": format!("ENC{action}")}})
}

/// What axtlab's DecodeDiagnosticMessage answers for `ENC<action>`: RAM's shape, and the
/// trace.
fn decoded(params: &Seen) -> Value {
    let action = param(params, "EncodedDiagnosticMessage").trim_start_matches("ENC");
    json!({"RequestId": "R-2", "DecodedDiagnosticMessage": {
        "AuthAction": action, "AuthResource": "*", "ExplicitDeny": false,
        "NoPermissionPolicyType": "AccountLevelIdentityBasedPolicy",
        "AuthPrincipal": {"AuthPrincipalType": "SubUser", "AuthPrincipalDisplayName": "op",
                          "AuthPrincipalOwnerId": "1"},
        "AuthConditions": [], "MatchedPolicies": [],
        "AxtlabTrace": {"action": action, "resource": "*", "decision": "ImplicitDeny",
                        "statements": []}}})
}

/// Every ECS call refused; RAM decodes.
fn ecs_refused(params: &Seen) -> (u16, Value) {
    match param(params, "Action") {
        "DecodeDiagnosticMessage" => (200, decoded(params)),
        action => (403, refused("Forbidden.RAM", &format!("ecs:{action}"))),
    }
}

#[tokio::test]
async fn a_refusal_is_json_and_explained_when_asked() {
    let api = FakeApi::start(ecs_refused).await;
    let principal = "Principal: acs:ram::1:user/op (SubUser, account 1)";

    let out = api
        .run(&["api", "StartTerminalSession", "--InstanceId.1", "i-x"])
        .await;
    assert_eq!(out.code, Some(1));
    let body: Value = serde_json::from_str(&out.stderr).expect("the body alone, as JSON");
    assert_eq!(
        body["AccessDeniedDetail"]["NoPermissionType"],
        "ImplicitDeny"
    );
    assert_eq!(
        api.params("Action"),
        ["StartTerminalSession"],
        "nothing decoded"
    );

    for args in [
        &[
            "--explain",
            "api",
            "StartTerminalSession",
            "--InstanceId.1",
            "i-x",
        ][..],
        &[
            "api",
            "StartTerminalSession",
            "--InstanceId.1",
            "i-x",
            "--explain",
        ],
        &["--explain", "session", "--instance", "i-x"],
    ] {
        let out = api.run(args).await;
        assert_eq!(out.code, Some(1), "{args:?}");
        let (json, told) = out.stderr.split_once("\n\n").expect("the body, then why");
        assert_eq!(
            serde_json::from_str::<Value>(json).unwrap()["Code"],
            "Forbidden.RAM"
        );
        assert!(told.starts_with(principal), "{told}");
        assert!(
            told.contains("ImplicitDeny: ecs:StartTerminalSession on *"),
            "{told}"
        );
    }
    // The decode is a RAM call, with the caller's key, of the message the refusal carried.
    let versions = api.params("Version");
    let actions = api.params("Action");
    let decodes: Vec<usize> = (0..actions.len())
        .filter(|&i| actions[i] == "DecodeDiagnosticMessage")
        .collect();
    assert_eq!(decodes.len(), 3);
    for i in decodes {
        assert_eq!(versions[i], "2015-05-01");
        assert_eq!(api.params("AccessKeyId")[i], "LTAIcaller");
        assert_eq!(
            api.params("EncodedDiagnosticMessage")[i],
            "ENCecs:StartTerminalSession"
        );
    }
}

#[tokio::test]
async fn a_decode_that_is_refused_too_says_what_it_needs() {
    let api = FakeApi::start(|params| match param(params, "Action") {
        "DecodeDiagnosticMessage" => (403, refused("NoPermission", "ram:DecodeDiagnosticMessage")),
        action => (403, refused("Forbidden.RAM", &format!("ecs:{action}"))),
    })
    .await;
    let out = api.run(&["--explain", "api", "DescribeInstances"]).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("NoPermission: not authorized (R-1)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("needs ram:DecodeDiagnosticMessage"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_refused_assume_role_is_explained_with_the_key_that_asked() {
    let api = FakeApi::start(|params| match param(params, "Action") {
        "AssumeRole" => (403, refused("NoPermission", "sts:AssumeRole")),
        "DecodeDiagnosticMessage" if param(params, "SecurityToken").is_empty() => {
            (200, decoded(params))
        }
        // Anything else fails the call, and with it the assertions below.
        other => (500, json!({"Code": format!("Unexpected.{other}")})),
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let config = json!({"current": "role", "profiles": [{"name": "role", "mode": "RamRoleArn",
        "access_key_id": "LTAIsource", "access_key_secret": "s",
        "ram_role_arn": "acs:ram::1:role/admin", "ram_session_name": "me"}]});
    std::fs::create_dir_all(home.path().join(".aliyun")).unwrap();
    std::fs::write(home.path().join(".aliyun/config.json"), config.to_string()).unwrap();
    let mut cmd = axt(home.path());
    cmd.env("ALIBABA_CLOUD_ECS_ENDPOINT", api.addr.to_string())
        .args(["--profile", "role", "--explain", "api", "DescribeRegions"]);
    let out = finish(cmd.spawn().unwrap()).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("ImplicitDeny: sts:AssumeRole"),
        "{}",
        out.stderr
    );
    assert_eq!(
        api.params("Action"),
        ["AssumeRole", "DecodeDiagnosticMessage"]
    );
    assert_eq!(api.params("AccessKeyId"), ["LTAIsource", "LTAIsource"]);
    assert_eq!(api.params("RoleSessionName")[0], "me");
    assert_eq!(api.params("Version")[0], "2015-04-01");
}
