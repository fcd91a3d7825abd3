//! The vocabularies of a session's end: client Status frames (channel states and their
//! reasons), the agent's result codes, and the ClosedReason the API reports.

/// Byte 0 of a client Status frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ChannelState {
    Initial = 0,
    Opening = 1,
    /// The session could not be set up: ali-instance-cli prints the payload and exits.
    Aborted = 2,
    Opened = 3,
    Closing = 4,
    /// Ended, followed by a reason (`Exit`, `AgentTimeout`, …).
    Closed = 5,
    Exited = 6,
    /// Followed by a big-endian rate in bit/s the client must keep to.
    Stream = 7,
    /// The gateway is restarting: the web client reconnects.
    Frozen = 8,
}

/// The payload of a Status frame: the state and a reason text.
pub fn status_payload(state: ChannelState, reason: &str) -> Vec<u8> {
    let mut out = vec![state as u8];
    out.extend_from_slice(reason.as_bytes());
    out
}

/// The lowest rate a client Status 7 may carry: ali-instance-cli divides by zero below it.
pub const MIN_CLIENT_RATE_BITS: u32 = 16_384;
/// The lowest rate an agent Status 7 may carry: the stock agent divides by zero below it.
pub const MIN_AGENT_RATE_BITS: u32 = 8_192;

/// A `Stream`/code-7 payload: `7` then the rate as a minimal big-endian number of 1 to 4
/// bytes, raised to `floor` so that no peer ever divides by zero.
pub fn rate_payload(bits_per_second: u32, floor: u32) -> Vec<u8> {
    let rate = bits_per_second.max(floor);
    let bytes = rate.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(3);
    let mut out = vec![ChannelState::Stream as u8];
    out.extend_from_slice(&bytes[skip..]);
    out
}

/// Reads a code-7 payload back into bit/s; `None` if it is not one.
pub fn parse_rate(payload: &[u8]) -> Option<u32> {
    match payload {
        [7, rest @ ..] if (1..=4).contains(&rest.len()) => {
            Some(rest.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
        }
        _ => None,
    }
}

/// Why a client was told its session closed (Status 5 reasons ali-instance-cli knows).
pub mod reason {
    pub const EXIT: &str = "Exit";
    pub const AGENT_TIMEOUT: &str = "AgentTimeout";
    pub const INIT_CHANNEL_FAILED: &str = "InitChannelFailed";
    pub const OPEN_CHANNEL_FAILED: &str = "OpenChannelFailed";
    pub const SESSION_ID_DUPLICATED: &str = "SessionIdDuplicated";
    pub const PROCESS_DATA_ERROR: &str = "ProcessDataError";
    pub const OPEN_PTY_FAILED: &str = "OpenPtyFailed";
    pub const FLOW_EXCEED_LIMIT: &str = "FlowExceedLimit";
}

/// `ClosedReason` of a connection as DescribeTerminalSessions shows it.
pub mod closed_reason {
    pub const CLIENT_CLOSED: &str = "ClientClosed";
    pub const AGENT_NOT_ONLINE: &str = "AgentNotOnline";
    pub const AGENT_SOCKET_CLOSED: &str = "AgentSocketClosed";
    pub const INSTANCE_NOT_RUNNING: &str = "InstanceNotRunning";
    pub const INSTANCE_NOT_EXISTS: &str = "InstanceNotExists";
    pub const DELIVERY_TIMEOUT: &str = "DeliveryTimeout";
    pub const AGENT_NEED_UPGRADE: &str = "AgentNeedUpgrade";
    pub const MESSAGE_FORMAT_INVALID: &str = "MessageFormatInvalid";
}

/// An agent's result code (`/luban/api/v1/session/status?errorcode=`), stock and newer names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentResult {
    Ok,
    Notified,
    Timeout,
    InitChannelFailed,
    OpenChannelFailed,
    SessionIdDuplicate,
    ProcessDataError,
    OpenPtyFailed,
    OpenPortFailed,
    ReadPortFailed,
    IoPortFailed,
    UnknownError,
    /// A code this emulator does not know by name (newer agents have many).
    Other(String),
}

const RESULT_NAMES: &[(&str, AgentResult)] = &[
    ("Ok", AgentResult::Ok),
    ("Notified", AgentResult::Notified),
    ("Timeout", AgentResult::Timeout),
    ("Init_channel_failed", AgentResult::InitChannelFailed),
    ("Open_channel_failed", AgentResult::OpenChannelFailed),
    ("Session_id_duplicate", AgentResult::SessionIdDuplicate),
    ("Process_data_error", AgentResult::ProcessDataError),
    ("Open_pty_failed", AgentResult::OpenPtyFailed),
    ("Open_port_failed", AgentResult::OpenPortFailed),
    ("Read_port_failed", AgentResult::ReadPortFailed),
    ("IO_port_failed", AgentResult::IoPortFailed),
    ("Unknown_error", AgentResult::UnknownError),
];

impl AgentResult {
    /// The wire name (the stock agent's spelling).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(s) => s,
            known => RESULT_NAMES
                .iter()
                .find(|(_, r)| r == known)
                .map_or("Unknown_error", |(n, _)| n),
        }
    }

    /// Reads a wire name; unknown names are kept.
    pub fn parse(name: &str) -> Self {
        RESULT_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map_or_else(|| Self::Other(name.to_owned()), |(_, r)| r.clone())
    }

    /// Whether the agent reports it as `status=Success`.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Ok | Self::Notified | Self::Timeout)
            || matches!(self, Self::Other(s) if s == "IdleTimeout" || s == "SessionTimeout")
    }

    /// The Status 5 reason a client is shown for this result.
    pub fn client_reason(&self) -> &str {
        match self {
            Self::Ok | Self::Notified => reason::EXIT,
            Self::Timeout => reason::AGENT_TIMEOUT,
            Self::InitChannelFailed => reason::INIT_CHANNEL_FAILED,
            Self::OpenChannelFailed => reason::OPEN_CHANNEL_FAILED,
            Self::SessionIdDuplicate => reason::SESSION_ID_DUPLICATED,
            Self::ProcessDataError => reason::PROCESS_DATA_ERROR,
            Self::OpenPtyFailed => reason::OPEN_PTY_FAILED,
            Self::OpenPortFailed
            | Self::ReadPortFailed
            | Self::IoPortFailed
            | Self::UnknownError => self.as_str(),
            Self::Other(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_minimal_big_endian_and_never_below_the_floor() {
        // stock-agent.md §8: 819200 bit/s travels as 07 0c8000; 102400 as 07 019000.
        assert_eq!(
            rate_payload(819_200, MIN_AGENT_RATE_BITS),
            [7, 0x0c, 0x80, 0x00]
        );
        assert_eq!(
            rate_payload(102_400, MIN_AGENT_RATE_BITS),
            [7, 0x01, 0x90, 0x00]
        );
        assert_eq!(rate_payload(4_000, MIN_AGENT_RATE_BITS), [7, 0x20, 0x00]);
        assert_eq!(rate_payload(8_192, MIN_CLIENT_RATE_BITS), [7, 0x40, 0x00]);
        assert_eq!(parse_rate(&rate_payload(1_638_400, 0)), Some(1_638_400));
        assert_eq!(parse_rate(&[7]), None);
        assert_eq!(parse_rate(&[5, 1]), None);
    }

    #[test]
    fn results_round_trip_and_map_to_client_reasons() {
        for name in ["Ok", "Open_pty_failed", "Timeout", "KeyExchangeFailed"] {
            assert_eq!(AgentResult::parse(name).as_str(), name);
        }
        assert!(AgentResult::parse("Notified").is_success());
        assert!(!AgentResult::parse("Open_port_failed").is_success());
        assert_eq!(AgentResult::Timeout.client_reason(), "AgentTimeout");
        assert_eq!(AgentResult::OpenPtyFailed.client_reason(), "OpenPtyFailed");
        assert_eq!(status_payload(ChannelState::Closed, "Exit"), b"\x05Exit");
    }
}
