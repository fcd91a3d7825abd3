//! The command line of `axt lab`: bring a whole region up on this machine, take it down, print
//! its exports, make its RAM identities; and the lab's internal target service.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::LabIamArgs;

/// `axt lab (up | down | env)`
#[derive(Args, Debug)]
pub struct LabArgs {
    /// What to do with the lab.
    #[command(subcommand)]
    pub command: LabCommand,
}

/// The lab's commands.
#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// Start the lab in the background and print how to use it.
    Up(LabUpArgs),
    /// Stop every process of the lab and remove its network namespaces and links.
    Down(LabDownArgs),
    /// Print the `export` lines for a running lab: `eval "$(axt lab env)"`.
    Env(LabDirArgs),
    /// Create the tour's RAM identities in a running lab (`lab up` does it itself; the compose
    /// lab runs it once) and write their aliyun CLI profiles, with the admin key of the global
    /// options.
    Iam(LabIamArgs),
    /// Internal: the private target's web service (started by `lab up` in the target's
    /// namespace).
    #[command(hide = true)]
    ServeTarget(ServeTargetArgs),
}

/// Where a lab keeps its state.
#[derive(Args, Debug, Clone)]
pub struct LabDirArgs {
    /// The lab's directory: state, logs, databases, the lab CA, the agents' identities.
    #[arg(long, default_value = "axt-data/lab")]
    pub dir: PathBuf,
}

/// `axt lab up`
#[derive(Args, Debug)]
pub struct LabUpArgs {
    #[command(flatten)]
    pub dir: LabDirArgs,
    /// How many instances (hosts running axt-agent).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=16))]
    pub instances: u8,
    /// Share loopback instead of creating network namespaces, even as root. The private target
    /// is then reachable from this host too.
    #[arg(long)]
    pub loopback: bool,
    /// Use 10.213.N.0/24 for the namespaces (1–254); else the first N no address or route of
    /// this host uses.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=254), conflicts_with = "loopback")]
    pub net_index: Option<u8>,
    /// The control plane's port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 8080)]
    pub api_port: u16,
    /// The gateway's port (0: any free port).
    #[arg(long, default_value_t = 8443)]
    pub gateway_port: u16,
    /// The port of the control plane's HTTPS listener on 127.0.0.1, for the real endpoint
    /// names (0: any free port). In namespace mode it is 443 on the lab's bridge address.
    #[arg(long, default_value_t = 8444)]
    pub https_port: u16,
    /// The port of the lab's CONNECT proxy on 127.0.0.1, the `HTTPS_PROXY` of the exports
    /// (0: any free port).
    #[arg(long, default_value_t = 8088)]
    pub proxy_port: u16,
    /// The port of the web console on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 8090)]
    pub console_port: u16,
    /// Log every frame the gateway relays (`RUST_LOG=info,axt::frames=debug` for the gateway).
    #[arg(long)]
    pub trace_frames: bool,
    /// The user shells run as when a session names none (axt-agent's --default-user).
    #[arg(long)]
    pub default_user: Option<String>,
}

/// `axt lab down`
#[derive(Args, Debug)]
pub struct LabDownArgs {
    #[command(flatten)]
    pub dir: LabDirArgs,
    /// Also delete the lab's directory (databases, CA, identities, logs).
    #[arg(long)]
    pub purge: bool,
}

/// `axt lab serve-target`
#[derive(Args, Debug)]
pub struct ServeTargetArgs {
    /// The address to serve on.
    #[arg(long)]
    pub listen: std::net::SocketAddr,
    /// The host name the page shows.
    #[arg(long, default_value = "target")]
    pub name: String,
    /// A file written once the listener is bound.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser as _;

    #[test]
    fn lab_up_has_defaults_for_a_newcomer() {
        let cli = Cli::try_parse_from(["axt", "lab", "up"]).unwrap();
        let Command::Lab(LabArgs {
            command: LabCommand::Up(up),
        }) = cli.command
        else {
            panic!("not lab up")
        };
        assert_eq!(up.instances, 2);
        assert_eq!((up.api_port, up.gateway_port), (8080, 8443));
        assert!(!up.loopback && !up.trace_frames);
        let parse = |args: &[&str]| Cli::try_parse_from([&["axt", "lab", "up"], args].concat());
        assert!(parse(&["--instances", "0"]).is_err());
        assert!(parse(&["--instances", "17"]).is_err());
        assert!(parse(&["--loopback", "--net-index", "3"]).is_err());
        assert!(parse(&["--net-index", "0"]).is_err());
    }
}
