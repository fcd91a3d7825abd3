//! Kick channels: the one `/luban/notify_server` WebSocket each agent keeps open, over which
//! the gateway tells it `kick_vm session start <channelId>`. The upgrade is never refused — a
//! refused upgrade leaves the stock agent without a kick channel for up to 30 minutes — so the
//! identity is checked after it, and a bad one is closed with a policy-violation frame.
//!
//! The control plane is told which kick channels this gateway holds (StartTerminalSession
//! dispatches only to instances that have one); a report lost on the way is mended by the next
//! heart-beat the gateway relays for that agent.

mod mailbox;

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
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
        ConnectInfo, State,
    },
    http::HeaderMap,
    response::Response,
};
use tokio::sync::Notify;
use tracing::Instrument as _;

use mailbox::Mailbox;
pub use mailbox::{KickError, MAX_PENDING_STARTS};

use crate::{agent_surface::identity::IdentityFailure, Shared};

/// The largest message an agent may send on its kick channel: its replies are one short line.
const MAX_KICK_REPLY: usize = 4 * 1024;
/// Kick channels held unverified while the control plane cannot be reached; past it, further
/// ones are closed (1013, try again later) rather than held.
const MAX_UNVERIFIED: usize = 1024;

/// One agent's kick channel: which one it is, what waits for it, and how its writer is woken.
struct Link {
    id: u64,
    mailbox: Mailbox,
    wake: Arc<Notify>,
}

/// The live kick channels, by instance id. A newer channel of the same instance replaces the
/// older one (the agent reconnected) and takes over what was still waiting for it.
#[derive(Default)]
pub struct Kicks {
    links: Mutex<HashMap<String, Link>>,
    next: AtomicU64,
    /// Kick channels waiting for the control plane to come back before they can be verified.
    unverified: AtomicUsize,
}

/// One kick channel waiting to be verified; counted while it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn join(count: &'a AtomicUsize) -> Option<Self> {
        let before = count.fetch_add(1, Ordering::Relaxed);
        let waiting = Self(count);
        (before < MAX_UNVERIFIED).then_some(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Kicks {
    /// Queues a kick for the instance's agent.
    pub fn send(&self, instance_id: &str, kick: Kick) -> Result<(), KickError> {
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        let link = links.get_mut(instance_id).ok_or(KickError::NotOnline)?;
        link.mailbox.put(kick)?;
        link.wake.notify_one();
        Ok(())
    }

    /// Whether the instance's agent has a kick channel now.
    pub fn online(&self, instance_id: &str) -> bool {
        self.link(instance_id).is_some()
    }

    /// The number of the instance's kick channel, if it has one here.
    pub fn link(&self, instance_id: &str) -> Option<u64> {
        let links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        links.get(instance_id).map(|link| link.id)
    }

    /// A number for a new kick channel, never given out before by this gateway.
    fn new_link(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes link `id` the instance's kick channel; returns what wakes its writer.
    fn attach(&self, instance_id: &str, id: u64) -> Arc<Notify> {
        let mut link = Link {
            id,
            mailbox: Mailbox::default(),
            wake: Arc::new(Notify::new()),
        };
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mut old) = links.remove(instance_id) {
            // The replaced channel's writer wakes to find itself replaced; what it had not
            // sent yet goes out on the new one.
            link.mailbox.absorb(&mut old.mailbox);
            old.wake.notify_one();
        }
        if !link.mailbox.is_empty() {
            link.wake.notify_one();
        }
        let wake = link.wake.clone();
        links.insert(instance_id.to_owned(), link);
        wake
    }

    /// What waits for link `id`, or `None` once a newer channel replaced it.
    fn take(&self, instance_id: &str, id: u64) -> Option<Vec<Kick>> {
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        let link = links.get_mut(instance_id).filter(|link| link.id == id)?;
        Some(link.mailbox.take_all())
    }

    fn detach(&self, instance_id: &str, id: u64) {
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        if links.get(instance_id).is_some_and(|link| link.id == id) {
            links.remove(instance_id);
        }
    }
}

/// `GET /luban/notify_server`: always upgraded.
pub async fn notify_server(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let ws = crate::ws::sized(ws, MAX_KICK_REPLY);
    ws.on_upgrade(move |socket| async move {
        let instance = headers
            .get(axt_proto::identity::INSTANCE_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?")
            .to_owned();
        let span = tracing::info_span!("kick", instance_id = %instance);
        let reason = kick_channel(shared, headers, peer.ip(), socket)
            .instrument(span.clone())
            .await;
        span.in_scope(|| tracing::info!(reason, "kick channel ended"));
    })
}

async fn kick_channel(
    shared: Arc<Shared>,
    headers: HeaderMap,
    peer: IpAddr,
    mut socket: WebSocket,
) -> &'static str {
    // Verify, waiting out a control plane that is briefly unavailable rather than refusing —
    // up to a bound: unverified channels cost a socket each and prove nothing.
    let mut waiting = None;
    let verified = loop {
        match shared.identities.verify(&shared, &headers, peer).await {
            Ok(v) => break v,
            Err(IdentityFailure::Unavailable(why)) => {
                if waiting.is_none() {
                    waiting = Waiting::join(&shared.kicks.unverified);
                    if waiting.is_none() {
                        let frame = CloseFrame {
                            code: 1013,
                            reason: "cannot verify now; try again later".into(),
                        };
                        let _ = socket.send(Message::Close(Some(frame))).await;
                        return "too many kick channels waiting to be verified";
                    }
                }
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
    drop(waiting);
    // The control plane hears of it before anyone here can see it online, and of its end
    // before it goes: whoever learns from this gateway that the agent is (or is not) reachable
    // finds the control plane agreeing.
    let link = shared.kicks.new_link();
    report(&shared, &verified.instance_id, link, true).await;
    let wake = shared.kicks.attach(&verified.instance_id, link);
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
            () = wake.notified() => {
                let Some(kicks) = shared.kicks.take(&verified.instance_id, link) else {
                    break "replaced by a newer kick channel";
                };
                if let Err(why) = send_all(&mut socket, kicks).await {
                    break why;
                }
            }
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

/// Sends `kicks` in order; a failed send ends the channel (the agent redials, and what did not
/// go out is lost with it: its sessions' relays time out with a reason).
async fn send_all(socket: &mut WebSocket, kicks: Vec<Kick>) -> Result<(), &'static str> {
    for kick in kicks {
        tracing::debug!(%kick, "kicking");
        if socket
            .send(Message::Text(kick.to_string().into()))
            .await
            .is_err()
        {
            return Err("send failed");
        }
    }
    Ok(())
}

/// Tells the control plane that this gateway now holds (or no longer holds) kick channel
/// `link` of an instance.
async fn report(shared: &Shared, instance_id: &str, link: u64, open: bool) {
    let report = KickChannel {
        instance_id: instance_id.to_owned(),
        gateway_id: shared.config.gateway_id.clone(),
        gateway_boot: shared.boot.clone(),
        link,
        open,
    };
    if let Err(error) = shared.cp.call(&report).await {
        tracing::warn!(%error, open, "cannot record the kick channel now; the next heart-beat will");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unverified_kick_channels_are_held_up_to_a_bound() {
        let count = AtomicUsize::new(0);
        let held: Vec<_> = (0..MAX_UNVERIFIED)
            .map(|_| Waiting::join(&count).unwrap())
            .collect();
        assert!(Waiting::join(&count).is_none(), "past the bound");
        assert_eq!(
            count.load(Ordering::Relaxed),
            MAX_UNVERIFIED,
            "a refusal holds no place"
        );
        drop(held);
        assert!(Waiting::join(&count).is_some(), "places come back");
    }
}
