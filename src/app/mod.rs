//! The HTTP application, written against the core's ports so the whole request flow runs
//! natively in tests. The edge adapter only translates `worker` types to and from
//! [`HttpRequest`]/[`HttpResponse`] and supplies the ports.

mod admin;
pub mod config;
pub mod pages;
pub mod respond;
mod router;
mod sso;

use crate::core::clock::Clock;
use crate::core::http::{HttpClient, HttpRequest, HttpResponse};
use crate::core::jose::verify::SignatureVerifier;
use crate::core::oidc::discovery::DiscoveryCache;
use crate::core::oidc::jwks_cache::JwksCache;
use crate::core::random::Random;
use crate::core::session::SessionCache;
use crate::core::store::KvStore;
use config::AppConfig;
use std::rc::Rc;

/// Where the application writes its log lines. Lines never contain tokens, codes, secrets or
/// cookies: only reasons, correlation ids and non-secret identifiers.
pub trait Log {
    /// Writes one line.
    fn line(&self, line: &str);
}

/// A log that keeps lines in memory (tests assert that no secret ever reaches it).
#[derive(Debug, Default)]
pub struct MemoryLog(pub std::cell::RefCell<Vec<String>>);

impl Log for MemoryLog {
    fn line(&self, line: &str) {
        self.0.borrow_mut().push(line.to_owned());
    }
}

/// State kept in the isolate between requests (caches with bounded lifetimes).
#[derive(Default)]
pub struct IsolateState {
    /// IdP discovery documents.
    pub discovery: DiscoveryCache,
    /// IdP signing keys.
    pub jwks: JwksCache,
    /// Recently validated sessions.
    pub sessions: Rc<SessionCache>,
}

/// The application: configuration plus ports.
pub struct App<'a, S, H, V> {
    /// Configuration.
    pub config: &'a AppConfig,
    /// Key-value storage (Workers KV).
    pub store: S,
    /// Outbound HTTP (never follows redirects).
    pub http: H,
    /// Signature verification (WebCrypto on the edge).
    pub verifier: V,
    /// The clock.
    pub clock: &'a dyn Clock,
    /// The CSPRNG.
    pub random: &'a dyn Random,
    /// The log.
    pub log: &'a dyn Log,
    /// Isolate-level caches.
    pub state: &'a IsolateState,
}

impl<S: KvStore, H: HttpClient, V: SignatureVerifier> App<'_, S, H, V> {
    /// Answers one request. Never panics on bad input: every failure is an [`respond::AppError`]
    /// rendered as a 4xx/5xx page or JSON with a correlation id that is also logged.
    pub async fn handle(&self, req: HttpRequest) -> HttpResponse {
        let resp = match router::route(self, &req).await {
            Ok(resp) => resp,
            Err(err) => self.render_error(&req, err),
        };
        respond::harden(resp)
    }

    /// Logs `err` with a fresh correlation id and renders it for the client.
    pub(crate) fn render_error(&self, req: &HttpRequest, err: respond::AppError) -> HttpResponse {
        let cid = self.random.token(9).unwrap_or_else(|_| "-".into());
        self.log.line(&format!(
            "error cid={cid} status={} code={} path={} detail={}",
            err.status,
            err.code,
            req.url.path(),
            err.log_detail.as_deref().unwrap_or(&err.message)
        ));
        respond::error_response(&err, respond::wants_json(req), &cid)
    }
}
