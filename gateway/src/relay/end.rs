//! Why a relay ended, and what the client and the record are told about it.

use axt_proto::status::{reason, AgentResult, ClosedReason, ConnectionStatus};

/// What a client is told when EndTerminalSession ended its session.
const SESSION_ENDED: &str = "SessionEnded";

/// Why a relay ended.
#[derive(Debug)]
pub enum End {
    /// The client closed its WebSocket, or sent Close on a port session.
    ClientClosed,
    /// The agent reported the session's result.
    Result(AgentResult),
    /// The agent's data channel closed and it neither came back nor reported.
    AgentLost,
    /// The instance's agent has no kick channel.
    AgentNotOnline,
    /// The agent's kick channel has too many kicks waiting: it is not reading them.
    KickRefused,
    /// The agent did not open the data channel in time after its kick.
    DeliveryTimeout,
    /// EndTerminalSession was called.
    SessionEnded,
    /// The instance was stopped.
    InstanceNotRunning,
    /// No data either way for the idle timeout.
    IdleTimeout,
    /// The gateway is shutting down.
    GatewayShutdown,
    /// A 1.02 client asked again for output that is no longer kept.
    OutputLost,
    /// A 1.02 client kept asking for the same output with nothing new sent between.
    SyncStorm,
}

impl End {
    /// `(Status, ClosedReason, FailedDetail)` for the record.
    pub fn record(&self) -> (ConnectionStatus, ClosedReason, Option<String>) {
        use ClosedReason as Why;
        use ConnectionStatus::{Failed, Terminated};
        let failed = |why, detail: &str| (Failed, why, Some(detail.to_owned()));
        match self {
            Self::ClientClosed => (Terminated, Why::ClientClosed, None),
            Self::Result(r) if r.is_success() => (Terminated, Why::AgentSocketClosed, None),
            Self::Result(r) => failed(Why::AgentSocketClosed, r.as_str()),
            Self::AgentLost => failed(
                Why::AgentSocketClosed,
                "the data channel closed without a result",
            ),
            Self::AgentNotOnline => failed(
                Why::AgentNotOnline,
                "the instance's agent has no kick channel",
            ),
            Self::KickRefused => failed(
                Why::DeliveryTimeout,
                "the agent's kick channel has too many kicks waiting",
            ),
            Self::DeliveryTimeout => failed(
                Why::DeliveryTimeout,
                "the agent did not open the data channel in time",
            ),
            // EndTerminalSession already recorded the connection as closed by the client.
            Self::SessionEnded => (Terminated, Why::ClientClosed, None),
            Self::InstanceNotRunning => failed(Why::InstanceNotRunning, "the instance was stopped"),
            Self::IdleTimeout => (Terminated, Why::IdleTimeout, None),
            Self::GatewayShutdown => (Terminated, Why::GatewayShutdown, None),
            Self::OutputLost => failed(
                Why::MessageFormatInvalid,
                "the client asked again for output that is no longer kept",
            ),
            Self::SyncStorm => failed(
                Why::MessageFormatInvalid,
                "the client kept asking for the same output",
            ),
        }
    }

    /// The Status 5 reason the client is shown, if it is still there to see one.
    pub fn client_reason(&self) -> Option<&str> {
        match self {
            Self::ClientClosed => None,
            Self::Result(r) => Some(r.client_reason()),
            Self::AgentLost => Some(ClosedReason::AgentSocketClosed.as_str()),
            Self::AgentNotOnline => Some(ClosedReason::AgentNotOnline.as_str()),
            Self::KickRefused => Some("KickRefused"),
            Self::DeliveryTimeout => Some(reason::AGENT_TIMEOUT),
            Self::SessionEnded => Some(SESSION_ENDED),
            Self::InstanceNotRunning => Some(ClosedReason::InstanceNotRunning.as_str()),
            Self::IdleTimeout => Some(reason::AGENT_TIMEOUT),
            Self::GatewayShutdown => Some(ClosedReason::GatewayShutdown.as_str()),
            Self::OutputLost => Some("OutputLost"),
            Self::SyncStorm => Some("SyncStorm"),
        }
    }
}
