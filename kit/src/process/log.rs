//! Reading what supervised processes wrote: the end of a log for an error or a failing test,
//! a watch for a line from a point on, and terminal colours taken out.

use std::{
    fs,
    io::{Read as _, Seek as _, SeekFrom},
    os::unix::fs::FileExt as _,
    path::{Path, PathBuf},
};

/// How much of a log's end is read to find its last lines: enough for hundreds of long lines,
/// and a runaway log is not read whole.
const TAIL_BYTES: u64 = 1 << 20;

/// The last `lines` lines of `log`, indented, for an error message.
pub fn tail(log: &Path, lines: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    last_lines(&log.display().to_string(), &text, lines)
}

/// Like [`tail`], read through `file`, a handle open on the log: it still reads after the
/// log's directory is gone (a test's temporary directory may be removed before its children
/// are dropped).
pub(super) fn tail_of(file: &fs::File, label: &str, lines: usize) -> String {
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(TAIL_BYTES);
    let mut bytes = vec![0; usize::try_from(len - start).unwrap_or(0)];
    let mut filled = 0;
    while filled < bytes.len() {
        match file.read_at(&mut bytes[filled..], start + filled as u64) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    bytes.truncate(filled);
    last_lines(label, &String::from_utf8_lossy(&bytes), lines)
}

fn last_lines(label: &str, text: &str, lines: usize) -> String {
    let text = strip_ansi(text);
    let all: Vec<&str> = text.lines().collect();
    let shown = &all[all.len().saturating_sub(lines)..];
    let mut out = if shown.len() < all.len() {
        format!("the last {} lines of {label}:", shown.len())
    } else {
        format!("the end of {label}:")
    };
    for line in shown {
        out.push_str("\n    ");
        out.push_str(line);
    }
    out
}

/// A log file read from a point on: what a process wrote after that point.
pub struct LogWatch {
    path: PathBuf,
    offset: u64,
}

impl LogWatch {
    /// Watches `path` from its current end.
    pub fn from_end(path: &Path) -> Self {
        let offset = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        Self {
            path: path.to_owned(),
            offset,
        }
    }

    /// Watches `path` from its beginning.
    pub fn from_start(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            offset: 0,
        }
    }

    /// The first line written since the start of the watch that contains `needle`, without
    /// terminal colours.
    pub fn find(&self, needle: &str) -> Option<String> {
        let mut file = fs::File::open(&self.path).ok()?;
        file.seek(SeekFrom::Start(self.offset)).ok()?;
        let mut text = String::new();
        file.read_to_string(&mut text).ok()?;
        strip_ansi(&text)
            .lines()
            .find(|line| line.contains(needle))
            .map(str::to_owned)
    }
}

/// Removes ANSI escape sequences (colours some programs write even into a file).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters… final byte in @..~
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_are_removed() {
        let line = "\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m listening at 127.0.0.1:47931";
        assert_eq!(strip_ansi(line), "2026  INFO listening at 127.0.0.1:47931");
    }

    #[test]
    fn the_tail_says_when_lines_were_left_out() {
        let text = "one\ntwo\nthree\n";
        assert_eq!(
            last_lines("x.log", text, 2),
            "the last 2 lines of x.log:\n    two\n    three"
        );
        assert_eq!(
            last_lines("x.log", text, 5),
            "the end of x.log:\n    one\n    two\n    three"
        );
    }
}
