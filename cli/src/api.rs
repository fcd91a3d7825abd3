//! Signed OpenAPI calls (signature V1, every parameter in the query, as ali-instance-cli sends
//! them) and the `axt api` command built on them.

use std::{process::ExitCode, time::Duration};

use anyhow::Context as _;
use axt_proto::openapi::{v1, Credentials, Params, API_VERSION, TIMESTAMP_FORMAT};
use serde_json::Value;

use crate::{args::ApiArgs, profile::Settings, tls};

/// A call may wait this long for the endpoint to accept the connection...
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// ...and this long for the whole answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// An error body of the service: `{RequestId, HostId, Code, Message, Recommend}`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message} ({request_id})")]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// `Code`, e.g. `InvalidAction.NotFound`.
    pub code: String,
    /// `Message`.
    pub message: String,
    /// `RequestId`, what a bug report needs.
    pub request_id: String,
}

/// Why a call produced no JSON answer. `Service` is the one callers show as the service said it.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Service(#[from] ApiError),
    #[error("calling {url}")]
    Transport { url: String, source: reqwest::Error },
    #[error("{url} answered HTTP {status} with a body that is not JSON: {body}")]
    NotJson {
        url: String,
        status: u16,
        body: String,
    },
}

/// Why a `--Name value` list could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("expected a parameter name like --InstanceId.1, got {0:?}")]
    NotAName(String),
    #[error("--{0} needs a value (write --{0}= for an empty one)")]
    MissingValue(String),
    #[error("--{0} is an option of axt: put it before the action")]
    GlobalOption(String),
}

/// The options of `axt` that users may type after the action by habit.
const GLOBAL_OPTIONS: &[&str] = &[
    "access-key-id",
    "access-key-secret",
    "profile",
    "config-path",
    "endpoint",
    "endpoint-protocol",
    "region",
    "ca-cert",
    "help",
];

/// Reads `--Name value` and `--Name=value` pairs into parameters.
pub fn parse_params(args: &[String]) -> Result<Params, ParamError> {
    let mut params = Params::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let Some(name) = arg.strip_prefix("--").filter(|n| !n.is_empty()) else {
            return Err(ParamError::NotAName(arg.clone()));
        };
        let (name, value) = match name.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => {
                // A value may itself start with a dash (`--Description -x-`), but not with `--`.
                let value = rest
                    .next()
                    .filter(|v| !v.starts_with("--"))
                    .ok_or_else(|| ParamError::MissingValue(name.to_owned()))?;
                (name.to_owned(), value.clone())
            }
        };
        if GLOBAL_OPTIONS.contains(&name.as_str()) {
            return Err(ParamError::GlobalOption(name));
        }
        params.insert(name, value);
    }
    Ok(params)
}

/// Makes signed calls for one AccessKey in one region.
pub struct ApiClient {
    http: reqwest::Client,
    url: String,
    settings: Settings,
}

impl ApiClient {
    /// A client for `settings`; fails without credentials, before any traffic.
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        settings.access_key()?;
        let mut http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("axt/", env!("CARGO_PKG_VERSION")))
            .use_preconfigured_tls(
                tls::client_config(settings.ca_cert.as_deref())?
                    .as_ref()
                    .clone(),
            );
        // A lab on this machine is never behind the user's HTTP proxy, though reqwest would
        // honour HTTP(S)_PROXY for it like the SDKs do.
        if is_loopback(&settings.endpoint.host_port) {
            http = http.no_proxy();
        }
        Ok(Self {
            http: http.build().context("building the HTTP client")?,
            url: settings.endpoint.url(),
            settings: settings.clone(),
        })
    }

    /// Calls `action` with `params` (RegionId added unless present) and returns the JSON answer.
    pub async fn call(&self, action: &str, mut params: Params) -> Result<Value, CallError> {
        let key = self
            .settings
            .access_key()
            .expect("checked when the client was made");
        params.insert("Action".to_owned(), action.to_owned());
        params
            .entry("RegionId".to_owned())
            .or_insert_with(|| self.settings.region.clone());
        if let Some(token) = &key.sts_token {
            params.insert("SecurityToken".to_owned(), token.clone());
        }
        let timestamp = chrono::Utc::now().format(TIMESTAMP_FORMAT).to_string();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let credentials = Credentials {
            access_key_id: &key.id,
            secret: &key.secret,
        };
        v1::sign_request("POST", &mut params, credentials, &timestamp, &nonce);
        tracing::debug!(action, url = %self.url, "calling");

        // Without the URL: the query (signature and all) would fill the screen twice.
        let transport = |source: reqwest::Error| CallError::Transport {
            url: self.url.clone(),
            source: source.without_url(),
        };
        // The body stays empty, as in ali-instance-cli: the form Content-Type with no form.
        let response = self
            .http
            .post(&self.url)
            .query(&params)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-acs-action", action)
            .header("x-acs-version", API_VERSION)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = response.text().await.map_err(transport)?;
        let Ok(json) = serde_json::from_str::<Value>(&body) else {
            return Err(CallError::NotJson {
                url: self.url.clone(),
                status: status.as_u16(),
                body: body.chars().take(500).collect(),
            });
        };
        if status.is_success() {
            return Ok(json);
        }
        let field = |name: &str| json[name].as_str().unwrap_or("").to_owned();
        let code = Some(field("Code"))
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        Err(ApiError {
            status: status.as_u16(),
            code,
            message: field("Message"),
            request_id: field("RequestId"),
        }
        .into())
    }
}

/// Whether `host:port` names this machine (`127.0.0.0/8`, `[::1]`, `localhost`).
fn is_loopback(host_port: &str) -> bool {
    match reqwest::Url::parse(&format!("http://{host_port}"))
        .ok()
        .and_then(|url| url.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `axt api`: prints the answer pretty-printed; an error body goes to stderr (exit 1).
pub async fn run(settings: &Settings, args: &ApiArgs) -> anyhow::Result<ExitCode> {
    let params = parse_params(&args.params)?;
    let client = ApiClient::new(settings)?;
    let answer = client.call(&args.action, params).await?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_pairs_in_both_spellings() {
        let params = parse_params(&strings(&[
            "--InstanceId.1",
            "i-x",
            "--PortNumber=22",
            "--Empty=",
        ]))
        .unwrap();
        let got: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            got,
            [("Empty", ""), ("InstanceId.1", "i-x"), ("PortNumber", "22")]
        );
        assert_eq!(
            parse_params(&strings(&["--Description", "-x-"])).unwrap()["Description"],
            "-x-"
        );
    }

    #[test]
    fn refuses_what_is_not_a_pair() {
        let err = |args: &[&str]| parse_params(&strings(args)).unwrap_err();
        assert_eq!(err(&["i-x"]), ParamError::NotAName("i-x".into()));
        assert_eq!(
            err(&["--PortNumber"]),
            ParamError::MissingValue("PortNumber".into())
        );
        assert_eq!(
            err(&["--A", "--B", "1"]),
            ParamError::MissingValue("A".into())
        );
        assert_eq!(
            err(&["--region", "cn-beijing"]),
            ParamError::GlobalOption("region".into())
        );
    }

    #[test]
    fn knows_loopback_endpoints() {
        for host in [
            "127.0.0.1:8080",
            "localhost:1",
            "[::1]:8080",
            "127.3.4.5:80",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["10.0.0.1:8080", "ecs.example.test:443", "ecs.example.test"] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
