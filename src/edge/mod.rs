//! The Cloudflare Workers adapter: `worker::Request` in, [`crate::app::App`] call,
//! `worker::Response` out. KV, fetch and WebCrypto sit behind the core's ports.

#[cfg(feature = "bench")]
mod bench;
mod fetch;
mod kv;
mod signer;
mod webcrypto;

use crate::app::config::AppConfig;
use crate::app::{App, IsolateState, Log};
use crate::core::clock::{Clock, UnixTime};
use crate::core::http::{Headers, HttpRequest, HttpResponse, Method};
use crate::core::random::OsRandom;
use worker::{event, Context, Env, Request, Response};

/// Largest request body the worker reads (admin API bodies are far smaller).
const MAX_REQUEST_BODY: usize = 64 * 1024;

thread_local! {
    // Workers isolates are single-threaded; this state lives as long as the isolate.
    static STATE: &'static IsolateState = Box::leak(Box::default());
    // Vars and secrets are fixed for a deployment (a change deploys new isolates), so the
    // configuration is read and validated once per isolate, not on every request.
    static CONFIG: std::cell::OnceCell<&'static Result<AppConfig, crate::app::config::ConfigError>> =
        const { std::cell::OnceCell::new() };
}

struct WorkerClock;

impl Clock for WorkerClock {
    fn now(&self) -> UnixTime {
        UnixTime((js_sys::Date::now() / 1000.0) as u64)
    }
}

struct ConsoleLog;

impl Log for ConsoleLog {
    fn line(&self, line: &str) {
        worker::console_log!("{line}");
    }
}

fn plain(status: u16, body: &str) -> HttpResponse {
    HttpResponse::new(status, "application/json; charset=utf-8", body.to_owned())
}

async fn to_core(mut req: Request) -> Result<HttpRequest, HttpResponse> {
    let url = req
        .url()
        .map_err(|_| plain(400, r#"{"error":"bad_request","message":"Malformed URL."}"#))?;
    let mut headers = Headers::default();
    for (k, v) in req.headers().entries() {
        headers.push(k, v);
    }
    let method = Method::parse(req.method().as_ref());
    let mut body = Vec::new();
    if matches!(method, Method::Post | Method::Put) {
        let too_large = || {
            plain(
                413,
                r#"{"error":"too_large","message":"The request body is too large."}"#,
            )
        };
        if headers
            .get("content-length")
            .and_then(|l| l.trim().parse::<usize>().ok())
            .is_some_and(|n| n > MAX_REQUEST_BODY)
        {
            return Err(too_large());
        }
        body = req.bytes().await.map_err(|_| {
            plain(
                400,
                r#"{"error":"bad_request","message":"Unreadable body."}"#,
            )
        })?;
        if body.len() > MAX_REQUEST_BODY {
            return Err(too_large());
        }
    }
    Ok(HttpRequest {
        method,
        url,
        headers,
        body,
    })
}

fn to_worker(resp: HttpResponse) -> worker::Result<Response> {
    let headers = worker::Headers::new();
    for (k, v) in &resp.headers.0 {
        headers.append(k, v)?;
    }
    Ok(Response::from_bytes(resp.body)?
        .with_status(resp.status)
        .with_headers(headers))
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    #[cfg(feature = "bench")]
    if req.path().starts_with("/__bench/") {
        return bench::handle(req).await;
    }
    let config: &'static Result<AppConfig, _> = CONFIG.with(|c| {
        *c.get_or_init(|| {
            Box::leak(Box::new(AppConfig::from_vars(|name| {
                env.var(name)
                    .map(|v| v.to_string())
                    .or_else(|_| env.secret(name).map(|v| v.to_string()))
                    .ok()
            })))
        })
    });
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            worker::console_error!("{e}");
            let body = serde_json::json!({
                "error": "configuration_error",
                "message": format!("The worker is misconfigured: {e}. See the README's configuration table."),
            });
            return to_worker(crate::app::respond::harden(crate::app::respond::json(
                500, &body,
            )));
        }
    };
    let store = match env.kv(kv::KV_BINDING) {
        Ok(ns) => kv::WorkersKv(ns),
        Err(_) => {
            let body = serde_json::json!({
                "error": "configuration_error",
                "message": format!("The worker is misconfigured: KV namespace binding {} is missing. See the README.", kv::KV_BINDING),
            });
            return to_worker(crate::app::respond::harden(crate::app::respond::json(
                500, &body,
            )));
        }
    };
    let req = match to_core(req).await {
        Ok(r) => r,
        Err(resp) => return to_worker(crate::app::respond::harden(resp)),
    };
    let state = STATE.with(|s| *s);
    let app = App {
        config,
        store,
        http: fetch::EdgeHttp,
        verifier: webcrypto::WebCryptoVerifier::CACHED,
        clock: &WorkerClock,
        random: &OsRandom,
        log: &ConsoleLog,
        state,
    };
    to_worker(app.handle(req).await)
}
