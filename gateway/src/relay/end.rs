//! Why a relay ended, and what the client and the record are told about it.

use axt_proto::status::{closed_reason, reason, AgentResult};

/// Why a relay ended.
#[derive(Debug)]
pub enum End {
    ClientClosed,
    Result(AgentResult),
    AgentLost,
    AgentNotOnline,
    DeliveryTimeout,
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
        }
    }
}
