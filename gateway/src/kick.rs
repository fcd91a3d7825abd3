//! Kick channels: the one `/luban/notify_server` WebSocket each agent keeps open, over which
//! the gateway tells it `kick_vm session start <channelId>`. The upgrade is never refused — a
//! refused upgrade leaves the stock agent without a kick channel for up to 30 minutes — so the
//! identity is checked after it, and a bad one is closed with a policy-violation frame.
//!
//! The control plane is told which kick channels this gateway holds (StartTerminalSession
//! dispatches only to instances that have one); a report lost on the way is mended by the next
//! heart-beat the gateway relays for that agent.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axt_proto::{
    internal::KickChannel,
    kick::{Kick, KickReply},
};
use axum::{
    extract::{
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
        State,
    },
    http::HeaderMap,
    response::Response,
};
use tokio::sync::mpsc;
use tracing::Instrument as _;

use crate::{agent_surface::identity::IdentityFailure, Shared};

/// Kicks waiting for one agent; a full queue means the agent is not reading, and the kick fails.
const KICK_QUEUE: usize = 64;

/// The live kick channels, by instance id. A newer channel of the same instance replaces the
/// older one (the agent reconnected).
#[derive(Default)]
pub struct Kicks {
    links: Mutex<HashMap<String, (u64, mpsc::Sender<Kick>)>>,
    next: AtomicU64,
}

impl Kicks {
    /// Queues a kick; `false` when the instance has no kick channel.
    pub fn send(&self, instance_id: &str, kick: Kick) -> bool {
        let links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        links
            .get(instance_id)
            .is_some_and(|(_, tx)| tx.try_send(kick).is_ok())
    }

    /// Whether the instance's agent has a kick channel now.
    pub fn online(&self, instance_id: &str) -> bool {
        self.link(instance_id).is_some()
    }

    /// The number of the instance's kick channel, if it has one here.
    pub fn link(&self, instance_id: &str) -> Option<u64> {
        let links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        links.get(instance_id).map(|(id, _)| *id)
    }

    /// A number for a new kick channel, never given out before by this gateway.
    fn new_link(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    fn attach(&self, instance_id: &str, id: u64) -> mpsc::Receiver<Kick> {
        let (tx, rx) = mpsc::channel(KICK_QUEUE);
        self.links
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(instance_id.to_owned(), (id, tx));
        rx
    }

    fn detach(&self, instance_id: &str, id: u64) {
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        if links
            .get(instance_id)
            .is_some_and(|(current, _)| *current == id)
        {
            links.remove(instance_id);
        }
    }
}

/// `GET /luban/notify_server`: always upgraded.
pub async fn notify_server(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| async move {
        let instance = headers
            .get(axt_proto::identity::INSTANCE_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?")
            .to_owned();
        let span = tracing::info_span!("kick", instance_id = %instance);
        let reason = kick_channel(shared, headers, socket)
            .instrument(span.clone())
            .await;
        span.in_scope(|| tracing::info!(reason, "kick channel ended"));
    })
}

async fn kick_channel(
    shared: Arc<Shared>,
    headers: HeaderMap,
    mut socket: WebSocket,
) -> &'static str {
    // Verify, waiting out a control plane that is briefly unavailable rather than refusing.
    let verified = loop {
        match shared.identities.verify(&shared, &headers).await {
            Ok(v) => break v,
            Err(IdentityFailure::Unavailable(why)) => {
                tracing::warn!(%why, "cannot verify the agent yet; holding its kick channel");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                    msg = socket.recv() => if matches!(msg, None | Some(Err(_)) | Some(Ok(Message::Close(_)))) {
                        return "agent left before it could be verified";
                    },
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "refusing a kick channel");
                let frame = CloseFrame {
                    code: 1008,
                    reason: "identity rejected".into(),
                };
                let _ = socket.send(Message::Close(Some(frame))).await;
                return "identity rejected";
            }
        }
    };
    // The control plane hears of it before anyone here can see it online, and of its end
    // before it goes: whoever learns from this gateway that the agent is (or is not) reachable
    // finds the control plane agreeing.
    let link = shared.kicks.new_link();
    report(&shared, &verified.instance_id, link, true).await;
    let mut kicks = shared.kicks.attach(&verified.instance_id, link);
    tracing::info!("kick channel open");
    let mut keepalive = tokio::time::interval(Duration::from_secs(30));
    let mut closing = shared.closing.subscribe();
    let reason = loop {
        tokio::select! {
            // On shutdown the agent is let go at once, so that it re-dials the next gateway.
            changed = closing.changed() => {
                if changed.is_err() || *closing.borrow_and_update() {
                    let _ = socket.send(Message::Close(None)).await;
                    break "gateway shutting down";
                }
            }
            kick = kicks.recv() => match kick {
                Some(kick) => {
                    tracing::debug!(%kick, "kicking");
                    if socket.send(Message::Text(kick.to_string().into())).await.is_err() {
                        break "send failed";
                    }
                }
                None => break "replaced by a newer kick channel",
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(text))) => match KickReply::parse(&text) {
                    Some(KickReply::Accept(_)) => tracing::debug!(reply = %text, "kick accepted"),
                    _ => tracing::warn!(reply = %text, "kick not accepted"),
                },
                Some(Ok(Message::Close(_))) | None => break "agent closed it",
                Some(Err(_)) => break "read error",
                Some(Ok(_)) => {}
            },
            _ = keepalive.tick() => {
                if socket.send(Message::Ping("keepalive".into())).await.is_err() {
                    break "ping failed";
                }
            }
        }
    };
    report(&shared, &verified.instance_id, link, false).await;
    shared.kicks.detach(&verified.instance_id, link);
    reason
}

/// Tells the control plane that this gateway now holds (or no longer holds) kick channel
/// `link` of an instance.
async fn report(shared: &Shared, instance_id: &str, link: u64, open: bool) {
    let report = KickChannel {
        instance_id: instance_id.to_owned(),
        gateway_id: shared.config.gateway_id.clone(),
        link,
        open,
    };
    if let Err(error) = shared.cp.call(&report).await {
        tracing::warn!(%error, open, "cannot record the kick channel now; the next heart-beat will");
    }
}
