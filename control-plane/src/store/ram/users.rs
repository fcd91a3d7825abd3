//! RAM users. Writes that check before they change run in `BEGIN IMMEDIATE` transactions,
//! so two racing calls cannot both pass the check.

use sqlx::{Sqlite, Transaction};

use super::{Conflict, Entity, Kind, RamError, RamResult, Refusal};
use crate::{
    ids,
    store::{now, Store},
};

/// A RAM user as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RamUser {
    /// `UserId`: 16 digits.
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub email: String,
    pub mobile_phone: String,
    pub comments: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The fields of CreateUser.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub name: String,
    pub display_name: String,
    pub email: String,
    pub mobile_phone: String,
    pub comments: String,
}

/// UpdateUser's `New*` fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub mobile_phone: Option<String>,
    pub comments: Option<String>,
}

pub(super) const USER_COLUMNS: &str =
    "id, name, display_name, email, mobile_phone, comments, created_at, updated_at";

pub(super) async fn user_in(
    tx: &mut Transaction<'_, Sqlite>,
    account_id: &str,
    name: &str,
) -> RamResult<RamUser> {
    let sql = format!("SELECT {USER_COLUMNS} FROM ram_users WHERE account_id = ? AND name = ?");
    sqlx::query_as(&sql)
        .bind(account_id)
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(Refusal::Missing(Entity::User).into())
}

/// Whether `sql` (a `SELECT EXISTS (…)` with the binds given) holds.
pub(super) async fn holds(
    tx: &mut Transaction<'_, Sqlite>,
    sql: &str,
    binds: &[&str],
) -> RamResult<bool> {
    let mut q = sqlx::query_scalar::<_, bool>(sql);
    for b in binds {
        q = q.bind(*b);
    }
    Ok(q.fetch_one(&mut **tx).await?)
}

/// Whether any policy is attached to the principal.
pub(super) async fn has_attachments(
    tx: &mut Transaction<'_, Sqlite>,
    account_id: &str,
    kind: super::Kind,
    name: &str,
) -> RamResult<bool> {
    holds(
        tx,
        "SELECT EXISTS (SELECT 1 FROM ram_attachments
         WHERE account_id = ? AND principal_type = ? AND principal_name = ?)",
        &[account_id, kind.as_str(), name],
    )
    .await
}

impl Store {
    /// CreateUser.
    pub async fn create_ram_user(&self, account_id: &str, new: &NewUser) -> RamResult<RamUser> {
        let at = now();
        let user = RamUser {
            id: ids::ram_user_id(),
            name: new.name.clone(),
            display_name: new.display_name.clone(),
            email: new.email.clone(),
            mobile_phone: new.mobile_phone.clone(),
            comments: new.comments.clone(),
            created_at: at,
            updated_at: at,
        };
        let done = sqlx::query(
            "INSERT INTO ram_users
               (id, account_id, name, display_name, email, mobile_phone, comments, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, name) DO NOTHING",
        )
        .bind(&user.id)
        .bind(account_id)
        .bind(&user.name)
        .bind(&user.display_name)
        .bind(&user.email)
        .bind(&user.mobile_phone)
        .bind(&user.comments)
        .bind(at)
        .bind(at)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Refusal::Exists(Entity::User).into());
        }
        Ok(user)
    }

    /// GetUser.
    pub async fn ram_user(&self, account_id: &str, name: &str) -> sqlx::Result<Option<RamUser>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM ram_users WHERE account_id = ? AND name = ?");
        sqlx::query_as(&sql)
            .bind(account_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
    }

    /// ListUsers: up to `limit` users named after `after`, by name.
    pub async fn list_ram_users(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> sqlx::Result<Vec<RamUser>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM ram_users WHERE account_id = ? AND name > ?
             ORDER BY name LIMIT ?"
        );
        sqlx::query_as(&sql)
            .bind(account_id)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
    }

    /// UpdateUser. A new name follows the user into its policy attachments (its keys and
    /// groups hold its id).
    pub async fn update_ram_user(
        &self,
        account_id: &str,
        name: &str,
        changes: &UserChanges,
    ) -> RamResult<RamUser> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut user = user_in(&mut tx, account_id, name).await?;
        if let Some(new_name) = changes.name.as_deref().filter(|n| *n != name) {
            match user_in(&mut tx, account_id, new_name).await {
                Ok(_) => return Err(Refusal::Exists(Entity::User).into()),
                Err(RamError::Refused(_)) => {}
                Err(db) => return Err(db),
            }
            sqlx::query(
                "UPDATE ram_attachments SET principal_name = ?
                 WHERE account_id = ? AND principal_type = 'User' AND principal_name = ?",
            )
            .bind(new_name)
            .bind(account_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
            user.name = new_name.to_owned();
        }
        let set = |field: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                v.clone_into(field);
            }
        };
        set(&mut user.display_name, &changes.display_name);
        set(&mut user.email, &changes.email);
        set(&mut user.mobile_phone, &changes.mobile_phone);
        set(&mut user.comments, &changes.comments);
        user.updated_at = now();
        sqlx::query(
            "UPDATE ram_users SET name = ?, display_name = ?, email = ?, mobile_phone = ?,
               comments = ?, updated_at = ? WHERE id = ?",
        )
        .bind(&user.name)
        .bind(&user.display_name)
        .bind(&user.email)
        .bind(&user.mobile_phone)
        .bind(&user.comments)
        .bind(user.updated_at)
        .bind(&user.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// DeleteUser: refused while the user has AccessKeys, is in a group or has policies, as
    /// RAM refuses it (in that order of checking).
    pub async fn delete_ram_user(&self, account_id: &str, name: &str) -> RamResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let user = user_in(&mut tx, account_id, name).await?;
        let id = user.id.as_str();
        if holds(
            &mut tx,
            "SELECT EXISTS (SELECT 1 FROM access_keys WHERE user_id = ?)",
            &[id],
        )
        .await?
        {
            return Err(Refusal::Conflict(Conflict::UserAccessKey).into());
        }
        if holds(
            &mut tx,
            "SELECT EXISTS (SELECT 1 FROM ram_group_members WHERE user_id = ?)",
            &[id],
        )
        .await?
        {
            return Err(Refusal::Conflict(Conflict::UserGroup).into());
        }
        if has_attachments(&mut tx, account_id, Kind::User, name).await? {
            return Err(Refusal::Conflict(Conflict::UserPolicy).into());
        }
        sqlx::query("DELETE FROM ram_users WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user's id, for its AccessKeys.
    pub(in crate::store) async fn ram_user_id(
        &self,
        account_id: &str,
        name: &str,
    ) -> RamResult<String> {
        sqlx::query_scalar("SELECT id FROM ram_users WHERE account_id = ? AND name = ?")
            .bind(account_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Refusal::Missing(Entity::User).into())
    }
}
