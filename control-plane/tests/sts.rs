//! STS over HTTP: a RAM user assumes a role that trusts it and signs with the temporary
//! credentials, V1 and V3, SecurityToken included; the account itself, an untrusting role and
//! bad parameters are refused; a missing, wrong, expired or revoked token is refused with the
//! gateway's codes.

mod common;

mod sts_support;

use axt_proto::openapi::STS_VERSION;
use common::*;
use sts_support::{Lab, Pairs, Signer};

#[tokio::test]
async fn a_user_assumes_a_role_that_trusts_its_account_and_signs_with_it() {
    let lab = Lab::start().await;
    let alice = lab.user("alice").await;
    let role_id = lab.role("OpsAdmin", &[lab.root()]).await;
    let before = chrono::Utc::now().timestamp();
    // The ARN spells the name in lower case, as RAM writes it.
    let arn = lab.role_arn("opsadmin");
    let (status, answer) = alice
        .assume(&[("RoleArn", &arn), ("RoleSessionName", "alice@lab")])
        .await;
    assert_eq!(status, 200, "{answer}");
    let creds = &answer["Credentials"];
    assert!(creds["AccessKeyId"].as_str().unwrap().starts_with("STS."));
    assert!(creds["SecurityToken"].as_str().unwrap().starts_with("CAIS"));
    assert!(creds["AccessKeySecret"].as_str().unwrap().len() >= 30);
    let expiration = chrono::DateTime::parse_from_rfc3339(creds["Expiration"].as_str().unwrap());
    let lifetime = expiration.unwrap().timestamp() - before;
    assert!((3599..=3601).contains(&lifetime), "{lifetime}");
    let session_arn = format!("acs:ram::{}:assumed-role/opsadmin/alice@lab", lab.account);
    assert_eq!(answer["AssumedRoleUser"]["Arn"], session_arn.as_str());
    let principal = format!("{role_id}:alice@lab");
    assert_eq!(
        answer["AssumedRoleUser"]["AssumedRoleId"],
        principal.as_str()
    );

    let session = Signer::sts(&lab.plane, &answer);
    let me = session.identity().await;
    assert_eq!(me["IdentityType"], "AssumedRoleUser");
    assert_eq!(me["Arn"], session_arn.as_str());
    assert_eq!(me["AccountId"], lab.account.as_str());
    assert_eq!(me["PrincipalId"], principal.as_str());
    assert_eq!(me["RoleId"], role_id.as_str());
    assert!(me.get("UserId").is_none(), "{me}");
    // The credentials sign ECS calls too, with either signature.
    let (status, body) = session.v1("2014-05-26", "DescribeRegions", &[]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = session.v3("2014-05-26", "DescribeRegions", &[]).await;
    assert_eq!(status, 200, "{body}");

    let user = alice.identity().await;
    assert_eq!(user["IdentityType"], "RAMUser");
    let user_arn = format!("acs:ram::{}:user/alice", lab.account);
    assert_eq!(user["Arn"], user_arn.as_str());
    assert_eq!(user["UserId"], user["PrincipalId"]);
    let root = Signer::of(&lab.plane.client()).identity().await;
    assert_eq!(root["IdentityType"], "Account");
    assert_eq!(root["Arn"], lab.root().as_str());
    assert_eq!(root["UserId"], lab.account.as_str());
}

#[tokio::test]
async fn the_account_itself_and_untrusted_callers_may_not_assume() {
    let lab = Lab::start().await;
    let alice = lab.user("alice").await;
    lab.role("ForBob", &[format!("acs:ram::{}:user/bob", lab.account)])
        .await;
    lab.role("ForOthers", &["acs:ram::1111222233334444:root".to_owned()])
        .await;
    lab.role("ForAll", &[lab.root()]).await;
    let root = Signer::of(&lab.plane.client());
    let arn = lab.role_arn("ForAll");
    let pairs = [("RoleArn", arn.as_str()), ("RoleSessionName", "admin")];
    assert_error(&root.assume(&pairs).await, 403, "NoPermission");
    for role in ["ForBob", "ForOthers"] {
        let arn = lab.role_arn(role);
        let refused = alice
            .assume(&[("RoleArn", &arn), ("RoleSessionName", "alice")])
            .await;
        assert_error(&refused, 403, "NoPermission");
    }
}

#[tokio::test]
async fn assume_role_checks_its_parameters() {
    let lab = Lab::start().await;
    let alice = lab.user("alice").await;
    lab.role("Ops", &[lab.root()]).await;
    let arn = lab.role_arn("Ops");
    let cases: &[(Pairs, u16, &str)] = &[
        (&[("RoleSessionName", "s1")], 400, "MissingRoleArn"),
        (
            &[
                ("RoleArn", "acs:ram::1:user/ops"),
                ("RoleSessionName", "s1"),
            ],
            400,
            "InvalidParameter.RoleArn",
        ),
        (
            &[
                ("RoleArn", &lab.role_arn("Nope")),
                ("RoleSessionName", "s1"),
            ],
            404,
            "EntityNotExist.Role",
        ),
        (
            &[("RoleArn", &arn), ("RoleSessionName", "a")],
            400,
            "InvalidParameter.RoleSessionName",
        ),
        (
            &[
                ("RoleArn", &arn),
                ("RoleSessionName", "s1"),
                ("DurationSeconds", "899"),
            ],
            400,
            "InvalidParameter.DurationSeconds",
        ),
        (
            &[
                ("RoleArn", &arn),
                ("RoleSessionName", "s1"),
                ("DurationSeconds", "3601"),
            ],
            400,
            "InvalidParameter.DurationSeconds",
        ),
        (
            &[
                ("RoleArn", &arn),
                ("RoleSessionName", "s1"),
                ("Policy", "{not json"),
            ],
            400,
            "InvalidParameter.PolicyGrammar",
        ),
    ];
    for (pairs, status, code) in cases {
        assert_error(&alice.assume(pairs).await, *status, code);
    }
    let narrow = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}]}"#;
    let (status, body) = alice
        .assume(&[
            ("RoleArn", &arn),
            ("RoleSessionName", "s1"),
            ("Policy", narrow),
            ("DurationSeconds", "900"),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_security_token_must_come_signed_and_current() {
    let lab = Lab::start().await;
    let alice = lab.user("alice").await;
    lab.role("Ops", &[lab.root()]).await;
    let arn = lab.role_arn("Ops");
    lab.role("Temp", &[lab.root()]).await;
    let temp = lab.role_arn("Temp");
    let mut sessions = Vec::new();
    for (arn, name) in [(&arn, "first"), (&arn, "second"), (&temp, "third")] {
        let (status, body) = alice
            .assume(&[("RoleArn", arn), ("RoleSessionName", name)])
            .await;
        assert_eq!(status, 200, "{body}");
        sessions.push(Signer::sts(&lab.plane, &body));
    }
    let (first, second, third) = (&sessions[0], &sessions[1], &sessions[2]);
    let refusals = [
        (first.with_token(None), 400, "MissingSecurityToken"),
        (
            first.with_token(Some("not-a-token")),
            400,
            "InvalidSecurityToken.Malformed",
        ),
        (
            first.with_token(second.token.as_deref()),
            400,
            "InvalidSecurityToken.MismatchWithAccessKey",
        ),
    ];
    for (signer, status, code) in &refusals {
        assert_error(
            &signer.v1(STS_VERSION, "GetCallerIdentity", &[]).await,
            *status,
            code,
        );
        assert_error(
            &signer.v3(STS_VERSION, "GetCallerIdentity", &[]).await,
            *status,
            code,
        );
    }
    let unknown = Signer {
        client: Client {
            key: "STS.NoSuchCredential0000000".into(),
            ..first.client.clone()
        },
        token: first.token.clone(),
    };
    assert_error(
        &unknown.v1(STS_VERSION, "GetCallerIdentity", &[]).await,
        404,
        "InvalidAccessKeyId.NotFound",
    );

    // Expired: moved into the past where the credential is kept.
    lab.sql(
        "UPDATE sts_credentials SET expires_at = 1000 WHERE access_key_id = ?",
        &first.client.key,
    )
    .await;
    for got in [
        first.v1(STS_VERSION, "GetCallerIdentity", &[]).await,
        first.v3(STS_VERSION, "GetCallerIdentity", &[]).await,
    ] {
        assert_error(&got, 400, "InvalidSecurityToken.Expired");
        assert!(
            got.1["Message"]
                .as_str()
                .unwrap()
                .contains("1970-01-01T00:16:40Z"),
            "{}",
            got.1
        );
    }
    // Revoked: the role's sessions withdrawn; the expired one is left as it is.
    assert_eq!(second.identity().await["IdentityType"], "AssumedRoleUser");
    let revoked = lab
        .plane
        .shared
        .store
        .revoke_role_sessions(&lab.account, "OPS");
    assert_eq!(revoked.await.unwrap(), 1);
    // And so are those of a deleted role (RAM DeleteRole revokes them).
    assert_eq!(third.identity().await["IdentityType"], "AssumedRoleUser");
    let detach = [
        ("RoleName", "Temp"),
        ("PolicyType", "Custom"),
        ("PolicyName", "AllowAll-Temp"),
    ];
    lab.ram("DetachPolicyFromRole", &detach).await;
    lab.ram("DeleteRole", &[("RoleName", "Temp")]).await;
    for signer in [second, third] {
        for got in [
            signer.v1(STS_VERSION, "GetCallerIdentity", &[]).await,
            signer.v3(STS_VERSION, "GetCallerIdentity", &[]).await,
        ] {
            assert_error(&got, 400, "InvalidSecurityToken.Expired");
            let message = got.1["Message"].as_str().unwrap();
            assert!(message.contains("revoked"), "{}", got.1);
        }
    }
}

#[tokio::test]
async fn a_disabled_user_key_is_refused() {
    let lab = Lab::start().await;
    let alice = lab.user("alice").await;
    assert_eq!(alice.identity().await["IdentityType"], "RAMUser");
    let pairs = [
        ("UserName", "alice"),
        ("UserAccessKeyId", alice.client.key.as_str()),
        ("Status", "Inactive"),
    ];
    lab.ram("UpdateAccessKey", &pairs).await;
    let refused = alice.v1(STS_VERSION, "GetCallerIdentity", &[]).await;
    assert_error(&refused, 400, "InvalidAccessKeyId.Inactive");
}
