//! `axt iam`: RAM policies from the caller's side. [`explain`] decodes a refusal's
//! EncodedDiagnosticMessage through RAM and tells which statement decided; [`simulate`]
//! evaluates a call against a user's or role's policies, read through the RAM API ([`ram`]),
//! without making it.

pub mod explain;
pub mod ram;
pub mod simulate;

use std::process::ExitCode;

use crate::{
    args::{IamArgs, IamCommand},
    profile::Settings,
};

/// `axt iam …`.
pub async fn run(settings: &Settings, args: &IamArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        IamCommand::Explain(explain) => explain::run(settings, explain).await,
        IamCommand::Simulate(simulate) => simulate::run(settings, simulate).await,
    }
}
