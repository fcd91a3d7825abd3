//! RFC 3986 percent-encoding and the canonical query string both signatures are computed over.

use std::collections::BTreeMap;

/// Request parameters after decoding, sorted by name in byte order (the order both signatures
/// use). A name given twice keeps its last value, as the SDKs never send one twice.
pub type Params = BTreeMap<String, String>;

/// Percent-encodes per RFC 3986: `A-Z a-z 0-9 - _ . ~` stay, every other byte of the UTF-8
/// text becomes `%XX` with upper-case hex (so space is `%20`, `*` is `%2A`, `~` stays).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0x0f)] as char);
        }
    }
    out
}

/// Decodes `application/x-www-form-urlencoded` text (a query string or a form body) with form
/// semantics: `+` is a space, `%2B` a plus. Invalid escapes are kept literally, never a panic.
pub fn parse_form(text: &str, into: &mut Params) {
    for (name, value) in form_urlencoded::parse(text.as_bytes()) {
        into.insert(name.into_owned(), value.into_owned());
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// `pct(name)=pct(value)` for every parameter except those in `skip`, sorted by name, joined
/// by `&`. This is the canonical form of the *decoded* parameters: however the client spelled a
/// space (`+` or `%20`) or a `*` on the wire, it is encoded here one way only.
pub fn canonical_query(params: &Params, skip: &[&str]) -> String {
    let mut out = String::new();
    for (name, value) in params.iter().filter(|(n, _)| !skip.contains(&n.as_str())) {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&percent_encode(name));
        out.push('=');
        out.push_str(&percent_encode(value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_reserved_set_and_keeps_the_unreserved() {
        assert_eq!(percent_encode("aZ09-_.~"), "aZ09-_.~");
        assert_eq!(percent_encode("a b*()!'"), "a%20b%2A%28%29%21%27");
        assert_eq!(percent_encode("1/2+3="), "1%2F2%2B3%3D");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn canonical_query_sorts_by_byte_order_and_keeps_empty_values() {
        let params: Params = [
            ("b", "2"),
            ("SignatureType", ""),
            ("A", "1 1"),
            ("Signature", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            canonical_query(&params, &["Signature"]),
            "A=1%201&SignatureType=&b=2"
        );
    }
}
