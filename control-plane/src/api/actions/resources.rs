//! The resources each ECS Action acts on, as RAM authorizes them: the ARNs of the instances or
//! security groups a call names, where ECS grants permissions per resource (StartTerminalSession
//! on `acs:ecs:<region>:<account>:instance/<id>`, as its documentation says), all of a kind for
//! calls that create or list them, and `*` for the rest (EndTerminalSession and
//! DescribeTerminalSessions are documented as "All Resources"). axtlab's recording actions act
//! on the instance of the recording, which only the database knows ([`super::recordings`]).

use axt_iam::arn;

use super::recordings;
use crate::api::{ApiError, Ctx};

/// The ARNs `ctx`'s Action acts on, or `None` for an Action ECS does not have here.
pub async fn resources(ctx: &Ctx<'_>) -> Result<Option<Vec<String>>, ApiError> {
    match ctx.action.as_str() {
        "ListTerminalSessionRecordings" | "GetTerminalSessionRecording" => {
            recordings::resources(ctx).await.map(Some)
        }
        _ => Ok(named(ctx)),
    }
}

/// The ARNs of the Actions whose parameters name them.
fn named(ctx: &Ctx<'_>) -> Option<Vec<String>> {
    let account = ctx.caller.account_id.as_str();
    let region = ctx.args.str("RegionId").unwrap_or("*");
    let instance = |id: &str| arn::instance(region, account, id);
    let group = |id: &str| arn::security_group(region, account, id);
    let instances = |name: &str| ctx.args.list(name).into_iter().map(instance).collect();
    let one = |name: &str, make: &dyn Fn(&str) -> String| {
        // A missing id is the Action's own error to report; authorize what can be named.
        vec![make(ctx.args.str(name).unwrap_or("*"))]
    };
    let every = |kind: &str| vec![format!("acs:ecs:{region}:{account}:{kind}/*")];
    Some(match ctx.action.as_str() {
        "StartTerminalSession" | "InstallCloudAssistant" => instances("InstanceId"),
        "StartInstance" | "StopInstance" | "DeregisterManagedInstance" => {
            one("InstanceId", &instance)
        }
        "RunInstances" | "DescribeInstances" | "DescribeInstanceStatus" => every("instance"),
        "JoinSecurityGroup" | "LeaveSecurityGroup" => {
            let mut both = one("InstanceId", &instance);
            both.extend(one("SecurityGroupId", &group));
            both
        }
        "AuthorizeSecurityGroup"
        | "RevokeSecurityGroup"
        | "AuthorizeSecurityGroupEgress"
        | "RevokeSecurityGroupEgress"
        | "DeleteSecurityGroup"
        | "DescribeSecurityGroupAttribute" => one("SecurityGroupId", &group),
        "CreateSecurityGroup" | "DescribeSecurityGroups" => every("securitygroup"),
        "DescribeRegions"
        | "CreateActivation"
        | "DescribeActivations"
        | "DescribeManagedInstances"
        | "DescribeCloudAssistantStatus"
        | "DescribeUserBusinessBehavior"
        | "ModifyUserBusinessBehavior"
        | "EndTerminalSession"
        | "DescribeTerminalSessions" => vec!["*".to_owned()],
        _ => return None,
    })
}
