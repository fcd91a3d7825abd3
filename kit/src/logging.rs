//! Logging for every axtlab binary: `tracing` to stderr, filtered by `RUST_LOG`, in colour
//! only on a terminal.

use std::io::IsTerminal as _;

/// Installs the subscriber; `default` is the filter when `RUST_LOG` is unset (`info`, or
/// `info,sqlx=warn`). Logs go to stderr, so stdout stays for what a command prints.
pub fn init(default: &str) {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default.into()),
        )
        .init();
}
