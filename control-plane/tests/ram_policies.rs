//! RAM policies through the real HTTP API: custom policies and their versions (at most five,
//! one default) — each with the codes RAM answers. System policies are in
//! `ram_system_policies.rs`, attachments in `ram_attachments.rs`.

mod common;
mod ram_common;

use common::*;
use ram_common::*;
use serde_json::Value;

/// A permission policy allowing `action` on everything.
fn allow(action: &str) -> String {
    format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
    )
}

fn version_ids(v: &Value) -> Vec<&str> {
    let list = v["PolicyVersions"]["PolicyVersion"].as_array().unwrap();
    list.iter()
        .map(|p| p["VersionId"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn custom_policies_keep_at_most_five_versions_and_one_default() {
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let doc = allow("ecs:DescribeRegions");
    let create = |name: &'static str, doc: String| {
        let c = c.clone();
        async move {
            ram(
                &c,
                "CreatePolicy",
                &[("PolicyName", name), ("PolicyDocument", &doc)],
            )
            .await
        }
    };
    assert_error(
        &create("P", "{not json".into()).await,
        400,
        "MalformedPolicyDocument",
    );
    let no_resource = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*"}]}"#;
    assert_error(
        &create("P", no_resource.into()).await,
        400,
        "MalformedPolicyDocument",
    );
    assert_error(
        &create("P", "x".repeat(7000)).await,
        400,
        "InvalidParameter.PolicyDocument.Length",
    );
    assert_error(
        &create("my.policy", doc.clone()).await,
        400,
        "InvalidParameter.PolicyName.InvalidChars",
    );

    let made = ok(
        &c,
        "CreatePolicy",
        &[
            ("PolicyName", "Reader"),
            ("PolicyDocument", &doc),
            ("Description", "reads"),
        ],
    )
    .await;
    assert_eq!(
        (
            made["Policy"]["PolicyType"].as_str(),
            made["Policy"]["DefaultVersion"].as_str()
        ),
        (Some("Custom"), Some("v1"))
    );
    assert_error(
        &create("Reader", doc.clone()).await,
        409,
        "EntityAlreadyExists.Policy",
    );
    let got = ok(
        &c,
        "GetPolicy",
        &[("PolicyName", "Reader"), ("PolicyType", "Custom")],
    )
    .await;
    assert_eq!(
        got["DefaultPolicyVersion"]["PolicyDocument"].as_str(),
        Some(doc.as_str())
    );
    assert_eq!(
        (
            got["Policy"]["AttachmentCount"].as_i64(),
            got["Policy"]["Description"].as_str()
        ),
        (Some(0), Some("reads"))
    );
    assert_error(
        &ram(
            &c,
            "GetPolicy",
            &[("PolicyName", "Nope"), ("PolicyType", "Custom")],
        )
        .await,
        404,
        "EntityNotExist.Policy",
    );
    assert_error(
        &ram(
            &c,
            "GetPolicy",
            &[("PolicyName", "Reader"), ("PolicyType", "Other")],
        )
        .await,
        400,
        "InvalidParameter.PolicyType",
    );

    let version = |doc: String, extra: &'static [(&'static str, &'static str)]| {
        let c = c.clone();
        async move {
            let mut p = vec![("PolicyName", "Reader"), ("PolicyDocument", doc.as_str())];
            p.extend_from_slice(extra);
            ram(&c, "CreatePolicyVersion", &p).await
        }
    };
    let v2 = version(allow("ecs:Describe*"), &[("SetAsDefault", "true")]).await;
    assert_eq!(v2.0, 200, "{}", v2.1);
    assert_eq!(
        (
            v2.1["PolicyVersion"]["VersionId"].as_str(),
            &v2.1["PolicyVersion"]["IsDefaultVersion"]
        ),
        (Some("v2"), &Value::Bool(true))
    );
    let got = ok(
        &c,
        "GetPolicy",
        &[("PolicyName", "Reader"), ("PolicyType", "Custom")],
    )
    .await;
    assert_eq!(got["Policy"]["DefaultVersion"], "v2");
    for _ in 3..=5 {
        assert_eq!(version(allow("ecs:StartInstance"), &[]).await.0, 200);
    }
    assert_error(
        &version(allow("ecs:StopInstance"), &[]).await,
        409,
        "LimitExceeded.Policy.Version",
    );
    assert_error(
        &version("[]".into(), &[]).await,
        400,
        "MalformedPolicyDocument",
    );
    const ROTATE: [(&str, &str); 1] = [(
        "RotateStrategy",
        "DeleteOldestNonDefaultVersionWhenLimitExceeded",
    )];
    assert_eq!(
        version(allow("ecs:StopInstance"), &ROTATE).await.1["PolicyVersion"]["VersionId"],
        "v6"
    );
    // The oldest version that is not the default (v1) made room; v2 stays, being the default.
    let listed = ok(
        &c,
        "ListPolicyVersions",
        &[("PolicyName", "Reader"), ("PolicyType", "Custom")],
    )
    .await;
    assert_eq!(version_ids(&listed), ["v6", "v5", "v4", "v3", "v2"]);

    let named = |v: &'static str| [("PolicyName", "Reader"), ("VersionId", v)];
    assert_error(
        &ram(&c, "DeletePolicyVersion", &named("v2")).await,
        409,
        "DeleteConflict.Policy.Version.Default",
    );
    assert_error(
        &ram(&c, "DeletePolicyVersion", &named("v9")).await,
        404,
        "EntityNotExist.Policy.Version",
    );
    assert_error(
        &ram(&c, "DeletePolicyVersion", &named("2")).await,
        400,
        "InvalidParameter.VersionId.Format",
    );
    ok(&c, "SetDefaultPolicyVersion", &named("v6")).await;
    let v6 = ok(
        &c,
        "GetPolicyVersion",
        &[
            ("PolicyName", "Reader"),
            ("PolicyType", "Custom"),
            ("VersionId", "v6"),
        ],
    )
    .await;
    assert_eq!(v6["PolicyVersion"]["IsDefaultVersion"], true);
    assert_error(
        &ram(&c, "DeletePolicy", &[("PolicyName", "Reader")]).await,
        409,
        "DeleteConflict.Policy.Version",
    );
    for v in ["v2", "v3", "v4", "v5"] {
        ok(&c, "DeletePolicyVersion", &named(v)).await;
    }
    ok(&c, "DeletePolicy", &[("PolicyName", "Reader")]).await;
    assert_error(
        &ram(
            &c,
            "GetPolicy",
            &[("PolicyName", "Reader"), ("PolicyType", "Custom")],
        )
        .await,
        404,
        "EntityNotExist.Policy",
    );

    // CascadingDelete detaches the policy and drops its other versions first.
    ok(
        &c,
        "CreatePolicy",
        &[("PolicyName", "Temp"), ("PolicyDocument", &doc)],
    )
    .await;
    ok(
        &c,
        "CreatePolicyVersion",
        &[("PolicyName", "Temp"), ("PolicyDocument", &doc)],
    )
    .await;
    ok(&c, "CreateUser", &[("UserName", "dev")]).await;
    ok(
        &c,
        "AttachPolicyToUser",
        &[
            ("PolicyType", "Custom"),
            ("PolicyName", "Temp"),
            ("UserName", "dev"),
        ],
    )
    .await;
    ok(
        &c,
        "DeletePolicy",
        &[("PolicyName", "Temp"), ("CascadingDelete", "true")],
    )
    .await;
    ok(&c, "DeleteUser", &[("UserName", "dev")]).await;
}
