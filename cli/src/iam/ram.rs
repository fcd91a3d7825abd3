//! Reading a principal's policies through the RAM API, as a console would: what is attached to
//! a user (ListPoliciesForUser) and to each of its groups (ListGroupsForUser,
//! ListPoliciesForGroup), or to a role (ListPoliciesForRole); and each policy's document
//! (GetPolicy → `DefaultPolicyVersion.PolicyDocument`), system policies included.

use anyhow::Context as _;
use axt_iam::{Document, PolicyType};
use axt_proto::openapi::Params;
use serde_json::Value;

use crate::api::{ApiClient, Product};

/// A policy attached to the principal, with its document.
pub struct Fetched {
    /// `PolicyName`.
    pub name: String,
    pub policy_type: PolicyType,
    /// The group it came through, for a user's group policies.
    pub via_group: Option<String>,
    pub document: Document,
}

/// One entry of `Policies.Policy` in a List*PoliciesFor* answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRef {
    pub name: String,
    pub policy_type: PolicyType,
}

/// A RAM call with one parameter.
async fn ram(client: &ApiClient, action: &str, name: &str, value: &str) -> anyhow::Result<Value> {
    let mut params = Params::new();
    params.insert(name.to_owned(), value.to_owned());
    client
        .call_to(Product::Ram, action, params)
        .await
        .with_context(|| format!("RAM {action} {name}={value}"))
}

/// The entries of `answer[outer][inner]`, a RAM list (absent when empty).
fn list<'a>(answer: &'a Value, outer: &str, inner: &str) -> &'a [Value] {
    answer[outer][inner].as_array().map_or(&[], Vec::as_slice)
}

/// The policies a List*PoliciesFor* answer names.
pub fn policy_refs(answer: &Value) -> anyhow::Result<Vec<PolicyRef>> {
    list(answer, "Policies", "Policy")
        .iter()
        .map(|entry| {
            let name = entry["PolicyName"]
                .as_str()
                .context("a policy without PolicyName")?;
            let policy_type = match entry["PolicyType"].as_str() {
                Some("System") => PolicyType::System,
                Some("Custom") => PolicyType::Custom,
                other => anyhow::bail!("policy {name} has PolicyType {other:?}"),
            };
            Ok(PolicyRef {
                name: name.to_owned(),
                policy_type,
            })
        })
        .collect()
}

/// The group names of a ListGroupsForUser answer.
pub fn group_names(answer: &Value) -> Vec<String> {
    list(answer, "Groups", "Group")
        .iter()
        .filter_map(|group| group["GroupName"].as_str().map(str::to_owned))
        .collect()
}

/// The default version's document of a GetPolicy answer.
pub fn default_document(answer: &Value) -> Option<&str> {
    answer["DefaultPolicyVersion"]["PolicyDocument"].as_str()
}

/// Every policy in force for the user `user`: its own, then its groups', each once.
pub async fn user_policies(client: &ApiClient, user: &str) -> anyhow::Result<Vec<Fetched>> {
    let own = ram(client, "ListPoliciesForUser", "UserName", user).await?;
    let mut refs: Vec<(PolicyRef, Option<String>)> =
        policy_refs(&own)?.into_iter().map(|r| (r, None)).collect();
    let groups = ram(client, "ListGroupsForUser", "UserName", user).await?;
    for group in group_names(&groups) {
        let attached = ram(client, "ListPoliciesForGroup", "GroupName", &group).await?;
        for policy in policy_refs(&attached)? {
            if !refs.iter().any(|(seen, _)| *seen == policy) {
                refs.push((policy, Some(group.clone())));
            }
        }
    }
    fetch(client, refs).await
}

/// Every policy attached to the role `role`.
pub async fn role_policies(client: &ApiClient, role: &str) -> anyhow::Result<Vec<Fetched>> {
    let attached = ram(client, "ListPoliciesForRole", "RoleName", role).await?;
    let refs = policy_refs(&attached)?
        .into_iter()
        .map(|r| (r, None))
        .collect();
    fetch(client, refs).await
}

/// GetPolicy for each, parsed as the control plane parses it.
async fn fetch(
    client: &ApiClient,
    refs: Vec<(PolicyRef, Option<String>)>,
) -> anyhow::Result<Vec<Fetched>> {
    let mut fetched = Vec::with_capacity(refs.len());
    for (policy, via_group) in refs {
        let mut params = Params::new();
        params.insert("PolicyName".into(), policy.name.clone());
        params.insert("PolicyType".into(), type_name(policy.policy_type).into());
        let answer = client
            .call_to(Product::Ram, "GetPolicy", params)
            .await
            .with_context(|| format!("RAM GetPolicy {}", policy.name))?;
        let text = default_document(&answer).with_context(|| {
            format!(
                "GetPolicy {} answered without DefaultPolicyVersion.PolicyDocument",
                policy.name
            )
        })?;
        let document = Document::parse(text)
            .with_context(|| format!("the document of policy {}", policy.name))?;
        fetched.push(Fetched {
            name: policy.name,
            policy_type: policy.policy_type,
            via_group,
            document,
        });
    }
    Ok(fetched)
}

/// `System` or `Custom`, as RAM spells the parameter.
pub fn type_name(policy_type: PolicyType) -> &'static str {
    match policy_type {
        PolicyType::System => "System",
        PolicyType::Custom => "Custom",
        PolicyType::Session => "Session",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_lists_as_ram_answers_them() {
        let answer = json!({"RequestId": "r", "Policies": {"Policy": [
            {"PolicyName": "AliyunECSReadOnlyAccess", "PolicyType": "System",
             "DefaultVersion": "v1", "AttachDate": "2026-01-01T00:00:00Z", "Description": ""},
            {"PolicyName": "mine", "PolicyType": "Custom"}
        ]}});
        let refs = policy_refs(&answer).unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].policy_type, PolicyType::System);
        assert_eq!(refs[1].name, "mine");
        assert!(policy_refs(&json!({"Policies": {"Policy": []}}))
            .unwrap()
            .is_empty());
        assert!(policy_refs(&json!({"RequestId": "r"})).unwrap().is_empty());
        assert!(policy_refs(&json!({"Policies": {"Policy": [{"PolicyName": "x"}]}})).is_err());

        let groups = json!({"Groups": {"Group": [{"GroupName": "ops", "GroupId": "1"}]}});
        assert_eq!(group_names(&groups), ["ops"]);

        let got = json!({
            "Policy": {"PolicyName": "p", "PolicyType": "Custom", "DefaultVersion": "v2"},
            "DefaultPolicyVersion": {"VersionId": "v2", "IsDefaultVersion": true,
                                     "PolicyDocument": "{\"Version\":\"1\",\"Statement\":[]}"}
        });
        assert_eq!(
            default_document(&got),
            Some("{\"Version\":\"1\",\"Statement\":[]}")
        );
        assert_eq!(type_name(PolicyType::System), "System");
    }
}
