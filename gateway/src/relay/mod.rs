//! Relaying: each client connection gets one agent channel, and one relay that translates the
//! client framing to the agent framing and back until something ends the connection.
//!
//! - `registry.rs`: the live channels, found by the agent's data channel and result report;
//! - `state.rs`: a relay's state, grouped by concern; `driver.rs`: its one `select!` loop;
//! - `client_side.rs` / `agent_side.rs`: what each frame from either side does;
//! - `frames.rs`: numbering and framing; `end.rs`: why a relay ended and who is told what;
//! - `rate.rs`: the per-session bandwidth; `socket.rs` and `host.rs`: the relay's view of its
//!   sockets and of the gateway, which its unit tests (`tests/`) replace with in-memory ones.

mod agent_side;
mod client_side;
mod driver;
mod end;
mod frames;
mod host;
pub mod rate;
mod registry;
mod socket;
mod state;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axt_proto::{internal::ChannelGrant, status::AgentResult, status::SessionVerdict};
use tracing::Instrument as _;

pub use driver::Start;
pub use end::End;
pub use host::{Host, Timers};
pub use registry::{agent_backend, renew_lease, watch_sessions, Channels};
pub use socket::Socket;
pub use state::Relay;

/// The key-exchange message type unless configured otherwise (docs/encryption.md §1).
pub use axt_proto::e2e::DEFAULT_KEY_EXCHANGE_TYPE;

use crate::Shared;

/// An agent's data channel and what the agent said it can do.
pub struct AgentSocket {
    pub socket: Socket,
    /// axt-agent takes a CloseChannel frame on a port session as "the client finished
    /// sending": it half-closes the target and relays until the target closes. The stock agent
    /// ignores that frame, so without this the gateway closes after a short grace.
    pub half_close: bool,
}

/// What reaches a relay besides the frames of its two sockets.
pub enum RelayEvent {
    /// The agent opened (or re-opened) the data channel.
    AgentSocket(Box<AgentSocket>),
    /// The agent reported the session's result.
    AgentResult(AgentResult),
    /// The control plane says the session must end (EndTerminalSession, StopInstance).
    SessionEnded(SessionVerdict),
    /// A 1.02 client reconnected to this channel.
    ClientSocket(Box<Socket>),
}

/// Runs the relay of one client connection of this gateway to its end.
pub async fn run(
    shared: Arc<Shared>,
    grant: ChannelGrant,
    client: impl Into<Socket>,
    events: tokio::sync::mpsc::Receiver<RelayEvent>,
    start: Start,
) {
    let span = tracing::info_span!("relay", session_id = %grant.session.session_id, channel_id = %grant.channel_id);
    let channel_id = grant.channel_id.clone();
    let session_id = grant.session.session_id.clone();
    let bytes_per_second = grant.session.rate_limit.map_or(0, |r| r.get());
    let rate = rate::session_rate(&shared, &grant.session.session_id, bytes_per_second);
    let tap = span.in_scope(|| shared.observe.tap(&grant, start == Start::Resume));
    let relay = Relay::new(
        shared.clone(),
        grant,
        client.into(),
        events,
        Timers::of(&shared.config),
        shared.closing.subscribe(),
        rate,
    )
    .with_key_exchange_type(shared.config.key_exchange_message_type)
    .with_tap(tap);
    relay.run(start).instrument(span).await;
    shared.channels.remove(&channel_id);
    rate::forget(&shared, &session_id);
}
