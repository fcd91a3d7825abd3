//! RAM policy attachments through the real HTTP API: to users, groups and roles (a role
//! named in any case), the List*For* answers, the delete conflicts on both sides, and the
//! policies in force that the authorization hook reads back from the store.

mod common;
mod ram_common;

use axt_iam::PolicyType;
use common::*;
use ram_common::*;

/// A permission policy allowing `action` on everything.
fn allow(action: &str) -> String {
    format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
    )
}

#[tokio::test]
async fn policies_attach_to_users_groups_and_roles_and_are_in_force_once() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let account = plane.shared.store.admin_account().await.unwrap();
    ok(&c, "CreateUser", &[("UserName", "dev")]).await;
    ok(&c, "CreateGroup", &[("GroupName", "devs")]).await;
    ok(
        &c,
        "AddUserToGroup",
        &[("GroupName", "devs"), ("UserName", "dev")],
    )
    .await;
    ok(
        &c,
        "CreateRole",
        &[("RoleName", "Ops"), ("AssumeRolePolicyDocument", TRUST)],
    )
    .await;
    for (name, action) in [("P1", "ecs:DescribeRegions"), ("P2", "ecs:StartInstance")] {
        ok(
            &c,
            "CreatePolicy",
            &[("PolicyName", name), ("PolicyDocument", &allow(action))],
        )
        .await;
    }
    let to = |kind: &'static str, who: &'static str, policy: &'static str| {
        [
            ("PolicyType", "Custom"),
            ("PolicyName", policy),
            (kind, who),
        ]
    };
    ok(&c, "AttachPolicyToUser", &to("UserName", "dev", "P1")).await;
    assert_error(
        &ram(&c, "AttachPolicyToUser", &to("UserName", "dev", "P1")).await,
        409,
        "EntityAlreadyExists.User.Policy",
    );
    ok(&c, "AttachPolicyToGroup", &to("GroupName", "devs", "P2")).await;
    assert_error(
        &ram(&c, "AttachPolicyToGroup", &to("GroupName", "devs", "P2")).await,
        409,
        "EntityAlreadyExists.Group.Policy",
    );
    ok(&c, "AttachPolicyToRole", &to("RoleName", "ops", "P1")).await;
    assert_error(
        &ram(&c, "AttachPolicyToRole", &to("RoleName", "Ops", "P1")).await,
        409,
        "EntityAlreadyExists.Role.Policy",
    );
    assert_error(
        &ram(&c, "AttachPolicyToUser", &to("UserName", "dev", "Nope")).await,
        404,
        "EntityNotExist.Policy",
    );
    assert_error(
        &ram(&c, "AttachPolicyToUser", &to("UserName", "ghost", "P1")).await,
        404,
        "EntityNotExist.User",
    );
    assert_error(
        &ram(&c, "AttachPolicyToRole", &to("RoleName", "Ghost", "P1")).await,
        404,
        "EntityNotExist.Role",
    );
    let bad = [
        ("PolicyType", "custom"),
        ("PolicyName", "P1"),
        ("UserName", "dev"),
    ];
    assert_error(
        &ram(&c, "AttachPolicyToUser", &bad).await,
        400,
        "InvalidParameter.PolicyType",
    );

    let for_user = ok(&c, "ListPoliciesForUser", &[("UserName", "dev")]).await;
    let policy = &for_user["Policies"]["Policy"][0];
    assert_eq!(
        (
            policy["PolicyName"].as_str(),
            policy["PolicyType"].as_str(),
            policy["DefaultVersion"].as_str()
        ),
        (Some("P1"), Some("Custom"), Some("v1"))
    );
    assert!(policy["AttachDate"].is_string(), "{for_user}");
    assert_eq!(
        for_user["Policies"]["Policy"].as_array().unwrap().len(),
        1,
        "a group's policies are not listed as the user's"
    );
    assert_eq!(
        ok(&c, "ListPoliciesForGroup", &[("GroupName", "devs")]).await["Policies"]["Policy"][0]
            ["PolicyName"],
        "P2"
    );
    assert_eq!(
        ok(&c, "ListPoliciesForRole", &[("RoleName", "Ops")]).await["Policies"]["Policy"][0]
            ["PolicyName"],
        "P1"
    );
    let entities = ok(
        &c,
        "ListEntitiesForPolicy",
        &[("PolicyType", "Custom"), ("PolicyName", "P1")],
    )
    .await;
    assert_eq!(entities["Users"]["User"][0]["UserName"], "dev");
    assert_eq!(
        entities["Roles"]["Role"][0]["Arn"].as_str(),
        Some(format!("acs:ram::{account}:role/ops").as_str())
    );
    assert_eq!(entities["Groups"]["Group"], serde_json::json!([]));
    assert_eq!(
        ok(
            &c,
            "GetPolicy",
            &[("PolicyName", "P1"), ("PolicyType", "Custom")]
        )
        .await["Policy"]["AttachmentCount"],
        2
    );

    // In force for the user: its own and its group's, each once, with the default's text.
    ok(&c, "AttachPolicyToGroup", &to("GroupName", "devs", "P1")).await;
    let store = &plane.shared.store;
    let in_force = store.user_policies(&account, "dev").await.unwrap();
    let names: Vec<(&str, PolicyType)> = in_force
        .iter()
        .map(|p| (p.name.as_str(), p.policy_type))
        .collect();
    assert_eq!(
        names,
        [("P1", PolicyType::Custom), ("P2", PolicyType::Custom)]
    );
    assert_eq!(in_force[0].document, allow("ecs:DescribeRegions"));
    let role = store.role_policies(&account, "ops").await.unwrap();
    assert_eq!(
        role.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["P1"]
    );
    let user_id = store.ram_user(&account, "dev").await.unwrap().unwrap().id;
    assert_eq!(
        store.ram_user_by_id(&account, &user_id).await.unwrap(),
        Some((user_id.clone(), "dev".into()))
    );

    // A rename keeps the user's attachments.
    ok(
        &c,
        "UpdateUser",
        &[("UserName", "dev"), ("NewUserName", "dev2")],
    )
    .await;
    assert_eq!(
        ok(&c, "ListPoliciesForUser", &[("UserName", "dev2")]).await["Policies"]["Policy"][0]
            ["PolicyName"],
        "P1"
    );

    // Nothing is deleted while a policy is attached to it, nor a policy while attached.
    ok(
        &c,
        "RemoveUserFromGroup",
        &[("GroupName", "devs"), ("UserName", "dev2")],
    )
    .await;
    assert_error(
        &ram(&c, "DeleteUser", &[("UserName", "dev2")]).await,
        409,
        "DeleteConflict.User.Policy",
    );
    assert_error(
        &ram(&c, "DeleteGroup", &[("GroupName", "devs")]).await,
        409,
        "DeleteConflict.Group.Policy",
    );
    assert_error(
        &ram(&c, "DeleteRole", &[("RoleName", "Ops")]).await,
        409,
        "DeleteConflict.Role.Policy",
    );
    assert_error(
        &ram(&c, "DeletePolicy", &[("PolicyName", "P1")]).await,
        409,
        "DeleteConflict.Policy.User",
    );
    assert_error(
        &ram(&c, "DeletePolicy", &[("PolicyName", "P2")]).await,
        409,
        "DeleteConflict.Policy.Group",
    );
    for (action, kind, who, policy) in [
        ("DetachPolicyFromUser", "UserName", "dev2", "P1"),
        ("DetachPolicyFromGroup", "GroupName", "devs", "P1"),
        ("DetachPolicyFromGroup", "GroupName", "devs", "P2"),
        ("DetachPolicyFromRole", "RoleName", "Ops", "P1"),
    ] {
        ok(&c, action, &to(kind, who, policy)).await;
    }
    assert_error(
        &ram(&c, "DetachPolicyFromUser", &to("UserName", "dev2", "P1")).await,
        404,
        "EntityNotExist.User.Policy",
    );
    assert_error(
        &ram(&c, "DetachPolicyFromGroup", &to("GroupName", "devs", "P2")).await,
        404,
        "EntityNotExist.Group.Policy",
    );
    assert_error(
        &ram(&c, "DetachPolicyFromRole", &to("RoleName", "Ops", "P1")).await,
        404,
        "EntityNotExist.Role.Policy",
    );
    assert!(store
        .user_policies(&account, "dev2")
        .await
        .unwrap()
        .is_empty());
    for (action, pairs) in [
        ("DeleteUser", [("UserName", "dev2")]),
        ("DeleteGroup", [("GroupName", "devs")]),
        ("DeleteRole", [("RoleName", "Ops")]),
        ("DeletePolicy", [("PolicyName", "P1")]),
        ("DeletePolicy", [("PolicyName", "P2")]),
    ] {
        ok(&c, action, &pairs).await;
    }
}
