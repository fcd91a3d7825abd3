//! One session, from its spec to its result report: open the data channel, start the shell
//! or dial the target, relay until something ends it, report, close.

use axt_proto::{agent_frame::MAX_CHANNEL_ID, spec::SessionSpec, status::AgentResult};
use tokio::{sync::mpsc, time::Instant};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{
    channel::DataChannel,
    chunk::SHELL_CHUNK,
    e2e::{self, handshake},
    pacing::Pacer,
    port::{self, Port},
    relay::{self, Protection},
    runner::{Event, Runner},
    shell::{self, Shell},
    Context,
};
use crate::client::{query, Client};

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
    let encryption = e2e::encryption(spec);
    if encryption.is_some() && spec.is_port_forward() {
        // The control plane never asks for it (the bytes of a forward are the application's
        // to protect); a spec that does is not run in the clear.
        warn!("an encrypted port forward refused: only shell sessions are encrypted");
        return (e2e::key_exchange_failed(), None);
    }
    let mut channel = match DataChannel::open(&ctx.client, &spec.channel_id).await {
        Ok(channel) => channel,
        Err(e) => {
            warn!(error = %e, "opening the data channel failed");
            return (AgentResult::OpenChannelFailed, None);
        }
    };
    // A Status 7 frame may later impose a rate on an unlimited port session; its pacer's bucket
    // is then one larger chunk, which changes the burst, not the average rate.
    let chunk = if spec.is_port_forward() {
        port::chunk_for(spec.flow_limit)
    } else {
        SHELL_CHUNK
    };
    let mut pacer = Pacer::new(spec.flow_limit, chunk, Instant::now());
    // An encrypted session is ready for its key exchange at once, and the shell starts only
    // after it, as on the stock agent.
    let mut secured = None;
    if let Some(mode) = encryption {
        ready(&mut channel).await;
        match handshake::run(ctx, &mut channel, spec, mode, &mut pacer, stop).await {
            Ok(done) => secured = Some(done),
            Err(result) => return (result, Some(channel)),
        }
    }
    // Frames the gateway sends while the runner starts are not read yet: they wait in the
    // socket and are applied, in order, once there is a PTY or a connection to apply them to.
    let (mut runner, mut events) = match start(ctx, spec).await {
        Ok(started) => started,
        Err(result) => return (result, Some(channel)),
    };
    let cipher = match secured {
        Some(done) => {
            if let Some((cols, rows)) = done.size {
                runner.resize(cols, rows);
            }
            Some(done.cipher)
        }
        None => {
            ready(&mut channel).await;
            None
        }
    };
    let protection = Protection {
        cipher,
        key_exchange_type: ctx.key_exchange_type,
    };
    let result = relay::run(
        &mut channel,
        &mut runner,
        &mut events,
        pacer,
        protection,
        stop,
    )
    .await;
    runner.terminate().await;
    (result, Some(channel))
}

/// Ready: an empty Output tells the gateway it may stop holding the client's input. The stock
/// agent gives no such signal (so gateways hold input until its first output, or 1.5 s); for a
/// port session, whose target may say nothing first, and for a key exchange, whose ClientHello
/// is held with the input, this saves that wait.
async fn ready(channel: &mut DataChannel) {
    if let Err(e) = channel.send_output(Vec::new()).await {
        warn!(error = %e, "signalling readiness failed");
    }
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
