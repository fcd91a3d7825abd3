//! RAM user groups, and who is in which. Writes that check before they change run in
//! `BEGIN IMMEDIATE` transactions, like the users'.

use sqlx::{Sqlite, Transaction};

use super::{
    users::{has_attachments, holds, user_in},
    Conflict, Entity, Kind, RamError, RamResult, RamUser, Refusal,
};
use crate::{
    ids,
    store::{now, Store},
};

/// A RAM user group as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RamGroup {
    /// `GroupId`: `g-` and 16 characters.
    pub id: String,
    pub name: String,
    pub comments: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// UpdateGroup's `New*` fields.
#[derive(Debug, Clone, Default)]
pub struct GroupChanges {
    pub name: Option<String>,
    pub comments: Option<String>,
}

/// A user in a group, with when it joined.
#[derive(Debug, Clone)]
pub struct Membership<T> {
    pub entity: T,
    pub joined_at: i64,
}

const GROUP_COLUMNS: &str = "id, name, comments, created_at, updated_at";

async fn group_in(
    tx: &mut Transaction<'_, Sqlite>,
    account_id: &str,
    name: &str,
) -> RamResult<RamGroup> {
    let sql = format!("SELECT {GROUP_COLUMNS} FROM ram_groups WHERE account_id = ? AND name = ?");
    sqlx::query_as(&sql)
        .bind(account_id)
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(Refusal::Missing(Entity::Group).into())
}

impl Store {
    /// CreateGroup.
    pub async fn create_ram_group(
        &self,
        account_id: &str,
        name: &str,
        comments: &str,
    ) -> RamResult<RamGroup> {
        let at = now();
        let group = RamGroup {
            id: ids::ram_group_id(),
            name: name.to_owned(),
            comments: comments.to_owned(),
            created_at: at,
            updated_at: at,
        };
        let done = sqlx::query(
            "INSERT INTO ram_groups (id, account_id, name, comments, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, name) DO NOTHING",
        )
        .bind(&group.id)
        .bind(account_id)
        .bind(name)
        .bind(comments)
        .bind(at)
        .bind(at)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Refusal::Exists(Entity::Group).into());
        }
        Ok(group)
    }

    /// GetGroup.
    pub async fn ram_group(&self, account_id: &str, name: &str) -> sqlx::Result<Option<RamGroup>> {
        let sql =
            format!("SELECT {GROUP_COLUMNS} FROM ram_groups WHERE account_id = ? AND name = ?");
        sqlx::query_as(&sql)
            .bind(account_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
    }

    /// ListGroups: up to `limit` groups named after `after`, by name.
    pub async fn list_ram_groups(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> sqlx::Result<Vec<RamGroup>> {
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM ram_groups WHERE account_id = ? AND name > ?
             ORDER BY name LIMIT ?"
        );
        sqlx::query_as(&sql)
            .bind(account_id)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
    }

    /// UpdateGroup. A new name follows the group into its policy attachments.
    pub async fn update_ram_group(
        &self,
        account_id: &str,
        name: &str,
        changes: &GroupChanges,
    ) -> RamResult<RamGroup> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut group = group_in(&mut tx, account_id, name).await?;
        if let Some(new_name) = changes.name.as_deref().filter(|n| *n != name) {
            match group_in(&mut tx, account_id, new_name).await {
                Ok(_) => return Err(Refusal::Exists(Entity::Group).into()),
                Err(RamError::Refused(_)) => {}
                Err(db) => return Err(db),
            }
            sqlx::query(
                "UPDATE ram_attachments SET principal_name = ?
                 WHERE account_id = ? AND principal_type = 'Group' AND principal_name = ?",
            )
            .bind(new_name)
            .bind(account_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
            group.name = new_name.to_owned();
        }
        if let Some(comments) = &changes.comments {
            comments.clone_into(&mut group.comments);
        }
        group.updated_at = now();
        sqlx::query("UPDATE ram_groups SET name = ?, comments = ?, updated_at = ? WHERE id = ?")
            .bind(&group.name)
            .bind(&group.comments)
            .bind(group.updated_at)
            .bind(&group.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(group)
    }

    /// DeleteGroup: refused while it has members or policies.
    pub async fn delete_ram_group(&self, account_id: &str, name: &str) -> RamResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let group = group_in(&mut tx, account_id, name).await?;
        if holds(
            &mut tx,
            "SELECT EXISTS (SELECT 1 FROM ram_group_members WHERE group_id = ?)",
            &[&group.id],
        )
        .await?
        {
            return Err(Refusal::Conflict(Conflict::GroupUser).into());
        }
        if has_attachments(&mut tx, account_id, Kind::Group, name).await? {
            return Err(Refusal::Conflict(Conflict::GroupPolicy).into());
        }
        sqlx::query("DELETE FROM ram_groups WHERE id = ?")
            .bind(&group.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// AddUserToGroup.
    pub async fn add_user_to_group(
        &self,
        account_id: &str,
        group: &str,
        user: &str,
    ) -> RamResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let user = user_in(&mut tx, account_id, user).await?;
        let group = group_in(&mut tx, account_id, group).await?;
        let done = sqlx::query(
            "INSERT INTO ram_group_members (group_id, user_id, joined_at) VALUES (?, ?, ?)
             ON CONFLICT DO NOTHING",
        )
        .bind(&group.id)
        .bind(&user.id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Refusal::AlreadyMember.into());
        }
        tx.commit().await?;
        Ok(())
    }

    /// RemoveUserFromGroup.
    pub async fn remove_user_from_group(
        &self,
        account_id: &str,
        group: &str,
        user: &str,
    ) -> RamResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let user = user_in(&mut tx, account_id, user).await?;
        let group = group_in(&mut tx, account_id, group).await?;
        let done = sqlx::query("DELETE FROM ram_group_members WHERE group_id = ? AND user_id = ?")
            .bind(&group.id)
            .bind(&user.id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Refusal::NotMember.into());
        }
        tx.commit().await?;
        Ok(())
    }

    /// ListGroupsForUser: the user's groups, by name, with when it joined each.
    pub async fn groups_for_user(
        &self,
        account_id: &str,
        user: &str,
    ) -> RamResult<Vec<Membership<RamGroup>>> {
        let id = self.ram_user_id(account_id, user).await?;
        let rows: Vec<Joined<RamGroup>> = sqlx::query_as(
            "SELECT g.*, m.joined_at FROM ram_group_members m JOIN ram_groups g ON g.id = m.group_id
             WHERE m.user_id = ? ORDER BY g.name",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Membership::from).collect())
    }

    /// ListUsersForGroup: up to `limit` members named after `after`, by name.
    pub async fn users_for_group(
        &self,
        account_id: &str,
        group: &str,
        after: Option<&str>,
        limit: i64,
    ) -> RamResult<Vec<Membership<RamUser>>> {
        let group = self
            .ram_group(account_id, group)
            .await?
            .ok_or(Refusal::Missing(Entity::Group))?;
        let rows: Vec<Joined<RamUser>> = sqlx::query_as(
            "SELECT u.*, m.joined_at FROM ram_group_members m JOIN ram_users u ON u.id = m.user_id
             WHERE m.group_id = ? AND u.name > ? ORDER BY u.name LIMIT ?",
        )
        .bind(&group.id)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Membership::from).collect())
    }
}

/// A membership row: the user's or group's columns, and `joined_at`.
#[derive(sqlx::FromRow)]
struct Joined<T> {
    #[sqlx(flatten)]
    entity: T,
    joined_at: i64,
}

impl<T> From<Joined<T>> for Membership<T> {
    fn from(j: Joined<T>) -> Self {
        Self {
            entity: j.entity,
            joined_at: j.joined_at,
        }
    }
}
