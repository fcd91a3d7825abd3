//! AssumeRole: a RAM user or a role's session obtains temporary credentials of a role whose
//! trust policy names it. Parameters and error codes follow the real STS's table: the account
//! itself may not assume roles, and a role that does not trust the caller is `NoPermission`.

use axt_iam::{arn, Context, Document, PolicyError};
use secrecy::ExposeSecret as _;
use serde_json::{json, Value};

use super::{parse_role_arn, ApiError, Ctx, ErrorCode, Principal};
use crate::store::{self, NewStsCredential};

/// The shortest `DurationSeconds`: 15 minutes.
const MIN_DURATION: i64 = 900;
/// `DurationSeconds` when none is given: one hour.
const DEFAULT_DURATION: i64 = 3600;

/// AssumeRole.
pub async fn assume_role(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let caller = &ctx.caller;
    // The real STS refuses the account itself, whatever the trust policy says: only RAM
    // users and roles' sessions may assume roles.
    if caller.principal == Principal::Root {
        return Err(ApiError::with(
            ErrorCode::NoPermission,
            "Roles may not be assumed by root accounts.",
        ));
    }
    let (account, name) = parse_role_arn(ctx.args.required("RoleArn")?)
        .ok_or_else(|| ApiError::from(ErrorCode::InvalidRoleArn))?;
    let session_name = session_name(ctx.args.required("RoleSessionName")?)?;
    let duration = duration(ctx.args.str("DurationSeconds"))?;
    let session_policy = session_policy(ctx.args.str("Policy"))?;
    let store = &ctx.shared.store;
    // The role lives in the account the ARN names, which may be another (cross-account roles).
    let role = store
        .ram_role(account, name)
        .await?
        .ok_or_else(|| ApiError::from(ErrorCode::RoleNotExist))?;
    if duration > role.max_session_duration {
        return Err(ApiError::with(
            ErrorCode::InvalidDurationSeconds,
            format_args!(
                "DurationSeconds must be {MIN_DURATION} to {} (the role's MaxSessionDuration).",
                role.max_session_duration
            ),
        ));
    }
    let trusted = match Document::parse_trust(&role.trust_policy) {
        Ok(trust) => axt_iam::trusts(&trust, &caller.arn(), &caller.account_id, &context(ctx)),
        // Stored by an older version and no longer valid: a trust policy that trusts no one.
        Err(error) => {
            tracing::warn!(role = %role.name, %error, "a stored trust policy does not parse");
            false
        }
    };
    if !trusted {
        return Err(ApiError::with(
            ErrorCode::NoPermission,
            format_args!(
                "The trust policy of role {} does not name the caller.",
                role.name
            ),
        ));
    }
    let now = store::now();
    let issued = store
        .issue_sts_credential(&NewStsCredential {
            account_id: account.to_owned(),
            role_id: role.id.clone(),
            role_name: role.name.clone(),
            session_name: session_name.to_owned(),
            session_policy: session_policy.map(str::to_owned),
            caller_arn: caller.arn(),
            expires_at: now + duration,
        })
        .await?;
    // The issued id, not the role: the calls it signs are audited under that id.
    ctx.audit(&issued.access_key_id).await?;
    Ok(json!({
        "Credentials": {
            "AccessKeyId": issued.access_key_id,
            "AccessKeySecret": issued.secret.expose_secret(),
            "SecurityToken": issued.security_token.expose_secret(),
            "Expiration": store::iso(issued.expires_at),
        },
        "AssumedRoleUser": {
            "Arn": arn::assumed_role(account, &role.name, session_name),
            "AssumedRoleId": format!("{}:{session_name}", role.id),
        },
    }))
}

/// What the trust policy's conditions may look at: the caller's address and the time. The
/// listener is plain HTTP and knows no MFA; `ExternalId` is offered as `sts:ExternalId`.
fn context(ctx: &Ctx<'_>) -> Context {
    let mut extra = std::collections::BTreeMap::new();
    if let Some(external) = ctx.args.str("ExternalId") {
        extra.insert("sts:ExternalId".to_owned(), vec![external.to_owned()]);
    }
    Context {
        source_ip: ctx.client_ip.parse().ok(),
        current_time: chrono::Utc::now(),
        secure_transport: false,
        mfa_present: false,
        extra,
    }
}

/// `RoleSessionName`: 2 to 64 letters, digits, `.`, `@`, `-` and `_`.
fn session_name(name: &str) -> Result<&str, ApiError> {
    let valid = (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    valid
        .then_some(name)
        .ok_or_else(|| ApiError::from(ErrorCode::InvalidRoleSessionName))
}

/// `DurationSeconds`: at least 900, 3600 when absent; its upper bound is the role's.
fn duration(text: Option<&str>) -> Result<i64, ApiError> {
    let Some(text) = text else {
        return Ok(DEFAULT_DURATION);
    };
    text.trim()
        .parse()
        .ok()
        .filter(|d| *d >= MIN_DURATION)
        .ok_or_else(|| ApiError::from(ErrorCode::InvalidDurationSeconds))
}

/// The session `Policy`: a valid permission policy of at most 2048 characters. Kept as given;
/// the authorizer parses it again on each call the credential signs.
fn session_policy(text: Option<&str>) -> Result<Option<&str>, ApiError> {
    let Some(text) = text else {
        return Ok(None);
    };
    match Document::parse_session(text) {
        Ok(_) => Ok(Some(text)),
        Err(PolicyError::TooLong { .. }) => Err(ApiError::from(ErrorCode::PolicySize)),
        Err(PolicyError::Malformed(why)) => Err(ApiError::with(ErrorCode::PolicyGrammar, why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_and_durations_follow_the_table() {
        for good in ["ab", "alice@example.com", "ci-run_42.x", &"s".repeat(64)] {
            assert!(session_name(good).is_ok(), "{good}");
        }
        for bad in [
            "a",
            "has space",
            "ninja*turtle",
            "忍者神龟",
            &"s".repeat(65),
        ] {
            assert_eq!(
                session_name(bad).unwrap_err().code,
                ErrorCode::InvalidRoleSessionName,
                "{bad}"
            );
        }
        assert_eq!(duration(None), Ok(3600));
        assert_eq!(duration(Some("900")), Ok(900));
        for bad in ["899", "-1", "ten", "1e3"] {
            assert_eq!(
                duration(Some(bad)).unwrap_err().code,
                ErrorCode::InvalidDurationSeconds,
                "{bad}"
            );
        }
    }

    #[test]
    fn an_oversized_policy_is_refused_before_parsing() {
        let huge = "x".repeat(axt_iam::policy::MAX_SESSION_POLICY_LEN + 1);
        assert_eq!(
            session_policy(Some(&huge)).unwrap_err().code,
            ErrorCode::PolicySize
        );
        assert_eq!(session_policy(None), Ok(None));
    }
}
