//! `DecryptDataKey`: the KMS data key of a Mode Kms session, decrypted for its agent, which has
//! no AccessKey to call KMS Decrypt with (docs/encryption.md §2). The gateway vouches only for
//! which instance asks, so everything else is checked here: the channel is live and that
//! instance's, its session is not ended and is encrypted in Mode Kms, the blob is of the
//! session's own key, and that key is still Enabled. A blob is never opened for anyone else,
//! nor for any other key.

use std::sync::Arc;

use axt_proto::{
    internal::{DataKey, DecryptDataKey, EncryptionMode, Refusal, RefusalCode},
    status::SessionState,
};

use super::{database, encryption, Answer};
use crate::{
    api::kms::key_id_of,
    store::{blob_key_id, KeyState},
    Shared,
};

pub(super) async fn decrypt_data_key(shared: Arc<Shared>, r: DecryptDataKey) -> Answer<DataKey> {
    let refused = |why: &str| {
        tracing::warn!(channel_id = %r.channel_id, instance_id = %r.instance_id, why, "data key refused");
        Refusal::new(RefusalCode::DataKeyRefused, why)
    };
    let store = &shared.store;
    let connection = store
        .connection(&r.channel_id)
        .await
        .map_err(database)?
        .filter(|c| c.instance_id == r.instance_id && c.status.is_live())
        .ok_or_else(|| {
            Refusal::new(
                RefusalCode::ChannelNotFound,
                "no live channel of this instance",
            )
        })?;
    let session = store
        .session(&connection.session_id)
        .await
        .map_err(database)?
        .ok_or_else(|| Refusal::new(RefusalCode::ChannelNotFound, "no such session"))?;
    // Its connections may live on for the moment the gateway takes to end them.
    if session.state == SessionState::Ended {
        return Err(Refusal::new(
            RefusalCode::SessionEnded,
            "the session was ended",
        ));
    }
    let Some(options) = encryption(&session).filter(|e| e.mode == EncryptionMode::Kms) else {
        return Err(refused("the session is not encrypted with a KMS key"));
    };
    // The session's KMSKeyId was a KeyId or a key ARN of its account and region when it
    // started (StartTerminalSession checked it); either way it names one KeyId.
    let session_key = key_id_of(&options.kms_key_id, &session.region_id, &session.account_id)
        .map_err(|_| refused("the session's KMSKeyId names no key"))?;
    let blob_key =
        blob_key_id(&r.ciphertext_blob).ok_or_else(|| refused("not a KMS ciphertext"))?;
    if blob_key != session_key {
        return Err(refused("the ciphertext is not of the session's KMS key"));
    }
    let key = store
        .kms_key(&session.account_id, &session.region_id, &blob_key)
        .await
        .map_err(database)?
        .ok_or_else(|| refused("the session's KMS key no longer exists"))?;
    if key.state != KeyState::Enabled {
        return Err(refused(&format!(
            "the session's KMS key is {}",
            key.state.as_str()
        )));
    }
    // A session's client asks GenerateDataKey with no EncryptionContext (docs/encryption.md
    // §2), so none is given here.
    let opened = store
        .open_with_kms_key(&key, &r.ciphertext_blob, "")
        .await
        .map_err(database)?
        .ok_or_else(|| refused("the ciphertext does not open under the session's KMS key"))?;
    let plaintext_base64 =
        String::from_utf8(opened).map_err(|_| refused("the ciphertext holds no data key"))?;
    tracing::info!(channel_id = %r.channel_id, instance_id = %r.instance_id, key_id = %key.id, "data key decrypted for an agent");
    Ok(DataKey { plaintext_base64 })
}
