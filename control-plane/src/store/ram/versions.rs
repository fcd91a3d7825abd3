//! The versions of a custom policy: at most [`MAX_POLICY_VERSIONS`], exactly one of them the
//! default (the one in force wherever the policy is attached).

use super::{
    policies::policy_in, Conflict, Entity, PolicyVersion, RamResult, Refusal, MAX_POLICY_VERSIONS,
};
use crate::store::{now, Store};

fn version_number(version_id: &str) -> i64 {
    version_id
        .strip_prefix('v')
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl Store {
    /// Every version of a custom policy, newest first.
    pub async fn policy_versions(
        &self,
        account_id: &str,
        name: &str,
    ) -> RamResult<Vec<PolicyVersion>> {
        let mut tx = self.pool.begin().await?;
        policy_in(&mut tx, account_id, name).await?;
        let mut rows: Vec<PolicyVersion> = sqlx::query_as(
            "SELECT v.version_id, v.document, v.created_at, v.version_id = p.default_version AS is_default
             FROM ram_policy_versions v JOIN ram_policies p
               ON p.account_id = v.account_id AND p.name = v.policy_name
             WHERE v.account_id = ? AND v.policy_name = ?",
        )
        .bind(account_id)
        .bind(name)
        .fetch_all(&mut *tx)
        .await?;
        rows.sort_by_key(|v| std::cmp::Reverse(version_number(&v.version_id)));
        Ok(rows)
    }

    /// One version of a custom policy (`EntityNotExist.Policy.Version` otherwise).
    pub async fn policy_version(
        &self,
        account_id: &str,
        name: &str,
        version_id: &str,
    ) -> RamResult<PolicyVersion> {
        self.policy_versions(account_id, name)
            .await?
            .into_iter()
            .find(|v| v.version_id == version_id)
            .ok_or(Refusal::Missing(Entity::PolicyVersion).into())
    }

    /// CreatePolicyVersion. At [`MAX_POLICY_VERSIONS`] it is refused, unless `rotate`
    /// (`DeleteOldestNonDefaultVersionWhenLimitExceeded`) deletes the oldest version that is
    /// not the default to make room.
    pub async fn create_policy_version(
        &self,
        account_id: &str,
        name: &str,
        document: &str,
        set_default: bool,
        rotate: bool,
    ) -> RamResult<PolicyVersion> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let policy = policy_in(&mut tx, account_id, name).await?;
        let mut versions: Vec<(String, i64)> = sqlx::query_as(
            "SELECT version_id, created_at FROM ram_policy_versions
             WHERE account_id = ? AND policy_name = ?",
        )
        .bind(account_id)
        .bind(name)
        .fetch_all(&mut *tx)
        .await?;
        if versions.len() as i64 >= MAX_POLICY_VERSIONS {
            if !rotate {
                return Err(Refusal::TooManyVersions.into());
            }
            versions.sort_by_key(|(v, at)| (*at, version_number(v)));
            let oldest = versions
                .iter()
                .find(|(v, _)| *v != policy.default_version)
                .map(|(v, _)| v.clone())
                .ok_or(Refusal::TooManyVersions)?;
            sqlx::query(
                "DELETE FROM ram_policy_versions WHERE account_id = ? AND policy_name = ? AND version_id = ?",
            )
            .bind(account_id)
            .bind(name)
            .bind(&oldest)
            .execute(&mut *tx)
            .await?;
        }
        let next: i64 = sqlx::query_scalar(
            "UPDATE ram_policies SET next_version = next_version + 1, updated_at = ?
             WHERE account_id = ? AND name = ? RETURNING next_version - 1",
        )
        .bind(now())
        .bind(account_id)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        let version_id = format!("v{next}");
        let at = now();
        sqlx::query(
            "INSERT INTO ram_policy_versions (account_id, policy_name, version_id, document, created_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(account_id)
        .bind(name)
        .bind(&version_id)
        .bind(document)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if set_default {
            sqlx::query(
                "UPDATE ram_policies SET default_version = ? WHERE account_id = ? AND name = ?",
            )
            .bind(&version_id)
            .bind(account_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(PolicyVersion {
            version_id,
            document: document.to_owned(),
            created_at: at,
            is_default: set_default,
        })
    }

    /// SetDefaultPolicyVersion.
    pub async fn set_default_policy_version(
        &self,
        account_id: &str,
        name: &str,
        version_id: &str,
    ) -> RamResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        policy_in(&mut tx, account_id, name).await?;
        let done = sqlx::query(
            "UPDATE ram_policies SET default_version = ?1, updated_at = ?2
             WHERE account_id = ?3 AND name = ?4 AND EXISTS (
               SELECT 1 FROM ram_policy_versions
               WHERE account_id = ?3 AND policy_name = ?4 AND version_id = ?1)",
        )
        .bind(version_id)
        .bind(now())
        .bind(account_id)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Refusal::Missing(Entity::PolicyVersion).into());
        }
        tx.commit().await?;
        Ok(())
    }

    /// DeletePolicyVersion: never the default one.
    pub async fn delete_policy_version(
        &self,
        account_id: &str,
        name: &str,
        version_id: &str,
    ) -> RamResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let policy = policy_in(&mut tx, account_id, name).await?;
        if policy.default_version == version_id {
            return Err(Refusal::Conflict(Conflict::DefaultVersion).into());
        }
        let done = sqlx::query(
            "DELETE FROM ram_policy_versions WHERE account_id = ? AND policy_name = ? AND version_id = ?",
        )
        .bind(account_id)
        .bind(name)
        .bind(version_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Refusal::Missing(Entity::PolicyVersion).into());
        }
        tx.commit().await?;
        Ok(())
    }
}
