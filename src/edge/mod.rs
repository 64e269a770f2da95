//! The Cloudflare Workers adapter: `worker::Request` in, [`crate::app::App`] call,
//! `worker::Response` out. KV, fetch and WebCrypto sit behind the core's ports.

#[cfg(feature = "bench")]
mod bench;
mod domains;
mod fetch;
mod kv;
mod ledger;
mod object;
mod proxy;
mod ratelimit;
mod signer;
mod webcrypto;

use crate::app::config::AppConfig;
use crate::app::error::{AppError, ErrorCode};
use crate::app::gateway::GateOutcome;
use crate::app::respond::wants_json_at;
use crate::app::{edge_refusal, App, Body, IsolateState, Log, Request, Response};
use crate::core::clock::{Clock, UnixTime};
use crate::core::random::OsRandom;
use futures_util::StreamExt;
use http::{HeaderName, HeaderValue};
use worker::{event, Context, Env, ScheduleContext, ScheduledEvent};

/// Largest request body the worker reads (admin API bodies are far smaller).
const MAX_REQUEST_BODY: u64 = 64 * 1024;

thread_local! {
    // Workers isolates are single-threaded; this state lives as long as the isolate.
    static STATE: &'static IsolateState = Box::leak(Box::default());
    // Vars and secrets are fixed for a deployment (a change deploys new isolates), so the
    // configuration is read and validated once per isolate, not on every request.
    static CONFIG: std::cell::OnceCell<&'static Result<AppConfig, crate::app::config::ConfigError>> =
        const { std::cell::OnceCell::new() };
    // The assertion signer, made once per isolate from the configuration (its CryptoKey is
    // imported at the first signature and kept).
    static SIGNER: std::cell::OnceCell<Option<&'static signer::WebCryptoEs256Signer>> =
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

fn bad_request(message: &'static str) -> AppError {
    AppError::new(ErrorCode::BadRequest).message(message)
}

fn unreadable() -> AppError {
    bad_request("Unreadable body.")
}

/// `worker::Request` to the app's [`Request`]: method as sent (PATCH, OPTIONS and extension
/// methods included), the path and query only (the app takes the external origin from
/// `PUBLIC_ORIGIN`, never from Host), every header, and the body read under the cap.
/// The request as the app sees it; the body is read (under the cap) only when `with_body`: the
/// gateway's pass-through bodies stay in the worker request, to be streamed to the origin.
async fn to_app(req: &mut worker::Request, with_body: bool) -> Result<Request, AppError> {
    let url = req.url().map_err(|_| bad_request("Malformed URL."))?;
    let uri = http::Uri::try_from(&url[url::Position::BeforePath..url::Position::AfterQuery])
        .map_err(|_| bad_request("Malformed URL."))?;
    // The raw method: `worker::Method` maps every method it does not know to GET.
    let method = http::Method::from_bytes(req.inner().method().as_bytes())
        .map_err(|_| bad_request("Malformed method."))?;
    let mut headers = http::HeaderMap::new();
    for (k, v) in req.headers().entries() {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| bad_request("Malformed header name."))?;
        let value =
            HeaderValue::from_str(&v).map_err(|_| bad_request("Malformed header value."))?;
        headers.append(name, value);
    }
    let body = if with_body {
        read_body(req, headers.get(http::header::CONTENT_LENGTH)).await?
    } else {
        Body::Empty
    };
    let mut out = http::Request::builder()
        .method(method)
        .uri(uri)
        .body(body)
        .map_err(|_| bad_request("Malformed request."))?;
    *out.headers_mut() = headers;
    Ok(out)
}

/// Reads the body of a request of any method that carries one (RFC 9110 lets every method
/// carry one; the platform gives GET and HEAD none), as a stream, stopping at
/// [`MAX_REQUEST_BODY`]. A declared `Content-Length` over the cap is refused before reading.
/// Without one, the body is counted while it arrives; past the cap the rest is read and
/// discarded, then the answer is 413: answering while an upload is still arriving is
/// unreliable on workerd (PLATFORM.md, "Streaming bodies"), and `bytes()` would buffer it all.
async fn read_body(
    req: &mut worker::Request,
    content_length: Option<&HeaderValue>,
) -> Result<Body, AppError> {
    let too_large = || {
        AppError::new(ErrorCode::TooLarge).message(format!(
            "The request body is larger than {MAX_REQUEST_BODY} bytes."
        ))
    };
    let declared = match content_length {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| bad_request("Malformed Content-Length."))?,
        ),
    };
    if declared.is_some_and(|n| n > MAX_REQUEST_BODY) {
        return Err(too_large());
    }
    if req.inner().body().is_none() {
        return Ok(Body::Empty);
    }
    let mut stream = req.stream().map_err(|_| unreadable())?;
    let mut body = Vec::new();
    let mut seen: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| unreadable())?;
        seen = seen.saturating_add(chunk.len() as u64);
        if seen <= MAX_REQUEST_BODY {
            body.extend_from_slice(&chunk);
        }
    }
    if seen > MAX_REQUEST_BODY {
        return Err(too_large());
    }
    // The stream also ends on a client abort: a body shorter than declared is truncated.
    if declared.is_some_and(|n| n != seen) {
        return Err(unreadable());
    }
    Ok(body.into())
}

/// The app's [`Response`] to a `worker::Response`.
fn to_worker(resp: Response) -> worker::Result<worker::Response> {
    let (parts, body) = resp.into_parts();
    let headers = worker::Headers::new();
    for (name, value) in &parts.headers {
        // Our values are ASCII or UTF-8 text (see `HeaderExt`).
        let value = std::str::from_utf8(value.as_bytes())
            .map_err(|_| worker::Error::RustError(format!("header {name} is not UTF-8")))?;
        headers.append(name.as_str(), value)?;
    }
    // Exhaustive on purpose: a streamed body variant must be handled here when it is added.
    let bytes = match body {
        Body::Empty => Vec::new(),
        Body::Bytes(b) => b,
    };
    Ok(worker::Response::from_bytes(bytes)?
        .with_status(parts.status.as_u16())
        .with_headers(headers))
}

/// The configuration, read and validated once per isolate.
fn isolate_config(env: &Env) -> &'static Result<AppConfig, crate::app::config::ConfigError> {
    CONFIG.with(|c| {
        *c.get_or_init(|| {
            Box::leak(Box::new(AppConfig::from_vars(|name| {
                env.var(name)
                    .map(|v| v.to_string())
                    .or_else(|_| env.secret(name).map(|v| v.to_string()))
                    .ok()
            })))
        })
    })
}

/// The cron trigger (`[triggers] crons` in wrangler.toml): re-checks the verified domain
/// claims that are due, at most [`crate::core::domains::RECHECKS_PER_RUN`] per run (each is a
/// DoH request and a registry call, within a run's subrequest budget). Failures are logged; a
/// run that cannot start (configuration, bindings) is logged and retried by the next one.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let config = match isolate_config(&env) {
        Ok(c) => c,
        Err(e) => {
            worker::console_log!("scheduled: configuration error: {e}");
            return;
        }
    };
    let store = match env.kv(kv::KV_BINDING) {
        Ok(ns) => kv::WorkersKv(ns),
        Err(_) => {
            worker::console_log!(
                "scheduled: KV namespace binding {} is missing",
                kv::KV_BINDING
            );
            return;
        }
    };
    let ledger = ledger::DoLedger { env: &env };
    let limits = ratelimit::EdgeRateLimits { env: &env };
    let registry = domains::DoRegistry { env: &env };
    let app = App {
        config,
        store,
        http: fetch::EdgeHttp,
        verifier: webcrypto::WebCryptoVerifier::CACHED,
        clock: &WorkerClock,
        random: &OsRandom,
        log: &ConsoleLog,
        state: STATE.with(|s| *s),
        ledger: &ledger,
        limits: &limits,
        registry: &registry,
    };
    match app
        .recheck_domains(crate::core::domains::RECHECKS_PER_RUN)
        .await
    {
        Ok(r) => worker::console_log!(
            "scheduled cron={} domains checked={} misses={} unverified={} errors={}",
            event.cron(),
            r.checked,
            r.misses,
            r.unverified.len(),
            r.errors
        ),
        Err(e) => worker::console_log!("scheduled cron={}: {e}", event.cron()),
    }
}

#[event(fetch)]
async fn fetch(
    mut req: worker::Request,
    env: Env,
    _ctx: Context,
) -> worker::Result<worker::Response> {
    #[cfg(feature = "bench")]
    if req.path().starts_with("/__bench/") {
        return bench::handle(req).await;
    }
    // Failures before the app runs (and of the forward) answer like the app's own errors (JSON
    // or page, with a logged correlation id, with the app group's and the deployment's policy).
    let path = req
        .url()
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| "-".to_owned());
    let accept = req.headers().get("accept").ok().flatten();
    let as_json = wants_json_at(&path, accept.as_deref());
    let config = isolate_config(&env);
    let refuse = |err: AppError| {
        to_worker(edge_refusal(
            config.as_ref().ok(),
            &ConsoleLog,
            &OsRandom,
            &path,
            as_json,
            err,
        ))
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => return refuse(e.into()),
    };
    let store = match env.kv(kv::KV_BINDING) {
        Ok(ns) => kv::WorkersKv(ns),
        Err(_) => {
            return refuse(
                AppError::new(ErrorCode::ConfigurationError).message(format!(
                "The worker is misconfigured: KV namespace binding {} is missing. See the README.",
                kv::KV_BINDING
            )),
            )
        }
    };
    let gated = crate::app::gateway::is_gated_path(&path);
    let app_req = match to_app(&mut req, !gated).await {
        Ok(r) => r,
        Err(err) => return refuse(err),
    };
    let state = STATE.with(|s| *s);
    let ledger = ledger::DoLedger { env: &env };
    let limits = ratelimit::EdgeRateLimits { env: &env };
    let registry = domains::DoRegistry { env: &env };
    let app = App {
        config,
        store,
        http: fetch::EdgeHttp,
        verifier: webcrypto::WebCryptoVerifier::CACHED,
        clock: &WorkerClock,
        random: &OsRandom,
        log: &ConsoleLog,
        state,
        ledger: &ledger,
        limits: &limits,
        registry: &registry,
    };
    if !gated {
        return to_worker(app.handle(app_req).await);
    }
    let signer = SIGNER.with(|s| {
        *s.get_or_init(|| {
            config.assertion.as_ref().map(|k| {
                &*Box::leak(Box::new(signer::WebCryptoEs256Signer::new(
                    k.current.clone(),
                )))
            })
        })
    });
    match app.gate(&app_req, signer).await {
        GateOutcome::Respond(resp) => to_worker(resp),
        GateOutcome::Forward(plan) => match proxy::forward(&req, &plan).await {
            Ok(resp) => Ok(resp),
            Err(proxy::ForwardError::Method) => refuse(AppError::new(ErrorCode::MethodNotAllowed)),
            Err(proxy::ForwardError::Unreachable(e)) => {
                refuse(AppError::new(ErrorCode::OriginUnavailable).log(format!("origin: {e}")))
            }
        },
    }
}
