//! The RAM OpenAPI (2015-05-01) through the real HTTP API, signed as the SDKs sign: users and
//! their AccessKeys, which then sign calls of their own — each with the codes RAM answers.
//! Groups and roles are in `ram_groups_roles.rs`; policies and attachments in
//! `ram_policies.rs`.

mod common;
mod ram_common;

use common::*;
use ram_common::*;
use serde_json::Value;

#[tokio::test]
async fn users_are_created_read_listed_renamed_and_deleted() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let made = ok(
        &c,
        "CreateUser",
        &[
            ("UserName", "alice"),
            ("DisplayName", "Alice A"),
            ("Email", "alice@example.com"),
            ("MobilePhone", "86-18600008888"),
            ("Comments", "ops"),
        ],
    )
    .await;
    let user = &made["User"];
    assert_eq!(
        (user["UserName"].as_str(), user["DisplayName"].as_str()),
        (Some("alice"), Some("Alice A"))
    );
    let id = user["UserId"].as_str().unwrap();
    assert!(
        id.len() == 16 && id.bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );
    assert!(user["CreateDate"].as_str().unwrap().ends_with('Z'));
    assert_error(
        &ram(&c, "CreateUser", &[("UserName", "alice")]).await,
        409,
        "EntityAlreadyExists.User",
    );
    assert_error(
        &ram(&c, "CreateUser", &[("UserName", "al ice")]).await,
        400,
        "InvalidParameter.UserName.InvalidChars",
    );
    assert_error(
        &ram(&c, "CreateUser", &[("UserName", &"a".repeat(65))]).await,
        400,
        "InvalidParameter.UserName.Length",
    );
    assert_error(
        &ram(&c, "CreateUser", &[("UserName", "bob"), ("Email", "nope")]).await,
        400,
        "InvalidParameter.Email.Format",
    );
    assert_error(
        &ram(
            &c,
            "CreateUser",
            &[("UserName", "bob"), ("MobilePhone", "18600008888")],
        )
        .await,
        400,
        "InvalidParameter.MobilePhone.Format",
    );
    assert_error(&ram(&c, "CreateUser", &[]).await, 400, "MissingUserName");

    let got = ok(&c, "GetUser", &[("UserName", "alice")]).await;
    assert_eq!(got["User"]["UserId"].as_str(), Some(id));
    assert_eq!(got["User"]["Email"], "alice@example.com");
    assert_error(
        &ram(&c, "GetUser", &[("UserName", "nobody")]).await,
        404,
        "EntityNotExist.User",
    );

    for name in ["carol", "bob"] {
        ok(&c, "CreateUser", &[("UserName", name)]).await;
    }
    let page = ok(&c, "ListUsers", &[("MaxItems", "2")]).await;
    let names = |v: &Value| -> Vec<String> {
        v["Users"]["User"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["UserName"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&page), ["alice", "bob"]);
    assert_eq!(page["IsTruncated"], true);
    let marker = page["Marker"].as_str().unwrap();
    let rest = ok(&c, "ListUsers", &[("MaxItems", "2"), ("Marker", marker)]).await;
    assert_eq!(
        (names(&rest), &rest["IsTruncated"]),
        (vec!["carol".to_owned()], &Value::Bool(false))
    );
    assert!(rest.get("Marker").is_none(), "{rest}");
    assert_error(
        &ram(&c, "ListUsers", &[("MaxItems", "1001")]).await,
        400,
        "InvalidParameter",
    );

    let renamed = ok(
        &c,
        "UpdateUser",
        &[
            ("UserName", "alice"),
            ("NewUserName", "alicia"),
            ("NewComments", "renamed"),
        ],
    )
    .await;
    assert_eq!(
        (
            renamed["User"]["UserName"].as_str(),
            renamed["User"]["UserId"].as_str()
        ),
        (Some("alicia"), Some(id))
    );
    assert_error(
        &ram(
            &c,
            "UpdateUser",
            &[("UserName", "alicia"), ("NewUserName", "bob")],
        )
        .await,
        409,
        "EntityAlreadyExists.User",
    );
    assert_error(
        &ram(&c, "GetUser", &[("UserName", "alice")]).await,
        404,
        "EntityNotExist.User",
    );
    ok(&c, "DeleteUser", &[("UserName", "alicia")]).await;
    assert_error(
        &ram(&c, "DeleteUser", &[("UserName", "alicia")]).await,
        404,
        "EntityNotExist.User",
    );
    let alias = ok(&c, "GetAccountAlias", &[]).await;
    assert_eq!(alias["AccountAlias"], "admin");
}

#[tokio::test]
async fn a_users_access_keys_sign_calls_until_disabled_or_deleted() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    ok(&c, "CreateUser", &[("UserName", "dev")]).await;
    let made = ok(&c, "CreateAccessKey", &[("UserName", "dev")]).await;
    let key = &made["AccessKey"];
    let (id, secret) = (
        key["AccessKeyId"].as_str().unwrap(),
        key["AccessKeySecret"].as_str().unwrap(),
    );
    assert!(
        id.starts_with("LTAI") && id.len() == 24 && secret.len() == 30,
        "{key}"
    );
    assert_eq!(key["Status"], "Active");
    let listed = ok(&c, "ListAccessKeys", &[("UserName", "dev")]).await;
    let keys = listed["AccessKeys"]["AccessKey"].as_array().unwrap();
    assert_eq!((keys.len(), keys[0]["AccessKeyId"].as_str()), (1, Some(id)));
    assert!(
        keys[0].get("AccessKeySecret").is_none(),
        "a secret is shown once: {listed}"
    );

    // The key authenticates: the answer is the call's (or, once authorization is wired, a
    // RAM refusal of a user with no policy), never a refusal of the key or its signature.
    let user = Client {
        key: id.into(),
        secret: secret.into(),
        ..c.clone()
    };
    let (status, body) = user.call("DescribeRegions", &[]).await;
    assert!(
        status == 200
            || ["Forbidden.RAM", "NoPermission"].contains(&body["Code"].as_str().unwrap_or("")),
        "{body}"
    );

    // Sealed at rest, like the admin key.
    let stored: String = sqlx::query_scalar("SELECT secret FROM access_keys WHERE id = ?")
        .bind(id)
        .fetch_one(&mut raw_db(&plane).await)
        .await
        .unwrap();
    assert!(
        stored.starts_with("v1:") && !stored.contains(secret),
        "{stored}"
    );

    ok(
        &c,
        "UpdateAccessKey",
        &[
            ("UserName", "dev"),
            ("UserAccessKeyId", id),
            ("Status", "Inactive"),
        ],
    )
    .await;
    assert_error(
        &user.call("DescribeRegions", &[]).await,
        400,
        "InvalidAccessKeyId.Inactive",
    );
    let listed = ok(&c, "ListAccessKeys", &[("UserName", "dev")]).await;
    assert_eq!(listed["AccessKeys"]["AccessKey"][0]["Status"], "Inactive");
    assert_error(
        &ram(
            &c,
            "UpdateAccessKey",
            &[
                ("UserName", "dev"),
                ("UserAccessKeyId", id),
                ("Status", "Paused"),
            ],
        )
        .await,
        400,
        "InvalidParameter",
    );

    ok(&c, "CreateAccessKey", &[("UserName", "dev")]).await;
    assert_error(
        &ram(&c, "CreateAccessKey", &[("UserName", "dev")]).await,
        409,
        "LimitExceeded.User.AccessKey",
    );
    assert_error(
        &ram(&c, "CreateAccessKey", &[("UserName", "ghost")]).await,
        404,
        "EntityNotExist.User",
    );
    assert_error(
        &ram(&c, "DeleteUser", &[("UserName", "dev")]).await,
        409,
        "DeleteConflict.User.AccessKey",
    );
    // Another user's key is not this user's to delete.
    ok(&c, "CreateUser", &[("UserName", "other")]).await;
    assert_error(
        &ram(
            &c,
            "DeleteAccessKey",
            &[("UserName", "other"), ("UserAccessKeyId", id)],
        )
        .await,
        404,
        "EntityNotExist.User.AccessKey",
    );
    for k in ok(&c, "ListAccessKeys", &[("UserName", "dev")]).await["AccessKeys"]["AccessKey"]
        .as_array()
        .unwrap()
    {
        ok(
            &c,
            "DeleteAccessKey",
            &[
                ("UserName", "dev"),
                ("UserAccessKeyId", k["AccessKeyId"].as_str().unwrap()),
            ],
        )
        .await;
    }
    assert_error(
        &user.call("DescribeRegions", &[]).await,
        404,
        "InvalidAccessKeyId.NotFound",
    );
    ok(&c, "DeleteUser", &[("UserName", "dev")]).await;
    // Without UserName, the account's own keys: the admin key.
    let own = ok(&c, "ListAccessKeys", &[]).await;
    assert_eq!(own["AccessKeys"]["AccessKey"][0]["AccessKeyId"], KEY_ID);
}
