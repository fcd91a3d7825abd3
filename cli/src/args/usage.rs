//! Usage lines that ask only for what is missing.
//!
//! On a wrong command line clap's usage line lists every option already given, and options set
//! by the environment count as given: in a lab shell, which exports the key and the endpoint,
//! `axt ssh` alone was answered with `Usage: axt ssh --access-key-id <…> --access-key-secret
//! <…> --endpoint <…> --instance <…>`, as if all four were missing. So every command's usage
//! line is fixed, once, to the one clap writes when nothing is given (the one `--help` shows).

use clap::{Command, CommandFactory as _, FromArgMatches as _};

use super::Cli;

impl Cli {
    /// The command line of this process, as [`clap::Parser::parse`] reads it (exiting on
    /// `--help` or an error), with [`command`]'s usage lines.
    pub fn parse_args() -> Self {
        Self::try_parse_args_from(std::env::args_os()).unwrap_or_else(|err| err.exit())
    }

    /// [`Cli::parse_args`] on `args`, the error returned rather than printed.
    pub fn try_parse_args_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut matches = command().try_get_matches_from(args)?;
        Self::from_arg_matches_mut(&mut matches).map_err(|err| err.format(&mut command()))
    }
}

/// `axt`'s command, every command's usage line fixed to the one written when nothing is given.
pub fn command() -> Command {
    let mut cli = Cli::command();
    // Built first so that each usage line has its full name (`axt iam simulate`) and the
    // global options reach every command.
    cli.build();
    plain_usage(cli)
}

/// `cmd` and its commands, each with its usage line as written when nothing is given.
fn plain_usage(mut cmd: Command) -> Command {
    let rendered = cmd.render_usage().to_string();
    let usage = rendered
        .strip_prefix("Usage: ")
        .unwrap_or(&rendered)
        .to_owned();
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    cmd = cmd.override_usage(usage);
    for name in names {
        cmd = cmd.mut_subcommand(name, plain_usage);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The usage line of what `args` (after `axt`) leads to: an error or the help.
    fn usage_after(args: &[&str]) -> String {
        let given = [&["axt"], args].concat();
        let Err(err) = Cli::try_parse_args_from(given) else {
            panic!("{args:?} is incomplete")
        };
        let text = err.to_string();
        let usage = text.lines().find(|line| line.starts_with("Usage:"));
        usage
            .unwrap_or_else(|| panic!("no usage in {text}"))
            .to_owned()
    }

    #[test]
    fn a_usage_line_is_the_one_of_the_help_whatever_was_given() {
        // Flags and environment variables are alike to clap here; the test uses flags. The
        // lines themselves are checked in tests/advice.rs.
        let given = ["--access-key-id", "k", "--endpoint", "h:1"];
        let commands: [&[&str]; 6] = [
            &["session"],
            &["portforward", "--local-port", "0"],
            &["ssh", "--port", "22"],
            &["api"],
            &["iam", "simulate", "--user", "u"],
            &["lab", "iam", "--out", "f"],
        ];
        for command in commands {
            let usage = usage_after(&[&given[..], command].concat());
            assert!(!usage.contains("--access-key-id"), "{usage}");
            let help = usage_after(&[command, &["--help"]].concat());
            assert_eq!(usage, help, "{command:?}");
        }
    }
}
