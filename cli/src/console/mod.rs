//! `axt console`: the web console, served by `axt` itself. The browser only ever talks to this
//! process: it serves the embedded front end ([`assets`]), signs people in with an AccessKey
//! it keeps server-side behind a cookie ([`auth`], [`store`], [`guard`]), makes every OpenAPI
//! call as that principal with the CLI's own client and passes the answer through ([`calls`]),
//! and relays the session WebSockets to the gateway with the CLI's own connector ([`relay`]) —
//! so the browser needs no lab CA, no proxy, and never holds a key or a session token.
//!
//! Routes (all JSON unless said otherwise; errors are `{"Code","Message","RequestId"}`):
//! `GET /`, `GET /assets/<path>`, `POST /api/signin`, `POST /api/signout`, `GET /api/me`,
//! `POST /api/call`, `POST /api/sessions`, `GET /api/recordings`,
//! `GET /api/recordings/<sessionId>/<connectionId>.cast`, `GET /ws/session/<id>`,
//! `GET /ws/events/<id>`.

pub mod assets;
mod auth;
mod calls;
pub mod guard;
pub mod relay;
pub mod reply;
pub mod store;

use std::{net::SocketAddr, path::Path, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::{
    body::Bytes,
    extract::DefaultBodyLimit,
    middleware,
    routing::{get, post},
    Router,
};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::{net::TcpListener, sync::Semaphore};

use crate::{
    api::ApiClient,
    args::{ConsoleArgs, GlobalArgs},
    profile::Settings,
    ws::env_proxy::ProxyEnv,
};

/// Browser WebSockets relayed at once; more are refused with 503.
const MAX_RELAYS: usize = 256;

/// The largest request body: the parameters of one API call.
const MAX_BODY: usize = 256 * 1024;

/// What every request handler shares.
pub struct Console {
    /// The cookie sessions.
    pub store: store::Store,
    /// The global options every principal's calls are made with (endpoint, region, CA); the
    /// key comes from the sign-in.
    base: GlobalArgs,
    /// TLS for the gateway's WebSockets (public roots, --ca-cert, SSL_CERT_FILE).
    pub tls: Arc<rustls::ClientConfig>,
    /// HTTPS_PROXY and friends, for the gateway's WebSockets.
    pub proxies: ProxyEnv,
    /// One permit per relayed WebSocket.
    pub relays: Arc<Semaphore>,
    /// Whether the console listens on loopback only (and so answers loopback names only).
    pub loopback_only: bool,
}

impl Console {
    /// A console whose calls go where `settings` say.
    pub fn new(
        settings: &Settings,
        global: &GlobalArgs,
        listen: SocketAddr,
    ) -> anyhow::Result<Self> {
        let base = GlobalArgs {
            endpoint: global.endpoint.clone(),
            endpoint_protocol: global.endpoint_protocol,
            region: Some(settings.region.clone()),
            ca_cert: settings.ca_cert.clone(),
            ..GlobalArgs::default()
        };
        Ok(Self {
            store: store::Store::new(store::Limits::default()),
            base,
            tls: crate::tls::client_config(settings.ca_cert.as_deref())?,
            proxies: ProxyEnv::from_env(),
            relays: Arc::new(Semaphore::new(MAX_RELAYS)),
            loopback_only: listen.ip().is_loopback(),
        })
    }

    /// A client signing with the key `id`/`secret`, everything else from the global options.
    pub fn client_for(&self, id: &str, secret: &SecretString) -> anyhow::Result<ApiClient> {
        let args = GlobalArgs {
            access_key_id: Some(id.to_owned()),
            access_key_secret: Some(secret.expose_secret().to_owned()),
            ..self.base.clone()
        };
        // A home without a config file: the signed-in key alone, never a profile's role or key.
        let settings = Settings::resolve(&args, Some(Path::new("/dev/null")))?;
        ApiClient::new(&settings)
    }

    /// The router of every route.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/", get(assets::index))
            .route("/assets/{*path}", get(assets::asset))
            .route("/api/signin", post(auth::signin))
            .route("/api/signout", post(auth::signout))
            .route("/api/me", get(auth::me))
            .route("/api/call", post(calls::call))
            .route("/api/sessions", post(calls::start_session))
            .route("/api/recordings", get(calls::list_recordings))
            .route(
                "/api/recordings/{session}/{file}",
                get(calls::get_recording),
            )
            .route("/ws/session/{id}", get(relay::session))
            .route("/ws/events/{id}", get(relay::events))
            .fallback(reply::not_found)
            .method_not_allowed_fallback(reply::method_not_allowed)
            .layer(middleware::from_fn_with_state(
                self.clone(),
                guard::check_origin,
            ))
            .layer(middleware::map_response(reply::security_headers))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(self)
    }
}

/// `axt console`: serves until Ctrl-C or SIGTERM.
pub async fn run(
    settings: &Settings,
    global: &GlobalArgs,
    args: &ConsoleArgs,
) -> anyhow::Result<ExitCode> {
    let console = Arc::new(Console::new(settings, global, args.listen)?);
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let url = url_of(listener.local_addr()?);
    if let Some(path) = &args.url_file {
        write_url_file(path, &url)?;
    }
    tracing::debug!(assets = assets::paths().count(), "console ready");
    eprintln!("console: {url}");
    let limits = axt_kit::http::Limits {
        header_read_timeout: Duration::from_secs(10),
        max_pending: 256,
        max_pending_per_ip: 64,
        request_timeout: Duration::from_secs(90),
    };
    let router = console.router();
    axt_kit::http::serve(listener, None, router, limits, axt_kit::shutdown::signal()).await;
    Ok(ExitCode::SUCCESS)
}

/// The URL a browser opens: a wildcard address is reached on loopback.
fn url_of(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if !ip.is_unspecified() => ip,
        std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
    };
    format!("http://{}/", SocketAddr::new(ip, addr.port()))
}

/// Writes `url` to `path` whole or not at all (a reader polling for it never sees half).
fn write_url_file(path: &Path, url: &str) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, url)
        .and_then(|()| std::fs::rename(&partial, path))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A JSON request body, or the 400 that says what is wrong with it.
fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, reply::Failure> {
    serde_json::from_slice(body).map_err(|err| {
        reply::Failure::invalid(format!("the request body is not the JSON expected: {err}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_a_reachable_address() {
        let url = |a: &str| url_of(a.parse().unwrap());
        assert_eq!(url("127.0.0.1:8090"), "http://127.0.0.1:8090/");
        assert_eq!(url("0.0.0.0:1"), "http://127.0.0.1:1/");
        assert_eq!(url("[::]:2"), "http://[::1]:2/");
        assert_eq!(url("10.1.2.3:3"), "http://10.1.2.3:3/");
    }
}
