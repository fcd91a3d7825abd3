//! RAM roles. Names are unique ignoring case and looked up ignoring case, because a role's
//! ARN — what STS AssumeRole is given — writes its name in lower case.

use super::{users::has_attachments, Conflict, Entity, Kind, RamResult, Refusal, RoleRow};
use crate::{
    ids,
    store::{now, Store},
};

/// The fields of CreateRole.
#[derive(Debug, Clone)]
pub struct NewRole {
    pub name: String,
    pub description: String,
    pub trust_policy: String,
    pub max_session_duration: i64,
}

/// UpdateRole's `New*` fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RoleChanges {
    pub description: Option<String>,
    pub trust_policy: Option<String>,
    pub max_session_duration: Option<i64>,
}

const ROLE_COLUMNS: &str =
    "id, name, description, trust_policy, max_session_duration, created_at, updated_at";

impl Store {
    /// CreateRole.
    pub async fn create_ram_role(&self, account_id: &str, new: &NewRole) -> RamResult<RoleRow> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let taken: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM ram_roles WHERE account_id = ? AND name = ? COLLATE NOCASE)",
        )
        .bind(account_id)
        .bind(&new.name)
        .fetch_one(&mut *tx)
        .await?;
        if taken {
            return Err(Refusal::Exists(Entity::Role).into());
        }
        let at = now();
        let role = RoleRow {
            id: ids::ram_role_id(),
            name: new.name.clone(),
            description: new.description.clone(),
            trust_policy: new.trust_policy.clone(),
            max_session_duration: new.max_session_duration,
            created_at: at,
            updated_at: at,
        };
        sqlx::query(
            "INSERT INTO ram_roles
               (id, account_id, name, description, trust_policy, max_session_duration, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&role.id)
        .bind(account_id)
        .bind(&role.name)
        .bind(&role.description)
        .bind(&role.trust_policy)
        .bind(role.max_session_duration)
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(role)
    }

    /// ListRoles: up to `limit` roles named after `after`, by name.
    pub async fn list_ram_roles(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> sqlx::Result<Vec<RoleRow>> {
        let sql = format!(
            "SELECT {ROLE_COLUMNS} FROM ram_roles WHERE account_id = ? AND name > ?
             ORDER BY name LIMIT ?"
        );
        sqlx::query_as(&sql)
            .bind(account_id)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
    }

    /// UpdateRole.
    pub async fn update_ram_role(
        &self,
        account_id: &str,
        name: &str,
        changes: &RoleChanges,
    ) -> RamResult<RoleRow> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let sql = format!(
            "SELECT {ROLE_COLUMNS} FROM ram_roles WHERE account_id = ? AND name = ? COLLATE NOCASE"
        );
        let mut role: RoleRow = sqlx::query_as(&sql)
            .bind(account_id)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(Refusal::Missing(Entity::Role))?;
        if let Some(d) = &changes.description {
            d.clone_into(&mut role.description);
        }
        if let Some(t) = &changes.trust_policy {
            t.clone_into(&mut role.trust_policy);
        }
        if let Some(m) = changes.max_session_duration {
            role.max_session_duration = m;
        }
        role.updated_at = now();
        sqlx::query(
            "UPDATE ram_roles SET description = ?, trust_policy = ?, max_session_duration = ?,
               updated_at = ? WHERE id = ?",
        )
        .bind(&role.description)
        .bind(&role.trust_policy)
        .bind(role.max_session_duration)
        .bind(role.updated_at)
        .bind(&role.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(role)
    }

    /// DeleteRole: refused while policies are attached. The role's STS credentials die with
    /// it (`revoked`), so a session cannot outlive the role it was a session of.
    pub async fn delete_ram_role(&self, account_id: &str, name: &str) -> RamResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let stored: String = sqlx::query_scalar(
            "SELECT name FROM ram_roles WHERE account_id = ? AND name = ? COLLATE NOCASE",
        )
        .bind(account_id)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Refusal::Missing(Entity::Role))?;
        if has_attachments(&mut tx, account_id, Kind::Role, &stored).await? {
            return Err(Refusal::Conflict(Conflict::RolePolicy).into());
        }
        sqlx::query("DELETE FROM ram_roles WHERE account_id = ? AND name = ?")
            .bind(account_id)
            .bind(&stored)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE sts_credentials SET revoked = 1
             WHERE account_id = ? AND role_name = ? COLLATE NOCASE",
        )
        .bind(account_id)
        .bind(&stored)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
