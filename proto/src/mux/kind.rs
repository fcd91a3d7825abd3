//! The vocabularies of the multiplexed channel (docs/protocol.md §9.3): frame kinds, and the
//! codes of Reset and GoAway. Codes this version does not name are kept as `Other`, so that a
//! newer peer's reason is still a reset or an ending here.

/// A frame's kind: byte 0 of its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// 0: opens or resumes the session on a leg.
    Hello,
    /// 1: opens a stream.
    Open,
    /// 2: the stream is open at the far end.
    OpenAck,
    /// 3: stream bytes.
    Data,
    /// 4: no more Data from the sender on the stream.
    Fin,
    /// 5: the stream is abandoned.
    Reset,
    /// 6: more room for the peer's Data on a stream.
    Credit,
    /// 7: cumulative acknowledgement of sequenced frames.
    Ack,
    /// 8: liveness and round-trip probe.
    Ping,
    /// 9: answer to a Ping.
    Pong,
    /// 10: the session ends.
    GoAway,
}

impl Kind {
    /// Every kind, in wire order.
    pub const ALL: [Kind; 11] = [
        Self::Hello,
        Self::Open,
        Self::OpenAck,
        Self::Data,
        Self::Fin,
        Self::Reset,
        Self::Credit,
        Self::Ack,
        Self::Ping,
        Self::Pong,
        Self::GoAway,
    ];

    /// The wire value.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The kind of a wire value; `None` for one this version does not define.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// Whether frames of this kind are about the whole channel (stream id 0) rather than one
    /// stream.
    pub fn is_channel(self) -> bool {
        matches!(
            self,
            Self::Hello | Self::Ack | Self::Ping | Self::Pong | Self::GoAway
        )
    }

    /// Whether frames of this kind carry a sequence number, are kept until acknowledged and are
    /// replayed after a reconnect (§9.6). The others are idempotent or only about this socket.
    pub fn is_sequenced(self) -> bool {
        matches!(
            self,
            Self::Open | Self::OpenAck | Self::Data | Self::Fin | Self::Reset
        )
    }
}

/// Why a stream was reset: a u16 after the Reset's sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResetCode {
    /// 0: the sender gave the stream up (its local socket broke, or its user stopped).
    Cancel,
    /// 1: an Open beyond the acceptor's `max_streams`, or one it will not serve now.
    Refused,
    /// 2: the agent could not reach the target: refused, unresolvable, deny-listed, timed out
    /// (the legacy `Open_port_failed`).
    ConnectFailed,
    /// 3: reading the target failed (`Read_port_failed`).
    ReadFailed,
    /// 4: writing to the target failed (`IO_port_failed`).
    WriteFailed,
    /// 5: the peer sent more Data than its credit allowed.
    FlowControl,
    /// 6: the peer sent a frame the stream's state does not allow.
    StreamState,
    /// A value this version does not name.
    Other(u16),
}

impl ResetCode {
    /// The wire value.
    pub fn code(self) -> u16 {
        match self {
            Self::Cancel => 0,
            Self::Refused => 1,
            Self::ConnectFailed => 2,
            Self::ReadFailed => 3,
            Self::WriteFailed => 4,
            Self::FlowControl => 5,
            Self::StreamState => 6,
            Self::Other(n) => n,
        }
    }

    /// The code of a wire value.
    pub fn from_code(code: u16) -> Self {
        match code {
            0 => Self::Cancel,
            1 => Self::Refused,
            2 => Self::ConnectFailed,
            3 => Self::ReadFailed,
            4 => Self::WriteFailed,
            5 => Self::FlowControl,
            6 => Self::StreamState,
            n => Self::Other(n),
        }
    }
}

/// Why the session ended: a u16 at the start of a GoAway body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GoAwayCode {
    /// 0: the session is over in the ordinary way (the client left, the session was ended);
    /// the reason is the §7.2 word the client would have been told.
    Normal,
    /// 1: a malformed frame, a sequence gap, a frame for a stream never opened, a second Hello.
    Protocol,
    /// 2: the Hellos could not resume the session: the other end lost its state, or asked for
    /// frames no longer kept.
    SessionLost,
    /// 3: gateway → client: the agent did not confirm the channel; open legacy WebSockets.
    Unavailable,
    /// 4: the gateway is shutting down.
    Shutdown,
    /// 5: idle, delivery or liveness timeout.
    Timeout,
    /// A value this version does not name.
    Other(u16),
}

impl GoAwayCode {
    /// The wire value.
    pub fn code(self) -> u16 {
        match self {
            Self::Normal => 0,
            Self::Protocol => 1,
            Self::SessionLost => 2,
            Self::Unavailable => 3,
            Self::Shutdown => 4,
            Self::Timeout => 5,
            Self::Other(n) => n,
        }
    }

    /// The code of a wire value.
    pub fn from_code(code: u16) -> Self {
        match code {
            0 => Self::Normal,
            1 => Self::Protocol,
            2 => Self::SessionLost,
            3 => Self::Unavailable,
            4 => Self::Shutdown,
            5 => Self::Timeout,
            n => Self::Other(n),
        }
    }
}
