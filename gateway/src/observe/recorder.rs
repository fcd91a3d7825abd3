//! The recorder of one shell connection: the relay hands it what the terminal printed (and,
//! with `--record-input`, what was typed) and its resizes, without waiting; a task of its own
//! writes the asciicast lines and appends them to the control plane (`AppendRecording`) at
//! least every `--recording-flush-ms`, and a last time when the connection ends.
//!
//! The relay never waits for the recorder: what it hands over goes into a bounded queue, and
//! the uploading task keeps at most [`MAX_PENDING`] bytes while the control plane is away —
//! past that the newest lines are dropped, with a log line, and the recording carries on
//! consistent (offsets count only what was stored). An append that failed is sent again
//! exactly as it was, so that a retry the control plane had in fact stored is taken as done.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use axt_proto::internal::AppendRecording;
use tokio::{sync::mpsc, time::Instant};

use crate::control_plane::{ControlPlane, CpError};

use super::upload::Upload;

/// What the relay may hand over before the recorder catches up; past it, events are dropped.
const QUEUE: usize = 256;
/// Lines kept while they cannot be appended; past it the newest are dropped.
pub const MAX_PENDING: usize = 4 << 20;
/// The most one append carries: well under the control plane's body limit.
pub const MAX_APPEND: usize = 256 << 10;
/// How often the last append is tried when the control plane does not answer.
pub const FINAL_ATTEMPTS: u32 = 10;

/// Where recordings go: the control plane, or a test's stand-in.
pub trait Appender: Send + Sync + 'static {
    fn append(
        &self,
        request: AppendRecording,
    ) -> Pin<Box<dyn Future<Output = Result<(), CpError>> + Send + 'static>>;
}

impl Appender for ControlPlane {
    fn append(
        &self,
        request: AppendRecording,
    ) -> Pin<Box<dyn Future<Output = Result<(), CpError>> + Send + 'static>> {
        let cp = self.clone();
        Box::pin(async move { cp.call(&request).await.map(|_| ()) })
    }
}

/// What to record and how often to append (the gateway's options).
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Record shell connections at all.
    pub enabled: bool,
    /// Record what the user types too (it holds passwords).
    pub input: bool,
    /// Append at least this often.
    pub flush: Duration,
}

/// Which recording this is.
#[derive(Debug, Clone)]
pub struct Names {
    pub session_id: String,
    pub channel_id: String,
    pub instance_id: String,
}

/// One thing the relay saw, with its time from the recording's start in seconds.
pub(super) enum Seen {
    Output(f64, Vec<u8>),
    Input(f64, Vec<u8>),
    Resize(f64, (u16, u16)),
}

/// The relay's handle on a recording; dropping it ends the recording.
pub struct Recorder {
    queue: mpsc::Sender<Seen>,
    start: Instant,
    input: bool,
    /// Encrypted after all: nothing more is handed over, nor appended.
    stopped: Arc<AtomicBool>,
    /// The queue was full once (said once in the log).
    overflowed: AtomicBool,
}

impl Recorder {
    /// Starts recording on a task of its own, which holds `alive` until its last append.
    pub fn start(
        names: Names,
        policy: Policy,
        appender: Arc<dyn Appender>,
        alive: Arc<()>,
    ) -> Self {
        let (queue, seen) = mpsc::channel(QUEUE);
        let timestamp = axt_proto::now_ms() / 1000;
        let stopped = Arc::new(AtomicBool::new(false));
        let upload = Upload::new(names, policy.flush, appender, timestamp, stopped.clone());
        tokio::spawn(async move {
            upload.run(seen).await;
            drop(alive);
        });
        Self {
            queue,
            start: Instant::now(),
            input: policy.input,
            stopped,
            overflowed: AtomicBool::new(false),
        }
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// The terminal printed `bytes`.
    pub fn output(&self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.hand_over(Seen::Output(self.now(), bytes.to_vec()));
        }
    }

    /// The user typed `bytes` (kept only with `--record-input`).
    pub fn input(&self, bytes: &[u8]) {
        if self.input && !bytes.is_empty() {
            self.hand_over(Seen::Input(self.now(), bytes.to_vec()));
        }
    }

    /// The terminal was resized to `(cols, rows)`.
    pub fn resize(&self, size: (u16, u16)) {
        self.hand_over(Seen::Resize(self.now(), size));
    }

    /// A key exchange went by: the connection is encrypted end to end after all, and nothing
    /// more of it is appended.
    pub fn encrypted(&self) {
        if !self.stopped.swap(true, Ordering::Relaxed) {
            tracing::info!("not recording: the connection is encrypted end to end");
        }
    }

    fn hand_over(&self, seen: Seen) {
        if self.stopped.load(Ordering::Relaxed) {
            return;
        }
        if self.queue.try_send(seen).is_err() && !self.overflowed.swap(true, Ordering::Relaxed) {
            tracing::warn!("the recorder falls behind; dropping what it cannot take");
        }
    }
}
