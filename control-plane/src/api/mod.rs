//! The RPC OpenAPI at `/`: decode the parameters, authenticate, dispatch the Action, and answer
//! JSON — a result with `RequestId`, or an Alibaba error body.

mod actions;
mod auth;
mod authz;
mod error;
mod host;
pub(crate) mod kms;
mod params;
mod ram;
mod sts;

use std::{net::SocketAddr, sync::Arc, time::Instant};

use axt_proto::openapi::{parse_form, Params, API_VERSION, KMS_VERSION, RAM_VERSION, STS_VERSION};
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, ConnectInfo, State},
    http::{header, HeaderMap, Method, Uri},
    response::{IntoResponse, Response},
    routing::any,
    Router,
};

pub use auth::{Caller, Principal};
pub use error::{ApiError, ErrorCode};
pub use params::Args;

use crate::{ids, Shared};

/// The routes of the OpenAPI: `/`, and an Alibaba error for every other path.
pub fn router() -> Router<Arc<Shared>> {
    Router::new().route("/", any(handle)).fallback(any(handle))
}

/// Everything an Action handler needs to know about its call.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub caller: Caller,
    pub args: Args<'a>,
    pub action: String,
    /// The product the call is for.
    pub product: Product,
    pub request_id: String,
    pub client_ip: String,
    /// The region a signature V4 credential scope names (signed, so the caller's own word);
    /// `None` for V1 and V3, which name none. KMS acts there when given no `RegionId`.
    pub scope_region: Option<String>,
}

impl Ctx<'_> {
    /// The mandatory `RegionId`, checked against the configured regions.
    pub fn region(&self) -> Result<&str, ApiError> {
        self.optional_region()?
            .ok_or_else(|| ApiError::missing("RegionId"))
    }

    /// The `RegionId` when given, checked against the configured regions: one the lab does not
    /// serve is `InvalidRegionId.NotFound`, the real ECS's answer for a region it does not
    /// have (ecs-openapi.md §6).
    pub fn optional_region(&self) -> Result<Option<&str>, ApiError> {
        match self.args.str("RegionId") {
            Some(region) if !self.shared.config.regions.iter().any(|r| r == region) => {
                Err(ApiError::from(ErrorCode::RegionNotFound))
            }
            region => Ok(region),
        }
    }

    /// The mandatory `RegionId` of a Session Manager action (Start/End/DescribeTerminalSessions):
    /// a region of `--session-unsupported-regions` answers `RegionId.ApiNotSupported`.
    pub fn session_region(&self) -> Result<&str, ApiError> {
        let region = self.region()?;
        if self
            .shared
            .config
            .session_unsupported_regions
            .iter()
            .any(|r| r == region)
        {
            return Err(ApiError::from(ErrorCode::RegionApiNotSupported));
        }
        Ok(region)
    }

    /// Records the call in the audit log.
    pub async fn audit(&self, resource_id: &str) -> Result<(), ApiError> {
        let c = &self.caller;
        Ok(self
            .shared
            .store
            .audit(
                &self.request_id,
                &c.access_key_id,
                &self.action,
                resource_id,
            )
            .await?)
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let request_id = ids::request_id();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    // Until the signed Version says otherwise, an error is the addressed endpoint's.
    let host = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.as_str());
    let mut seen = Seen {
        product: host::product(host),
        ..Seen::default()
    };
    let result = match body {
        // The RPC OpenAPI is served at `/` only.
        _ if uri.path() != "/" => Err(ApiError::saying(
            ErrorCode::ActionNotFound,
            format!(
                "Specified api is not found, please check your url and method: {} is not served; the OpenAPI is at /.",
                uri.path()
            ),
        )),
        // Too large (over axum's 2 MiB), cut short, or badly chunked: answered like any other
        // bad request, in the service's own format.
        Err(rejection) => Err(ApiError::saying(
            ErrorCode::InvalidParameter,
            format!("The request body cannot be read: {}", rejection.body_text()),
        )),
        Ok(body) => {
            process(
                &shared,
                &request_id,
                peer,
                &method,
                &uri,
                &headers,
                &body,
                &mut seen,
            )
            .await
        }
    };
    let (status, body) = match result {
        Ok(mut value) => {
            value["RequestId"] = request_id.clone().into();
            (axum::http::StatusCode::OK, value)
        }
        Err(e) => {
            // Each product answers under its own host name.
            let (host_id, name) = match seen.product {
                Some(Product::Ram) => ("ram.aliyuncs.com", "Ram"),
                Some(Product::Sts) => ("sts.aliyuncs.com", "Sts"),
                Some(Product::Kms) => ("kms.aliyuncs.com", "Kms"),
                _ => (shared.config.host_id.as_str(), "Ecs"),
            };
            (e.status(), e.body(&request_id, host_id, name))
        }
    };
    // Never the parameters, the headers or the error message: those carry the signature and
    // the server's string to sign. The Action is the claimed one when the call was refused
    // before its signature verified (`signed=false`).
    let Seen {
        action, verified, ..
    } = seen;
    tracing::info!(
        target: "axt::api",
        %request_id, action, signed = verified, status = status.as_u16(),
        code = body.get("Code").and_then(|c| c.as_str()).unwrap_or(""),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "openapi call"
    );
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                "application/json;charset=utf-8".to_owned(),
            ),
            (
                header::HeaderName::from_static("x-acs-request-id"),
                request_id,
            ),
        ],
        body.to_string(),
    )
        .into_response()
}

#[allow(clippy::too_many_arguments)]
async fn process(
    shared: &Shared,
    request_id: &str,
    peer: SocketAddr,
    method: &Method,
    uri: &Uri,
    headers: &[(String, String)],
    body: &[u8],
    seen: &mut Seen,
) -> Result<serde_json::Value, ApiError> {
    if method != Method::GET && method != Method::POST {
        return Err(ApiError::from(ErrorCode::UnsupportedHttpMethod));
    }
    let mut params = Params::new();
    parse_form(uri.query().unwrap_or(""), &mut params);
    // Signature V4 covers the query alone (the body by its hash), so it is kept apart.
    let query = params.clone();
    let is_form = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("content-type") && v.starts_with("application/x-www-form-urlencoded")
    });
    if is_form {
        parse_form(&String::from_utf8_lossy(body), &mut params);
    }
    seen.action = host::claimed_action(&params, headers);
    let signed = auth::Signed {
        method: method.as_str(),
        path: uri.path(),
        params: &params,
        query: &query,
        headers,
        body,
    };
    // The Action and Version come back from the verifier: only a signed place may name them.
    let auth::Authenticated {
        caller,
        action,
        version,
        scope_region,
    } = auth::authenticate(shared, &signed).await?;
    action.clone_into(&mut seen.action);
    seen.verified = true;
    // The signed Version says which product is asked; on a product's endpoint name it must be
    // that product's. The Host is unsigned in V1, and harmless: it can only narrow what a
    // signed call may do, never widen it. (The client IP is the TCP peer, never a header; the
    // content-type only decides whether the body's parameters join the map, and that map is
    // what the signature covers, so flipping it breaks the signature.)
    let product =
        Product::of_version(&version).ok_or_else(|| ApiError::from(ErrorCode::InvalidVersion))?;
    host::check(signed.header("host"), product)?;
    seen.product = Some(product);
    let ctx = Ctx {
        shared,
        caller,
        args: Args(&params),
        action,
        product,
        request_id: request_id.to_owned(),
        client_ip: peer.ip().to_string(),
        scope_region,
    };
    authz::authorize(&ctx).await?;
    match product {
        Product::Ecs => actions::dispatch(&ctx).await,
        Product::Ram => ram::dispatch(&ctx).await,
        Product::Sts => sts::dispatch(&ctx).await,
        Product::Kms => kms::dispatch(&ctx).await,
    }
}

/// What a call turned out to be, as far as it got: for its log line and its error body.
#[derive(Debug, Default)]
struct Seen {
    /// The signed Action once the signature verified; before that, the claimed one.
    action: String,
    /// Whether the signature verified.
    verified: bool,
    /// The product: the signed Version's, else the addressed endpoint name's.
    product: Option<Product>,
}

/// The cloud product a call is for, by its API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    /// ECS, `2014-05-26`.
    Ecs,
    /// RAM, `2015-05-01`.
    Ram,
    /// STS, `2015-04-01`.
    Sts,
    /// KMS, `2016-01-20`.
    Kms,
}

impl Product {
    /// The product of an API version.
    pub fn of_version(version: &str) -> Option<Self> {
        match version {
            API_VERSION => Some(Self::Ecs),
            RAM_VERSION => Some(Self::Ram),
            STS_VERSION => Some(Self::Sts),
            KMS_VERSION => Some(Self::Kms),
            _ => None,
        }
    }

    /// The prefix of the product's RAM actions (`ecs:StartTerminalSession`).
    pub fn service(self) -> &'static str {
        match self {
            Self::Ecs => "ecs",
            Self::Ram => "ram",
            Self::Sts => "sts",
            Self::Kms => "kms",
        }
    }
}
