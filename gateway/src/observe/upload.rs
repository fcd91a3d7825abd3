//! The task that turns what a recorder was handed into asciicast lines and appends them to the
//! control plane: one append in flight at a time, at least every flush interval, the failed
//! one resent exactly as it was, and a last one (`last: true`) when the connection ends.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use axt_proto::internal::{AppendRecording, RefusalCode};
use tokio::{sync::mpsc, time::MissedTickBehavior};

use super::{
    cast::Cast,
    recorder::{Appender, Names, Seen, FINAL_ATTEMPTS, MAX_APPEND, MAX_PENDING},
};
use crate::control_plane::CpError;

/// An append on its way: its data, whether it was the last, and how it went.
type Sending = Pin<Box<dyn Future<Output = (Chunk, Result<(), CpError>)> + Send>>;

/// Data of one append.
#[derive(Clone)]
struct Chunk {
    data: String,
    last: bool,
}

pub(super) struct Upload {
    names: Names,
    flush: Duration,
    appender: Arc<dyn Appender>,
    cast: Cast,
    /// Lines not sent yet.
    pending: String,
    /// An append that did not get its answer: sent again, unchanged, before anything else.
    retry: Option<Chunk>,
    /// Bytes the control plane stored.
    offset: u64,
    /// The header has gone into an append (so pending lines may be dropped whole).
    header_out: bool,
    /// The connection turned out encrypted.
    stopped: Arc<AtomicBool>,
    /// The control plane refused the recording: nothing more is sent.
    refused: bool,
    /// Appends are failing now (said once in the log until they work again).
    failing: bool,
}

impl Upload {
    pub(super) fn new(
        names: Names,
        flush: Duration,
        appender: Arc<dyn Appender>,
        timestamp: u64,
        stopped: Arc<AtomicBool>,
    ) -> Self {
        let title = format!("{} {}", names.session_id, names.channel_id);
        Self {
            names,
            flush: flush.max(Duration::from_millis(10)),
            appender,
            cast: Cast::new(title, timestamp),
            pending: String::new(),
            retry: None,
            offset: 0,
            header_out: false,
            stopped,
            refused: false,
            failing: false,
        }
    }

    /// Records until the relay drops its recorder, then appends the rest.
    pub(super) async fn run(mut self, mut seen: mpsc::Receiver<Seen>) {
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + self.flush, self.flush);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut sending: Option<Sending> = None;
        loop {
            tokio::select! {
                next = seen.recv() => match next {
                    Some(seen) => self.take(seen),
                    None => break,
                },
                _ = tick.tick(), if sending.is_none() => sending = self.next(false),
                (chunk, result) = answer(&mut sending) => {
                    sending = None;
                    // More than one append's worth waiting goes at once, not a tick later.
                    if self.settle(chunk, result) && self.pending.len() >= MAX_APPEND {
                        sending = self.next(false);
                    }
                }
            }
        }
        if let Some(send) = sending.take() {
            let (chunk, result) = send.await;
            self.settle(chunk, result);
        }
        self.finish().await;
    }

    fn off(&self) -> bool {
        self.refused || self.stopped.load(Ordering::Relaxed)
    }

    fn take(&mut self, seen: Seen) {
        if self.off() {
            self.pending.clear();
            return;
        }
        match seen {
            Seen::Output(t, bytes) => self.cast.output(t, &bytes, &mut self.pending),
            Seen::Input(t, bytes) => self.cast.input(t, &bytes, &mut self.pending),
            Seen::Resize(t, size) => self.cast.resize(t, size, &mut self.pending),
        }
        if self.pending.len() > MAX_PENDING {
            // The header must stay the recording's first line.
            let keep = match self.header_out {
                true => 0,
                false => self.pending.find('\n').map_or(0, |i| i + 1),
            };
            tracing::warn!(
                dropped = self.pending.len() - keep,
                "the control plane does not take the recording fast enough; dropping lines"
            );
            self.pending.truncate(keep);
        }
    }

    /// The next append, if there is anything to send.
    fn next(&mut self, at_end: bool) -> Option<Sending> {
        if self.off() {
            return None;
        }
        let chunk = match self.retry.take() {
            Some(chunk) => chunk,
            None => {
                let data = self.cut();
                let last = at_end && self.pending.is_empty();
                if data.is_empty() && !last {
                    return None;
                }
                self.header_out = true;
                Chunk { data, last }
            }
        };
        let request = AppendRecording {
            session_id: self.names.session_id.clone(),
            channel_id: self.names.channel_id.clone(),
            instance_id: self.names.instance_id.clone(),
            offset: self.offset,
            data: chunk.data.clone(),
            last: chunk.last,
        };
        let append = self.appender.append(request);
        Some(Box::pin(async move { (chunk, append.await) }))
    }

    /// Whole lines from the front of what is pending, at most [`MAX_APPEND`] bytes of them
    /// (one line, however long, when the first is longer).
    fn cut(&mut self) -> String {
        let bytes = self.pending.as_bytes();
        let end = if bytes.len() <= MAX_APPEND {
            bytes.len()
        } else {
            let newline = |b: &u8| *b == b'\n';
            match bytes[..MAX_APPEND].iter().rposition(newline) {
                Some(i) => i + 1,
                None => bytes
                    .iter()
                    .position(newline)
                    .map_or(bytes.len(), |i| i + 1),
            }
        };
        let rest = self.pending.split_off(end);
        std::mem::replace(&mut self.pending, rest)
    }

    /// Takes an append's answer; returns whether it was stored.
    fn settle(&mut self, chunk: Chunk, result: Result<(), CpError>) -> bool {
        match result {
            Ok(()) => {
                self.offset += chunk.data.len() as u64;
                if std::mem::take(&mut self.failing) {
                    tracing::info!("the control plane takes the recording again");
                }
                true
            }
            // The control plane's own failures may be retried, like its absence.
            Err(CpError::Unavailable(why)) => self.keep(chunk, &why),
            Err(CpError::Refused(refusal)) if refusal.code == RefusalCode::InternalError => {
                self.keep(chunk, &refusal.message)
            }
            Err(CpError::Refused(refusal)) => {
                tracing::warn!(%refusal, "the control plane refused the recording; not recording any more");
                self.refused = true;
                self.pending.clear();
                false
            }
        }
    }

    /// An append that did not get through: sent again as it is.
    fn keep(&mut self, chunk: Chunk, why: &str) -> bool {
        if !std::mem::replace(&mut self.failing, true) {
            tracing::warn!(%why, "cannot append to the recording now; keeping it");
        }
        self.retry = Some(chunk);
        false
    }

    /// The connection ended: the rest, and `last: true`, tried a bounded number of times.
    async fn finish(&mut self) {
        if self.off() {
            return;
        }
        self.cast.finish(&mut self.pending);
        if !self.cast.started() {
            // Nothing happened on this connection worth a recording.
            return;
        }
        let mut failures = 0;
        while let Some(send) = self.next(true) {
            let (chunk, result) = send.await;
            let last = chunk.last;
            if self.settle(chunk, result) {
                if last {
                    return;
                }
                continue;
            }
            failures += 1;
            if failures >= FINAL_ATTEMPTS || self.refused {
                break;
            }
            tokio::time::sleep(self.flush).await;
        }
        if !self.refused {
            let lost = self.pending.len() + self.retry.as_ref().map_or(0, |c| c.data.len());
            tracing::warn!(
                lost,
                "the control plane did not take the end of the recording; dropping it"
            );
        }
    }
}

/// The answer of the append on its way; never resolves when there is none.
async fn answer(sending: &mut Option<Sending>) -> (Chunk, Result<(), CpError>) {
    match sending {
        Some(send) => send.await,
        None => std::future::pending().await,
    }
}
