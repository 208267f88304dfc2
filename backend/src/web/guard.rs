//! Who may talk to this server: the `Host` a request names and the `Origin` a browser
//! sends. A page from another site (or a DNS-rebinding name for this one) is answered 403
//! with the same JSON error body as every other refusal.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kettle_shared::{ErrorCode, Reason};

use super::AppState;

/// The `Host` values that name this server.
pub(super) fn allowed_hosts(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    let mut hosts =
        vec![format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")];
    let own = match addr.ip() {
        IpAddr::V4(ip) => format!("{ip}:{port}"),
        IpAddr::V6(ip) => format!("[{ip}]:{port}"),
    };
    if !hosts.contains(&own) && !addr.ip().is_unspecified() {
        hosts.push(own);
    }
    hosts
}

/// Rejects requests whose `Host` is not this server, and browser requests from other origins.
pub(super) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if !state.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return forbidden(Reason::HostNotAllowed { host: host.to_owned() });
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let sensitive = request.method() != Method::GET || request.uri().path() == "/ws";
        if sensitive && !state.origins.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
            return forbidden(Reason::OriginNotAllowed { origin: origin.to_owned() });
        }
    }
    next.run(request).await
}

fn forbidden(reason: Reason) -> Response {
    (StatusCode::FORBIDDEN, Json(error_body(ErrorCode::BadRequest, reason))).into_response()
}

/// The body of an HTTP error: `{"error": {"code": …, "reason": {"code": …, …}}}`, the same
/// code and reason a WebSocket `error` carries.
pub(super) fn error_body(code: ErrorCode, reason: Reason) -> serde_json::Value {
    serde_json::json!({ "error": { "code": code, "reason": reason } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_hosts_cover_loopback_names_and_the_bound_address() {
        let hosts = allowed_hosts("10.1.2.3:7878".parse().unwrap());
        for h in ["127.0.0.1:7878", "localhost:7878", "[::1]:7878", "10.1.2.3:7878"] {
            assert!(hosts.iter().any(|x| x == h), "{h} missing from {hosts:?}");
        }
        assert!(!allowed_hosts("0.0.0.0:1".parse().unwrap())
            .iter()
            .any(|h| h.starts_with("0.0.0.0")));
    }
}
