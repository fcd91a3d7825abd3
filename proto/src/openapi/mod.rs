//! The ECS OpenAPI (RPC style, version 2014-05-26) as it travels on the wire: RFC 3986
//! canonicalisation and both request signatures, V1 (HMAC-SHA1) and V3 (ACS3-HMAC-SHA256).
//!
//! The control plane verifies with these functions and the CLI signs with them, so a request the
//! CLI makes is checked by the very code that built it — and both are pinned to the vectors the
//! real SDKs produced (`signature-vectors.json`).

mod encode;
pub mod endpoints;
pub mod v1;
pub mod v3;

pub use encode::{canonical_query, parse_form, percent_encode, Params};

/// An AccessKey pair, as a signer holds it.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// The public half, sent with every request.
    pub access_key_id: &'a str,
    /// The secret half, which only keys the HMAC and never travels.
    pub secret: &'a str,
}

/// The API version of ECS, the product this emulator is about.
pub const API_VERSION: &str = "2014-05-26";

/// The API version of RAM (users, groups, roles, policies).
pub const RAM_VERSION: &str = "2015-05-01";

/// The API version of STS (AssumeRole, GetCallerIdentity).
pub const STS_VERSION: &str = "2015-04-01";

/// The API version of KMS (keys, data keys, Encrypt and Decrypt).
pub const KMS_VERSION: &str = "2016-01-20";

/// The timestamp format of `Timestamp` (V1) and `x-acs-date` (V3): UTC, whole seconds, `Z`.
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";
