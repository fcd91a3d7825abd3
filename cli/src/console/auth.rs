//! Sign-in, sign-out and "who am I". Signing in checks the AccessKey the only way that proves
//! it works: a call signed with it, STS GetCallerIdentity (which any valid key may make and no
//! policy can deny). The key then stays in this process; the browser gets a random cookie
//! (HttpOnly, SameSite=Strict) and a CSRF token.

use std::{sync::Arc, time::Instant};

use axt_proto::openapi::Params;
use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse as _, Response},
    Json,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    guard::{self, COOKIE},
    parse_body,
    reply::Failure,
    store::{Principal, SignedIn},
    Console,
};
use crate::api::Product;

/// `POST /api/signin`'s body. Not `Debug`: it holds the secret.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignInBody {
    access_key_id: String,
    access_key_secret: String,
    #[serde(default)]
    security_token: Option<String>,
}

/// `POST /api/signin`: 200 `{principal, csrf}` and the cookie, or 401 with the API's error.
pub async fn signin(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    let body: SignInBody = parse_body(&body)?;
    let secret = SecretString::from(body.access_key_secret);
    let token = body
        .security_token
        .filter(|t| !t.is_empty())
        .map(SecretString::from);
    let id = body.access_key_id.trim();
    if id.is_empty() || secret.expose_secret().is_empty() {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            "both the AccessKey ID and the AccessKey Secret are needed",
        ));
    }
    let client = console.client_for(id, &secret).map_err(|err| {
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Console.Setup",
            crate::error_line(&err),
        )
    })?;
    let mut params = Params::new();
    if let Some(token) = &token {
        params.insert("SecurityToken".into(), token.expose_secret().to_owned());
    }
    let identity = match client
        .call_to(Product::Sts, "GetCallerIdentity", params)
        .await
    {
        Ok(identity) => identity,
        // The key does not work: the service's own words, as a 401.
        Err(err) => {
            return Err(match Failure::from(err) {
                Failure::Service { body, .. } => Failure::Service { status: 401, body },
                other => other,
            })
        }
    };
    let principal = principal_of(&identity);
    tracing::info!(arn = %principal.arn, "signed in");
    let session = SignedIn::new(principal.clone(), client, token);
    let csrf = session.csrf.clone();
    let now = Instant::now();
    // Signing in again in the same browser replaces its session.
    if let Some(old) = guard::cookie(&headers) {
        console.store.remove(old);
    }
    let cookie = console.store.insert(session, now);
    let mut response = Json(json!({"principal": principal, "csrf": csrf})).into_response();
    let set = format!("{COOKIE}={cookie}; HttpOnly; SameSite=Strict; Path=/");
    if let Ok(value) = HeaderValue::from_str(&set) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `POST /api/signout`: the cookie session ends (and the browser is told to drop the cookie).
pub async fn signout(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let session = guard::writer(&console, &headers)?;
    if let Some(cookie) = guard::cookie(&headers) {
        console.store.remove(cookie);
    }
    tracing::info!(arn = %session.principal.arn, "signed out");
    let mut response = Json(json!({})).into_response();
    let clear = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `GET /api/me`: 200 `{principal, csrf}`, or 401.
pub async fn me(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let session = guard::reader(&console, &headers)?;
    Ok(Json(json!({"principal": session.principal, "csrf": session.csrf})).into_response())
}

/// The principal GetCallerIdentity describes.
fn principal_of(identity: &Value) -> Principal {
    let text = |name: &str| identity[name].as_str().unwrap_or_default().to_owned();
    Principal {
        arn: text("Arn"),
        identity_type: text("IdentityType"),
        account_id: text("AccountId"),
        user_id: identity["UserId"].as_str().map(str::to_owned),
    }
}
