//! Signature V1 (`SignatureMethod=HMAC-SHA1`): the RPC signature of the legacy SDKs, aliyun-cli,
//! ali-instance-cli, and the Tea SDKs with `signature_algorithm="v2"`.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::{canonical_query, percent_encode, Credentials, Params};

/// `METHOD&%2F&pct(canonical query)`, the text the HMAC covers. The `Signature` parameter itself
/// is left out; every other one, empty `SignatureType=` included, is in.
pub fn string_to_sign(method: &str, params: &Params) -> String {
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode("/"),
        percent_encode(&canonical_query(params, &["Signature"]))
    )
}

/// `base64(HMAC-SHA1(secret + "&", string_to_sign))`.
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    let key = format!("{secret}&");
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Adds the V1 common parameters and the `Signature` to `params`, as the legacy SDK does.
/// `timestamp` is in [`super::TIMESTAMP_FORMAT`], `nonce` unique per request.
pub fn sign_request(
    method: &str,
    params: &mut Params,
    credentials: Credentials<'_>,
    timestamp: &str,
    nonce: &str,
) {
    for (name, value) in [
        ("Format", "JSON"),
        ("Version", super::API_VERSION),
        ("AccessKeyId", credentials.access_key_id),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureType", ""),
        ("SignatureNonce", nonce),
        ("Timestamp", timestamp),
    ] {
        params
            .entry(name.to_owned())
            .or_insert_with(|| value.to_owned());
    }
    let signature = sign(credentials.secret, &string_to_sign(method, params));
    params.insert("Signature".to_owned(), signature);
}
