//! Sessions: what a start kick sets off (pull the spec, run it as its own task) and what a
//! stop kick ends. The table of running channels lives here.
//!
//! # Layout
//!
//! - [`pull`]: session/list (and the start-up task list) with the stock agent's retries.
//! - [`task`]: one session: data channel, runner, relay loop, result report.
//! - [`channel`]: the data channel's frames, sequence numbers and reconnection.
//! - [`runner`]: the shell-or-port interface the relay loop drives.
//! - [`shell`], [`user`], [`chunk`]: PTY shells, who they run as, UTF-8-safe output chunks.
//! - [`port`], [`deny`]: TCP forwards and where they may not go.
//! - [`pacing`]: the send rate (`flowLimit`, Status 7).

pub mod channel;
pub mod chunk;
pub mod deny;
pub mod pacing;
pub mod port;
pub mod pull;
pub mod runner;
pub mod shell;
pub mod task;
pub mod user;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axt_proto::{kick::Kick, spec::SessionSpec, status::AgentResult};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, info_span, warn, Instrument as _};

use crate::client::Client;

/// What every session needs.
pub struct Context {
    /// The server.
    pub client: Client,
    /// Who shells run as.
    pub users: user::UserPolicy,
    /// Where forwards may not go.
    pub deny: deny::DenyList,
}

/// The agent's sessions; cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

struct Inner {
    ctx: Context,
    /// Running channels and the token that stops each. A std mutex: it is never held across
    /// an await.
    running: Mutex<HashMap<String, CancellationToken>>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl Sessions {
    /// No sessions yet; all of them stop when `shutdown` is cancelled.
    pub fn new(ctx: Context, shutdown: CancellationToken) -> Self {
        Self {
            inner: Arc::new(Inner {
                ctx,
                running: Mutex::new(HashMap::new()),
                tracker: TaskTracker::new(),
                shutdown,
            }),
        }
    }

    /// Acts on a kick; returns at once (the work runs in its own task).
    pub fn kick(&self, kick: Kick) {
        match kick {
            Kick::SessionStart(channel_id) => {
                let this = self.clone();
                // A root span: a session outlives the kick channel connection that started it.
                let span = info_span!(parent: None, "session", channel = %channel_id);
                self.inner.tracker.spawn(
                    async move {
                        let shutdown = this.inner.shutdown.clone();
                        let specs =
                            pull::session_list(&this.inner.ctx.client, &channel_id, &shutdown)
                                .await;
                        this.run_specs(&channel_id, specs).await;
                    }
                    .instrument(span),
                );
            }
            Kick::SessionStop(channel_id) => self.stop(&channel_id),
            Kick::Noop => {}
        }
    }

    /// Runs the sessions of the start-up task list, if it holds any.
    pub fn start_listed(&self, specs: Vec<SessionSpec>) {
        for spec in specs {
            let this = self.clone();
            let span = info_span!(parent: None, "session", channel = %spec.channel_id);
            self.inner.tracker.spawn(
                async move {
                    let id = spec.channel_id.clone();
                    this.run_specs(&id, vec![spec]).await;
                }
                .instrument(span),
            );
        }
    }

    /// Runs `specs` one after another, as the stock agent does.
    async fn run_specs(&self, kick_channel: &str, specs: Vec<SessionSpec>) {
        for mut spec in specs {
            // The spec's channel id wins over the kick's; the kick's fills an empty one.
            if spec.channel_id.is_empty() {
                spec.channel_id = kick_channel.to_owned();
            }
            let Some(stop) = self.claim(&spec.channel_id) else {
                // The running session is left alone (and, unlike on the stock agent, stays
                // stoppable by kick).
                warn!(channel = %spec.channel_id, "session already running");
                task::report(
                    &self.inner.ctx.client,
                    &spec.channel_id,
                    &AgentResult::SessionIdDuplicate,
                )
                .await;
                continue;
            };
            let kind = if spec.is_port_forward() {
                "port"
            } else {
                "shell"
            };
            info!(channel = %spec.channel_id, kind, "session starting");
            task::run(&self.inner.ctx, &spec, &stop).await;
            self.table().remove(&spec.channel_id);
        }
    }

    /// Registers a running channel; `None` if it already runs.
    fn claim(&self, channel_id: &str) -> Option<CancellationToken> {
        let mut running = self.table();
        if running.contains_key(channel_id) {
            return None;
        }
        let stop = self.inner.shutdown.child_token();
        running.insert(channel_id.to_owned(), stop.clone());
        Some(stop)
    }

    /// Ends a running session (`Notified`); an unknown channel is ignored, as on the stock
    /// agent.
    fn stop(&self, channel_id: &str) {
        match self.table().get(channel_id) {
            Some(stop) => {
                info!(channel = channel_id, "stopping the session");
                stop.cancel();
            }
            None => info!(channel = channel_id, "stop for a channel that does not run"),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        // A panic elsewhere cannot leave the map half-updated: every update is one call.
        self.inner
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// After shutdown: waits up to `grace` for every session to end and report.
    pub async fn drain(&self, grace: Duration) {
        self.inner.tracker.close();
        if tokio::time::timeout(grace, self.inner.tracker.wait())
            .await
            .is_err()
        {
            warn!("sessions still running at exit");
        }
    }
}
