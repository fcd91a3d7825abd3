//! One session, from its spec to its result report: open the data channel, start the shell
//! or dial the target, relay until something ends it, report, close.

use std::time::Duration;

use axt_proto::{
    agent_frame::{AgentMessageType, MAX_CHANNEL_ID},
    spec::SessionSpec,
    status::{parse_rate, AgentResult},
};
use tokio::{sync::mpsc, time::Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{
    channel::{DataChannel, Inbound, Redial},
    chunk::SHELL_CHUNK,
    pacing::Pacer,
    port::{self, Port},
    runner::{Event, Runner},
    shell::{self, Shell},
    Context,
};
use crate::{
    client::{query, Client},
    kick::KEEPALIVE,
};

/// No valid inbound frame for this long ends the session with `Timeout`, as on the stock
/// agent (a client's keep-alive Inputs keep it open).
const IDLE_TIMEOUT: Duration = Duration::from_secs(180);
/// No session lasts longer (`Timeout`), as on the stock agent.
const MAX_SESSION: Duration = Duration::from_secs(3 * 3600);
/// After the shell exits, how long its last output may take to drain from the PTY before the
/// session ends anyway (a background job holding the terminal keeps it from hanging up).
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// A session that has ended but not reported yet.
pub struct Ended {
    /// Its result.
    pub result: AgentResult,
    /// Its data channel, if one was opened: it stays open until the report is sent.
    channel: Option<DataChannel>,
}

/// Runs the session of `spec` until it ends; [`finish`] then reports it. Two steps, so that the
/// caller can free what the session held before the server learns it ended.
pub async fn run(ctx: &Context, spec: &SessionSpec, stop: &CancellationToken) -> Ended {
    let (result, channel) = serve(ctx, spec, stop).await;
    info!(result = result.as_str(), "session ended");
    Ended { result, channel }
}

/// Reports an ended session's result, then closes its data channel.
pub async fn finish(client: &Client, channel_id: &str, ended: Ended) {
    report(client, channel_id, &ended.result).await;
    // Dropping the socket closes TCP without a close frame, as the stock agent does.
    drop(ended.channel);
}

/// Reports a session's end: `status=Success|Failed&errorcode=<result>`, never retried.
pub async fn report(client: &Client, channel_id: &str, result: &AgentResult) {
    let status = if result.is_success() {
        "Success"
    } else {
        "Failed"
    };
    let path = format!(
        "/luban/api/v1/session/status{}",
        query(&[
            ("channelId", channel_id),
            ("status", status),
            ("errorcode", result.as_str())
        ])
    );
    let sent = match client.request(reqwest::Method::POST, &path) {
        Ok(request) => {
            let request = request
                .header("content-type", "text/plain; charset=utf-8")
                .body("");
            client.send(request).await.map(drop)
        }
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        warn!(error = %e, "reporting the session's result failed");
    }
}

async fn serve(
    ctx: &Context,
    spec: &SessionSpec,
    stop: &CancellationToken,
) -> (AgentResult, Option<DataChannel>) {
    if spec.channel_id.len() > MAX_CHANNEL_ID {
        // The stock agent opens the channel and fails at its first output; refusing at once
        // reports the same result without a useless connection.
        return (AgentResult::ProcessDataError, None);
    }
    let mut channel = match DataChannel::open(&ctx.client, &spec.channel_id).await {
        Ok(channel) => channel,
        Err(e) => {
            warn!(error = %e, "opening the data channel failed");
            return (AgentResult::OpenChannelFailed, None);
        }
    };
    // Frames the gateway sends while the runner starts are not read yet: they wait in the
    // socket and are applied, in order, once there is a PTY or a connection to apply them to.
    let (mut runner, mut events) = match start(ctx, spec).await {
        Ok(started) => started,
        Err(result) => return (result, Some(channel)),
    };
    // Ready: an empty Output tells the gateway it may stop holding the client's input. The
    // stock agent gives no such signal (so gateways hold input until its first output, or
    // 1.5 s); for a port session, whose target may say nothing first, this saves that wait.
    if let Err(e) = channel.send_output(Vec::new()).await {
        warn!(error = %e, "signalling readiness failed");
    }
    // A Status 7 frame may later impose a rate on an unlimited port session; its pacer's bucket
    // is then one larger chunk, which changes the burst, not the average rate.
    let chunk = if spec.is_port_forward() {
        port::chunk_for(spec.flow_limit)
    } else {
        SHELL_CHUNK
    };
    let pacer = Pacer::new(spec.flow_limit, chunk, Instant::now());
    let result = relay(&mut channel, &mut runner, &mut events, pacer, stop).await;
    runner.terminate().await;
    (result, Some(channel))
}

/// Starts the shell or dials the target.
async fn start(
    ctx: &Context,
    spec: &SessionSpec,
) -> Result<(Runner, mpsc::Receiver<Event>), AgentResult> {
    if spec.is_port_forward() {
        return match port::dial(&spec.target_host, &spec.port_number, &ctx.deny).await {
            Ok(stream) => {
                let (port, events) = Port::relay(stream, port::chunk_for(spec.flow_limit));
                Ok((Runner::Port(port), events))
            }
            Err(e) => {
                warn!(error = %e, "port forward not opened");
                Err(AgentResult::OpenPortFailed)
            }
        };
    }
    let (users, cmd, username) = (
        ctx.users.clone(),
        spec.cmd_content.clone(),
        spec.username.clone(),
    );
    // User lookups, useradd and the PTY spawn all block.
    let span = tracing::Span::current();
    let started = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let _span = span.enter();
        let user = users.resolve(&username)?;
        let argv = shell::argv(&cmd, &user.shell)?;
        info!(user = %user.name, program = %argv[0], "starting the shell");
        Ok(Shell::spawn(&argv, &user)?)
    })
    .await;
    match started {
        Ok(Ok((shell, events))) => Ok((Runner::Shell(shell), events)),
        Ok(Err(e)) => {
            warn!(error = %format!("{e:#}"), "shell not started");
            Err(AgentResult::OpenPtyFailed)
        }
        Err(e) => {
            warn!(error = %e, "shell start panicked");
            Err(AgentResult::OpenPtyFailed)
        }
    }
}

/// What one turn of the relay loop decided.
enum Step {
    Continue,
    /// The connection is gone: redial.
    Lost(String),
    End(AgentResult),
}

/// The relay loop: frames in, output out (paced), keepalives, timeouts, stop.
async fn relay(
    channel: &mut DataChannel,
    runner: &mut Runner,
    events: &mut mpsc::Receiver<Event>,
    mut pacer: Pacer,
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
                    match frame.kind {
                        AgentMessageType::Input => tokio::select! {
                            // A full input queue parks the loop here (see INPUT_QUEUE).
                            _ = runner.input(frame.payload) => Step::Continue,
                            () = stop.cancelled() => Step::End(AgentResult::Notified),
                        },
                        AgentMessageType::SetSize => {
                            resize(runner, &frame.payload);
                            Step::Continue
                        }
                        AgentMessageType::Status => {
                            retune(&mut pacer, &frame.payload);
                            Step::Continue
                        }
                        AgentMessageType::CloseChannel if runner.close_input() => Step::Continue,
                        AgentMessageType::CloseChannel => Step::End(AgentResult::Ok),
                        other => {
                            debug!(kind = other.code(), "frame type ignored");
                            Step::Continue
                        }
                    }
                }
                Inbound::Lost(why) => Step::Lost(why),
            },
            event = events.recv(), if pending.is_none() => match event {
                Some(Event::Output(bytes)) => {
                    let now = Instant::now();
                    let wait = pacer.reserve(bytes.len(), now);
                    if wait.is_zero() {
                        send(channel, bytes, stop).await
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
                    Some((bytes, _)) => send(channel, bytes, stop).await,
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

/// Applies a set_size payload, JSON `{"cols":N,"rows":N}`; a missing field is 0, as on the
/// stock agent, and anything else is ignored.
fn resize(runner: &Runner, payload: &[u8]) {
    #[derive(serde::Deserialize)]
    #[serde(default)]
    #[derive(Default)]
    struct Size {
        cols: u64,
        rows: u64,
    }
    match serde_json::from_slice::<Size>(payload) {
        Ok(size) => {
            let clamp = |n: u64| u16::try_from(n).unwrap_or(u16::MAX);
            runner.resize(clamp(size.cols), clamp(size.rows));
        }
        Err(e) => warn!(error = %e, "set_size that is not JSON ignored"),
    }
}

/// Applies a Status frame: code 7 retunes the send rate; others are ignored.
fn retune(pacer: &mut Pacer, payload: &[u8]) {
    match parse_rate(payload) {
        Some(rate) if pacer.retune(rate, Instant::now()) => debug!(rate, "send rate retuned"),
        Some(rate) => warn!(rate, "send rate below the floor ignored"),
        None => debug!(code = payload.first().copied(), "status frame ignored"),
    }
}
