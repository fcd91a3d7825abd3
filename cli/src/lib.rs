//! `axt`, the client of axtlab: signed ECS OpenAPI calls and interactive sessions through the
//! gateway, speaking the client protocol of the stock `ali-instance-cli`.
//!
//! A reader following one `axt session` goes: [`args`] (the command line) → [`profile`] (which
//! key, region and endpoint) → [`api`] (StartTerminalSession, signed V1) → [`ws`] (the
//! WebSocket, with [`tls`]) → [`channel`] (client frames 1.01) → [`session`] (the loop) with
//! [`terminal`] (raw mode, sizes, stdin). `axt portforward` and `axt ssh` share the same path up
//! to the channel, then relay raw bytes with [`relay`] ([`portforward`] per TCP connection,
//! [`ssh`] over stdio). [`lab`] runs a whole region on this machine for trying all of that.

use std::{path::PathBuf, process::ExitCode};

pub mod api;
pub mod args;
pub mod channel;
pub mod lab;
pub mod portforward;
pub mod profile;
pub mod relay;
pub mod session;
pub mod ssh;
pub mod terminal;
pub mod tls;
pub mod ws;

/// Runs one command line; the exit code says how it went.
pub async fn run(cli: args::Cli) -> anyhow::Result<ExitCode> {
    // The lab makes its own credentials; it needs no profile.
    if let args::Command::Lab(lab) = &cli.command {
        return lab::run(lab).await;
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let settings = profile::Settings::resolve(&cli.global, home.as_deref())?;
    match &cli.command {
        args::Command::Api(args) => api::run(&settings, args).await,
        args::Command::Session(args) => session::run(&settings, args).await,
        args::Command::Portforward(args) => portforward::run(&settings, args).await,
        args::Command::Ssh(args) => ssh::run(&settings, args).await,
        args::Command::Lab(args) => lab::run(args).await,
    }
}

/// The line shown for an error that ended `axt`: the service's own `Code: Message (RequestId)`
/// when it answered with an error body, else the chain of causes, each said once (some
/// libraries repeat their source in their own message).
pub fn error_line(err: &anyhow::Error) -> String {
    if let Some(api::CallError::Service(service)) = err.downcast_ref::<api::CallError>() {
        return service.to_string();
    }
    let mut line = String::from("axt");
    let mut previous = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !previous.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        previous = text;
    }
    line
}
