//! Every call is authorized by RAM policies: a RAM user may do exactly what the policies
//! attached to it (and to its groups) allow; an explicit Deny wins; conditions are honoured;
//! a refusal says who was refused what, and why, in `AccessDeniedDetail`.

mod common;

use axt_proto::openapi::RAM_VERSION;
use common::{assert_error, Client, TestPlane, REGION};
use serde_json::{json, Value};

/// The admin's RAM calls, and the clients of the users it makes.
struct Ram<'a> {
    plane: &'a TestPlane,
    admin: Client,
}

impl<'a> Ram<'a> {
    fn new(plane: &'a TestPlane) -> Self {
        Self {
            plane,
            admin: plane.client(),
        }
    }

    /// A RAM call by the admin that must succeed.
    async fn call(&self, action: &str, pairs: &[(&str, &str)]) -> Value {
        let mut all = vec![("Version", RAM_VERSION)];
        all.extend_from_slice(pairs);
        let (status, body) = self.admin.call(action, &all).await;
        assert_eq!(status, 200, "{action}: {body}");
        body
    }

    /// A user with an AccessKey; returns a client signing as it.
    async fn user(&self, name: &str) -> Client {
        self.call("CreateUser", &[("UserName", name)]).await;
        let key = self.call("CreateAccessKey", &[("UserName", name)]).await;
        Client {
            key: key["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
            secret: key["AccessKey"]["AccessKeySecret"].as_str().unwrap().into(),
            ..self.plane.client()
        }
    }

    /// A custom policy of `statements`, attached to user `to`.
    async fn grant(&self, to: &str, policy: &str, statements: Value) {
        let document = json!({"Version": "1", "Statement": statements}).to_string();
        self.call(
            "CreatePolicy",
            &[("PolicyName", policy), ("PolicyDocument", &document)],
        )
        .await;
        self.attach(to, "Custom", policy).await;
    }

    async fn attach(&self, to: &str, policy_type: &str, policy: &str) {
        self.call(
            "AttachPolicyToUser",
            &[
                ("UserName", to),
                ("PolicyType", policy_type),
                ("PolicyName", policy),
            ],
        )
        .await;
    }
}

async fn account(plane: &TestPlane) -> String {
    plane.shared.store.admin_account().await.unwrap()
}

fn instance_arn(account: &str, id: &str) -> String {
    format!("acs:ecs:{REGION}:{account}:instance/{id}")
}

async fn start(client: &Client, instance: &str) -> (u16, Value) {
    client
        .call(
            "StartTerminalSession",
            &[("RegionId", REGION), ("InstanceId.1", instance)],
        )
        .await
}

#[tokio::test]
async fn a_user_allowed_one_instance_is_refused_another_and_told_why() {
    let plane = TestPlane::start(&[]).await;
    let (one, two) = (plane.ready_instance().await, plane.ready_instance().await);
    let account = account(&plane).await;
    let ram = Ram::new(&plane);
    let operator = ram.user("operator").await;
    ram.grant(
        "operator",
        "OnlyInstanceOne",
        json!([{"Effect": "Allow", "Action": "ecs:StartTerminalSession",
                "Resource": instance_arn(&account, &one)}]),
    )
    .await;

    let (status, body) = start(&operator, &one).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["WebSocketUrl"].as_str().unwrap().starts_with("wss://"));

    let refused = start(&operator, &two).await;
    assert_error(&refused, 403, "Forbidden.RAM");
    let detail = &refused.1["AccessDeniedDetail"];
    assert_eq!(detail["AuthAction"], "ecs:StartTerminalSession");
    assert_eq!(detail["AuthPrincipalType"], "SubUser");
    assert_eq!(detail["AuthPrincipalDisplayName"], "operator");
    assert_eq!(detail["AuthPrincipalOwnerId"], account.as_str());
    assert_eq!(detail["NoPermissionType"], "ImplicitDeny");
    assert_eq!(detail["PolicyType"], "AccountLevelIdentityBasedPolicy");

    // The administrator can read the diagnostic; it names the statement that did not match.
    let encoded = detail["EncodedDiagnosticMessage"].as_str().unwrap();
    let decoded = ram
        .call(
            "DecodeDiagnosticMessage",
            &[("EncodedDiagnosticMessage", encoded)],
        )
        .await;
    let decoded = &decoded["DecodedDiagnosticMessage"];
    assert_eq!(decoded["AuthAction"], "ecs:StartTerminalSession");
    assert_eq!(
        decoded["AuthResource"],
        instance_arn(&account, &two).as_str()
    );
    assert_eq!(decoded["ExplicitDeny"], false);
    assert_eq!(
        decoded["AuthPrincipal"]["AuthPrincipalDisplayName"],
        "operator"
    );
    assert_eq!(decoded["AuthConditions"][0]["ConditionKey"], "acs:SourceIp");
    let statement = &decoded["AxtlabTrace"]["statements"][0];
    assert_eq!(statement["policy"], "OnlyInstanceOne");
    assert_eq!(
        (&statement["action_matched"], &statement["resource_matched"]),
        (&json!(true), &json!(false))
    );
    // The user cannot read it: decoding is a RAM action of its own.
    let mut pairs = vec![("Version", RAM_VERSION)];
    pairs.push(("EncodedDiagnosticMessage", encoded));
    let (status, _) = operator.call("DecodeDiagnosticMessage", &pairs).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn an_explicit_deny_beats_any_allow() {
    let plane = TestPlane::start(&[]).await;
    let (one, two) = (plane.ready_instance().await, plane.ready_instance().await);
    let account = account(&plane).await;
    let ram = Ram::new(&plane);
    let user = ram.user("almost-admin").await;
    ram.attach("almost-admin", "System", "AdministratorAccess")
        .await;
    ram.grant(
        "almost-admin",
        "NeverInstanceTwo",
        json!([{"Effect": "Deny", "Action": "ecs:*",
                "Resource": instance_arn(&account, &two)}]),
    )
    .await;
    assert_eq!(start(&user, &one).await.0, 200);
    let refused = start(&user, &two).await;
    assert_error(&refused, 403, "Forbidden.RAM");
    assert_eq!(
        refused.1["AccessDeniedDetail"]["NoPermissionType"],
        "ExplicitDeny"
    );
}

#[tokio::test]
async fn a_condition_on_the_source_address_is_honoured() {
    let plane = TestPlane::start(&[]).await;
    let ram = Ram::new(&plane);
    let user = ram.user("from-the-office").await;
    let only_from = |cidr: &str| {
        json!({"Version": "1", "Statement": [{
            "Effect": "Allow", "Action": "ecs:DescribeRegions", "Resource": "*",
            "Condition": {"IpAddress": {"acs:SourceIp": cidr}}}]})
        .to_string()
    };
    ram.call(
        "CreatePolicy",
        &[
            ("PolicyName", "OfficeOnly"),
            ("PolicyDocument", &only_from("10.0.0.0/8")),
        ],
    )
    .await;
    ram.attach("from-the-office", "Custom", "OfficeOnly").await;
    // The test calls from 127.0.0.1.
    assert_error(
        &user.call("DescribeRegions", &[]).await,
        403,
        "Forbidden.RAM",
    );
    ram.call(
        "CreatePolicyVersion",
        &[
            ("PolicyName", "OfficeOnly"),
            ("PolicyDocument", &only_from("127.0.0.0/8")),
            ("SetAsDefault", "true"),
        ],
    )
    .await;
    assert_eq!(user.call("DescribeRegions", &[]).await.0, 200);
}

#[tokio::test]
async fn a_user_may_do_nothing_until_allowed_and_policies_reach_it_through_groups() {
    let plane = TestPlane::start(&[]).await;
    let ram = Ram::new(&plane);
    let user = ram.user("newcomer").await;
    assert_error(
        &user
            .call("DescribeInstances", &[("RegionId", REGION)])
            .await,
        403,
        "Forbidden.RAM",
    );
    // RAM's own actions are refused with RAM's code.
    let (status, body) = user
        .call("CreateUser", &[("Version", RAM_VERSION), ("UserName", "x")])
        .await;
    assert_eq!((status, body["Code"].as_str()), (403, Some("NoPermission")));
    // An action that does not exist is still "not found", whoever asks.
    assert_error(
        &user.call("NoSuchAction", &[]).await,
        404,
        "InvalidAction.NotFound",
    );

    ram.call("CreateGroup", &[("GroupName", "readers")]).await;
    ram.call(
        "AddUserToGroup",
        &[("GroupName", "readers"), ("UserName", "newcomer")],
    )
    .await;
    ram.call(
        "AttachPolicyToGroup",
        &[
            ("GroupName", "readers"),
            ("PolicyType", "System"),
            ("PolicyName", "AliyunECSReadOnlyAccess"),
        ],
    )
    .await;
    let (status, body) = user
        .call("DescribeInstances", &[("RegionId", REGION)])
        .await;
    assert_eq!(status, 200, "{body}");
    // Read-only: no sessions.
    assert_error(
        &user
            .call(
                "StartTerminalSession",
                &[("RegionId", REGION), ("InstanceId.1", "i-any")],
            )
            .await,
        403,
        "Forbidden.RAM",
    );
}
