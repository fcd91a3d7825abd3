//! Every option of the control plane: a flag, an environment variable and a default that
//! behaves like the documented service.

use std::{net::SocketAddr, path::PathBuf};

use secrecy::SecretString;

/// The regions a fresh lab serves, by default. `DescribeRegions` lists them in this order.
pub const DEFAULT_REGIONS: &str =
    "cn-hangzhou,cn-shanghai,cn-beijing,cn-shenzhen,cn-hongkong,ap-southeast-1,us-west-1,eu-central-1";

/// The control plane's configuration (`axt-control-plane --help`). Secrets are
/// [`SecretString`]s, so that printing the configuration never prints them.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "axt-control-plane",
    version,
    about = "The ECS OpenAPI of an axtlab region: \
signed RPC calls (V1 and V3), instances, activations, terminal sessions, all in SQLite."
)]
pub struct Config {
    /// Address the OpenAPI and the gateways' internal API listen on.
    #[arg(long, env = "AXT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory of the SQLite database, the generated admin key and internal token.
    #[arg(long, env = "AXT_DATA_DIR", default_value = "axt-data/control-plane")]
    pub data_dir: PathBuf,

    /// Address to serve the same OpenAPI over HTTPS on as well, with a certificate for the
    /// products' real endpoint names (ecs-cn-hangzhou.aliyuncs.com, ram.aliyuncs.com, …) from
    /// the lab CA. Off unless given; the bound address goes to <data-dir>/https-addr.
    #[arg(long, env = "AXT_HTTPS_LISTEN")]
    pub https_listen: Option<SocketAddr>,

    /// Directory of the lab CA (ca.pem, ca.key), made on first start; the gateway's
    /// --ca-dir may name the same one. Default: <data-dir>/ca.
    #[arg(long, env = "AXT_CA_DIR")]
    pub ca_dir: Option<PathBuf>,

    /// More names (DNS names or IP addresses) for the HTTPS certificate, besides every
    /// endpoint name of --regions.
    #[arg(
        long = "https-san",
        env = "AXT_HTTPS_SANS",
        value_delimiter = ',',
        default_values = ["127.0.0.1", "localhost"]
    )]
    pub https_sans: Vec<String>,

    /// Public URL of the gateway, put in WebSocketUrl for ConnectionType=Internet.
    #[arg(long, env = "AXT_GATEWAY_URL", default_value = "wss://127.0.0.1:8443")]
    pub gateway_url: String,

    /// URL of the gateway for ConnectionType=Intranet; without it such calls are refused
    /// with InvalidOperation.ConnectionTypeUnsupported.
    #[arg(long, env = "AXT_GATEWAY_INTRANET_URL")]
    pub gateway_intranet_url: Option<String>,

    /// Shared secret of the internal API that gateways call. Generated into
    /// <data-dir>/internal-token when not given.
    #[arg(long, env = "AXT_INTERNAL_TOKEN", hide_env_values = true)]
    pub internal_token: Option<SecretString>,

    /// AccessKeyId of the admin key to create on first start (with the secret below).
    #[arg(long, env = "AXT_ADMIN_ACCESS_KEY_ID")]
    pub admin_access_key_id: Option<String>,

    /// AccessKeySecret of the admin key; when either is unset a key is generated into
    /// <data-dir>/admin-access-key.json.
    #[arg(long, env = "AXT_ADMIN_ACCESS_KEY_SECRET", hide_env_values = true)]
    pub admin_access_key_secret: Option<SecretString>,

    /// Comma-separated RegionIds this control plane serves.
    #[arg(long, env = "AXT_REGIONS", value_delimiter = ',', default_value = DEFAULT_REGIONS)]
    pub regions: Vec<String>,

    /// Regions that exist but where StartTerminalSession answers RegionId.ApiNotSupported.
    #[arg(long, env = "AXT_SESSION_UNSUPPORTED_REGIONS", value_delimiter = ',')]
    pub session_unsupported_regions: Vec<String>,

    /// Seconds a WebSocketUrl stays valid after StartTerminalSession.
    #[arg(long, env = "AXT_URL_TTL_SECS", default_value_t = 600)]
    pub url_ttl_secs: i64,

    /// Most instances one StartTerminalSession may name (the documented service allows 1).
    #[arg(long, env = "AXT_MAX_INSTANCES_PER_SESSION", default_value_t = 1)]
    pub max_instances_per_session: usize,

    /// Most created-and-active sessions per region.
    #[arg(long, env = "AXT_MAX_SESSIONS_PER_REGION", default_value_t = 100)]
    pub max_sessions_per_region: i64,

    /// Most connected sessions per instance.
    #[arg(long, env = "AXT_MAX_CONNECTIONS_PER_INSTANCE", default_value_t = 20)]
    pub max_connections_per_instance: i64,

    /// Most live connections (WebSockets) of one session. A port forward opens one per TCP
    /// connection, and a browser behind one opens a few dozen at once; each starts a shell or
    /// a dial on the agent, so one WebSocketUrl must not open them without end.
    #[arg(long, env = "AXT_MAX_CONNECTIONS_PER_SESSION", default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..))]
    pub max_connections_per_session: i64,

    /// Bandwidth limit of one session in bytes per second (0 lifts it), told to agents as
    /// flowLimit.
    #[arg(long, env = "AXT_SESSION_RATE_LIMIT", default_value_t = 204_800)]
    pub session_rate_limit: u64,

    /// Oldest Linux agent version that supports Session Manager.
    #[arg(long, env = "AXT_MIN_AGENT_VERSION_LINUX", default_value = "2.2.3.256")]
    pub min_agent_version_linux: String,

    /// Oldest Windows agent version that supports Session Manager.
    #[arg(
        long,
        env = "AXT_MIN_AGENT_VERSION_WINDOWS",
        default_value = "2.1.3.256"
    )]
    pub min_agent_version_windows: String,

    /// Oldest agent version that supports end-to-end session encryption: 2.2.4.1065, the first
    /// Linux stock agent whose source has the key exchange (docs/encryption.md §6).
    #[arg(
        long,
        env = "AXT_MIN_AGENT_VERSION_ENCRYPTION",
        default_value = "2.2.4.1065"
    )]
    pub min_agent_version_encryption: String,

    /// Oldest agent version that supports port forwarding; older agents get
    /// PortForwarding.NotSupported ("0": every agent that supports Session Manager).
    #[arg(
        long,
        env = "AXT_MIN_AGENT_VERSION_PORT_FORWARDING",
        default_value = "0"
    )]
    pub min_agent_version_port_forwarding: String,

    /// Seconds a gateway's lease on its connections lasts; gateways renew at a third of it. The
    /// connections of a gateway silent past it (killed, cut off) are recorded Failed
    /// (GatewayLost) and stop counting against the limits.
    #[arg(long, env = "AXT_GATEWAY_LEASE_SECS", default_value_t = 15)]
    pub gateway_lease_secs: i64,

    /// An agent counts as online (CloudAssistantStatus "true") this many seconds after its
    /// last heart-beat.
    #[arg(long, env = "AXT_HEARTBEAT_WINDOW_SECS", default_value_t = 120)]
    pub heartbeat_window_secs: i64,

    /// Most bytes of one connection's recording (asciicast v2, in <data-dir>/recordings). Past
    /// it the recording keeps the whole lines that fit, is marked truncated, and later output
    /// of that connection is not recorded.
    #[arg(long, env = "AXT_RECORDING_MAX_BYTES", default_value_t = 64 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub recording_max_bytes: u64,

    /// Days a recording is kept after its last append; older ones are deleted (file and
    /// metadata) at start and hourly. 0 keeps them forever.
    #[arg(long, env = "AXT_RECORDING_RETENTION_DAYS", default_value_t = 30)]
    pub recording_retention_days: u32,

    /// Largest accepted clock difference of a signed request, in seconds.
    #[arg(long, env = "AXT_MAX_CLOCK_SKEW_SECS", default_value_t = 900)]
    pub max_clock_skew_secs: i64,

    /// Most SignatureNonces held in memory (about 80 bytes each). Each is held until its
    /// request's timestamp could no longer pass the skew check; past this many, the earliest
    /// are dropped and requests signed as early as them are refused (TimestampExpired), so
    /// that a forgotten nonce can never be replayed.
    #[arg(long, env = "AXT_MAX_REMEMBERED_NONCES", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_remembered_nonces: u64,

    /// HostId of error bodies: the host name the real service answers with.
    #[arg(long, env = "AXT_HOST_ID", default_value = "ecs.aliyuncs.com")]
    pub host_id: String,

    #[command(flatten)]
    pub http: axt_kit::http::HttpArgs,

    /// An administrator's task on the data directory instead of serving.
    #[command(subcommand)]
    pub task: Option<AdminTask>,
}

impl Config {
    /// The directory of the lab CA: `--ca-dir`, or `<data-dir>/ca`.
    pub fn ca_dir(&self) -> PathBuf {
        self.ca_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("ca"))
    }

    /// The names the HTTPS certificate carries: every endpoint name of the regions, and
    /// `--https-san`.
    pub fn https_names(&self) -> Vec<String> {
        let mut names = axt_proto::openapi::endpoints::api_names(&self.regions);
        names.extend(self.https_sans.iter().filter(|n| !n.is_empty()).cloned());
        names.sort();
        names.dedup();
        names
    }
}

/// What the lab's administrator does to the region outside the OpenAPI, as the cloud's
/// operators would.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AdminTask {
    /// Puts an operation lock on an instance: DescribeInstances shows it under
    /// OperationLocks, and StartTerminalSession refuses the instance with Operation.Forbidden.
    LockInstance {
        /// The instance (`i-…` or `mi-…`).
        instance_id: String,
        /// The LockReason, as the cloud spells them.
        #[arg(long, default_value = "security", value_parser = ["security", "financial", "recycling", "dedicatedhostfinancial", "refunded"])]
        reason: String,
    },
    /// Lifts an instance's operation lock.
    UnlockInstance {
        /// The instance (`i-…` or `mi-…`).
        instance_id: String,
    },
}
