//! `axt session`'s command line: which session to open, and its end-to-end encryption.

use clap::{ArgGroup, Args, ValueEnum};

/// `axt session (--instance ID | --wss-url URL)`
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("target").required(true).args(["instance", "wss_url"])))]
pub struct SessionArgs {
    /// The instance to open a shell on (i-… or mi-…).
    #[arg(long, short = 'i', value_name = "ID")]
    pub instance: Option<String>,
    /// Connect this WebSocketUrl of an earlier StartTerminalSession instead of calling the API.
    /// The session is left as it is at the end: whoever started it ends it.
    #[arg(
        long,
        short = 'u',
        value_name = "URL",
        conflicts_with_all = ["username", "command_line"]
    )]
    pub wss_url: Option<String>,
    /// The user the shell runs as (StartTerminalSession `Username`).
    #[arg(long)]
    pub username: Option<String>,
    /// A command to run instead of the login shell (StartTerminalSession `CommandLine`).
    #[arg(long)]
    pub command_line: Option<String>,
    #[command(flatten)]
    pub encryption: EncryptArgs,
}

/// End-to-end encryption of a shell session (docs/encryption.md).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "End-to-end encryption")]
pub struct EncryptArgs {
    /// Encrypt what is typed and printed between this client and the agent, so the gateway
    /// relays only ciphertext (StartTerminalSession `EncryptionOptions`). `auto`: keys agreed
    /// with the agent; `kms`: a KMS data key too (give --kms-key-id).
    #[arg(long, value_enum, env = "AXT_ENCRYPT")]
    pub encrypt: Option<EncryptMode>,
    /// The KMS key whose data key encrypts the session (`--encrypt kms`).
    #[arg(long, env = "AXT_KMS_KEY_ID", required_if_eq("encrypt", "kms"))]
    pub kms_key_id: Option<String>,
    /// Accept the stock agent's unauthenticated suites even when the control plane vouched
    /// for the agent's identity key: they protect only against a passive gateway, and a
    /// gateway that strips the offer of the authenticated suite can read the session.
    #[arg(long, env = "AXT_ALLOW_COMPAT_SUITE")]
    pub allow_compat_suite: bool,
    /// The message type of key-exchange frames (the gateway's and the agent's setting of the
    /// same name must agree).
    #[arg(
        long,
        env = "AXT_KEY_EXCHANGE_MESSAGE_TYPE",
        default_value_t = axt_proto::e2e::DEFAULT_KEY_EXCHANGE_TYPE,
        value_parser = clap::value_parser!(u32).range(7..)
    )]
    pub key_exchange_message_type: u32,
}

/// `EncryptionOptions.Mode`, as `--encrypt` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EncryptMode {
    /// Mode `Auto`: key agreement between client and agent.
    Auto,
    /// Mode `Kms`: a data key of KMS (mixed into the agreed key by the authenticated suite).
    Kms,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser as _;

    #[test]
    fn session_needs_an_instance_or_a_url_but_not_both() {
        assert!(Cli::try_parse_from(["axt", "session"]).is_err());
        assert!(Cli::try_parse_from(["axt", "session", "-i", "i-x", "-u", "ws://h/"]).is_err());
        assert!(
            Cli::try_parse_from(["axt", "session", "-u", "ws://h/", "--username", "u"]).is_err()
        );
        assert!(Cli::try_parse_from(["axt", "session", "-i", "i-x", "--username", "u"]).is_ok());
    }

    #[test]
    fn encryption_needs_a_key_for_kms_only() {
        let parse = |args: &[&str]| {
            let all = [&["axt", "session", "-i", "i-x"], args].concat();
            match Cli::try_parse_from(all).map(|cli| cli.command) {
                Ok(Command::Session(args)) => Ok(args.encryption),
                Ok(_) => panic!("not session"),
                Err(err) => Err(err),
            }
        };
        let plain = parse(&[]).unwrap();
        assert_eq!((plain.encrypt, plain.key_exchange_message_type), (None, 7));
        let auto = parse(&["--encrypt", "auto"]).unwrap();
        assert_eq!(auto.encrypt, Some(EncryptMode::Auto));
        assert!(!auto.allow_compat_suite);
        assert!(parse(&["--encrypt", "kms"]).is_err(), "kms needs a key");
        let kms = parse(&["--encrypt", "kms", "--kms-key-id", "k-1"]).unwrap();
        assert_eq!(kms.kms_key_id.as_deref(), Some("k-1"));
        assert!(parse(&["--encrypt", "auto", "--allow-compat-suite"]).is_ok());
        assert!(parse(&["--encrypt", "auto", "--key-exchange-message-type", "6"]).is_err());
    }
}
