//! Whose key signed a call: the account's own AccessKey, a RAM user's, or an STS credential of
//! a role's session — found by the AccessKeyId before the signature is checked, and named (the
//! SecurityToken of an STS credential checked) only once it verified.

use secrecy::SecretString;

use super::{ApiError, ErrorCode, Principal};
use crate::{ids, store, Shared};

/// A key found by its id: the secret to verify the signature with, and who it speaks for.
pub(super) struct Key {
    pub secret: SecretString,
    pub signer: Signer,
}

/// A key without its secret: what outlives verification.
pub(super) struct Signer {
    /// The AccessKeyId.
    pub id: String,
    /// The account the key acts in (for an STS credential, the role's).
    pub account_id: String,
    pub owner: Owner,
}

/// Whose the key is.
pub(super) enum Owner {
    /// The account's own (root) AccessKey.
    Account,
    /// A RAM user's AccessKey, by the user's id.
    User(String),
    /// An STS credential, issued by AssumeRole.
    Session(Session),
}

/// An STS credential, without its secret.
pub(super) struct Session {
    role_id: String,
    role_name: String,
    session_name: String,
    session_policy: Option<String>,
    token_hash: String,
    expires_at: i64,
    revoked: bool,
}

/// Finds the key `id` signed with. An unknown one is `InvalidAccessKeyId.NotFound` whatever
/// its kind; a disabled AccessKey is refused here, before any signature work, as the real
/// gateway does. An expired or revoked STS credential is still found: only a caller who proves
/// it holds the secret is told why it no longer works.
pub(super) async fn lookup(shared: &Shared, id: &str) -> Result<Key, ApiError> {
    let not_found = || ApiError::from(ErrorCode::AccessKeyNotFound);
    if id.starts_with(store::STS_KEY_PREFIX) {
        let cred = shared
            .store
            .sts_credential(id)
            .await?
            .ok_or_else(not_found)?;
        return Ok(Key {
            secret: cred.secret,
            signer: Signer {
                id: cred.access_key_id,
                account_id: cred.account_id,
                owner: Owner::Session(Session {
                    role_id: cred.role_id,
                    role_name: cred.role_name,
                    session_name: cred.session_name,
                    session_policy: cred.session_policy,
                    token_hash: cred.token_hash,
                    expires_at: cred.expires_at,
                    revoked: cred.revoked,
                }),
            },
        });
    }
    let key = shared.store.access_key(id).await?.ok_or_else(not_found)?;
    if !key.enabled {
        return Err(ApiError::from(ErrorCode::AccessKeyInactive));
    }
    Ok(Key {
        secret: key.secret,
        signer: Signer {
            id: key.id,
            account_id: key.account_id,
            owner: key.user_id.map_or(Owner::Account, Owner::User),
        },
    })
}

/// Names the principal of a verified signature. `token` is the SecurityToken the signature
/// covers, if the request carried one; keys other than STS credentials ignore it.
pub(super) async fn resolve(
    shared: &Shared,
    signer: &Signer,
    token: Option<&str>,
) -> Result<Principal, ApiError> {
    Ok(match &signer.owner {
        Owner::Account => Principal::Root,
        Owner::User(id) => {
            // A key whose user is gone cannot sign: RAM deletes a user's keys with it.
            let (_, name) = shared
                .store
                .ram_user_by_id(&signer.account_id, id)
                .await?
                .ok_or_else(|| ApiError::from(ErrorCode::AccessKeyNotFound))?;
            Principal::User {
                id: id.clone(),
                name,
            }
        }
        Owner::Session(session) => {
            check_session(session, token, store::now())?;
            Principal::AssumedRole {
                role_id: session.role_id.clone(),
                role_name: session.role_name.clone(),
                session_name: session.session_name.clone(),
                session_policy: session.session_policy.clone(),
            }
        }
    })
}

/// An STS credential works with its own SecurityToken, until it expires or is revoked. The
/// token is compared by its hash, in constant time; its expiry is told only to whoever holds
/// the token.
fn check_session(session: &Session, token: Option<&str>, now: i64) -> Result<(), ApiError> {
    let token = token.ok_or_else(|| ApiError::from(ErrorCode::MissingSecurityToken))?;
    if !store::is_security_token(token) {
        return Err(ApiError::from(ErrorCode::SecurityTokenMalformed));
    }
    if !ids::secrets_equal(&ids::hash_secret(token), &session.token_hash) {
        return Err(ApiError::from(ErrorCode::SecurityTokenMismatch));
    }
    if session.revoked {
        return Err(ApiError::with(
            ErrorCode::SecurityTokenExpired,
            "The credential was revoked: its role was deleted, or its sessions withdrawn.",
        ));
    }
    if now >= session.expires_at {
        return Err(ApiError::with(
            ErrorCode::SecurityTokenExpired,
            format_args!("It expired at {}.", store::iso(session.expires_at)),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use base64::{engine::general_purpose::STANDARD, Engine as _};

    use super::*;

    fn session(token: &str, expires_at: i64, revoked: bool) -> Session {
        Session {
            role_id: "3019487736540851234".into(),
            role_name: "Ops".into(),
            session_name: "alice".into(),
            session_policy: None,
            token_hash: ids::hash_secret(token),
            expires_at,
            revoked,
        }
    }

    #[test]
    fn a_session_needs_its_own_live_token() {
        let token = format!("CAIS{}", STANDARD.encode([1u8; 96]));
        let other = format!("CAIS{}", STANDARD.encode([2u8; 96]));
        let live = session(&token, 2_000, false);
        let code = |s: &Session, t: Option<&str>| check_session(s, t, 1_000).map_err(|e| e.code);
        assert_eq!(code(&live, Some(&token)), Ok(()));
        assert_eq!(code(&live, None), Err(ErrorCode::MissingSecurityToken));
        assert_eq!(
            code(&live, Some("nonsense")),
            Err(ErrorCode::SecurityTokenMalformed)
        );
        assert_eq!(
            code(&live, Some(&other)),
            Err(ErrorCode::SecurityTokenMismatch)
        );
        let revoked = session(&token, 2_000, true);
        assert_eq!(
            code(&revoked, Some(&token)),
            Err(ErrorCode::SecurityTokenExpired)
        );
        let expired = check_session(&session(&token, 1_000, false), Some(&token), 1_000);
        let e = expired.unwrap_err();
        assert_eq!(e.code, ErrorCode::SecurityTokenExpired);
        assert!(e.message.contains("1970-01-01T00:16:40Z"), "{}", e.message);
    }
}
