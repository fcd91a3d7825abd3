//! What each RAM action acts on, for authorization: the resource ARNs of RAM's own
//! authorization tables — `acs:ram:*:<account>:user/<UserName>`, `…:group/<GroupName>`,
//! `…:role/<RoleName>`, `…:policy/<PolicyName>` (a system policy's account is `system`), and
//! `…:user/*`-style wildcards for the Create and List calls, which act on no one entity.

use crate::api::{Args, Caller, Ctx, Principal};

/// `acs:ram:*:<account>:<kind>/<name>`, or `<kind>/*` when the call names none.
fn arn(account: &str, kind: &str, name: Option<&str>) -> String {
    format!("acs:ram:*:{account}:{kind}/{}", name.unwrap_or("*"))
}

/// The resource ARN(s) the RAM action `ram:<ctx.action>` acts on, or `None` for an action RAM
/// does not have (answered `InvalidAction.NotFound`, whoever asks). A parameter the call lacks
/// becomes `*` (the call then fails on it after authorization).
pub fn resources(ctx: &Ctx<'_>) -> Option<Vec<String>> {
    of(&ctx.action, &ctx.args, &ctx.caller)
}

/// [`resources`], from the parts of the call it reads.
fn of(action: &str, args: &Args<'_>, caller: &Caller) -> Option<Vec<String>> {
    let account = caller.account_id.as_str();
    let arg = |name: &str| args.str(name);
    let user = || arn(account, "user", arg("UserName"));
    let group = || arn(account, "group", arg("GroupName"));
    // Role names are matched ignoring case and written in lower case in ARNs.
    let role = || {
        let name = arg("RoleName").map(str::to_lowercase);
        arn(account, "role", name.as_deref())
    };
    let policy = || match arg("PolicyType") {
        Some("System") => arn("system", "policy", arg("PolicyName")),
        _ => arn(account, "policy", arg("PolicyName")),
    };
    // Without UserName the AccessKey calls act on the caller's own keys.
    let key_owner = || match (arg("UserName"), &caller.principal) {
        (Some(name), _) => arn(account, "user", Some(name)),
        (None, Principal::User { name, .. }) => arn(account, "user", Some(name)),
        (None, _) => arn(account, "user", None),
    };
    Some(match action {
        "CreateUser" | "ListUsers" => vec![arn(account, "user", None)],
        "GetUser" | "UpdateUser" | "DeleteUser" | "ListGroupsForUser" | "ListPoliciesForUser" => {
            vec![user()]
        }
        "CreateAccessKey" | "ListAccessKeys" | "UpdateAccessKey" | "DeleteAccessKey" => {
            vec![key_owner()]
        }
        "CreateGroup" | "ListGroups" => vec![arn(account, "group", None)],
        "GetGroup"
        | "UpdateGroup"
        | "DeleteGroup"
        | "ListUsersForGroup"
        | "ListPoliciesForGroup" => vec![group()],
        "AddUserToGroup" | "RemoveUserFromGroup" => vec![group(), user()],
        "CreateRole" | "ListRoles" => vec![arn(account, "role", None)],
        "GetRole" | "UpdateRole" | "DeleteRole" | "ListPoliciesForRole" => vec![role()],
        "CreatePolicy" | "ListPolicies" => vec![arn(account, "policy", None)],
        "GetPolicy"
        | "UpdatePolicyDescription"
        | "DeletePolicy"
        | "CreatePolicyVersion"
        | "GetPolicyVersion"
        | "ListPolicyVersions"
        | "SetDefaultPolicyVersion"
        | "DeletePolicyVersion"
        | "ListEntitiesForPolicy" => vec![policy()],
        "AttachPolicyToUser" | "DetachPolicyFromUser" => vec![user(), policy()],
        "AttachPolicyToGroup" | "DetachPolicyFromGroup" => vec![group(), policy()],
        "AttachPolicyToRole" | "DetachPolicyFromRole" => vec![role(), policy()],
        "GetAccountAlias" | "DecodeDiagnosticMessage" => vec!["*".to_owned()],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use axt_proto::openapi::Params;

    use super::*;

    fn caller(principal: Principal) -> Caller {
        Caller {
            access_key_id: "LTAIkey".into(),
            account_id: "1234567890123456".into(),
            principal,
        }
    }

    fn of_call(action: &str, pairs: &[(&str, &str)], principal: Principal) -> Vec<String> {
        let params: Params = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        of(action, &Args(&params), &caller(principal)).unwrap_or_default()
    }

    #[test]
    fn each_action_names_what_it_acts_on() {
        let root = || Principal::Root;
        let acct = "acs:ram:*:1234567890123456";
        assert_eq!(
            of_call("CreateUser", &[("UserName", "bob")], root()),
            [format!("{acct}:user/*")]
        );
        assert_eq!(
            of_call("GetUser", &[("UserName", "bob")], root()),
            [format!("{acct}:user/bob")]
        );
        assert_eq!(
            of_call("ListRoles", &[], root()),
            [format!("{acct}:role/*")]
        );
        assert_eq!(
            of_call("GetRole", &[("RoleName", "ECSAdmin")], root()),
            [format!("{acct}:role/ecsadmin")]
        );
        assert_eq!(
            of_call(
                "AddUserToGroup",
                &[("GroupName", "devs"), ("UserName", "bob")],
                root()
            ),
            [format!("{acct}:group/devs"), format!("{acct}:user/bob")]
        );
        assert_eq!(
            of_call(
                "AttachPolicyToRole",
                &[
                    ("RoleName", "Ops"),
                    ("PolicyType", "System"),
                    ("PolicyName", "ReadOnlyAccess")
                ],
                root()
            ),
            [
                format!("{acct}:role/ops"),
                "acs:ram:*:system:policy/ReadOnlyAccess".to_owned()
            ]
        );
        assert_eq!(
            of_call("CreatePolicyVersion", &[("PolicyName", "Mine")], root()),
            [format!("{acct}:policy/Mine")]
        );
        assert_eq!(of_call("GetAccountAlias", &[], root()), ["*"]);
    }

    #[test]
    fn a_users_own_keys_are_its_user() {
        let user = Principal::User {
            id: "1".into(),
            name: "dev".into(),
        };
        assert_eq!(
            of_call("CreateAccessKey", &[], user),
            ["acs:ram:*:1234567890123456:user/dev"]
        );
        assert_eq!(
            of_call("ListAccessKeys", &[("UserName", "ops")], Principal::Root),
            ["acs:ram:*:1234567890123456:user/ops"]
        );
    }
}
