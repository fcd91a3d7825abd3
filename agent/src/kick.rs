//! The kick channel `/luban/notify_server` (docs/protocol.md §4): the server's text frames say
//! which session to start or stop; each gets one text reply, sent before any work. Unlike the
//! stock agent, which may go deaf for half an hour after one refused redial, this one
//! redials forever with capped, jittered backoff.

use std::time::Duration;

use axt_proto::kick::{Kick, KickReply};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn, Instrument as _};

use crate::{
    backoff::Backoff,
    client::{Client, ClientError},
    session::Sessions,
};

/// Interval of the `keepalive` pings, as the stock agent's.
pub const KEEPALIVE: Duration = Duration::from_secs(60);
/// Payload of the pings.
pub const KEEPALIVE_PAYLOAD: &str = "keepalive";
/// A channel that stayed up this long resets the backoff; a server that accepts and at once
/// drops the upgrade still gets a slower and slower redial.
const HEALTHY: Duration = Duration::from_secs(10);

/// Keeps the kick channel up until `shutdown`.
pub async fn run(client: Client, sessions: Sessions, shutdown: CancellationToken) {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    async move {
        loop {
            let opened = Instant::now();
            match serve(&client, &sessions, &shutdown).await {
                Ok(Ended::Shutdown) => return,
                Ok(Ended::Closed) => info!("kick channel closed by the server"),
                Err(e) => warn!(error = %e, "kick channel lost"),
            }
            if opened.elapsed() >= HEALTHY {
                backoff.reset();
            }
            let wait = backoff.next_delay();
            info!(?wait, "redialling the kick channel");
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
    .instrument(info_span!("kick"))
    .await;
}

/// How a kick channel ended without an error.
enum Ended {
    /// The agent is stopping.
    Shutdown,
    /// The server closed it.
    Closed,
}

/// One kick channel, from the upgrade to its end.
async fn serve(
    client: &Client,
    sessions: &Sessions,
    shutdown: &CancellationToken,
) -> Result<Ended, ClientError> {
    let mut ws = tokio::select! {
        ws = client.websocket("/luban/notify_server", &[]) => ws?,
        () = shutdown.cancelled() => return Ok(Ended::Shutdown),
    };
    info!("kick channel open");
    ws.send(Message::Ping(KEEPALIVE_PAYLOAD.into())).await?;
    let mut keepalive = tokio::time::interval_at(Instant::now() + KEEPALIVE, KEEPALIVE);
    keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    ws.send(Message::text(KickReply::for_kick(&text).to_string())).await?;
                    match Kick::parse(&text) {
                        Some(kick) => sessions.kick(kick),
                        None => warn!(kick = %text, "kick not understood"),
                    }
                }
                // Pings are answered by tungstenite; a close is echoed on the next read,
                // which then ends the stream.
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(Ended::Closed),
            },
            _ = keepalive.tick() => ws.send(Message::Ping(KEEPALIVE_PAYLOAD.into())).await?,
            // Dropping the socket closes TCP without a close frame, as the stock agent does
            // on SIGTERM.
            () = shutdown.cancelled() => return Ok(Ended::Shutdown),
        }
    }
}
