//! Every option of the gateway: a flag, an environment variable and a lab default.

use std::{net::SocketAddr, path::PathBuf};

use secrecy::SecretString;

/// The gateway's configuration (`axt-gateway --help`).
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "axt-gateway",
    version,
    about = "The Cloud Assistant server of an axtlab region: \
the agents' /luban surface and kick channels, and the /session WebSocket relay for clients."
)]
pub struct Config {
    /// Address agents and session clients connect to.
    #[arg(long, env = "AXT_GATEWAY_LISTEN", default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,

    /// Base URL of the control plane's internal API.
    #[arg(
        long,
        env = "AXT_CONTROL_PLANE",
        default_value = "http://127.0.0.1:8080"
    )]
    pub control_plane: String,

    /// Shared secret of the control plane's internal API.
    #[arg(long, env = "AXT_INTERNAL_TOKEN", hide_env_values = true)]
    pub internal_token: Option<SecretString>,

    /// File holding the internal token (the control plane writes <its data dir>/internal-token),
    /// read when --internal-token is not given.
    #[arg(long, env = "AXT_INTERNAL_TOKEN_FILE")]
    pub internal_token_file: Option<PathBuf>,

    /// Directory of the server certificate (and of the lab CA, unless --ca-dir).
    #[arg(long, env = "AXT_GATEWAY_DATA_DIR", default_value = "axt-data/gateway")]
    pub data_dir: PathBuf,

    /// Directory of the lab CA (ca.pem, ca.key), made on first start; one CA directory may
    /// serve the gateway and the control plane alike. Default: --data-dir.
    #[arg(long, env = "AXT_CA_DIR")]
    pub ca_dir: Option<PathBuf>,

    /// The URL clients and agents use to reach this gateway; its host goes into the certificate.
    #[arg(
        long,
        env = "AXT_GATEWAY_PUBLIC_URL",
        default_value = "wss://127.0.0.1:8443"
    )]
    pub public_url: String,

    /// More DNS names or IP addresses for the server certificate.
    #[arg(long = "san", env = "AXT_GATEWAY_SANS", value_delimiter = ',')]
    pub sans: Vec<String>,

    /// Serve plain HTTP and ws:// instead of TLS (local tests only: the stock agent needs TLS).
    #[arg(long, env = "AXT_GATEWAY_PLAIN")]
    pub plain: bool,

    /// Name of this gateway in connection records.
    #[arg(long, env = "AXT_GATEWAY_ID", default_value = "gw-1")]
    pub gateway_id: String,

    /// Seconds to wait for an agent to open the data channel after a kick.
    #[arg(long, env = "AXT_DELIVERY_TIMEOUT_SECS", default_value_t = 20)]
    pub delivery_timeout_secs: u64,

    /// Milliseconds the gateway holds client input after the agent's data channel opened,
    /// unless the agent's first output comes sooner: the stock agent drops input that arrives
    /// before its PTY exists (≈1 s after the upgrade).
    #[arg(long, env = "AXT_INPUT_HOLD_MS", default_value_t = 1500)]
    pub input_hold_ms: u64,

    /// Seconds without data in either direction after which a connection is closed (the
    /// documented 3 minutes). Keep-alives count as data.
    #[arg(long, env = "AXT_IDLE_TIMEOUT_SECS", default_value_t = 180)]
    pub idle_timeout_secs: u64,

    /// The message type of key-exchange frames of encrypted sessions (docs/encryption.md §1),
    /// relayed unchanged between client and agent: it is not in the stock agent's public
    /// source, so it is a setting; values 0–6 are the framings' own types and are refused.
    #[arg(
        long,
        env = "AXT_KEY_EXCHANGE_MESSAGE_TYPE",
        default_value_t = crate::relay::DEFAULT_KEY_EXCHANGE_TYPE,
        value_parser = clap::value_parser!(u32).range(7..)
    )]
    pub key_exchange_message_type: u32,

    #[command(flatten)]
    pub http: axt_kit::http::HttpArgs,

    /// Largest accepted clock difference of an agent's signed headers, in seconds.
    #[arg(long, env = "AXT_AGENT_CLOCK_SKEW_SECS", default_value_t = 900)]
    pub agent_clock_skew_secs: i64,

    /// Failed agent identity checks (and registrations) one address may cause per minute
    /// before it gets no more control-plane lookups: past it, only keys already cached verify,
    /// so genuine agents behind the same address keep working.
    #[arg(
        long,
        env = "AXT_AGENT_IDENTITY_FAILURES_PER_MINUTE",
        default_value_t = 60
    )]
    pub agent_identity_failures_per_minute: u32,

    /// Seconds an instance id the control plane does not know is refused from memory.
    #[arg(long, env = "AXT_AGENT_UNKNOWN_TTL_SECS", default_value_t = 10)]
    pub agent_unknown_ttl_secs: u64,
}

impl Config {
    /// The directory of the lab CA: `--ca-dir`, or the data directory.
    pub fn ca_dir(&self) -> &std::path::Path {
        self.ca_dir.as_deref().unwrap_or(&self.data_dir)
    }
}
