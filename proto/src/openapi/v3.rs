//! Signature V3 (`ACS3-HMAC-SHA256`): the default of the current Tea SDKs. The canonical request
//! covers the method, the path, the canonical query, the headers the client chose to sign and the
//! body's hash.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{canonical_query, Credentials, Params};

/// The only V3 algorithm this emulator accepts.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Hex SHA-256 of an empty body, which is what every RPC call of the session operations sends.
pub const EMPTY_BODY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The parts of an `Authorization: ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`
/// header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The AccessKeyId from `Credential=`.
    pub credential: String,
    /// Lower-case header names, in the order the client listed them.
    pub signed_headers: Vec<String>,
    /// Lower-case hex HMAC-SHA256.
    pub signature: String,
}

/// Why an `Authorization` header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    /// Another algorithm than [`ALGORITHM`] was named.
    #[error("unsupported signature algorithm {0:?}")]
    Algorithm(String),
    /// A mandatory part is missing.
    #[error("the Authorization header has no {0}")]
    Missing(&'static str),
}

impl Authorization {
    /// Parses the header value tolerantly: parts may be separated by `,` and spaces, in any order.
    pub fn parse(value: &str) -> Result<Self, AuthorizationError> {
        let value = value.trim();
        let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
        if algorithm != ALGORITHM {
            return Err(AuthorizationError::Algorithm(algorithm.to_owned()));
        }
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',').map(str::trim) {
            match part.split_once('=') {
                Some(("Credential", v)) => credential = Some(v.trim().to_owned()),
                Some(("SignedHeaders", v)) => signed = Some(v.trim().to_owned()),
                Some(("Signature", v)) => signature = Some(v.trim().to_ascii_lowercase()),
                _ => {}
            }
        }
        Ok(Self {
            credential: credential
                .filter(|c| !c.is_empty())
                .ok_or(AuthorizationError::Missing("Credential"))?,
            signed_headers: signed
                .ok_or(AuthorizationError::Missing("SignedHeaders"))?
                .split(';')
                .filter(|h| !h.is_empty())
                .map(str::to_ascii_lowercase)
                .collect(),
            signature: signature.ok_or(AuthorizationError::Missing("Signature"))?,
        })
    }
}

/// Builds the canonical request. `headers` are all the request's headers (any case, repeated
/// names allowed); only those named in `signed_headers` are used, each as
/// `name:trimmed values sorted and joined by ","`. A signed header the request lacks is signed
/// with an empty value, which then simply fails to match.
pub fn canonical_request(
    method: &str,
    path: &str,
    params: &Params,
    headers: &[(String, String)],
    signed_headers: &[String],
    hashed_payload: &str,
) -> String {
    let mut out = format!(
        "{}\n{}\n{}\n",
        method.to_ascii_uppercase(),
        path,
        canonical_query(params, &[])
    );
    let mut names: Vec<&String> = signed_headers.iter().collect();
    names.sort();
    for name in &names {
        let mut values: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect();
        values.sort_unstable();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(hashed_payload);
    out
}

/// `ACS3-HMAC-SHA256\n` + hex SHA-256 of the canonical request.
pub fn string_to_sign(canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// Lower-case hex `HMAC-SHA256(secret, string_to_sign)` (the key has no `&`, unlike V1).
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Lower-case hex SHA-256, the form of `x-acs-content-sha256`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The headers a V3 client sends for an RPC call with all parameters in the query and an empty
/// body, `Authorization` last; `host` must be exactly what goes on the wire (with the port).
pub fn sign_request(
    method: &str,
    host: &str,
    action: &str,
    params: &Params,
    credentials: Credentials<'_>,
    date: &str,
    nonce: &str,
) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = [
        ("host", host),
        ("x-acs-action", action),
        ("x-acs-content-sha256", EMPTY_BODY_SHA256),
        ("x-acs-date", date),
        ("x-acs-signature-nonce", nonce),
        ("x-acs-version", super::API_VERSION),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .collect();
    let signed: Vec<String> = headers.iter().map(|(n, _)| n.clone()).collect();
    let request = canonical_request(method, "/", params, &headers, &signed, EMPTY_BODY_SHA256);
    let signature = sign(credentials.secret, &string_to_sign(&request));
    headers.push((
        "Authorization".to_owned(),
        format!(
            "{ALGORITHM} Credential={},SignedHeaders={},Signature={signature}",
            credentials.access_key_id,
            signed.join(";")
        ),
    ));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_authorization_tolerantly() {
        let auth = Authorization::parse(
            "ACS3-HMAC-SHA256 Credential=LTAIx, SignedHeaders=host;x-acs-date ,Signature=ABCD",
        )
        .unwrap();
        assert_eq!(auth.credential, "LTAIx");
        assert_eq!(auth.signed_headers, ["host", "x-acs-date"]);
        assert_eq!(auth.signature, "abcd");
        assert_eq!(
            Authorization::parse("ACS3-HMAC-SM3 Credential=a,SignedHeaders=b,Signature=c"),
            Err(AuthorizationError::Algorithm("ACS3-HMAC-SM3".into()))
        );
        assert_eq!(
            Authorization::parse("ACS3-HMAC-SHA256 SignedHeaders=b,Signature=c"),
            Err(AuthorizationError::Missing("Credential"))
        );
    }
}
