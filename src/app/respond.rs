//! Building responses: errors as HTML or JSON with a correlation id, security headers, escaping.

pub use super::error::AppError;
use super::{Body, HeaderExt, RequestExt, Response};
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderValue, StatusCode};

/// Content-Security-Policy for every HTML page: no inline script or style, no third parties.
/// `form-action` allows the IdP hand-off (a redirect after a form submit) to any https origin
/// and to loopback IdPs in development ([`CSP_PRODUCTION`] drops those).
pub const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self' https: http://127.0.0.1:* http://localhost:*; frame-ancestors 'none'; base-uri 'none'";

/// [`CSP`] for deployments that admit no loopback IdP: `form-action` without loopback sources.
pub const CSP_PRODUCTION: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self' https:; frame-ancestors 'none'; base-uri 'none'";

/// `Strict-Transport-Security` on https deployments (two years; no `includeSubDomains`: the
/// hub's other hosts are not edge-sso's to decide for).
pub const HSTS: &str = "max-age=63072000";

/// The deployment's part of the response policy of edge-sso's own pages: HSTS when
/// `PUBLIC_ORIGIN` is https, and the production CSP unless loopback IdPs are allowed.
pub fn deployment_policy(mut resp: Response, https: bool, loopback_idps: bool) -> Response {
    let h = resp.headers_mut();
    if https {
        h.insert(
            http::header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    if !loopback_idps && h.contains_key(CONTENT_SECURITY_POLICY) {
        h.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP_PRODUCTION),
        );
    }
    resp
}

/// A header value from our own text; a value that is not one (a control character) is our
/// bug, answered with a 500 rather than a panic.
pub fn header_value(value: &str) -> Result<HeaderValue, AppError> {
    HeaderValue::from_str(value).map_err(|_| {
        AppError::new(super::error::ErrorCode::InternalError).log("invalid response header value")
    })
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// Whether the client asked for JSON (API clients) rather than a page.
pub fn wants_json<B>(req: &http::Request<B>) -> bool {
    wants_json_at(req.path(), req.header("accept"))
}

/// [`wants_json`] from the path and `Accept` header (for the edge, before a request exists).
/// The admin API is JSON, except `/admin/setup`: a link people open in their browser.
pub fn wants_json_at(path: &str, accept: Option<&str>) -> bool {
    (path.starts_with("/admin/") && path != "/admin/setup")
        || path == "/sso/me"
        || accept.is_some_and(|a| a.contains("application/json"))
}

/// Adds the headers of the app's own pages and API (the response policy of
/// [`super::router::RouteGroup::App`]): no sniffing, no referrer, no framing, `no-store` unless
/// the handler chose a cache policy, and the CSP on HTML.
pub fn harden(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // No other site's window may hold a reference to ours, nor embed our responses.
    h.insert(
        http::header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        http::header::HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if h.get(CONTENT_TYPE)
        .is_some_and(|c| c.as_bytes().starts_with(b"text/html"))
    {
        h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    resp
}

/// A response with `status`, a static `content_type` and `body`.
pub fn with_body(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Body>,
) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A JSON response.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    with_body(status, "application/json; charset=utf-8", value.to_string())
}

/// An HTML response.
pub fn html(status: StatusCode, body: String) -> Response {
    with_body(status, "text/html; charset=utf-8", body)
}

/// A redirect (302 or 303) to `location`.
pub fn redirect(status: StatusCode, location: &str) -> Result<Response, AppError> {
    let mut r = with_body(status, "text/plain; charset=utf-8", Body::Empty);
    r.headers_mut().insert(LOCATION, header_value(location)?);
    Ok(r)
}

/// The error response: JSON `{"error", "message", "field"?, "correlation_id"}` for API clients,
/// otherwise the error page; with the error's own headers.
pub fn error_response(err: AppError, as_json: bool, correlation_id: &str) -> Response {
    let status = err.status();
    let mut resp = if as_json {
        let mut v = serde_json::json!({
            "error": err.code.wire(),
            "message": err.message,
            "correlation_id": correlation_id,
        });
        if let Some(f) = &err.field {
            v["field"] = serde_json::Value::String(f.clone());
        }
        for (name, value) in err.extra.iter().flat_map(|e| e.iter()) {
            v[*name] = serde_json::Value::String(value.clone());
        }
        json(status, &v)
    } else {
        html(
            status,
            crate::app::pages::error_page(title_for(status), &err.message, correlation_id),
        )
    };
    for (name, value) in err.headers {
        resp.headers_mut().append(name, value);
    }
    resp
}

fn title_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad request",
        401 => "Sign-in required",
        403 => "Access denied",
        404 => "Not found",
        405 => "Method not allowed",
        409 => "Conflict",
        413 => "Request too large",
        502 => "Identity provider unavailable",
        _ => "Something went wrong",
    }
}

#[cfg(test)]
mod tests {
    use super::super::error::ErrorCode;
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            html_escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;&quot;"
        );
    }

    #[test]
    fn json_error_names_field() {
        let e = AppError::new(ErrorCode::InvalidField)
            .message("bad")
            .field("issuer");
        let r = error_response(e, true, "cid");
        let v: serde_json::Value = serde_json::from_slice(r.body().as_bytes().unwrap()).unwrap();
        assert_eq!(v["error"], "invalid_field");
        assert_eq!(v["field"], "issuer");
        assert_eq!(v["correlation_id"], "cid");
        assert_eq!(r.status(), 400);
    }

    #[test]
    fn error_headers_are_kept_and_html_is_hardened() {
        let e = AppError::new(ErrorCode::LoginExpired)
            .header(
                http::header::SET_COOKIE,
                HeaderValue::from_static("a=; Max-Age=0"),
            )
            .header(
                http::header::SET_COOKIE,
                HeaderValue::from_static("b=; Max-Age=0"),
            );
        let r = harden(error_response(e, false, "cid"));
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers().get_all("set-cookie").iter().count(), 2);
        assert_eq!(r.header("content-security-policy"), Some(CSP));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
    }

    #[test]
    fn harden_keeps_a_chosen_cache_policy() {
        let mut r = with_body(StatusCode::OK, "text/css", "x");
        r.headers_mut().insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        let r = harden(r);
        assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
        assert_eq!(r.header("content-security-policy"), None);
    }
}
