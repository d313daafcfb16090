//! The guard in front of every route of the port: what each route trusts, the host check
//! against DNS rebinding, the refusal of cross-origin writes, and the dev UI's token (bearer
//! header or cookie, set by visiting a page with `?token=`).
//!
//! | route | trusts | host check (DNS rebinding) | cross-origin write | token |
//! |---|---|---|---|---|
//! | signed webhooks (`/webhooks/clerk`) | the Svix signature, checked by the handler | no: a signed request is good whatever its `Host` | refused | no |
//! | event API `/e/{key}` with keys | the event key, checked by the handler | no | refused | no |
//! | event API without keys (loopback only) | being on this machine | yes | refused | no |
//! | dev UI, `/api/v1`, `/v1` with a token | the token | no | refused | yes |
//! | dev UI, `/api/v1`, `/v1` without a token (loopback only) | being on this machine | yes | refused | no |
//! | `/health` | nothing: it tells nothing | no | - | no |
//!
//! A route that trusts "being on this machine" is reachable by any web page the developer
//! opens, through the browser: the host check refuses requests addressed to a domain name
//! (other than `localhost`), which is how a DNS-rebinding page reaches `127.0.0.1`, and the
//! cross-origin check refuses writes that a page of another site sends. Servers and scripts
//! (Svix, `curl`, SDKs) send no `Origin` and are not affected.
//!
//! One exception, opt-in and on one route only: `POST /api/v1/import` (the deployed UI's "Send
//! to dev server") is accepted from the pages of the origins the server was told to trust
//! ([`Guard::trusted_origins`], from `App::trusted_origins`, `HOOKFLOW_TRUSTED_ORIGINS` or
//! `hookflow dev --trust-origin`). Its CORS preflight is answered with the exact origin for
//! those and refused (403) for any other; a write from any other origin, or from a page with
//! no origin (`null`, or none on a cross-site request), is refused as on every route. The host
//! check and the token check still apply to it.

use std::any::Any;
use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tower_http::catch_panic::CatchPanicLayer;

use crate::devui::error_response;

/// The cookie that carries the token for the browser.
pub(crate) const COOKIE: &str = "hookflow_token";

/// What the routes of one port trust (see the module docs).
#[derive(Clone, Default)]
pub(crate) struct Guard {
    /// The dev UI's token; without one, the UI trusts loopback (and the host check applies).
    pub(crate) ui_token: Option<String>,
    /// Host names (without port) accepted besides `localhost` and IP addresses on routes that
    /// trust loopback, e.g. the name a reverse proxy on the same machine forwards.
    pub(crate) allowed_hosts: Vec<String>,
    /// Whether the dev UI is served: then every path not named below is one of its routes.
    pub(crate) dev_ui: bool,
    /// The paths of signed webhook endpoints, whose handlers verify a signature.
    pub(crate) signed_paths: Vec<String>,
    /// Whether the event API (`/e/...`) is served, and if so whether it requires a key.
    pub(crate) event_api: Option<EventApiTrust>,
    /// Origins (normalised by [`parse_origin`]) whose pages may post to [`IMPORT_PATH`].
    pub(crate) trusted_origins: Vec<String>,
}

/// The one route a trusted origin may write to across origins.
pub(crate) const IMPORT_PATH: &str = "/api/v1/import";

/// The environment variable with the trusted origins, comma-separated.
pub const TRUSTED_ORIGINS_ENV: &str = "HOOKFLOW_TRUSTED_ORIGINS";

/// `origin` as a browser serialises it in `Origin` (`scheme://host[:port]`, lower case, no
/// default port, no path), or why it is not one.
pub(crate) fn parse_origin(origin: &str) -> Result<String, String> {
    let given = origin.trim();
    let bad = |why: &str| {
        format!(
            "`{given}` is not a web origin ({why}): give scheme, host and port only, e.g. `https://app.example.com`"
        )
    };
    let trimmed = given.strip_suffix('/').unwrap_or(given);
    let (scheme, rest) = trimmed.split_once("://").ok_or_else(|| bad("no scheme"))?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return Err(bad("the scheme is not http or https")),
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', '*', ' ', ',']) {
        return Err(bad("it has a path, a query, a user, a wildcard or no host"));
    }
    let rest = rest.to_ascii_lowercase();
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("an unclosed `[`"))?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(|| bad("text after the address"))?),
            };
            (format!("[{host}]"), port)
        }
        None => match rest.split_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (rest.clone(), None),
        },
    };
    if host.is_empty() || host == "[]" {
        return Err(bad("no host"));
    }
    match port {
        Some(port) if port.parse::<u16>().is_err() => Err(bad("the port is not a number")),
        Some(port) if port != default_port => Ok(format!("{scheme}://{host}:{port}")),
        _ => Ok(format!("{scheme}://{host}")),
    }
}

/// The trusted origins from a comma-separated list (`HOOKFLOW_TRUSTED_ORIGINS`), or the first
/// entry that is not an origin.
pub(crate) fn parse_origins<S: AsRef<str>>(list: &[S]) -> Result<Vec<String>, String> {
    let mut origins = Vec::new();
    for entry in list.iter().flat_map(|l| l.as_ref().split(',')).map(str::trim).filter(|e| !e.is_empty()) {
        let origin = parse_origin(entry)?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(origins)
}

/// What the event API trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventApiTrust {
    /// Configured event keys, checked by the handler.
    Key,
    /// Being on this machine: no key is configured and the server listens on loopback.
    Loopback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Signed,
    EventApi(EventApiTrust),
    Health,
    DevUi,
    /// Not a route of the app (a 404 follows).
    Other,
}

impl Guard {
    fn route(&self, path: &str) -> Route {
        if self.signed_paths.iter().any(|p| p == path) {
            return Route::Signed;
        }
        if let (Some(trust), true) = (self.event_api, path.starts_with("/e/")) {
            return Route::EventApi(trust);
        }
        if path == "/health" {
            return Route::Health;
        }
        if self.dev_ui {
            Route::DevUi
        } else {
            Route::Other
        }
    }

    /// Whether the route's only credential is being on this machine.
    fn trusts_loopback(&self, route: Route) -> bool {
        match route {
            Route::DevUi => self.ui_token.is_none(),
            Route::EventApi(trust) => trust == EventApiTrust::Loopback,
            Route::Signed | Route::Health | Route::Other => false,
        }
    }
}

/// `router` behind `guard`, with a last line of defence: a handler that panics is answered
/// with a 500 in the JSON error shape instead of a dropped connection.
pub(crate) fn protect(router: Router, guard: Guard) -> Router {
    router.layer(axum::middleware::from_fn_with_state(Arc::new(guard), check)).layer(CatchPanicLayer::custom(panicked))
}

fn panicked(panic: Box<dyn Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = %what, "a request handler panicked: this is a bug in hookflow");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the server hit a bug while answering this request (it is logged); please report it",
    )
}

async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let route = guard.route(&path);
    // Refusals are JSON except on the UI's pages, which get a page with a token form.
    let api = route != Route::DevUi || is_api(&path);
    let host = request_host(&request);
    if guard.trusts_loopback(route) {
        if let Some(host) = host.as_deref() {
            if !host_allowed(host, &guard.allowed_hosts) {
                let message = if route == Route::DevUi {
                    "this dev server has no token, so it only answers requests addressed to localhost or an IP \
                     address; set a token to reach it under another host name"
                } else {
                    "this server takes events without a key only when they are addressed to localhost or an IP \
                     address; set `INNGEST_EVENT_KEY` to take events under another host name"
                };
                return refuse(StatusCode::FORBIDDEN, api, message);
            }
        }
    }
    // The import route's CORS: `allow` is the request's origin when it is a trusted one.
    let import = route == Route::DevUi && path == IMPORT_PATH;
    let allow = if import { trusted(request.headers(), &guard.trusted_origins) } else { None };
    if import && request.method() == Method::OPTIONS && request.headers().contains_key(header::ORIGIN) {
        return preflight(request.headers(), allow.as_deref());
    }
    if is_unsafe(request.method()) && allow.is_none() && cross_origin(request.headers(), host.as_deref()) {
        if import {
            return refuse(StatusCode::FORBIDDEN, true, &untrusted(request.headers()));
        }
        return refuse(
            StatusCode::FORBIDDEN,
            api,
            "cross-origin requests may not change anything on this server: a web page of another site sent it",
        );
    }
    let response = answer(&guard, route, api, &path, request, next).await;
    match allow {
        // The trusted page may read the answer, errors included, to show what happened.
        Some(origin) => with_cors(response, &origin),
        None => response,
    }
}

/// The token check, then the route; every answer gets the headers that keep it out of frames
/// and other sites' referrers.
async fn answer(guard: &Guard, route: Route, api: bool, path: &str, request: Request, next: Next) -> Response {
    if let (Route::DevUi, Some(token)) = (route, guard.ui_token.as_deref()) {
        // Stylesheet, script and icon are the same for everyone; the login page needs them.
        if !path.starts_with("/assets/") {
            // Only pages take the token from the address (then move it into a cookie): API
            // clients send the header, and addresses end up in logs.
            let in_address = if api { None } else { query_token(request.uri().query()) };
            if let Some(given) = in_address {
                if request.method() != Method::GET || !same(given.as_bytes(), token) {
                    return refuse(
                        StatusCode::UNAUTHORIZED,
                        api,
                        "the token in the address is not this server's token",
                    );
                }
                return login(path, request.uri().query(), token);
            }
            if !authorized(request.headers(), token) {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    api,
                    "this dev server requires a token: send `Authorization: Bearer <token>`, or open the UI once \
                     with `?token=<token>` in the address",
                );
            }
        }
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // A token may travel in an address: never leak it to another site.
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}

/// The request's `Origin` when it is one of `trusted`.
fn trusted(headers: &HeaderMap, trusted: &[String]) -> Option<String> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    let origin = parse_origin(origin).ok()?;
    trusted.contains(&origin).then_some(origin)
}

/// Why a page's import was refused, naming its origin (JSON only: never part of a page).
fn untrusted(headers: &HeaderMap) -> String {
    let origin = headers.get(header::ORIGIN).map(|o| String::from_utf8_lossy(o.as_bytes()).into_owned());
    match origin.as_deref().map(str::trim) {
        None | Some("") | Some("null") => "a web page without an origin may not import events into this dev server: \
                                           send from a page served over http(s) whose origin the dev server trusts"
            .to_owned(),
        Some(origin) => {
            let origin: String = origin.chars().take(200).collect();
            format!(
                "this dev server does not trust pages of `{origin}` to import events: start it with \
                 `hookflow dev --trust-origin {origin}` (or set {TRUSTED_ORIGINS_ENV}, or call App::trusted_origins)"
            )
        }
    }
}

/// The answer to a CORS preflight on the import route: the exact origin when it is trusted,
/// else a 403 that imports nothing (the browser then never sends the write).
fn preflight(headers: &HeaderMap, allow: Option<&str>) -> Response {
    let Some(origin) = allow else { return refuse(StatusCode::FORBIDDEN, true, &untrusted(headers)) };
    let wanted = headers.get("access-control-request-method").and_then(|m| m.to_str().ok()).unwrap_or("POST");
    if !wanted.eq_ignore_ascii_case("POST") {
        return with_cors(
            refuse(StatusCode::METHOD_NOT_ALLOWED, true, &format!("{IMPORT_PATH} takes POST only, not {wanted}")),
            origin,
        );
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    h.insert("access-control-allow-methods", HeaderValue::from_static("POST"));
    h.insert("access-control-allow-headers", HeaderValue::from_static("content-type"));
    h.insert("access-control-max-age", HeaderValue::from_static("600"));
    // Chromium asks before a public page reaches a loopback server (Private Network Access).
    if headers.get("access-control-request-private-network").is_some_and(|v| v.as_bytes() == b"true") {
        h.insert("access-control-allow-private-network", HeaderValue::from_static("true"));
    }
    with_cors(response, origin)
}

fn with_cors(mut response: Response, origin: &str) -> Response {
    if let Ok(origin) = HeaderValue::from_str(origin) {
        response.headers_mut().insert("access-control-allow-origin", origin);
    }
    response.headers_mut().append(header::VARY, HeaderValue::from_static("origin"));
    response
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/v1/")
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The host the request was addressed to, without the port.
fn request_host(request: &Request) -> Option<String> {
    let authority = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))?;
    Some(strip_port(&authority).to_ascii_lowercase())
}

fn strip_port(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// DNS rebinding needs a domain name the attacker controls: IP literals and `localhost` are safe.
fn host_allowed(host: &str, extra: &[String]) -> bool {
    host.parse::<IpAddr>().is_ok()
        || host == "localhost"
        || host.ends_with(".localhost")
        || extra.iter().any(|h| h.eq_ignore_ascii_case(host))
}

/// Whether a browser sent this request from a page of another origin.
fn cross_origin(headers: &HeaderMap, host: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if matches!(site, "cross-site" | "same-site") {
            return true;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return false };
    let Ok(origin) = origin.to_str() else { return true };
    let Some((_, rest)) = origin.split_once("://") else { return true };
    let origin_host = strip_port(rest).to_ascii_lowercase();
    host.is_none_or(|h| h != origin_host)
}

fn same(given: &[u8], token: &str) -> bool {
    let a: [u8; 32] = Sha256::digest(given).into();
    let b: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    a.ct_eq(&b).into()
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    // Bytes, not `to_str`: a token may be UTF-8, which header values carry as opaque bytes.
    let bearer = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|v| bearer_token(v.as_bytes()))
        .any(|v| same(v, token));
    bearer || cookie_values(headers, COOKIE).iter().any(|v| same(v.as_bytes(), token))
}

/// The credentials of an `Authorization: Bearer <token>` value; the scheme is case-insensitive
/// (RFC 9110), so `BEARER x` is the same.
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii_start();
    let (scheme, rest) = value.split_at_checked(6)?;
    (scheme.eq_ignore_ascii_case(b"bearer") && rest.first().is_some_and(u8::is_ascii_whitespace))
        .then(|| rest.trim_ascii())
}

/// Every value of cookie `name`, percent-decoded.
fn cookie_values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| percent_decode(v))
        .collect()
}

fn query_token(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| percent_decode(v))
}

/// Sets the cookie and sends the browser to the same page without the token in the address.
fn login(path: &str, query: Option<&str>, token: &str) -> Response {
    let rest: Vec<&str> =
        query.unwrap_or("").split('&').filter(|p| !p.is_empty() && !p.starts_with("token=")).collect();
    // `//host` would be a protocol-relative address: an open redirect.
    let mut target = if path.starts_with("//") || path.contains('\\') { "/".to_owned() } else { path.to_owned() };
    if !rest.is_empty() {
        target.push('?');
        target.push_str(&rest.join("&"));
    }
    let cookie = format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", percent_encode(token));
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let (Ok(location), Ok(cookie)) = (HeaderValue::from_str(&target), HeaderValue::from_str(&cookie)) {
        response.headers_mut().insert(header::LOCATION, location);
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response.headers_mut().insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// JSON for API paths; for pages, a small static page with a token form.
fn refuse(status: StatusCode, api: bool, message: &str) -> Response {
    if api {
        return error_response(status, message);
    }
    let mut response = (status, LOGIN_PAGE.replace("{{message}}", &escape_html(message))).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(crate::devui::CSP));
    response
}

/// The message is one of ours, never request data: nothing is reflected into this page.
const LOGIN_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>hookflow dev server: token required</title><link rel="stylesheet" href="/assets/app.css"></head>
<body><main class="login"><h1>hookflow dev server</h1><p>{{message}}</p>
<form method="get" action="/"><label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<button type="submit" class="btn primary">Open</button></form></main></body></html>
"#;

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes all but unreserved characters (for a query value).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (a query value).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[i]) {
            (Some(v), _) => {
                out.push(v);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_round_trip() {
        for s in ["abc", "a b+c/=;%", "ünï", "%", "%4", "%zz"] {
            assert_eq!(percent_decode(&percent_encode(s)), s);
        }
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
    }

    #[test]
    fn login_page_escapes_its_message() {
        let page = refuse(StatusCode::UNAUTHORIZED, false, "send `Bearer <token>` & more");
        assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(escape_html("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn hosts() {
        assert!(host_allowed("127.0.0.1", &[]));
        assert!(host_allowed("::1", &[]));
        assert!(host_allowed("localhost", &[]));
        assert!(host_allowed("app.localhost", &[]));
        assert!(!host_allowed("evil.example", &[]));
        assert!(host_allowed("dev.internal", &["dev.internal".to_owned()]));
        assert_eq!(strip_port("[::1]:8288"), "::1");
        assert_eq!(strip_port("localhost:8288"), "localhost");
        assert_eq!(strip_port("example.com"), "example.com");
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in ["Bearer tok", "bearer tok", "BEARER tok", "bEaReR   tok  ", " Bearer\ttok"] {
            assert_eq!(bearer_token(value.as_bytes()), Some(&b"tok"[..]), "{value:?}");
        }
        for value in ["Bearertok", "Basic tok", "Bear tok", ""] {
            assert_eq!(bearer_token(value.as_bytes()), None, "{value:?}");
        }
    }

    #[test]
    fn routes_trust_what_the_table_says() {
        let guard = Guard {
            dev_ui: true,
            signed_paths: vec!["/webhooks/clerk".into()],
            event_api: Some(EventApiTrust::Loopback),
            ..Guard::default()
        };
        assert_eq!(guard.route("/webhooks/clerk"), Route::Signed);
        assert_eq!(guard.route("/e/key"), Route::EventApi(EventApiTrust::Loopback));
        assert_eq!(guard.route("/health"), Route::Health);
        assert_eq!(guard.route("/api/v1/events"), Route::DevUi);
        assert!(!guard.trusts_loopback(Route::Signed));
        assert!(guard.trusts_loopback(Route::EventApi(EventApiTrust::Loopback)));
        assert!(!guard.trusts_loopback(Route::EventApi(EventApiTrust::Key)));
        assert!(guard.trusts_loopback(Route::DevUi));
        let with_token = Guard { ui_token: Some("t".into()), ..guard };
        assert!(!with_token.trusts_loopback(Route::DevUi));
        assert_eq!(Guard::default().route("/anything"), Route::Other);
    }

    #[test]
    fn trusted_origins_are_compared_as_browsers_send_them() {
        for (given, origin) in [
            ("https://app.example.com", "https://app.example.com"),
            ("HTTPS://App.Example.com/", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            ("http://127.0.0.1:8289", "http://127.0.0.1:8289"),
            ("http://localhost:80", "http://localhost"),
            ("http://[::1]:3000", "http://[::1]:3000"),
        ] {
            assert_eq!(parse_origin(given).as_deref(), Ok(origin), "{given}");
        }
        for bad in ["app.example.com", "ftp://x", "https://", "https://x/path", "https://*.x", "https://x:port", "null"]
        {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_origins(&["https://a.example, http://b.example:81", "https://a.example"]).unwrap(),
            ["https://a.example", "http://b.example:81"]
        );
        let mut h = HeaderMap::new();
        let list = vec!["https://a.example".to_owned()];
        assert_eq!(trusted(&h, &list), None);
        h.insert(header::ORIGIN, HeaderValue::from_static("https://a.example"));
        assert_eq!(trusted(&h, &list).as_deref(), Some("https://a.example"));
        h.insert(header::ORIGIN, HeaderValue::from_static("https://a.example.evil"));
        assert_eq!(trusted(&h, &list), None);
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert_eq!(trusted(&h, &list), None);
    }

    #[test]
    fn origins() {
        let mut h = HeaderMap::new();
        assert!(!cross_origin(&h, Some("127.0.0.1")));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8288"));
        assert!(!cross_origin(&h, Some("127.0.0.1")));
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(cross_origin(&h, Some("127.0.0.1")));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(cross_origin(&h, Some("127.0.0.1")));
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(cross_origin(&h, Some("127.0.0.1")));
    }
}
