//! What the console answers besides successes: its own errors, in the shape of the service's
//! (`{"Code","Message","RequestId"}`, so the front end shows every failure one way), a failed
//! call's error body passed through, and the security headers every response carries.

use axum::{
    http::{header, HeaderName, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};

use crate::api::CallError;

/// `Content-Security-Policy` of every response: nothing from elsewhere, no inline script;
/// inline styles because xterm.js and asciinema-player set them.
// asciinema-player compiles its terminal emulator to WebAssembly, which needs
// 'wasm-unsafe-eval' (it allows compiling wasm only; `eval` of strings stays refused).
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
                       img-src 'self' data:; style-src 'self' 'unsafe-inline'";

/// Why a request got no success: the console's own error, or the service's.
#[derive(Debug)]
pub enum Failure {
    /// The console refused or could not do it.
    Console {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// The control plane's error body, with its status, unchanged (denials keep their
    /// `AccessDeniedDetail`).
    Service { status: u16, body: Value },
}

impl Failure {
    /// An error of the console itself.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Console {
            status,
            code,
            message: message.into(),
        }
    }

    /// 401: no cookie session, or it has ended.
    pub fn not_signed_in() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Console.NotSignedIn",
            "sign in first (the session may have expired)",
        )
    }

    /// 400: a request the console cannot make sense of.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidParameter", message)
    }
}

impl From<CallError> for Failure {
    /// The service's error as it sent it; anything else (no answer, not JSON) is a 502.
    fn from(failure: CallError) -> Self {
        if let Some(service) = failure.service() {
            return Self::Service {
                status: service.status,
                body: service.body.clone(),
            };
        }
        let why = crate::error_line(&anyhow::Error::new(failure));
        tracing::warn!(error = %why, "call failed");
        Self::new(
            StatusCode::BAD_GATEWAY,
            "Console.ControlPlaneUnreachable",
            "the console could not get an answer from the control plane (see its log)",
        )
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Self::Console {
                status,
                code,
                message,
            } => {
                let body = json!({
                    "Code": code,
                    "Message": message,
                    "RequestId": uuid::Uuid::new_v4().to_string().to_uppercase(),
                });
                (status, Json(body)).into_response()
            }
            Self::Service { status, body } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                (status, Json(body)).into_response()
            }
        }
    }
}

/// Unknown routes: JSON, like everything under /api.
pub async fn not_found(method: Method, uri: Uri) -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        "Console.NotFound",
        format!("no such route: {method} {}", uri.path()),
    )
}

/// A known route with another method.
pub async fn method_not_allowed(method: Method, uri: Uri) -> Failure {
    Failure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Console.MethodNotAllowed",
        format!("{} does not take {method}", uri.path()),
    )
}

/// Adds the security headers to `response` (and keeps API answers out of caches).
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &'static str); 4] = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // Assets say `no-cache` themselves (revalidate); answers of the API are never kept.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
