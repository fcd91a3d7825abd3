//! `axt-agent`: parses the command line and hands over to the library.

use std::process::ExitCode;

use anyhow::Context as _;
use axt_agent::{Cli, Command};
use clap::Parser as _;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // exec-as runs between fork and the shell: no runtime, no threads, no logging set-up —
    // it changes user and execs, or says why not on the terminal.
    if let Command::ExecAs(args) = cli.command {
        let Err(e) = axt_agent::session::user::exec_as(args);
        eprintln!("axt-agent exec-as: {e:#}");
        return ExitCode::from(127);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("axt-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(async {
        match command {
            Command::Register(args) => {
                let instance_id = axt_agent::register(args).await?;
                println!("instance id: {instance_id}");
                Ok(())
            }
            Command::Run(args) => axt_agent::run(args, shutdown_signal()).await,
            Command::ExecAs(_) => unreachable!("handled before the runtime starts"),
        }
    })
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
