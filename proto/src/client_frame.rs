//! The client framing of `/session`: a 30-byte little-endian skeleton plus two length-prefixed
//! ids, shared by schema 1.01 (ali-instance-cli) and 1.02 (the official web client).
//!
//! ```text
//! u32 type | 4 ASCII schema | u8 L1 | id1 (channel) | u8 L2 | id2 (instance)
//! | u64 created ms | 8 bytes sequence | 4 bytes length | payload
//! ```
//!
//! In 1.01 the sequence is one i64 and the length a u32. In 1.02 the sequence is `inputSeq`
//! u32 then `outputSeq` u32, and the length a u16 followed by an encoding byte and a reserved
//! byte. Both readers take the payload as the rest of the frame, and so does this one.

use crate::{agent_frame::array, FrameError};

/// The fixed part of a frame: everything but the two ids and the payload.
pub const SKELETON_LEN: usize = 30;

/// Schema of ali-instance-cli.
pub const SCHEMA_1_01: &str = "1.01";
/// Schema of the web client, with input/output sequence numbers and Sync.
pub const SCHEMA_1_02: &str = "1.02";

/// What a client frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMessageType {
    /// Client → gateway: keystrokes or TCP bytes (an empty one is a keep-alive).
    Input,
    /// Gateway → client: terminal or TCP bytes.
    Output,
    /// Client → gateway: 4 bytes, rows i16 LE then cols i16 LE.
    Resize,
    /// Client → gateway: the local side ended (payload `1`).
    Close,
    /// Client → gateway: defined, unused by the reference clients.
    Open,
    /// Gateway → client: byte 0 a [`crate::status::ChannelState`], then a reason or a rate.
    Status,
    /// Both ways (1.02): ask the peer to resend from a sequence number.
    Sync,
    /// Any other value.
    Other(u32),
}

impl ClientMessageType {
    /// The wire value.
    pub fn code(self) -> u32 {
        match self {
            Self::Input => 0,
            Self::Output => 1,
            Self::Resize => 2,
            Self::Close => 3,
            Self::Open => 4,
            Self::Status => 5,
            Self::Sync => 6,
            Self::Other(n) => n,
        }
    }

    /// The type of a wire value.
    pub fn from_code(code: u32) -> Self {
        match code {
            0 => Self::Input,
            1 => Self::Output,
            2 => Self::Resize,
            3 => Self::Close,
            4 => Self::Open,
            5 => Self::Status,
            6 => Self::Sync,
            n => Self::Other(n),
        }
    }
}

/// One client frame, of either schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFrame {
    /// The message type.
    pub kind: ClientMessageType,
    /// `1.01`, `1.02`, or whatever the peer wrote (trimmed).
    pub schema: String,
    /// The first id: the channel id in 1.02; the gateway fills it, clients send it empty.
    pub channel_id: String,
    /// The second id: the instance id in 1.02.
    pub instance_id: String,
    /// Unix milliseconds; never 0 on the wire (ali-instance-cli exits on 0).
    pub created_ms: u64,
    /// The 8 sequence bytes as one little-endian number: the 1.01 sequence, or in 1.02
    /// `inputSeq` in the low half and `outputSeq` in the high half.
    pub seq: u64,
    /// The payload.
    pub payload: Vec<u8>,
}

impl ClientFrame {
    /// A 1.01 frame created now with sequence `seq`.
    pub fn v101(kind: ClientMessageType, seq: i64, payload: Vec<u8>) -> Self {
        Self {
            kind,
            schema: SCHEMA_1_01.to_owned(),
            channel_id: String::new(),
            instance_id: String::new(),
            created_ms: crate::now_ms(),
            seq: seq as u64,
            payload,
        }
    }

    /// A 1.02 frame created now.
    pub fn v102(
        kind: ClientMessageType,
        channel_id: &str,
        input_seq: u32,
        output_seq: u32,
        payload: Vec<u8>,
    ) -> Self {
        Self {
            kind,
            schema: SCHEMA_1_02.to_owned(),
            channel_id: channel_id.to_owned(),
            instance_id: String::new(),
            created_ms: crate::now_ms(),
            seq: u64::from(input_seq) | (u64::from(output_seq) << 32),
            payload,
        }
    }

    /// Whether this frame uses the 1.02 layout (sequence pair, u16 length).
    pub fn is_v102(&self) -> bool {
        self.schema.as_str() >= SCHEMA_1_02
    }

    /// 1.02: the input sequence number.
    pub fn input_seq(&self) -> u32 {
        self.seq as u32
    }

    /// 1.02: the output sequence number.
    pub fn output_seq(&self) -> u32 {
        (self.seq >> 32) as u32
    }

    /// Encodes the frame in its schema's layout.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let (l1, l2) = (self.channel_id.len(), self.instance_id.len());
        if l1 > 255 || l2 > 255 {
            return Err(FrameError::ChannelIdTooLong(l1.max(l2)));
        }
        if self.created_ms == 0 {
            return Err(FrameError::ZeroTimestamp);
        }
        let mut out = Vec::with_capacity(SKELETON_LEN + l1 + l2 + self.payload.len());
        out.extend_from_slice(&self.kind.code().to_le_bytes());
        let mut schema = [b' '; 4];
        let n = self.schema.len().min(4);
        schema[..n].copy_from_slice(&self.schema.as_bytes()[..n]);
        out.extend_from_slice(&schema);
        out.push(l1 as u8);
        out.extend_from_slice(self.channel_id.as_bytes());
        out.push(l2 as u8);
        out.extend_from_slice(self.instance_id.as_bytes());
        out.extend_from_slice(&self.created_ms.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        if self.is_v102() {
            let len = u16::try_from(self.payload.len())
                .map_err(|_| FrameError::PayloadTooLarge(self.payload.len()))?;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&[0, 0]); // encoding: raw; reserved
        } else {
            let len = u32::try_from(self.payload.len())
                .map_err(|_| FrameError::PayloadTooLarge(self.payload.len()))?;
            out.extend_from_slice(&len.to_le_bytes());
        }
        out.extend_from_slice(&self.payload);
        Ok(out)
    }

    /// Decodes a frame of either schema; the payload is the rest of the frame.
    pub fn decode(bytes: &[u8]) -> Result<Self, FrameError> {
        let truncated = |need: usize| FrameError::Truncated {
            need,
            got: bytes.len(),
        };
        if bytes.len() < 9 {
            return Err(truncated(SKELETON_LEN));
        }
        let l1 = usize::from(bytes[8]);
        let id1_end = 9 + l1;
        let l2 = usize::from(
            *bytes
                .get(id1_end)
                .ok_or_else(|| truncated(SKELETON_LEN + l1))?,
        );
        let id2_end = id1_end + 1 + l2;
        let need = SKELETON_LEN + l1 + l2;
        if bytes.len() < need {
            return Err(truncated(need));
        }
        let text = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_owned()
        };
        Ok(Self {
            kind: ClientMessageType::from_code(u32::from_le_bytes(array(&bytes[0..4]))),
            schema: text(&bytes[4..8]),
            channel_id: text(&bytes[9..id1_end]),
            instance_id: text(&bytes[id1_end + 1..id2_end]),
            created_ms: u64::from_le_bytes(array(&bytes[id2_end..id2_end + 8])),
            seq: u64::from_le_bytes(array(&bytes[id2_end + 8..id2_end + 16])),
            payload: bytes[need..].to_vec(),
        })
    }
}

/// Reads a Resize payload as `(cols, rows)`: the 4-byte binary form both reference clients
/// send (rows i16 LE, cols i16 LE), or a JSON `{"cols","rows"}` the web client's printer also
/// accepts. `None` for anything else, or a non-positive size.
pub fn parse_resize(payload: &[u8]) -> Option<(u16, u16)> {
    let (cols, rows) = if payload.len() == 4 {
        let rows = i16::from_le_bytes([payload[0], payload[1]]);
        let cols = i16::from_le_bytes([payload[2], payload[3]]);
        (i64::from(cols), i64::from(rows))
    } else {
        let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
        (v["cols"].as_i64()?, v["rows"].as_i64()?)
    };
    let cols = u16::try_from(cols).ok().filter(|c| *c > 0)?;
    let rows = u16::try_from(rows).ok().filter(|r| *r > 0)?;
    Some((cols, rows))
}

/// The 4-byte Resize payload for a terminal of `cols` × `rows`.
pub fn resize_payload(cols: u16, rows: u16) -> Vec<u8> {
    let mut out = (rows as i16).to_le_bytes().to_vec();
    out.extend_from_slice(&(cols as i16).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    #[test]
    fn reads_and_writes_the_1_01_examples() {
        // docs/protocol.md §6.10: Resize 30 rows × 100 cols, seq 0.
        let resize =
            unhex("02000000 312e3031 00 00 c40bf028a2010000 0000000000000000 04000000 1e006400");
        let f = ClientFrame::decode(&resize).unwrap();
        assert_eq!(
            (f.kind, f.schema.as_str(), f.seq),
            (ClientMessageType::Resize, "1.01", 0)
        );
        assert_eq!(parse_resize(&f.payload), Some((100, 30)));
        assert_eq!(f.encode().unwrap(), resize);
        assert_eq!(resize_payload(100, 30), f.payload);
        // Input "echo hi", seq 1.
        let input = unhex(
            "00000000 312e3031 00 00 ca12f028a2010000 0100000000000000 07000000 6563686f206869",
        );
        let f = ClientFrame::decode(&input).unwrap();
        assert_eq!(
            (f.kind, f.seq, f.payload.as_slice()),
            (ClientMessageType::Input, 1, &b"echo hi"[..])
        );
        // Close "1", seq 3.
        let close = unhex("03000000 312e3031 00 00 7b61f528a2010000 0300000000000000 01000000 31");
        assert_eq!(
            ClientFrame::decode(&close).unwrap().kind,
            ClientMessageType::Close
        );
    }

    #[test]
    fn reads_and_writes_the_1_02_example_with_ids() {
        // docs/protocol.md §6.10: input "ls" on channel c1, inputSeq 1.
        let bytes = unhex(
            "00000000 312e3032 02 6331 00 0068e5cf8b010000 01000000 00000000 0200 00 00 6c73",
        );
        let f = ClientFrame::decode(&bytes).unwrap();
        assert_eq!(
            (f.channel_id.as_str(), f.input_seq(), f.output_seq()),
            ("c1", 1, 0)
        );
        assert!(f.is_v102());
        assert_eq!(f.payload, b"ls");
        assert_eq!(f.encode().unwrap(), bytes);
    }

    #[test]
    fn gateway_frames_with_ids_match_what_the_cli_reads() {
        // docs/protocol.md §6.10: Status Opened with id "s-example" begins like this.
        let mut f = ClientFrame::v101(ClientMessageType::Status, 0, vec![3]);
        f.channel_id = "s-example".into();
        f.created_ms = u64::from_le_bytes([0xbd, 0x2e, 0xf0, 0x28, 0xa2, 0x01, 0, 0]);
        let bytes = f.encode().unwrap();
        assert!(hex::encode(&bytes)
            .starts_with("05000000312e303109732d6578616d706c6500bd2ef028a2010000"));
        assert_eq!(bytes.len(), SKELETON_LEN + 9 + 1);
    }

    #[test]
    fn short_frames_are_errors_and_empty_outputs_are_thirty_bytes() {
        for len in [0, 8, 26, 29] {
            assert!(ClientFrame::decode(&vec![0u8; len]).is_err(), "{len}");
        }
        let empty = ClientFrame::v101(ClientMessageType::Output, 0, vec![])
            .encode()
            .unwrap();
        assert_eq!(empty.len(), SKELETON_LEN);
        // An id length pointing past the end.
        let mut bad = empty.clone();
        bad[8] = 200;
        assert!(ClientFrame::decode(&bad).is_err());
    }

    #[test]
    fn resize_parsing_refuses_nonsense() {
        assert_eq!(parse_resize(br#"{"cols":80,"rows":24}"#), Some((80, 24)));
        assert_eq!(parse_resize(&[0, 0, 80, 0]), None);
        assert_eq!(parse_resize(&[0xff, 0xff, 80, 0]), None);
        assert_eq!(parse_resize(b"abc"), None);
    }
}
