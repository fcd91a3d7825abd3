//! `axt session`: StartTerminalSession, then the interactive loop over the session WebSocket,
//! behaving on the wire as ali-instance-cli does (schema 1.01, one shared sequence counter,
//! Resize only once the first Output arrived). With `--encrypt`, the client's end of an
//! end-to-end encrypted session ([`crate::e2e`]) runs first, and every frame is sealed and
//! opened on the way.

mod ending;
mod pump;
mod started;

use std::process::ExitCode;

use anyhow::Context as _;
use axt_proto::openapi::Params;
use tokio::{
    io::AsyncWriteExt as _,
    sync::{mpsc, watch},
};

use crate::{
    api::ApiClient,
    args::SessionArgs,
    channel::{self, Event, FrameReader, FrameWriter, Outgoing, Status, MAX_INPUT},
    e2e::{self, Opened, Opening, Plan, Stop},
    profile::Settings,
    terminal::{self, Interrupts, RawMode, Resizes},
    tls, ws,
};
pub use ending::{closed_message, Ending};
use pump::{next_resize, pump};
pub use started::{EndError, Started, END_TIMEOUT};

/// Input chunks waiting for the WebSocket. Small: when the gateway reads slowly, the stdin
/// thread blocks here and the rest of a paste waits in the kernel.
const INPUT_QUEUE: usize = 8;

/// `axt session`: resolves the URL, connects, runs the session and reports how it ended.
///
/// A session started here is ended here (EndTerminalSession), however it went: after the shell
/// exits, after a signal, and when its WebSocket never opened. A `--wss-url` session is left
/// alone (see [`started`]).
pub async fn run(settings: &Settings, args: &SessionArgs) -> anyhow::Result<ExitCode> {
    // Before any session exists: a bad CA file is no reason to start one.
    let tls = tls::client_config(settings.ca_cert.as_deref())?;
    let (url, agent_key, started) = match (&args.wss_url, &args.instance) {
        (Some(url), _) => (url.clone(), None, None),
        (None, Some(instance)) => {
            let (started, agent_key) = start_session(settings, instance, args).await?;
            (started.url.clone(), agent_key, Some(started))
        }
        (None, None) => anyhow::bail!("give --instance or --wss-url"),
    };
    let outcome = connect_and_interact(settings, args, &url, agent_key, tls).await;
    // The terminal is restored by now (the guard lived inside `interact`). How the session
    // ended is said before it is ended, so a slow EndTerminalSession leaves no silent wait.
    if let Ok(ending) = &outcome {
        eprint!("\r\n{}\r\n", ending.message());
    }
    if let Some(started) = &started {
        started.end_quietly().await;
    }
    Ok(outcome?.exit_code())
}

/// Everything between having a URL and the session's end: the exchange's plan, the WebSocket,
/// the interactive loop. `agent_key`: the agent's identity key the control plane vouched for.
async fn connect_and_interact(
    settings: &Settings,
    args: &SessionArgs,
    url: &str,
    agent_key: Option<String>,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> anyhow::Result<Ending> {
    let plan = plan(settings, args, agent_key).await?;
    // A signal while the handshake hangs must still end the session on the way out.
    let mut interrupts = Interrupts::new()?;
    let ws = tokio::select! {
        ws = ws::connect(url, tls) => ws?,
        (name, code) = interrupts.recv() => return Ok(Ending::Signal(name, code)),
    };
    drop(interrupts);
    let (writer, reader) = channel::split(ws);
    let kind = args.encryption.key_exchange_message_type;
    let (writer, reader) = match plan {
        Some(_) => (
            writer.with_key_exchange_type(kind),
            reader.with_key_exchange_type(kind),
        ),
        None => (writer, reader),
    };
    Ok(interact(writer, reader, terminal::stdin_is_tty(), plan).await)
}

/// Calls StartTerminalSession for one instance; returns the session and, for an encrypted
/// session, the agent's identity key the control plane vouches for.
async fn start_session(
    settings: &Settings,
    instance: &str,
    args: &SessionArgs,
) -> anyhow::Result<(Started, Option<String>)> {
    let mut params = Params::new();
    params.insert("InstanceId.1".to_owned(), instance.to_owned());
    if let Some(user) = &args.username {
        params.insert("Username".to_owned(), user.clone());
    }
    if let Some(command) = &args.command_line {
        params.insert("CommandLine".to_owned(), command.clone());
    }
    if let Some(options) = e2e::encryption_options(&args.encryption) {
        params.insert("EncryptionOptions".to_owned(), options);
    }
    let (started, answer) = Started::start(settings, params).await?;
    let agent_key = answer["AxtlabAgentPublicKey"]
        .as_str()
        .filter(|pem| !pem.trim().is_empty())
        .map(str::to_owned);
    Ok((started, agent_key))
}

/// The exchange's plan when `--encrypt` is given: with a KMS data key in Mode `Kms`.
async fn plan(
    settings: &Settings,
    args: &SessionArgs,
    agent_key: Option<String>,
) -> anyhow::Result<Option<Plan>> {
    let encryption = &args.encryption;
    if encryption.encrypt.is_none() {
        return Ok(None);
    }
    if agent_key.is_none() && !encryption.allow_compat_suite {
        // Not an error: a stock control plane never vouches for a key. But the user should
        // know that only a passive gateway is kept out.
        eprintln!(
            "axt: no identity key of the agent from the control plane: only the unauthenticated \
             suites are possible, which a gateway that runs the session could read"
        );
    }
    let data_key = match &encryption.kms_key_id {
        Some(key_id) if encryption.encrypt == Some(crate::args::EncryptMode::Kms) => {
            let client = ApiClient::new(settings)?;
            Some(
                e2e::generate_data_key(&client, key_id)
                    .await
                    .context("asking KMS for the session's data key")?,
            )
        }
        _ => None,
    };
    let instance = args.instance.as_deref().unwrap_or_default();
    Ok(Plan::new(encryption, instance, agent_key, data_key))
}

/// The session loop: stdin → Input, Output → stdout, sizes → Resize, until the session ends.
/// With `tty`, the terminal is raw for exactly as long as this runs. With a `plan`, the key
/// exchange runs first — raw already, so that keys typed meanwhile wait unechoed.
pub async fn interact(
    mut writer: FrameWriter,
    mut reader: FrameReader,
    tty: bool,
    plan: Option<Plan>,
) -> Ending {
    let _raw = match tty.then(RawMode::enable).transpose() {
        Ok(guard) => guard,
        Err(err) => return Ending::Local(err),
    };
    let (mut resizes, mut interrupts) =
        match (tty.then(Resizes::new).transpose(), Interrupts::new()) {
            (Ok(resizes), Ok(interrupts)) => (resizes, interrupts),
            (Err(err), _) | (_, Err(err)) => return Ending::Local(err),
        };
    let (sealing, mut opening) = match plan {
        None => (None, None),
        Some(plan) => {
            let exchange = e2e::exchange(&mut writer, &mut reader, &plan);
            let agreed = tokio::select! {
                agreed = tokio::time::timeout(e2e::EXCHANGE_TIMEOUT, exchange) => agreed,
                (name, code) = interrupts.recv() => return Ending::Signal(name, code),
            };
            match agreed {
                Ok(Ok((sealing, opening))) => {
                    // Said once, so the user knows what protects the session (raw mode: \r\n).
                    eprint!("axt: encrypted end to end with {}\r\n", sealing.describe());
                    (Some(sealing), Some(opening))
                }
                Ok(Err(stop)) => return stopped(stop),
                Err(_) => {
                    let secs = e2e::EXCHANGE_TIMEOUT.as_secs();
                    let why = format!("the key exchange did not finish within {secs} s");
                    return Ending::Encryption(why);
                }
            }
        }
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
    // An encrypted session is connected once its keys are agreed: the size goes now, sealed
    // where the suite seals it, and never before the exchange.
    let mut connected = sealing.is_some();
    if connected && tty {
        size_tx.send_replace(terminal::size());
    }
    let mut pump = tokio::spawn(pump(writer, input_rx, size_rx, sealing));
    let mut pumping = true;
    let mut stdout = tokio::io::stdout();

    loop {
        tokio::select! {
            event = reader.next() => match event {
                Ok(Event::Output(bytes)) => {
                    let bytes = match opened(opening.as_mut(), bytes) {
                        Ok(bytes) => bytes,
                        Err(why) => return Ending::Encryption(why),
                    };
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
                Ok(Event::KeyExchange { payload, .. }) => {
                    if let Some(why) = late_refusal(&payload) {
                        return Ending::Encryption(why);
                    }
                }
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

/// What an Output shows on the terminal: itself in a plain session; opened in an encrypted
/// one, where an empty payload is a keep-alive and a duplicate shows nothing. `Err` ends the
/// session with its line.
fn opened(opening: Option<&mut Opening>, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    match opening {
        Some(opening) if !bytes.is_empty() => match opening.open(&bytes)? {
            Opened::Data(bytes) => Ok(bytes),
            Opened::Duplicate => Ok(Vec::new()),
            Opened::Closing(reason) => {
                tracing::info!(%reason, "the agent is ending the session");
                Ok(Vec::new())
            }
        },
        _ => Ok(bytes),
    }
}

/// A KeyExchangeError after the exchange (the agent refused something later) ends the
/// session; any other key-exchange message then is out of place and ignored.
fn late_refusal(payload: &[u8]) -> Option<String> {
    match axt_proto::e2e::exchange::Message::decode(payload) {
        Ok(axt_proto::e2e::exchange::Message::KeyExchangeError(e)) => Some(format!(
            "the agent refused the key exchange: {}: {}",
            e.code, e.message
        )),
        _ => {
            tracing::debug!("ignoring a key-exchange message after the exchange");
            None
        }
    }
}

/// The ending of an exchange that produced no keys.
fn stopped(stop: Stop) -> Ending {
    match stop {
        Stop::Ended(Event::Status(Status::Closed(why))) => Ending::Closed(why),
        Stop::Ended(Event::Status(Status::Aborted(text))) => Ending::Aborted(text),
        Stop::Ended(Event::Hangup(said)) => Ending::Hangup(said),
        Stop::Ended(other) => Ending::Encryption(format!("the key exchange ended: {other:?}")),
        Stop::Channel(err) => Ending::Failed(err),
        Stop::Failed(why) => Ending::Encryption(why),
    }
}
