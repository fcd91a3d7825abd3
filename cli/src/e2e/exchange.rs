//! The client's side of the key exchange (docs/encryption.md §1–§3), over the session's own
//! frames, before any input: ClientHello → AgentHello → ClientKeyExchange → AgentKeyExchange,
//! or a KeyExchangeError from the agent at any step.
//!
//! What the client refuses is decided here: a compatibility answer when the control plane
//! vouched for the agent's identity key (unless allowed), and an authenticated answer whose
//! signature does not verify with that key — the two ways an active gateway would get in.

use axt_proto::e2e::{
    self,
    authenticated::{verify_transcript, Handshake, X25519KeyPair},
    compat::{CbcCipher, EcdhKeyPair},
    exchange::{self, Action, AgentHello, AgentKeyExchange, ClientKeyExchange, Message},
    record::{Direction, Opener, Sealer},
    Mode, Suite,
};

use super::{Opening, Plan, Sealing, NOT_SIGNED};
use crate::channel::{ChannelError, Event, FrameReader, FrameWriter, Outgoing, Status};

/// Why the exchange did not produce keys.
#[derive(Debug)]
pub enum Stop {
    /// The session ended meanwhile (a Status 5 or 2, a hang-up): shown as any end is.
    Ended(Event),
    /// The channel broke.
    Channel(ChannelError),
    /// The exchange failed or was refused: the line to show.
    Failed(String),
}

impl From<ChannelError> for Stop {
    fn from(err: ChannelError) -> Self {
        Self::Channel(err)
    }
}

fn failed(why: impl Into<String>) -> Stop {
    Stop::Failed(why.into())
}

/// Runs the exchange; on success the two halves of the session's keys.
pub async fn run(
    writer: &mut FrameWriter,
    reader: &mut FrameReader,
    plan: &Plan,
) -> Result<(Sealing, Opening), Stop> {
    let iv: [u8; 16] = e2e::random_bytes();
    // The authenticated suite is offered only when there is a key to check its signature with.
    let client_random = plan.agent_key.as_ref().map(|_| e2e::random_bytes::<32>());
    let hello = exchange::client_hello(plan.mode, iv, client_random);
    send(writer, hello.clone().into()).await?;
    let answer: AgentHello = match expect(reader, Action::AgentHello).await?.1 {
        Message::AgentHello(answer) => answer,
        _ => unreachable!("expect returns the action asked for"),
    };
    let suite = answer.accepted_suite(&hello).map_err(|reason| {
        failed(format!(
            "the agent chose a suite that was not offered ({reason})"
        ))
    })?;
    if suite.is_compat() && plan.agent_key.is_some() && !plan.allow_compat {
        return Err(failed(format!(
            "the agent answered with the unauthenticated suite {}, though the control plane \
             vouched for its identity key: something between may have removed the offer of \
             the authenticated suite (--allow-compat-suite accepts it)",
            suite.name()
        )));
    }
    tracing::debug!(suite = suite.name(), "key exchange: suite agreed");
    let data_key = match (plan.mode, &plan.data_key) {
        (Mode::Kms, None) => return Err(failed("Mode Kms without a data key")),
        (Mode::Kms, Some(key)) => Some(key),
        (Mode::Auto, _) => None,
    };
    match suite {
        Suite::CompatEcdhe => {
            let own = EcdhKeyPair::generate();
            send(writer, ClientKeyExchange::ecdhe(own.public_sec1()).into()).await?;
            let theirs = agent_key_exchange(reader).await?.1;
            let key = own
                .shared(theirs.agent_pub.as_deref().unwrap_or_default())
                .map_err(|err| failed(format!("the agent's key share is unusable: {err}")))?;
            Ok(compat(CbcCipher::new(key, iv)))
        }
        Suite::CompatKms => {
            let key = data_key.ok_or_else(|| failed("a KMS suite in Mode Auto"))?;
            let blob = key.ciphertext_blob.clone();
            send(writer, ClientKeyExchange::kms(blob).into()).await?;
            agent_key_exchange(reader).await?;
            Ok(compat(CbcCipher::new(key.plaintext, iv)))
        }
        Suite::Authenticated => {
            let (Some(client_random), Some(agent_random), Some(pem)) = (
                client_random,
                answer.agent_random,
                plan.agent_key.as_deref(),
            ) else {
                return Err(failed("the authenticated suite without its randoms"));
            };
            let own = X25519KeyPair::generate();
            let blob = data_key.map(|key| key.ciphertext_blob.clone());
            send(
                writer,
                ClientKeyExchange::authenticated(own.public(), blob).into(),
            )
            .await?;
            let (channel_id, theirs) = agent_key_exchange(reader).await?;
            let (Some(agent_pub), Some(signature)) = (
                theirs.agent_pub.and_then(|p| <[u8; 32]>::try_from(p).ok()),
                theirs.signature,
            ) else {
                return Err(failed(format!("{NOT_SIGNED} (no signed key share)")));
            };
            let handshake = Handshake {
                channel_id: &channel_id,
                instance_id: &plan.instance_id,
                client_random,
                agent_random,
                client_pub: own.public(),
                agent_pub,
                kms_plaintext: data_key.map(|key| &key.plaintext[..]),
            };
            verify_transcript(pem, &handshake.transcript(), &signature)
                .map_err(|_| failed(NOT_SIGNED))?;
            let shared = own
                .shared(&agent_pub)
                .map_err(|err| failed(format!("the agent's key share is unusable: {err}")))?;
            let keys = handshake.keys(&shared);
            Ok((
                Sealing::Authenticated(Sealer::new(&keys, Direction::ClientToAgent, &channel_id)),
                Opening::Authenticated(Opener::new(&keys, Direction::AgentToClient, &channel_id)),
            ))
        }
    }
}

fn compat(cipher: CbcCipher) -> (Sealing, Opening) {
    (Sealing::Compat(cipher.clone()), Opening::Compat(cipher))
}

async fn send(writer: &mut FrameWriter, message: Message) -> Result<(), Stop> {
    Ok(writer.send(Outgoing::KeyExchange(message.encode())).await?)
}

/// The AgentKeyExchange, and the channel id of its frame.
async fn agent_key_exchange(reader: &mut FrameReader) -> Result<(String, AgentKeyExchange), Stop> {
    match expect(reader, Action::AgentKeyExchange).await? {
        (channel_id, Message::AgentKeyExchange(m)) => Ok((channel_id, m)),
        _ => unreachable!("expect returns the action asked for"),
    }
}

/// The next key-exchange message, which must be `want`.
async fn expect(reader: &mut FrameReader, want: Action) -> Result<(String, Message), Stop> {
    let (channel_id, message) = next_message(reader).await?;
    match message.action() {
        got if got == want => Ok((channel_id, message)),
        got => Err(failed(format!(
            "the agent sent {got:?} where {want:?} was due in the key exchange"
        ))),
    }
}

/// The next key-exchange message from the agent. Status frames that do not end the session
/// and empty Outputs (the gateway's early one, keep-alives) pass by; anything the agent prints
/// before the exchange is over would be in the clear, so it ends the session.
async fn next_message(reader: &mut FrameReader) -> Result<(String, Message), Stop> {
    loop {
        match reader.next().await? {
            Event::KeyExchange {
                channel_id,
                payload,
            } => {
                return match Message::decode(&payload) {
                    Ok(Message::KeyExchangeError(e)) => Err(failed(format!(
                        "the agent refused the key exchange: {}: {}",
                        e.code, e.message
                    ))),
                    Ok(message) => Ok((channel_id, message)),
                    Err(reason) => Err(failed(format!(
                        "the agent sent a key-exchange message that does not parse ({reason})"
                    ))),
                }
            }
            Event::Output(bytes) if bytes.is_empty() => {}
            Event::Output(_) => {
                return Err(failed(
                    "the agent sent output before the key exchange finished: it does not \
                     encrypt this session",
                ))
            }
            event @ (Event::Status(Status::Closed(_) | Status::Aborted(_)) | Event::Hangup(_)) => {
                return Err(Stop::Ended(event))
            }
            Event::Status(_) => {}
        }
    }
}
