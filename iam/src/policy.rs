//! A policy document, parsed and validated as RAM validates one on create.
//!
//! SKELETON: the public types are the contract; the parser is being written.

use serde::{Deserialize, Serialize};

/// Longest document accepted, in characters (RAM's limit for a custom policy).
pub const MAX_DOCUMENT_LEN: usize = 6144;

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// One condition: `{"<operator>": {"<key>": <values>}}` unfolded, one key each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// `StringEquals`, `StringLike`, `IpAddress`, `NotIpAddress`, `Bool`, `DateLessThan`, …
    pub operator: String,
    /// `acs:SourceIp`, `acs:CurrentTime`, `acs:SecureTransport`, `acs:MFAPresent`, or a
    /// service's own key.
    pub key: String,
    /// The values (a single value is a list of one).
    pub values: Vec<String>,
}

/// The `Principal` element of a trust policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principals {
    /// `"RAM"`: account roots (`acs:ram::<account>:root`), users and roles by ARN.
    pub ram: Vec<String>,
    /// `"Service"`: cloud services (`ecs.aliyuncs.com`).
    pub service: Vec<String>,
    /// `"Federated"`: identity providers.
    pub federated: Vec<String>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    /// `Action` patterns; with `not_action`, the statement covers every action but these.
    pub actions: Vec<String>,
    pub not_action: bool,
    /// `Resource` patterns (empty in a trust policy); with `not_resource`, every resource but
    /// these.
    pub resources: Vec<String>,
    pub not_resource: bool,
    /// `Principal`, in trust policies only.
    pub principals: Option<Principals>,
    pub conditions: Vec<Condition>,
}

/// A parsed, valid document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// Always `"1"`.
    pub version: String,
    pub statements: Vec<Statement>,
}

/// Why a document is refused; each maps to RAM's own error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not JSON, or not the shape of a policy (RAM: `MalformedPolicyDocument`).
    #[error("{0}")]
    Malformed(String),
    /// Longer than [`MAX_DOCUMENT_LEN`] (RAM: `LimitExceeded.Policy.DocumentLength`…).
    #[error("the policy document is {len} characters long, more than {max}")]
    TooLong { len: usize, max: usize },
}

impl PolicyError {
    /// The RAM error code for this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "MalformedPolicyDocument",
            Self::TooLong { .. } => "LimitExceeded.Policy.DocumentLength",
        }
    }
}

impl Document {
    /// Parses and validates a permission policy (`Action` and `Resource` required, no
    /// `Principal`).
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let _ = text;
        todo!("helper: the parser")
    }

    /// Parses and validates a trust policy (`Principal` and `Action` required, no `Resource`).
    pub fn parse_trust(text: &str) -> Result<Self, PolicyError> {
        let _ = text;
        todo!("helper: the parser")
    }
}
