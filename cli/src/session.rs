//! `axt session`: StartTerminalSession, then the interactive loop over the session WebSocket,
//! behaving on the wire as ali-instance-cli does (schema 1.01, one shared sequence counter,
//! Resize only once the first Output arrived).

use std::process::ExitCode;

use anyhow::Context as _;
use axt_proto::{openapi::Params, status::reason};
use tokio::{
    io::AsyncWriteExt as _,
    sync::{mpsc, watch},
};

use crate::{
    api::ApiClient,
    args::SessionArgs,
    channel::{self, ChannelError, Event, FrameReader, FrameWriter, Outgoing, Status, MAX_INPUT},
    profile::Settings,
    terminal::{self, Interrupts, RawMode, Resizes},
    tls, ws,
};

/// Input chunks waiting for the WebSocket. Small: when the gateway reads slowly, the stdin
/// thread blocks here and the rest of a paste waits in the kernel.
const INPUT_QUEUE: usize = 8;

/// How a session ended, and so what the user is told and the exit code.
#[derive(Debug)]
pub enum Ending {
    /// Status 5 with its reason.
    Closed(String),
    /// Status 2 with its text.
    Aborted(String),
    /// The WebSocket closed without a Status 5 (`code reason` of the close frame, if any).
    Hangup(Option<String>),
    /// The channel broke: a WebSocket error or a malformed frame.
    Failed(ChannelError),
    /// The local terminal or stdout failed.
    Local(std::io::Error),
    /// A signal ended `axt`: its name and exit code.
    Signal(&'static str, u8),
}

impl Ending {
    /// The line shown on stderr.
    pub fn message(&self) -> String {
        match self {
            Self::Closed(reason) => closed_message(reason),
            Self::Aborted(text) if text.is_empty() => "session aborted.".to_owned(),
            Self::Aborted(text) => text.clone(),
            Self::Hangup(Some(said)) => format!("the gateway closed the connection ({said})"),
            Self::Hangup(None) => "the gateway closed the connection".to_owned(),
            Self::Failed(err) => err.to_string(),
            Self::Local(err) => format!("local terminal: {err}"),
            Self::Signal(name, _) => format!("{name}: session left."),
        }
    }

    /// 0 only for a shell that exited normally.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Closed(reason) if reason == reason::EXIT => ExitCode::SUCCESS,
            Self::Signal(_, code) => ExitCode::from(*code),
            _ => ExitCode::FAILURE,
        }
    }
}

/// The text ali-instance-cli prints for a Status 5 reason (its one missing period included).
pub fn closed_message(why: &str) -> String {
    let suffix = match why {
        reason::EXIT => ".",
        reason::AGENT_TIMEOUT => " for agent timeout.",
        reason::INIT_CHANNEL_FAILED => " for init channel failed",
        reason::OPEN_CHANNEL_FAILED => " for open channel failed.",
        reason::SESSION_ID_DUPLICATED => " for sessionId is duplicated.",
        reason::PROCESS_DATA_ERROR => " for error while process data.",
        reason::OPEN_PTY_FAILED => " for open pty failed.",
        reason::FLOW_EXCEED_LIMIT => " for the flow exceeds limit.",
        "" => return "session closed.".to_owned(),
        _ => ".",
    };
    format!("{why}: session closed{suffix}")
}

/// `axt session`: resolves the URL, connects, runs the session and reports how it ended.
pub async fn run(settings: &Settings, args: &SessionArgs) -> anyhow::Result<ExitCode> {
    let url = match (&args.wss_url, &args.instance) {
        (Some(url), _) => url.clone(),
        (None, Some(instance)) => start_session(settings, instance, args).await?,
        (None, None) => anyhow::bail!("give --instance or --wss-url"),
    };
    let tls = tls::client_config(settings.ca_cert.as_deref())?;
    let ws = ws::connect(&url, tls).await?;
    let (writer, reader) = channel::split(ws);
    let ending = interact(writer, reader, terminal::stdin_is_tty()).await;
    // The terminal is restored by now (the guard lived inside `interact`).
    eprint!("\r\n{}\r\n", ending.message());
    Ok(ending.exit_code())
}

/// Calls StartTerminalSession for one instance and returns its WebSocketUrl.
async fn start_session(
    settings: &Settings,
    instance: &str,
    args: &SessionArgs,
) -> anyhow::Result<String> {
    let client = ApiClient::new(settings)?;
    let mut params = Params::new();
    params.insert("InstanceId.1".to_owned(), instance.to_owned());
    if let Some(user) = &args.username {
        params.insert("Username".to_owned(), user.clone());
    }
    if let Some(command) = &args.command_line {
        params.insert("CommandLine".to_owned(), command.clone());
    }
    let answer = client.call("StartTerminalSession", params).await?;
    tracing::info!(session = %answer["SessionId"], "session started");
    answer["WebSocketUrl"]
        .as_str()
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .context("StartTerminalSession answered without a WebSocketUrl")
}

/// The session loop: stdin → Input, Output → stdout, sizes → Resize, until the session ends.
/// With `tty`, the terminal is raw for exactly as long as this runs.
pub async fn interact(writer: FrameWriter, mut reader: FrameReader, tty: bool) -> Ending {
    let _raw = match tty.then(RawMode::enable).transpose() {
        Ok(guard) => guard,
        Err(err) => return Ending::Local(err),
    };
    let (mut resizes, mut interrupts) =
        match (tty.then(Resizes::new).transpose(), Interrupts::new()) {
            (Ok(resizes), Ok(interrupts)) => (resizes, interrupts),
            (Err(err), _) | (_, Err(err)) => return Ending::Local(err),
        };
    let (input_tx, input_rx) = mpsc::channel(INPUT_QUEUE);
    // End of stdin (piped input that ran out, or a closed terminal) becomes a Close frame; the
    // output keeps flowing until the gateway ends the session.
    terminal::spawn_stdin_reader(input_tx, MAX_INPUT, |chunk| {
        chunk.map_or(Outgoing::Close, Outgoing::Input)
    });
    // Sizes travel in a watch, not the queue: only the latest matters, and setting it never
    // waits, so a backed-up writer cannot stall the loop that reads the gateway's output.
    let (size_tx, size_rx) = watch::channel(None);
    let mut pump = tokio::spawn(pump(writer, input_rx, size_rx));
    let mut pumping = true;
    let mut connected = false;
    let mut stdout = tokio::io::stdout();

    loop {
        tokio::select! {
            event = reader.next() => match event {
                Ok(Event::Output(bytes)) => {
                    // Writing waits while stdout is slow, and so does reading the WebSocket:
                    // back-pressure reaches the gateway instead of piling up here.
                    let written = async {
                        stdout.write_all(&bytes).await?;
                        stdout.flush().await
                    };
                    if let Err(err) = written.await {
                        return Ending::Local(err);
                    }
                    if !connected && tty {
                        size_tx.send_replace(terminal::size());
                    }
                    connected = true;
                }
                Ok(Event::Status(Status::Closed(why))) => return Ending::Closed(why),
                Ok(Event::Status(Status::Aborted(text))) => return Ending::Aborted(text),
                // The stock client paces only its raw relays by this rate; a shell ignores it.
                Ok(Event::Status(Status::Rate(rate))) => tracing::debug!(?rate, "rate"),
                Ok(Event::Status(Status::Other(state))) => tracing::debug!(?state, "status"),
                Ok(Event::Hangup(said)) => return Ending::Hangup(said),
                Err(err) => return Ending::Failed(err),
            },
            Some(size) = next_resize(&mut resizes), if connected => {
                size_tx.send_if_modified(|current| {
                    let changed = size.is_some() && *current != size;
                    if changed {
                        *current = size;
                    }
                    changed
                });
            }
            result = &mut pump, if pumping => match result {
                Ok(Ok(())) => pumping = false,
                Ok(Err(err)) => return Ending::Failed(err),
                Err(err) => return Ending::Local(std::io::Error::other(err)),
            },
            (name, code) = interrupts.recv() => return Ending::Signal(name, code),
        }
    }
}

/// The next SIGWINCH's size; never resolves without a terminal.
async fn next_resize(resizes: &mut Option<Resizes>) -> Option<Option<(u16, u16)>> {
    match resizes {
        Some(resizes) => Some(resizes.next().await),
        None => std::future::pending().await,
    }
}

/// The only task that writes to the WebSocket, so the shared sequence counter follows the
/// order frames leave in. Ends when both the input queue and the size watch are closed.
async fn pump(
    mut writer: FrameWriter,
    mut input: mpsc::Receiver<Outgoing>,
    mut sizes: watch::Receiver<Option<(u16, u16)>>,
) -> Result<(), ChannelError> {
    let (mut input_open, mut sizes_open) = (true, true);
    while input_open || sizes_open {
        tokio::select! {
            out = input.recv(), if input_open => match out {
                Some(out) => writer.send(out).await?,
                None => input_open = false,
            },
            changed = sizes.changed(), if sizes_open => match changed {
                Ok(()) => {
                    let size = *sizes.borrow_and_update();
                    if let Some((cols, rows)) = size {
                        writer.send(Outgoing::Resize { cols, rows }).await?;
                    }
                }
                Err(_) => sizes_open = false,
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_reasons_read_as_the_stock_client_prints_them() {
        assert_eq!(closed_message("Exit"), "Exit: session closed.");
        assert_eq!(
            closed_message("AgentTimeout"),
            "AgentTimeout: session closed for agent timeout."
        );
        assert_eq!(
            closed_message("InitChannelFailed"),
            "InitChannelFailed: session closed for init channel failed"
        );
        assert_eq!(
            closed_message("SomethingNew"),
            "SomethingNew: session closed."
        );
        assert_eq!(closed_message(""), "session closed.");
    }

    #[test]
    fn only_a_normal_exit_is_a_success() {
        assert_eq!(Ending::Closed("Exit".into()).exit_code(), ExitCode::SUCCESS);
        assert_eq!(
            Ending::Closed("AgentTimeout".into()).exit_code(),
            ExitCode::FAILURE
        );
        assert_eq!(Ending::Aborted("no".into()).exit_code(), ExitCode::FAILURE);
        assert_eq!(Ending::Hangup(None).exit_code(), ExitCode::FAILURE);
        assert_eq!(
            Ending::Signal("SIGTERM", 143).exit_code(),
            ExitCode::from(143)
        );
    }
}
