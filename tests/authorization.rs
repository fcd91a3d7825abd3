//! Who may open a session, end to end: a RAM user allowed `ecs:StartTerminalSession` on one
//! instance opens a real shell on it through the gateway, and is refused the other instance
//! with `Forbidden.RAM` and an `AccessDeniedDetail` — before any token exists for it.

use std::time::Duration;

use axt_e2e::{client::RawClient, Api, Stack, REGION};
use axt_proto::openapi::RAM_VERSION;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(30);

/// A RAM call by `api` that must succeed.
async fn ram(api: &Api, action: &str, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("Version", RAM_VERSION)];
    all.extend_from_slice(pairs);
    let (status, body) = api.call(action, &all).await;
    assert_eq!(status, 200, "{action}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_allowed_one_instance_opens_a_shell_there_and_is_refused_the_other() {
    let mut stack = Stack::start(&[], &[]).await;
    let one = stack.agent(&[]).await;
    let two = stack.agent(&[]).await;
    let admin = stack.api();
    let account = stack.plane.store.admin_account().await.unwrap();

    ram(&admin, "CreateUser", &[("UserName", "operator")]).await;
    let key = ram(&admin, "CreateAccessKey", &[("UserName", "operator")]).await;
    let policy = json!({"Version": "1", "Statement": [{
        "Effect": "Allow",
        "Action": "ecs:StartTerminalSession",
        "Resource": format!("acs:ecs:{REGION}:{account}:instance/{one}"),
    }]})
    .to_string();
    ram(
        &admin,
        "CreatePolicy",
        &[("PolicyName", "InstanceOne"), ("PolicyDocument", &policy)],
    )
    .await;
    ram(
        &admin,
        "AttachPolicyToUser",
        &[
            ("UserName", "operator"),
            ("PolicyType", "Custom"),
            ("PolicyName", "InstanceOne"),
        ],
    )
    .await;
    let operator = Api::new(
        stack.cp_addr,
        key["AccessKey"]["AccessKeyId"].as_str().unwrap(),
        key["AccessKey"]["AccessKeySecret"].as_str().unwrap(),
    );

    let start = |instance: &str| {
        let (operator, instance) = (operator.clone(), instance.to_owned());
        async move {
            operator
                .call(
                    "StartTerminalSession",
                    &[("RegionId", REGION), ("InstanceId.1", &instance)],
                )
                .await
        }
    };
    let (status, started) = start(&one).await;
    assert_eq!(status, 200, "{started}");
    let url = started["WebSocketUrl"].as_str().unwrap();
    let mut client = RawClient::connect(url, &stack.ca, false).await.unwrap();
    client.shell_answers("allowed", LIMIT).await;

    let (status, refused) = start(&two).await;
    assert_eq!(
        (status, refused["Code"].as_str()),
        (403, Some("Forbidden.RAM")),
        "{refused}"
    );
    let detail = &refused["AccessDeniedDetail"];
    assert_eq!(detail["AuthAction"], "ecs:StartTerminalSession");
    assert_eq!(detail["AuthPrincipalDisplayName"], "operator");
    assert_eq!(detail["NoPermissionType"], "ImplicitDeny");
    assert!(refused.get("WebSocketUrl").is_none());
}
