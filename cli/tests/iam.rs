//! `axt` and RAM against a real control plane: RAM and STS calls through `axt api`, a
//! RamRoleArn profile signing ECS calls with the role's STS key, `axt iam simulate` and its
//! exit codes, and `axt iam explain` on a real refusal. The cast is the lab's in small: an
//! operator allowed one instance and the role, a role the account trusts with ECS full access.

mod common;

use std::process::Stdio;

use common::{finish, Outcome, TestPlane};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt as _;

/// The cast of one test: a plane, a HOME whose `.aliyun/config.json` holds the operator's
/// profiles, two instances ready for sessions, and the account.
struct Cast {
    plane: TestPlane,
    home: tempfile::TempDir,
    account: String,
    one: String,
    two: String,
}

impl Cast {
    /// `axt ARGS` with the admin key exported, as in a lab shell.
    async fn run(&self, args: &[&str]) -> Outcome {
        let child = self.plane.axt(self.home.path()).args(args).spawn().unwrap();
        finish(child).await
    }

    /// `axt api ARGS` with the admin key; must succeed.
    async fn admin(&self, args: &[&str]) -> Value {
        self.plane.api(self.home.path(), args).await
    }

    /// `axt iam simulate PRINCIPAL --action ecs:StartTerminalSession --resource RESOURCE`.
    async fn simulate(&self, principal: &[&str], resource: &str) -> Outcome {
        let action = [
            "--action",
            "ecs:StartTerminalSession",
            "--resource",
            resource,
        ];
        self.run(&[&["iam", "simulate"][..], principal, &action].concat())
            .await
    }

    fn arn(&self, instance: &str) -> String {
        format!("acs:ecs:cn-hangzhou:{}:instance/{instance}", self.account)
    }
}

/// Sets the cast up through `axt api` with the admin key.
async fn cast() -> Cast {
    let plane = TestPlane::start("ws://127.0.0.1:9").await;
    let home = tempfile::tempdir().unwrap();
    let one = plane.ready_instance(home.path()).await;
    let two = plane.ready_instance(home.path()).await;
    let identity = plane.api(home.path(), &["Sts.GetCallerIdentity"]).await;
    let account = identity["AccountId"].as_str().unwrap().to_owned();
    let cast = Cast {
        plane,
        home,
        account,
        one,
        two,
    };
    let role_arn = format!("acs:ram::{}:role/admin-role", cast.account);
    let policy = json!({"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "ecs:StartTerminalSession", "Resource": cast.arn(&cast.one)},
        {"Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"},
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn},
        {"Effect": "Allow", "Action": "ram:DecodeDiagnosticMessage", "Resource": "*"},
    ]})
    .to_string();
    let trust = json!({"Version": "1", "Statement": [{"Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Principal": {"RAM": [format!("acs:ram::{}:root", cast.account)]}}]})
    .to_string();
    let calls: [&[&str]; 5] = [
        &["Ram.CreateUser", "--UserName", "op"],
        &[
            "Ram.CreatePolicy",
            "--PolicyName",
            "one",
            "--PolicyDocument",
            &policy,
        ],
        &[
            "Ram.AttachPolicyToUser",
            "--UserName",
            "op",
            "--PolicyType",
            "Custom",
            "--PolicyName",
            "one",
        ],
        &[
            "Ram.CreateRole",
            "--RoleName",
            "admin-role",
            "--AssumeRolePolicyDocument",
            &trust,
        ],
        &[
            "Ram.AttachPolicyToRole",
            "--RoleName",
            "admin-role",
            "--PolicyType",
            "System",
            "--PolicyName",
            "AliyunECSFullAccess",
        ],
    ];
    for call in calls {
        cast.admin(call).await;
    }
    let key = cast
        .admin(&["Ram.CreateAccessKey", "--UserName", "op"])
        .await;
    let key = &key["AccessKey"];
    let profile = |name: &str| {
        json!({"name": name, "mode": "AK", "access_key_id": key["AccessKeyId"],
               "access_key_secret": key["AccessKeySecret"], "region_id": "cn-hangzhou"})
    };
    let mut as_admin = profile("op-as-admin");
    as_admin["mode"] = "RamRoleArn".into();
    as_admin["ram_role_arn"] = role_arn.into();
    as_admin["ram_session_name"] = "axt-test".into();
    as_admin["expired_seconds"] = 900.into();
    let config = json!({"current": "op", "profiles": [profile("op"), as_admin]});
    let aliyun = cast.home.path().join(".aliyun");
    std::fs::create_dir_all(&aliyun).unwrap();
    std::fs::write(aliyun.join("config.json"), config.to_string()).unwrap();
    cast
}

#[tokio::test]
async fn ram_and_sts_calls_are_signed_with_their_own_versions() {
    let plane = TestPlane::start("ws://127.0.0.1:9").await;
    let home = tempfile::tempdir().unwrap();
    let created = plane
        .api(
            home.path(),
            &["--product", "ram", "CreateUser", "--UserName", "alice"],
        )
        .await;
    assert_eq!(created["User"]["UserName"], "alice", "{created}");
    let got = plane
        .api(home.path(), &["Ram.GetUser", "--UserName", "alice"])
        .await;
    assert_eq!(got["User"]["UserName"], "alice", "{got}");
    let me = plane.api(home.path(), &["sts.GetCallerIdentity"]).await;
    assert!(
        me["AccountId"].as_str().is_some_and(|a| !a.is_empty()),
        "{me}"
    );

    // ECS's action under RAM's version is no action at all: the version did travel.
    let child = plane
        .axt(home.path())
        .args(["api", "--product", "ram", "DescribeRegions"])
        .spawn()
        .unwrap();
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.starts_with("InvalidAction.NotFound"),
        "{}",
        out.stderr
    );
    let child = plane
        .axt(home.path())
        .args(["api", "--product", "sts", "Ram.GetUser"])
        .spawn()
        .unwrap();
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("disagree"), "{}", out.stderr);
}

#[tokio::test]
async fn a_ram_role_arn_profile_signs_ecs_calls_with_the_roles_sts_key() {
    let cast = cast().await;
    let out = cast
        .run(&["--profile", "op-as-admin", "api", "Sts.GetCallerIdentity"])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let me: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(me["IdentityType"], "AssumedRoleUser", "{me}");
    let arn = me["Arn"].as_str().unwrap();
    assert!(arn.ends_with(":assumed-role/admin-role/axt-test"), "{arn}");

    // As the role, the operator opens an instance its own policy does not name.
    let start = ["api", "StartTerminalSession", "--InstanceId.1", &cast.two];
    let out = cast
        .run(&[&["--profile", "op-as-admin"][..], &start].concat())
        .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let started: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(started["WebSocketUrl"].is_string(), "{started}");
}

#[tokio::test]
async fn simulate_exits_0_for_allow_and_3_for_a_deny() {
    let cast = cast().await;
    let (one, two) = (cast.arn(&cast.one), cast.arn(&cast.two));

    let out = cast.simulate(&["--user", "op"], &one).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .starts_with("Simulated for user op, under one (Custom)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("Allow: ecs:StartTerminalSession on {one}")),
        "{}",
        out.stdout
    );

    let out = cast.simulate(&["--user", "op"], &two).await;
    assert_eq!(out.code, Some(3), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("ImplicitDeny"), "{}", out.stdout);

    let out = cast.simulate(&["--role", "admin-role"], &two).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("AliyunECSFullAccess (System)"),
        "{}",
        out.stdout
    );

    // A session policy narrows the role.
    let narrow = cast.home.path().join("describe-only.json");
    let only = json!({"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"}]});
    std::fs::write(&narrow, only.to_string()).unwrap();
    let narrow = narrow.display().to_string();
    let out = cast
        .simulate(&["--role", "admin-role", "--session-policy", &narrow], &two)
        .await;
    assert_eq!(out.code, Some(3), "{}{}", out.stdout, out.stderr);

    let out = cast.simulate(&["--user", "nobody"], &one).await;
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.starts_with("EntityNotExist.User"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn explain_tells_why_a_real_refusal_was_refused() {
    let cast = cast().await;
    let principal = format!(
        "Principal: acs:ram::{0}:user/op (SubUser, account {0})",
        cast.account
    );
    let decision = format!(
        "ImplicitDeny: ecs:StartTerminalSession on {}",
        cast.arn(&cast.two)
    );
    let start = ["api", "StartTerminalSession", "--InstanceId.1", &cast.two];

    // Not on a terminal and not asked: the body alone, as JSON.
    let out = cast.run(&[&["--profile", "op"][..], &start].concat()).await;
    assert_eq!(out.code, Some(1));
    let refused: Value = serde_json::from_str(&out.stderr).expect("the refusal as JSON");
    assert_eq!(refused["Code"], "Forbidden.RAM", "{refused}");
    assert_eq!(
        refused["AccessDeniedDetail"]["AuthPrincipalDisplayName"],
        "op"
    );
    let saved = cast.home.path().join("error.json");
    std::fs::write(&saved, &out.stderr).unwrap();

    // Asked, before the action or among its parameters.
    for args in [
        [&["--profile", "op", "--explain"][..], &start].concat(),
        [&["--profile", "op"][..], &start, &["--explain"]].concat(),
    ] {
        let out = cast.run(&args).await;
        assert_eq!(out.code, Some(1));
        assert!(out.stderr.contains(&principal), "{}", out.stderr);
        assert!(out.stderr.contains(&decision), "{}", out.stderr);
    }

    // From the saved body, with the admin key.
    let out = cast
        .run(&["iam", "explain", "--from", &saved.display().to_string()])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.starts_with(&principal), "{}", out.stdout);
    assert!(out.stdout.contains(&decision), "{}", out.stdout);

    // The message alone, on stdin.
    let body: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let encoded = body["AccessDeniedDetail"]["EncodedDiagnosticMessage"]
        .as_str()
        .unwrap();
    let mut child = cast
        .plane
        .axt(cast.home.path())
        .args(["iam", "explain"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(encoded.as_bytes()).await.unwrap();
    drop(stdin);
    let out = finish(child).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.starts_with(&principal), "{}", out.stdout);
}
