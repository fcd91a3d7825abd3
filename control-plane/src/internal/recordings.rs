//! `AppendRecording`: a gateway appends asciicast lines to the recording of a shell connection
//! it relays ([`crate::recordings`] stores them). The connection must be the session's, on the
//! instance named; port sessions and end-to-end encrypted ones are never recorded (the former
//! carry arbitrary bytes, the latter only ciphertext), so an append for one is refused rather
//! than kept. A retried append is done already; a gap, or more after the last append, is
//! `RecordingConflict` (409), with the stored size in its message.

use std::sync::Arc;

use axt_proto::internal::{AppendRecording, Done, Refusal, RefusalCode};

use super::{database, encryption, Answer};
use crate::{
    recordings::{AppendError, Appended, Chunk},
    store::{self, Recording},
    Shared,
};

pub(super) async fn append(shared: Arc<Shared>, r: AppendRecording) -> Answer<Done> {
    let store = &shared.store;
    let session = store
        .session(&r.session_id)
        .await
        .map_err(database)?
        .ok_or_else(|| Refusal::new(RefusalCode::ChannelNotFound, "no such session"))?;
    let connection = store
        .connection(&r.channel_id)
        .await
        .map_err(database)?
        .filter(|c| c.session_id == session.id)
        .ok_or_else(|| {
            Refusal::new(
                RefusalCode::ChannelNotFound,
                "no such channel of this session",
            )
        })?;
    if connection.instance_id != r.instance_id {
        return Err(Refusal::new(
            RefusalCode::InvalidInstance,
            format!(
                "{} is not the instance of channel {}",
                r.instance_id, connection.channel_id
            ),
        ));
    }
    if session.port_number.is_some() {
        return Err(Refusal::new(
            RefusalCode::MalformedRequest,
            "a port session is not recorded",
        ));
    }
    if encryption(&session).is_some() {
        return Err(Refusal::new(
            RefusalCode::MalformedRequest,
            "an end-to-end encrypted session is not recorded",
        ));
    }
    let now = store::now();
    let owner = Recording {
        seq: 0,
        channel_id: connection.channel_id,
        session_id: session.id,
        instance_id: connection.instance_id,
        account_id: session.account_id,
        region_id: session.region_id,
        size: 0,
        truncated: false,
        complete: false,
        created_at: now,
        updated_at: now,
    };
    let chunk = Chunk {
        offset: r.offset,
        data: r.data.as_bytes(),
        last: r.last,
    };
    match shared.recordings.append(store, owner, chunk, now).await {
        Ok(appended) => {
            if appended == Appended::Dropped && r.last {
                tracing::info!(channel_id = %r.channel_id, "truncated recording complete");
            }
            Ok(Done {})
        }
        Err(e @ (AppendError::Gap { .. } | AppendError::Complete { .. })) => {
            tracing::warn!(channel_id = %r.channel_id, error = %e, "recording append refused");
            Err(Refusal::new(RefusalCode::RecordingConflict, e.to_string()))
        }
        Err(AppendError::Database(e)) => Err(database(e)),
        Err(AppendError::Io(e)) => {
            tracing::error!(channel_id = %r.channel_id, error = format!("{e:#}"), "writing a recording");
            Err(Refusal::new(
                RefusalCode::InternalError,
                "the recording could not be written",
            ))
        }
    }
}
