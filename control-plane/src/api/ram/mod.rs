//! The RAM OpenAPI (version 2015-05-01): users, their AccessKeys, groups, roles and policies,
//! as the `alibabacloud-ram20150501` SDK calls it — RAM's own parameters, response shapes
//! (`{"Users": {"User": [...]}}`, `IsTruncated`/`Marker` paging) and error codes. Everything
//! is per account. Authorization is not done here: the central hook does it before dispatch,
//! asking [`resources`] what each call acts on.

mod attachments;
mod diagnostic;
mod groups;
mod keys;
mod policies;
mod resources;
mod roles;
mod users;
mod validate;
mod versions;

use serde_json::{json, Value};

use super::{ApiError, Ctx, ErrorCode};
use crate::store::ram::{Conflict, Entity, Kind, RamError, Refusal};

pub use resources::resources;

/// Runs the call's RAM Action; an unknown one is `InvalidAction.NotFound`.
pub async fn dispatch(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    match ctx.action.as_str() {
        "CreateUser" => users::create_user(ctx).await,
        "GetUser" => users::get_user(ctx).await,
        "ListUsers" => users::list_users(ctx).await,
        "UpdateUser" => users::update_user(ctx).await,
        "DeleteUser" => users::delete_user(ctx).await,
        "GetAccountAlias" => users::get_account_alias(ctx).await,
        "DecodeDiagnosticMessage" => diagnostic::decode_diagnostic_message(ctx).await,
        "CreateAccessKey" => keys::create_access_key(ctx).await,
        "ListAccessKeys" => keys::list_access_keys(ctx).await,
        "UpdateAccessKey" => keys::update_access_key(ctx).await,
        "DeleteAccessKey" => keys::delete_access_key(ctx).await,
        "CreateGroup" => groups::create_group(ctx).await,
        "GetGroup" => groups::get_group(ctx).await,
        "ListGroups" => groups::list_groups(ctx).await,
        "UpdateGroup" => groups::update_group(ctx).await,
        "DeleteGroup" => groups::delete_group(ctx).await,
        "AddUserToGroup" => groups::add_user_to_group(ctx).await,
        "RemoveUserFromGroup" => groups::remove_user_from_group(ctx).await,
        "ListGroupsForUser" => groups::list_groups_for_user(ctx).await,
        "ListUsersForGroup" => groups::list_users_for_group(ctx).await,
        "CreateRole" => roles::create_role(ctx).await,
        "GetRole" => roles::get_role(ctx).await,
        "ListRoles" => roles::list_roles(ctx).await,
        "UpdateRole" => roles::update_role(ctx).await,
        "DeleteRole" => roles::delete_role(ctx).await,
        "CreatePolicy" => policies::create_policy(ctx).await,
        "GetPolicy" => policies::get_policy(ctx).await,
        "ListPolicies" => policies::list_policies(ctx).await,
        "UpdatePolicyDescription" => policies::update_policy_description(ctx).await,
        "DeletePolicy" => policies::delete_policy(ctx).await,
        "CreatePolicyVersion" => versions::create_policy_version(ctx).await,
        "GetPolicyVersion" => versions::get_policy_version(ctx).await,
        "ListPolicyVersions" => versions::list_policy_versions(ctx).await,
        "SetDefaultPolicyVersion" => versions::set_default_policy_version(ctx).await,
        "DeletePolicyVersion" => versions::delete_policy_version(ctx).await,
        "AttachPolicyToUser" => attachments::attach(ctx, Kind::User).await,
        "DetachPolicyFromUser" => attachments::detach(ctx, Kind::User).await,
        "AttachPolicyToGroup" => attachments::attach(ctx, Kind::Group).await,
        "DetachPolicyFromGroup" => attachments::detach(ctx, Kind::Group).await,
        "AttachPolicyToRole" => attachments::attach(ctx, Kind::Role).await,
        "DetachPolicyFromRole" => attachments::detach(ctx, Kind::Role).await,
        "ListPoliciesForUser" => attachments::list_for(ctx, Kind::User).await,
        "ListPoliciesForGroup" => attachments::list_for(ctx, Kind::Group).await,
        "ListPoliciesForRole" => attachments::list_for(ctx, Kind::Role).await,
        "ListEntitiesForPolicy" => attachments::list_entities_for_policy(ctx).await,
        _ => Err(ApiError::from(ErrorCode::ActionNotFound)),
    }
}

/// The code RAM answers for each refusal of the store.
impl From<RamError> for ApiError {
    fn from(e: RamError) -> Self {
        let refusal = match e {
            RamError::Db(e) => return ApiError::from(e),
            RamError::Refused(r) => r,
        };
        let code = match refusal {
            Refusal::Missing(Entity::User) => ErrorCode::EntityNotExistUser,
            Refusal::Missing(Entity::Group) => ErrorCode::EntityNotExistGroup,
            // STS declared the code first; RAM's calls say it in RAM's words.
            Refusal::Missing(Entity::Role) => {
                return ApiError::saying(ErrorCode::RoleNotExist, "The role does not exist.")
            }
            Refusal::Missing(Entity::Policy) => ErrorCode::EntityNotExistPolicy,
            Refusal::Missing(Entity::PolicyVersion) => ErrorCode::EntityNotExistPolicyVersion,
            Refusal::Missing(Entity::AccessKey) => ErrorCode::EntityNotExistUserAccessKey,
            Refusal::Exists(Entity::User) => ErrorCode::EntityAlreadyExistsUser,
            Refusal::Exists(Entity::Group) => ErrorCode::EntityAlreadyExistsGroup,
            Refusal::Exists(Entity::Role) => ErrorCode::EntityAlreadyExistsRole,
            Refusal::Exists(_) => ErrorCode::EntityAlreadyExistsPolicy,
            Refusal::AlreadyMember => ErrorCode::EntityAlreadyExistsUserGroup,
            Refusal::NotMember => ErrorCode::EntityNotExistUserGroup,
            Refusal::AlreadyAttached(Kind::User) => ErrorCode::EntityAlreadyExistsUserPolicy,
            Refusal::AlreadyAttached(Kind::Group) => ErrorCode::EntityAlreadyExistsGroupPolicy,
            Refusal::AlreadyAttached(Kind::Role) => ErrorCode::EntityAlreadyExistsRolePolicy,
            Refusal::NotAttached(Kind::User) => ErrorCode::EntityNotExistUserPolicy,
            Refusal::NotAttached(Kind::Group) => ErrorCode::EntityNotExistGroupPolicy,
            Refusal::NotAttached(Kind::Role) => ErrorCode::EntityNotExistRolePolicy,
            Refusal::Conflict(c) => match c {
                Conflict::UserAccessKey => ErrorCode::DeleteConflictUserAccessKey,
                Conflict::UserGroup => ErrorCode::DeleteConflictUserGroup,
                Conflict::UserPolicy => ErrorCode::DeleteConflictUserPolicy,
                Conflict::GroupUser => ErrorCode::DeleteConflictGroupUser,
                Conflict::GroupPolicy => ErrorCode::DeleteConflictGroupPolicy,
                Conflict::RolePolicy => ErrorCode::DeleteConflictRolePolicy,
                Conflict::PolicyUser => ErrorCode::DeleteConflictPolicyUser,
                Conflict::PolicyGroup => ErrorCode::DeleteConflictPolicyGroup,
                Conflict::PolicyRole => ErrorCode::DeleteConflictPolicyRole,
                Conflict::PolicyVersion => ErrorCode::DeleteConflictPolicyVersion,
                Conflict::DefaultVersion => ErrorCode::DeleteConflictPolicyVersionDefault,
            },
            Refusal::TooManyKeys => ErrorCode::LimitExceededUserAccessKey,
            Refusal::TooManyVersions => ErrorCode::LimitExceededPolicyVersion,
        };
        ApiError::from(code)
    }
}

/// The `EntityNotExist.*` error of an entity.
fn missing(entity: Entity) -> ApiError {
    RamError::Refused(Refusal::Missing(entity)).into()
}

/// Marker/MaxItems paging of the List calls: `MaxItems` 1 to 1000 (100 by default), and the
/// `Marker` a previous page handed out (the last name it listed, so a page never repeats or
/// skips an entry when others are created or deleted in between).
pub(super) struct Paging<'a> {
    pub after: Option<&'a str>,
    pub limit: i64,
}

impl<'a> Paging<'a> {
    fn of(ctx: &Ctx<'a>) -> Result<Self, ApiError> {
        let limit = ctx.args.int("MaxItems")?.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::invalid("MaxItems", "must be 1 to 1000"));
        }
        Ok(Self {
            after: ctx.args.str("Marker"),
            limit,
        })
    }

    /// The store is asked for one more than a page, to know whether the list goes on.
    fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts `rows` to the page and answers `{<outer>: {<inner>: [...]}, IsTruncated, Marker}`
    /// (Marker only when truncated, as RAM answers).
    fn answer<T>(
        &self,
        mut rows: Vec<T>,
        outer: &str,
        inner: &str,
        key: impl Fn(&T) -> String,
        render: impl Fn(&T) -> Value,
    ) -> Value {
        let truncated = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let list: Vec<Value> = rows.iter().map(render).collect();
        let mut out = json!({ outer: { inner: list }, "IsTruncated": truncated });
        if let (true, Some(last)) = (truncated, rows.last()) {
            out["Marker"] = key(last).into();
        }
        out
    }
}
