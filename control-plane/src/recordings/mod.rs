//! Recordings of shell connections, in asciicast v2, as gateways append them while the sessions
//! run: one file per connection, `<data-dir>/recordings/<session id>/<channel id>.cast` (0600,
//! in 0700 directories), and one row of metadata each in SQLite ([`Recording`]).
//!
//! Why the metadata is kept in SQLite rather than derived from the files: listing filters by
//! account, region, session and instance and pages in a stable order, none of which a file
//! knows; and a row's size, committed after its bytes are synced, is what makes appends exact
//! across a crash. An append writes at the stored size, cutting off whatever the file held
//! past it (bytes written but never recorded, before a crash), so the gateway's retry neither
//! doubles nor loses anything. The files are the text, the rows are the truth about them.
//!
//! Limits: past `--recording-max-bytes` a recording keeps the whole lines that fit, is marked
//! truncated, and drops every later append; recordings not appended to for
//! `--recording-retention-days` are deleted, file and row, by [`Recordings::sweep`] (at start
//! and hourly).

mod files;

use std::path::PathBuf;

use tokio::sync::Mutex;

use crate::{
    store::{Recording, Store},
    Config,
};

/// Appends to one recording are serialized; appends to different ones mostly are not.
const LOCKS: usize = 16;

/// Where recordings live, and their limits.
pub struct Recordings {
    root: PathBuf,
    max_bytes: u64,
    /// `None`: kept forever.
    retention_secs: Option<i64>,
    locks: Vec<Mutex<()>>,
}

/// One append, as the gateway sent it.
pub struct Chunk<'a> {
    /// Bytes of the recording the gateway had appended before these.
    pub offset: u64,
    pub data: &'a [u8],
    /// The connection ended: nothing follows.
    pub last: bool,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Stored, the first `written` bytes new (a retry may repeat some stored already).
    Stored { written: u64 },
    /// Every byte was stored already (a retry).
    AlreadyStored,
    /// The recording is truncated: nothing more is kept.
    Dropped,
}

/// Why an append was refused.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("the recording holds {stored} bytes: an append at offset {offset} would leave a gap")]
    Gap { stored: u64, offset: u64 },
    #[error("the recording is complete ({stored} bytes): nothing may follow its last append")]
    Complete { stored: u64 },
    #[error("recording metadata: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0:#}")]
    Io(anyhow::Error),
}

impl Recordings {
    /// Recordings under `<data-dir>/recordings`, with the configured limits.
    pub fn new(config: &Config) -> Self {
        let days = i64::from(config.recording_retention_days);
        Self {
            root: config.data_dir.join("recordings"),
            max_bytes: config.recording_max_bytes,
            retention_secs: (days > 0).then_some(days * 24 * 3600),
            locks: (0..LOCKS).map(|_| Mutex::new(())).collect(),
        }
    }

    /// The file of a connection's recording. Ids are our own (checked against the database
    /// before any file is touched), and are checked again here to be plain names.
    pub fn path(&self, session_id: &str, channel_id: &str) -> Option<PathBuf> {
        let plain = |id: &str| {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        (plain(session_id) && plain(channel_id)).then(|| {
            self.root
                .join(session_id)
                .join(format!("{channel_id}{}", files::SUFFIX))
        })
    }

    fn lock(&self, channel_id: &str) -> &Mutex<()> {
        let hash = channel_id.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        &self.locks[hash % self.locks.len()]
    }

    /// Appends `chunk` to the recording `owner` describes (its first append creates it; its
    /// size, flags and times are the ones kept), at `now`.
    pub async fn append(
        &self,
        store: &Store,
        owner: Recording,
        chunk: Chunk<'_>,
        now: i64,
    ) -> Result<Appended, AppendError> {
        let _serial = self.lock(&owner.channel_id).lock().await;
        let mut row = store.recording(&owner.channel_id).await?.unwrap_or(owner);
        let stored = u64::try_from(row.size).unwrap_or(0);
        let len = chunk.data.len() as u64;
        let end = chunk.offset.saturating_add(len);
        let finishing = chunk.last && !row.complete;
        if row.truncated || end < stored || (end == stored && len > 0) {
            // Dropped, or a retry: only its `last` may still say something new.
            if finishing {
                row.complete = true;
                row.updated_at = now;
                store.save_recording(&row).await?;
            }
            return Ok(if row.truncated {
                Appended::Dropped
            } else {
                Appended::AlreadyStored
            });
        }
        if row.complete && end > stored {
            return Err(AppendError::Complete { stored });
        }
        if chunk.offset > stored {
            return Err(AppendError::Gap {
                stored,
                offset: chunk.offset,
            });
        }
        // What is new: past the stored bytes (a retry may carry some of them again).
        let skip = usize::try_from(stored - chunk.offset).unwrap_or(usize::MAX);
        let fresh = chunk.data.get(skip..).unwrap_or_default();
        let budget = self.max_bytes.saturating_sub(stored);
        let (kept, truncated) = if fresh.len() as u64 > budget {
            (whole_lines(fresh, budget), true)
        } else {
            (fresh, false)
        };
        if !kept.is_empty() {
            let path = self
                .path(&row.session_id, &row.channel_id)
                .ok_or_else(|| AppendError::Io(anyhow::anyhow!("ids that name no file")))?;
            let bytes = kept.to_vec();
            tokio::task::spawn_blocking(move || files::write_at(&path, stored, &bytes))
                .await
                .map_err(|e| AppendError::Io(e.into()))?
                .map_err(AppendError::Io)?;
        }
        if truncated {
            tracing::warn!(channel_id = %row.channel_id, max_bytes = self.max_bytes,
                "recording reached --recording-max-bytes: the rest of the connection is not recorded");
        }
        row.size = i64::try_from(stored + kept.len() as u64).unwrap_or(i64::MAX);
        row.truncated = truncated;
        row.complete |= chunk.last;
        row.updated_at = now;
        store.save_recording(&row).await?;
        Ok(Appended::Stored {
            written: kept.len() as u64,
        })
    }

    /// The text of a recording, as far as its row says it goes.
    pub async fn read(&self, recording: &Recording) -> anyhow::Result<Vec<u8>> {
        let path = self
            .path(&recording.session_id, &recording.channel_id)
            .ok_or_else(|| anyhow::anyhow!("a recording whose ids name no file"))?;
        let size = u64::try_from(recording.size).unwrap_or(0);
        if size == 0 {
            // Its first append may have carried nothing: no file was written.
            return Ok(Vec::new());
        }
        tokio::task::spawn_blocking(move || files::read_prefix(&path, size)).await?
    }

    /// Deletes the recordings not appended to within the retention, as of `now`: their rows
    /// and files, and any file older than that no row speaks for (left by a crash between its
    /// first write and its row). Returns how many recordings went.
    pub async fn sweep(&self, store: &Store, now: i64) -> anyhow::Result<usize> {
        let Some(retention) = self.retention_secs else {
            return Ok(0);
        };
        let cutoff = now.saturating_sub(retention);
        let mut deleted = 0;
        for (session_id, channel_id) in store.recordings_before(cutoff).await? {
            let _serial = self.lock(&channel_id).lock().await;
            if let Some(path) = self.path(&session_id, &channel_id) {
                tokio::task::spawn_blocking(move || files::remove(&path)).await??;
            }
            store.delete_recording(&channel_id).await?;
            deleted += 1;
        }
        let root = self.root.clone();
        for found in tokio::task::spawn_blocking(move || files::walk(&root)).await?? {
            if found.modified >= cutoff {
                continue;
            }
            let _serial = self.lock(&found.channel_id).lock().await;
            if store.recording(&found.channel_id).await?.is_none() {
                tokio::task::spawn_blocking(move || files::remove(&found.path)).await??;
                deleted += 1;
            }
        }
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || files::remove_empty_dirs(&root)).await?;
        Ok(deleted)
    }
}

/// The longest prefix of `bytes` within `budget` that ends a line: a truncated recording is
/// still a file players read to its end.
fn whole_lines(bytes: &[u8], budget: u64) -> &[u8] {
    let within = &bytes[..usize::try_from(budget)
        .unwrap_or(usize::MAX)
        .min(bytes.len())];
    match within.iter().rposition(|&b| b == b'\n') {
        Some(end) => &within[..=end],
        None => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::whole_lines;

    #[test]
    fn truncation_keeps_whole_lines_only() {
        let text = b"[0.1, \"o\", \"a\"]\n[0.2, \"o\", \"b\"]\n";
        assert_eq!(whole_lines(text, 100), text);
        assert_eq!(whole_lines(text, 20), b"[0.1, \"o\", \"a\"]\n");
        assert_eq!(whole_lines(text, 10), b"");
        assert_eq!(whole_lines(b"", 10), b"");
    }
}
