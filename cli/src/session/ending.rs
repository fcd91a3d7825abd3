//! How an `axt session` ends: what the user is told, and the exit code.

use std::process::ExitCode;

use axt_proto::status::reason;

use crate::channel::ChannelError;

/// How a session ended, and so what the user is told and the exit code.
#[derive(Debug)]
pub enum Ending {
    /// Status 5 with its reason.
    Closed(String),
    /// Status 2 with its text.
    Aborted(String),
    /// The WebSocket closed without a Status 5 (`code reason` of the close frame, if any).
    Hangup(Option<String>),
    /// The channel broke: a WebSocket error or a malformed frame.
    Failed(ChannelError),
    /// The local terminal or stdout failed.
    Local(std::io::Error),
    /// A signal ended `axt`: its name and exit code.
    Signal(&'static str, u8),
    /// An encrypted session's key exchange failed or was refused, or a frame failed its
    /// integrity check: the line to show.
    Encryption(String),
}

impl Ending {
    /// The line shown on stderr.
    pub fn message(&self) -> String {
        match self {
            Self::Closed(reason) => closed_message(reason),
            Self::Aborted(text) if text.is_empty() => "session aborted.".to_owned(),
            Self::Aborted(text) => text.clone(),
            Self::Hangup(Some(said)) => format!("the gateway closed the connection ({said})"),
            Self::Hangup(None) => "the gateway closed the connection".to_owned(),
            Self::Failed(err) => err.to_string(),
            Self::Local(err) => format!("local terminal: {err}"),
            Self::Signal(name, _) => format!("{name}: session left."),
            Self::Encryption(why) => why.clone(),
        }
    }

    /// 0 only for a shell that exited normally.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Closed(reason) if reason == reason::EXIT => ExitCode::SUCCESS,
            Self::Signal(_, code) => ExitCode::from(*code),
            _ => ExitCode::FAILURE,
        }
    }
}

/// The text ali-instance-cli prints for a Status 5 reason (its one missing period included).
pub fn closed_message(why: &str) -> String {
    let suffix = match why {
        reason::EXIT => ".",
        reason::AGENT_TIMEOUT => " for agent timeout.",
        reason::INIT_CHANNEL_FAILED => " for init channel failed",
        reason::OPEN_CHANNEL_FAILED => " for open channel failed.",
        reason::SESSION_ID_DUPLICATED => " for sessionId is duplicated.",
        reason::PROCESS_DATA_ERROR => " for error while process data.",
        reason::OPEN_PTY_FAILED => " for open pty failed.",
        reason::FLOW_EXCEED_LIMIT => " for the flow exceeds limit.",
        "" => return "session closed.".to_owned(),
        _ => ".",
    };
    format!("{why}: session closed{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_reasons_read_as_the_stock_client_prints_them() {
        assert_eq!(closed_message("Exit"), "Exit: session closed.");
        assert_eq!(
            closed_message("AgentTimeout"),
            "AgentTimeout: session closed for agent timeout."
        );
        assert_eq!(
            closed_message("InitChannelFailed"),
            "InitChannelFailed: session closed for init channel failed"
        );
        assert_eq!(
            closed_message("SomethingNew"),
            "SomethingNew: session closed."
        );
        assert_eq!(closed_message(""), "session closed.");
    }

    #[test]
    fn only_a_normal_exit_is_a_success() {
        assert_eq!(Ending::Closed("Exit".into()).exit_code(), ExitCode::SUCCESS);
        assert_eq!(
            Ending::Closed("AgentTimeout".into()).exit_code(),
            ExitCode::FAILURE
        );
        assert_eq!(Ending::Aborted("no".into()).exit_code(), ExitCode::FAILURE);
        let refused = Ending::Encryption("integrity check failed: x".into());
        assert_eq!(refused.exit_code(), ExitCode::FAILURE);
        assert_eq!(refused.message(), "integrity check failed: x");
        assert_eq!(Ending::Hangup(None).exit_code(), ExitCode::FAILURE);
        assert_eq!(
            Ending::Signal("SIGTERM", 143).exit_code(),
            ExitCode::from(143)
        );
    }
}
