//! Why a relay ended, and what the client and the record are told about it.

use axt_proto::status::{closed_reason, reason, AgentResult};

/// ClosedReason of a connection closed for the idle timeout (the newer agents' result name).
const IDLE_TIMEOUT: &str = "IdleTimeout";
/// ClosedReason and client reason when the gateway stops under a schema-1.01 client (a 1.02
/// client is told Frozen and reconnects).
const GATEWAY_SHUTDOWN: &str = "GatewayShutdown";
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
}

impl End {
    /// `(Status, ClosedReason, FailedDetail)` for the record.
    pub fn record(&self) -> (&'static str, &'static str, Option<String>) {
        match self {
            Self::ClientClosed => ("Terminated", closed_reason::CLIENT_CLOSED, None),
            Self::Result(r) if r.is_success() => {
                ("Terminated", closed_reason::AGENT_SOCKET_CLOSED, None)
            }
            Self::Result(r) => (
                "Failed",
                closed_reason::AGENT_SOCKET_CLOSED,
                Some(r.as_str().to_owned()),
            ),
            Self::AgentLost => (
                "Failed",
                closed_reason::AGENT_SOCKET_CLOSED,
                Some("the data channel closed without a result".into()),
            ),
            Self::AgentNotOnline => (
                "Failed",
                closed_reason::AGENT_NOT_ONLINE,
                Some("the instance's agent has no kick channel".into()),
            ),
            Self::DeliveryTimeout => (
                "Failed",
                closed_reason::DELIVERY_TIMEOUT,
                Some("the agent did not open the data channel in time".into()),
            ),
            // EndTerminalSession already recorded the connection as closed by the client.
            Self::SessionEnded => ("Terminated", closed_reason::CLIENT_CLOSED, None),
            Self::InstanceNotRunning => (
                "Failed",
                closed_reason::INSTANCE_NOT_RUNNING,
                Some("the instance was stopped".into()),
            ),
            Self::IdleTimeout => ("Terminated", IDLE_TIMEOUT, None),
            Self::GatewayShutdown => ("Terminated", GATEWAY_SHUTDOWN, None),
        }
    }

    /// The Status 5 reason the client is shown, if it is still there to see one.
    pub fn client_reason(&self) -> Option<&str> {
        match self {
            Self::ClientClosed => None,
            Self::Result(r) => Some(r.client_reason()),
            Self::AgentLost => Some(closed_reason::AGENT_SOCKET_CLOSED),
            Self::AgentNotOnline => Some(closed_reason::AGENT_NOT_ONLINE),
            Self::DeliveryTimeout => Some(reason::AGENT_TIMEOUT),
            Self::SessionEnded => Some(SESSION_ENDED),
            Self::InstanceNotRunning => Some(closed_reason::INSTANCE_NOT_RUNNING),
            Self::IdleTimeout => Some(reason::AGENT_TIMEOUT),
            Self::GatewayShutdown => Some(GATEWAY_SHUTDOWN),
        }
    }
}
