//! The agent framing: every message on `/luban/session/backend` is one binary WebSocket message
//! with a 60-byte little-endian header, exactly as the stock Cloud Assistant agent writes it.
//!
//! ```text
//! off len field
//!   0   4 message type    u32 LE (0 input, 1 output, 2 set_size, 3 close, 5 status)
//!   4   4 schema version  ASCII "1.01"
//!   8  32 channel id      ASCII, right-padded with spaces
//!  40   8 created         u64 LE, Unix ms, never 0
//!  48   8 sequence        i64 LE, per sender
//!  56   4 payload length  u32 LE
//!  60   n payload
//! ```
//!
//! Reads are liberal (the payload is the rest of the frame, padding may be spaces or NULs);
//! writes are exact, and never produce what breaks the stock agent: a frame shorter than 60
//! bytes, a channel id over 32 bytes, a zero timestamp.

use crate::FrameError;

/// Length of the header.
pub const HEADER_LEN: usize = 60;
/// The schema version the stock agent writes and this emulator writes to agents.
pub const SCHEMA: &str = "1.01";
/// The longest channel id the header can hold.
pub const MAX_CHANNEL_ID: usize = 32;

/// axtlab extension: the header in which an agent lists, on the data channel upgrade, what it
/// does beyond the stock agent. The stock agent sends none, so a gateway that sees none keeps
/// to the stock behaviour.
pub const FEATURES_HEADER: &str = "x-axt-features";
/// Feature `half-close`: on a port session, a CloseChannel frame means "the client finished
/// sending": the agent shuts the target's write side and relays until the target closes (the
/// stock agent ignores CloseChannel).
pub const FEATURE_HALF_CLOSE: &str = "half-close";

/// What an agent frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentMessageType {
    /// Gateway → agent: bytes for the PTY or the TCP target.
    Input,
    /// Agent → gateway: bytes from the PTY or the TCP target.
    Output,
    /// Gateway → agent: JSON `{"cols":N,"rows":N}`.
    SetSize,
    /// Gateway → agent: close the data channel (newer agents end the session).
    CloseChannel,
    /// Gateway → agent: byte 0 a code; code 7 retunes the send rate.
    Status,
    /// Any other value, kept so that a reader can log it.
    Other(u32),
}

impl AgentMessageType {
    /// The wire value.
    pub fn code(self) -> u32 {
        match self {
            Self::Input => 0,
            Self::Output => 1,
            Self::SetSize => 2,
            Self::CloseChannel => 3,
            Self::Status => 5,
            Self::Other(n) => n,
        }
    }

    /// The type of a wire value.
    pub fn from_code(code: u32) -> Self {
        match code {
            0 => Self::Input,
            1 => Self::Output,
            2 => Self::SetSize,
            3 => Self::CloseChannel,
            5 => Self::Status,
            n => Self::Other(n),
        }
    }
}

/// One agent frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFrame {
    /// The message type.
    pub kind: AgentMessageType,
    /// The schema version text, trimmed.
    pub schema: String,
    /// The channel id, trimmed of its padding.
    pub channel_id: String,
    /// Unix milliseconds.
    pub created_ms: u64,
    /// The sender's sequence number.
    pub seq: i64,
    /// The payload.
    pub payload: Vec<u8>,
}

impl AgentFrame {
    /// A frame of schema [`SCHEMA`] created now.
    pub fn new(kind: AgentMessageType, channel_id: &str, seq: i64, payload: Vec<u8>) -> Self {
        Self {
            kind,
            schema: SCHEMA.to_owned(),
            channel_id: channel_id.to_owned(),
            created_ms: crate::now_ms(),
            seq,
            payload,
        }
    }

    /// Encodes the frame; refuses what the stock agent could not read.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        if self.channel_id.len() > MAX_CHANNEL_ID {
            return Err(FrameError::ChannelIdTooLong(self.channel_id.len()));
        }
        if self.created_ms == 0 {
            return Err(FrameError::ZeroTimestamp);
        }
        let len = u32::try_from(self.payload.len())
            .map_err(|_| FrameError::PayloadTooLarge(self.payload.len()))?;
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len());
        out.extend_from_slice(&self.kind.code().to_le_bytes());
        out.extend_from_slice(&pad::<4>(&self.schema));
        out.extend_from_slice(&pad::<MAX_CHANNEL_ID>(&self.channel_id));
        out.extend_from_slice(&self.created_ms.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&self.payload);
        Ok(out)
    }

    /// Decodes a frame. The payload is the rest of the frame, whatever the length field says.
    pub fn decode(bytes: &[u8]) -> Result<Self, FrameError> {
        if bytes.len() < HEADER_LEN {
            return Err(FrameError::Truncated {
                need: HEADER_LEN,
                got: bytes.len(),
            });
        }
        Ok(Self {
            kind: AgentMessageType::from_code(u32::from_le_bytes(array(&bytes[0..4]))),
            schema: trim(&bytes[4..8]),
            channel_id: trim(&bytes[8..40]),
            created_ms: u64::from_le_bytes(array(&bytes[40..48])),
            seq: i64::from_le_bytes(array(&bytes[48..56])),
            payload: bytes[HEADER_LEN..].to_vec(),
        })
    }
}

/// The JSON payload of a set_size frame; both fields always present, as the agent needs.
pub fn set_size_payload(cols: u16, rows: u16) -> Vec<u8> {
    format!(r#"{{"cols":{cols},"rows":{rows}}}"#).into_bytes()
}

/// Right-pads `text` with spaces to `N` bytes (the caller checked the length).
fn pad<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [b' '; N];
    let bytes = text.as_bytes();
    let n = bytes.len().min(N);
    out[..n].copy_from_slice(&bytes[..n]);
    out
}

fn trim(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_owned()
}

/// Copies a slice of known length into an array.
pub(crate) fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    #[test]
    fn encodes_the_reference_output_frame() {
        // docs/protocol.md §5.9: output "hi", channel s-abc, ts 1700000000000, seq 0.
        let frame = AgentFrame {
            kind: AgentMessageType::Output,
            schema: SCHEMA.into(),
            channel_id: "s-abc".into(),
            created_ms: 1_700_000_000_000,
            seq: 0,
            payload: b"hi".to_vec(),
        };
        let expected = format!(
            "01000000 312e3031 732d616263 {} 0068e5cf8b010000 0000000000000000 02000000 6869",
            "20".repeat(27)
        );
        assert_eq!(frame.encode().unwrap(), unhex(&expected));
        assert_eq!(AgentFrame::decode(&unhex(&expected)).unwrap(), frame);
    }

    #[test]
    fn decodes_the_stock_agents_output_and_the_servers_input() {
        // docs/protocol.md §5.9, unmasked: output "tick-3\r\n" on c-t4-reconn, seq 5.
        let output = unhex(
            "01000000 312e3031 632d7434 2d726563 6f6e6e20 20202020 20202020 20202020 20202020
             20202020 e2a7f328 a2010000 05000000 00000000 08000000 7469636b 2d330d0a",
        );
        let frame = AgentFrame::decode(&output).unwrap();
        assert_eq!(
            (frame.kind, frame.channel_id.as_str(), frame.seq),
            (AgentMessageType::Output, "c-t4-reconn", 5)
        );
        assert_eq!(frame.payload, b"tick-3\r\n");
        assert_eq!(frame.encode().unwrap(), output);
        // Input "echo hello-ok\n" on c-t3-shell, seq 2.
        let input = unhex(
            "00000000 312e3031 632d7433 2d736865 6c6c2020 20202020 20202020 20202020 20202020 20202020
             ca41f228 a2010000 02000000 00000000 0e000000 6563686f 2068656c 6c6f2d6f 6b0a",
        );
        let mut built = AgentFrame::new(
            AgentMessageType::Input,
            "c-t3-shell",
            2,
            b"echo hello-ok\n".to_vec(),
        );
        built.created_ms = AgentFrame::decode(&input).unwrap().created_ms;
        assert_eq!(built.encode().unwrap(), input);
    }

    #[test]
    fn set_size_is_json_with_both_fields() {
        assert_eq!(set_size_payload(120, 40), br#"{"cols":120,"rows":40}"#);
    }

    #[test]
    fn refuses_to_write_what_the_agent_cannot_read() {
        let mut f = AgentFrame::new(AgentMessageType::Input, &"c".repeat(33), 0, vec![]);
        assert_eq!(f.encode(), Err(FrameError::ChannelIdTooLong(33)));
        f.channel_id = "c-1".into();
        f.created_ms = 0;
        assert_eq!(f.encode(), Err(FrameError::ZeroTimestamp));
        f.created_ms = 1;
        assert_eq!(
            f.encode().unwrap().len(),
            HEADER_LEN,
            "an empty frame is exactly 60 bytes"
        );
        assert!(matches!(
            AgentFrame::decode(&[0u8; 59]),
            Err(FrameError::Truncated { .. })
        ));
    }
}
