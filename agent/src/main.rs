//! `axt-agent`: parses the command line and hands over to the library.

use std::{future::Future, process::ExitCode};

use anyhow::Context as _;
use axt_agent::{Cli, Command};
use clap::Parser as _;

/// jemalloc, with its background thread, rather than glibc's malloc: it gives freed memory back
/// to the system within seconds, idle or not (glibc kept a soak's closed sessions resident, and
/// mimalloc half of them), and recycles the short-lived frame buffers of small WebSocket reads
/// without a page fault each (README, Performance: "Memory per session").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
        Command::Run(args) => block_on(axt_agent::run(args, axt_kit::shutdown::signal())),
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
    axt_kit::logging::init("info");
    tokio::runtime::Runtime::new()
        .context("starting the runtime")?
        .block_on(work)
}
