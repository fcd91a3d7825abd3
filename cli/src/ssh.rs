//! `axt ssh`: a port session relayed over stdin/stdout, for OpenSSH's `ProxyCommand`. stdout
//! carries the remote bytes and nothing else; every message goes to stderr.
//!
//! Unlike ali-instance-cli, which holds the first chunk of stdin until the first Output and
//! drops what comes in between, axt sends stdin as it comes (the gateway holds early input
//! until the agent is ready), and on stdin's end it waits for the remote side to finish
//! instead of exiting at once.

use std::process::ExitCode;

use crate::{args::SshArgs, portforward::PortSession, profile::Settings, relay, terminal, tls, ws};

/// `axt ssh`: starts a port session (unless given its URL), relays, and ends the session it
/// started. Exit 0 on a clean end (the session exited, or closed after stdin ended, or a
/// signal such as the SIGHUP OpenSSH sends its proxy when done); 1 otherwise.
pub async fn run(settings: &Settings, args: &SshArgs) -> anyhow::Result<ExitCode> {
    let tls = tls::client_config(settings.ca_cert.as_deref())?;
    let (session, url) = match (&args.wss_url, &args.instance) {
        (Some(url), _) => (None, url.clone()),
        (None, Some(instance)) => {
            let target = args.target_server.as_deref();
            let session = PortSession::start(settings, instance, args.port, target).await?;
            let url = session.url().to_owned();
            (Some(session), url)
        }
        (None, None) => anyhow::bail!("give --instance or --wss-url"),
    };
    let relayed = relay_stdio(&url, tls, args.relay.frame_size as usize).await;
    // A session this command started is ended whatever happened, so its URL cannot be reused;
    // failing to end it is reported but does not hide how the relay went.
    if let Some(session) = &session {
        session.end_quietly().await;
    }
    let end = relayed?;
    if end.is_clean() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("axt: {}", end.message());
    Ok(ExitCode::FAILURE)
}

/// Opens the WebSocket and relays stdin → Input, Output → stdout until the session ends.
async fn relay_stdio(
    url: &str,
    tls: std::sync::Arc<rustls::ClientConfig>,
    frame_size: usize,
) -> anyhow::Result<relay::End> {
    let mut interrupts = terminal::Interrupts::new()?;
    let ws = ws::connect(url, tls).await?;
    // tokio's stdin reads on the blocking pool; a read still waiting when the relay ends does
    // not delay the exit, since main shuts the runtime down without waiting for it.
    let end = relay::relay(
        tokio::io::stdin(),
        tokio::io::stdout(),
        ws,
        frame_size,
        async move {
            let (name, _) = interrupts.recv().await;
            tracing::info!(signal = name, "stopping");
        },
    )
    .await;
    Ok(end)
}
