//! Outbound HTTP for the core: redirects are never followed, bodies are capped while streaming,
//! and every request times out.

use crate::core::http::{Headers, HttpClient, HttpError, HttpRequest, HttpResponse, Method};
use futures_util::StreamExt;
use worker::{Fetch, Request, RequestInit, RequestRedirect};

/// How long an IdP gets to answer one request.
pub const FETCH_TIMEOUT_MS: u32 = 8_000;

/// `fetch()` with `redirect: "manual"`, a timeout and a body cap.
pub struct EdgeHttp;

impl HttpClient for EdgeHttp {
    async fn send(&self, req: HttpRequest, max_body: usize) -> Result<HttpResponse, HttpError> {
        let net = |e: worker::Error| HttpError::Network(e.to_string());
        let mut init = RequestInit::new();
        init.with_method(match req.method {
            Method::Post => worker::Method::Post,
            Method::Put => worker::Method::Put,
            Method::Delete => worker::Method::Delete,
            Method::Head => worker::Method::Head,
            _ => worker::Method::Get,
        });
        // Never follow redirects from IdP endpoints: a 3xx comes back to the core as is.
        init.with_redirect(RequestRedirect::Manual);
        let headers = worker::Headers::new();
        for (k, v) in &req.headers.0 {
            headers.append(k, v).map_err(net)?;
        }
        init.with_headers(headers);
        if !req.body.is_empty() {
            init.with_body(Some(js_sys::Uint8Array::from(req.body.as_slice()).into()));
        }
        let request = Request::new_with_init(req.url.as_str(), &init).map_err(net)?;
        let signal: worker::AbortSignal =
            web_sys::AbortSignal::timeout_with_u32(FETCH_TIMEOUT_MS).into();
        let mut resp = Fetch::Request(request)
            .send_with_signal(&signal)
            .await
            .map_err(|e| {
                if signal.aborted() {
                    HttpError::Timeout
                } else {
                    net(e)
                }
            })?;
        let status = resp.status_code();
        let mut out_headers = Headers::default();
        for (k, v) in resp.headers().entries() {
            out_headers.push(k, v);
        }
        if let Some(len) = out_headers.get("content-length") {
            if len.trim().parse::<usize>().is_ok_and(|n| n > max_body) {
                return Err(HttpError::TooLarge);
            }
        }
        let mut body = Vec::new();
        if let Ok(mut stream) = resp.stream() {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| {
                    if signal.aborted() {
                        HttpError::Timeout
                    } else {
                        net(e)
                    }
                })?;
                if body.len() + chunk.len() > max_body {
                    return Err(HttpError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
        }
        Ok(HttpResponse {
            status,
            headers: out_headers,
            body,
        })
    }
}
