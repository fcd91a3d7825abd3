//! `axt api` against a real control plane: signed calls, error bodies, and where the key comes
//! from (flags over environment over profile).

mod common;

use common::{axt, finish, TestPlane, KEY_ID, SECRET};

#[tokio::test]
async fn describe_regions_prints_the_answer_as_json() {
    let plane = TestPlane::start("ws://127.0.0.1:9").await;
    let home = tempfile::tempdir().unwrap();
    let answer = plane.api(home.path(), &["DescribeRegions"]).await;
    let regions = answer["Regions"]["Region"].as_array().expect("Regions");
    assert!(
        regions.iter().any(|r| r["RegionId"] == "cn-hangzhou"),
        "{answer}"
    );
    assert!(answer["RequestId"].is_string());
}

#[tokio::test]
async fn parameters_travel_signed_and_an_error_body_exits_1() {
    let plane = TestPlane::start("ws://127.0.0.1:9").await;
    let home = tempfile::tempdir().unwrap();

    let child = plane
        .axt(home.path())
        .args(["api", "NoSuchAction"])
        .spawn()
        .unwrap();
    let out = finish(child).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let line = out.stderr.trim();
    assert!(line.starts_with("InvalidAction.NotFound: "), "{line}");
    assert!(line.ends_with(')'), "the RequestId closes the line: {line}");

    // Parameters with dots, spaces and `=` survive signing; a bad one is the service's error.
    let child = plane
        .axt(home.path())
        .args([
            "api",
            "StartTerminalSession",
            "--InstanceId.1",
            "i-missing",
            "--CommandLine=echo a=b c",
        ])
        .spawn()
        .unwrap();
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.starts_with("InvalidInstance.NotFound: "),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn flags_beat_the_environment_which_beats_the_profile() {
    let plane = TestPlane::start("ws://127.0.0.1:9").await;
    let home = tempfile::tempdir().unwrap();
    let aliyun = home.path().join(".aliyun");
    std::fs::create_dir_all(&aliyun).unwrap();
    let profile = |secret: &str| {
        format!(
            r#"{{"current":"lab","profiles":[{{"name":"lab","mode":"AK","access_key_id":"{KEY_ID}",
            "access_key_secret":"{secret}","region_id":"cn-hangzhou","output_format":"json"}}]}}"#
        )
    };
    let endpoint = plane.addr.to_string();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = axt(home.path());
        cmd.env("ALIBABA_CLOUD_ECS_ENDPOINT", &endpoint);
        for (name, value) in env {
            cmd.env(name, value);
        }
        cmd.args(args).arg("api").arg("DescribeRegions");
        finish(cmd.spawn().unwrap())
    };

    // The profile alone.
    std::fs::write(aliyun.join("config.json"), profile(SECRET)).unwrap();
    assert_eq!(run(&[], &[]).await.code, Some(0));

    // A wrong profile, a right environment.
    std::fs::write(aliyun.join("config.json"), profile("wrong")).unwrap();
    let env = [("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)];
    assert_eq!(run(&[], &env).await.code, Some(0));
    let out = run(&[], &[]).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.starts_with("SignatureDoesNotMatch"),
        "{}",
        out.stderr
    );

    // A wrong environment, a right flag.
    let env = [("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "wrong")];
    let out = run(&["--access-key-secret", SECRET], &env).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[tokio::test]
async fn a_missing_key_says_the_three_ways_to_give_one() {
    let home = tempfile::tempdir().unwrap();
    let child = axt(home.path())
        .args(["--endpoint", "127.0.0.1:9", "api", "DescribeRegions"])
        .spawn()
        .unwrap();
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    for hint in [
        "--access-key-id",
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        ".aliyun/config.json",
        "--profile",
    ] {
        assert!(
            out.stderr.contains(hint),
            "{hint} missing in {}",
            out.stderr
        );
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    // A port that was just free: bound by the test, then released.
    let endpoint = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let child = axt(home.path())
        .args(["--access-key-id", "k", "--access-key-secret", "s"])
        .args(["--endpoint", &endpoint, "api", "DescribeRegions"])
        .spawn()
        .unwrap();
    let out = finish(child).await;
    assert_eq!(out.code, Some(1));
    let expected = format!("axt: calling http://{endpoint}/");
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
}
