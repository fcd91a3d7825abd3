//! Policies: CreatePolicy, GetPolicy, ListPolicies, UpdatePolicyDescription and DeletePolicy
//! (their versions are in `versions`). System policies are the built-in
//! `axt_iam::system::SYSTEM_POLICIES`, each with one version, `v1`; only custom ones can be
//! created, versioned and deleted.

use axt_iam::{system::SYSTEM_POLICIES, PolicyType};
use serde_json::{json, Value};

use super::{
    missing,
    validate::{self, POLICY_NAME},
    Paging,
};
use crate::{
    api::{ApiError, Ctx, ErrorCode},
    store::{
        iso,
        ram::{system_policy_text, CustomPolicy, Entity, PolicyVersion},
    },
};

/// Longest policy description.
const MAX_DESCRIPTION: usize = 1024;
/// The date system policies show (they predate every account): 2015-04-28T16:00:00Z.
const SYSTEM_POLICY_DATE: i64 = 1_430_236_800;

/// One policy, whichever its type, as the Get/List calls show it.
pub(super) struct Entry {
    policy_type: PolicyType,
    name: String,
    description: String,
    default_version: String,
    attachment_count: i64,
    created_at: i64,
    updated_at: i64,
}

impl Entry {
    fn custom(p: &CustomPolicy) -> Self {
        Self {
            policy_type: PolicyType::Custom,
            name: p.name.clone(),
            description: p.description.clone(),
            default_version: p.default_version.clone(),
            attachment_count: p.attachment_count,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }

    fn system(name: &str, description: &str, attachment_count: i64) -> Self {
        Self {
            policy_type: PolicyType::System,
            name: name.to_owned(),
            description: description.to_owned(),
            default_version: "v1".into(),
            attachment_count,
            created_at: SYSTEM_POLICY_DATE,
            updated_at: SYSTEM_POLICY_DATE,
        }
    }

    fn render(&self) -> Value {
        json!({
            "PolicyName": self.name,
            "PolicyType": validate::policy_type_name(self.policy_type),
            "Description": self.description,
            "DefaultVersion": self.default_version,
            "AttachmentCount": self.attachment_count,
            "CreateDate": iso(self.created_at),
            "UpdateDate": iso(self.updated_at),
        })
    }

    /// The `Marker` of ListPolicies: system policies are listed before custom ones.
    fn key(&self) -> (u8, &str) {
        (u8::from(self.policy_type != PolicyType::System), &self.name)
    }
}

pub(super) fn render_version(v: &PolicyVersion) -> Value {
    json!({
        "VersionId": v.version_id,
        "IsDefaultVersion": v.is_default,
        "PolicyDocument": v.document,
        "CreateDate": iso(v.created_at),
    })
}

/// A system policy's one version.
fn system_version(document: &str) -> PolicyVersion {
    PolicyVersion {
        version_id: "v1".into(),
        document: document.to_owned(),
        created_at: SYSTEM_POLICY_DATE,
        is_default: true,
    }
}

/// `PolicyName` and the mandatory `PolicyType`.
pub(super) fn named(ctx: &Ctx<'_>) -> Result<(String, PolicyType), ApiError> {
    let name = validate::required_name(ctx, "PolicyName", &POLICY_NAME)?;
    Ok((name.to_owned(), validate::required_policy_type(ctx)?))
}

/// A policy and every version of it (a system policy: its one).
pub(super) async fn versions_of(
    ctx: &Ctx<'_>,
    name: &str,
    policy_type: PolicyType,
) -> Result<(Entry, Vec<PolicyVersion>), ApiError> {
    let account = &ctx.caller.account_id;
    let store = &ctx.shared.store;
    if policy_type == PolicyType::System {
        let (description, document) =
            system_policy_text(name).ok_or_else(|| missing(Entity::Policy))?;
        let count = store.system_attachment_counts(account).await?;
        let entry = Entry::system(name, description, count.get(name).copied().unwrap_or(0));
        return Ok((entry, vec![system_version(document)]));
    }
    let policy = store
        .custom_policy(account, name)
        .await?
        .ok_or_else(|| missing(Entity::Policy))?;
    let versions = store.policy_versions(account, name).await?;
    Ok((Entry::custom(&policy), versions))
}

/// `CreatePolicy` → `Policy`: a custom policy whose `PolicyDocument` is its version `v1`.
pub async fn create_policy(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "PolicyName", &POLICY_NAME)?;
    let document = ctx.args.required("PolicyDocument")?;
    validate::permission_document(document)?;
    let description = validate::text(
        ctx,
        "Description",
        MAX_DESCRIPTION,
        ErrorCode::RamDescriptionLength,
    )?;
    let policy = ctx
        .shared
        .store
        .create_policy(
            &ctx.caller.account_id,
            name,
            description.unwrap_or_default(),
            document,
        )
        .await?;
    ctx.audit(name).await?;
    let mut out = Entry::custom(&policy).render();
    if let Some(o) = out.as_object_mut() {
        o.remove("AttachmentCount");
        o.remove("UpdateDate");
    }
    Ok(json!({ "Policy": out }))
}

/// `GetPolicy` → `Policy` (with its default document) and `DefaultPolicyVersion`.
pub async fn get_policy(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let (name, policy_type) = named(ctx)?;
    let (entry, versions) = versions_of(ctx, &name, policy_type).await?;
    let default = versions
        .iter()
        .find(|v| v.is_default)
        .ok_or_else(|| missing(Entity::PolicyVersion))?;
    let mut policy = entry.render();
    policy["PolicyDocument"] = default.document.clone().into();
    Ok(json!({ "Policy": policy, "DefaultPolicyVersion": render_version(default) }))
}

/// `ListPolicies` → `Policies.Policy[]`: system policies, then the account's custom ones,
/// each by name; `PolicyType` keeps one kind. Paged by `Marker`/`MaxItems`.
pub async fn list_policies(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let only = ctx
        .args
        .str("PolicyType")
        .map(validate::policy_type)
        .transpose()?;
    let paging = Paging::of(ctx)?;
    let account = &ctx.caller.account_id;
    let mut entries = Vec::new();
    if only.is_none_or(|t| t == PolicyType::System) {
        let counts = ctx.shared.store.system_attachment_counts(account).await?;
        let mut system: Vec<Entry> = SYSTEM_POLICIES
            .iter()
            .map(|(n, d, _)| Entry::system(n, d, counts.get(*n).copied().unwrap_or(0)))
            .collect();
        system.sort_by(|a, b| a.name.cmp(&b.name));
        entries.extend(system);
    }
    if only.is_none_or(|t| t == PolicyType::Custom) {
        let custom = ctx.shared.store.custom_policies(account).await?;
        entries.extend(custom.iter().map(Entry::custom));
    }
    // The Marker is `<PolicyType>:<PolicyName>` of the last policy of the previous page.
    if let Some(marker) = paging.after {
        let after = marker
            .split_once(':')
            .and_then(|(t, n)| Some((validate::policy_type(t).ok()?, n)))
            .map(|(t, n)| (u8::from(t != PolicyType::System), n))
            .ok_or_else(|| ApiError::invalid("Marker", "not a Marker this service issued"))?;
        entries.retain(|e| e.key() > after);
    }
    entries.truncate(paging.fetch() as usize);
    let key = |e: &Entry| format!("{}:{}", validate::policy_type_name(e.policy_type), e.name);
    Ok(paging.answer(entries, "Policies", "Policy", key, Entry::render))
}

/// `UpdatePolicyDescription` → `Policy`.
pub async fn update_policy_description(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "PolicyName", &POLICY_NAME)?;
    let description = validate::text(
        ctx,
        "NewDescription",
        MAX_DESCRIPTION,
        ErrorCode::RamNewDescriptionLength,
    )?;
    let policy = ctx
        .shared
        .store
        .update_policy_description(
            &ctx.caller.account_id,
            name,
            description.unwrap_or_default(),
        )
        .await?;
    ctx.audit(name).await?;
    let mut out = Entry::custom(&policy).render();
    if let Some(o) = out.as_object_mut() {
        o.remove("AttachmentCount");
    }
    Ok(json!({ "Policy": out }))
}

/// `DeletePolicy`: refused while attached or with versions besides the default, unless
/// `CascadingDelete=true`.
pub async fn delete_policy(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let name = validate::required_name(ctx, "PolicyName", &POLICY_NAME)?;
    let cascade = ctx.args.bool("CascadingDelete")?.unwrap_or(false);
    ctx.shared
        .store
        .delete_policy(&ctx.caller.account_id, name, cascade)
        .await?;
    ctx.audit(name).await?;
    Ok(json!({}))
}
