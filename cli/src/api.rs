//! Signed OpenAPI calls (signature V1, every parameter in the query, as ali-instance-cli sends
//! them) to any of the products a lab serves — ECS, RAM, STS and KMS, told apart by the signed
//! `Version` — and the `axt api` command built on them ([`command`]). A given endpoint serves
//! them all; without one, each product is called at its public name
//! ([`Settings::endpoint_for`]), through `HTTPS_PROXY` when set, as the SDKs do.
//!
//! A `RamRoleArn` profile signs with temporary credentials: [`assume`] gets them from STS
//! AssumeRole with the profile's own key before the first call, and again when they are about
//! to expire.

mod assume;
mod command;
mod params;
mod product;

use std::time::Duration;

use anyhow::Context as _;
use axt_proto::openapi::{v1, Credentials, Params, TIMESTAMP_FORMAT};
use serde_json::Value;

use crate::{
    profile::{AccessKey, Settings},
    tls,
};
pub use command::run;
pub use params::{parse_params, take_explain, ParamError};
pub use product::Product;

/// A call may wait this long for the endpoint to accept the connection...
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// ...and this long for the whole answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// An error body of the service: `{RequestId, HostId, Code, Message, Recommend}`, and on an
/// authorization refusal `AccessDeniedDetail`.
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
    /// The whole body, as the service sent it.
    pub body: Value,
}

impl ApiError {
    /// `AccessDeniedDetail`, when RAM policies refused the call (`Forbidden.RAM`,
    /// `NoPermission`).
    pub fn access_denied(&self) -> Option<&Value> {
        self.body
            .get("AccessDeniedDetail")
            .filter(|detail| detail.is_object())
    }
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
    /// A successful answer without a field the caller needs.
    #[error("{action} answered without {missing}")]
    Incomplete {
        action: &'static str,
        missing: &'static str,
    },
    /// The profile's role could not be assumed, so nothing was called.
    #[error("assuming the role {role_arn} (profile mode RamRoleArn)")]
    AssumeRole {
        role_arn: String,
        source: Box<CallError>,
    },
}

impl CallError {
    /// The service's error, also when it refused the AssumeRole before the call.
    pub fn service(&self) -> Option<&ApiError> {
        match self {
            Self::Service(error) => Some(error),
            Self::AssumeRole { source, .. } => source.service(),
            _ => None,
        }
    }
}

/// Makes signed calls for one identity in one region.
pub struct ApiClient {
    http: reqwest::Client,
    settings: Settings,
    /// The role's temporary key, once assumed (RamRoleArn profiles only).
    assumed: assume::Cache,
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
        // reqwest honours HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY (either case) as the
        // SDKs do, which is how the public names reach a lab through `axt proxy`. A lab
        // endpoint on this machine is never behind the user's proxy, though.
        if settings.endpoint_given() && is_loopback(&settings.endpoint.host_port) {
            http = http.no_proxy();
        }
        Ok(Self {
            http: http.build().context("building the HTTP client")?,
            settings: settings.clone(),
            assumed: assume::Cache::default(),
        })
    }

    /// Calls the ECS `action` with `params` (RegionId added unless present) and returns the
    /// JSON answer.
    pub async fn call(&self, action: &str, params: Params) -> Result<Value, CallError> {
        self.call_to(Product::Ecs, action, params).await
    }

    /// Calls `action` of `product`. ECS and KMS calls get the region's `RegionId` unless they
    /// name one (a KMS key lives in a region); RAM and STS are global services and get none.
    pub async fn call_to(
        &self,
        product: Product,
        action: &str,
        mut params: Params,
    ) -> Result<Value, CallError> {
        if matches!(product, Product::Ecs | Product::Kms) {
            params
                .entry("RegionId".to_owned())
                .or_insert_with(|| self.settings.region.clone());
        }
        let key = match self.settings.role() {
            Some(role) => self.assumed.key(self, role).await?,
            None => self
                .settings
                .access_key()
                .expect("checked when the client was made")
                .clone(),
        };
        self.send(product, action, params, &key).await
    }

    /// Signs `params` for `action` of `product` with `key` and posts them.
    async fn send(
        &self,
        product: Product,
        action: &str,
        mut params: Params,
        key: &AccessKey,
    ) -> Result<Value, CallError> {
        params.insert("Action".to_owned(), action.to_owned());
        // Set before signing: the signer adds the ECS version only where none is given.
        params.insert("Version".to_owned(), product.version().to_owned());
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
        let url = self.settings.endpoint_for(product).url();
        tracing::debug!(action, ?product, %url, "calling");

        // Without the URL: the query (signature and all) would fill the screen twice.
        let transport = |source: reqwest::Error| CallError::Transport {
            url: url.clone(),
            source: source.without_url(),
        };
        // The body stays empty, as in ali-instance-cli: the form Content-Type with no form.
        let response = self
            .http
            .post(&url)
            .query(&params)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-acs-action", action)
            .header("x-acs-version", product.version())
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = response.text().await.map_err(transport)?;
        let Ok(json) = serde_json::from_str::<Value>(&body) else {
            return Err(CallError::NotJson {
                url: url.clone(),
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
            body: json,
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_refusal_carries_its_detail() {
        let error = |body: Value| ApiError {
            status: 403,
            code: "Forbidden.RAM".into(),
            message: String::new(),
            request_id: String::new(),
            body,
        };
        let refused = error(serde_json::json!({"AccessDeniedDetail": {"AuthAction": "ecs:X"}}));
        assert_eq!(refused.access_denied().unwrap()["AuthAction"], "ecs:X");
        assert!(error(serde_json::json!({"Code": "Forbidden.RAM"}))
            .access_denied()
            .is_none());
        let wrapped = CallError::AssumeRole {
            role_arn: "acs:ram::1:role/r".into(),
            source: Box::new(CallError::Service(refused)),
        };
        assert!(wrapped.service().unwrap().access_denied().is_some());
    }
}
