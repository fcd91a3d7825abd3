//! Instances: simulated ECS instances (`i-…`, made by RunInstances) and managed instances
//! (`mi-…`, made when an agent registers with an activation).

use sqlx::{QueryBuilder, Sqlite};

use super::{now, Store};

/// One instance row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Instance {
    pub id: String,
    /// `ecs` or `managed`.
    pub kind: String,
    pub account_id: String,
    pub region_id: String,
    pub zone_id: String,
    pub name: String,
    pub hostname: String,
    /// `Running`, `Stopped`, …
    pub status: String,
    pub instance_type: String,
    pub image_id: String,
    /// `linux` or `windows`, as agents report it.
    pub os_type: String,
    pub os_name: String,
    pub intranet_ip: String,
    pub internet_ip: String,
    pub activation_id: Option<String>,
    pub machine_id: String,
    pub agent_version: String,
    pub agent_public_key: Option<String>,
    pub registered_at: Option<i64>,
    pub last_heartbeat_at: Option<i64>,
    /// JSON `[{"TagKey","TagValue"}]`.
    pub tags: String,
    pub deregistered: bool,
    pub created_at: i64,
    /// An operation lock's reason (`security`, `financial`, …); empty when not locked.
    pub lock_reason: String,
}

impl Instance {
    /// Whether this is a managed (`mi-…`) instance.
    pub fn is_managed(&self) -> bool {
        self.kind == "managed"
    }

    /// Whether an agent heart-beat within the last `window` seconds.
    pub fn agent_online(&self, window: i64) -> bool {
        self.last_heartbeat_at.is_some_and(|t| now() - t <= window)
    }

    /// `Linux` or `Windows`, the API's spelling of the OS type.
    pub fn os_type_title(&self) -> &'static str {
        if self.os_type.eq_ignore_ascii_case("windows") {
            "Windows"
        } else {
            "Linux"
        }
    }
}

/// A simulated ECS instance to create.
pub struct NewInstance {
    pub id: String,
    pub account_id: String,
    pub region_id: String,
    pub zone_id: String,
    pub name: String,
    pub hostname: String,
    pub instance_type: String,
    pub image_id: String,
    pub intranet_ip: String,
    pub tags: String,
}

/// Which instances a Describe call wants; `None` means any.
#[derive(Default)]
pub struct InstanceFilter {
    pub account_id: String,
    pub region_id: String,
    pub ids: Option<Vec<String>>,
    pub kind: Option<&'static str>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub activation_id: Option<String>,
    pub intranet_ip: Option<String>,
    pub machine_id: Option<String>,
    pub os_type: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

impl InstanceFilter {
    fn push_where(&self, q: &mut QueryBuilder<'_, Sqlite>) {
        q.push(" WHERE deregistered = 0 AND account_id = ")
            .push_bind(self.account_id.clone())
            .push(" AND region_id = ")
            .push_bind(self.region_id.clone());
        if let Some(ids) = &self.ids {
            q.push(" AND id IN (");
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
            ("kind", self.kind.map(str::to_owned)),
            ("name", self.name.clone()),
            ("status", self.status.clone()),
            ("activation_id", self.activation_id.clone()),
            ("intranet_ip", self.intranet_ip.clone()),
            ("machine_id", self.machine_id.clone()),
        ];
        for (column, value) in exact {
            if let Some(value) = value {
                q.push(format_args!(" AND {column} = ")).push_bind(value);
            }
        }
        if let Some(os) = &self.os_type {
            q.push(" AND lower(os_type) = lower(")
                .push_bind(os.clone())
                .push(")");
        }
    }
}

impl Store {
    /// Creates simulated ECS instances, all or none, in the Running state.
    pub async fn insert_instances(&self, instances: &[NewInstance]) -> sqlx::Result<()> {
        let mut tx = self.pool.begin().await?;
        for i in instances {
            sqlx::query(
                "INSERT INTO instances (id, kind, account_id, region_id, zone_id, name, hostname,
                   status, instance_type, image_id, os_type, os_name, intranet_ip, tags, created_at)
                 VALUES (?, 'ecs', ?, ?, ?, ?, ?, 'Running', ?, ?, 'linux', 'Linux', ?, ?, ?)",
            )
            .bind(&i.id)
            .bind(&i.account_id)
            .bind(&i.region_id)
            .bind(&i.zone_id)
            .bind(&i.name)
            .bind(&i.hostname)
            .bind(&i.instance_type)
            .bind(&i.image_id)
            .bind(&i.intranet_ip)
            .bind(&i.tags)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// One instance by id, deregistered ones included.
    pub async fn instance(&self, id: &str) -> sqlx::Result<Option<Instance>> {
        sqlx::query_as("SELECT * FROM instances WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// A page of instances and the total that match.
    pub async fn list_instances(
        &self,
        filter: &InstanceFilter,
    ) -> sqlx::Result<(Vec<Instance>, i64)> {
        let mut count = QueryBuilder::new("SELECT count(*) FROM instances");
        filter.push_where(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut page = QueryBuilder::new("SELECT * FROM instances");
        filter.push_where(&mut page);
        page.push(" ORDER BY created_at, id LIMIT ")
            .push_bind(filter.limit)
            .push(" OFFSET ")
            .push_bind(filter.offset);
        let rows = page.build_query_as().fetch_all(&self.pool).await?;
        Ok((rows, total))
    }

    /// Moves an instance from `from` to `to`; `false` when it was not in `from`.
    pub async fn transition_instance(&self, id: &str, from: &str, to: &str) -> sqlx::Result<bool> {
        let done = sqlx::query("UPDATE instances SET status = ? WHERE id = ? AND status = ?")
            .bind(to)
            .bind(id)
            .bind(from)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records an agent heart-beat; `false` when the instance is unknown or deregistered.
    pub async fn heartbeat(&self, id: &str, agent_version: Option<&str>) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "UPDATE instances SET last_heartbeat_at = ?,
               agent_version = coalesce(nullif(?, ''), agent_version)
             WHERE id = ? AND deregistered = 0 AND agent_public_key IS NOT NULL",
        )
        .bind(now())
        .bind(agent_version)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deregisters a managed instance: its agent identity stops working and the activation
    /// counts one more deregistration.
    pub async fn deregister_instance(&self, id: &str) -> sqlx::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE activations SET deregistered_count = deregistered_count + 1
             WHERE id = (SELECT activation_id FROM instances WHERE id = ? AND deregistered = 0)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE instances SET deregistered = 1, agent_public_key = NULL WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// Sets the last heart-beat time directly, so tests can age an agent without waiting.
    #[doc(hidden)]
    pub async fn set_heartbeat_for_test(&self, id: &str, at: i64) -> sqlx::Result<()> {
        sqlx::query("UPDATE instances SET last_heartbeat_at = ? WHERE id = ?")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Undoes a registration at the agent's request: a managed instance is deregistered, a
    /// claimed ECS instance loses its agent. `false` when it had no agent.
    pub async fn release_agent(&self, id: &str) -> sqlx::Result<bool> {
        let Some(instance) = self.instance(id).await? else {
            return Ok(false);
        };
        if instance.deregistered || instance.agent_public_key.is_none() {
            return Ok(false);
        }
        if instance.is_managed() {
            self.deregister_instance(id).await?;
        } else {
            sqlx::query(
                "UPDATE instances SET agent_public_key = NULL, agent_version = '', last_heartbeat_at = NULL
                 WHERE id = ?",
            )
            .bind(id)
            .execute(&self.pool)
            .await?;
        }
        Ok(true)
    }
}
