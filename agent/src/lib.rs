//! axt-agent: the axtlab host agent, interchangeable with the stock Cloud Assistant agent
//! (`aliyun-service`) behind a gateway, because it speaks exactly its protocol
//! (docs/protocol.md §2–§5).
//!
//! It registers with an activation code (an RSA-2048 identity that signs every request),
//! heart-beats, keeps the kick channel, and on `kick_vm session start <channel>` pulls the
//! session spec, opens the data channel and runs a shell on a PTY as the requested user, or
//! relays a TCP connection to a port, until the shell exits, the gateway stops it or the
//! channel goes idle; then it reports the result. A shell session whose spec asks for
//! encryption first runs a key exchange with the client, inside the data channel, and then
//! carries only ciphertext (docs/encryption.md).
//!
//! # Layout
//!
//! - [`config`]: the command line. [`state`]: the state directory. [`host`]: host facts.
//! - [`identity`]: the signed headers. [`client`]: HTTP and WebSockets to the server, TLS.
//! - [`register`]: `axt-agent register`.
//! - [`heartbeat`], [`kick`]: the two loops of a running agent.
//! - [`session`]: what a kick starts.
//! - [`backoff`]: redial delays.

pub mod backoff;
pub mod client;
pub mod config;
pub mod heartbeat;
pub mod host;
pub mod identity;
pub mod kick;
pub mod register;
pub mod session;
pub mod state;

use std::{future::Future, time::Duration};

use anyhow::Context as _;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::info;

pub use config::{Cli, Command};
pub use register::register;

/// How long sessions get to end and report after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// `axt-agent run`: heart-beat, kick channel and sessions until `shutdown` resolves.
pub async fn run(args: config::RunArgs, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let state = state::StateDir::new(&args.state_dir);
    let registration = state.load()?;
    let mut server = registration.server;
    if let Some(address) = args.server {
        server.server = address;
    }
    if args.ca_cert.is_some() {
        server.ca_cert = args.ca_cert;
    }
    server.plain |= args.plain;
    let cold_start = state.cold_start();
    let instance_id = registration.instance_id.clone();
    let signer = identity::Signer::new(
        registration.instance_id,
        registration.machine_id.clone(),
        registration.key,
    );
    let client = client::Client::new(&server, Some(signer)).context("setting up the client")?;

    let token = CancellationToken::new();
    let sessions = session::Sessions::new(
        session::Context {
            client: client.clone(),
            users: session::user::UserPolicy {
                default_user: args.default_user,
            },
            deny: session::deny::DenyList::new(&args.deny),
            key_exchange_type: args.key_exchange_message_type,
        },
        args.max_sessions as usize,
        token.clone(),
    );
    let tasks = TaskTracker::new();
    let first = heartbeat::FirstBeat {
        machine_id: registration.machine_id,
        cold_start,
    };
    tasks.spawn(heartbeat::run(client.clone(), first, token.clone()));
    tasks.spawn(kick::run(client.clone(), sessions.clone(), token.clone()));
    let (startup_client, startup_sessions, startup_token) =
        (client.clone(), sessions.clone(), token.clone());
    tasks.spawn(async move {
        tokio::select! {
            specs = session::pull::startup_task_list(&startup_client, cold_start) => {
                startup_sessions.start_listed(specs);
            }
            () = startup_token.cancelled() => {}
        }
    });
    info!(%instance_id, server = %server.server, plain = server.plain, "agent running");

    shutdown.await;
    info!("shutting down");
    token.cancel();
    tasks.close();
    sessions.drain(SHUTDOWN_GRACE).await;
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait()).await;
    Ok(())
}
