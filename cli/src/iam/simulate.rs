//! `axt iam simulate`: would this user or role be allowed this action on this resource? The
//! policies come from the RAM API ([`super::ram`]); the decision from [`axt_iam::evaluate`],
//! the very evaluator the control plane authorizes with, run here — nothing is called on the
//! principal's behalf.

use std::{fmt::Write as _, process::ExitCode};

use anyhow::Context as _;
use axt_iam::{Attached, Context, Decision, Document, Request};

use super::ram::{self, Fetched};
use crate::{
    api::ApiClient,
    args::{Protocol, SimulateArgs},
    profile::Settings,
};

/// The exit code of a deny, implicit or explicit: apart from 1, which says that something
/// went wrong before a decision.
pub const DENIED: u8 = 3;

/// `axt iam simulate`.
pub async fn run(settings: &Settings, args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    let client = ApiClient::new(settings)?;
    let (principal, policies) = match (&args.user, &args.role) {
        (Some(user), _) => (
            format!("user {user}"),
            ram::user_policies(&client, user).await?,
        ),
        (None, Some(role)) => (
            format!("role {role}"),
            ram::role_policies(&client, role).await?,
        ),
        (None, None) => unreachable!("clap requires --user or --role"),
    };
    let session = match &args.session_policy {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let document = Document::parse_session(&text)
                .with_context(|| format!("the session policy {}", path.display()))?;
            Some(document)
        }
        None => None,
    };
    let attached: Vec<Attached<'_>> = policies
        .iter()
        .map(|p| Attached {
            name: &p.name,
            policy_type: p.policy_type,
            document: &p.document,
        })
        .collect();
    let context = Context {
        source_ip: args.source_ip,
        // What the control plane would see on this endpoint.
        secure_transport: settings.endpoint.protocol == Protocol::Https,
        ..Context::at(chrono::Utc::now())
    };
    let request = Request {
        action: &args.action,
        resource: &args.resource,
        context: &context,
    };
    let evaluation = axt_iam::evaluate(&attached, session.as_ref(), &request);
    print!(
        "{}",
        report(&principal, &policies, session.is_some(), &evaluation.trace)
    );
    Ok(exit_code(evaluation.decision))
}

/// 0 for Allow, [`DENIED`] for either deny.
pub fn exit_code(decision: Decision) -> ExitCode {
    match decision {
        Decision::Allow => ExitCode::SUCCESS,
        Decision::ImplicitDeny | Decision::ExplicitDeny => ExitCode::from(DENIED),
    }
}

/// Who was simulated under which policies, then the rendered trace (which starts with the
/// decision).
fn report(principal: &str, policies: &[Fetched], session: bool, trace: &axt_iam::Trace) -> String {
    let mut out = String::new();
    let mut names: Vec<String> = policies
        .iter()
        .map(|p| {
            let via = p
                .via_group
                .as_ref()
                .map_or(String::new(), |g| format!(", via group {g}"));
            format!("{} ({}{via})", p.name, ram::type_name(p.policy_type))
        })
        .collect();
    if session {
        names.push(axt_iam::evaluate::SESSION_POLICY_NAME.to_owned());
    }
    let listed = if names.is_empty() {
        "no policies".to_owned()
    } else {
        names.join(", ")
    };
    let _ = writeln!(out, "Simulated for {principal}, under {listed}");
    out.push_str(&axt_iam::explain::render(trace));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axt_iam::{PolicyType, Trace};

    #[test]
    fn names_every_policy_and_where_it_came_from() {
        let document = Document::parse(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}]}"#,
        )
        .unwrap();
        let policies = [
            Fetched {
                name: "own".into(),
                policy_type: PolicyType::Custom,
                via_group: None,
                document: document.clone(),
            },
            Fetched {
                name: "AliyunECSReadOnlyAccess".into(),
                policy_type: PolicyType::System,
                via_group: Some("ops".into()),
                document,
            },
        ];
        let trace = Trace {
            action: "ecs:StartTerminalSession".into(),
            resource: "*".into(),
            decision: Decision::ImplicitDeny,
            statements: Vec::new(),
        };
        let text = report("user u", &policies, true, &trace);
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            "Simulated for user u, under own (Custom), AliyunECSReadOnlyAccess (System, via \
             group ops), session policy"
        );
        assert!(text.contains("ecs:StartTerminalSession"), "{text}");
        assert_eq!(
            report("role r", &[], false, &trace).lines().next().unwrap(),
            "Simulated for role r, under no policies"
        );
    }

    #[test]
    fn exits_3_for_either_deny() {
        assert_eq!(exit_code(Decision::Allow), ExitCode::SUCCESS);
        assert_eq!(exit_code(Decision::ImplicitDeny), ExitCode::from(DENIED));
        assert_eq!(exit_code(Decision::ExplicitDeny), ExitCode::from(DENIED));
    }
}
