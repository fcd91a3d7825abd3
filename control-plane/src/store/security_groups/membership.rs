//! Which instances are in which security group: JoinSecurityGroup, LeaveSecurityGroup and
//! RunInstances' groups. An instance keeps at least one group once it has one, and joins at most
//! [`MAX_GROUPS_PER_INSTANCE`]: both are checked in the statement that writes, not before it.

use std::collections::HashMap;

use sqlx::{QueryBuilder, Sqlite};

use super::MAX_GROUPS_PER_INSTANCE;
use crate::store::{now, Store};

/// How a JoinSecurityGroup or LeaveSecurityGroup ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Changed,
    /// Join: the instance is in the group already.
    AlreadyIn,
    /// Join: the instance is in [`MAX_GROUPS_PER_INSTANCE`] groups already.
    Full,
    /// Join: the group was deleted meanwhile.
    GroupGone,
    /// Leave: the instance is not in the group.
    NotIn,
    /// Leave: it is the instance's last group.
    Last,
}

impl Store {
    /// Puts an instance in a group, unless it is in it or in its quota of groups already.
    pub async fn join_security_group(
        &self,
        instance_id: &str,
        group_id: &str,
    ) -> sqlx::Result<Membership> {
        let done = sqlx::query(
            "INSERT INTO instance_security_groups (instance_id, security_group_id, joined_at)
             SELECT ?, id, ? FROM security_groups WHERE id = ?
               AND NOT EXISTS (SELECT 1 FROM instance_security_groups
                               WHERE instance_id = ? AND security_group_id = ?)
               AND (SELECT count(*) FROM instance_security_groups WHERE instance_id = ?) < ?",
        )
        .bind(instance_id)
        .bind(now())
        .bind(group_id)
        .bind(instance_id)
        .bind(group_id)
        .bind(instance_id)
        .bind(MAX_GROUPS_PER_INSTANCE)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(Membership::Changed);
        }
        let groups = self.instance_security_groups(instance_id).await?;
        Ok(if groups.iter().any(|g| g == group_id) {
            Membership::AlreadyIn
        } else if groups.len() as i64 >= MAX_GROUPS_PER_INSTANCE {
            Membership::Full
        } else {
            Membership::GroupGone
        })
    }

    /// Takes an instance out of a group, unless it is not in it or it is its last group.
    pub async fn leave_security_group(
        &self,
        instance_id: &str,
        group_id: &str,
    ) -> sqlx::Result<Membership> {
        let done = sqlx::query(
            "DELETE FROM instance_security_groups WHERE instance_id = ? AND security_group_id = ?
               AND (SELECT count(*) FROM instance_security_groups WHERE instance_id = ?) > 1",
        )
        .bind(instance_id)
        .bind(group_id)
        .bind(instance_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(Membership::Changed);
        }
        let groups = self.instance_security_groups(instance_id).await?;
        Ok(if groups.iter().any(|g| g == group_id) {
            Membership::Last
        } else {
            Membership::NotIn
        })
    }

    /// Puts new instances in their groups (RunInstances), all or none.
    pub async fn add_instances_to_groups(
        &self,
        instance_ids: &[&str],
        group_ids: &[String],
    ) -> sqlx::Result<()> {
        let mut tx = self.pool.begin().await?;
        for instance in instance_ids {
            for group in group_ids {
                sqlx::query(
                    "INSERT INTO instance_security_groups (instance_id, security_group_id, joined_at)
                     VALUES (?, ?, ?)",
                )
                .bind(instance)
                .bind(group)
                .bind(now())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await
    }

    /// The groups of one instance, in the order it joined them.
    pub async fn instance_security_groups(&self, instance_id: &str) -> sqlx::Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT security_group_id FROM instance_security_groups WHERE instance_id = ?
             ORDER BY joined_at, rowid",
        )
        .bind(instance_id)
        .fetch_all(&self.pool)
        .await
    }

    /// The groups of each of `instance_ids` that is in any, for DescribeInstances.
    pub async fn security_groups_of(
        &self,
        instance_ids: &[&str],
    ) -> sqlx::Result<HashMap<String, Vec<String>>> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT instance_id, security_group_id FROM instance_security_groups
             WHERE instance_id IN (",
        );
        let mut list = q.separated(", ");
        for id in instance_ids {
            list.push_bind(id.to_string());
        }
        if instance_ids.is_empty() {
            list.push("NULL");
        }
        q.push(") ORDER BY joined_at, rowid");
        let rows: Vec<(String, String)> = q.build_query_as().fetch_all(&self.pool).await?;
        let mut groups: HashMap<String, Vec<String>> = HashMap::new();
        for (instance, group) in rows {
            groups.entry(instance).or_default().push(group);
        }
        Ok(groups)
    }
}
