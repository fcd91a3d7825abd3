//! The live channels of this gateway: each client connection's relay registers its channel
//! here before the agent is kicked, and the agent's data channel upgrade, its result report and
//! the session watcher find the relay through it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axt_proto::{
    internal::{GatewayLease, RecordChannel, SessionStates},
    status::{AgentResult, ClosedReason, ConnectionStatus, SessionVerdict},
};
use axum::{
    extract::{Query, State, WebSocketUpgrade},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use tokio::sync::mpsc;

use super::{AgentSocket, RelayEvent};
use crate::{agent_surface::identity::Verified, Shared};

/// Events for one relay. Small: a data channel or a result arrives a few times per session.
const EVENT_QUEUE: usize = 8;

struct Link {
    session_id: String,
    instance_id: String,
    events: mpsc::Sender<RelayEvent>,
}

/// The live channels of this gateway, by channel id.
#[derive(Default)]
pub struct Channels {
    links: Mutex<HashMap<String, Link>>,
}

impl Channels {
    /// Registers a channel about to be kicked; the relay reads the returned events.
    pub fn register(
        &self,
        channel_id: &str,
        session_id: &str,
        instance_id: &str,
    ) -> mpsc::Receiver<RelayEvent> {
        let (events, rx) = mpsc::channel(EVENT_QUEUE);
        let link = Link {
            session_id: session_id.to_owned(),
            instance_id: instance_id.to_owned(),
            events,
        };
        self.links
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(channel_id.to_owned(), link);
        rx
    }

    /// Forgets a channel whose relay ended.
    pub fn remove(&self, channel_id: &str) {
        self.links
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(channel_id);
    }

    /// The channels relayed here.
    pub fn live_channels(&self) -> Vec<String> {
        let links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        links.keys().cloned().collect()
    }

    /// The sessions that have live channels here.
    pub fn live_sessions(&self) -> Vec<String> {
        let links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids: Vec<String> = links.values().map(|l| l.session_id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Tells every relay of `session_id` that the session must end.
    pub fn end_session(&self, session_id: &str, why: SessionVerdict) {
        let links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        for link in links.values().filter(|l| l.session_id == session_id) {
            // A full queue means the relay is already ending; it will not miss much.
            let _ = link.events.try_send(RelayEvent::SessionEnded(why));
        }
    }

    /// The event queue of `channel_id`, if it is live and belongs to `session_id` (a client
    /// reconnecting).
    pub fn client_sender(
        &self,
        channel_id: &str,
        session_id: &str,
    ) -> Option<mpsc::Sender<RelayEvent>> {
        let links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        links
            .get(channel_id)
            .filter(|l| l.session_id == session_id)
            .map(|l| l.events.clone())
    }

    /// Whether no relay is left.
    pub fn is_empty(&self) -> bool {
        self.links
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// The event queue of `channel_id`, if it is live and belongs to `instance_id`.
    fn sender(&self, channel_id: &str, instance_id: &str) -> Option<mpsc::Sender<RelayEvent>> {
        let links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        links
            .get(channel_id)
            .filter(|l| l.instance_id == instance_id)
            .map(|l| l.events.clone())
    }

    /// Hands an agent's result to its relay, or, when no relay is left (the client went away
    /// first), records it directly.
    pub async fn report(
        &self,
        shared: &Shared,
        instance_id: &str,
        channel_id: &str,
        result: AgentResult,
    ) {
        if let Some(events) = self.sender(channel_id, instance_id) {
            if events
                .send(RelayEvent::AgentResult(result.clone()))
                .await
                .is_ok()
            {
                return;
            }
        }
        let status = if result.is_success() {
            ConnectionStatus::Terminated
        } else {
            ConnectionStatus::Failed
        };
        let update = RecordChannel {
            closed_reason: Some(ClosedReason::AgentSocketClosed),
            // Only a channel of the reporting instance: an agent cannot end another's.
            reporter: Some(instance_id.to_owned()),
            failed_detail: (!result.is_success()).then(|| result.as_str().to_owned()),
            ..RecordChannel::status(channel_id, status)
        };
        if let Err(error) = shared.cp.call(&update).await {
            tracing::debug!(%channel_id, %error, "result for a channel the control plane does not know");
        }
    }
}

/// `GET /luban/session/backend?channelId=`: an agent's data channel, for a channel of its own
/// instance that a relay is waiting for.
pub async fn agent_backend(
    State(shared): State<Arc<Shared>>,
    agent: Verified,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let channel_id = query.get("channelId").cloned().unwrap_or_default();
    let half_close = headers
        .get(axt_proto::agent_frame::FEATURES_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|f| f.trim() == axt_proto::agent_frame::FEATURE_HALF_CLOSE)
        });
    let Some(events) = shared.channels.sender(&channel_id, &agent.instance_id) else {
        tracing::warn!(instance_id = %agent.instance_id, %channel_id, "data channel for no live channel");
        return (StatusCode::NOT_FOUND, "no such channel").into_response();
    };
    let ws = crate::ws::sized(ws, crate::session_surface::MAX_MESSAGE);
    ws.on_upgrade(move |socket| async move {
        if events
            .send(RelayEvent::AgentSocket(Box::new(AgentSocket {
                socket: socket.into(),
                half_close,
            })))
            .await
            .is_err()
        {
            tracing::debug!(%channel_id, "the relay ended while the agent connected");
        }
    })
}

/// Four times a second, asks the control plane which of the sessions relayed here must end, so
/// that EndTerminalSession and StopInstance reach live connections within a second.
pub async fn watch_sessions(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let live = shared.channels.live_sessions();
        if live.is_empty() {
            continue;
        }
        let request = SessionStates { session_ids: live };
        match shared.cp.call(&request).await {
            Ok(answer) => {
                for entry in answer.sessions {
                    if entry.state != SessionVerdict::Live {
                        shared.channels.end_session(&entry.session_id, entry.state);
                    }
                }
            }
            // Live relays carry on while the control plane is away.
            Err(error) => tracing::debug!(%error, "cannot watch sessions now"),
        }
    }
}

/// Renews this gateway's lease on the connections it relays, at a third of the lease the
/// control plane grants (more often while it cannot reach the control plane: the lease is
/// the only thing that keeps its connections counted as live).
pub async fn renew_lease(shared: Arc<Shared>) {
    loop {
        let lease = GatewayLease {
            gateway_id: shared.config.gateway_id.clone(),
            gateway_boot: shared.boot.clone(),
            channel_ids: shared.channels.live_channels(),
        };
        let every = match shared.cp.call_now(&lease).await {
            Ok(granted) => std::time::Duration::from_secs(granted.lease_secs.max(1)) / 3,
            Err(error) => {
                tracing::warn!(%error, "cannot renew the lease on this gateway's connections");
                std::time::Duration::from_secs(1)
            }
        };
        tokio::time::sleep(every).await;
    }
}
