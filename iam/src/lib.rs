//! RAM's policy language, on its own: what a policy document says ([`policy`]), whether it
//! allows a request ([`evaluate`](mod@evaluate)), who may assume a role
//! ([`evaluate::trusts`]), the policies every account has ([`system`]), the names of
//! resources ([`arn`]), and a decision explained statement by statement ([`explain`]). The
//! control plane authorizes every call with it, and `axt iam simulate` evaluates with the very
//! same code.

pub mod arn;
mod condition;
pub mod evaluate;
pub mod explain;
pub mod matching;
mod parse;
pub mod policy;
pub mod system;

pub use evaluate::{
    evaluate, trusts, trusts_service, Attached, ConditionTrace, Context, Decision, Evaluation,
    PolicyType, Request, StatementTrace, Trace,
};
pub use policy::{Condition, Document, Effect, PolicyError, Principals, Statement};
