//! Who is calling and what they asked for: verifies a request's signature (V4
//! `ACS4-HMAC-SHA256`, V3 `ACS3-HMAC-SHA256` or V1 `HMAC-SHA1`), its timestamp and its nonce,
//! names the caller, and takes the Action and Version only from what that signature covers.
//!
//! The plain-HTTP endpoint may have anyone on the path, so an unsigned word must never steer a
//! call: V1 signs its parameters and not its headers, so there the Action and Version are the
//! signed parameters, and an `x-acs-action`/`x-acs-version` header that says otherwise is
//! refused; V3 and V4 sign chosen headers, so there they must be among `SignedHeaders`.
//!
//! The key names the principal ([`principal`]): the account itself, a RAM user, or a role's
//! STS session, whose SecurityToken must then come signed too — V1 as the `SecurityToken`
//! parameter, V3 and V4 as the `x-acs-security-token` header (signed, as every `x-acs-*`
//! header).

mod nonce;
mod principal;
mod v4;

use axt_proto::openapi::{v1, v3, Params, TIMESTAMP_FORMAT};
use secrecy::ExposeSecret as _;

use super::{ApiError, ErrorCode};
use crate::{ids, store, Shared};

/// The V3 header that carries an STS credential's SecurityToken.
const SECURITY_TOKEN_HEADER: &str = "x-acs-security-token";

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The AccessKeyId that signed the request (`STS.…` for a role's session).
    pub access_key_id: String,
    /// The account the key belongs to.
    pub account_id: String,
    /// Who signed: the account itself, a RAM user, or a role's STS session.
    pub principal: Principal,
}

/// The identity behind an AccessKey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The account's own identity (its root AccessKey): RAM policies do not apply to it.
    Root,
    /// A RAM user.
    User { id: String, name: String },
    /// A session of a RAM role, from STS AssumeRole.
    AssumedRole {
        role_id: String,
        role_name: String,
        session_name: String,
        /// The `Policy` given to AssumeRole, which narrows the role's own policies.
        session_policy: Option<String>,
    },
}

impl Caller {
    /// `IdentityType` as DescribeTerminalSessions and GetCallerIdentity show it.
    pub fn identity_type(&self) -> &'static str {
        match self.principal {
            Principal::Root => "Account",
            Principal::User { .. } => "RAMUser",
            Principal::AssumedRole { .. } => "AssumedRoleUser",
        }
    }

    /// `PrincipalId`: the account id, the user id, or `<role id>:<session name>`.
    pub fn principal_id(&self) -> String {
        match &self.principal {
            Principal::Root => self.account_id.clone(),
            Principal::User { id, .. } => id.clone(),
            Principal::AssumedRole {
                role_id,
                session_name,
                ..
            } => format!("{role_id}:{session_name}"),
        }
    }

    /// The caller's ARN: `acs:ram::<account>:root`, `…:user/<name>` or
    /// `…:assumed-role/<role>/<session>`.
    pub fn arn(&self) -> String {
        let account = &self.account_id;
        match &self.principal {
            Principal::Root => axt_iam::arn::account_root(account),
            Principal::User { name, .. } => axt_iam::arn::user(account, name),
            Principal::AssumedRole {
                role_name,
                session_name,
                ..
            } => axt_iam::arn::assumed_role(account, role_name, session_name),
        }
    }
}

/// The parts of an HTTP request a signature covers.
pub struct Signed<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub params: &'a Params,
    /// The parameters of the query string alone, which V4 signs (the body only by its hash).
    pub query: &'a Params,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl Signed<'_> {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, by case-insensitive name, in the order received.
    fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A verified request: who signed it and the operation the signature names.
#[derive(Debug)]
pub struct Authenticated {
    pub caller: Caller,
    /// The Action, from a signed place.
    pub action: String,
    /// The API version, from a signed place.
    pub version: String,
    /// The region a V4 credential scope names; `None` for V1 and V3.
    pub scope_region: Option<String>,
}

/// What a verifier hands back.
struct Verified {
    signer: principal::Signer,
    /// The SignatureNonce, spent only once everything else passed.
    nonce: String,
    /// When the request says it was signed (Unix seconds), which bounds how long its nonce
    /// matters.
    signed_at: i64,
    /// The Action and Version, from what the signature covers.
    action: String,
    version: String,
    /// The SecurityToken, from what the signature covers.
    token: Option<String>,
    /// The region of a V4 credential scope.
    scope_region: Option<String>,
}

/// Verifies the request and returns its caller and operation. V4 or V3 when `Authorization`
/// starts with `ACS4-` or `ACS3-`, else V1 when a `Signature` parameter is present.
pub async fn authenticate(shared: &Shared, req: &Signed<'_>) -> Result<Authenticated, ApiError> {
    let Verified {
        signer,
        nonce,
        signed_at,
        action,
        version,
        token,
        scope_region,
    } = match req
        .header("authorization")
        .filter(|h| h.starts_with("ACS3-") || h.starts_with("ACS4-"))
    {
        Some(authorization) if authorization.starts_with("ACS4-") => {
            v4::verify(shared, req, authorization).await?
        }
        Some(authorization) => verify_v3(shared, req, authorization).await?,
        None if req.params.contains_key("Signature") => verify_v1(shared, req).await?,
        None => return Err(ApiError::missing("Signature")),
    };
    // Before the nonce: a credential refused for its token must not spend one.
    let principal = principal::resolve(shared, &signer, token.as_deref()).await?;
    // Only a correctly signed request may spend a nonce: otherwise anyone could burn them.
    nonce::spend(shared, &signer.id, &nonce, signed_at, &action).await?;
    Ok(Authenticated {
        caller: Caller {
            access_key_id: signer.id,
            account_id: signer.account_id,
            principal,
        },
        action,
        version,
        scope_region,
    })
}

async fn verify_v3(
    shared: &Shared,
    req: &Signed<'_>,
    authorization: &str,
) -> Result<Verified, ApiError> {
    let auth = v3::Authorization::parse(authorization)
        .map_err(|e| ApiError::with(ErrorCode::IncompleteSignature, e))?;
    let date = req
        .header("x-acs-date")
        .ok_or_else(|| ApiError::with(ErrorCode::IncompleteSignature, "x-acs-date is missing."))?;
    let signed_at = check_time(date, shared.config.max_clock_skew_secs)?;
    let nonce = header_nonce(req)?;
    all_headers_signed(req, &auth.signed_headers)?;
    let key = principal::lookup(shared, &auth.credential).await?;
    let body_hash = v3::sha256_hex(req.body);
    let payload = req.header("x-acs-content-sha256").unwrap_or(&body_hash);
    let request = v3::canonical_request(
        req.method,
        req.path,
        req.params,
        req.headers,
        &auth.signed_headers,
        payload,
    );
    let string_to_sign = v3::string_to_sign(&request);
    let expected = v3::sign(key.secret.expose_secret(), &string_to_sign);
    if !ids::secrets_equal(&expected, &auth.signature) || payload != body_hash {
        return Err(ApiError::signature_mismatch(&string_to_sign));
    }
    let (action, version, token) = signed_operation(req, &auth.signed_headers)?;
    Ok(Verified {
        signer: key.signer,
        nonce: nonce.to_owned(),
        signed_at,
        action,
        version,
        token,
        scope_region: None,
    })
}

/// The `x-acs-signature-nonce` of a V3 or V4 request.
fn header_nonce<'r>(req: &'r Signed<'_>) -> Result<&'r str, ApiError> {
    req.header("x-acs-signature-nonce").ok_or_else(|| {
        ApiError::with(
            ErrorCode::IncompleteSignature,
            "x-acs-signature-nonce is missing.",
        )
    })
}

/// Every host and x-acs-* header must be covered, or a proxy could change them unnoticed.
fn all_headers_signed(req: &Signed<'_>, signed_headers: &[String]) -> Result<(), ApiError> {
    match req.headers.iter().find(|(n, _)| {
        let n = n.to_ascii_lowercase();
        (n == "host" || n.starts_with("x-acs-")) && !signed_headers.contains(&n)
    }) {
        Some((name, _)) => Err(ApiError::with(
            ErrorCode::IncompleteSignature,
            format_args!("Header {name} is not signed."),
        )),
        None => Ok(()),
    }
}

/// The Action, Version and SecurityToken of a verified V3 or V4 request, from its signed
/// headers.
fn signed_operation(
    req: &Signed<'_>,
    signed_headers: &[String],
) -> Result<(String, String, Option<String>), ApiError> {
    // Checked here again, not only by [`all_headers_signed`], because dispatching on these two
    // is what that rule protects: relaxing it must not make an unsigned Action possible.
    let action = signed_header(req, signed_headers, "x-acs-action")?;
    let version = signed_header(req, signed_headers, "x-acs-version")?;
    // Signed by that rule whenever present; read like the two above, so that a repeated
    // header cannot sign one value and present another.
    let token = match req.header(SECURITY_TOKEN_HEADER) {
        Some(_) => Some(signed_header(req, signed_headers, SECURITY_TOKEN_HEADER)?),
        None => None,
    };
    Ok((action, version, token))
}

/// The one value of a V3 or V4 header that `SignedHeaders` lists.
fn signed_header(
    req: &Signed<'_>,
    signed_headers: &[String],
    name: &str,
) -> Result<String, ApiError> {
    if !signed_headers.iter().any(|h| h == name) {
        return Err(ApiError::with(
            ErrorCode::IncompleteSignature,
            format_args!("Header {name} must be signed."),
        ));
    }
    // Repeated, the canonical request would sign the values joined by commas, not the first
    // one that would be dispatched on.
    let mut values = req.header_values(name);
    match (values.next(), values.next()) {
        (Some(value), None) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
        _ => Err(ApiError::with(
            ErrorCode::IncompleteSignature,
            format_args!("Header {name} must be given once."),
        )),
    }
}

async fn verify_v1(shared: &Shared, req: &Signed<'_>) -> Result<Verified, ApiError> {
    let p = super::Args(req.params);
    if let Some(method) = p.str("SignatureMethod").filter(|m| *m != "HMAC-SHA1") {
        return Err(ApiError::saying(
            ErrorCode::InvalidSignatureMethod,
            format!("Specified signature method {method} is not supported."),
        ));
    }
    let signed_at = check_time(p.required("Timestamp")?, shared.config.max_clock_skew_secs)?;
    let nonce = p.required("SignatureNonce")?;
    let key = principal::lookup(shared, p.required("AccessKeyId")?).await?;
    let string_to_sign = v1::string_to_sign(req.method, req.params);
    let expected = v1::sign(key.secret.expose_secret(), &string_to_sign);
    if !ids::secrets_equal(&expected, p.str("Signature").unwrap_or("")) {
        return Err(ApiError::signature_mismatch(&string_to_sign));
    }
    // Every parameter is signed (the form body's too: they are one map, signed whole); the
    // headers are not, so they may repeat a signed value but never replace it.
    let action = p.required("Action")?;
    let version = p.required("Version")?;
    unsigned_header_agrees(req, "x-acs-action", action)?;
    unsigned_header_agrees(req, "x-acs-version", version)?;
    Ok(Verified {
        signer: key.signer,
        nonce: nonce.to_owned(),
        signed_at,
        action: action.to_owned(),
        version: version.to_owned(),
        // A parameter, so signed like every other one.
        token: p.str("SecurityToken").map(str::to_owned),
        scope_region: None,
    })
}

/// Refuses a V1 request whose unsigned header `name` says anything else than the signed
/// parameter. `IncompleteSignature`, not `InvalidParameter`: nothing is wrong with the signed
/// parameters, the request carries a claim its signature does not cover — what V3 answers for
/// an unsigned `x-acs-*` header too, so one code means "unsigned words tried to steer the call".
fn unsigned_header_agrees(req: &Signed<'_>, name: &str, signed: &str) -> Result<(), ApiError> {
    match req.header_values(name).find(|v| v.trim() != signed) {
        None => Ok(()),
        Some(_) => Err(ApiError::with(
            ErrorCode::IncompleteSignature,
            format_args!("Header {name} is not covered by the HMAC-SHA1 signature and disagrees with the signed parameters."),
        )),
    }
}

/// Accepts `2026-11-29T19:57:41Z` (or any RFC 3339 time) within `skew` seconds of now, and
/// returns it in Unix seconds.
fn check_time(text: &str, skew: i64) -> Result<i64, ApiError> {
    let at = chrono::NaiveDateTime::parse_from_str(text, TIMESTAMP_FORMAT)
        .map(|t| t.and_utc().timestamp())
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(text).map(|t| t.timestamp()))
        .map_err(|_| ApiError::from(ErrorCode::TimestampFormat))?;
    if (store::now() - at).abs() > skew {
        return Err(ApiError::from(ErrorCode::TimestampExpired));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_parsed_and_bounded() {
        let now = store::now();
        assert_eq!(check_time(&store::iso(now), 900).unwrap(), now);
        assert_eq!(
            check_time(&store::iso(store::now() - 901), 900)
                .unwrap_err()
                .code,
            ErrorCode::TimestampExpired
        );
        assert_eq!(
            check_time(&store::iso(store::now() + 901), 900)
                .unwrap_err()
                .code,
            ErrorCode::TimestampExpired
        );
        assert_eq!(
            check_time("yesterday", 900).unwrap_err().code,
            ErrorCode::TimestampFormat
        );
    }
}
