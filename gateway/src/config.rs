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

    /// Record shell connections in asciicast v2, appended to the control plane as they run
    /// (port sessions and end-to-end encrypted ones never are). On by default;
    /// `--no-recordings` (or AXT_RECORDINGS=false) turns it off.
    #[arg(
        long,
        env = "AXT_RECORDINGS",
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        overrides_with = "no_recordings"
    )]
    pub recordings: bool,

    /// Do not record shell connections.
    #[arg(long, overrides_with = "recordings")]
    pub no_recordings: bool,

    /// Record what users type too (`i` events). Off by default: input holds passwords.
    #[arg(
        long,
        env = "AXT_RECORD_INPUT",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub record_input: bool,

    /// Milliseconds between appends of a recording to the control plane, at most: a crashed
    /// gateway loses about that much of each recording.
    #[arg(long, env = "AXT_RECORDING_FLUSH_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(10..))]
    pub recording_flush_ms: u64,

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
    /// What to record: `--recordings`/`--no-recordings`, `--record-input`,
    /// `--recording-flush-ms`.
    pub fn recording_policy(&self) -> crate::observe::Policy {
        crate::observe::Policy {
            enabled: self.recordings && !self.no_recordings,
            input: self.record_input,
            flush: std::time::Duration::from_millis(self.recording_flush_ms),
        }
    }

    /// The directory of the lab CA: `--ca-dir`, or the data directory.
    pub fn ca_dir(&self) -> &std::path::Path {
        self.ca_dir.as_deref().unwrap_or(&self.data_dir)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::Config;

    fn policy(args: &[&str]) -> crate::observe::Policy {
        let args = ["axt-gateway", "--internal-token", "t"].iter().chain(args);
        Config::try_parse_from(args).unwrap().recording_policy()
    }

    #[test]
    fn recordings_are_on_by_default_and_input_is_not() {
        let default = policy(&[]);
        assert!(default.enabled && !default.input);
        assert_eq!(default.flush, std::time::Duration::from_millis(1000));
        assert!(!policy(&["--no-recordings"]).enabled);
        assert!(!policy(&["--recordings=false"]).enabled);
        assert!(
            policy(&["--no-recordings", "--recordings"]).enabled,
            "the last one wins"
        );
        assert!(!policy(&["--recordings", "--no-recordings"]).enabled);
        let custom = policy(&["--record-input", "--recording-flush-ms", "250"]);
        assert!(custom.input);
        assert_eq!(custom.flush, std::time::Duration::from_millis(250));
        let too_often = ["axt-gateway", "--recording-flush-ms", "0"];
        assert!(Config::try_parse_from(too_often).is_err());
    }
}
