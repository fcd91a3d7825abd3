//! Every option of `axt-agent`: one clap subcommand per job, each flag also an environment
//! variable.

use std::{convert::Infallible, path::PathBuf};

use secrecy::SecretString;

use crate::session::deny::DenyEntry;

/// `axt-agent --help`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "axt-agent",
    version,
    about = "The axtlab host agent: registers with a gateway, heart-beats, listens for kicks \
and runs terminal sessions (PTY shells) and port forwards, speaking the stock Cloud \
Assistant agent's protocol."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Register this host with an activation code and keep the identity in the state directory.
    Register(RegisterArgs),
    /// Run the agent: heart-beat, kick channel, sessions; until SIGTERM or Ctrl-C.
    Run(RunArgs),
    /// Internal: become USER (groups, gid, uid) and exec the command. The agent spawns its PTY
    /// children through this, because portable-pty cannot change the uid of what it spawns.
    #[command(hide = true)]
    ExecAs(ExecAsArgs),
}

/// Options of `axt-agent register`.
#[derive(Debug, Clone, clap::Args)]
pub struct RegisterArgs {
    /// The gateway, as HOST:PORT (an IPv6 host in brackets), used verbatim in every URL.
    #[arg(long, env = "AXT_SERVER")]
    pub server: String,

    /// The activation code of CreateActivation. A secret: `{:?}` of these options shows it
    /// as redacted, so a debug log of the command line cannot leak it.
    #[arg(long, env = "AXT_ACTIVATION_CODE", hide_env_values = true, value_parser = secret)]
    pub activation_code: SecretString,

    /// The activation id of CreateActivation.
    #[arg(long, env = "AXT_ACTIVATION_ID")]
    pub activation_id: String,

    /// Directory for the identity (instance id, keys, machine id) and agent.json.
    #[arg(long, env = "AXT_STATE_DIR")]
    pub state_dir: PathBuf,

    /// The region the activation belongs to.
    #[arg(long, env = "AXT_REGION", default_value = "")]
    pub region: String,

    /// The name the managed instance gets.
    #[arg(long, env = "AXT_INSTANCE_NAME", default_value = "")]
    pub instance_name: String,

    /// axtlab extension: claim this simulated ECS instance (i-…) instead of becoming a new
    /// managed instance.
    #[arg(long, env = "AXT_CLAIM_INSTANCE")]
    pub claim_instance: Option<String>,

    /// Tags of the managed instance, as KEY=VALUE; repeatable.
    #[arg(long = "tag", env = "AXT_TAGS", value_delimiter = ',')]
    pub tags: Vec<String>,

    /// PEM file of the CA that signed the gateway's certificate (the lab CA). Without it the
    /// public web roots are trusted.
    #[arg(long, env = "AXT_CA_CERT")]
    pub ca_cert: Option<PathBuf>,

    /// Speak http:// and ws:// instead of https:// and wss:// (tests and loopback labs only).
    #[arg(long, env = "AXT_PLAIN")]
    pub plain: bool,
}

/// Options of `axt-agent run`. The server, the CA and the plain flag default to what
/// `register` stored in `<state-dir>/agent.json`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Directory that `register` filled.
    #[arg(long, env = "AXT_STATE_DIR")]
    pub state_dir: PathBuf,

    /// Override the gateway stored at registration (HOST:PORT).
    #[arg(long, env = "AXT_SERVER")]
    pub server: Option<String>,

    /// Override the CA PEM stored at registration.
    #[arg(long, env = "AXT_CA_CERT")]
    pub ca_cert: Option<PathBuf>,

    /// Speak http:// and ws:// even if registration used TLS.
    #[arg(long, env = "AXT_PLAIN")]
    pub plain: bool,

    /// The user of sessions whose spec names none. Created (useradd -m -s /bin/bash) when
    /// missing and the agent runs as root; ignored when the agent is not root, since sessions
    /// then run as the agent's own user.
    #[arg(long, env = "AXT_DEFAULT_USER", default_value = "ecs-assist-user")]
    pub default_user: String,

    /// More addresses or CIDR blocks port forwards may not reach, on top of the cloud
    /// metadata addresses and link-local ranges that are always refused. Repeatable.
    #[arg(long = "deny", env = "AXT_DENY", value_delimiter = ',')]
    pub deny: Vec<DenyEntry>,

    /// The most sessions (shells and port-forward connections) that run at once; a start
    /// beyond it is refused with `Init_channel_failed`. Each shell holds a PTY, three threads
    /// and its processes, each forward two sockets and two tasks: the cap keeps a flood of
    /// kicks from exhausting the host. 128 is above the 100 connections the control plane
    /// lets one session open by default (every TCP connection through a port forward is a
    /// session here, and a browser opens several at once), so that one WebSocketUrl alone
    /// cannot take every place.
    #[arg(
        long,
        env = "AXT_AGENT_MAX_SESSIONS",
        default_value_t = 128,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_sessions: u32,

    /// The message type of key-exchange frames on the data channel (docs/encryption.md §1).
    /// The stock agent's value is not public, so it is a setting, to be the same here, on the
    /// gateway and in `axt`. At least 7: lower values are the framings' own types.
    #[arg(
        long,
        env = "AXT_KEY_EXCHANGE_MESSAGE_TYPE",
        default_value_t = axt_proto::e2e::DEFAULT_KEY_EXCHANGE_TYPE,
        value_parser = clap::value_parser!(u32).range(7..)
    )]
    pub key_exchange_message_type: u32,
}

/// Reads a secret option.
fn secret(text: &str) -> Result<SecretString, Infallible> {
    Ok(text.into())
}

/// Options of the hidden `axt-agent exec-as`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecAsArgs {
    /// The account to become.
    #[arg(long)]
    pub user: String,

    /// The program and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[test]
    fn exec_as_takes_everything_after_the_double_dash() {
        let cli = Cli::try_parse_from([
            "axt-agent",
            "exec-as",
            "--user",
            "u",
            "--",
            "sh",
            "-c",
            "echo --x",
        ])
        .unwrap();
        let Command::ExecAs(args) = cli.command else {
            panic!("not exec-as")
        };
        assert_eq!(args.command, ["sh", "-c", "echo --x"]);
    }

    #[test]
    fn debug_output_never_shows_the_activation_code() {
        let code = "axt-test-activation-code-5e1f";
        let cli = Cli::try_parse_from([
            "axt-agent",
            "register",
            "--server",
            "127.0.0.1:1",
            "--activation-code",
            code,
            "--activation-id",
            "act-1",
            "--state-dir",
            "/nonexistent",
        ])
        .unwrap();
        let Command::Register(args) = &cli.command else {
            panic!("not register")
        };
        // The value is there to be used…
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&args.activation_code),
            code
        );
        // …but no Debug rendering of the options, pretty or not, holds it.
        for shown in [format!("{cli:?}"), format!("{cli:#?}"), format!("{args:?}")] {
            assert!(!shown.contains(code), "{shown}");
            assert!(shown.contains("REDACTED"), "{shown}");
            assert!(shown.contains("act-1"), "other fields still show: {shown}");
        }
    }

    #[test]
    fn max_sessions_defaults_to_128_and_is_at_least_one() {
        let run = |extra: &[&str]| {
            let mut argv = vec!["axt-agent", "run", "--state-dir", "/x"];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv).map(|cli| match cli.command {
                Command::Run(args) => args.max_sessions,
                _ => panic!("not run"),
            })
        };
        assert_eq!(run(&[]).unwrap(), 128);
        assert_eq!(run(&["--max-sessions", "2"]).unwrap(), 2);
        assert!(run(&["--max-sessions", "0"]).is_err());
    }

    #[test]
    fn the_key_exchange_type_defaults_to_the_stock_agents_7_and_avoids_the_framings_own() {
        let run = |extra: &[&str]| {
            let mut argv = vec!["axt-agent", "run", "--state-dir", "/x"];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv).map(|cli| match cli.command {
                Command::Run(args) => args.key_exchange_message_type,
                _ => panic!("not run"),
            })
        };
        assert_eq!(run(&[]).unwrap(), 7);
        assert_eq!(run(&["--key-exchange-message-type", "42"]).unwrap(), 42);
        assert!(run(&["--key-exchange-message-type", "5"]).is_err());
    }

    #[test]
    fn deny_entries_parse_addresses_and_blocks() {
        let cli = Cli::try_parse_from([
            "axt-agent",
            "run",
            "--state-dir",
            "/tmp/x",
            "--deny",
            "10.0.0.0/8",
            "--deny",
            "::1",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.deny.len(), 2);
        assert!(
            Cli::try_parse_from(["axt-agent", "run", "--state-dir", "x", "--deny", "nope"])
                .is_err()
        );
    }
}
