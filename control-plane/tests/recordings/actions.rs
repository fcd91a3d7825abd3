//! ListTerminalSessionRecordings and GetTerminalSessionRecording, axtlab's own ECS actions:
//! their answers and paging as the admin, their NotFound codes, and RAM: a user needs the
//! action on the recorded instance; AliyunECSReadOnlyAccess lists but never reads one,
//! AliyunECSFullAccess does both.

use axt_proto::openapi::RAM_VERSION;
use serde_json::{json, Value};

use super::{header, output, shell, Shell};
use crate::common::*;

const LIST: &str = "ListTerminalSessionRecordings";
const GET: &str = "GetTerminalSessionRecording";

/// A shell on `instance` whose recording holds `text` after the header; returns it and the
/// whole recording.
async fn recorded(plane: &TestPlane, instance: &str, text: &str) -> (Shell, String) {
    let s = shell(plane, instance).await;
    let content = header(&s) + &output(0.25, text);
    plane
        .gateway()
        .call(&s.append(0, &content, true))
        .await
        .unwrap();
    (s, content)
}

async fn get(c: &Client, s: &Shell) -> (u16, Value) {
    c.call(
        GET,
        &[
            ("RegionId", REGION),
            ("SessionId", &s.session_id),
            ("ConnectionId", &s.channel_id),
        ],
    )
    .await
}

#[tokio::test]
async fn the_admin_lists_page_by_page_and_gets_the_asciicast() {
    let plane = TestPlane::start(&[]).await;
    let (one, two) = (plane.ready_instance().await, plane.ready_instance().await);
    let (a, a_text) = recorded(&plane, &one, "first\r\n").await;
    let (b, _) = recorded(&plane, &one, "second\r\n").await;
    let (c, _) = recorded(&plane, &two, "third\r\n").await;
    let admin = plane.client();

    let (status, body) = get(&admin, &a).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Content"], a_text.as_str());
    assert_eq!(
        (body["SessionId"].as_str(), body["ConnectionId"].as_str()),
        (Some(a.session_id.as_str()), Some(a.channel_id.as_str()))
    );
    assert!(body["RequestId"].is_string());

    // Newest first, one per page, until no NextToken comes.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let mut pairs = vec![("RegionId", REGION), ("MaxResults", "1")];
        if !token.is_empty() {
            pairs.push(("NextToken", &token));
        }
        let (status, page) = admin.call(LIST, &pairs).await;
        assert_eq!(status, 200, "{page}");
        let rows = page["Recordings"]["Recording"].as_array().unwrap().clone();
        assert_eq!(rows.len(), 1, "{page}");
        seen.push(rows[0]["ConnectionId"].as_str().unwrap().to_owned());
        match page["NextToken"].as_str() {
            Some(next) => token = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [&c.channel_id, &b.channel_id, &a.channel_id].map(String::clone)
    );
    let (_, by_instance) = admin
        .call(LIST, &[("RegionId", REGION), ("InstanceId", &two)])
        .await;
    let rows = &by_instance["Recordings"]["Recording"];
    assert_eq!(rows.as_array().unwrap().len(), 1, "{by_instance}");
    let row = &rows[0];
    for field in [
        "SessionId",
        "ConnectionId",
        "InstanceId",
        "CreationTime",
        "UpdateTime",
    ] {
        assert!(
            row[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field}: {row}"
        );
    }
    assert_eq!(row["Size"], json!(file_size(&plane, &c).await));
    assert_eq!(
        (row["Truncated"].as_bool(), row["Complete"].as_bool()),
        (Some(false), Some(true))
    );

    // DescribeTerminalSessions names each connection, so a history can find its recording.
    let (_, described) = admin
        .call(
            "DescribeTerminalSessions",
            &[("RegionId", REGION), ("SessionId", &a.session_id)],
        )
        .await;
    let connection = &described["Sessions"]["Session"][0]["Connections"]["Connection"][0];
    assert_eq!(
        connection["ConnectionId"],
        a.channel_id.as_str(),
        "{described}"
    );
}

async fn file_size(plane: &TestPlane, s: &Shell) -> u64 {
    std::fs::metadata(s.file(plane)).unwrap().len()
}

#[tokio::test]
async fn unknown_ids_regions_and_paging_are_refused_like_the_services_own() {
    let plane = TestPlane::start(&["--session-unsupported-regions", "cn-beijing"]).await;
    let instance = plane.ready_instance().await;
    let (s, _) = recorded(&plane, &instance, "x").await;
    // A connection that never appended has no recording.
    let silent = shell(&plane, &instance).await;
    let admin = plane.client();
    let call = |pairs: Vec<(&'static str, String)>| {
        let admin = admin.clone();
        async move {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            admin.call(GET, &pairs).await
        }
    };
    let (sid, cid) = (s.session_id.clone(), s.channel_id.clone());
    let region = || ("RegionId", REGION.to_owned());
    let cases = [
        (
            vec![("SessionId", sid.clone()), ("ConnectionId", cid.clone())],
            400,
            "MissingRegionId",
        ),
        (
            vec![
                ("RegionId", "xx-nowhere-1".into()),
                ("SessionId", sid.clone()),
                ("ConnectionId", cid.clone()),
            ],
            404,
            "InvalidRegionId.NotFound",
        ),
        (
            vec![
                ("RegionId", "cn-beijing".into()),
                ("SessionId", sid.clone()),
                ("ConnectionId", cid.clone()),
            ],
            400,
            "RegionId.ApiNotSupported",
        ),
        (
            vec![region(), ("ConnectionId", cid.clone())],
            400,
            "MissingSessionId",
        ),
        (
            vec![region(), ("SessionId", sid.clone())],
            400,
            "MissingConnectionId",
        ),
        (
            vec![
                region(),
                ("SessionId", "s-nosuchsession".into()),
                ("ConnectionId", cid.clone()),
            ],
            404,
            "InvalidSessionId.NotFound",
        ),
        (
            vec![
                ("RegionId", "cn-shanghai".into()),
                ("SessionId", sid.clone()),
                ("ConnectionId", cid.clone()),
            ],
            404,
            "InvalidSessionId.NotFound",
        ),
        (
            vec![
                region(),
                ("SessionId", sid.clone()),
                ("ConnectionId", "c-nosuchconnection".into()),
            ],
            404,
            "InvalidConnectionId.NotFound",
        ),
        (
            vec![
                region(),
                ("SessionId", silent.session_id.clone()),
                ("ConnectionId", cid.clone()),
            ],
            404,
            "InvalidConnectionId.NotFound",
        ),
        (
            vec![
                region(),
                ("SessionId", silent.session_id.clone()),
                ("ConnectionId", silent.channel_id.clone()),
            ],
            404,
            "InvalidRecording.NotFound",
        ),
    ];
    for (pairs, status, code) in cases {
        assert_error(&call(pairs).await, status, code);
    }
    for (name, value) in [
        ("MaxResults", "0"),
        ("MaxResults", "101"),
        ("NextToken", "0"),
        ("NextToken", "x"),
    ] {
        let got = admin
            .call(LIST, &[("RegionId", REGION), (name, value)])
            .await;
        assert_error(&got, 400, "InvalidParameter");
    }
    assert_error(&admin.call(LIST, &[]).await, 400, "MissingRegionId");
}

/// The admin's RAM calls: a user with `policies` (System ones by name, or one custom document),
/// and a client signing as it.
async fn user(plane: &TestPlane, name: &str, system: &[&str], custom: Option<Value>) -> Client {
    let admin = plane.client();
    let ram = |action: &'static str, pairs: Vec<(&'static str, String)>| {
        let admin = admin.clone();
        async move {
            let mut all = vec![("Version", RAM_VERSION)];
            all.extend(pairs.iter().map(|(k, v)| (*k, v.as_str())));
            let (status, body) = admin.call(action, &all).await;
            assert_eq!(status, 200, "{action}: {body}");
            body
        }
    };
    ram("CreateUser", vec![("UserName", name.into())]).await;
    let key = ram("CreateAccessKey", vec![("UserName", name.into())]).await;
    let mut attach = system
        .iter()
        .map(|p| ("System", p.to_string()))
        .collect::<Vec<_>>();
    if let Some(statements) = custom {
        let policy = format!("{name}-policy");
        let document = json!({"Version": "1", "Statement": statements}).to_string();
        ram(
            "CreatePolicy",
            vec![("PolicyName", policy.clone()), ("PolicyDocument", document)],
        )
        .await;
        attach.push(("Custom", policy));
    }
    for (kind, policy) in attach {
        let pairs = vec![
            ("UserName", name.into()),
            ("PolicyType", kind.into()),
            ("PolicyName", policy),
        ];
        ram("AttachPolicyToUser", pairs).await;
    }
    Client {
        key: key["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
        secret: key["AccessKey"]["AccessKeySecret"].as_str().unwrap().into(),
        ..plane.client()
    }
}

#[track_caller]
fn assert_refused(got: &(u16, Value), action: &str) {
    assert_error(got, 403, "Forbidden.RAM");
    assert_eq!(
        got.1["AccessDeniedDetail"]["AuthAction"],
        format!("ecs:{action}")
    );
}

#[tokio::test]
async fn ram_users_need_the_action_on_the_recorded_instance() {
    let plane = TestPlane::start(&[]).await;
    let (one, two) = (plane.ready_instance().await, plane.ready_instance().await);
    let (a, a_text) = recorded(&plane, &one, "on one").await;
    let (b, _) = recorded(&plane, &two, "on two").await;
    let account = plane.shared.store.admin_account().await.unwrap();
    let list = |c: &Client, pairs: &[(&str, &str)]| {
        let (c, mut all) = (c.clone(), vec![("RegionId".to_owned(), REGION.to_owned())]);
        all.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        async move {
            let all: Vec<(&str, &str)> =
                all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            c.call(LIST, &all).await
        }
    };

    let nobody = user(&plane, "nobody", &[], None).await;
    assert_refused(&list(&nobody, &[]).await, LIST);
    assert_refused(&get(&nobody, &a).await, GET);

    // Read-only lists (ecs:List*) but does not read: GetTerminalSessionRecording is no
    // Describe or List action, since a recording may hold secrets.
    let reader = user(&plane, "reader", &["AliyunECSReadOnlyAccess"], None).await;
    let (status, body) = list(&reader, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Recordings"]["Recording"].as_array().unwrap().len(), 2);
    assert_refused(&get(&reader, &a).await, GET);

    let full = user(&plane, "full", &["AliyunECSFullAccess"], None).await;
    assert_eq!(get(&full, &a).await.1["Content"], a_text.as_str());
    assert_eq!(list(&full, &[]).await.0, 200);

    // Allowed on instance one only: its recordings, not the other's, nor all at once.
    let arn = format!("acs:ecs:{REGION}:{account}:instance/{one}");
    let narrow = json!([{"Effect": "Allow", "Resource": arn,
        "Action": ["ecs:ListTerminalSessionRecordings", "ecs:GetTerminalSessionRecording"]}]);
    let operator = user(&plane, "operator", &[], Some(narrow)).await;
    assert_eq!(get(&operator, &a).await.0, 200);
    let refused = get(&operator, &b).await;
    assert_refused(&refused, GET);
    let (status, body) = list(&operator, &[("InstanceId", &one)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["Recordings"]["Recording"][0]["ConnectionId"],
        a.channel_id.as_str()
    );
    assert_eq!(
        list(&operator, &[("SessionId", &a.session_id)]).await.0,
        200
    );
    assert_refused(
        &list(&operator, &[("SessionId", &b.session_id)]).await,
        LIST,
    );
    assert_refused(&list(&operator, &[("InstanceId", &two)]).await, LIST);
    assert_refused(&list(&operator, &[]).await, LIST);
}
