//! RAM's rules for its parameters — names, lengths, formats, policy types and documents —
//! each refused with RAM's own code for that parameter.

use axt_iam::{Document, PolicyError, PolicyType};

use crate::api::{ApiError, Ctx, ErrorCode};

/// How a name may be spelt, and the two codes that refuse it.
pub struct NameRule {
    pub max: usize,
    pub allowed: fn(char) -> bool,
    pub invalid_chars: ErrorCode,
    pub too_long: ErrorCode,
}

fn user_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn role_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-')
}

fn policy_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

/// Display names may be written in any script; only control characters are refused.
fn display_char(c: char) -> bool {
    !c.is_control()
}

pub const USER_NAME: NameRule = NameRule {
    max: 64,
    allowed: user_char,
    invalid_chars: ErrorCode::RamUserNameInvalidChars,
    too_long: ErrorCode::RamUserNameLength,
};
pub const NEW_USER_NAME: NameRule = NameRule {
    invalid_chars: ErrorCode::RamNewUserNameInvalidChars,
    too_long: ErrorCode::RamNewUserNameLength,
    ..USER_NAME
};
pub const DISPLAY_NAME: NameRule = NameRule {
    max: 128,
    allowed: display_char,
    invalid_chars: ErrorCode::RamDisplayNameInvalidChars,
    too_long: ErrorCode::RamDisplayNameLength,
};
pub const NEW_DISPLAY_NAME: NameRule = NameRule {
    invalid_chars: ErrorCode::RamNewDisplayNameInvalidChars,
    too_long: ErrorCode::RamNewDisplayNameLength,
    ..DISPLAY_NAME
};
pub const GROUP_NAME: NameRule = NameRule {
    max: 64,
    allowed: user_char,
    invalid_chars: ErrorCode::RamGroupNameInvalidChars,
    too_long: ErrorCode::RamGroupNameLength,
};
pub const NEW_GROUP_NAME: NameRule = NameRule {
    invalid_chars: ErrorCode::RamNewGroupNameInvalidChars,
    too_long: ErrorCode::RamNewGroupNameLength,
    ..GROUP_NAME
};
pub const ROLE_NAME: NameRule = NameRule {
    max: 64,
    allowed: role_char,
    invalid_chars: ErrorCode::RamRoleNameInvalidChars,
    too_long: ErrorCode::RamRoleNameLength,
};
pub const POLICY_NAME: NameRule = NameRule {
    max: 128,
    allowed: policy_char,
    invalid_chars: ErrorCode::RamPolicyNameInvalidChars,
    too_long: ErrorCode::RamPolicyNameLength,
};

/// Checks `value` against `rule`: its length first, then its characters.
pub fn name(value: &str, rule: &NameRule) -> Result<(), ApiError> {
    if value.chars().count() > rule.max {
        return Err(ApiError::from(rule.too_long));
    }
    if !value.chars().all(rule.allowed) {
        return Err(ApiError::from(rule.invalid_chars));
    }
    Ok(())
}

/// The mandatory parameter `param`, checked against `rule`.
pub fn required_name<'a>(ctx: &Ctx<'a>, param: &str, rule: &NameRule) -> Result<&'a str, ApiError> {
    let value = ctx.args.required(param)?;
    name(value, rule)?;
    Ok(value)
}

/// The optional parameter `param`, checked against `rule` when given.
pub fn optional_name<'a>(
    ctx: &Ctx<'a>,
    param: &str,
    rule: &NameRule,
) -> Result<Option<&'a str>, ApiError> {
    let value = ctx.args.str(param);
    if let Some(v) = value {
        name(v, rule)?;
    }
    Ok(value)
}

/// The optional text `param`, at most `max` characters (`code` otherwise).
pub fn text<'a>(
    ctx: &Ctx<'a>,
    param: &str,
    max: usize,
    code: ErrorCode,
) -> Result<Option<&'a str>, ApiError> {
    let value = ctx.args.str(param);
    if value.is_some_and(|v| v.chars().count() > max) {
        return Err(ApiError::from(code));
    }
    Ok(value)
}

/// `<country code>-<number>`, as `86-18600008888`.
pub fn mobile_phone<'a>(
    ctx: &Ctx<'a>,
    param: &str,
    code: ErrorCode,
) -> Result<Option<&'a str>, ApiError> {
    let value = ctx.args.str(param);
    let digits = |s: &str, range: std::ops::RangeInclusive<usize>| {
        range.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if let Some(v) = value {
        let ok = v
            .split_once('-')
            .is_some_and(|(cc, n)| digits(cc, 1..=4) && digits(n, 4..=15));
        if !ok {
            return Err(ApiError::from(code));
        }
    }
    Ok(value)
}

/// An address: one `@`, something before it, a dotted domain after it, no spaces.
pub fn email<'a>(ctx: &Ctx<'a>, param: &str, code: ErrorCode) -> Result<Option<&'a str>, ApiError> {
    let value = ctx.args.str(param);
    if let Some(v) = value {
        let ok = v.len() <= 128
            && !v.chars().any(char::is_whitespace)
            && v.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.split('.').count() >= 2
                    && domain.split('.').all(|p| !p.is_empty())
            });
        if !ok {
            return Err(ApiError::from(code));
        }
    }
    Ok(value)
}

/// `PolicyType`: `System` or `Custom`.
pub fn policy_type(value: &str) -> Result<PolicyType, ApiError> {
    match value {
        "System" => Ok(PolicyType::System),
        "Custom" => Ok(PolicyType::Custom),
        _ => Err(ApiError::from(ErrorCode::RamPolicyType)),
    }
}

/// The mandatory `PolicyType`.
pub fn required_policy_type(ctx: &Ctx<'_>) -> Result<PolicyType, ApiError> {
    policy_type(ctx.args.required("PolicyType")?)
}

/// How `PolicyType` is written in answers.
pub fn policy_type_name(t: PolicyType) -> &'static str {
    match t {
        PolicyType::System => "System",
        _ => "Custom",
    }
}

/// `VersionId`: `v` and a number.
pub fn version_id<'a>(ctx: &Ctx<'a>) -> Result<&'a str, ApiError> {
    let v = ctx.args.required("VersionId")?;
    let ok = v
        .strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return Err(ApiError::from(ErrorCode::RamVersionIdFormat));
    }
    Ok(v)
}

/// A (New)MaxSessionDuration: 3600 to 43200 seconds.
pub fn max_session_duration(ctx: &Ctx<'_>, param: &str) -> Result<Option<i64>, ApiError> {
    let value = ctx
        .args
        .int(param)
        .map_err(|_| ApiError::from(ErrorCode::RamMaxSessionDuration))?;
    if value.is_some_and(|v| !(3600..=43200).contains(&v)) {
        return Err(ApiError::from(ErrorCode::RamMaxSessionDuration));
    }
    Ok(value)
}

/// Validates a permission policy document (`PolicyDocument`), with the code
/// `PolicyError::code` names.
pub fn permission_document(text: &str) -> Result<(), ApiError> {
    Document::parse(text)
        .map(drop)
        .map_err(|e| policy_error(&e, ErrorCode::RamPolicyDocumentLength))
}

/// Validates a trust policy document; too long is refused with `too_long`, the code of the
/// parameter it came in (`AssumeRolePolicyDocument` or `NewAssumeRolePolicyDocument`).
pub fn trust_document(text: &str, too_long: ErrorCode) -> Result<(), ApiError> {
    Document::parse_trust(text)
        .map(drop)
        .map_err(|e| policy_error(&e, too_long))
}

/// The API error for a refused document: the code `PolicyError::code` names (found among
/// the declared codes), the parser's explanation as the message.
fn policy_error(e: &PolicyError, too_long: ErrorCode) -> ApiError {
    let code = match e {
        PolicyError::TooLong { .. } => too_long,
        _ => ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == e.code())
            .unwrap_or(ErrorCode::MalformedPolicyDocument),
    };
    ApiError::saying(code, format!("{} {e}", code.message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_for_length_then_characters() {
        assert!(name("alice.bob_1-2", &USER_NAME).is_ok());
        let long = "a".repeat(65);
        assert_eq!(
            name(&long, &USER_NAME).unwrap_err().code,
            ErrorCode::RamUserNameLength
        );
        assert_eq!(
            name("al ice", &USER_NAME).unwrap_err().code,
            ErrorCode::RamUserNameInvalidChars
        );
        assert_eq!(
            name("ops_admin", &ROLE_NAME).unwrap_err().code,
            ErrorCode::RamRoleNameInvalidChars
        );
        assert_eq!(
            name("my.policy", &POLICY_NAME).unwrap_err().code,
            ErrorCode::RamPolicyNameInvalidChars
        );
        assert!(name("张强 (ops)", &DISPLAY_NAME).is_ok());
    }

    #[test]
    fn policy_types_are_system_or_custom() {
        assert_eq!(policy_type("System").unwrap(), PolicyType::System);
        assert_eq!(policy_type("Custom").unwrap(), PolicyType::Custom);
        assert_eq!(
            policy_type("custom").unwrap_err().code,
            ErrorCode::RamPolicyType
        );
    }

    #[test]
    fn too_long_documents_get_the_parameters_code() {
        let e = PolicyError::TooLong {
            len: 7000,
            max: 6144,
        };
        assert_eq!(
            policy_error(&e, ErrorCode::RamAssumeRolePolicyDocumentLength).code,
            ErrorCode::RamAssumeRolePolicyDocumentLength
        );
        let e = PolicyError::Malformed("no Statement".into());
        let api = policy_error(&e, ErrorCode::RamPolicyDocumentLength);
        assert_eq!(api.code, ErrorCode::MalformedPolicyDocument);
        assert!(api.message.contains("no Statement"), "{}", api.message);
    }
}
