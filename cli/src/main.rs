//! `axt`: the command-line client of axtlab (see the library for what each command does).

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = axt_cli::args::Cli::parse_args();
    axt_kit::logging::init("warn");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("axt: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(axt_cli::run(cli));
    // Whatever still runs (a stdout write stuck on a full pipe, say) must not delay the exit.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{}", axt_cli::error_line(&err));
            ExitCode::FAILURE
        }
    }
}
