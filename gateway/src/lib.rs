//! The axtlab gateway: the only address agents and session clients talk to.
//!
//! A session's story continues here after the control plane recorded it: the client opens
//! `/session` ([`session_surface`]), the gateway allocates a channel through the control plane
//! ([`control_plane`]),
//! kicks the instance's agent over its kick channel ([`kick`]), and pairs the agent's data
//! channel with the client ([`relay`]), translating the client framing to the agent framing
//! and back. The agents' own HTTP calls are in [`agent_surface`]. Every step and frame of a
//! session is published on its event bus (`/session/events`) and shell connections are
//! recorded in asciicast v2 ([`observe`]).

pub mod agent_surface;
pub mod config;
pub mod control_plane;
pub mod kick;
pub mod observe;
pub mod relay;
pub mod session_surface;
pub mod tls;
pub mod ws;

use std::{future::Future, sync::Arc};

use anyhow::Context as _;
use axum::routing::get;
use secrecy::ExposeSecret as _;

pub use config::Config;

/// What every handler shares.
pub struct Shared {
    pub config: Config,
    pub cp: control_plane::ControlPlane,
    pub kicks: kick::Kicks,
    pub channels: relay::Channels,
    pub identities: agent_surface::identity::Identities,
    /// Sessions' event buses and the recording of shell connections.
    pub observe: Arc<observe::Observe>,
    /// Turns true when the gateway shuts down: relays tell 1.02 clients to come back.
    pub closing: tokio::sync::watch::Sender<bool>,
    /// This run of the gateway: new at every start, so that the control plane can tell a
    /// restarted gateway (whose relays are gone) from the one before it.
    pub boot: String,
    /// Bandwidth buckets of the sessions relayed here, shared by their connections.
    pub rates: std::sync::Mutex<
        std::collections::HashMap<String, std::sync::Weak<relay::rate::SessionRate>>,
    >,
}

/// A ready gateway: control plane client made, TLS material in place.
pub struct Gateway {
    shared: Arc<Shared>,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl Gateway {
    /// Reads the internal token and, unless `--plain`, makes sure the lab CA and the server
    /// certificate exist.
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        let token = match (&config.internal_token, &config.internal_token_file) {
            (Some(token), _) => token.expose_secret().to_owned(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("reading the internal token from {}", path.display()))?
                .trim()
                .to_owned(),
            (None, None) => anyhow::bail!("give --internal-token or --internal-token-file"),
        };
        let tls = if config.plain {
            None
        } else {
            Some(tls::server_config_from(
                config.ca_dir(),
                &config.data_dir,
                &certificate_names(&config),
            )?)
        };
        let cp = control_plane::ControlPlane::new(&config.control_plane, token);
        let observe = observe::Observe::new(config.recording_policy(), Arc::new(cp.clone()));
        let shared = Arc::new(Shared {
            cp,
            observe,
            kicks: kick::Kicks::default(),
            channels: relay::Channels::default(),
            identities: agent_surface::identity::Identities::new(
                agent_surface::throttle::Throttle::new(
                    config.agent_identity_failures_per_minute,
                    std::time::Duration::from_secs(config.agent_unknown_ttl_secs),
                ),
            ),
            rates: Default::default(),
            closing: tokio::sync::watch::Sender::new(false),
            boot: uuid::Uuid::new_v4().simple().to_string(),
            config,
        });
        Ok(Self { shared, tls })
    }

    /// The state handlers see.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Serves until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = listener.local_addr()?;
        // Whatever kick channels a previous run of this gateway held are gone.
        let started = axt_proto::internal::GatewayStarted {
            gateway_id: self.shared.config.gateway_id.clone(),
            gateway_boot: self.shared.boot.clone(),
        };
        if let Err(error) = self.shared.cp.call(&started).await {
            tracing::warn!(%error, "cannot tell the control plane this gateway started");
        }
        let watcher = tokio::spawn(relay::watch_sessions(self.shared.clone()));
        let lease = tokio::spawn(relay::renew_lease(self.shared.clone()));
        let sweeper = tokio::spawn(observe::sweep_every(self.shared.observe.clone()));
        let shared = self.shared.clone();
        // WebSockets outlive axum's graceful shutdown, so relays are told themselves.
        let shutdown = async move {
            shutdown.await;
            shared.closing.send_replace(true);
        };
        let router = agent_surface::router()
            .route("/session", get(session_surface::session))
            .route("/session/events", get(observe::stream::events))
            .with_state(self.shared.clone());
        let limits = self.shared.config.http.limits();
        match self.tls {
            Some(config) => {
                let ca = self.shared.config.ca_dir().join(tls::CA_FILE);
                tracing::info!(%addr, ca = %ca.display(), "gateway listening (TLS)");
                axt_kit::http::serve(listener, Some(config), router, limits, shutdown).await;
            }
            None => {
                tracing::info!(%addr, "gateway listening (plain)");
                axt_kit::http::serve(listener, None, router, limits, shutdown).await;
            }
        }
        watcher.abort();
        lease.abort();
        sweeper.abort();
        // Give relays a moment to tell their clients, and recordings to make their last
        // append (bounded: a stuck one does not hold us).
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
        let busy = |s: &Shared| !s.channels.is_empty() || s.observe.uploading() > 0;
        while busy(&self.shared) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

/// A gateway serving from a task of this process; it stops when this handle drops.
pub type Background = axt_kit::background::Background<Arc<Shared>>;

impl Gateway {
    /// Serves on `listener` from a task of its own until the returned handle drops: the
    /// gateway that tests embed.
    pub fn spawn(self, listener: tokio::net::TcpListener) -> anyhow::Result<Background> {
        let (addr, shared) = (listener.local_addr()?, self.shared());
        Ok(Background::spawn(addr, shared, |stop| {
            self.serve(listener, stop)
        }))
    }
}

/// Names the server certificate must carry: loopback, the public URL's host, and `--san`.
fn certificate_names(config: &Config) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let host = url::Url::parse(&config.public_url)
        .ok()
        .and_then(|url| match url.host()? {
            url::Host::Ipv6(ip) => Some(ip.to_string()),
            host => Some(host.to_string()),
        });
    names.extend(host);
    if !config.listen.ip().is_unspecified() {
        names.push(config.listen.ip().to_string());
    }
    names.extend(config.sans.iter().cloned());
    names.sort();
    names.dedup();
    names.retain(|n| !n.is_empty());
    names
}
