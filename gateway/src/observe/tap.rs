//! A relay's one observer hook: each step and frame of its connection goes to the session's
//! event bus and, for a recorded shell, to its recorder. Everything here returns at once.

use std::sync::Arc;

use axt_proto::{
    client_frame::{parse_resize, ClientFrame, ClientMessageType},
    kick::Kick,
    status::{parse_rate, ClosedReason},
};

use super::{
    bus::Bus,
    events::{Dir, Event, Frame, Kind},
    recorder::Recorder,
    Observe,
};

/// One connection's hook; `Tap::none()` observes nothing.
pub struct Tap {
    attached: Option<Attached>,
    recorder: Option<Recorder>,
    /// The message type of key-exchange frames: their sight means end-to-end encryption.
    key_exchange_type: u32,
}

/// The connection's place on its session's bus; leaving it starts the bus's linger.
struct Attached {
    observe: Arc<Observe>,
    bus: Arc<Bus>,
    session_id: String,
    channel_id: String,
}

impl Drop for Attached {
    fn drop(&mut self) {
        self.observe.detach(&self.session_id);
    }
}

impl Tap {
    /// A hook that observes nothing.
    pub fn none() -> Self {
        Self {
            attached: None,
            recorder: None,
            key_exchange_type: crate::relay::DEFAULT_KEY_EXCHANGE_TYPE,
        }
    }

    pub(super) fn new(
        observe: Arc<Observe>,
        bus: Arc<Bus>,
        session_id: &str,
        channel_id: &str,
        recorder: Option<Recorder>,
    ) -> Self {
        Self {
            attached: Some(Attached {
                observe,
                bus,
                session_id: session_id.to_owned(),
                channel_id: channel_id.to_owned(),
            }),
            recorder,
            ..Self::none()
        }
    }

    /// The key-exchange message type of this gateway (`--key-exchange-message-type`).
    pub fn set_key_exchange_type(&mut self, kind: u32) {
        self.key_exchange_type = kind;
    }

    /// Whether this connection is being recorded.
    pub fn recording(&self) -> bool {
        self.recorder.is_some()
    }

    fn publish(&self, kind: Kind, build: impl FnOnce(Event) -> Event) {
        if let Some(at) = &self.attached {
            at.bus
                .publish(build(Event::new(kind, Some(&at.channel_id))));
        }
    }

    /// The kick went to the agent's kick channel.
    pub fn kick(&self, kick: &Kick) {
        self.publish(Kind::Kick, |e| e.with_detail(kick.to_string()));
    }

    /// The agent's data channel opened (`again`: re-opened).
    pub fn data_channel(&self, again: bool) {
        let detail = if again { "reopened" } else { "opened" };
        self.publish(Kind::DataChannel, |e| e.with_detail(detail));
    }

    /// A frame from the client; `fresh` unless it repeats an input already applied.
    pub fn from_client(&self, frame: &ClientFrame, fresh: bool) {
        let (seq, ack) = match frame.is_v102() {
            true => (
                u64::from(frame.input_seq()),
                Some(u64::from(frame.output_seq())),
            ),
            false => (frame.seq, None),
        };
        self.publish(Kind::Frame, |e| {
            e.with_frame(Frame {
                dir: Dir::ClientToAgent,
                kind: self.type_name(frame.kind),
                seq,
                ack,
                payload: frame.payload.clone(),
            })
        });
        let Some(recorder) = &self.recorder else {
            return;
        };
        match frame.kind {
            kind if kind.code() == self.key_exchange_type => recorder.encrypted(),
            ClientMessageType::Input if fresh => recorder.input(&frame.payload),
            ClientMessageType::Resize if fresh => {
                if let Some(size) = parse_resize(&frame.payload) {
                    recorder.resize(size);
                }
            }
            _ => {}
        }
    }

    /// A frame for the client, numbered the 1.02 way (output number high, the last input
    /// applied low); `fresh` unless it replays an output.
    pub fn to_client(&self, kind: ClientMessageType, seq: u64, payload: &[u8], fresh: bool) {
        let frame = || Frame {
            dir: Dir::AgentToClient,
            kind: self.type_name(kind),
            seq: seq >> 32,
            ack: Some(seq & 0xffff_ffff),
            payload: payload.to_vec(),
        };
        match kind {
            ClientMessageType::Status => self.publish(Kind::Status, |e| {
                e.with_frame(frame()).with_detail(status_detail(payload))
            }),
            _ => self.publish(Kind::Frame, |e| e.with_frame(frame())),
        }
        let Some(recorder) = &self.recorder else {
            return;
        };
        match kind {
            kind if kind.code() == self.key_exchange_type => recorder.encrypted(),
            ClientMessageType::Output if fresh => recorder.output(payload),
            _ => {}
        }
    }

    /// The connection ended: said on the bus, and the recording finished.
    pub fn closed(&mut self, why: ClosedReason) {
        self.publish(Kind::Closed, |e| e.with_detail(why.as_str()));
        // Dropping the recorder makes it append the rest with `last: true`.
        self.recorder = None;
    }

    fn type_name(&self, kind: ClientMessageType) -> String {
        match kind {
            kind if kind.code() == self.key_exchange_type => "KeyExchange".to_owned(),
            ClientMessageType::Other(code) => format!("Type{code}"),
            kind => format!("{kind:?}"),
        }
    }
}

/// What a Status frame says: its reason, or its state (and a rate's value).
fn status_detail(payload: &[u8]) -> String {
    if let Some(bits) = parse_rate(payload) {
        return format!("Stream {bits} bit/s");
    }
    let Some((&state, reason)) = payload.split_first() else {
        return String::new();
    };
    let reason = String::from_utf8_lossy(reason);
    if !reason.is_empty() {
        return reason.into_owned();
    }
    let name = match state {
        0 => "Initial",
        1 => "Opening",
        2 => "Aborted",
        3 => "Opened",
        4 => "Closing",
        5 => "Closed",
        6 => "Exited",
        8 => "Frozen",
        _ => return format!("State {state}"),
    };
    name.to_owned()
}
