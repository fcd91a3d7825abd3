//! `axt-agent`: parses the command line and hands over to the library.

use std::{future::Future, process::ExitCode};

use anyhow::Context as _;
use axt_agent::{Cli, Command};
use clap::Parser as _;

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        // exec-as runs between fork and the shell: no runtime, no threads, no logging set-up;
        // it changes user and execs, or says why not on the terminal.
        Command::ExecAs(args) => {
            let Err(e) = axt_agent::session::user::exec_as(args);
            eprintln!("axt-agent exec-as: {e:#}");
            return ExitCode::from(127);
        }
        Command::Register(args) => block_on(async {
            let instance_id = axt_agent::register(args).await?;
            println!("instance id: {instance_id}");
            Ok(())
        }),
        Command::Run(args) => block_on(axt_agent::run(args, shutdown_signal())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("axt-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Sets up logging (stderr, `RUST_LOG`, default `info`) and runs `work` on a tokio runtime.
fn block_on(work: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    tokio::runtime::Runtime::new()
        .context("starting the runtime")?
        .block_on(work)
}

/// Resolves on Ctrl-C or SIGTERM, whichever comes first.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}
