//! Sessions: what a start kick sets off (pull the spec, run it as its own task) and what a
//! stop kick ends. The table of running channels lives here.
//!
//! # Layout
//!
//! - [`pull`]: session/list (and the start-up task list) with the stock agent's retries.
//! - [`task`]: one session: data channel, key exchange, runner, result report.
//! - [`relay`]: the relay loop of a running session.
//! - [`e2e`]: end-to-end encrypted sessions: the key exchange and the protection of data.
//! - [`channel`]: the data channel's frames, sequence numbers and reconnection.
//! - [`runner`]: the shell-or-port interface the relay loop drives.
//! - [`shell`], [`user`], [`env`], [`chunk`]: PTY shells, who they run as, the environment
//!   they start with, UTF-8-safe output chunks.
//! - [`port`], [`deny`]: TCP forwards and where they may not go.
//! - [`pacing`]: the send rate (`flowLimit`, Status 7).

pub mod channel;
pub mod chunk;
pub mod deny;
pub mod e2e;
pub mod env;
pub mod pacing;
pub mod port;
pub mod pull;
pub mod relay;
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
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, info_span, warn, Instrument as _};

use crate::client::Client;

/// The result of a session refused because `--max-sessions` sessions already run. The stock agent
/// reports `Init_channel_failed` for a session it gives up on before it dials the data
/// channel (no server to dial), which is what happens here; `Open_channel_failed` would claim
/// a data channel upgrade failed (sending whoever reads it to TLS and the gateway), and
/// `Unknown_error` says nothing. The gateway knows the code and shows the client
/// `InitChannelFailed`; the agent's log says why.
pub const REFUSED: AgentResult = AgentResult::InitChannelFailed;

/// What every session needs.
pub struct Context {
    /// The server.
    pub client: Client,
    /// Who shells run as.
    pub users: user::UserPolicy,
    /// Where forwards may not go.
    pub deny: deny::DenyList,
    /// The message type of key-exchange frames (`--key-exchange-message-type`).
    pub key_exchange_type: u32,
}

/// The agent's sessions; cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

struct Inner {
    ctx: Context,
    /// One permit per session that may run at once (`--max-sessions`); a session holds its
    /// permit from the kick to its result report.
    slots: Arc<Semaphore>,
    /// The number of slots, for the log line of a refusal.
    max_sessions: usize,
    /// Running channels and the token that stops each. A std mutex: it is never held across
    /// an await.
    running: Mutex<HashMap<String, CancellationToken>>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl Sessions {
    /// No sessions yet; at most `max_sessions` at once; all of them stop when `shutdown` is
    /// cancelled.
    pub fn new(ctx: Context, max_sessions: usize, shutdown: CancellationToken) -> Self {
        Self {
            inner: Arc::new(Inner {
                ctx,
                slots: Arc::new(Semaphore::new(max_sessions)),
                max_sessions,
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
                let Some(slot) = self.admit(&channel_id, &span) else {
                    return;
                };
                self.inner.tracker.spawn(
                    async move {
                        let shutdown = this.inner.shutdown.clone();
                        let specs =
                            pull::session_list(&this.inner.ctx.client, &channel_id, &shutdown)
                                .await;
                        this.run_specs(&channel_id, specs, slot).await;
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
            let Some(slot) = self.admit(&spec.channel_id, &span) else {
                continue;
            };
            self.inner.tracker.spawn(
                async move {
                    let id = spec.channel_id.clone();
                    this.run_specs(&id, vec![spec], slot).await;
                }
                .instrument(span),
            );
        }
    }

    /// A slot for the session of `channel_id`, or, when every slot is taken, `None` after
    /// logging why and reporting [`REFUSED`] for the channel (the report runs in its own task).
    fn admit(&self, channel_id: &str, span: &tracing::Span) -> Option<OwnedSemaphorePermit> {
        if let Ok(slot) = self.inner.slots.clone().try_acquire_owned() {
            return Some(slot);
        }
        let _entered = span.enter();
        warn!(
            max_sessions = self.inner.max_sessions,
            "session refused: the agent already runs its maximum of sessions"
        );
        let (this, channel_id) = (self.clone(), channel_id.to_owned());
        self.inner.tracker.spawn(
            async move { task::report(&this.inner.ctx.client, &channel_id, &REFUSED).await }
                .instrument(span.clone()),
        );
        None
    }

    /// Runs `specs` one after another, as the stock agent does, in one `slot`.
    async fn run_specs(
        &self,
        kick_channel: &str,
        specs: Vec<SessionSpec>,
        slot: OwnedSemaphorePermit,
    ) {
        let mut slot = Some(slot);
        let count = specs.len();
        for (i, mut spec) in specs.into_iter().enumerate() {
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
            let ended = task::run(&self.inner.ctx, &spec, &stop).await;
            // Both freed before the report: once the server knows the session ended it may
            // start another, even under the same channel id, at once.
            self.table().remove(&spec.channel_id);
            if i + 1 == count {
                drop(slot.take());
            }
            task::finish(&self.inner.ctx.client, &spec.channel_id, ended).await;
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
