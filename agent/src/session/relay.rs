//! The relay loop of a running session: frames in, output out (paced), keepalives, timeouts,
//! stop. In an encrypted session Input is opened before it reaches the runner and output is
//! sealed before it goes out; empty payloads stay keep-alives in the clear either way.

use std::time::Duration;

use axt_proto::{
    agent_frame::{AgentFrame, AgentMessageType},
    e2e::exchange::ErrorReason,
    status::{parse_rate, AgentResult},
};
use tokio::{sync::mpsc, time::Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{
    channel::{DataChannel, Inbound, Redial},
    e2e::{
        self,
        records::{Cipher, Opened},
    },
    pacing::Pacer,
    runner::{Event, Runner},
};
use crate::kick::KEEPALIVE;

/// No valid inbound frame for this long ends the session with `Timeout`, as on the stock
/// agent (a client's keep-alive Inputs keep it open).
const IDLE_TIMEOUT: Duration = Duration::from_secs(180);
/// No session lasts longer (`Timeout`), as on the stock agent.
const MAX_SESSION: Duration = Duration::from_secs(3 * 3600);
/// After the shell exits, how long its last output may take to drain from the PTY before the
/// session ends anyway (a background job holding the terminal keeps it from hanging up).
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// How a session's data is protected.
pub struct Protection {
    /// The agreed cipher of an encrypted session; `None` in the clear.
    pub cipher: Option<Cipher>,
    /// The message type of key-exchange frames, which are out of place once a session runs.
    pub key_exchange_type: u32,
}

/// What one turn of the relay loop decided.
enum Step {
    Continue,
    /// The connection is gone: redial.
    Lost(String),
    End(AgentResult),
}

/// The relay loop: runs until something ends the session; returns its result, which an
/// authenticated session also tells the client in a last, sealed Close record.
pub async fn run(
    channel: &mut DataChannel,
    runner: &mut Runner,
    events: &mut mpsc::Receiver<Event>,
    pacer: Pacer,
    mut protection: Protection,
    stop: &CancellationToken,
) -> AgentResult {
    let result = relay(channel, runner, events, pacer, &mut protection, stop).await;
    if let Some(close) = protection
        .cipher
        .as_mut()
        .and_then(|c| c.seal_close(result.as_str()))
    {
        // Best effort: the channel may be what ended the session.
        if let Err(e) = channel.send_output(close).await {
            debug!(error = %e, "the closing record was not sent");
        }
    }
    result
}

async fn relay(
    channel: &mut DataChannel,
    runner: &mut Runner,
    events: &mut mpsc::Receiver<Event>,
    mut pacer: Pacer,
    protection: &mut Protection,
    stop: &CancellationToken,
) -> AgentResult {
    // An output chunk waiting for its pacing slot. While one waits, `events` is not polled:
    // that is where pacing turns into back-pressure on the runner.
    let mut pending: Option<(Vec<u8>, Instant)> = None;
    let mut idle_deadline = Instant::now() + IDLE_TIMEOUT;
    let hard_deadline = Instant::now() + MAX_SESSION;
    let mut exit_deadline: Option<Instant> = None;
    let mut keepalive = tokio::time::interval_at(Instant::now() + KEEPALIVE, KEEPALIVE);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let far = hard_deadline + Duration::from_secs(1);
    loop {
        let step = tokio::select! {
            inbound = channel.recv() => match inbound {
                Inbound::Frame(frame) => {
                    idle_deadline = Instant::now() + IDLE_TIMEOUT;
                    inbound_frame(frame, channel, runner, &mut pacer, protection, stop).await
                }
                Inbound::Lost(why) => Step::Lost(why),
            },
            event = events.recv(), if pending.is_none() => match event {
                Some(Event::Output(bytes)) => {
                    let now = Instant::now();
                    let wait = pacer.reserve(bytes.len(), now);
                    if wait.is_zero() {
                        send(channel, protect(protection, bytes), stop).await
                    } else {
                        pending = Some((bytes, now + wait));
                        Step::Continue
                    }
                }
                Some(Event::Ended(result)) => Step::End(result),
                None => Step::End(AgentResult::Ok),
            },
            () = tokio::time::sleep_until(pending.as_ref().map_or(far, |(_, at)| *at)), if pending.is_some() => {
                match pending.take() {
                    Some((bytes, _)) => send(channel, protect(protection, bytes), stop).await,
                    None => Step::Continue,
                }
            }
            _ = keepalive.tick() => match channel.ping().await {
                Ok(()) => Step::Continue,
                Err(e) => Step::Lost(e.to_string()),
            },
            () = runner.exited(), if exit_deadline.is_none() => {
                exit_deadline = Some(Instant::now() + EXIT_GRACE);
                Step::Continue
            }
            () = tokio::time::sleep_until(exit_deadline.unwrap_or(far)), if exit_deadline.is_some() => {
                debug!("the shell exited but its terminal stayed open");
                Step::End(AgentResult::Ok)
            }
            () = tokio::time::sleep_until(idle_deadline) => Step::End(AgentResult::Timeout),
            () = tokio::time::sleep_until(hard_deadline) => Step::End(AgentResult::Timeout),
            () = stop.cancelled() => Step::End(AgentResult::Notified),
        };
        match step {
            Step::Continue => {}
            Step::End(result) => return result,
            Step::Lost(why) => {
                warn!(%why, "data channel lost");
                match channel.reconnect(stop).await {
                    Ok(()) => {}
                    Err(Redial::Stopped) => return AgentResult::Notified,
                    Err(Redial::GaveUp) => return AgentResult::Timeout,
                }
            }
        }
    }
}

/// Applies one inbound frame.
async fn inbound_frame(
    frame: AgentFrame,
    channel: &mut DataChannel,
    runner: &mut Runner,
    pacer: &mut Pacer,
    protection: &mut Protection,
    stop: &CancellationToken,
) -> Step {
    let authenticated = protection
        .cipher
        .as_ref()
        .is_some_and(Cipher::is_authenticated);
    match frame.kind {
        kind if kind.code() == protection.key_exchange_type => {
            // After the exchange, or in a session that has none: the stock agent ends the
            // session with KeyExchangeFailed (it says nothing; the client is told why here).
            warn!("key-exchange frame outside a key exchange");
            let reply = e2e::error_payload(
                ErrorReason::InvalidKeyExchangeStateError,
                "no key exchange is under way in this session",
            );
            if let Err(e) = channel.send_key_exchange(kind.code(), reply).await {
                debug!(error = %e, "KeyExchangeError not sent");
            }
            Step::End(e2e::key_exchange_failed())
        }
        AgentMessageType::Input => match &mut protection.cipher {
            Some(cipher) if !frame.payload.is_empty() => match cipher.open(&frame.payload) {
                Ok(Opened::Data(bytes)) if bytes.is_empty() => Step::Continue,
                Ok(Opened::Data(bytes)) => input(runner, bytes, stop).await,
                Ok(Opened::Resize { cols, rows }) => {
                    runner.resize(cols, rows);
                    Step::Continue
                }
                Ok(Opened::Close) => close(runner),
                Ok(Opened::Duplicate) => {
                    debug!("duplicate input record dropped");
                    Step::Continue
                }
                Err(e) => {
                    warn!(error = %e, "encrypted input refused");
                    Step::End(AgentResult::ProcessDataError)
                }
            },
            _ => input(runner, frame.payload, stop).await,
        },
        // The authenticated suite resizes with records; a size in the clear is not the
        // client's word.
        AgentMessageType::SetSize if authenticated => {
            debug!("clear set_size ignored in an authenticated session");
            Step::Continue
        }
        AgentMessageType::SetSize => {
            match parse_size(&frame.payload) {
                Some((cols, rows)) => runner.resize(cols, rows),
                None => warn!("set_size that is not JSON ignored"),
            }
            Step::Continue
        }
        AgentMessageType::Status => {
            retune(pacer, &frame.payload);
            Step::Continue
        }
        AgentMessageType::CloseChannel => close(runner),
        other => {
            debug!(kind = other.code(), "frame type ignored");
            Step::Continue
        }
    }
}

/// Passes input to the runner; a full input queue parks the loop here (see INPUT_QUEUE).
/// The future holds the queue, not the runner, which may not be shared across threads.
async fn input(runner: &mut Runner, bytes: Vec<u8>, stop: &CancellationToken) -> Step {
    let queued = runner.input(bytes);
    tokio::select! {
        _ = queued => Step::Continue,
        () = stop.cancelled() => Step::End(AgentResult::Notified),
    }
}

/// The client finished: a port forward half-closes and goes on, a shell session ends.
fn close(runner: &mut Runner) -> Step {
    if runner.close_input() {
        Step::Continue
    } else {
        Step::End(AgentResult::Ok)
    }
}

/// One output chunk as its Output payload: sealed in an encrypted session, one chunk to one
/// frame (the client opens frame by frame). Sealed only when it goes out, so that a chunk
/// dropped at the end never takes a record number.
fn protect(protection: &mut Protection, bytes: Vec<u8>) -> Vec<u8> {
    match &mut protection.cipher {
        Some(cipher) if !bytes.is_empty() => cipher.seal(&bytes),
        _ => bytes,
    }
}

/// Sends one Output frame, unless the session is stopped while the socket is full.
async fn send(channel: &mut DataChannel, bytes: Vec<u8>, stop: &CancellationToken) -> Step {
    tokio::select! {
        sent = channel.send_output(bytes) => match sent {
            Ok(()) => Step::Continue,
            Err(e) => Step::Lost(e.to_string()),
        },
        () = stop.cancelled() => Step::End(AgentResult::Notified),
    }
}

/// Reads a set_size payload, JSON `{"cols":N,"rows":N}`; a missing field is 0, as on the
/// stock agent, and anything else is `None`.
pub fn parse_size(payload: &[u8]) -> Option<(u16, u16)> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Size {
        cols: u64,
        rows: u64,
    }
    let size = serde_json::from_slice::<Size>(payload).ok()?;
    let clamp = |n: u64| u16::try_from(n).unwrap_or(u16::MAX);
    Some((clamp(size.cols), clamp(size.rows)))
}

/// Applies a Status frame: code 7 retunes the send rate; others are ignored.
pub fn retune(pacer: &mut Pacer, payload: &[u8]) {
    match parse_rate(payload) {
        Some(rate) if pacer.retune(rate, Instant::now()) => debug!(rate, "send rate retuned"),
        Some(rate) => warn!(rate, "send rate below the floor ignored"),
        None => debug!(code = payload.first().copied(), "status frame ignored"),
    }
}
