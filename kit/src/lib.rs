//! What axtlab's binaries and tests share that is not wire format (that is `axt-proto`):
//!
//! - [`background`]: a server embedded in a task, stopped when its handle drops;
//! - [`files`]: secret files, written owner-only and atomically;
//! - [`http`]: the HTTP server of the control plane and the gateway, with its timeouts and caps;
//! - [`logging`] and [`shutdown`]: how every binary logs (to stderr, `RUST_LOG`) and stops
//!   (Ctrl-C or SIGTERM);
//! - [`process`]: child processes with their output in a log file, waited for by what they
//!   write (every wait bounded, and failing at once if the process dies), killed by pid;
//! - [`netns`]: Linux network namespaces, veth pairs and bridges, built with iproute2, for the
//!   lab (`axt lab up`) and for the tests' hosts alike;
//! - [`sshd`]: the one OpenSSH server configuration of the lab and the tests;
//! - [`tls`]: the lab CA, and the server certificates the gateway and the control plane issue
//!   from it;
//! - [`user`]: login accounts that tests make and remove again;
//! - [`wait`]: polling a condition until a deadline;
//! - [`pace`]: the token bucket of the gateway's bandwidth limit and the agent's pacing;
//! - [`PROXY_VARS`]: the environment that would send a child's HTTP through a proxy.

pub mod background;
pub mod files;
pub mod http;
pub mod logging;
pub mod netns;
pub mod pace;
pub mod process;
pub mod shutdown;
pub mod sshd;
pub mod tls;
pub mod user;
pub mod wait;

/// The environment variables that would send HTTP(S) through a proxy. Nothing axtlab starts
/// goes through one: every child is started without them.
pub const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
];
