//! The command line of `axt iam` (explain a refusal, simulate a call) and of `axt lab iam`
//! (the lab's RAM identities). Every option is also an environment variable.

use std::{net::IpAddr, path::PathBuf};

use clap::{ArgGroup, Args, Subcommand};

/// `axt iam (explain | simulate)`
#[derive(Args, Debug)]
pub struct IamArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: IamCommand,
}

/// The commands of `axt iam`.
#[derive(Subcommand, Debug)]
pub enum IamCommand {
    /// Decode the EncodedDiagnosticMessage of a refusal (RAM DecodeDiagnosticMessage) and
    /// print which statement of which policy decided, and why each other did not.
    ///
    /// The message comes from the argument, from --from (a saved error body, or any JSON or
    /// text holding it), or from stdin. Decoding needs `ram:DecodeDiagnosticMessage`.
    Explain(ExplainArgs),
    /// Evaluate a call against a user's or a role's policies without making it: the policies
    /// are read through the RAM API and evaluated here, by the control plane's own evaluator.
    ///
    /// Prints the decision and the statements; exits 0 for Allow, 3 for a deny (implicit or
    /// explicit), 1 when it could not decide.
    Simulate(SimulateArgs),
}

/// `axt iam explain [ENCODED | --from FILE]`
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The EncodedDiagnosticMessage (`-`, or none, reads stdin).
    #[arg(conflicts_with = "from")]
    pub encoded: Option<String>,
    /// A file holding the message: an error body saved from `axt api` or an SDK, the
    /// AccessDeniedDetail alone, or the bare message.
    #[arg(long, value_name = "FILE", env = "AXT_EXPLAIN_FROM")]
    pub from: Option<PathBuf>,
}

/// `axt iam simulate (--user U | --role R) --action A --resource ARN`
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("principal").required(true).args(["user", "role"])))]
pub struct SimulateArgs {
    /// The RAM user whose policies (its own and its groups') decide.
    #[arg(long, env = "AXT_SIMULATE_USER")]
    pub user: Option<String>,
    /// The RAM role whose policies decide, as for a session of that role.
    #[arg(long, env = "AXT_SIMULATE_ROLE")]
    pub role: Option<String>,
    /// A session policy (the `Policy` of AssumeRole) narrowing the role's policies: a JSON
    /// file.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "user",
        env = "AXT_SIMULATE_SESSION_POLICY"
    )]
    pub session_policy: Option<PathBuf>,
    /// The RAM action, e.g. `ecs:StartTerminalSession`.
    #[arg(long, env = "AXT_SIMULATE_ACTION")]
    pub action: String,
    /// The resource's ARN, e.g. `acs:ecs:cn-hangzhou:<account>:instance/<id>`, or `*`.
    #[arg(long, env = "AXT_SIMULATE_RESOURCE")]
    pub resource: String,
    /// The caller's address, for `acs:SourceIp` conditions (none: such conditions do not hold).
    #[arg(long, env = "AXT_SIMULATE_SOURCE_IP")]
    pub source_ip: Option<IpAddr>,
}

/// `axt lab iam (--instance-id ID | --instance-name NAME) --out FILE`
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("instance").required(true).args(["instance_id", "instance_name"])))]
pub struct LabIamArgs {
    /// The one instance lab-operator may open sessions on.
    #[arg(long, env = "AXT_LAB_INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// The same, by InstanceName (looked up with DescribeInstances).
    #[arg(long, env = "AXT_LAB_INSTANCE_NAME")]
    pub instance_name: Option<String>,
    /// The aliyun CLI config file to write the profiles to (mode 0600). Keys it already holds
    /// for users that still exist are kept.
    #[arg(long, value_name = "FILE", env = "AXT_LAB_PROFILES")]
    pub out: PathBuf,
    /// The lab CA, written into each profile as `axt_ca_cert`.
    #[arg(long, value_name = "PEM", env = "AXT_LAB_PROFILE_CA_CERT")]
    pub profile_ca_cert: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use crate::args::{Cli, Command, LabCommand};

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from([&["axt"], args].concat()).map(|cli| cli.command)
    }

    #[test]
    fn simulate_takes_one_principal_and_a_session_policy_only_for_a_role() {
        let base = ["iam", "simulate", "--action", "ecs:X", "--resource", "*"];
        let with = |extra: &[&str]| parse(&[&base[..], extra].concat());
        assert!(with(&[]).is_err(), "a principal is required");
        assert!(with(&["--user", "u", "--role", "r"]).is_err());
        assert!(with(&["--user", "u", "--session-policy", "p.json"]).is_err());
        let Ok(Command::Iam(iam)) = with(&["--role", "r", "--session-policy", "p.json"]) else {
            panic!("not iam")
        };
        let super::IamCommand::Simulate(simulate) = iam.command else {
            panic!("not simulate")
        };
        assert_eq!(simulate.role.as_deref(), Some("r"));
        assert!(with(&["--user", "u", "--source-ip", "not-an-ip"]).is_err());
    }

    #[test]
    fn explain_reads_an_argument_or_a_file_not_both() {
        assert!(parse(&["iam", "explain"]).is_ok(), "stdin");
        assert!(parse(&["iam", "explain", "AQEA"]).is_ok());
        assert!(parse(&["iam", "explain", "--from", "e.json"]).is_ok());
        assert!(parse(&["iam", "explain", "AQEA", "--from", "e.json"]).is_err());
    }

    #[test]
    fn lab_iam_needs_an_instance_and_a_file() {
        assert!(parse(&["lab", "iam", "--out", "c.json"]).is_err());
        let Ok(Command::Lab(lab)) = parse(&["lab", "iam", "--instance-name", "i", "--out", "c"])
        else {
            panic!("not lab")
        };
        assert!(matches!(lab.command, LabCommand::Iam(_)));
    }
}
