//! The OpenAPI over HTTPS on the products' real endpoint names: with `--https-listen`, the
//! control plane issues itself a certificate from the lab CA for every name of
//! [`axt_proto::openapi::endpoints::api_names`] (plus `--https-san`) and serves the same router
//! there as on its plain listener, so that tools which insist on `https://<product>.aliyuncs.com`
//! reach the lab once those names resolve to it. Which product a call on such a name is for is
//! [`crate::api`]'s business (by `Host`).

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context as _;

use crate::Config;

/// File in the data directory that holds the address the HTTPS listener is bound to.
pub const HTTPS_ADDR_FILE: &str = "https-addr";

/// The name of the control plane's certificate files in its data directory (`https.pem`,
/// `https.key`).
const LABEL: &str = "https";

/// The HTTPS listener, bound, and its TLS configuration.
pub struct Https {
    pub listener: tokio::net::TcpListener,
    pub tls: Arc<rustls::ServerConfig>,
}

impl Https {
    /// The address it is bound to.
    pub fn addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// Binds `--https-listen` (when given) with a certificate from the lab CA, and writes the bound
/// address to `<data-dir>/https-addr` — at once, so that whoever bound port 0 may read it as
/// soon as the control plane is open. A file left by an earlier run is removed either way: it
/// must never name a listener that is not there.
pub async fn bind(config: &Config) -> anyhow::Result<Option<Https>> {
    let addr_file = config.data_dir.join(HTTPS_ADDR_FILE);
    match std::fs::remove_file(&addr_file) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", addr_file.display())),
    }
    let Some(listen) = config.https_listen else {
        return Ok(None);
    };
    let names = config.https_names();
    let tls = axt_kit::tls::server_config(&config.ca_dir(), &config.data_dir, LABEL, &names)
        .context("issuing the HTTPS certificate from the lab CA")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    std::fs::write(&addr_file, addr.to_string())
        .with_context(|| format!("writing {}", addr_file.display()))?;
    tracing::info!(
        %addr,
        ca = %config.ca_dir().join(axt_kit::tls::CA_FILE).display(),
        names = names.len(),
        "control plane listening (HTTPS)"
    );
    Ok(Some(Https { listener, tls }))
}

/// One shutdown signal for several listeners: the futures `wait()` returns all resolve when
/// `shutdown` does.
pub struct Fanout(tokio::sync::watch::Receiver<bool>);

impl Fanout {
    /// Watches `shutdown` from a task of its own.
    pub fn new(shutdown: impl Future<Output = ()> + Send + 'static) -> Self {
        let (tell, told) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            tell.send_replace(true);
        });
        Self(told)
    }

    /// Resolves once the shutdown signal came.
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut told = self.0.clone();
        async move {
            // The value stays `true` after the watcher is gone; an error (the watcher
            // dropped without telling, its runtime ending) means stop all the same.
            let _ = told.wait_for(|stop| *stop).await;
        }
    }
}
