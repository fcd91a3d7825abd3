//! A policy document, parsed and validated as RAM validates one on create.
//!
//! The walk over the JSON lives in `parse.rs`; this file holds the types every other crate sees.
//! Limits and error codes are RAM's own: `CreatePolicy` takes a document of 1 to 6,144
//! characters and answers `InvalidParameter.PolicyDocument.Length` past that and
//! `MalformedPolicyDocument` for a document it cannot accept; STS `AssumeRole` takes a session
//! policy of 1 to 2,048 characters.

use serde::{Deserialize, Serialize};

use crate::parse::{self, Kind};

/// Longest document accepted, in characters (RAM's limit for a custom policy, whitespace
/// included: RAM counts the parameter as sent, unlike IAM, which strips whitespace first).
pub const MAX_DOCUMENT_LEN: usize = 6144;

/// Longest session policy (the `Policy` parameter of STS `AssumeRole`), in characters.
pub const MAX_SESSION_POLICY_LEN: usize = 2048;

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
    /// Longer than the limit, [`MAX_DOCUMENT_LEN`] for a custom or trust policy and
    /// [`MAX_SESSION_POLICY_LEN`] for a session policy (RAM:
    /// `InvalidParameter.PolicyDocument.Length`).
    #[error("the policy document is {len} characters long, more than {max}")]
    TooLong { len: usize, max: usize },
}

impl PolicyError {
    /// The RAM error code for this refusal (HTTP 400 for both).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "MalformedPolicyDocument",
            Self::TooLong { .. } => "InvalidParameter.PolicyDocument.Length",
        }
    }
}

impl Document {
    /// Parses and validates a permission policy (`Action` and `Resource` required, no
    /// `Principal`).
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        parse::document(text, Kind::Permission, MAX_DOCUMENT_LEN)
    }

    /// Parses and validates a trust policy (`Principal` and `Action` required, no `Resource`).
    /// RAM documents no separate limit for `AssumeRolePolicyDocument`; the custom-policy limit
    /// applies here.
    pub fn parse_trust(text: &str) -> Result<Self, PolicyError> {
        parse::document(text, Kind::Trust, MAX_DOCUMENT_LEN)
    }

    /// Parses and validates a session policy, the `Policy` parameter of STS `AssumeRole`: a
    /// permission policy no longer than [`MAX_SESSION_POLICY_LEN`].
    pub fn parse_session(text: &str) -> Result<Self, PolicyError> {
        parse::document(text, Kind::Permission, MAX_SESSION_POLICY_LEN)
    }
}
