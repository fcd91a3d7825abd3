//! The command line of `axt`: global credential and endpoint options, and one struct per command.
//!
//! Every global option is also an environment variable, so that a lab shell can export its
//! settings once; the help text of each says where else the value may come from.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// axt: the client of axtlab, a self-hosted ECS Session Manager.
///
/// Credentials come from --access-key-id/--access-key-secret (or their environment variables),
/// else from a profile of the aliyun CLI's `~/.aliyun/config.json`. axtlab adds one optional
/// field to such a profile, `axt_ca_cert`: the path of a PEM file with the lab's CA, trusted for
/// wss:// session URLs and https endpoints (the same as --ca-cert).
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
    /// AccessKey id (else the profile's `access_key_id`).
    #[arg(long, global = true, env = "ALIBABA_CLOUD_ACCESS_KEY_ID")]
    pub access_key_id: Option<String>,
    /// AccessKey secret (else the profile's `access_key_secret`).
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
    /// The ECS OpenAPI endpoint as HOST:PORT (a leading http:// or https:// sets the protocol).
    #[arg(
        long,
        global = true,
        env = "ALIBABA_CLOUD_ECS_ENDPOINT",
        default_value = "127.0.0.1:8080"
    )]
    pub endpoint: String,
    /// The protocol of the endpoint.
    #[arg(
        long,
        global = true,
        env = "ALIBABA_CLOUD_ECS_ENDPOINT_PROTOCOL",
        value_enum,
        default_value_t = Protocol::Http
    )]
    pub endpoint_protocol: Protocol,
    /// Region id (else the profile's `region_id`, else cn-hangzhou).
    #[arg(long, global = true, env = "ALIBABA_CLOUD_REGION_ID")]
    pub region: Option<String>,
    /// PEM file of a CA to trust besides the public roots, for wss:// and https:// (else the
    /// profile's `axt_ca_cert`).
    #[arg(long, global = true, env = "AXT_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
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
    /// Call any ECS OpenAPI action, signed with signature V1, and print the JSON answer.
    ///
    /// Parameters follow the action as `--Name value` (or `--Name=value`), e.g.
    /// `axt api StartTerminalSession --InstanceId.1 i-x --PortNumber 22`. RegionId is added from
    /// --region unless given. Put global options such as --region before the action.
    Api(ApiArgs),
    /// Open an interactive shell on an instance (StartTerminalSession, then its WebSocket).
    Session(SessionArgs),
}

/// `axt api ACTION [--Name value]…`
#[derive(Args, Debug)]
pub struct ApiArgs {
    /// The action, e.g. DescribeRegions.
    pub action: String,
    /// The action's parameters, as `--Name value` pairs.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "--Name value"
    )]
    pub params: Vec<String>,
}

/// `axt session (--instance ID | --wss-url URL)`
#[derive(Args, Debug)]
pub struct SessionArgs {
    /// The instance to open a shell on (i-… or mi-…).
    #[arg(long, short = 'i', required_unless_present = "wss_url")]
    pub instance: Option<String>,
    /// Connect this WebSocketUrl of an earlier StartTerminalSession instead of calling the API.
    #[arg(long, short = 'u', conflicts_with_all = ["instance", "username", "command_line"])]
    pub wss_url: Option<String>,
    /// The user the shell runs as (StartTerminalSession `Username`).
    #[arg(long)]
    pub username: Option<String>,
    /// A command to run instead of the login shell (StartTerminalSession `CommandLine`).
    #[arg(long)]
    pub command_line: Option<String>,
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
    fn session_needs_an_instance_or_a_url_but_not_both() {
        assert!(Cli::try_parse_from(["axt", "session"]).is_err());
        assert!(Cli::try_parse_from(["axt", "session", "-i", "i-x", "-u", "ws://h/"]).is_err());
        assert!(
            Cli::try_parse_from(["axt", "session", "-u", "ws://h/", "--username", "u"]).is_err()
        );
        assert!(Cli::try_parse_from(["axt", "session", "-i", "i-x", "--username", "u"]).is_ok());
    }
}
