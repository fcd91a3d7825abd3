//! Having a KMS data key decrypted (Mode `Kms`, docs/encryption.md §2). The agent has no
//! AccessKey and reaches nothing but its gateway, so it asks the gateway, signed with its
//! identity like every agent call: `POST /luban/api/v1/kms/decrypt?channelId=<c>` with
//! `{"ciphertextBlob": …}`, answered `{"code": 200, "plaintext": base64}`. The control plane
//! behind it decrypts only for a live channel of this very instance whose session is encrypted
//! with Mode `Kms` under the blob's own key.

use serde::{Deserialize, Serialize};

use crate::client::{query, Client};

/// The request body.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DecryptRequest<'a> {
    ciphertext_blob: &'a str,
}

/// The answer; only `code` and `plaintext` matter, a refusal may say why.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DecryptAnswer {
    code: i64,
    plaintext: String,
    #[serde(alias = "message")]
    err_msg: String,
}

/// The plaintext (base64, as KMS Decrypt answers it) of `blob`, the data key of the session on
/// `channel_id`; or why not, in words that hold no key material. Not retried: the exchange has
/// 20 s in all, and a refusal will not change.
pub async fn decrypt(client: &Client, channel_id: &str, blob: &str) -> Result<String, String> {
    let path = format!(
        "/luban/api/v1/kms/decrypt{}",
        query(&[("channelId", channel_id)])
    );
    let request = client
        .request(reqwest::Method::POST, &path)
        .map_err(|e| e.to_string())?
        .header("content-type", "application/json; charset=utf-8")
        .body(
            serde_json::to_vec(&DecryptRequest {
                ciphertext_blob: blob,
            })
            .map_err(|e| e.to_string())?,
        );
    let answer: DecryptAnswer = client.send_json(request).await.map_err(|e| e.to_string())?;
    read(answer)
}

fn read(answer: DecryptAnswer) -> Result<String, String> {
    match answer {
        DecryptAnswer {
            code: 200,
            plaintext,
            ..
        } if !plaintext.is_empty() => Ok(plaintext),
        DecryptAnswer { code, err_msg, .. } => {
            // The gateway's own words, cut short: they go into a KeyExchangeError message.
            let why: String = err_msg.chars().take(200).collect();
            Err(format!("the gateway answered code {code}: {why}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_leniently() {
        let parse = |text: &str| read(serde_json::from_str(text).unwrap());
        assert_eq!(
            parse(r#"{"code":200,"plaintext":"QUJD"}"#),
            Ok("QUJD".to_owned())
        );
        let refused = parse(r#"{"code":403,"errMsg":"not this channel"}"#).unwrap_err();
        assert!(refused.contains("403") && refused.contains("not this channel"));
        assert!(parse(r#"{"code":200}"#).is_err());
        assert!(parse(r#"{"code":500,"message":"down"}"#)
            .unwrap_err()
            .contains("down"));
        let body = serde_json::to_string(&DecryptRequest {
            ciphertext_blob: "b",
        })
        .unwrap();
        assert_eq!(body, r#"{"ciphertextBlob":"b"}"#);
    }
}
