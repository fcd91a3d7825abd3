//! RAM's system policies through the real HTTP API: listed (before custom ones, across
//! pages), read with their built-in document as their one version, attached, and in force.

mod common;
mod ram_common;

use axt_iam::{system::SYSTEM_POLICIES, PolicyType};
use common::*;
use ram_common::*;

/// A permission policy allowing `action` on everything.
fn allow(action: &str) -> String {
    format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
    )
}

#[tokio::test]
async fn system_policies_are_listed_read_and_attached() {
    let Some((name, _, document)) = SYSTEM_POLICIES.iter().min_by_key(|(n, _, _)| *n) else {
        panic!("axt_iam ships no system policy");
    };
    let plane = TestPlane::start(&[]).await;
    let c = plane.client();
    let account = plane.shared.store.admin_account().await.unwrap();
    let got = ok(
        &c,
        "GetPolicy",
        &[("PolicyName", name), ("PolicyType", "System")],
    )
    .await;
    assert_eq!(
        (
            got["Policy"]["PolicyDocument"].as_str(),
            got["DefaultPolicyVersion"]["VersionId"].as_str()
        ),
        (Some(*document), Some("v1"))
    );
    assert_error(
        &ram(
            &c,
            "GetPolicy",
            &[("PolicyName", name), ("PolicyType", "Custom")],
        )
        .await,
        404,
        "EntityNotExist.Policy",
    );

    // One page at a time: every system policy, then the custom one, each once.
    ok(
        &c,
        "CreatePolicy",
        &[("PolicyName", "Mine"), ("PolicyDocument", &allow("ecs:*"))],
    )
    .await;
    let (mut seen, mut marker) = (Vec::new(), None::<String>);
    loop {
        let mut pairs = vec![("MaxItems", "1")];
        if let Some(m) = &marker {
            pairs.push(("Marker", m));
        }
        let page = ok(&c, "ListPolicies", &pairs).await;
        for p in page["Policies"]["Policy"].as_array().unwrap() {
            seen.push((
                p["PolicyType"].as_str().unwrap().to_owned(),
                p["PolicyName"].as_str().unwrap().to_owned(),
            ));
        }
        match page["IsTruncated"].as_bool().unwrap() {
            true => marker = Some(page["Marker"].as_str().unwrap().to_owned()),
            false => break,
        }
    }
    assert_eq!(seen.len(), SYSTEM_POLICIES.len() + 1);
    assert_eq!(
        seen.last().map(|(t, n)| (t.as_str(), n.as_str())),
        Some(("Custom", "Mine"))
    );
    let system = ok(&c, "ListPolicies", &[("PolicyType", "System")]).await;
    assert_eq!(
        system["Policies"]["Policy"].as_array().unwrap().len(),
        SYSTEM_POLICIES.len()
    );

    ok(&c, "CreateUser", &[("UserName", "dev")]).await;
    let attach = [
        ("PolicyType", "System"),
        ("PolicyName", name),
        ("UserName", "dev"),
    ];
    ok(&c, "AttachPolicyToUser", &attach).await;
    let listed = ok(&c, "ListPoliciesForUser", &[("UserName", "dev")]).await;
    assert_eq!(listed["Policies"]["Policy"][0]["PolicyType"], "System");
    let in_force = plane
        .shared
        .store
        .user_policies(&account, "dev")
        .await
        .unwrap();
    assert_eq!(
        (in_force[0].policy_type, in_force[0].document.as_str()),
        (PolicyType::System, *document)
    );
    let entities = ok(
        &c,
        "ListEntitiesForPolicy",
        &[("PolicyType", "System"), ("PolicyName", name)],
    )
    .await;
    assert_eq!(entities["Users"]["User"][0]["UserName"], "dev");
}
