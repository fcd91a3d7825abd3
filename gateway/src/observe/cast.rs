//! Asciicast v2 lines (https://docs.asciinema.org/manual/asciicast/v2/): a header, then
//! `[t, "o"|"i"|"r", data]` events. A terminal's bytes arrive in frames cut anywhere, so a
//! UTF-8 sequence split between two frames is carried over to the next event rather than
//! mangled; only bytes that are not UTF-8 at all become U+FFFD.

use serde_json::Value;

/// The size a recording starts with when no resize came before its first event.
pub const DEFAULT_SIZE: (u16, u16) = (80, 24);

/// One connection's recording, as text.
pub struct Cast {
    title: String,
    /// Unix seconds of the recording's start (the header's `timestamp`).
    timestamp: u64,
    /// The terminal size, `(cols, rows)`, once known.
    size: Option<(u16, u16)>,
    /// Whether the header has been written.
    started: bool,
    output: Utf8Carry,
    input: Utf8Carry,
    /// The time of the last event, for what is left at the end.
    last_t: f64,
}

impl Cast {
    pub fn new(title: String, timestamp: u64) -> Self {
        Self {
            title,
            timestamp,
            size: None,
            started: false,
            output: Utf8Carry::default(),
            input: Utf8Carry::default(),
            last_t: 0.0,
        }
    }

    /// Whether anything (the header and one event at least) has been written.
    pub fn started(&self) -> bool {
        self.started
    }

    /// The terminal printed `bytes` at `t` seconds.
    pub fn output(&mut self, t: f64, bytes: &[u8], out: &mut String) {
        let text = self.output.decode(bytes);
        self.event(t, "o", &text, out);
    }

    /// The user typed `bytes` at `t` seconds.
    pub fn input(&mut self, t: f64, bytes: &[u8], out: &mut String) {
        let text = self.input.decode(bytes);
        self.event(t, "i", &text, out);
    }

    /// The terminal became `cols`×`rows`: the header's size when nothing was written yet.
    pub fn resize(&mut self, t: f64, (cols, rows): (u16, u16), out: &mut String) {
        let changed = self.size != Some((cols, rows));
        self.size = Some((cols, rows));
        if self.started && changed {
            self.line(t, "r", &format!("{cols}x{rows}"), out);
        }
    }

    /// The end: what was carried of an unfinished UTF-8 sequence, as U+FFFD.
    pub fn finish(&mut self, out: &mut String) {
        let t = self.last_t;
        let output = self.output.rest();
        self.event(t, "o", &output, out);
        let input = self.input.rest();
        self.event(t, "i", &input, out);
    }

    fn event(&mut self, t: f64, code: &str, text: &str, out: &mut String) {
        if !text.is_empty() {
            self.line(t, code, text, out);
        }
    }

    fn line(&mut self, t: f64, code: &str, data: &str, out: &mut String) {
        if !self.started {
            self.started = true;
            let (width, height) = self.size.unwrap_or(DEFAULT_SIZE);
            out.push_str(&format!(
                r#"{{"version":2,"width":{width},"height":{height},"timestamp":{},"title":{},"env":{{"TERM":"xterm-256color"}}}}"#,
                self.timestamp,
                Value::from(self.title.as_str()),
            ));
            out.push('\n');
        }
        self.last_t = t;
        // Microseconds are as fine as any player shows.
        let t = (t * 1e6).round() / 1e6;
        out.push_str(&Value::from(vec![Value::from(t), code.into(), data.into()]).to_string());
        out.push('\n');
    }
}

/// The bytes of an unfinished UTF-8 sequence at the end of the last frame (at most 3).
#[derive(Default)]
struct Utf8Carry(Vec<u8>);

impl Utf8Carry {
    /// `bytes` after what was carried, as text; an unfinished sequence at the end is kept for
    /// the next call, invalid bytes elsewhere become U+FFFD.
    fn decode(&mut self, bytes: &[u8]) -> String {
        let mut buf = std::mem::take(&mut self.0);
        buf.extend_from_slice(bytes);
        let mut text = String::with_capacity(buf.len());
        let mut rest = buf.as_slice();
        loop {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    text.push_str(valid);
                    return text;
                }
                Err(error) => {
                    let (valid, after) = rest.split_at(error.valid_up_to());
                    text.push_str(&String::from_utf8_lossy(valid));
                    match error.error_len() {
                        None => {
                            self.0 = after.to_vec();
                            return text;
                        }
                        Some(bad) => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[bad..];
                        }
                    }
                }
            }
        }
    }

    /// What is left, lossily.
    fn rest(&mut self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut self.0)).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn a_sequence_split_between_frames_is_carried_whole() {
        let mut cast = Cast::new("s-1 c-1".into(), 1_700_000_000);
        let mut out = String::new();
        let smile = "é😀".as_bytes(); // 2 + 4 bytes
        cast.output(0.5, &smile[..3], &mut out); // é and the first byte of 😀
        cast.output(0.75, &smile[3..5], &mut out); // nothing whole yet
        cast.output(1.0, &smile[5..], &mut out);
        cast.output(1.25, b"a\xffb", &mut out);
        let lines = lines(&out);
        assert_eq!(lines[0]["version"], 2);
        assert_eq!(
            (lines[0]["width"].clone(), lines[0]["height"].clone()),
            (80.into(), 24.into())
        );
        assert_eq!(lines[0]["title"], "s-1 c-1");
        assert_eq!(lines[0]["timestamp"], 1_700_000_000);
        assert_eq!(lines[0]["env"]["TERM"], "xterm-256color");
        assert_eq!(lines[1], serde_json::json!([0.5, "o", "é"]));
        assert_eq!(lines[2], serde_json::json!([1.0, "o", "😀"]));
        assert_eq!(lines[3], serde_json::json!([1.25, "o", "a\u{fffd}b"]));
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn the_first_size_is_the_headers_and_later_ones_are_resizes() {
        let mut cast = Cast::new("t".into(), 0);
        let mut out = String::new();
        cast.resize(0.0, (120, 40), &mut out);
        assert!(out.is_empty(), "no line before the first event");
        cast.output(0.1, b"$ ", &mut out);
        cast.resize(0.2, (120, 40), &mut out); // unchanged: nothing
        cast.resize(0.3, (100, 30), &mut out);
        cast.input(0.4, b"ls\r", &mut out);
        let lines = lines(&out);
        assert_eq!(
            (lines[0]["width"].clone(), lines[0]["height"].clone()),
            (120.into(), 40.into())
        );
        assert_eq!(lines[1], serde_json::json!([0.1, "o", "$ "]));
        assert_eq!(lines[2], serde_json::json!([0.3, "r", "100x30"]));
        assert_eq!(lines[3], serde_json::json!([0.4, "i", "ls\r"]));
    }

    #[test]
    fn an_unfinished_sequence_at_the_end_is_not_lost() {
        let mut cast = Cast::new("t".into(), 0);
        let mut out = String::new();
        cast.output(2.0, b"x\xe2\x82", &mut out);
        cast.finish(&mut out);
        let lines = lines(&out);
        assert_eq!(lines[1], serde_json::json!([2.0, "o", "x"]));
        assert_eq!(lines[2], serde_json::json!([2.0, "o", "\u{fffd}"]));
    }
}
