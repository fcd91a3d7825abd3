//! Security group rules: what Authorize adds, Revoke removes and DescribeSecurityGroupAttribute
//! lists, and the inbound rules StartTerminalSession evaluates. A group's rules keep the order
//! they were created in (their rowid).

use sqlx::{QueryBuilder, Sqlite};

use super::{security_group_rule_id, MAX_RULES_PER_GROUP};
use crate::store::{now, Store};

/// What a rule says: what Authorize stores and, but for priority and description, what
/// identifies it (the service's rule identity), so what Revoke matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct RuleSpec {
    /// `ingress` or `egress`.
    pub direction: String,
    /// `tcp`, `udp`, `icmp`, `icmpv6`, `gre` or `all`.
    pub ip_protocol: String,
    /// `start/end`, or `-1/-1`.
    pub port_range: String,
    pub source_cidr_ip: String,
    pub ipv6_source_cidr_ip: String,
    pub dest_cidr_ip: String,
    pub ipv6_dest_cidr_ip: String,
    /// `accept` or `drop`.
    pub policy: String,
    /// 1 (evaluated first) to 100.
    pub priority: i64,
    pub description: String,
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SecurityGroupRule {
    pub id: String,
    pub security_group_id: String,
    pub created_at: i64,
    #[sqlx(flatten)]
    pub spec: RuleSpec,
}

/// `security_group_id = ? AND` each column of the rule identity `= ?`.
fn push_identity(q: &mut QueryBuilder<'_, Sqlite>, group_id: &str, s: &RuleSpec) {
    q.push("security_group_id = ")
        .push_bind(group_id.to_owned());
    for (column, value) in [
        ("direction", &s.direction),
        ("ip_protocol", &s.ip_protocol),
        ("port_range", &s.port_range),
        ("source_cidr_ip", &s.source_cidr_ip),
        ("ipv6_source_cidr_ip", &s.ipv6_source_cidr_ip),
        ("dest_cidr_ip", &s.dest_cidr_ip),
        ("ipv6_dest_cidr_ip", &s.ipv6_dest_cidr_ip),
        ("policy", &s.policy),
    ] {
        q.push(format_args!(" AND {column} = "))
            .push_bind(value.clone());
    }
}

impl Store {
    /// A group's rules (of one direction when given), in the order they were created.
    pub async fn security_group_rules(
        &self,
        group_id: &str,
        direction: Option<&str>,
    ) -> sqlx::Result<Vec<SecurityGroupRule>> {
        sqlx::query_as(
            "SELECT * FROM security_group_rules
             WHERE security_group_id = ? AND (? IS NULL OR direction = ?) ORDER BY rowid",
        )
        .bind(group_id)
        .bind(direction)
        .bind(direction)
        .fetch_all(&self.pool)
        .await
    }

    /// Adds rules to a group, skipping each one the group has already (the service answers
    /// success and creates nothing). `None`, and nothing added, when that would take the group
    /// past [`MAX_RULES_PER_GROUP`].
    pub async fn add_security_group_rules(
        &self,
        group_id: &str,
        rules: &[RuleSpec],
    ) -> sqlx::Result<Option<u64>> {
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        // The inserts come first, so the transaction takes the write lock before it counts.
        for s in rules {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO security_group_rules (id, security_group_id, direction, ip_protocol,
                   port_range, source_cidr_ip, ipv6_source_cidr_ip, dest_cidr_ip,
                   ipv6_dest_cidr_ip, policy, priority, description, created_at) SELECT ",
            );
            let mut values = q.separated(", ");
            values.push_bind(security_group_rule_id());
            values.push_bind(group_id.to_owned());
            for text in [
                &s.direction,
                &s.ip_protocol,
                &s.port_range,
                &s.source_cidr_ip,
                &s.ipv6_source_cidr_ip,
                &s.dest_cidr_ip,
                &s.ipv6_dest_cidr_ip,
                &s.policy,
            ] {
                values.push_bind(text.clone());
            }
            values.push_bind(s.priority);
            values.push_bind(s.description.clone());
            values.push_bind(now());
            q.push(" WHERE NOT EXISTS (SELECT 1 FROM security_group_rules WHERE ");
            push_identity(&mut q, group_id, s);
            q.push(")");
            added += q.build().execute(&mut *tx).await?.rows_affected();
        }
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM security_group_rules WHERE security_group_id = ?",
        )
        .bind(group_id)
        .fetch_one(&mut *tx)
        .await?;
        if count > MAX_RULES_PER_GROUP {
            tx.rollback().await?;
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(added))
    }

    /// Deletes rules of one direction of a group by id, all or none: `Err(id)` names the
    /// first id that is not one of them.
    pub async fn remove_security_group_rules(
        &self,
        group_id: &str,
        direction: &str,
        ids: &[&str],
    ) -> sqlx::Result<Result<u64, String>> {
        let mut tx = self.pool.begin().await?;
        let mut removed = 0;
        for id in ids {
            let done = sqlx::query(
                "DELETE FROM security_group_rules
                 WHERE id = ? AND security_group_id = ? AND direction = ?",
            )
            .bind(id)
            .bind(group_id)
            .bind(direction)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(Err(id.to_string()));
            }
            removed += 1;
        }
        tx.commit().await?;
        Ok(Ok(removed))
    }

    /// Deletes the rules with these identities (priority and description do not count); how
    /// many there were. A rule that matches none is no error: the service answers success.
    pub async fn remove_matching_rules(
        &self,
        group_id: &str,
        rules: &[RuleSpec],
    ) -> sqlx::Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut removed = 0;
        for s in rules {
            let mut q = QueryBuilder::<Sqlite>::new("DELETE FROM security_group_rules WHERE ");
            push_identity(&mut q, group_id, s);
            removed += q.build().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// The groups of an instance and the inbound rules of all of them, or `None` when the
    /// instance is in no group.
    pub async fn instance_ingress_rules(
        &self,
        instance_id: &str,
    ) -> sqlx::Result<Option<(Vec<String>, Vec<SecurityGroupRule>)>> {
        let groups = self.instance_security_groups(instance_id).await?;
        if groups.is_empty() {
            return Ok(None);
        }
        let rules = sqlx::query_as(
            "SELECT r.* FROM security_group_rules r
             JOIN instance_security_groups m ON m.security_group_id = r.security_group_id
             WHERE m.instance_id = ? AND r.direction = 'ingress' ORDER BY r.rowid",
        )
        .bind(instance_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some((groups, rules)))
    }
}
