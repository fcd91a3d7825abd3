//! Who may ask what. Every request must name the console by a Host it answers to (on a loopback
//! listener, only loopback names: a page of another site that rebinds its name to 127.0.0.1
//! gets nothing); every POST and WebSocket upgrade must come from the console's own page
//! (`Origin: http://<Host>`); and everything but sign-in needs the cookie session, every POST
//! also its CSRF token in `X-Axt-Csrf`.

use std::{net::IpAddr, sync::Arc, time::Instant};

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse as _, Response},
};

use super::{reply::Failure, store::SignedIn, Console};

/// The cookie that carries a console session.
pub const COOKIE: &str = "axt_console";

/// The header every POST carries the CSRF token in.
pub const CSRF_HEADER: &str = "x-axt-csrf";

/// Middleware: the Host and Origin checks of every request.
pub async fn check_origin(
    State(console): State<Arc<Console>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let Some(host) = host.filter(|h| host_allowed(h, console.loopback_only)) else {
        return Failure::new(
            StatusCode::MISDIRECTED_REQUEST,
            "Console.BadHost",
            "this console answers only to the name it was opened by (127.0.0.1 or localhost)",
        )
        .into_response();
    };
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if request.method() == Method::POST || upgrade {
        let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
        let own = format!("http://{host}");
        if !origin.is_some_and(|o| o.eq_ignore_ascii_case(&own)) {
            return Failure::new(
                StatusCode::FORBIDDEN,
                "Console.BadOrigin",
                format!("only the console's own page ({own}) may do this"),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Whether `host` (the Host header, `name[:port]`) may be answered: any, unless the console
/// listens on loopback only, when it must be `localhost` or a loopback address.
fn host_allowed(host: &str, loopback_only: bool) -> bool {
    if !loopback_only {
        return !host.is_empty();
    }
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(inside, _)| inside),
        None => host.split_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The value of the console's cookie in `headers`.
pub fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The signed-in principal of a GET (cookie only) or 401.
pub fn reader(console: &Console, headers: &HeaderMap) -> Result<Arc<SignedIn>, Failure> {
    cookie(headers)
        .and_then(|cookie| console.store.get(cookie, Instant::now()))
        .ok_or_else(Failure::not_signed_in)
}

/// The signed-in principal of a POST: the cookie, and its CSRF token in `X-Axt-Csrf` (403
/// when missing or wrong).
pub fn writer(console: &Console, headers: &HeaderMap) -> Result<Arc<SignedIn>, Failure> {
    let session = reader(console, headers)?;
    let token = headers.get(CSRF_HEADER).and_then(|t| t.to_str().ok());
    if !token.is_some_and(|t| session.csrf_matches(t)) {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            "Console.CsrfMismatch",
            "the X-Axt-Csrf header is missing or not this session's token (reload the page)",
        ));
    }
    Ok(session)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_listeners_answer_loopback_names_only() {
        for host in [
            "127.0.0.1:8090",
            "localhost:1",
            "LOCALHOST",
            "[::1]:8090",
            "127.9.0.1",
        ] {
            assert!(host_allowed(host, true), "{host}");
        }
        for host in [
            "evil.test:8090",
            "10.0.0.1:8090",
            "[fe80::1]:1",
            "",
            "localhost.evil.test",
        ] {
            assert!(!host_allowed(host, true), "{host}");
        }
        assert!(host_allowed("lab.example.test:8090", false));
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, "a=1; axt_console=abc".parse().unwrap());
        assert_eq!(cookie(&headers), Some("abc"));
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, "x=1".parse().unwrap());
        headers.append(header::COOKIE, "axt_console=def; y=2".parse().unwrap());
        assert_eq!(cookie(&headers), Some("def"));
        headers.clear();
        headers.append(header::COOKIE, "axt_consolex=1".parse().unwrap());
        assert_eq!(cookie(&headers), None);
    }
}
