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

/// A client's Status 7 payload: `7` then the rate as a 4-byte big-endian number (the official
/// web client reads exactly four; ali-instance-cli reads one to four), never below
/// [`MIN_CLIENT_RATE_BITS`].
pub fn client_rate_payload(bits_per_second: u32) -> Vec<u8> {
    let mut out = vec![ChannelState::Stream as u8];
    out.extend_from_slice(&bits_per_second.max(MIN_CLIENT_RATE_BITS).to_be_bytes());
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

/// A closed set of words that travel as text: in JSON, in SQLite columns, in API answers.
/// Each word is written once, as its variant's name; `as_str`, `Display`, `FromStr`, serde
/// and `ALL` all come from that one list, so a misspelt state cannot compile.
macro_rules! vocabulary {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            /// Every word, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The word as it travels.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => stringify!($variant),)+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownWord;
            fn from_str(word: &str) -> Result<Self, UnknownWord> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == word)
                    .ok_or_else(|| UnknownWord { vocabulary: stringify!($name), word: word.to_owned() })
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownWord;
            fn try_from(word: String) -> Result<Self, UnknownWord> {
                word.parse()
            }
        }
    };
}

/// A word that is not part of its vocabulary (a database row or a message from a newer peer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{word:?} is not a {vocabulary}")]
pub struct UnknownWord {
    /// The vocabulary's type name.
    pub vocabulary: &'static str,
    /// What was read.
    pub word: String,
}

vocabulary! {
    /// `Status` of one connection (a client WebSocket paired with an agent channel), as
    /// DescribeTerminalSessions shows it.
    pub enum ConnectionStatus {
        /// Allocated; the agent has not opened its data channel yet.
        Connecting,
        /// The agent's data channel is open: bytes can flow.
        Connected,
        /// Ended normally (see its ClosedReason).
        Terminated,
        /// Ended by a failure; `FailedDetail` says which.
        Failed,
    }
}

impl ConnectionStatus {
    /// Whether the connection still counts against the per-instance limit.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Connecting | Self::Connected)
    }
}

vocabulary! {
    /// `ClosedReason` of a connection as DescribeTerminalSessions shows it: the documented
    /// values, then two of axtlab's own.
    pub enum ClosedReason {
        /// The client closed (or EndTerminalSession ended the session).
        ClientClosed,
        /// The instance's agent had no kick channel.
        AgentNotOnline,
        /// The agent's data channel closed: the shell or target ended, or the agent was lost.
        AgentSocketClosed,
        /// The instance was stopped.
        InstanceNotRunning,
        /// The instance no longer exists.
        InstanceNotExists,
        /// The agent did not open its data channel in time after the kick.
        DeliveryTimeout,
        /// The agent is too old for what was asked.
        AgentNeedUpgrade,
        /// A peer sent something the gateway could not read.
        MessageFormatInvalid,
        /// axtlab: no data either way for the idle timeout (3 minutes by default).
        IdleTimeout,
        /// axtlab: the gateway shut down under a client that cannot reconnect (schema 1.01).
        GatewayShutdown,
        /// axtlab: the gateway relaying it stopped renewing its lease (it was killed or cut
        /// off), or no longer held it.
        GatewayLost,
    }
}

vocabulary! {
    /// The life of a session record.
    pub enum SessionState {
        /// Created by StartTerminalSession; no connection has reached its agent yet.
        Pending,
        /// At least one connection reached its agent.
        Active,
        /// EndTerminalSession was called: its token opens nothing any more.
        Ended,
    }
}

vocabulary! {
    /// What the control plane tells a gateway about a session it relays (the gateway asks
    /// four times a second, so that ends decided by the API reach live connections).
    pub enum SessionVerdict {
        /// Carry on.
        Live,
        /// EndTerminalSession was called.
        Ended,
        /// The session's instance was stopped.
        InstanceNotRunning,
    }
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
        // docs/protocol.md §5.5: 819200 bit/s travels as 07 0c8000; 102400 as 07 019000.
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
        // The client's form is always four bytes: 1638400 bit/s is 07 00190000.
        assert_eq!(client_rate_payload(1_638_400), [7, 0x00, 0x19, 0x00, 0x00]);
        assert_eq!(client_rate_payload(8_192), [7, 0, 0, 0x40, 0x00]);
        assert_eq!(parse_rate(&client_rate_payload(1_638_400)), Some(1_638_400));
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
