//! RAM groups and their members, and roles with their trust policies, through the real HTTP
//! API — each with the codes RAM answers.

mod common;
mod ram_common;

use common::*;
use ram_common::*;

#[tokio::test]
async fn groups_hold_users_and_neither_is_deleted_while_joined() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    ok(&c, "CreateUser", &[("UserName", "dev")]).await;
    let made = ok(
        &c,
        "CreateGroup",
        &[("GroupName", "Dev-Team"), ("Comments", "devs")],
    )
    .await;
    let group_id = made["Group"]["GroupId"].as_str().unwrap();
    assert!(group_id.starts_with("g-") && group_id.len() == 18, "{made}");
    assert_error(
        &ram(&c, "CreateGroup", &[("GroupName", "Dev-Team")]).await,
        409,
        "EntityAlreadyExists.Group",
    );
    assert_error(
        &ram(&c, "CreateGroup", &[("GroupName", "dev team")]).await,
        400,
        "InvalidParameter.GroupName.InvalidChars",
    );
    assert_eq!(
        ok(&c, "GetGroup", &[("GroupName", "Dev-Team")]).await["Group"]["Comments"],
        "devs"
    );
    assert_error(
        &ram(&c, "GetGroup", &[("GroupName", "nope")]).await,
        404,
        "EntityNotExist.Group",
    );

    ok(
        &c,
        "AddUserToGroup",
        &[("GroupName", "Dev-Team"), ("UserName", "dev")],
    )
    .await;
    assert_error(
        &ram(
            &c,
            "AddUserToGroup",
            &[("GroupName", "Dev-Team"), ("UserName", "dev")],
        )
        .await,
        409,
        "EntityAlreadyExists.User.Group",
    );
    assert_error(
        &ram(
            &c,
            "AddUserToGroup",
            &[("GroupName", "Dev-Team"), ("UserName", "ghost")],
        )
        .await,
        404,
        "EntityNotExist.User",
    );
    let groups = ok(&c, "ListGroupsForUser", &[("UserName", "dev")]).await;
    assert_eq!(
        groups["Groups"]["Group"][0]["GroupId"].as_str(),
        Some(group_id)
    );
    assert!(groups["Groups"]["Group"][0]["JoinDate"].is_string());
    let users = ok(&c, "ListUsersForGroup", &[("GroupName", "Dev-Team")]).await;
    assert_eq!(users["Users"]["User"][0]["UserName"], "dev");
    assert_eq!(users["IsTruncated"], false);
    assert_eq!(
        ok(&c, "ListGroups", &[]).await["Groups"]["Group"][0]["GroupName"],
        "Dev-Team"
    );

    assert_error(
        &ram(&c, "DeleteGroup", &[("GroupName", "Dev-Team")]).await,
        409,
        "DeleteConflict.Group.User",
    );
    assert_error(
        &ram(&c, "DeleteUser", &[("UserName", "dev")]).await,
        409,
        "DeleteConflict.User.Group",
    );
    ok(
        &c,
        "RemoveUserFromGroup",
        &[("GroupName", "Dev-Team"), ("UserName", "dev")],
    )
    .await;
    assert_error(
        &ram(
            &c,
            "RemoveUserFromGroup",
            &[("GroupName", "Dev-Team"), ("UserName", "dev")],
        )
        .await,
        404,
        "EntityNotExist.User.Group",
    );
    let renamed = ok(
        &c,
        "UpdateGroup",
        &[("GroupName", "Dev-Team"), ("NewGroupName", "Ops")],
    )
    .await;
    assert_eq!(renamed["Group"]["GroupName"], "Ops");
    ok(&c, "DeleteGroup", &[("GroupName", "Ops")]).await;
    ok(&c, "DeleteUser", &[("UserName", "dev")]).await;
    assert_eq!(
        ok(&c, "ListGroups", &[]).await["Groups"]["Group"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn roles_carry_a_valid_trust_policy_and_a_bounded_session() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let made = ok(
        &c,
        "CreateRole",
        &[
            ("RoleName", "ECSAdmin"),
            ("AssumeRolePolicyDocument", TRUST),
            ("Description", "ecs admin"),
            ("MaxSessionDuration", "7200"),
        ],
    )
    .await;
    let role = &made["Role"];
    let account = plane.shared.store.admin_account().await.unwrap();
    assert_eq!(
        role["Arn"].as_str(),
        Some(format!("acs:ram::{account}:role/ecsadmin").as_str())
    );
    let id = role["RoleId"].as_str().unwrap();
    assert!(
        id.len() == 19 && id.bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(
        (
            role["MaxSessionDuration"].as_i64(),
            role["AssumeRolePolicyDocument"].as_str()
        ),
        (Some(7200), Some(TRUST))
    );

    assert_error(
        &ram(
            &c,
            "CreateRole",
            &[
                ("RoleName", "ecsadmin"),
                ("AssumeRolePolicyDocument", TRUST),
            ],
        )
        .await,
        409,
        "EntityAlreadyExists.Role",
    );
    assert_error(
        &ram(
            &c,
            "CreateRole",
            &[
                ("RoleName", "Bad"),
                ("AssumeRolePolicyDocument", "{not json"),
            ],
        )
        .await,
        400,
        "MalformedPolicyDocument",
    );
    // A permission policy is not a trust policy: it names no Principal.
    let permission =
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*"}]}"#;
    assert_error(
        &ram(
            &c,
            "CreateRole",
            &[
                ("RoleName", "Bad"),
                ("AssumeRolePolicyDocument", permission),
            ],
        )
        .await,
        400,
        "MalformedPolicyDocument",
    );
    assert_error(
        &ram(
            &c,
            "CreateRole",
            &[
                ("RoleName", "Short"),
                ("AssumeRolePolicyDocument", TRUST),
                ("MaxSessionDuration", "900"),
            ],
        )
        .await,
        400,
        "InvalidParameter.MaxSessionDuration",
    );
    assert_error(
        &ram(
            &c,
            "CreateRole",
            &[
                ("RoleName", "no_underscore"),
                ("AssumeRolePolicyDocument", TRUST),
            ],
        )
        .await,
        400,
        "InvalidParameter.RoleName.InvalidChars",
    );

    // Looked up ignoring case, as its ARN writes it.
    let got = ok(&c, "GetRole", &[("RoleName", "ecsadmin")]).await;
    assert_eq!(
        (
            got["Role"]["RoleName"].as_str(),
            got["Role"]["RoleId"].as_str()
        ),
        (Some("ECSAdmin"), Some(id))
    );
    assert_error(
        &ram(&c, "GetRole", &[("RoleName", "Nobody")]).await,
        404,
        "EntityNotExist.Role",
    );
    let row = plane
        .shared
        .store
        .ram_role(&account, "ecsadmin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.trust_policy.as_str(), row.max_session_duration),
        (TRUST, 7200)
    );

    let updated = ok(
        &c,
        "UpdateRole",
        &[
            ("RoleName", "ECSAdmin"),
            ("NewMaxSessionDuration", "43200"),
            ("NewDescription", "changed"),
        ],
    )
    .await;
    assert_eq!(
        (
            updated["Role"]["MaxSessionDuration"].as_i64(),
            updated["Role"]["Description"].as_str()
        ),
        (Some(43200), Some("changed"))
    );
    assert_error(
        &ram(
            &c,
            "UpdateRole",
            &[
                ("RoleName", "ECSAdmin"),
                ("NewAssumeRolePolicyDocument", "[]"),
            ],
        )
        .await,
        400,
        "MalformedPolicyDocument",
    );
    assert_error(
        &ram(
            &c,
            "UpdateRole",
            &[("RoleName", "ECSAdmin"), ("NewMaxSessionDuration", "43201")],
        )
        .await,
        400,
        "InvalidParameter.MaxSessionDuration",
    );
    let listed = ok(&c, "ListRoles", &[]).await;
    assert_eq!(listed["Roles"]["Role"][0]["RoleName"], "ECSAdmin");
    assert_eq!(listed["IsTruncated"], false);

    ok(&c, "DeleteRole", &[("RoleName", "ECSAdmin")]).await;
    assert_error(
        &ram(&c, "DeleteRole", &[("RoleName", "ECSAdmin")]).await,
        404,
        "EntityNotExist.Role",
    );
}
