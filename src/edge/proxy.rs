//! The gateway's forward: the request the app judged ([`ForwardPlan`]) goes to the origin with
//! the incoming body stream handed over as is, and the origin's response comes back with its
//! body stream as is (no buffering, no size cap of ours; see PLATFORM notes: memory stays flat).
//! Redirects from the origin are passed back, never followed.

use crate::app::gateway::ForwardPlan;
use crate::core::gateway::headers::{forward_response_headers, EDGE_SSO_COOKIES};
use wasm_bindgen::JsValue;
use worker::{Fetch, Headers, Method, Request, RequestInit, RequestRedirect, Response};

/// Why a forward did not happen.
pub enum ForwardError {
    /// A method the platform's fetch cannot carry (it would silently become GET).
    Method,
    /// The origin did not answer (connection refused, reset, DNS).
    Unreachable(String),
}

fn method(name: &str) -> Option<Method> {
    Some(match name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        _ => return None,
    })
}

/// Sends `plan` with `req`'s body to the origin and returns the origin's response, minus
/// hop-by-hop headers and any `Set-Cookie` for edge-sso's own cookie names.
pub async fn forward(req: &Request, plan: &ForwardPlan) -> Result<Response, ForwardError> {
    let unreachable = |e: worker::Error| ForwardError::Unreachable(e.to_string());
    let m = method(req.inner().method().as_str()).ok_or(ForwardError::Method)?;
    let headers = Headers::new();
    for (k, v) in &plan.headers {
        headers.append(k, v).map_err(unreachable)?;
    }
    let mut init = RequestInit::new();
    init.with_method(m)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(req.inner().body().map(JsValue::from));
    let upstream = Request::new_with_init(&plan.url, &init).map_err(unreachable)?;
    let resp = Fetch::Request(upstream).send().await.map_err(unreachable)?;
    let out = Headers::new();
    for (k, v) in forward_response_headers(resp.headers().entries(), &EDGE_SSO_COOKIES) {
        out.append(&k, &v).map_err(unreachable)?;
    }
    Ok(resp.with_headers(out))
}
