//! JSON and base64 exactly as the stock agent (Go's `encoding/json` and `encoding/base64`)
//! writes and reads them, so a stock peer sees the bytes it would have written itself.

use base64::{
    alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
    Engine as _,
};
use serde_json::{Map, Value};

/// Go's `base64.StdEncoding`: padding required, non-zero trailing bits tolerated.
const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Base64 as Go encodes it (standard alphabet, padded).
pub(crate) fn b64(bytes: &[u8]) -> String {
    GO_STD.encode(bytes)
}

/// Base64 as Go's `DecodeString` reads it: it skips `\r` and `\n` anywhere.
pub(crate) fn unb64(text: &str) -> Option<Vec<u8>> {
    if text.contains(['\r', '\n']) {
        let clean: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
        GO_STD.decode(clean).ok()
    } else {
        GO_STD.decode(text).ok()
    }
}

/// A JSON object written field by field in declaration order, without spaces, strings escaped
/// as `json.Marshal` escapes them (HTML-safe: `<`, `>`, `&` as `\u003c`…).
pub(crate) struct Writer(String);

impl Writer {
    pub(crate) fn new() -> Self {
        Writer(String::from("{"))
    }

    fn key(&mut self, key: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        quote(&mut self.0, key);
        self.0.push(':');
    }

    pub(crate) fn str(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        quote(&mut self.0, value);
        self
    }

    pub(crate) fn bool(mut self, key: &str, value: bool) -> Self {
        self.key(key);
        self.0.push_str(if value { "true" } else { "false" });
        self
    }

    pub(crate) fn str_array(mut self, key: &str, values: &[String]) -> Self {
        self.key(key);
        self.0.push('[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            quote(&mut self.0, v);
        }
        self.0.push(']');
        self
    }

    pub(crate) fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// Go's `encodeState.string` with HTML escaping on (the `json.Marshal` default).
fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Why a JSON object could not be read into a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// A JSON object read as Go's `json.Unmarshal` reads one into a struct: `null` is an empty
/// object, keys match exactly or else case-insensitively, a `null` field is an absent one,
/// unknown fields are ignored, a field of the wrong type is an error.
pub(crate) struct Reader(Map<String, Value>);

impl Reader {
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, Malformed> {
        match serde_json::from_slice::<Value>(bytes).map_err(|_| Malformed)? {
            Value::Null => Ok(Reader(Map::new())),
            Value::Object(map) => Ok(Reader(map)),
            _ => Err(Malformed),
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        let found = self.0.get(key).or_else(|| {
            self.0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        });
        found.filter(|v| !v.is_null())
    }

    pub(crate) fn str(&self, key: &str) -> Result<Option<String>, Malformed> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Malformed),
        }
    }

    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, Malformed> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Malformed),
        }
    }

    pub(crate) fn str_array(&self, key: &str) -> Result<Vec<String>, Malformed> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    // Go leaves a null element as the zero value.
                    Value::Null => Ok(String::new()),
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(Malformed),
                })
                .collect(),
            Some(_) => Err(Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_go_does() {
        let json = Writer::new()
            .str("a", "<&>\"\\\n\u{1}\u{2028}é")
            .bool("b", false)
            .finish();
        assert_eq!(
            json,
            r#"{"a":"\u003c\u0026\u003e\"\\\n\u0001\u2028é","b":false}"#
        );
    }

    #[test]
    fn reading_is_as_lenient_as_go() {
        let r = Reader::parse(br#" {"CipherSuite":"x","n":null,"extra":[1]} "#).unwrap();
        assert_eq!(r.str("cipherSuite").unwrap().as_deref(), Some("x"));
        assert_eq!(r.str("n").unwrap(), None);
        assert!(Reader::parse(b"null").is_ok());
        assert!(Reader::parse(b"[]").is_err());
        assert!(Reader::parse(b"{} x").is_err());
        let r = Reader::parse(br#"{"a":1,"b":[null,"s"]}"#).unwrap();
        assert!(r.str("a").is_err());
        assert_eq!(r.str_array("b").unwrap(), vec![String::new(), "s".into()]);
    }

    #[test]
    fn base64_as_go() {
        assert_eq!(unb64("QUJD\r\nRA==").unwrap(), b"ABCD");
        assert!(unb64("QUJDRA").is_none());
        assert_eq!(unb64("QR==").unwrap(), b"A");
        assert_eq!(b64(b"\xfb\xff"), "+/8=");
    }
}
