//! The head of an HTTP/1 message, read with a size bound: what the proxy reads of a CONNECT
//! request, and what `axt` reads of a proxy's answer to its own CONNECT. Only the first line
//! is interpreted; header lines are skipped (a proxy that splices bytes needs none of them).

use tokio::io::{AsyncRead, AsyncReadExt as _};

/// The most bytes a head may take, as most servers bound theirs.
pub const MAX_HEAD: usize = 8 * 1024;

/// Why no head was read.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error("the head is longer than {MAX_HEAD} bytes")]
    TooLarge,
    #[error("the connection ended before the head did")]
    Closed,
    #[error("reading the head")]
    Io(#[from] std::io::Error),
}

/// A head, and whatever the peer sent after it in the same reads (a client may send its TLS
/// ClientHello right behind its CONNECT without waiting for the answer).
#[derive(Debug)]
pub struct Head {
    /// The first line, without its line end, leading empty lines skipped.
    pub first_line: String,
    /// Bytes that followed the head.
    pub rest: Vec<u8>,
}

/// Reads from `stream` until an empty line ends the head: at most [`MAX_HEAD`] bytes.
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Head, HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = head_end(&buf) {
            let rest = buf.split_off(end);
            return Ok(Head {
                first_line: first_line(&buf),
                rest,
            });
        }
        if buf.len() >= MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        let room = chunk.len().min(MAX_HEAD - buf.len());
        let n = stream.read(&mut chunk[..room]).await?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Where the head ends (just past its empty line), lines ending in CRLF or a bare LF; empty
/// lines before the first line do not count (RFC 9112 §2.2 lets a server ignore them).
fn head_end(buf: &[u8]) -> Option<usize> {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let mut line_start = start;
    for (i, &b) in buf.iter().enumerate().skip(start) {
        if b != b'\n' {
            continue;
        }
        let line = &buf[line_start..i];
        if line.is_empty() || line == b"\r" {
            return Some(i + 1);
        }
        line_start = i + 1;
    }
    None
}

/// The first non-empty line of a complete head, without its line end; bytes that are not
/// UTF-8 are replaced (the callers only accept ASCII anyway).
fn first_line(head: &[u8]) -> String {
    let text = String::from_utf8_lossy(head);
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_owned()
}

/// A request line `METHOD TARGET HTTP/1.x`, split; `None` unless it has exactly that shape.
pub fn request_line(line: &str) -> Option<(&str, &str)> {
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic());
    (parts.next().is_none()
        && token(method)
        && !target.is_empty()
        && target.bytes().all(|b| b.is_ascii_graphic())
        && version.starts_with("HTTP/1."))
    .then_some((method, target))
}

/// A status line `HTTP/1.x CODE REASON`, split into the code and the whole `CODE REASON`.
pub fn status_line(line: &str) -> Option<(u16, &str)> {
    let (version, status) = line.split_once(' ')?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = status.get(..3)?.parse().ok()?;
    Some((code, status.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(bytes: &[u8]) -> Result<Head, HeadError> {
        read_head(&mut &bytes[..]).await
    }

    #[tokio::test]
    async fn a_head_ends_at_its_empty_line_and_keeps_what_follows() {
        let head = read(b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n\x16\x03\x01")
            .await
            .unwrap();
        assert_eq!(head.first_line, "CONNECT a:443 HTTP/1.1");
        assert_eq!(head.rest, b"\x16\x03\x01");
        let head = read(b"\r\nCONNECT a:443 HTTP/1.0\n\n").await.unwrap();
        assert_eq!(head.first_line, "CONNECT a:443 HTTP/1.0");
        assert!(head.rest.is_empty());
    }

    #[tokio::test]
    async fn a_head_is_bounded_and_must_end() {
        let endless = vec![b'a'; MAX_HEAD * 2];
        assert!(matches!(read(&endless).await, Err(HeadError::TooLarge)));
        assert!(matches!(
            read(b"CONNECT a:443 HTTP/1.1\r\n").await,
            Err(HeadError::Closed)
        ));
        assert!(matches!(read(b"").await, Err(HeadError::Closed)));
    }

    #[test]
    fn lines_are_split_only_when_well_formed() {
        assert_eq!(
            request_line("CONNECT a:443 HTTP/1.1"),
            Some(("CONNECT", "a:443"))
        );
        assert_eq!(
            request_line("GET http://a/ HTTP/1.1"),
            Some(("GET", "http://a/"))
        );
        for bad in [
            "CONNECT a:443",
            "CONNECT  a:443 HTTP/1.1",
            "CONNECT a:443 HTTP/2",
            "CONNECT a:443 HTTP/1.1 x",
            "CON-NECT a:443 HTTP/1.1",
            "",
        ] {
            assert_eq!(request_line(bad), None, "{bad:?}");
        }
        assert_eq!(
            status_line("HTTP/1.1 200 Connection established"),
            Some((200, "200 Connection established"))
        );
        assert_eq!(status_line("HTTP/1.0 403"), Some((403, "403")));
        assert_eq!(status_line("SSH-2.0-OpenSSH"), None);
        assert_eq!(status_line("HTTP/1.1 2x0 OK"), None);
    }
}
