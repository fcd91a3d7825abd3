//! Signature V4 (`ACS4-HMAC-SHA256`), which the current KMS SDKs sign with (their POP gateway
//! plug-in, `alibabacloud_gateway_pop`): V3's canonical request over the query string, signed
//! with a key derived from the secret and the credential scope
//! `<AccessKeyId>/<yyyymmdd>/<region>/<product>/aliyun_v4_request`.
//!
//! The scope is the caller's signed word on the region it addresses, which the lab (one
//! endpoint for every region) cannot learn from the host; it travels on as the call's
//! [`super::Authenticated::scope_region`].

use axt_proto::openapi::v3;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret as _;
use sha2::Sha256;

use super::{
    all_headers_signed, check_time, header_nonce, principal, signed_operation, Signed, Verified,
};
use crate::{
    api::{ApiError, ErrorCode},
    ids, Shared,
};

/// The only V4 algorithm accepted.
const ALGORITHM: &str = "ACS4-HMAC-SHA256";
/// Prefixes the secret in the first derivation step, and (with `_request`) ends the scope.
const SIGN_PREFIX: &str = "aliyun_v4";

/// The parts of `Authorization: ACS4-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`.
#[derive(Debug, PartialEq, Eq)]
struct Authorization {
    access_key_id: String,
    /// `yyyymmdd`.
    date: String,
    region: String,
    product: String,
    signed_headers: Vec<String>,
    signature: String,
}

impl Authorization {
    /// Parses the header, tolerant of spaces around the parts like V3's parser.
    fn parse(value: &str) -> Result<Self, String> {
        let (algorithm, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
        if algorithm != ALGORITHM {
            return Err(format!("Unsupported signature algorithm {algorithm}."));
        }
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',').map(str::trim) {
            match part.split_once('=') {
                Some(("Credential", v)) => credential = Some(v.trim()),
                Some(("SignedHeaders", v)) => signed = Some(v.trim()),
                Some(("Signature", v)) => signature = Some(v.trim().to_ascii_lowercase()),
                _ => {}
            }
        }
        let missing = |part: &str| format!("The Authorization header has no {part}.");
        let scope: Vec<&str> = credential
            .ok_or_else(|| missing("Credential"))?
            .split('/')
            .collect();
        let terminator = format!("{SIGN_PREFIX}_request");
        let [id, date, region, product, end] = scope[..] else {
            return Err(
                "The Credential is not <AccessKeyId>/<date>/<region>/<product>/aliyun_v4_request."
                    .into(),
            );
        };
        if end != terminator || id.is_empty() || date.len() != 8 {
            return Err(
                "The Credential is not <AccessKeyId>/<date>/<region>/<product>/aliyun_v4_request."
                    .into(),
            );
        }
        Ok(Self {
            access_key_id: id.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            product: product.to_owned(),
            signed_headers: signed
                .ok_or_else(|| missing("SignedHeaders"))?
                .split(';')
                .filter(|h| !h.is_empty())
                .map(str::to_ascii_lowercase)
                .collect(),
            signature: signature.ok_or_else(|| missing("Signature"))?,
        })
    }
}

fn hmac(key: &[u8], message: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The signing key of `secret` for one day, region and product.
fn signing_key(secret: &str, date: &str, region: &str, product: &str) -> Vec<u8> {
    let day = hmac(format!("{SIGN_PREFIX}{secret}").as_bytes(), date);
    let region = hmac(&day, region);
    let product = hmac(&region, product);
    hmac(&product, &format!("{SIGN_PREFIX}_request"))
}

/// `ACS4-HMAC-SHA256\n` + hex SHA-256 of the canonical request.
fn string_to_sign(canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}",
        v3::sha256_hex(canonical_request.as_bytes())
    )
}

/// Verifies a V4 request as V3's are verified: the date within the skew and equal to the
/// scope's day, every host and x-acs-* header signed, the body's hash, then the signature.
pub(super) async fn verify(
    shared: &Shared,
    req: &Signed<'_>,
    authorization: &str,
) -> Result<Verified, ApiError> {
    let incomplete = |why: String| ApiError::with(ErrorCode::IncompleteSignature, why);
    let auth = Authorization::parse(authorization).map_err(incomplete)?;
    let date = req
        .header("x-acs-date")
        .ok_or_else(|| incomplete("x-acs-date is missing.".into()))?;
    let signed_at = check_time(date, shared.config.max_clock_skew_secs)?;
    // The key is derived for the scope's day: it must be the request's own.
    if date.get(..10).map(|d| d.replace('-', "")) != Some(auth.date.clone()) {
        return Err(incomplete(format!(
            "The Credential's date {} is not the day of x-acs-date.",
            auth.date
        )));
    }
    let nonce = header_nonce(req)?;
    all_headers_signed(req, &auth.signed_headers)?;
    let key = principal::lookup(shared, &auth.access_key_id).await?;
    let body_hash = v3::sha256_hex(req.body);
    let payload = req.header("x-acs-content-sha256").unwrap_or(&body_hash);
    let request = v3::canonical_request(
        req.method,
        req.path,
        req.query,
        req.headers,
        &auth.signed_headers,
        payload,
    );
    let string_to_sign = string_to_sign(&request);
    let signing = signing_key(
        key.secret.expose_secret(),
        &auth.date,
        &auth.region,
        &auth.product,
    );
    let expected = hex::encode(hmac(&signing, &string_to_sign));
    if !ids::secrets_equal(&expected, &auth.signature) || payload != body_hash {
        return Err(ApiError::signature_mismatch(&string_to_sign));
    }
    let (action, version, token) = signed_operation(req, &auth.signed_headers)?;
    Ok(Verified {
        signer: key.signer,
        nonce: nonce.to_owned(),
        signed_at,
        action,
        version,
        token,
        scope_region: Some(auth.region),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `alibabacloud_gateway_pop` 0.1.3 computes for these inputs (its get_signingkey and
    /// get_authorization, called directly).
    #[test]
    fn signs_as_the_pop_gateway_does() {
        let key = signing_key("secret", "20260102", "cn-hangzhou", "Kms");
        assert_eq!(
            hex::encode(&key),
            "f8b2351ef367e876de4f56aa0424f1c9584a08e024afd8583e4542b7e0bc07c7"
        );
        let headers: Vec<(String, String)> = [
            ("host", "kms.cn-hangzhou.aliyuncs.com"),
            ("x-acs-version", "2016-01-20"),
            ("x-acs-action", "DescribeKey"),
            ("x-acs-date", "2026-01-02T03:04:05Z"),
            ("x-acs-signature-nonce", "nonce-1"),
            ("x-acs-content-sha256", v3::EMPTY_BODY_SHA256),
            ("content-type", "application/x-www-form-urlencoded"),
            ("user-agent", "x"),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
        let auth = Authorization::parse(
            "ACS4-HMAC-SHA256 Credential=LTAIid/20260102/cn-hangzhou/Kms/aliyun_v4_request,\
             SignedHeaders=content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;\
             x-acs-signature-nonce;x-acs-version,\
             Signature=e6615a8709e076f5e9d8444323d618f308c2711ab572087ad54cd4a3cc71b41b",
        )
        .unwrap();
        assert_eq!(
            (
                auth.access_key_id.as_str(),
                auth.region.as_str(),
                auth.product.as_str()
            ),
            ("LTAIid", "cn-hangzhou", "Kms")
        );
        let query = [("KeyId", "a b*c~"), ("PageSize", "10")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let request = v3::canonical_request(
            "POST",
            "/",
            &query,
            &headers,
            &auth.signed_headers,
            v3::EMPTY_BODY_SHA256,
        );
        let signature = hex::encode(hmac(&key, &string_to_sign(&request)));
        assert_eq!(signature, auth.signature);
    }

    #[test]
    fn refuses_other_algorithms_and_scopes() {
        let parse = |v: &str| Authorization::parse(v).unwrap_err();
        assert!(parse(
            "ACS4-HMAC-SM3 Credential=a/20260102/r/p/aliyun_v4_request,SignedHeaders=h,Signature=s"
        )
        .contains("algorithm"));
        assert!(parse(
            "ACS4-HMAC-SHA256 Credential=a/20260102/r/p/other,SignedHeaders=h,Signature=s"
        )
        .contains("Credential"));
        assert!(parse(
            "ACS4-HMAC-SHA256 Credential=a/2026/r/p/aliyun_v4_request,SignedHeaders=h,Signature=s"
        )
        .contains("Credential"));
        assert!(
            parse("ACS4-HMAC-SHA256 Credential=a/20260102/r/p/aliyun_v4_request,Signature=s")
                .contains("SignedHeaders")
        );
    }
}
