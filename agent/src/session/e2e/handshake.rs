//! Runs an encrypted session's key exchange over its data channel, before the shell exists:
//! key-exchange frames go to the [`Exchange`], its answers go back, and the other frames that
//! arrive meanwhile are dealt with as the shell would want them later (a size is kept, a rate
//! applied). It ends with the agreed [`Cipher`], or with the session's result: every failure is
//! answered with a KeyExchangeError frame first, except the 20 s timeout, which the stock agent
//! does not answer either.

use axt_proto::{
    agent_frame::AgentMessageType,
    e2e::{exchange::ErrorReason, Mode, EXCHANGE_TIMEOUT},
    identity::IdentityError,
    spec::SessionSpec,
    status::AgentResult,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{
    error_payload,
    exchange::{Exchange, Identity, Step},
    key_exchange_failed, kms,
    records::Cipher,
};
use crate::{
    client::Client,
    session::{
        channel::{DataChannel, Inbound, Redial},
        pacing::Pacer,
        relay::{parse_size, retune},
        Context,
    },
};

/// A finished exchange.
pub struct Secured {
    /// What protects the session's data.
    pub cipher: Cipher,
    /// The last SetSize that arrived during the exchange, for the PTY to start with (none in
    /// the authenticated suite, whose sizes come as records).
    pub size: Option<(u16, u16)>,
}

/// Runs the exchange of the session of `spec` in `mode`; at most [`EXCHANGE_TIMEOUT`].
pub async fn run(
    ctx: &Context,
    channel: &mut DataChannel,
    spec: &SessionSpec,
    mode: Mode,
    pacer: &mut Pacer,
    stop: &CancellationToken,
) -> Result<Secured, AgentResult> {
    let kind = ctx.key_exchange_type;
    let mut exchange = Exchange::new(mode, &spec.channel_id, identity(&ctx.client));
    let deadline = Instant::now() + EXCHANGE_TIMEOUT;
    let mut size = None;
    info!(?mode, "waiting for the key exchange");
    loop {
        let inbound = tokio::select! {
            inbound = channel.recv() => inbound,
            () = tokio::time::sleep_until(deadline) => {
                warn!("the key exchange did not finish in time");
                return Err(key_exchange_failed());
            }
            () = stop.cancelled() => return Err(AgentResult::Notified),
        };
        let frame = match inbound {
            Inbound::Frame(frame) => frame,
            Inbound::Lost(why) => {
                warn!(%why, "data channel lost during the key exchange");
                redial(channel, stop).await?;
                continue;
            }
        };
        let step = match frame.kind {
            k if k.code() == kind => exchange.on_payload(&frame.payload),
            // An empty Input is a keep-alive, in the clear in every suite.
            AgentMessageType::Input if frame.payload.is_empty() => continue,
            AgentMessageType::Input => Step::Failure {
                reply: error_payload(
                    ErrorReason::RecvDataMessageBeforeKeyExchange,
                    "Receive InputStreamDataMessage before finishing key exchange",
                ),
                reason: ErrorReason::RecvDataMessageBeforeKeyExchange,
            },
            AgentMessageType::SetSize => {
                size = parse_size(&frame.payload).or(size);
                continue;
            }
            AgentMessageType::Status => {
                retune(pacer, &frame.payload);
                continue;
            }
            // The client left before the exchange finished.
            AgentMessageType::CloseChannel => return Err(AgentResult::Ok),
            other => {
                debug!(kind = other.code(), "frame type ignored");
                continue;
            }
        };
        let step = match step {
            Step::DecryptDataKey(blob) => {
                let answer = tokio::select! {
                    answer = kms::decrypt(&ctx.client, &spec.channel_id, &blob) => answer,
                    () = tokio::time::sleep_until(deadline) => {
                        warn!("the data key was not decrypted in time");
                        return Err(key_exchange_failed());
                    }
                    () = stop.cancelled() => return Err(AgentResult::Notified),
                };
                exchange.on_data_key(answer)
            }
            step => step,
        };
        match step {
            Step::Reply(reply) => {
                debug!(suite = ?exchange.suite(), "AgentHello");
                send(channel, kind, reply, stop).await?;
            }
            Step::Success { reply, cipher } => {
                send(channel, kind, reply, stop).await?;
                info!(suite = cipher.family(), "key exchange done");
                let size = size.filter(|_| !cipher.is_authenticated());
                return Ok(Secured { cipher, size });
            }
            Step::Failure { reply, reason } => {
                warn!(reason = reason.name(), "key exchange failed");
                // The session ends either way; the client learns why if the frame goes out.
                if let Err(e) = channel.send_key_exchange(kind, reply).await {
                    debug!(error = %e, "KeyExchangeError not sent");
                }
                return Err(key_exchange_failed());
            }
            Step::DecryptDataKey(_) => {
                // The exchange asks for one data key only, and it was just given.
                return Err(key_exchange_failed());
            }
        }
    }
}

/// The agent's identity for the authenticated suite: its instance id, and the client's key to
/// sign with (there is always one once registered).
fn identity(client: &Client) -> Option<Identity> {
    let instance_id = client.instance_id()?.to_owned();
    let client = client.clone();
    Some(Identity {
        instance_id,
        sign: Box::new(move |transcript| {
            client
                .sign_transcript(transcript)
                .unwrap_or_else(|| Err(IdentityError::Key("not registered".into())))
        }),
    })
}

/// Sends a key-exchange frame; after a loss, redials and sends it again (the gateway keeps no
/// copy of what the agent sends).
async fn send(
    channel: &mut DataChannel,
    kind: u32,
    payload: Vec<u8>,
    stop: &CancellationToken,
) -> Result<(), AgentResult> {
    loop {
        match channel.send_key_exchange(kind, payload.clone()).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                warn!(error = %e, "data channel lost during the key exchange");
                redial(channel, stop).await?;
            }
        }
    }
}

/// Redials after a loss, with the relay's results when that fails.
async fn redial(channel: &mut DataChannel, stop: &CancellationToken) -> Result<(), AgentResult> {
    channel.reconnect(stop).await.map_err(|e| match e {
        Redial::Stopped => AgentResult::Notified,
        Redial::GaveUp => AgentResult::Timeout,
    })
}
