//! The agent's side of the key exchange (docs/encryption.md §1) as a sans-IO state machine:
//! it is fed key-exchange payloads (and, in Mode `Kms`, the gateway's answer about the data
//! key) and says what to send and when the keys are agreed. WaitClientHello → (AgentHello sent)
//! → WaitClientKeyExchange → (data key, Mode `Kms`) → KeyExchangeSuccess; any error settles it
//! with a KeyExchangeError payload to send, after which the session ends.
//!
//! The order of the checks is the newer stock agent's (agent/session/shell/shell.go): the action
//! byte, then the state, then the message; in a ClientHello the JSON, the IV, then the suite.

use axt_proto::{
    e2e::{
        exchange::{
            action_byte, agent_hello, choose_suite, Action, AgentKeyExchange, ErrorReason, Message,
        },
        random_bytes, Mode, Suite,
    },
    identity::IdentityError,
};

use super::records::Cipher;

/// Signs a transcript with the agent's identity key.
pub type SignFn = Box<dyn Fn(&[u8]) -> Result<Vec<u8>, IdentityError> + Send + Sync>;

/// Who the agent is, for the authenticated suite; without one only the compatibility suites
/// are spoken.
pub struct Identity {
    /// The instance the session runs on, as the transcript names it.
    pub instance_id: String,
    /// Signs the transcript.
    pub sign: SignFn,
}

/// What the caller must do after one input.
pub enum Step {
    /// Send this payload, then wait for the next key-exchange frame.
    Reply(Vec<u8>),
    /// Have this KMS `CiphertextBlob` decrypted, then call [`Exchange::on_data_key`].
    DecryptDataKey(String),
    /// Send this payload: the keys are agreed and `cipher` protects the session's data.
    Success {
        /// The AgentKeyExchange payload.
        reply: Vec<u8>,
        /// The agreed protection of Input and Output.
        cipher: Cipher,
    },
    /// Send this KeyExchangeError payload; the session ends with `KeyExchangeFailed`.
    Failure {
        /// The KeyExchangeError payload.
        reply: Vec<u8>,
        /// Its reason.
        reason: ErrorReason,
    },
}

/// One session's exchange.
pub struct Exchange {
    mode: Mode,
    channel_id: String,
    identity: Option<Identity>,
    state: State,
}

enum State {
    WaitClientHello,
    /// AgentHello sent.
    WaitClientKeyExchange(Agreed),
    /// ClientKeyExchange taken; the data key is being decrypted.
    WaitDataKey(Pending),
    /// Succeeded or failed: any further key-exchange message is out of place.
    Settled,
}

/// What the hellos settled.
#[derive(Clone, Copy)]
struct Agreed {
    suite: Suite,
    iv: [u8; 16],
    /// All zeros in a compatibility suite, which has no randoms.
    client_random: [u8; 32],
    agent_random: [u8; 32],
}

/// What finishes the exchange once the data key is in.
enum Pending {
    Compat {
        iv: [u8; 16],
    },
    Authenticated {
        agreed: Agreed,
        client_pub: [u8; 32],
    },
}

/// What handling one input decided.
enum Turn {
    Wait(State, Vec<u8>),
    Decrypt(Pending, String),
    Done(AgentKeyExchange, Cipher),
}

type Failed = (ErrorReason, String);

impl Exchange {
    /// The exchange of a session in `mode` on `channel_id`.
    pub fn new(mode: Mode, channel_id: &str, identity: Option<Identity>) -> Self {
        Self {
            mode,
            channel_id: channel_id.to_owned(),
            identity,
            state: State::WaitClientHello,
        }
    }

    /// The suite the hellos settled, once they have.
    pub fn suite(&self) -> Option<Suite> {
        match &self.state {
            State::WaitClientKeyExchange(agreed) => Some(agreed.suite),
            State::WaitDataKey(Pending::Compat { .. }) => Some(Suite::CompatKms),
            State::WaitDataKey(Pending::Authenticated { .. }) => Some(Suite::Authenticated),
            State::WaitClientHello | State::Settled => None,
        }
    }

    /// Takes one key-exchange payload from the client.
    pub fn on_payload(&mut self, payload: &[u8]) -> Step {
        let state = std::mem::replace(&mut self.state, State::Settled);
        let turn = action_byte(payload)
            .map_err(|r| {
                (
                    r,
                    "a key-exchange payload without an action type".to_owned(),
                )
            })
            .and_then(|byte| match state {
                State::WaitClientHello => {
                    expect(byte, Action::ClientHello)?;
                    self.client_hello(payload)
                }
                State::WaitClientKeyExchange(agreed) => {
                    expect(byte, Action::ClientKeyExchange)?;
                    self.client_key_exchange(agreed, payload)
                }
                State::WaitDataKey(_) | State::Settled => Err((
                    ErrorReason::InvalidKeyExchangeStateError,
                    "a key-exchange message in a state that takes none".to_owned(),
                )),
            });
        self.settle(turn)
    }

    /// Takes the gateway's answer about the data key: its plaintext (base64), or why not.
    pub fn on_data_key(&mut self, answer: Result<String, String>) -> Step {
        let turn = match std::mem::replace(&mut self.state, State::Settled) {
            State::WaitDataKey(pending) => self.data_key(pending, answer),
            _ => Err((
                ErrorReason::InvalidKeyExchangeStateError,
                "a data key nobody asked for".to_owned(),
            )),
        };
        self.settle(turn)
    }

    fn settle(&mut self, turn: Result<Turn, Failed>) -> Step {
        match turn {
            Ok(Turn::Wait(state, reply)) => {
                self.state = state;
                Step::Reply(reply)
            }
            Ok(Turn::Decrypt(pending, blob)) => {
                self.state = State::WaitDataKey(pending);
                Step::DecryptDataKey(blob)
            }
            Ok(Turn::Done(answer, cipher)) => Step::Success {
                reply: Message::AgentKeyExchange(answer).encode(),
                cipher,
            },
            Err((reason, message)) => Step::Failure {
                reply: super::error_payload(reason.clone(), message),
                reason,
            },
        }
    }

    fn client_hello(&self, payload: &[u8]) -> Result<Turn, Failed> {
        let hello = match Message::decode(payload) {
            Ok(Message::ClientHello(hello)) => hello,
            Ok(_) | Err(ErrorReason::ClientHelloParseError) => return Err(parse_error(true)),
            Err(reason) => {
                return Err((
                    reason,
                    "the ClientHello's encryptIV is not base64 of 16 bytes".to_owned(),
                ))
            }
        };
        let suite_text = shown(&hello.cipher_suite);
        let (suite, mode) = choose_suite(&hello, self.identity.is_some())
            .map_err(|r| (r, format!("unknown cipher suite {suite_text}")))?;
        // The stock agent accepts either suite whatever the mode; a session in Mode Kms that
        // ended up keyed by ECDH alone (or the reverse) is not what was asked for.
        if mode != self.mode {
            return Err((
                ErrorReason::UnsupportedCipherSuiteError,
                format!(
                    "cipher suite {suite_text} does not fit the session's mode {:?}",
                    self.mode
                ),
            ));
        }
        let agent_random = random_bytes();
        let agreed = Agreed {
            suite,
            iv: hello.encrypt_iv,
            client_random: hello.client_random.unwrap_or_default(),
            agent_random,
        };
        let reply = Message::AgentHello(agent_hello(suite, agent_random)).encode();
        Ok(Turn::Wait(State::WaitClientKeyExchange(agreed), reply))
    }
}

/// `WrongActionTypeError` unless `byte` is the action the state waits for.
fn expect(byte: u8, action: Action) -> Result<(), Failed> {
    if byte == action as u8 {
        return Ok(());
    }
    Err((
        ErrorReason::WrongActionTypeError,
        format!(
            "waiting for {action:?}({}) while received actionType={byte}",
            action as u8
        ),
    ))
}

fn parse_error(hello: bool) -> Failed {
    if hello {
        (
            ErrorReason::ClientHelloParseError,
            "the ClientHello does not parse".to_owned(),
        )
    } else {
        (
            ErrorReason::ClientKeyExchangeParseError,
            "the ClientKeyExchange does not parse".to_owned(),
        )
    }
}

/// Client-chosen text as an error message may quote it: debug-escaped and cut short.
fn shown(text: &str) -> String {
    let cut: String = text.chars().take(64).collect();
    format!("{cut:?}")
}

mod agree;
#[cfg(test)]
mod tests;
