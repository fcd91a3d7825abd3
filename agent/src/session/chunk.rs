//! Cutting PTY output into Output frames of at most [`SHELL_CHUNK`] bytes that never split a
//! UTF-8 sequence, so that a client decoding frame by frame never shows a broken character.
//! An incomplete sequence at the end of a read is held back for the next read; bytes that are
//! not UTF-8 at all pass through untouched.

/// Largest payload of a shell Output frame, as the stock agent's.
pub const SHELL_CHUNK: usize = 1024;

/// Splits a byte stream into UTF-8-safe chunks.
#[derive(Debug)]
pub struct Utf8Chunker {
    max: usize,
    held: Vec<u8>,
}

impl Utf8Chunker {
    /// Chunks of at most `max` bytes (at least 4, the longest UTF-8 sequence).
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(4),
            held: Vec::new(),
        }
    }

    /// Takes the next bytes read; returns the chunks ready to send.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut data = std::mem::take(&mut self.held);
        data.extend_from_slice(bytes);
        let keep = incomplete_tail(&data);
        self.held = data.split_off(data.len() - keep);
        self.cut(&data)
    }

    /// The end of the stream: whatever is held, even an incomplete sequence.
    pub fn finish(&mut self) -> Vec<Vec<u8>> {
        let data = std::mem::take(&mut self.held);
        self.cut(&data)
    }

    fn cut(&self, mut data: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while !data.is_empty() {
            let at = split_point(data, self.max);
            out.push(data[..at].to_vec());
            data = &data[at..];
        }
        out
    }
}

/// Where to cut `data` into a first chunk of at most `max` bytes without splitting a
/// sequence that is complete in `data`.
fn split_point(data: &[u8], max: usize) -> usize {
    if data.len() <= max {
        return data.len();
    }
    // Walk back from the cut over at most three continuation bytes to the sequence's lead.
    let mut lead = max;
    while lead > max.saturating_sub(3) && is_continuation(data[lead]) {
        lead -= 1;
    }
    match sequence_len(data[lead]) {
        Some(len) if lead + len > max && lead > 0 && well_formed(&data[lead..], len) => lead,
        _ => max,
    }
}

/// How many bytes at the end of `data` start a sequence that is not finished yet.
fn incomplete_tail(data: &[u8]) -> usize {
    let start = data.len().saturating_sub(3);
    for lead in (start..data.len()).rev() {
        if let Some(len) = sequence_len(data[lead]) {
            let present = data.len() - lead;
            let continued = data[lead + 1..].iter().all(|b| is_continuation(*b));
            return if present < len && continued {
                present
            } else {
                0
            };
        }
        if !is_continuation(data[lead]) {
            return 0;
        }
    }
    0
}

fn is_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

/// The length of the sequence a lead byte starts; `None` for continuation and invalid bytes.
fn sequence_len(byte: u8) -> Option<usize> {
    match byte {
        0x00..=0x7F => Some(1),
        0xC2..=0xDF => Some(2),
        0xE0..=0xEF => Some(3),
        0xF0..=0xF4 => Some(4),
        _ => None,
    }
}

/// Whether `data` starts with a lead byte followed by enough continuation bytes for `len`.
fn well_formed(data: &[u8], len: usize) -> bool {
    data.len() >= len && data[1..len].iter().all(|b| is_continuation(*b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[Vec<u8>]) -> Vec<u8> {
        chunks.concat()
    }

    #[test]
    fn never_splits_a_character_at_the_size_limit() {
        // 1023 ASCII bytes then "é" (2 bytes): the "é" must move to the next chunk.
        let mut data = vec![b'a'; 1023];
        data.extend_from_slice("é€😀".as_bytes());
        let chunks = Utf8Chunker::new(SHELL_CHUNK).push(&data);
        assert_eq!(chunks[0].len(), 1023);
        for chunk in &chunks {
            assert!(chunk.len() <= SHELL_CHUNK);
            std::str::from_utf8(chunk).unwrap();
        }
        assert_eq!(all(&chunks), data);
    }

    #[test]
    fn holds_an_incomplete_tail_for_the_next_read() {
        let euro = "€".as_bytes(); // e2 82 ac
        let mut c = Utf8Chunker::new(SHELL_CHUNK);
        assert_eq!(c.push(&[b'x', euro[0], euro[1]]), vec![b"x".to_vec()]);
        assert_eq!(c.push(&euro[2..]), vec![euro.to_vec()]);
        let emoji = "😀".as_bytes();
        assert!(c.push(&emoji[..1]).is_empty());
        assert!(c.push(&emoji[1..3]).is_empty());
        assert_eq!(c.push(&emoji[3..]), vec![emoji.to_vec()]);
    }

    #[test]
    fn invalid_bytes_pass_through_and_the_end_flushes() {
        let mut c = Utf8Chunker::new(4);
        assert_eq!(
            all(&c.push(&[0xff, 0xfe, 0x80, 0x80, 0x80, b'z'])),
            [0xff, 0xfe, 0x80, 0x80, 0x80, b'z']
        );
        assert!(c.push(&[0xe2, 0x82]).is_empty());
        assert_eq!(c.finish(), vec![vec![0xe2, 0x82]]);
        assert!(c.finish().is_empty());
    }

    #[test]
    fn cuts_long_runs_into_full_chunks() {
        let data = "ü".repeat(1500); // 3000 bytes of 2-byte characters
        let chunks = Utf8Chunker::new(SHELL_CHUNK).push(data.as_bytes());
        assert_eq!(
            chunks.iter().map(Vec::len).collect::<Vec<_>>(),
            [1024, 1024, 952]
        );
        let four = "😀".repeat(300); // 1200 bytes of 4-byte characters
        let chunks = Utf8Chunker::new(SHELL_CHUNK).push(four.as_bytes());
        assert_eq!(chunks[0].len(), 1024);
        assert_eq!(all(&chunks), four.as_bytes());
    }
}
