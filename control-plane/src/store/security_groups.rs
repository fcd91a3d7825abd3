//! ECS security groups: the groups here, their rules in [`rules`], and which instances are in
//! which group in [`membership`]. Each check-then-write is one SQL statement or one write
//! transaction, so that no race leaves an instance without its last group or a group past its
//! rule quota.

mod membership;
mod rules;

use rand::Rng as _;
use sqlx::{QueryBuilder, Sqlite};

pub use membership::Membership;
pub use rules::{RuleSpec, SecurityGroupRule};

use super::{now, Store};

/// Most rules, inbound and outbound together, in one group (the documented quota).
pub const MAX_RULES_PER_GROUP: i64 = 200;
/// Most groups one instance may be in (the documented default quota).
pub const MAX_GROUPS_PER_INSTANCE: i64 = 5;

/// `n` random lower-case letters and digits, as in the real ids.
fn lower_alnum(n: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// A security group id: `sg-` and 20 characters, like `sg-bp67acfmxazb4p****`.
pub fn security_group_id() -> String {
    format!("sg-{}", lower_alnum(20))
}

/// A security group rule id: `sgr-` and 20 characters.
pub fn security_group_rule_id() -> String {
    format!("sgr-{}", lower_alnum(20))
}

/// One security group, with how many instances and rules it has.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SecurityGroup {
    pub id: String,
    pub account_id: String,
    pub region_id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: String,
    /// `normal` (basic) or `enterprise` (advanced).
    pub security_group_type: String,
    /// JSON `[{"TagKey","TagValue"}]`.
    pub tags: String,
    pub created_at: i64,
    pub instance_count: i64,
    pub rule_count: i64,
}

/// A group to create.
pub struct NewSecurityGroup {
    pub id: String,
    pub account_id: String,
    pub region_id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: String,
    pub security_group_type: String,
    pub tags: String,
}

/// Which groups a DescribeSecurityGroups call wants; `None` means any.
#[derive(Default)]
pub struct SecurityGroupFilter {
    pub account_id: String,
    pub region_id: String,
    pub ids: Option<Vec<String>>,
    pub name: Option<String>,
    pub vpc_id: Option<String>,
    pub security_group_type: Option<String>,
    /// `Some(true)`: groups of a VPC only; `Some(false)`: classic ones (no VpcId) only.
    pub in_vpc: Option<bool>,
    pub offset: i64,
    pub limit: i64,
}

const GROUP_SELECT: &str = "SELECT g.*,
      (SELECT count(*) FROM instance_security_groups m WHERE m.security_group_id = g.id) AS instance_count,
      (SELECT count(*) FROM security_group_rules r WHERE r.security_group_id = g.id) AS rule_count
    FROM security_groups g";

impl SecurityGroupFilter {
    fn push_where(&self, q: &mut QueryBuilder<'_, Sqlite>) {
        q.push(" WHERE g.account_id = ")
            .push_bind(self.account_id.clone())
            .push(" AND g.region_id = ")
            .push_bind(self.region_id.clone());
        if let Some(ids) = &self.ids {
            q.push(" AND g.id IN (");
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(id.clone());
            }
            // An empty list must match nothing, not be a syntax error.
            if ids.is_empty() {
                list.push("NULL");
            }
            q.push(")");
        }
        let exact = [
            ("name", &self.name),
            ("vpc_id", &self.vpc_id),
            ("security_group_type", &self.security_group_type),
        ];
        for (column, value) in exact {
            if let Some(value) = value {
                q.push(format_args!(" AND g.{column} = "))
                    .push_bind(value.clone());
            }
        }
        if let Some(in_vpc) = self.in_vpc {
            q.push(" AND (g.vpc_id != '') = ").push_bind(in_vpc);
        }
    }
}

impl Store {
    /// Creates a group.
    pub async fn insert_security_group(&self, g: &NewSecurityGroup) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO security_groups (id, account_id, region_id, name, description, vpc_id,
               security_group_type, tags, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&g.id)
        .bind(&g.account_id)
        .bind(&g.region_id)
        .bind(&g.name)
        .bind(&g.description)
        .bind(&g.vpc_id)
        .bind(&g.security_group_type)
        .bind(&g.tags)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One group by id, whoever owns it.
    pub async fn security_group(&self, id: &str) -> sqlx::Result<Option<SecurityGroup>> {
        sqlx::query_as(&format!("{GROUP_SELECT} WHERE g.id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// A page of groups and the total that match, oldest first.
    pub async fn list_security_groups(
        &self,
        filter: &SecurityGroupFilter,
    ) -> sqlx::Result<(Vec<SecurityGroup>, i64)> {
        let mut count = QueryBuilder::new("SELECT count(*) FROM security_groups g");
        filter.push_where(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut page = QueryBuilder::new(GROUP_SELECT);
        filter.push_where(&mut page);
        page.push(" ORDER BY g.created_at, g.rowid LIMIT ")
            .push_bind(filter.limit)
            .push(" OFFSET ")
            .push_bind(filter.offset);
        let rows = page.build_query_as().fetch_all(&self.pool).await?;
        Ok((rows, total))
    }

    /// Deletes a group and its rules; `false`, and nothing deleted, while instances are in it.
    pub async fn delete_security_group(&self, id: &str) -> sqlx::Result<bool> {
        const EMPTY: &str =
            "NOT EXISTS (SELECT 1 FROM instance_security_groups WHERE security_group_id = ?)";
        let mut tx = self.pool.begin().await?;
        // A write first, so the transaction holds the write lock before it looks at members.
        sqlx::query(&format!(
            "DELETE FROM security_group_rules WHERE security_group_id = ? AND {EMPTY}"
        ))
        .bind(id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query(&format!(
            "DELETE FROM security_groups WHERE id = ? AND {EMPTY}"
        ))
        .bind(id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            tx.commit().await?;
            Ok(true)
        } else {
            tx.rollback().await?;
            Ok(false)
        }
    }
}
