//! The temporary key of a `RamRoleArn` profile: STS AssumeRole, signed with the profile's own
//! key, on the same endpoint as every other call, and kept until shortly before it expires —
//! as the aliyun CLI's credential provider does, but for the life of one `axt` process only
//! (nothing temporary is written to disk).

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::Mutex;

use super::{ApiClient, CallError, Product};
use crate::profile::{AccessKey, RoleToAssume};

/// A key this close to its `Expiration` is renewed before the next call, so that a call is
/// never signed with a key that dies on the way (a long `axt portforward` ends its session
/// with EndTerminalSession, possibly hours after it started).
const RENEW_BEFORE: chrono::Duration = chrono::Duration::seconds(60);

/// The role's current temporary key, if any. Behind an async mutex so that concurrent calls
/// wait for one AssumeRole instead of each making their own.
#[derive(Default)]
pub(super) struct Cache(Mutex<Option<Temporary>>);

/// What AssumeRole answered.
#[derive(Clone)]
struct Temporary {
    key: AccessKey,
    /// `Credentials.Expiration`; `None` when the answer gave none that parses (then the key is
    /// used until the process ends).
    expires: Option<DateTime<Utc>>,
}

impl Cache {
    /// The key to sign with: the cached one while fresh, else a new one from STS.
    pub(super) async fn key(
        &self,
        client: &ApiClient,
        role: &RoleToAssume,
    ) -> Result<AccessKey, CallError> {
        let mut held = self.0.lock().await;
        let now = Utc::now();
        if let Some(temporary) = held.as_ref().filter(|t| t.fresh(now)) {
            return Ok(temporary.key.clone());
        }
        let wrap = |source: CallError| CallError::AssumeRole {
            role_arn: role.arn.clone(),
            source: Box::new(source),
        };
        let source_key = client
            .settings
            .access_key()
            .expect("checked when the client was made");
        let answer = client
            .send(Product::Sts, "AssumeRole", role.params(), source_key)
            .await
            .map_err(wrap)?;
        let temporary = Temporary::from_answer(&answer).map_err(wrap)?;
        tracing::debug!(role = %role.arn, key = %temporary.key.id, "assumed the role");
        *held = Some(temporary.clone());
        Ok(temporary.key)
    }
}

impl Temporary {
    /// Reads `{Credentials: {AccessKeyId, AccessKeySecret, SecurityToken, Expiration}}`.
    fn from_answer(answer: &Value) -> Result<Self, CallError> {
        let credentials = &answer["Credentials"];
        let field = |name: &'static str| {
            credentials[name]
                .as_str()
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or(CallError::Incomplete {
                    action: "AssumeRole",
                    missing: name,
                })
        };
        Ok(Self {
            key: AccessKey {
                id: field("AccessKeyId")?,
                secret: field("AccessKeySecret")?,
                sts_token: Some(field("SecurityToken")?),
            },
            expires: credentials["Expiration"]
                .as_str()
                .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                .map(|at| at.with_timezone(&Utc)),
        })
    }

    /// Whether the key may still sign a call made `now`.
    fn fresh(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_none_or(|at| now + RENEW_BEFORE < at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_credentials_of_an_assume_role_answer() {
        let answer = serde_json::json!({
            "RequestId": "r",
            "AssumedRoleUser": {"Arn": "acs:ram::1:assumed-role/admin/s", "AssumedRoleId": "3:s"},
            "Credentials": {
                "AccessKeyId": "STS.abc",
                "AccessKeySecret": "secret",
                "SecurityToken": "token",
                "Expiration": "2030-01-02T03:04:05Z"
            }
        });
        let temporary = Temporary::from_answer(&answer).unwrap();
        assert_eq!(temporary.key.id, "STS.abc");
        assert_eq!(temporary.key.sts_token.as_deref(), Some("token"));
        let expires = temporary.expires.unwrap();
        assert_eq!(expires.to_rfc3339(), "2030-01-02T03:04:05+00:00");
        assert!(temporary.fresh(expires - chrono::Duration::seconds(61)));
        assert!(!temporary.fresh(expires - chrono::Duration::seconds(59)));

        let mut missing = answer.clone();
        missing["Credentials"]
            .as_object_mut()
            .unwrap()
            .remove("SecurityToken");
        assert!(matches!(
            Temporary::from_answer(&missing),
            Err(CallError::Incomplete {
                missing: "SecurityToken",
                ..
            })
        ));
    }
}
