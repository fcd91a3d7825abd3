//! RAM: users, groups, roles, custom policies with their versions, and which policy is
//! attached to which principal — and, for the authorization hook, the policies in force for a
//! caller. Everything is per account and addressed by name, as RAM's own calls address it.
//!
//! A write that RAM may refuse (the name is taken, the entity is gone, something still hangs
//! on it) answers a [`Refusal`] rather than an API error: the store knows the state, the API
//! layer knows the codes.

mod attachments;
mod groups;
mod policies;
mod roles;
mod users;
mod versions;

use axt_iam::{system::SYSTEM_POLICIES, PolicyType};

use super::Store;

pub use attachments::{AttachedPolicy, PolicyEntities};
pub use groups::{GroupChanges, Membership, RamGroup};
pub use policies::{CustomPolicy, PolicyVersion};
pub use roles::{NewRole, RoleChanges};
pub use users::{NewUser, RamUser, UserChanges};

/// At most this many versions per custom policy (`LimitExceeded.Policy.Version`).
pub const MAX_POLICY_VERSIONS: i64 = 5;

/// A policy in force, as the evaluator needs it: the document text of its default version
/// (a system policy's built-in text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InForce {
    pub name: String,
    /// `System` or `Custom`.
    pub policy_type: PolicyType,
    pub document: String,
}

/// A RAM role as stored. Role names are unique ignoring case, because the role's ARN (which
/// STS AssumeRole is given) writes the name in lower case.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RoleRow {
    /// `RoleId`: 19 digits.
    pub id: String,
    /// `RoleName`, as created.
    pub name: String,
    pub description: String,
    /// The trust policy (`AssumeRolePolicyDocument`), as given.
    pub trust_policy: String,
    /// `MaxSessionDuration`, seconds (3600–43200).
    pub max_session_duration: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The kind of principal a policy is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
    Role,
}

impl Kind {
    /// As `ram_attachments.principal_type` stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
            Self::Role => "Role",
        }
    }
}

/// Why RAM refuses a write; the API layer maps each to its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The user, group, role or policy named does not exist.
    Missing(Entity),
    /// The name is taken.
    Exists(Entity),
    /// The user is already in the group / not in it.
    AlreadyMember,
    NotMember,
    /// The policy is already attached to / not attached to this principal.
    AlreadyAttached(Kind),
    NotAttached(Kind),
    /// Delete refused: something still hangs on the entity.
    Conflict(Conflict),
    /// The user already has the most AccessKeys allowed.
    TooManyKeys,
    /// The policy already has [`MAX_POLICY_VERSIONS`] versions.
    TooManyVersions,
}

/// An entity a refusal names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    User,
    Group,
    Role,
    Policy,
    PolicyVersion,
    AccessKey,
}

/// What keeps a delete from happening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    UserAccessKey,
    UserGroup,
    UserPolicy,
    GroupUser,
    GroupPolicy,
    RolePolicy,
    PolicyUser,
    PolicyGroup,
    PolicyRole,
    /// The policy has versions other than its default.
    PolicyVersion,
    /// The version is the policy's default.
    DefaultVersion,
}

/// A refusal, or a database failure.
#[derive(Debug)]
pub enum RamError {
    Refused(Refusal),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for RamError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e)
    }
}

impl From<Refusal> for RamError {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

/// The result of a RAM write.
pub type RamResult<T> = Result<T, RamError>;

/// `System` or `Custom`, as stored; `None` for a session policy, which is never stored.
pub fn policy_type_str(t: PolicyType) -> Option<&'static str> {
    match t {
        PolicyType::System => Some("System"),
        PolicyType::Custom => Some("Custom"),
        PolicyType::Session => None,
    }
}

/// The stored spelling back.
fn policy_type_of(text: &str) -> PolicyType {
    if text == "System" {
        PolicyType::System
    } else {
        PolicyType::Custom
    }
}

/// A system policy's description and document, by name as RAM spells it.
pub fn system_policy_text(name: &str) -> Option<(&'static str, &'static str)> {
    SYSTEM_POLICIES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, description, document)| (*description, *document))
}

/// One attachment with its custom document (NULL for a system policy).
#[derive(sqlx::FromRow)]
struct AttachedDoc {
    policy_type: String,
    policy_name: String,
    document: Option<String>,
}

impl AttachedDoc {
    /// The policy in force, or `None` when its text is gone (a system policy axtlab no longer
    /// ships): it then grants nothing.
    fn in_force(self) -> Option<InForce> {
        let policy_type = policy_type_of(&self.policy_type);
        let document = match policy_type {
            PolicyType::System => system_policy_text(&self.policy_name)?.1.to_owned(),
            _ => self.document?,
        };
        Some(InForce {
            name: self.policy_name,
            policy_type,
            document,
        })
    }
}

/// The attachments selected by `filter` (an SQL condition on `a` with binds ?1 = account,
/// ?2 = principal name), each policy once, with the default version's text of custom ones.
fn in_force_query(filter: &str) -> String {
    format!(
        "SELECT DISTINCT a.policy_type, a.policy_name, v.document
         FROM ram_attachments a
         LEFT JOIN ram_policies p
           ON a.policy_type = 'Custom' AND p.account_id = a.account_id AND p.name = a.policy_name
         LEFT JOIN ram_policy_versions v
           ON v.account_id = p.account_id AND v.policy_name = p.name AND v.version_id = p.default_version
         WHERE a.account_id = ?1 AND ({filter})
         ORDER BY a.policy_type, a.policy_name"
    )
}

impl Store {
    /// The RAM user with this id (for an AccessKey's user_id): (id, name).
    pub async fn ram_user_by_id(
        &self,
        account_id: &str,
        user_id: &str,
    ) -> sqlx::Result<Option<(String, String)>> {
        sqlx::query_as("SELECT id, name FROM ram_users WHERE account_id = ? AND id = ?")
            .bind(account_id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Every policy in force for a user: attached to it or to any group it belongs to (each
    /// once).
    pub async fn user_policies(
        &self,
        account_id: &str,
        user_name: &str,
    ) -> sqlx::Result<Vec<InForce>> {
        let sql = in_force_query(
            "(a.principal_type = 'User' AND a.principal_name = ?2)
             OR (a.principal_type = 'Group' AND a.principal_name IN (
                 SELECT g.name FROM ram_groups g
                 JOIN ram_group_members m ON m.group_id = g.id
                 JOIN ram_users u ON u.id = m.user_id
                 WHERE g.account_id = ?1 AND u.account_id = ?1 AND u.name = ?2))",
        );
        let rows: Vec<AttachedDoc> = sqlx::query_as(&sql)
            .bind(account_id)
            .bind(user_name)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().filter_map(AttachedDoc::in_force).collect())
    }

    /// Every policy attached to a role (its name matched ignoring case, as its ARN has it).
    pub async fn role_policies(
        &self,
        account_id: &str,
        role_name: &str,
    ) -> sqlx::Result<Vec<InForce>> {
        let sql =
            in_force_query("a.principal_type = 'Role' AND a.principal_name = ?2 COLLATE NOCASE");
        let rows: Vec<AttachedDoc> = sqlx::query_as(&sql)
            .bind(account_id)
            .bind(role_name)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().filter_map(AttachedDoc::in_force).collect())
    }

    /// A role by name, ignoring case (an ARN writes it in lower case).
    pub async fn ram_role(
        &self,
        account_id: &str,
        role_name: &str,
    ) -> sqlx::Result<Option<RoleRow>> {
        sqlx::query_as(
            "SELECT id, name, description, trust_policy, max_session_duration, created_at, updated_at
             FROM ram_roles WHERE account_id = ? AND name = ? COLLATE NOCASE",
        )
        .bind(account_id)
        .bind(role_name)
        .fetch_optional(&self.pool)
        .await
    }
}
