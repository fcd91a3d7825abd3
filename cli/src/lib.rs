//! `axt`, the client of axtlab: signed ECS OpenAPI calls and interactive sessions through the
//! gateway, speaking the client protocol of the stock `ali-instance-cli`.
//!
//! A reader following one `axt session` goes: [`args`] (the command line) → [`profile`] (which
//! key, region and endpoint) → [`api`] (StartTerminalSession, signed V1) → [`ws`] (the
//! WebSocket, with [`tls`]) → [`channel`] (client frames 1.01) → [`session`] (the loop) with
//! [`terminal`] (raw mode, sizes, stdin); with `--encrypt`, [`e2e`] agrees keys with the agent
//! and seals every frame. `axt portforward` and `axt ssh` share the same path up
//! to the channel, then relay raw bytes with [`relay`] ([`portforward`] per TCP connection,
//! [`ssh`] over stdio). [`lab`] runs a whole region on this machine for trying all of that;
//! [`proxy`] lets unmodified tools reach it by the public endpoint names; [`console`] serves it
//! to a browser (sign-in with an AccessKey, calls and session WebSockets made on its behalf).
//!
//! Every signed call is authorized by RAM policies in the control plane. A refusal ends any
//! command the same way: its error body as JSON, then — on a terminal, or with `--explain` —
//! why, decoded by [`iam::explain`]; [`iam::simulate`] asks the same question before calling.
//! So does a server certificate `axt` does not trust: the error, then what to do
//! ([`tls::hint`]).

use std::{io::IsTerminal as _, path::PathBuf, process::ExitCode};

pub mod api;
pub mod args;
pub mod channel;
pub mod console;
pub mod e2e;
pub mod iam;
pub mod lab;
pub mod portforward;
pub mod profile;
pub mod proxy;
pub mod recordings;
pub mod relay;
pub mod session;
pub mod ssh;
pub mod terminal;
pub mod tls;
pub mod ws;

/// Runs one command line; the exit code says how it went.
pub async fn run(cli: args::Cli) -> anyhow::Result<ExitCode> {
    // The lab makes its own credentials, and the proxy signs nothing: neither needs a profile.
    match &cli.command {
        args::Command::Lab(lab) => return lab::run(lab, &cli.global).await,
        args::Command::Proxy(proxy) => return proxy::run(proxy, &cli.global).await,
        _ => {}
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let settings = profile::Settings::resolve(&cli.global, home.as_deref())?;
    let result = match &cli.command {
        args::Command::Api(args) => api::run(&settings, args).await,
        args::Command::Session(args) => session::run(&settings, args).await,
        args::Command::Portforward(args) => portforward::run(&settings, args).await,
        args::Command::Ssh(args) => ssh::run(&settings, args).await,
        args::Command::Recordings(args) => recordings::run(&settings, args).await,
        args::Command::Iam(args) => iam::run(&settings, args).await,
        args::Command::Lab(args) => lab::run(args, &cli.global).await,
        args::Command::Proxy(args) => proxy::run(args, &cli.global).await,
        args::Command::Console(args) => console::run(&settings, &cli.global, args).await,
    };
    let err = match result {
        Ok(code) => return Ok(code),
        Err(err) => err,
    };
    if tls::hint::Advice::new(settings.ca_cert.as_deref()).report(&err) {
        return Ok(ExitCode::FAILURE);
    }
    let Some(call) = err.chain().find_map(|c| c.downcast_ref::<api::CallError>()) else {
        return Err(err);
    };
    let Some(refusal) = call.service().filter(|e| e.access_denied().is_some()) else {
        return Err(err);
    };
    // A refused AssumeRole is explained with the key that asked, not with the role's.
    let settings = match call {
        api::CallError::AssumeRole { .. } => settings.without_role(),
        _ => settings,
    };
    iam::explain::report_refusal(&settings, refusal, wants_explanation(&cli)).await;
    Ok(ExitCode::FAILURE)
}

/// Whether a refusal is explained: `--explain` (also among `axt api`'s parameters, where clap
/// does not look), or a person reading stderr.
fn wants_explanation(cli: &args::Cli) -> bool {
    let after_action = match &cli.command {
        args::Command::Api(api) => api::take_explain(&api.params).1,
        _ => false,
    };
    cli.global.explain || after_action || std::io::stderr().is_terminal()
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
