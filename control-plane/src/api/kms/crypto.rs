//! GenerateDataKey, Encrypt and Decrypt. What a blob encrypts is a text, as the service treats
//! `Plaintext`: Encrypt's as given, GenerateDataKey's the base64 of the data key's bytes — so
//! Decrypt answers, as `Plaintext`, exactly the text that went in. An `EncryptionContext` is
//! part of the blob's associated data, so Decrypt must be given an equal one.

use std::collections::BTreeMap;

use base64::{engine::general_purpose::STANDARD, Engine as _};
use rand::{rngs::OsRng, RngCore as _};
use serde_json::{json, Value};

use super::{checked_region, named_key, no_dry_run, usable};
use crate::{
    api::{ApiError, Ctx, ErrorCode},
    store::blob_key_id,
};

/// `NumberOfBytes` of a data key.
const DATA_KEY_BYTES: std::ops::RangeInclusive<i64> = 1..=1024;
/// The most Encrypt takes, in bytes (the service's 6 KB).
const MAX_PLAINTEXT: usize = 6 * 1024;

/// The `EncryptionContext` JSON object in canonical form (keys sorted, no spaces), so that an
/// equal context written otherwise still opens the blob; empty when there is none.
fn context(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let Some(text) = ctx.args.str("EncryptionContext") else {
        return Ok(String::new());
    };
    let pairs: BTreeMap<String, String> = serde_json::from_str(text).map_err(|_| {
        ApiError::invalid("EncryptionContext", "not a JSON object of string values")
    })?;
    if pairs.is_empty() {
        return Ok(String::new());
    }
    Ok(serde_json::to_string(&pairs).unwrap_or_default())
}

/// GenerateDataKey: `NumberOfBytes` (1 to 1024) random bytes, or 32 for `KeySpec` AES_256 and
/// 16 for AES_128 (NumberOfBytes wins when both are given); answered in the clear as base64
/// `Plaintext` and sealed as `CiphertextBlob`.
pub async fn generate_data_key(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    no_dry_run(ctx)?;
    let key = named_key(ctx).await?;
    usable(&key)?;
    let by_spec = match ctx.args.str("KeySpec") {
        None | Some("AES_256") => 32,
        Some("AES_128") => 16,
        Some(other) => return Err(ApiError::invalid("KeySpec", other)),
    };
    let length = match ctx.args.int("NumberOfBytes")? {
        None => by_spec,
        Some(n) if DATA_KEY_BYTES.contains(&n) => n,
        Some(_) => {
            return Err(ApiError::invalid(
                "NumberOfBytes",
                format_args!(
                    "must be {} to {}",
                    DATA_KEY_BYTES.start(),
                    DATA_KEY_BYTES.end()
                ),
            ))
        }
    };
    let context = context(ctx)?;
    let mut data_key = vec![0u8; usize::try_from(length).unwrap_or(32)];
    OsRng.fill_bytes(&mut data_key);
    let plaintext = STANDARD.encode(&data_key);
    let store = &ctx.shared.store;
    let blob = store
        .seal_with_kms_key(&key, plaintext.as_bytes(), &context)
        .await?;
    Ok(json!({
        "KeyId": key.id,
        "KeyVersionId": key.version_id,
        "Plaintext": plaintext,
        "CiphertextBlob": blob,
    }))
}

/// Encrypt: seals `Plaintext` (at most 6 KB) under the key.
pub async fn encrypt(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    no_dry_run(ctx)?;
    let key = named_key(ctx).await?;
    usable(&key)?;
    let plaintext = ctx.args.required("Plaintext")?;
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(ApiError::invalid(
            "Plaintext",
            format_args!("longer than {MAX_PLAINTEXT} bytes"),
        ));
    }
    let context = context(ctx)?;
    let store = &ctx.shared.store;
    let blob = store
        .seal_with_kms_key(&key, plaintext.as_bytes(), &context)
        .await?;
    Ok(json!({"KeyId": key.id, "KeyVersionId": key.version_id, "CiphertextBlob": blob}))
}

/// Decrypt: the blob names its key, which must be the caller's, in the call's region, and
/// Enabled; a blob that does not open (altered, another context) is `InvalidParameter`.
pub async fn decrypt(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    no_dry_run(ctx)?;
    let region = checked_region(ctx)?;
    let blob = ctx.args.required("CiphertextBlob")?;
    let not_valid = || {
        ApiError::saying(
            ErrorCode::InvalidParameter,
            "The specified parameter \"CiphertextBlob\" is not valid.",
        )
    };
    let id = blob_key_id(blob).ok_or_else(not_valid)?;
    let store = &ctx.shared.store;
    let key = store
        .kms_key(&ctx.caller.account_id, region, &id)
        .await?
        .ok_or_else(|| ApiError::with(ErrorCode::KmsKeyNotFound, &id))?;
    usable(&key)?;
    let context = context(ctx)?;
    let opened = store
        .open_with_kms_key(&key, blob, &context)
        .await?
        .ok_or_else(not_valid)?;
    // Every blob seals a text (see the module's doc); one that is not was not made here.
    let plaintext = String::from_utf8(opened).map_err(|_| not_valid())?;
    Ok(json!({"KeyId": key.id, "KeyVersionId": key.version_id, "Plaintext": plaintext}))
}
