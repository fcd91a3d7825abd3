//! Replay protection without a durable write per call: SignatureNonces are checked and
//! remembered in a bounded in-memory [`window`], and written to the database in batches by one
//! writer task, from which a restart reloads them.
//!
//! How durable a nonce must be depends on the call (docs/security.md §1). A call that only reads
//! (`Describe…`, `List…`, `Get…`) goes on at once; its nonce reaches the database within a
//! second ([`FLUSH_EVERY`]). Every other call waits until its nonce is on disk before it runs —
//! the writer commits as soon as such a call waits, together with whatever else is pending, so
//! the cost is one commit per batch of concurrent calls, not one per call. A clean shutdown
//! writes everything. So a restart, even after `kill -9`, lets no call that changes anything be
//! replayed; after a crash, a read-only call of the last second may be.

pub mod window;

use std::{sync::Mutex, time::Duration};

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::store::{self, Store};
pub use window::{Digest, Refused, Window};

/// Longest a nonce of a read-only call waits in memory before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Nonces waiting for the writer; a caller past it waits for room.
const QUEUE: usize = 8192;
/// Most nonces in one write.
const BATCH: usize = 4096;

/// When a call may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// At once; the nonce is written with the next batch.
    Batched,
    /// Once the nonce is on disk.
    BeforeRunning,
}

/// Why a nonce was not spent.
#[derive(Debug, thiserror::Error)]
pub enum SpendError {
    #[error("the nonce was used")]
    Used,
    #[error("the request's timestamp is older than the nonces this control plane still holds")]
    Forgotten,
    #[error("the nonce could not be written: {0}")]
    Unwritten(String),
}

enum Job {
    Spent(Digest, i64, Option<oneshot::Sender<Result<(), String>>>),
    Flush(oneshot::Sender<Result<(), String>>),
}

/// The window and its writer.
pub struct Nonces {
    window: Mutex<Window>,
    jobs: mpsc::Sender<Job>,
    skew: i64,
}

impl Nonces {
    /// Reloads the nonces the database still holds for requests that could pass the skew check
    /// now (at most `capacity`; the floor refuses the rest), and starts the writer.
    pub async fn open(store: &Store, skew: i64, capacity: usize) -> anyhow::Result<Self> {
        let now = store::now();
        let mut window = Window::new(capacity);
        // Nonces of the table before digests: spent at `seen_at`, their requests signed at most
        // `skew` later, so they expire at most `2 × skew` after it.
        let legacy: Vec<(Digest, i64)> = store
            .legacy_nonces(now - 2 * skew)
            .await?
            .into_iter()
            .map(|(key, nonce, seen_at)| (digest(&key, &nonce), seen_at + 2 * skew))
            .collect();
        for chunk in legacy.chunks(BATCH) {
            store.persist_nonces(chunk).await?;
        }
        store.forget_legacy_nonces().await?;
        let limit = i64::try_from(capacity).unwrap_or(i64::MAX);
        let kept = store
            .load_nonces(now, limit)
            .await
            .context("loading nonces")?;
        if kept.len() >= capacity {
            // Older ones were left in the database: refuse what they could have refused.
            if let Some((_, earliest)) = kept.last() {
                window.raise_floor(*earliest);
            }
        }
        for (d, expires_at) in kept {
            window.remember(d, expires_at);
        }
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(write(store.clone(), queue));
        Ok(Self {
            window: Mutex::new(window),
            jobs,
            skew,
        })
    }

    /// Spends `nonce` of `access_key_id` for a request signed at `signed_at`, then — with
    /// [`Durability::BeforeRunning`] — waits until it is on disk.
    pub async fn spend(
        &self,
        access_key_id: &str,
        nonce: &str,
        signed_at: i64,
        durability: Durability,
    ) -> Result<(), SpendError> {
        let d = digest(access_key_id, nonce);
        let expires_at = signed_at.saturating_add(self.skew);
        {
            let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
            window
                .spend(d, expires_at, store::now())
                .map_err(|refused| match refused {
                    Refused::Used => SpendError::Used,
                    Refused::Forgotten => SpendError::Forgotten,
                })?;
        }
        let (done, written) = match durability {
            Durability::Batched => (None, None),
            Durability::BeforeRunning => {
                let (done, written) = oneshot::channel();
                (Some(done), Some(written))
            }
        };
        self.jobs
            .send(Job::Spent(d, expires_at, done))
            .await
            .map_err(|_| SpendError::Unwritten("the writer has stopped".into()))?;
        if let Some(written) = written {
            written
                .await
                .map_err(|_| SpendError::Unwritten("the writer has stopped".into()))?
                .map_err(SpendError::Unwritten)?;
        }
        Ok(())
    }

    /// Writes every nonce spent so far (at shutdown).
    pub async fn flush(&self) -> anyhow::Result<()> {
        let (done, written) = oneshot::channel();
        self.jobs
            .send(Job::Flush(done))
            .await
            .map_err(|_| anyhow::anyhow!("the nonce writer has stopped"))?;
        written
            .await
            .context("the nonce writer has stopped")?
            .map_err(anyhow::Error::msg)
    }
}

/// The digest a nonce is remembered by.
pub fn digest(access_key_id: &str, nonce: &str) -> Digest {
    let mut h = Sha256::new();
    // Length first, so that no other split of the same bytes makes the same digest.
    h.update((access_key_id.len() as u64).to_le_bytes());
    h.update(access_key_id.as_bytes());
    h.update(nonce.as_bytes());
    let mut d = [0u8; 16];
    d.copy_from_slice(&h.finalize()[..16]);
    d
}

/// The writer: takes what is pending and writes it in one statement — at once when a call
/// waits for it (group commit), otherwise when [`FLUSH_EVERY`] has passed since the oldest.
async fn write(store: Store, mut queue: mpsc::Receiver<Job>) {
    let mut batch: Vec<(Digest, i64)> = Vec::new();
    let mut waiters: Vec<oneshot::Sender<Result<(), String>>> = Vec::new();
    while let Some(first) = queue.recv().await {
        let deadline = tokio::time::Instant::now() + FLUSH_EVERY;
        let mut next = Some(first);
        loop {
            while let Some(job) = next.take().or_else(|| queue.try_recv().ok()) {
                match job {
                    Job::Spent(d, expires_at, done) => {
                        batch.push((d, expires_at));
                        waiters.extend(done);
                    }
                    Job::Flush(done) => waiters.push(done),
                }
                if batch.len() >= BATCH {
                    break;
                }
            }
            if !waiters.is_empty() || batch.len() >= BATCH {
                break;
            }
            tokio::select! {
                job = queue.recv() => match job {
                    Some(job) => next = Some(job),
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        let written = match store.persist_nonces(&batch).await {
            Ok(()) => Ok(()),
            Err(error) => {
                tracing::warn!(%error, nonces = batch.len(), "writing signature nonces");
                Err(error.to_string())
            }
        };
        batch.clear();
        for done in waiters.drain(..) {
            let _ = done.send(written.clone());
        }
    }
}
