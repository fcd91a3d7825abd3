//! Custom policies. System policies are built in (`axt_iam::system`) and never stored; only
//! their attachments are (see `attachments`). Versions are in `versions`.

use sqlx::{Sqlite, Transaction};

use super::{Conflict, Entity, RamResult, Refusal};
use crate::store::{now, Store};

/// A custom policy, with how many principals it is attached to.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CustomPolicy {
    pub name: String,
    pub description: String,
    /// `v1`, `v2`, …
    pub default_version: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub attachment_count: i64,
}

/// One version of a custom policy.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PolicyVersion {
    pub version_id: String,
    pub document: String,
    pub created_at: i64,
    pub is_default: bool,
}

pub(super) const POLICY_SELECT: &str =
    "SELECT p.name, p.description, p.default_version, p.created_at, p.updated_at,
       (SELECT count(*) FROM ram_attachments a WHERE a.account_id = p.account_id
          AND a.policy_type = 'Custom' AND a.policy_name = p.name) AS attachment_count
     FROM ram_policies p";

/// The custom policy, inside a transaction.
pub(super) async fn policy_in(
    tx: &mut Transaction<'_, Sqlite>,
    account_id: &str,
    name: &str,
) -> RamResult<CustomPolicy> {
    let sql = format!("{POLICY_SELECT} WHERE p.account_id = ? AND p.name = ?");
    sqlx::query_as(&sql)
        .bind(account_id)
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(Refusal::Missing(Entity::Policy).into())
}

impl Store {
    /// CreatePolicy: the policy and its first version `v1`, the default.
    pub async fn create_policy(
        &self,
        account_id: &str,
        name: &str,
        description: &str,
        document: &str,
    ) -> RamResult<CustomPolicy> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let at = now();
        let done = sqlx::query(
            "INSERT INTO ram_policies
               (account_id, name, description, default_version, next_version, created_at, updated_at)
             VALUES (?, ?, ?, 'v1', 2, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(account_id)
        .bind(name)
        .bind(description)
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Refusal::Exists(Entity::Policy).into());
        }
        sqlx::query(
            "INSERT INTO ram_policy_versions (account_id, policy_name, version_id, document, created_at)
             VALUES (?, ?, 'v1', ?, ?)",
        )
        .bind(account_id)
        .bind(name)
        .bind(document)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CustomPolicy {
            name: name.to_owned(),
            description: description.to_owned(),
            default_version: "v1".into(),
            created_at: at,
            updated_at: at,
            attachment_count: 0,
        })
    }

    /// A custom policy by name.
    pub async fn custom_policy(
        &self,
        account_id: &str,
        name: &str,
    ) -> sqlx::Result<Option<CustomPolicy>> {
        let sql = format!("{POLICY_SELECT} WHERE p.account_id = ? AND p.name = ?");
        sqlx::query_as(&sql)
            .bind(account_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
    }

    /// Every custom policy of the account, by name.
    pub async fn custom_policies(&self, account_id: &str) -> sqlx::Result<Vec<CustomPolicy>> {
        let sql = format!("{POLICY_SELECT} WHERE p.account_id = ? ORDER BY p.name");
        sqlx::query_as(&sql)
            .bind(account_id)
            .fetch_all(&self.pool)
            .await
    }

    /// How many principals of the account each system policy is attached to.
    pub async fn system_attachment_counts(
        &self,
        account_id: &str,
    ) -> sqlx::Result<std::collections::HashMap<String, i64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT policy_name, count(*) FROM ram_attachments
             WHERE account_id = ? AND policy_type = 'System' GROUP BY policy_name",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// UpdatePolicyDescription.
    pub async fn update_policy_description(
        &self,
        account_id: &str,
        name: &str,
        description: &str,
    ) -> RamResult<CustomPolicy> {
        let done = sqlx::query(
            "UPDATE ram_policies SET description = ?, updated_at = ? WHERE account_id = ? AND name = ?",
        )
        .bind(description)
        .bind(now())
        .bind(account_id)
        .bind(name)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Refusal::Missing(Entity::Policy).into());
        }
        Ok(self
            .custom_policy(account_id, name)
            .await?
            .ok_or(Refusal::Missing(Entity::Policy))?)
    }

    /// DeletePolicy: refused while it is attached or has versions besides its default, unless
    /// `cascade` (CascadingDelete), which detaches it and drops those versions first.
    pub async fn delete_policy(
        &self,
        account_id: &str,
        name: &str,
        cascade: bool,
    ) -> RamResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let policy = policy_in(&mut tx, account_id, name).await?;
        if cascade {
            sqlx::query(
                "DELETE FROM ram_attachments WHERE account_id = ? AND policy_type = 'Custom' AND policy_name = ?",
            )
            .bind(account_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        } else {
            let kinds: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT principal_type FROM ram_attachments
                 WHERE account_id = ? AND policy_type = 'Custom' AND policy_name = ?",
            )
            .bind(account_id)
            .bind(name)
            .fetch_all(&mut *tx)
            .await?;
            for (kind, conflict) in [
                ("User", Conflict::PolicyUser),
                ("Group", Conflict::PolicyGroup),
                ("Role", Conflict::PolicyRole),
            ] {
                if kinds.iter().any(|k| k == kind) {
                    return Err(Refusal::Conflict(conflict).into());
                }
            }
            let others: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM ram_policy_versions
                 WHERE account_id = ? AND policy_name = ? AND version_id <> ?",
            )
            .bind(account_id)
            .bind(name)
            .bind(&policy.default_version)
            .fetch_one(&mut *tx)
            .await?;
            if others > 0 {
                return Err(Refusal::Conflict(Conflict::PolicyVersion).into());
            }
        }
        sqlx::query("DELETE FROM ram_policy_versions WHERE account_id = ? AND policy_name = ?")
            .bind(account_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM ram_policies WHERE account_id = ? AND name = ?")
            .bind(account_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
