//! A control plane reduced to `AppendRecording`, for the recorder's tests: it keeps what it
//! was sent, tells the test at once, and can be made unreachable.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axt_proto::internal::AppendRecording;
use tokio::sync::mpsc;

use super::recorder::{Appender, Policy};
use crate::control_plane::CpError;

/// Longer than anything a test waits for (paused time).
pub const PATIENCE: Duration = Duration::from_secs(3600);

/// The appends a recorder made, in order.
pub struct Appends {
    sent: Mutex<mpsc::UnboundedSender<AppendRecording>>,
    /// The next this many appends fail as if the control plane were unreachable.
    pub failing: AtomicU32,
}

impl Appends {
    /// The stand-in, and the test's end that receives each append.
    pub fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<AppendRecording>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let appends = Self {
            sent: Mutex::new(tx),
            failing: AtomicU32::new(0),
        };
        (Arc::new(appends), rx)
    }
}

impl Appender for Appends {
    fn append(
        &self,
        request: AppendRecording,
    ) -> Pin<Box<dyn Future<Output = Result<(), CpError>> + Send + 'static>> {
        let _ = self.sent.lock().unwrap().send(request);
        let failed = self
            .failing
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        Box::pin(async move {
            match failed {
                true => Err(CpError::Unavailable("connection refused".into())),
                false => Ok(()),
            }
        })
    }
}

/// Recording on, every second, input as asked.
pub fn policy(input: bool) -> Policy {
    Policy {
        enabled: true,
        input,
        flush: Duration::from_secs(1),
    }
}

/// The next append, within [`PATIENCE`].
pub async fn next_append(rx: &mut mpsc::UnboundedReceiver<AppendRecording>) -> AppendRecording {
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("no append in time")
        .expect("the recorder's appender is gone")
}

/// The lines of an append, parsed.
pub fn lines(data: &str) -> Vec<serde_json::Value> {
    data.lines()
        .map(|l| serde_json::from_str(l).expect("an asciicast line is JSON"))
        .collect()
}

/// The whole recording: appends up to the last one, each at the offset the ones before reached.
pub async fn recording(rx: &mut mpsc::UnboundedReceiver<AppendRecording>) -> String {
    let mut cast = String::new();
    loop {
        let append = next_append(rx).await;
        assert_eq!(append.offset, cast.len() as u64, "no gap, no overlap");
        cast += &append.data;
        if append.last {
            return cast;
        }
    }
}
