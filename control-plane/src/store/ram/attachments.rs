//! Which policy (system or custom) is attached to which user, group or role, by name.

use axt_iam::PolicyType;
use sqlx::{Sqlite, Transaction};

use super::{
    policies::policy_in, policy_type_of, policy_type_str, system_policy_text, Entity, Kind,
    RamGroup, RamResult, RamUser, Refusal, RoleRow,
};
use crate::store::{now, Store};

/// A policy attached to a principal, as the ListPoliciesFor* calls show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedPolicy {
    pub policy_type: PolicyType,
    pub name: String,
    pub description: String,
    pub default_version: String,
    pub attached_at: i64,
}

/// Who a policy is attached to (ListEntitiesForPolicy), each with when.
#[derive(Debug, Clone, Default)]
pub struct PolicyEntities {
    pub users: Vec<(RamUser, i64)>,
    pub groups: Vec<(RamGroup, i64)>,
    pub roles: Vec<(RoleRow, i64)>,
}

/// The principal's name as stored (a role's as created, whatever the case asked), or the
/// refusal that it does not exist.
async fn principal_in(
    tx: &mut Transaction<'_, Sqlite>,
    account_id: &str,
    kind: Kind,
    name: &str,
) -> RamResult<String> {
    let (sql, entity) = match kind {
        Kind::User => (
            "SELECT name FROM ram_users WHERE account_id = ? AND name = ?",
            Entity::User,
        ),
        Kind::Group => (
            "SELECT name FROM ram_groups WHERE account_id = ? AND name = ?",
            Entity::Group,
        ),
        Kind::Role => (
            "SELECT name FROM ram_roles WHERE account_id = ? AND name = ? COLLATE NOCASE",
            Entity::Role,
        ),
    };
    sqlx::query_scalar(sql)
        .bind(account_id)
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(Refusal::Missing(entity).into())
}

/// Refuses a policy that does not exist: a system one axtlab does not ship, or a custom one
/// the account does not have.
async fn policy_exists(
    tx: &mut Transaction<'_, Sqlite>,
    account_id: &str,
    policy_type: PolicyType,
    name: &str,
) -> RamResult<&'static str> {
    let stored = policy_type_str(policy_type).ok_or(Refusal::Missing(Entity::Policy))?;
    let exists = match policy_type {
        PolicyType::System => system_policy_text(name).is_some(),
        _ => policy_in(tx, account_id, name)
            .await
            .map(|_| true)
            .or_else(|e| match e {
                super::RamError::Refused(_) => Ok(false),
                db => Err(db),
            })?,
    };
    if !exists {
        return Err(Refusal::Missing(Entity::Policy).into());
    }
    Ok(stored)
}

impl Store {
    /// AttachPolicyTo{User,Group,Role}. The principal is checked before the policy.
    pub async fn attach_policy(
        &self,
        account_id: &str,
        kind: Kind,
        principal: &str,
        policy_type: PolicyType,
        policy: &str,
    ) -> RamResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let principal = principal_in(&mut tx, account_id, kind, principal).await?;
        let stored_type = policy_exists(&mut tx, account_id, policy_type, policy).await?;
        let done = sqlx::query(
            "INSERT INTO ram_attachments
               (account_id, policy_type, policy_name, principal_type, principal_name, attached_at)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(account_id)
        .bind(stored_type)
        .bind(policy)
        .bind(kind.as_str())
        .bind(&principal)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Refusal::AlreadyAttached(kind).into());
        }
        tx.commit().await?;
        Ok(())
    }

    /// DetachPolicyFrom{User,Group,Role}.
    pub async fn detach_policy(
        &self,
        account_id: &str,
        kind: Kind,
        principal: &str,
        policy_type: PolicyType,
        policy: &str,
    ) -> RamResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let principal = principal_in(&mut tx, account_id, kind, principal).await?;
        let stored_type = policy_exists(&mut tx, account_id, policy_type, policy).await?;
        let done = sqlx::query(
            "DELETE FROM ram_attachments WHERE account_id = ? AND policy_type = ? AND policy_name = ?
               AND principal_type = ? AND principal_name = ?",
        )
        .bind(account_id)
        .bind(stored_type)
        .bind(policy)
        .bind(kind.as_str())
        .bind(&principal)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Refusal::NotAttached(kind).into());
        }
        tx.commit().await?;
        Ok(())
    }

    /// ListPoliciesFor{User,Group,Role}: what is attached to the principal itself.
    pub async fn policies_for(
        &self,
        account_id: &str,
        kind: Kind,
        principal: &str,
    ) -> RamResult<Vec<AttachedPolicy>> {
        let mut tx = self.pool.begin().await?;
        let principal = principal_in(&mut tx, account_id, kind, principal).await?;
        let rows: Vec<AttachmentRow> = sqlx::query_as(
            "SELECT a.policy_type, a.policy_name, p.description, p.default_version, a.attached_at
             FROM ram_attachments a LEFT JOIN ram_policies p
               ON a.policy_type = 'Custom' AND p.account_id = a.account_id AND p.name = a.policy_name
             WHERE a.account_id = ? AND a.principal_type = ? AND a.principal_name = ?
             ORDER BY a.attached_at, a.policy_name",
        )
        .bind(account_id)
        .bind(kind.as_str())
        .bind(&principal)
        .fetch_all(&mut *tx)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let AttachmentRow {
                    policy_type,
                    policy_name: name,
                    description,
                    default_version,
                    attached_at,
                } = row;
                let policy_type = policy_type_of(&policy_type);
                let description = match policy_type {
                    PolicyType::System => system_policy_text(&name)
                        .map(|(d, _)| d.to_owned())
                        .unwrap_or_default(),
                    _ => description.unwrap_or_default(),
                };
                AttachedPolicy {
                    policy_type,
                    description,
                    // A system policy's text is built in, as its one version.
                    default_version: default_version.unwrap_or_else(|| "v1".into()),
                    name,
                    attached_at,
                }
            })
            .collect())
    }

    /// ListEntitiesForPolicy.
    pub async fn entities_for_policy(
        &self,
        account_id: &str,
        policy_type: PolicyType,
        policy: &str,
    ) -> RamResult<PolicyEntities> {
        let mut tx = self.pool.begin().await?;
        let stored_type = policy_exists(&mut tx, account_id, policy_type, policy).await?;
        let mut out = PolicyEntities::default();
        let attached: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT principal_type, principal_name, attached_at FROM ram_attachments
             WHERE account_id = ? AND policy_type = ? AND policy_name = ?
             ORDER BY attached_at, principal_name",
        )
        .bind(account_id)
        .bind(stored_type)
        .bind(policy)
        .fetch_all(&mut *tx)
        .await?;
        drop(tx);
        for (kind, name, at) in attached {
            match kind.as_str() {
                "User" => {
                    if let Some(u) = self.ram_user(account_id, &name).await? {
                        out.users.push((u, at));
                    }
                }
                "Group" => {
                    if let Some(g) = self.ram_group(account_id, &name).await? {
                        out.groups.push((g, at));
                    }
                }
                _ => {
                    if let Some(r) = self.ram_role(account_id, &name).await? {
                        out.roles.push((r, at));
                    }
                }
            }
        }
        Ok(out)
    }
}

/// One attachment of a principal, with the custom policy's columns (NULL for a system one).
#[derive(sqlx::FromRow)]
struct AttachmentRow {
    policy_type: String,
    policy_name: String,
    description: Option<String>,
    default_version: Option<String>,
    attached_at: i64,
}
