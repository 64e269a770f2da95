//! Building responses: errors as HTML or JSON with a correlation id, security headers, escaping.

use crate::core::http::{HttpRequest, HttpResponse};

/// Content-Security-Policy for every HTML page: no inline script or style, no third parties.
/// `form-action` allows the IdP hand-off (a redirect after a form submit) to any https origin
/// and to loopback IdPs in development.
pub const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self' https: http://127.0.0.1:* http://localhost:*; frame-ancestors 'none'; base-uri 'none'";

/// An error the application answers with: status, a stable code, a short user-facing message,
/// the offending field (admin API) and a detail that goes only to the log.
#[derive(Debug, Clone)]
pub struct AppError {
    /// HTTP status.
    pub status: u16,
    /// Stable machine-readable code (`unknown_domain`, `invalid_field`, ...).
    pub code: &'static str,
    /// Short message safe to show to the client.
    pub message: String,
    /// The request field at fault, when there is one.
    pub field: Option<String>,
    /// Detail for the log only (never sent to the client; never a secret).
    pub log_detail: Option<String>,
}

impl AppError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        AppError {
            status,
            code,
            message: message.into(),
            field: None,
            log_detail: None,
        }
    }
    /// Names the offending field.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    /// Adds a detail for the log.
    pub fn log(mut self, detail: impl Into<String>) -> Self {
        self.log_detail = Some(detail.into());
        self
    }
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
pub fn wants_json(req: &HttpRequest) -> bool {
    let path = req.url.path();
    path.starts_with("/admin/")
        || path == "/sso/me"
        || req
            .headers
            .get("accept")
            .is_some_and(|a| a.contains("application/json"))
}

/// Adds the headers every response carries.
pub fn harden(mut resp: HttpResponse) -> HttpResponse {
    let h = &mut resp.headers;
    h.set("x-content-type-options", "nosniff");
    h.set("referrer-policy", "no-referrer");
    h.set("x-frame-options", "DENY");
    if h.get("cache-control").is_none() {
        h.set("cache-control", "no-store");
    }
    if h.get("content-type")
        .is_some_and(|c| c.starts_with("text/html"))
    {
        h.set("content-security-policy", CSP);
    }
    resp
}

/// A JSON response.
pub fn json(status: u16, value: &serde_json::Value) -> HttpResponse {
    HttpResponse::new(status, "application/json; charset=utf-8", value.to_string())
}

/// An HTML response.
pub fn html(status: u16, body: String) -> HttpResponse {
    HttpResponse::new(status, "text/html; charset=utf-8", body)
}

/// A redirect (302 or 303) to `location`.
pub fn redirect(status: u16, location: &str) -> HttpResponse {
    let mut r = HttpResponse::new(status, "text/plain; charset=utf-8", Vec::new());
    r.headers.set("location", location);
    r
}

/// The error response: JSON `{"error", "message", "field"?, "correlation_id"}` for API clients,
/// otherwise the error page.
pub fn error_response(err: &AppError, as_json: bool, correlation_id: &str) -> HttpResponse {
    if as_json {
        let mut v = serde_json::json!({
            "error": err.code,
            "message": err.message,
            "correlation_id": correlation_id,
        });
        if let Some(f) = &err.field {
            v["field"] = serde_json::Value::String(f.clone());
        }
        json(err.status, &v)
    } else {
        html(
            err.status,
            crate::app::pages::error_page(&title_for(err.status), &err.message, correlation_id),
        )
    }
}

fn title_for(status: u16) -> String {
    match status {
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
    .to_owned()
}

#[cfg(test)]
mod tests {
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
        let e = AppError::new(400, "invalid_field", "bad").field("issuer");
        let r = error_response(&e, true, "cid");
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["field"], "issuer");
        assert_eq!(v["correlation_id"], "cid");
        assert_eq!(r.status, 400);
    }
}
