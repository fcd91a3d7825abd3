//! The command line of `axt`: global credential and endpoint options, and one struct per command.
//!
//! Every global option is also an environment variable, so that a lab shell can export its
//! settings once; the help text of each says where else the value may come from.

use std::path::PathBuf;

mod console;
mod iam;
mod lab;
mod proxy;
mod session;
mod usage;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use crate::api::Product;
pub use console::ConsoleArgs;
pub use iam::{ExplainArgs, IamArgs, IamCommand, LabIamArgs, SimulateArgs};
pub use lab::{LabArgs, LabCommand, LabDirArgs, LabDownArgs, LabUpArgs, ServeTargetArgs};
pub use proxy::ProxyArgs;
pub use session::{EncryptArgs, EncryptMode, SessionArgs};
pub use usage::command;

/// axt: the client of axtlab, a self-hosted ECS Session Manager.
///
/// Credentials come from --access-key-id/--access-key-secret (or their environment variables),
/// else from a profile of the aliyun CLI's `~/.aliyun/config.json`, in mode AK, StsToken or
/// RamRoleArn (the role is assumed through STS with the profile's key, and calls are signed
/// with the temporary key). A profile named with --profile brings its own key, whatever the
/// key variables say. axtlab adds one optional field to a profile, `axt_ca_cert`: the path of
/// a PEM file with the lab's CA, trusted for wss:// session URLs and https endpoints (the same
/// as --ca-cert).
///
/// Without --endpoint, calls go to the products' public names over HTTPS, as the SDKs make
/// them; like ali-instance-cli's OpenAPI calls, axt then honours HTTPS_PROXY and NO_PROXY (for
/// the API and the session WebSocket too) and trusts the certificates of SSL_CERT_FILE, so the
/// environment that sends the stock tools to a lab through `axt proxy` sends axt there too.
#[derive(Parser)]
#[command(name = "axt", version)]
pub struct Cli {
    /// Where to call and with which key; shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands. Not `Debug`: it holds the AccessKey secret.
#[derive(Args, Clone, Default)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// AccessKey id (else the profile's `access_key_id`; a profile named with --profile brings
    /// its own key instead).
    #[arg(long, global = true, env = "ALIBABA_CLOUD_ACCESS_KEY_ID")]
    pub access_key_id: Option<String>,
    /// AccessKey secret (else the profile's `access_key_secret`; likewise).
    #[arg(
        long,
        global = true,
        env = "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        hide_env_values = true
    )]
    pub access_key_secret: Option<String>,
    /// Profile of the config file to use (else the file's `current`, else `default`).
    #[arg(long, global = true, env = "ALIBABA_CLOUD_PROFILE")]
    pub profile: Option<String>,
    /// The aliyun CLI config file [default: ~/.aliyun/config.json].
    #[arg(long, global = true, env = "ALIBABA_CLOUD_CONFIG_FILE")]
    pub config_path: Option<PathBuf>,
    /// The OpenAPI endpoint of every product, as HOST:PORT (a leading http:// or https://
    /// sets the protocol). Without one, each product is called at its public name over HTTPS,
    /// as the SDKs call it (ecs-cn-hangzhou.aliyuncs.com, ram.aliyuncs.com, …), through
    /// HTTPS_PROXY when set: how a lab is reached through `axt proxy`.
    #[arg(
        long,
        global = true,
        env = "ALIBABA_CLOUD_ECS_ENDPOINT",
        default_value = "",
        hide_default_value = true
    )]
    pub endpoint: String,
    /// The protocol of the endpoint [default: http with --endpoint, else https].
    #[arg(
        long,
        global = true,
        env = "ALIBABA_CLOUD_ECS_ENDPOINT_PROTOCOL",
        value_enum
    )]
    pub endpoint_protocol: Option<Protocol>,
    /// Region id (else the profile's `region_id`, else cn-hangzhou).
    #[arg(long, global = true, env = "ALIBABA_CLOUD_REGION_ID")]
    pub region: Option<String>,
    /// PEM file of a CA to trust besides the public roots, for wss:// and https:// (else the
    /// profile's `axt_ca_cert`). The certificates of SSL_CERT_FILE are trusted too.
    #[arg(long, global = true, env = "AXT_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// When RAM policies refuse a call, decode its EncodedDiagnosticMessage (RAM
    /// DecodeDiagnosticMessage) and print why, statement by statement. Done anyway when stderr
    /// is a terminal.
    #[arg(long, global = true, env = "AXT_EXPLAIN")]
    pub explain: bool,
}

/// The scheme of the OpenAPI endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Protocol {
    /// Plain HTTP, what `scripts/lab` serves.
    #[default]
    Http,
    /// HTTPS, checked against the public roots and --ca-cert.
    Https,
}

impl Protocol {
    /// The URL scheme.
    pub fn scheme(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// The commands.
#[derive(Subcommand)]
pub enum Command {
    /// Call any OpenAPI action of ECS, RAM, STS or KMS, signed with signature V1, and print the
    /// JSON answer.
    ///
    /// Parameters follow the action as `--Name value` (or `--Name=value`), e.g.
    /// `axt api StartTerminalSession --InstanceId.1 i-x --PortNumber 22`. The product is ECS
    /// unless --product or a prefix says otherwise: `axt api Ram.CreateUser --UserName u` is
    /// `axt api --product ram CreateUser --UserName u`. ECS calls get RegionId from --region
    /// unless given. Put options such as --region and --product before the action; --explain
    /// may also follow it. A refusal by RAM policies prints the whole error body as JSON.
    Api(ApiArgs),
    /// Open an interactive shell on an instance (StartTerminalSession, then its WebSocket).
    Session(SessionArgs),
    /// Forward a local TCP port to a port on (or reached through) an instance.
    ///
    /// One StartTerminalSession at start; each local connection gets its own WebSocket on it.
    /// Ctrl-C closes every connection and ends the session.
    Portforward(PortforwardArgs),
    /// Relay stdin/stdout to a port of an instance, for OpenSSH's ProxyCommand:
    /// `ssh -o ProxyCommand='axt ssh --instance %h' user@i-x`.
    Ssh(SshArgs),
    /// The recordings of shell connections (asciicast v2): list them, or get one to play with
    /// `asciinema play` (axtlab's ListTerminalSessionRecordings, GetTerminalSessionRecording).
    Recordings(crate::recordings::RecordingsArgs),
    /// RAM policies, explained: why a call was refused, and what a call would meet.
    Iam(IamArgs),
    /// Run a whole axtlab region on this machine: a control plane, a gateway, instances with
    /// axt-agent and a private target host only the instances reach.
    ///
    /// As root with `ip` (iproute2), every instance and the target get a network namespace of
    /// their own; otherwise everything shares loopback and the target is not isolated.
    Lab(LabArgs),
    /// Let unmodified tools reach the lab by the public endpoint names: an HTTP CONNECT proxy
    /// that lets through only the lab's names (HTTPS_PROXY=http://<its address>).
    ///
    /// Every OpenAPI name of the regions on port 443 goes to --api, each region's gateway
    /// name (`<region>.axt.aliyuncs.com:443`) to --gateway; --route adds exact routes. Any
    /// other name or port is refused with 403, plain-HTTP proxying with 405; no name is ever
    /// resolved, so the host's DNS stays untouched.
    ///
    /// TLS is spliced end to end, so each tool must trust the lab CA itself: axt, Go tools
    /// (ali-instance-cli) and OpenSSL-based ones through SSL_CERT_FILE (axt also --ca-cert);
    /// the Tea SDKs ignore it and take the CA in their Config (Python: `ca=<path>`, Node: `ca`
    /// as PEM text). See the README, "Use the official tools unchanged".
    Proxy(ProxyArgs),
    /// Serve the web console: sign in with an AccessKey, instances, browser terminals, the
    /// flow of a session, recordings. It prints its URL (`console: http://127.0.0.1:PORT/`).
    ///
    /// Every call it makes is signed as whoever signed in, at --endpoint (or the public names
    /// through HTTPS_PROXY); the browser's WebSockets are relayed to the gateway trusting
    /// --ca-cert and SSL_CERT_FILE, so the browser needs neither.
    Console(ConsoleArgs),
}

/// `axt api [--product P] ACTION [--Name value]…`
#[derive(Args, Debug)]
pub struct ApiArgs {
    /// The product whose API version the call is signed with [default: ecs, or the action's
    /// `Ram.`/`Sts.`/`Kms.`/`Ecs.` prefix].
    #[arg(long, value_enum, env = "AXT_API_PRODUCT")]
    pub product: Option<Product>,
    /// The action, e.g. DescribeRegions, Ram.ListUsers, Sts.GetCallerIdentity.
    pub action: String,
    /// The action's parameters, as `--Name value` pairs.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "--Name value"
    )]
    pub params: Vec<String>,
}

/// How a byte relay frames what it sends; shared by `portforward` and `ssh`.
#[derive(Args, Debug, Clone, Copy)]
pub struct RelayArgs {
    /// Most bytes per Input frame, at most 61440. The axtlab gateway takes any size; 2048 is
    /// what ali-instance-cli sends, for a gateway that expects no more.
    #[arg(long, default_value_t = 60 * 1024, value_parser = clap::value_parser!(u32).range(1..=60 * 1024))]
    pub frame_size: u32,
}

/// `axt portforward --instance ID --remote-port R --local-port L`
#[derive(Args, Debug)]
pub struct PortforwardArgs {
    /// The instance whose port is forwarded (i-… or mi-…).
    #[arg(long, short = 'i', value_name = "ID")]
    pub instance: String,
    /// The port on the instance (or on --target-server) (StartTerminalSession `PortNumber`).
    #[arg(long, value_name = "PORT")]
    pub remote_port: u16,
    /// A host reached through the instance, instead of the instance itself (`TargetServer`).
    #[arg(long)]
    pub target_server: Option<String>,
    /// The local port to listen on; 0 picks a free one (the port is printed).
    #[arg(long, value_name = "PORT")]
    pub local_port: u16,
    /// The local address to listen on. Loopback by default, unlike ali-instance-cli (which
    /// listens on every interface): whoever reaches the port reaches the instance.
    #[arg(long, default_value = "127.0.0.1")]
    pub local_host: String,
    #[command(flatten)]
    pub relay: RelayArgs,
}

/// `axt ssh (--instance ID [--port 22] | --wss-url URL)`
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("target").required(true).args(["instance", "wss_url"])))]
pub struct SshArgs {
    /// The instance to connect to (i-… or mi-…).
    #[arg(long, short = 'i', value_name = "ID")]
    pub instance: Option<String>,
    /// The port on the instance (or on --target-server) (StartTerminalSession `PortNumber`).
    #[arg(long, short = 'p', default_value_t = 22)]
    pub port: u16,
    /// A host reached through the instance, instead of the instance itself (`TargetServer`).
    #[arg(long)]
    pub target_server: Option<String>,
    /// Connect this WebSocketUrl of an earlier StartTerminalSession (with a PortNumber) instead
    /// of calling the API.
    #[arg(long, short = 'u', value_name = "URL", conflicts_with_all = ["port", "target_server"])]
    pub wss_url: Option<String>,
    #[command(flatten)]
    pub relay: RelayArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn api_takes_everything_after_the_action() {
        let cli = Cli::try_parse_from([
            "axt",
            "--region",
            "cn-beijing",
            "api",
            "StartTerminalSession",
            "--InstanceId.1",
            "i-x",
            "--PortNumber=22",
        ])
        .unwrap();
        assert_eq!(cli.global.region.as_deref(), Some("cn-beijing"));
        let Command::Api(api) = cli.command else {
            panic!("not api")
        };
        assert_eq!(api.action, "StartTerminalSession");
        assert_eq!(api.params, ["--InstanceId.1", "i-x", "--PortNumber=22"]);
    }

    #[test]
    fn api_takes_a_product_before_the_action_and_explain_anywhere() {
        let cli = Cli::try_parse_from(["axt", "api", "--product", "ram", "CreateUser"]).unwrap();
        let Command::Api(api) = cli.command else {
            panic!("not api")
        };
        assert_eq!(api.product, Some(Product::Ram));
        assert!(Cli::try_parse_from(["axt", "api", "--product", "oss", "X"]).is_err());
        let cli = Cli::try_parse_from(["axt", "session", "-i", "i-x", "--explain"]).unwrap();
        assert!(cli.global.explain);
        // Among the parameters it is one of them, which `axt api` takes out itself.
        let cli = Cli::try_parse_from(["axt", "api", "X", "--Id", "i", "--explain"]).unwrap();
        let Command::Api(api) = cli.command else {
            panic!("not api")
        };
        assert!(!cli.global.explain);
        assert_eq!(api.params, ["--Id", "i", "--explain"]);
    }

    #[test]
    fn portforward_listens_on_loopback_unless_told_otherwise() {
        let parse = |args: &[&str]| {
            let all = [
                &["axt", "portforward", "-i", "i-x", "--remote-port", "22"],
                args,
            ]
            .concat();
            match Cli::try_parse_from(all).map(|cli| cli.command) {
                Ok(Command::Portforward(args)) => Ok(args),
                Ok(_) => panic!("not portforward"),
                Err(err) => Err(err),
            }
        };
        let args = parse(&["--local-port", "0"]).unwrap();
        assert_eq!(
            (args.local_host.as_str(), args.local_port),
            ("127.0.0.1", 0)
        );
        assert_eq!(args.relay.frame_size, 60 * 1024);
        assert!(parse(&[]).is_err(), "--local-port is required");
        assert!(parse(&["--local-port", "1", "--frame-size", "0"]).is_err());
        assert!(parse(&["--local-port", "1", "--frame-size", "61441"]).is_err());
    }

    #[test]
    fn without_endpoint_options_none_is_given() {
        let cli = Cli::try_parse_from(["axt", "api", "DescribeRegions"]).unwrap();
        assert_eq!(cli.global.endpoint, "");
        assert_eq!(cli.global.endpoint_protocol, None);
    }

    #[test]
    fn proxy_takes_routes_and_defaults_to_a_loopback_port() {
        let cli = Cli::try_parse_from(["axt", "proxy", "--api", "127.0.0.1:8443"]).unwrap();
        let Command::Proxy(proxy) = cli.command else {
            panic!("not proxy")
        };
        assert_eq!(proxy.listen.to_string(), "127.0.0.1:8088");
        assert!(proxy.regions.is_empty() && proxy.routes.is_empty());
        assert_eq!(proxy.api, "127.0.0.1:8443".parse().ok());
        let cli = Cli::try_parse_from([
            "axt",
            "proxy",
            "--regions",
            "cn-hangzhou,cn-shanghai",
            "--route",
            "a.test:443=127.0.0.1:1",
            "--route",
            "b.test:8443=127.0.0.1:2",
        ])
        .unwrap();
        let Command::Proxy(proxy) = cli.command else {
            panic!("not proxy")
        };
        assert_eq!(proxy.regions, ["cn-hangzhou", "cn-shanghai"]);
        assert_eq!(proxy.routes.len(), 2);
        assert!(Cli::try_parse_from(["axt", "proxy", "--api", "lab.test:8443"]).is_err());
        assert!(Cli::try_parse_from(["axt", "proxy", "--route", "a.test=127.0.0.1:1"]).is_err());
    }

    #[test]
    fn ssh_takes_an_instance_or_a_url() {
        let ok = |args: &[&str]| Cli::try_parse_from([&["axt", "ssh"], args].concat()).is_ok();
        assert!(ok(&["-i", "i-x"]));
        assert!(ok(&[
            "-i",
            "i-x",
            "--port",
            "2222",
            "--target-server",
            "10.0.0.5"
        ]));
        assert!(ok(&["--wss-url", "ws://h/session"]));
        assert!(!ok(&[]));
        assert!(!ok(&["-i", "i-x", "-u", "ws://h/"]));
        assert!(!ok(&["-u", "ws://h/", "--port", "22"]));
    }
}
