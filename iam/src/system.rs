//! The system policies every account has, by name.
//!
//! Each document means what RAM's policy of that name means (as RAM's reference pages for
//! them, and ECS's page of example system policies, show it), written out here in our own
//! layout. Names match exactly, case included: RAM's policy names are identifiers, and nothing
//! in its documentation says a system policy may be named in another case.

use std::sync::LazyLock;

use crate::policy::Document;

/// Name, description and document of every system policy.
pub const SYSTEM_POLICIES: &[(&str, &str, &str)] = &[
    (
        "AdministratorAccess",
        "Every action on every resource: full control of the account's cloud resources.",
        r#"{
  "Version": "1",
  "Statement": [
    { "Effect": "Allow", "Action": "*", "Resource": "*" }
  ]
}"#,
    ),
    (
        "AliyunECSFullAccess",
        "Manage ECS: every ECS action, and reading the VPCs and vSwitches instances live in.",
        r#"{
  "Version": "1",
  "Statement": [
    { "Effect": "Allow", "Action": "ecs:*", "Resource": "*" },
    {
      "Effect": "Allow",
      "Action": ["vpc:DescribeVpcs", "vpc:DescribeVSwitches"],
      "Resource": "*"
    }
  ]
}"#,
    ),
    (
        "AliyunECSReadOnlyAccess",
        "Read ECS: the Describe and List actions of ECS, and reading VPCs and vSwitches.",
        r#"{
  "Version": "1",
  "Statement": [
    { "Effect": "Allow", "Action": ["ecs:Describe*", "ecs:List*"], "Resource": "*" },
    {
      "Effect": "Allow",
      "Action": ["vpc:DescribeVpcs", "vpc:DescribeVSwitches"],
      "Resource": "*"
    }
  ]
}"#,
    ),
    (
        "AliyunRAMFullAccess",
        "Manage RAM: users, groups, roles, policies and their attachments.",
        r#"{
  "Version": "1",
  "Statement": [
    { "Effect": "Allow", "Action": "ram:*", "Resource": "*" }
  ]
}"#,
    ),
    (
        "AliyunRAMReadOnlyAccess",
        "Read RAM: its Get and List actions and the credential report, and reading Access Analyzer.",
        r#"{
  "Version": "1",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["ram:Get*", "ram:List*", "ram:GenerateCredentialReport"],
      "Resource": "*"
    },
    {
      "Effect": "Allow",
      "Action": ["accessanalyzer:Get*", "accessanalyzer:List*"],
      "Resource": "*"
    }
  ]
}"#,
    ),
    (
        "AliyunSTSAssumeRoleAccess",
        "Call STS AssumeRole on any role (the role's trust policy must still admit the caller).",
        r#"{
  "Version": "1",
  "Statement": [
    { "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*" }
  ]
}"#,
    ),
];

/// Every system policy, parsed once; the order is [`SYSTEM_POLICIES`]'s.
static PARSED: LazyLock<Vec<Document>> = LazyLock::new(|| {
    SYSTEM_POLICIES
        .iter()
        .map(|(name, _, text)| {
            Document::parse(text).unwrap_or_else(|e| panic!("system policy {name} is invalid: {e}"))
        })
        .collect()
});

/// The parsed system policy called `name` (case as RAM spells it).
pub fn system_policy(name: &str) -> Option<&'static Document> {
    let index = SYSTEM_POLICIES.iter().position(|(n, _, _)| *n == name)?;
    PARSED.get(index)
}

/// The description of the system policy called `name`.
pub fn system_policy_description(name: &str) -> Option<&'static str> {
    SYSTEM_POLICIES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, d, _)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_system_policy_parses() {
        for (name, description, _) in SYSTEM_POLICIES {
            assert!(system_policy(name).is_some(), "{name}");
            assert!(!description.is_empty(), "{name}");
        }
        assert_eq!(PARSED.len(), SYSTEM_POLICIES.len());
    }

    #[test]
    fn names_match_exactly() {
        assert!(system_policy("AdministratorAccess").is_some());
        assert!(system_policy("administratoraccess").is_none());
        assert!(system_policy("NoSuchPolicy").is_none());
        assert_eq!(
            system_policy_description("AliyunSTSAssumeRoleAccess"),
            Some(SYSTEM_POLICIES[5].1)
        );
    }
}
