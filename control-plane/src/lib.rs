//! The axtlab control plane: the ECS OpenAPI (RPC, version 2014-05-26) that the real Alibaba
//! Cloud SDKs call, and the internal API the gateways call, over one SQLite database.
//!
//! A session's story starts here: [`api`] authenticates a signed `StartTerminalSession`,
//! validates it as the documented service does and records it through [`store`]; the gateway
//! later checks its token and allocates a channel through [`internal`].

pub mod admin;
pub mod api;
pub mod config;
pub mod https;
pub mod ids;
pub mod internal;
pub mod ip_range;
pub mod nonces;
pub mod recordings;
pub mod sealing;
pub mod store;
pub mod version;

#[cfg(test)]
mod redaction_tests;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;

pub use config::{AdminTask, Config};
use store::Store;

/// File in the data directory that holds the address the server is listening on.
pub const LISTEN_ADDR_FILE: &str = "listen-addr";

/// What every request handler shares.
pub struct Shared {
    /// The database.
    pub store: Store,
    /// The options the process started with.
    pub config: Config,
    /// The secret gateways present on the internal API.
    pub internal_token: String,
    /// The SignatureNonces spent within the timestamp window.
    pub nonces: nonces::Nonces,
    /// Held while a channel is allocated, so that the per-instance connection limit holds
    /// exactly: the count and the insert are two statements. (StartTerminalSession needs no
    /// such gate: its count and insert are one statement.)
    pub channel_gate: tokio::sync::Mutex<()>,
    /// The shell connections' recordings, which gateways append.
    pub recordings: recordings::Recordings,
}

/// A ready control plane: database open and migrated, admin key in place, and the HTTPS
/// listener (with `--https-listen`) bound.
pub struct App {
    shared: Arc<Shared>,
    https: Option<https::Https>,
}

impl App {
    /// Opens (or creates) the data directory and the database, runs the migrations and makes
    /// sure an admin AccessKey and an internal token exist; with `--https-listen`, issues the
    /// HTTPS certificate and binds that listener (writing `<data-dir>/https-addr`).
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        let store = Store::open(&config.data_dir).await?;
        admin::ensure_admin_key(&store, &config).await?;
        // Sessions whose URL expired while the control plane was down stop counting now.
        store.sweep_expired_sessions(store::now()).await?;
        let nonces = nonces::Nonces::open(
            &store,
            config.max_clock_skew_secs,
            usize::try_from(config.max_remembered_nonces).unwrap_or(usize::MAX),
        )
        .await?;
        let internal_token = admin::internal_token(&config)?;
        let https = https::bind(&config).await?;
        let recordings = recordings::Recordings::new(&config);
        // Before serving, so that a recording past its retention is not handed out; a failure
        // is the sweep's to retry hourly, not a reason to leave the region without its API.
        match recordings.sweep(&store, store::now()).await {
            Ok(0) => {}
            Ok(swept) => tracing::info!(swept, "deleted recordings past their retention"),
            Err(error) => tracing::warn!(error = format!("{error:#}"), "sweeping recordings"),
        }
        Ok(Self {
            https,
            shared: Arc::new(Shared {
                store,
                config,
                internal_token,
                nonces,
                channel_gate: tokio::sync::Mutex::new(()),
                recordings,
            }),
        })
    }

    /// The state handlers see; tests use it to reach the store directly.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Where the HTTPS listener is bound, with `--https-listen`.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https.as_ref().and_then(|h| h.addr().ok())
    }

    /// Serves the OpenAPI at `/` and the internal API at `/internal/v1` on `listener` — and
    /// the same on the HTTPS listener, when bound — until `shutdown` resolves, then finishes
    /// the requests in flight on both.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = listener.local_addr()?;
        // Scripts and tests that bind port 0 learn the real address from this file.
        let addr_file = self.shared.config.data_dir.join(LISTEN_ADDR_FILE);
        std::fs::write(&addr_file, addr.to_string())
            .with_context(|| format!("writing {}", addr_file.display()))?;
        tracing::info!(%addr, data_dir = %self.shared.config.data_dir.display(), "control plane listening");
        let janitor = tokio::spawn(prune_nonces(self.shared.clone()));
        let leases = tokio::spawn(expire_leases(self.shared.clone()));
        let sweeper = tokio::spawn(sweep_recordings(self.shared.clone()));
        let router = axum::Router::new()
            .merge(api::router())
            .nest(
                axt_proto::internal::BASE,
                internal::router(self.shared.clone()),
            )
            .with_state(self.shared.clone());
        let limits = self.shared.config.http.limits();
        let shutdown = https::Fanout::new(shutdown);
        let plain = axt_kit::http::serve(listener, None, router.clone(), limits, shutdown.wait());
        match self.https {
            Some(https) => {
                let tls = axt_kit::http::serve(
                    https.listener,
                    Some(https.tls),
                    router,
                    limits,
                    shutdown.wait(),
                );
                tokio::join!(plain, tls);
            }
            None => plain.await,
        }
        janitor.abort();
        leases.abort();
        sweeper.abort();
        // What a restart reloads: every nonce spent, not only those of the last batch.
        if let Err(error) = self.shared.nonces.flush().await {
            tracing::warn!(
                error = format!("{error:#}"),
                "writing the last signature nonces"
            );
        }
        self.shared.store.close().await;
        Ok(())
    }
}

/// A control plane serving from a task of this process; it stops when this handle drops.
pub type Background = axt_kit::background::Background<Arc<Shared>>;

impl App {
    /// Serves on `listener` from a task of its own until the returned handle drops: the
    /// control plane that tests embed.
    pub fn spawn(self, listener: tokio::net::TcpListener) -> anyhow::Result<Background> {
        let (addr, shared) = (listener.local_addr()?, self.shared());
        Ok(Background::spawn(addr, shared, |stop| {
            self.serve(listener, stop)
        }))
    }
}

/// Runs an administrator's task on the database of `config.data_dir` (the control plane may be
/// serving it at the same time: SQLite takes both).
pub async fn run_task(config: &Config, task: &AdminTask) -> anyhow::Result<()> {
    // Opening would create a data directory (and its key): a mistyped path must not.
    anyhow::ensure!(
        config.data_dir.join(store::DB_FILE).is_file(),
        "no control plane database in {}",
        config.data_dir.display()
    );
    let store = Store::open(&config.data_dir).await?;
    let (instance_id, reason) = match task {
        AdminTask::LockInstance {
            instance_id,
            reason,
        } => (instance_id, reason.as_str()),
        AdminTask::UnlockInstance { instance_id } => (instance_id, ""),
    };
    let found = store.set_lock_reason(instance_id, reason).await?;
    store.close().await;
    anyhow::ensure!(
        found,
        "no instance {instance_id} in {}",
        config.data_dir.display()
    );
    Ok(())
}

/// Once a second, fails the connections of gateways whose lease ran out, so that a killed
/// gateway's connections stop counting against the limits within a lease; and clears the flag
/// of the sessions whose URL expired unused, so that counting a region's sessions never walks
/// more than a second's worth of them.
async fn expire_leases(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match shared.store.expire_leases().await {
            Ok(0) => {}
            Ok(failed) => tracing::warn!(failed, "connections of gateways whose lease ran out"),
            Err(error) => tracing::warn!(%error, "expiring gateway leases"),
        }
        if let Err(error) = shared.store.sweep_expired_sessions(store::now()).await {
            tracing::warn!(%error, "sweeping expired sessions");
        }
    }
}

/// Hourly, deletes the recordings past their retention (the first sweep ran at start).
async fn sweep_recordings(shared: Arc<Shared>) {
    let hour = Duration::from_secs(3600);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + hour, hour);
    loop {
        tick.tick().await;
        match shared.recordings.sweep(&shared.store, store::now()).await {
            Ok(0) => {}
            Ok(swept) => tracing::info!(swept, "deleted recordings past their retention"),
            Err(error) => tracing::warn!(error = format!("{error:#}"), "sweeping recordings"),
        }
    }
}

/// Deletes the written SignatureNonces whose requests could no longer pass the skew check, so
/// the table stays small while replays stay impossible (memory forgets them as it goes).
async fn prune_nonces(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(error) = shared.store.prune_nonces(store::now()).await {
            tracing::warn!(%error, "pruning signature nonces");
        }
    }
}
