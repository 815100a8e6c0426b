//! Who may reach the node, checked on every request before any route runs: the Host header
//! (against DNS rebinding), the Origin (a page of another site may not use the node), the token
//! (as a bearer header, or as the cookie a one-time login URL gave a browser), the CSRF header a
//! browser must add to a request that changes something, the media type of a body, and the
//! security headers of every answer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use super::api::{AppState, error};

/// The cookie a browser gets from the login URL.
const COOKIE: &str = "mindlog_session";

/// The header a request authorized by the cookie alone must carry to change anything (POST, PUT,
/// PATCH, DELETE): the node's [`csrf_token`], which only its own pages hold.
pub(crate) const CSRF_HEADER: &str = "x-mindlog-csrf";

/// The CSRF token of a node's pages: derived from its token (so it lasts as long as the token
/// does, and reveals nothing of it).
pub(crate) fn csrf_token(token: &str) -> String {
    blake3::derive_key("mindlog 2026-11 dashboard csrf token", token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One-time login codes: each trades once for the session cookie, within [`LOGIN_VALID`].
#[derive(Clone, Default)]
pub(crate) struct LoginCodes(Arc<Mutex<HashMap<String, Instant>>>);

/// How long a login code may wait to be used.
const LOGIN_VALID: Duration = Duration::from_secs(15 * 60);

impl LoginCodes {
    /// A new code (128 random bits, hex).
    pub(crate) fn issue(&self) -> String {
        let mut bytes = [0u8; 16];
        // Without randomness no code is valid: the URL then says nothing a guess could use.
        if getrandom::fill(&mut bytes).is_err() {
            return String::new();
        }
        let code = hex::encode(bytes);
        let mut codes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        codes.retain(|_, issued| issued.elapsed() < LOGIN_VALID);
        codes.insert(code.clone(), Instant::now());
        code
    }

    /// Whether `code` was issued, is not too old and was not used yet; it is used now.
    fn redeem(&self, code: &str) -> bool {
        let issued = self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(code);
        !code.is_empty() && issued.is_some_and(|at| at.elapsed() < LOGIN_VALID)
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    code: String,
}

/// `GET /login?code=CODE`: a one-time code printed by `mindlog node` (or given to `mindlog open`)
/// becomes an `HttpOnly; SameSite=Strict` cookie holding the token, which browsers send on
/// EventSource and WebSocket requests (they cannot send an Authorization header there); then on
/// to the dashboard.
pub(crate) async fn login(State(state): State<AppState>, Query(query): Query<LoginQuery>) -> Response {
    if !state.login.redeem(&query.code) {
        let message = format!(
            "this login code is unknown, used already or older than {} minutes: `mindlog open` gives a new one",
            LOGIN_VALID.as_secs() / 60
        );
        return error(StatusCode::FORBIDDEN, "forbidden", &message);
    }
    let cookie = format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", state.token);
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/ui/")]).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `POST /v1/login`: a new one-time login URL (for `mindlog open`).
pub(crate) async fn new_login(State(state): State<AppState>) -> Response {
    let url = format!("http://{}/login?code={}", state.address, state.login.issue());
    axum::Json(serde_json::json!({ "url": url })).into_response()
}

/// Whether the request's Content-Type is `media_type` (parameters such as `charset` aside).
pub(crate) fn media_type_is(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media_type))
}

/// The checks every request passes, then the security headers on every answer.
pub(crate) async fn check(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let page = path.starts_with(super::openapi::DOCS) || super::dashboard::is_page(path);
    let mut response = match refuse(&state, &request) {
        Some(refusal) => refusal,
        None => next.run(request).await,
    };
    let headers = response.headers_mut();
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    // The API's answers load nothing; the dashboard and the Swagger UI load their own scripts,
    // styles and inline images, and call the API — all from this node. No inline script runs.
    let policy = if page {
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    } else {
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    };
    headers.insert("content-security-policy", HeaderValue::from_static(policy));
    response
}

/// Why a request may not go on, as the answer to it; `None` if it may.
fn refuse(state: &AppState, request: &Request) -> Option<Response> {
    let headers = request.headers();
    let path = request.uri().path();
    // DNS rebinding: a page of evil.example resolving its name to 127.0.0.1 sends Host: evil.example.
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !state.allow_remote && !host_allowed(host, state.address) {
        return Some(error(StatusCode::FORBIDDEN, "forbidden", &format!("Host {host:?} is not this node's address")));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ours = origin.to_str().ok().and_then(|o| o.strip_prefix("http://")).is_some_and(|o| o == host);
        if !ours {
            return Some(error(StatusCode::FORBIDDEN, "forbidden", "requests from another site's pages are refused"));
        }
    }
    let loopback_peer = request.extensions().get::<ConnectInfo<SocketAddr>>().is_some_and(|c| c.0.ip().is_loopback());
    // /metrics is open to scrapers on the machine, unless remote peers may come through a proxy.
    let open = path == "/health" || path == "/login" || (path == "/metrics" && loopback_peer && !state.allow_remote);
    let by = authorized(headers, &state.token);
    if !open && by.is_none() && super::dashboard::is_page(path) {
        return Some(super::dashboard::sign_in_page());
    }
    if !open && by.is_none() {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer TOKEN (the token is in the home's node.token)",
        ));
    }
    let changes = ![Method::GET, Method::HEAD, Method::OPTIONS].contains(request.method());
    if changes && by == Some(By::Cookie) {
        let csrf = csrf_token(&state.token);
        let given = headers.get(CSRF_HEADER).map(HeaderValue::as_bytes).unwrap_or_default();
        if !bool::from(given.ct_eq(csrf.as_bytes())) {
            return Some(error(
                StatusCode::FORBIDDEN,
                "forbidden",
                &format!(
                    "a browser's request that changes something needs the {CSRF_HEADER} header of the node's pages"
                ),
            ));
        }
    }
    let body_methods = [Method::POST, Method::PUT, Method::PATCH];
    let wanted =
        super::api::NOT_JSON.iter().find(|(p, _, _)| *p == path).map_or("application/json", |(_, media, _)| *media);
    if body_methods.contains(request.method()) && !media_type_is(headers, wanted) {
        return Some(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            &format!("send Content-Type: {wanted}"),
        ));
    }
    None
}

/// How a request carried the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    Bearer,
    Cookie,
}

/// Whether the request carries the token: as a bearer header, or as the login cookie. Compared in
/// constant time.
fn authorized(headers: &HeaderMap, token: &str) -> Option<By> {
    let same = |given: &str| bool::from(given.as_bytes().ct_eq(token.as_bytes()));
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| same(t.trim()));
    let cookie =
        headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).any(|cookies| {
            cookies.split(';').filter_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('=')).any(same)
        });
    if bearer {
        Some(By::Bearer)
    } else if cookie {
        Some(By::Cookie)
    } else {
        None
    }
}

/// Loopback names, and the address the node is bound to, with or without its port.
fn host_allowed(host: &str, bound: SocketAddr) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !host.ends_with(']') => {
            if port.parse::<u16>().ok() != Some(bound.port()) {
                return false;
            }
            name
        }
        _ => host,
    };
    let bound_ip = bound.ip().to_string();
    matches!(name, "localhost" | "127.0.0.1" | "[::1]") || name == bound_ip || name.trim_matches(['[', ']']) == bound_ip
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let bound: SocketAddr = "127.0.0.1:7070".parse().unwrap();
        assert!(host_allowed("127.0.0.1:7070", bound));
        assert!(host_allowed("localhost:7070", bound));
        assert!(host_allowed("localhost", bound));
        assert!(host_allowed("[::1]:7070", bound));
        assert!(!host_allowed("127.0.0.1:7071", bound));
        assert!(!host_allowed("evil.example:7070", bound));
        assert!(!host_allowed("", bound));
    }

    #[test]
    fn tokens() {
        let token = "ab".repeat(32);
        let mut headers = HeaderMap::new();
        assert_eq!(authorized(&headers, &token), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
        assert_eq!(authorized(&headers, &token), Some(By::Bearer));
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&format!("a=b; {COOKIE}={token}")).unwrap());
        assert_eq!(authorized(&headers, &token), Some(By::Cookie));
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer nope"));
        assert_eq!(authorized(&headers, &token), None);
    }
}
