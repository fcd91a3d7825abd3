//! The KMS OpenAPI (version 2016-01-20): symmetric customer master keys and their lifecycle
//! ([`keys`]), and the data keys, Encrypt and Decrypt that Mode `Kms` sessions need
//! ([`crypto`]). Keys are regional: a call acts in its `RegionId`, else in the region its
//! signature V4 credential scope names (the SDKs send no RegionId: the real service tells
//! regions apart by endpoint, which a lab has one of), else in the first of `--regions`.

mod crypto;
mod keys;

use serde_json::Value;

use super::{ApiError, Ctx, ErrorCode};
use crate::store::{blob_key_id, KeyState, KmsKey};

/// Runs the call's KMS Action; an unknown one is `InvalidAction.NotFound`.
pub async fn dispatch(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    match ctx.action.as_str() {
        "CreateKey" => keys::create_key(ctx).await,
        "DescribeKey" => keys::describe_key(ctx).await,
        "ListKeys" => keys::list_keys(ctx).await,
        "EnableKey" => keys::set_enabled(ctx, true).await,
        "DisableKey" => keys::set_enabled(ctx, false).await,
        "ScheduleKeyDeletion" => keys::schedule_key_deletion(ctx).await,
        "CancelKeyDeletion" => keys::cancel_key_deletion(ctx).await,
        "GenerateDataKey" => crypto::generate_data_key(ctx).await,
        "Encrypt" => crypto::encrypt(ctx).await,
        "Decrypt" => crypto::decrypt(ctx).await,
        _ => Err(ApiError::from(ErrorCode::ActionNotFound)),
    }
}

/// The resources `ctx`'s Action acts on, as RAM authorizes `kms:<Action>` on them (KMS's
/// authorization table): the key container `acs:kms:<region>:<account>:key` for CreateKey and
/// ListKeys, the key `…:key/<KeyId>` for the others — for Decrypt the key its CiphertextBlob
/// names, `…:key/*` when the blob names none (the Action then reports it). `None` for an Action
/// KMS does not have here.
pub fn resources(ctx: &Ctx<'_>) -> Option<Vec<String>> {
    let region = region(ctx);
    let account = ctx.caller.account_id.as_str();
    let key = |id: &str| arn(region, account, id);
    Some(vec![match ctx.action.as_str() {
        "CreateKey" | "ListKeys" => format!("acs:kms:{region}:{account}:key"),
        "DescribeKey"
        | "EnableKey"
        | "DisableKey"
        | "ScheduleKeyDeletion"
        | "CancelKeyDeletion"
        | "GenerateDataKey"
        | "Encrypt" => {
            let reference = ctx.args.str("KeyId").unwrap_or("*");
            if reference.starts_with("acs:kms:") {
                // A key ARN names its resource itself.
                reference.to_owned()
            } else if reference.starts_with("alias/") {
                format!("acs:kms:{region}:{account}:{reference}")
            } else {
                key(reference)
            }
        }
        "Decrypt" => key(&ctx
            .args
            .str("CiphertextBlob")
            .and_then(blob_key_id)
            .unwrap_or_else(|| "*".to_owned())),
        _ => return None,
    }])
}

/// A key's ARN, `acs:kms:<region>:<account>:key/<KeyId>`.
pub fn arn(region: &str, account: &str, id: &str) -> String {
    format!("acs:kms:{region}:{account}:key/{id}")
}

/// The region the call acts in (see the module's doc); never fails, for [`resources`].
fn region<'c>(ctx: &'c Ctx<'_>) -> &'c str {
    let regions = &ctx.shared.config.regions;
    let served = |r: &&str| regions.iter().any(|s| s == r);
    ctx.args
        .str("RegionId")
        .or(ctx.scope_region.as_deref().filter(served))
        .or(regions.first().map(String::as_str))
        .unwrap_or("cn-hangzhou")
}

/// The call's region, refused when it names one the lab does not serve.
fn checked_region<'c>(ctx: &'c Ctx<'_>) -> Result<&'c str, ApiError> {
    let region = region(ctx);
    if !ctx.shared.config.regions.iter().any(|r| r == region) {
        return Err(ApiError::from(ErrorCode::RegionNotFound));
    }
    Ok(region)
}

/// What a `KeyId` parameter refers to: a KeyId, a key ARN of this account and region, or an
/// alias (which axtlab never has). Returns the KeyId.
pub fn key_id_of<'k>(reference: &'k str, region: &str, account: &str) -> Result<&'k str, ApiError> {
    let alias_arn = reference.starts_with("acs:kms:") && reference.contains(":alias/");
    if reference.starts_with("alias/") || alias_arn {
        return Err(ApiError::with(
            ErrorCode::KmsAliasNotFound,
            format_args!("{reference} (axtlab keeps no aliases)"),
        ));
    }
    match reference.strip_prefix("acs:kms:") {
        None => Ok(reference),
        // Another account's or region's key is none of this caller's keys.
        Some(rest) => match rest.split_once(":key/") {
            Some((scope, id)) if scope == format!("{region}:{account}") => Ok(id),
            _ => Err(ApiError::with(ErrorCode::KmsKeyNotFound, reference)),
        },
    }
}

/// The key a call's `KeyId` names, of the caller's account in the call's region.
async fn named_key(ctx: &Ctx<'_>) -> Result<KmsKey, ApiError> {
    let region = checked_region(ctx)?;
    let reference = ctx.args.required("KeyId")?;
    let account = &ctx.caller.account_id;
    let id = key_id_of(reference, region, account)?;
    ctx.shared
        .store
        .kms_key(account, region, id)
        .await?
        .ok_or_else(|| ApiError::with(ErrorCode::KmsKeyNotFound, reference))
}

/// Refuses cryptographic use of a key that is not Enabled, with the state table's code.
fn usable(key: &KmsKey) -> Result<(), ApiError> {
    match key.state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(ApiError::from(ErrorCode::KmsKeyDisabled)),
        KeyState::PendingDeletion => Err(ApiError::from(ErrorCode::KmsKeyPendingDeletion)),
    }
}

/// `DryRun` would have the service check and answer without acting; axtlab refuses it rather
/// than act on a call that asked not to.
fn no_dry_run(ctx: &Ctx<'_>) -> Result<(), ApiError> {
    match ctx.args.bool("DryRun")? {
        Some(true) => Err(ApiError::invalid("DryRun", "dry runs are not emulated")),
        _ => Ok(()),
    }
}

/// The key StartTerminalSession's `EncryptionOptions.KMSKeyId` names: an Enabled key of the
/// caller's account in the session's region, else `InvalidParameter.EncryptionOptionsKMSKeyId`
/// saying why.
pub async fn session_key(ctx: &Ctx<'_>, region: &str, reference: &str) -> Result<KmsKey, ApiError> {
    let invalid = |why: String| ApiError::with(ErrorCode::InvalidKmsKeyId, why);
    let account = &ctx.caller.account_id;
    let id = key_id_of(reference, region, account).map_err(|e| invalid(e.message))?;
    let key = ctx
        .shared
        .store
        .kms_key(account, region, id)
        .await?
        .ok_or_else(|| invalid(format!("There is no KMS key {reference} in {region}.")))?;
    match key.state {
        KeyState::Enabled => Ok(key),
        state => Err(invalid(format!("The KMS key {id} is {}.", state.as_str()))),
    }
}
