//! `axt iam explain`: an EncodedDiagnosticMessage decoded by RAM `DecodeDiagnosticMessage` and
//! told as text — who was refused, then [`axt_iam::explain::render`] of the evaluation's trace.
//! Also what follows a refusal on a terminal, or with `--explain` ([`report_refusal`]).

use std::{io::Read as _, process::ExitCode};

use anyhow::Context as _;
use axt_iam::Trace;
use axt_proto::openapi::Params;
use serde::Deserialize;
use serde_json::Value;

use crate::{
    api::{ApiClient, ApiError, CallError, Product},
    args::ExplainArgs,
    profile::Settings,
};

/// The field that carries the message, in an error body and in its `AccessDeniedDetail`.
const FIELD: &str = "EncodedDiagnosticMessage";

/// What axtlab's control plane seals into a message: who was refused, and the whole trace.
#[derive(Debug, Deserialize)]
pub struct Diagnostic {
    pub principal_arn: String,
    pub principal_type: String,
    pub account_id: String,
    pub trace: Trace,
}

/// `axt iam explain`.
pub async fn run(settings: &Settings, args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let text = match (&args.from, args.encoded.as_deref()) {
        (Some(path), _) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        (None, Some(encoded)) if encoded != "-" => encoded.to_owned(),
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the message from stdin")?;
            text
        }
    };
    let encoded = find_encoded(&text).context(
        "no EncodedDiagnosticMessage found: pass the message itself, or an error body that \
         holds one",
    )?;
    let client = ApiClient::new(settings)?;
    print!("{}", explain(&client, &encoded).await?);
    Ok(ExitCode::SUCCESS)
}

/// The message in `text`: the value of the first `EncodedDiagnosticMessage` of the first JSON
/// object in it (what `axt api` prints on a refusal, an SDK's error data, the detail alone;
/// text after the object is ignored), else `text` itself when it is one base64 word.
pub fn find_encoded(text: &str) -> Option<String> {
    if let Some(start) = text.find('{') {
        let mut values = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        if let Some(Ok(value)) = values.next() {
            return find_field(&value).map(str::to_owned);
        }
    }
    let word = text.trim();
    let base64 = |b: u8| b.is_ascii_alphanumeric() || b"+/=".contains(&b);
    (!word.is_empty() && word.bytes().all(base64)).then(|| word.to_owned())
}

/// The first non-empty `EncodedDiagnosticMessage` string anywhere in `value`.
fn find_field(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) => map
            .get(FIELD)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .or_else(|| map.values().find_map(find_field)),
        Value::Array(items) => items.iter().find_map(find_field),
        _ => None,
    }
}

/// Decodes `encoded` and tells it: the principal, then the trace rendered.
pub async fn explain(client: &ApiClient, encoded: &str) -> Result<String, CallError> {
    let mut params = Params::new();
    params.insert(FIELD.into(), encoded.into());
    let answer = client
        .call_to(Product::Ram, "DecodeDiagnosticMessage", params)
        .await?;
    Ok(tell(&answer["DecodedDiagnosticMessage"]))
}

/// The text for a `DecodedDiagnosticMessage`: the principal, then the trace rendered. axtlab
/// answers RAM's shape (`AuthPrincipal`, `MatchedPolicies`, …) with the whole trace added as
/// `AxtlabTrace`; its sealed diagnostic itself (JSON text or object) reads the same. Anything
/// else — RAM's shape without a trace — is pretty-printed as it came.
pub fn tell(decoded: &Value) -> String {
    let parsed = match decoded {
        Value::String(text) => serde_json::from_str::<Value>(text).unwrap_or(Value::Null),
        other => other.clone(),
    };
    if let Ok(d) = serde_json::from_value::<Diagnostic>(parsed.clone()) {
        return told(&d.principal_arn, &d.principal_type, &d.account_id, &d.trace);
    }
    let trace = parsed
        .get("AxtlabTrace")
        .and_then(|t| serde_json::from_value::<Trace>(t.clone()).ok());
    if let Some(trace) = trace {
        let principal = &parsed["AuthPrincipal"];
        let text = |key: &str| principal[key].as_str().unwrap_or("");
        let (kind, name, account) = (
            text("AuthPrincipalType"),
            text("AuthPrincipalDisplayName"),
            text("AuthPrincipalOwnerId"),
        );
        return told(&principal_arn(kind, name, account), kind, account, &trace);
    }
    let shown = if parsed.is_null() { decoded } else { &parsed };
    format!(
        "{}\n",
        serde_json::to_string_pretty(shown).unwrap_or_default()
    )
}

/// The ARN of a principal RAM names by type and display name: a user by its name, a role's
/// session as `<role>:<session>`.
fn principal_arn(kind: &str, name: &str, account: &str) -> String {
    match (kind, name.split_once(':')) {
        ("SubUser", _) => axt_iam::arn::user(account, name),
        ("AssumedRoleUser", Some((role, session))) => {
            axt_iam::arn::assumed_role(account, role, session)
        }
        _ => name.to_owned(),
    }
}

/// `Principal: <arn> (<type>, account <id>)`, then the rendered trace.
fn told(arn: &str, kind: &str, account: &str, trace: &Trace) -> String {
    format!(
        "Principal: {arn} ({kind}, account {account})\n{}",
        axt_iam::explain::render(trace)
    )
}

/// What a refused command prints on stderr: the whole error body as JSON (to save and pass
/// to `axt iam explain --from`), then, when `explain`, why — decoded with the caller's own key
/// (the role's, or for a refused AssumeRole the key that asked).
pub async fn report_refusal(settings: &Settings, error: &ApiError, wanted: bool) {
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&error.body).unwrap_or_default()
    );
    let Some(encoded) = find_field(&error.body).map(str::to_owned) else {
        return;
    };
    if !wanted {
        return;
    }
    let explained = match ApiClient::new(settings) {
        Ok(client) => explain(&client, &encoded)
            .await
            .map_err(anyhow::Error::from),
        Err(err) => Err(err),
    };
    match explained {
        Ok(text) => eprint!("\n{text}"),
        Err(err) => eprintln!(
            "\n{}\n(decoding needs ram:DecodeDiagnosticMessage: `axt iam explain` with a key \
             that has it decodes the {FIELD} above)",
            crate::error_line(&err)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_message_in_what_people_save() {
        let body = json!({"Code": "Forbidden.RAM", "RequestId": "r",
            "AccessDeniedDetail": {"AuthAction": "ecs:X", FIELD: "AQEAAA+/="}});
        let pretty = serde_json::to_string_pretty(&body).unwrap();
        assert_eq!(find_encoded(&pretty).as_deref(), Some("AQEAAA+/="));
        // An SDK's message around it, the explanation after it.
        let noisy = format!("Error: {pretty}\n\nPrincipal: acs:ram::1:user/u\n");
        assert_eq!(find_encoded(&noisy).as_deref(), Some("AQEAAA+/="));
        assert_eq!(find_encoded("  AQEAAA+/=\n").as_deref(), Some("AQEAAA+/="));
        assert_eq!(find_encoded(r#"{"Code": "Throttling"}"#), None);
        assert_eq!(find_encoded("not a message"), None);
        assert_eq!(find_encoded(""), None);
    }

    #[test]
    fn tells_what_it_cannot_render_as_it_came() {
        let real = json!({"AuthAction": "ecs:X", "ExplicitDeny": false});
        let told = tell(&real);
        assert!(told.contains("\"AuthAction\": \"ecs:X\""), "{told}");
        let text = Value::String(real.to_string());
        assert_eq!(tell(&text), told);
    }

    #[test]
    fn tells_rams_shape_from_the_trace_axtlab_adds() {
        let trace = json!({"action": "ecs:X", "resource": "*", "decision": "ImplicitDeny",
                           "statements": []});
        let decoded = |kind: &str, name: &str| {
            json!({"AuthAction": "ecs:X", "AuthResource": "*", "ExplicitDeny": false,
                   "AuthPrincipal": {"AuthPrincipalType": kind, "AuthPrincipalDisplayName": name,
                                     "AuthPrincipalOwnerId": "1"},
                   "MatchedPolicies": [], "AuthConditions": [], "AxtlabTrace": trace})
        };
        let told = tell(&decoded("SubUser", "op"));
        assert!(
            told.starts_with("Principal: acs:ram::1:user/op (SubUser, account 1)\nImplicitDeny"),
            "{told}"
        );
        let told = tell(&decoded("AssumedRoleUser", "Admin:me"));
        assert!(
            told.starts_with("Principal: acs:ram::1:assumed-role/admin/me (AssumedRoleUser"),
            "{told}"
        );
    }

    #[test]
    fn tells_axtlabs_diagnostic_with_its_principal_first() {
        let diagnostic = json!({
            "principal_arn": "acs:ram::1:user/u", "principal_type": "SubUser", "account_id": "1",
            "trace": {"action": "ecs:X", "resource": "*", "decision": "ImplicitDeny",
                      "statements": []}
        });
        let told = tell(&Value::String(diagnostic.to_string()));
        assert!(
            told.starts_with("Principal: acs:ram::1:user/u (SubUser, account 1)\n"),
            "{told}"
        );
        assert!(told.contains("ImplicitDeny"), "{told}");
        assert_eq!(
            tell(&diagnostic),
            told,
            "an object reads the same as its text"
        );
    }
}
