//! Spending a verified request's SignatureNonce ([`crate::nonces`]), and how durable it must
//! be before the call runs: on disk first for a call that changes something, in the next batch
//! for one that only reads (docs/security.md §1).

use crate::{
    api::{ApiError, ErrorCode},
    nonces::{Durability, SpendError},
    Shared,
};

/// Spends `nonce` of `key_id` for a request of `action` signed at `signed_at`.
pub(super) async fn spend(
    shared: &Shared,
    key_id: &str,
    nonce: &str,
    signed_at: i64,
    action: &str,
) -> Result<(), ApiError> {
    let durability = if changes_nothing(action) {
        Durability::Batched
    } else {
        Durability::BeforeRunning
    };
    match shared
        .nonces
        .spend(key_id, nonce, signed_at, durability)
        .await
    {
        Ok(()) => Ok(()),
        Err(SpendError::Used) => Err(ApiError::from(ErrorCode::SignatureNonceUsed)),
        // The window narrowed under load: the nonce may have been forgotten for room.
        Err(SpendError::Forgotten) => Err(ApiError::with(
            ErrorCode::TimestampExpired,
            "The control plane holds no nonces that old now: sign with the current time.",
        )),
        Err(error @ SpendError::Unwritten(_)) => {
            tracing::error!(%error, "signature nonce");
            Err(ApiError::from(ErrorCode::InternalError))
        }
    }
}

/// Whether `action` only reads: its nonce need not be on disk before it runs, since replaying
/// it changes nothing. By the verbs every product names its reads with; anything else —
/// Decrypt and AssumeRole included — is taken to change something.
fn changes_nothing(action: &str) -> bool {
    ["Describe", "List", "Get"]
        .iter()
        .any(|verb| action.starts_with(verb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reads_go_on_before_their_nonce_is_written() {
        for read in ["DescribeRegions", "ListUsers", "GetCallerIdentity"] {
            assert!(changes_nothing(read), "{read}");
        }
        for write in [
            "StartTerminalSession",
            "AssumeRole",
            "Decrypt",
            "CreateAccessKey",
        ] {
            assert!(!changes_nothing(write), "{write}");
        }
    }
}
