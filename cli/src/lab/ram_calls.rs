//! The RAM calls the lab makes its identities with, each made idempotent: "already exists"
//! (RAM's `EntityAlreadyExists.*` codes) counts as done, so a lab can be set up twice.

use anyhow::Context as _;
use axt_proto::openapi::Params;
use serde_json::Value;

use crate::api::{ApiClient, CallError, Product};

/// The RAM API through the admin's client.
pub(super) struct Ram<'a>(pub &'a ApiClient);

/// Whether a create made something new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Created {
    New,
    Existed,
}

/// Whether `error` says that what was to be created exists already.
fn exists(error: &CallError) -> bool {
    error
        .service()
        .is_some_and(|e| e.code.starts_with("EntityAlreadyExists"))
}

impl Ram<'_> {
    /// One RAM call.
    async fn call(&self, action: &str, pairs: &[(&str, &str)]) -> Result<Value, CallError> {
        let params: Params = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.0.call_to(Product::Ram, action, params).await
    }

    /// A create that may find its entity there already.
    async fn create(&self, action: &str, pairs: &[(&str, &str)]) -> anyhow::Result<Created> {
        match self.call(action, pairs).await {
            Ok(_) => Ok(Created::New),
            Err(e) if exists(&e) => Ok(Created::Existed),
            Err(e) => Err(e).with_context(|| format!("RAM {action} {pairs:?}")),
        }
    }

    /// The user `name`.
    pub(super) async fn user(&self, name: &str) -> anyhow::Result<Created> {
        self.create("CreateUser", &[("UserName", name), ("DisplayName", name)])
            .await
    }

    /// The role `name` trusting what `trust` says; its ARN.
    pub(super) async fn role(&self, name: &str, trust: &Value) -> anyhow::Result<String> {
        let trust = trust.to_string();
        let created = self
            .call(
                "CreateRole",
                &[("RoleName", name), ("AssumeRolePolicyDocument", &trust)],
            )
            .await;
        let answer = match created {
            Ok(answer) => answer,
            Err(e) if exists(&e) => self.call("GetRole", &[("RoleName", name)]).await?,
            Err(e) => return Err(e).context("RAM CreateRole"),
        };
        answer["Role"]["Arn"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("RAM answered without the ARN of role {name}"))
    }

    /// The custom policy `name` with `document`: created, or given a new default version when
    /// an older lab left another document under that name (instance-1 changed, say).
    pub(super) async fn policy(&self, name: &str, document: &Value) -> anyhow::Result<()> {
        let text = document.to_string();
        let pairs = [("PolicyName", name), ("PolicyDocument", text.as_str())];
        if self.create("CreatePolicy", &pairs).await? == Created::New {
            return Ok(());
        }
        let current = self
            .call(
                "GetPolicy",
                &[("PolicyName", name), ("PolicyType", "Custom")],
            )
            .await?;
        let same = current["DefaultPolicyVersion"]["PolicyDocument"]
            .as_str()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .is_some_and(|old| old == *document);
        if !same {
            self.call(
                "CreatePolicyVersion",
                &[
                    ("PolicyName", name),
                    ("PolicyDocument", &text),
                    ("SetAsDefault", "true"),
                    (
                        "RotateStrategy",
                        "DeleteOldestNonDefaultVersionWhenLimitExceeded",
                    ),
                ],
            )
            .await
            .with_context(|| format!("RAM CreatePolicyVersion {name}"))?;
        }
        Ok(())
    }

    /// Attaches a policy to a `User` or a `Role` (`kind`).
    pub(super) async fn attach(
        &self,
        kind: &str,
        to: &str,
        policy_type: &str,
        policy: &str,
    ) -> anyhow::Result<()> {
        let name_param = format!("{kind}Name");
        self.create(
            &format!("AttachPolicyTo{kind}"),
            &[
                (name_param.as_str(), to),
                ("PolicyType", policy_type),
                ("PolicyName", policy),
            ],
        )
        .await
        .map(drop)
    }

    /// A new AccessKey for `user`. An existing user's keys, which no profile file remembers,
    /// are deleted first: RAM allows two per user, and a lab re-run would otherwise run out.
    pub(super) async fn fresh_key(
        &self,
        user: &str,
        created: Created,
    ) -> anyhow::Result<(String, String)> {
        if created == Created::Existed {
            let listed = self.call("ListAccessKeys", &[("UserName", user)]).await?;
            let ids = listed["AccessKeys"]["AccessKey"]
                .as_array()
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .filter_map(|k| k["AccessKeyId"].as_str());
            for id in ids {
                self.call(
                    "DeleteAccessKey",
                    &[("UserName", user), ("UserAccessKeyId", id)],
                )
                .await
                .with_context(|| format!("RAM DeleteAccessKey of {user}"))?;
            }
        }
        let answer = self
            .call("CreateAccessKey", &[("UserName", user)])
            .await
            .with_context(|| format!("RAM CreateAccessKey for {user}"))?;
        let key = &answer["AccessKey"];
        let field = |name: &str| {
            key[name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("CreateAccessKey answered without AccessKey.{name}"))
        };
        Ok((field("AccessKeyId")?, field("AccessKeySecret")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiError;

    #[test]
    fn only_entity_already_exists_counts_as_done() {
        let error = |code: &str| {
            CallError::Service(ApiError {
                status: 409,
                code: code.into(),
                message: String::new(),
                request_id: String::new(),
                body: Value::Null,
            })
        };
        assert!(exists(&error("EntityAlreadyExists.User")));
        assert!(exists(&error("EntityAlreadyExists.User.Policy")));
        assert!(!exists(&error("EntityNotExist.User")));
        assert!(!exists(&error("NoPermission")));
    }
}
