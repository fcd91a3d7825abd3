//! Activations, and the registration of an agent against one: the birth of a managed instance
//! (or the claim of a simulated ECS instance by the agent that runs "inside" it).

use sqlx::QueryBuilder;

use axt_proto::internal::RegisterAgent;

use super::{now, Store};
use crate::{ids, ip_range::IpRange};

/// One activation row. The code itself is not here: only its hash is stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Activation {
    pub id: String,
    pub code_hash: String,
    pub account_id: String,
    pub region_id: String,
    pub instance_name: String,
    pub description: String,
    pub instance_count: i64,
    pub registered_count: i64,
    pub deregistered_count: i64,
    pub ttl_hours: i64,
    pub ip_address_range: String,
    pub resource_group_id: String,
    pub tags: String,
    pub disabled: bool,
    pub created_at: i64,
}

/// What CreateActivation asked for.
pub struct NewActivation {
    pub account_id: String,
    pub region_id: String,
    pub instance_name: String,
    pub description: String,
    pub instance_count: i64,
    pub ttl_hours: i64,
    pub ip_address_range: String,
    pub resource_group_id: String,
    pub tags: String,
}

/// Why a registration was refused; the gateway relays the text to the agent.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("the activation does not exist or the code does not match")]
    BadActivation,
    #[error("the activation is disabled")]
    Disabled,
    #[error("the activation expired")]
    Expired,
    #[error("the activation has registered all {0} of its instances")]
    Exhausted(i64),
    #[error("the activation belongs to region {0}")]
    WrongRegion(String),
    #[error("instance {0} cannot be claimed: unknown, managed, or already has an agent")]
    BadClaim(String),
    #[error("the public key is missing")]
    NoPublicKey,
    #[error("the address {source_ip} is outside the activation's range {range}")]
    OutsideRange { source_ip: String, range: String },
    #[error("the gateway gave no valid source address ({0:?})")]
    NoSourceAddress(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Refuses a host outside the activation's range. A source that does not parse, or a range
/// that does not (stored before ranges were checked), refuses too: a check that cannot be made
/// must not pass.
fn check_source(range: &str, source_ip: &str) -> Result<(), RegistrationError> {
    let source = source_ip
        .parse()
        .map_err(|_| RegistrationError::NoSourceAddress(source_ip.to_owned()))?;
    match range.parse::<IpRange>() {
        Ok(allowed) if allowed.admits(source) => Ok(()),
        _ => Err(RegistrationError::OutsideRange {
            source_ip: source_ip.to_owned(),
            range: range.to_owned(),
        }),
    }
}

impl Store {
    /// Creates an activation and returns its id and code (the only time the code is known).
    pub async fn create_activation(&self, a: &NewActivation) -> sqlx::Result<(String, String)> {
        let id = ids::request_id();
        let code = ids::activation_code();
        sqlx::query(
            "INSERT INTO activations (id, code_hash, account_id, region_id, instance_name,
               description, instance_count, ttl_hours, ip_address_range, resource_group_id,
               tags, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(ids::hash_secret(&code))
        .bind(&a.account_id)
        .bind(&a.region_id)
        .bind(&a.instance_name)
        .bind(&a.description)
        .bind(a.instance_count)
        .bind(a.ttl_hours)
        .bind(&a.ip_address_range)
        .bind(&a.resource_group_id)
        .bind(&a.tags)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok((id, code))
    }

    /// A page of the account's activations in a region, newest first, and the total.
    pub async fn list_activations(
        &self,
        account_id: &str,
        region_id: &str,
        activation_id: Option<&str>,
        instance_name: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> sqlx::Result<(Vec<Activation>, i64)> {
        let filter = |q: &mut QueryBuilder<'_, sqlx::Sqlite>| {
            q.push(" WHERE account_id = ")
                .push_bind(account_id.to_owned())
                .push(" AND region_id = ")
                .push_bind(region_id.to_owned());
            if let Some(id) = activation_id {
                q.push(" AND id = ").push_bind(id.to_owned());
            }
            if let Some(name) = instance_name {
                q.push(" AND instance_name = ").push_bind(name.to_owned());
            }
        };
        let mut count = QueryBuilder::new("SELECT count(*) FROM activations");
        filter(&mut count);
        let total = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut page = QueryBuilder::new("SELECT * FROM activations");
        filter(&mut page);
        page.push(" ORDER BY created_at DESC, id LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind(offset);
        Ok((page.build_query_as().fetch_all(&self.pool).await?, total))
    }

    /// Registers an agent: checks the activation, then creates the managed instance (or binds
    /// the claimed ECS instance) with the agent's public key, all in one transaction.
    pub async fn register_agent(&self, r: &RegisterAgent) -> Result<String, RegistrationError> {
        if r.public_key.trim().is_empty() {
            return Err(RegistrationError::NoPublicKey);
        }
        // IMMEDIATE: concurrent registrations against one activation queue up, so that its
        // instance count holds.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let activation: Activation = sqlx::query_as("SELECT * FROM activations WHERE id = ?")
            .bind(&r.activation_id)
            .fetch_optional(&mut *tx)
            .await?
            .filter(|a: &Activation| {
                ids::secrets_equal(&a.code_hash, &ids::hash_secret(&r.activation_code))
            })
            .ok_or(RegistrationError::BadActivation)?;
        if activation.disabled {
            return Err(RegistrationError::Disabled);
        }
        // After the code check: only a holder of the code learns what the range is.
        check_source(&activation.ip_address_range, &r.source_ip)?;
        if now() > activation.created_at + activation.ttl_hours * 3600 {
            return Err(RegistrationError::Expired);
        }
        if activation.registered_count >= activation.instance_count {
            return Err(RegistrationError::Exhausted(activation.instance_count));
        }
        if !r.region_id.is_empty() && r.region_id != activation.region_id {
            return Err(RegistrationError::WrongRegion(activation.region_id));
        }
        let id = match &r.claim_instance_id {
            Some(claim) => {
                let done = sqlx::query(
                    "UPDATE instances SET agent_public_key = ?, machine_id = ?, agent_version = ?,
                       activation_id = ?, registered_at = ?, os_name = coalesce(nullif(?, ''), os_name)
                     WHERE id = ? AND kind = 'ecs' AND account_id = ? AND region_id = ?
                       AND agent_public_key IS NULL AND deregistered = 0",
                )
                .bind(&r.public_key)
                .bind(&r.machine_id)
                .bind(&r.agent_version)
                .bind(&activation.id)
                .bind(now())
                .bind(&r.os_version)
                .bind(claim)
                .bind(&activation.account_id)
                .bind(&activation.region_id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(RegistrationError::BadClaim(claim.clone()));
                }
                claim.clone()
            }
            None => {
                let id = ids::instance_id(true);
                let name = if r.instance_name.is_empty() {
                    activation.instance_name.clone()
                } else {
                    r.instance_name.clone()
                };
                sqlx::query(
                    "INSERT INTO instances (id, kind, account_id, region_id, name, hostname, status,
                       os_type, os_name, intranet_ip, activation_id, machine_id, agent_version,
                       agent_public_key, registered_at, tags, created_at)
                     VALUES (?, 'managed', ?, ?, ?, ?, 'Running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&id)
                .bind(&activation.account_id)
                .bind(&activation.region_id)
                .bind(name)
                .bind(&r.hostname)
                .bind(if r.os_type.is_empty() { "linux" } else { r.os_type.as_str() })
                .bind(&r.os_version)
                .bind(&r.intranet_ip)
                .bind(&activation.id)
                .bind(&r.machine_id)
                .bind(&r.agent_version)
                .bind(&r.public_key)
                .bind(now())
                .bind(&activation.tags)
                .bind(now())
                .execute(&mut *tx)
                .await?;
                id
            }
        };
        sqlx::query("UPDATE activations SET registered_count = registered_count + 1 WHERE id = ?")
            .bind(&activation.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }
}
