//! The HTTP application, written against the core's ports so the whole request flow runs
//! natively in tests. It speaks the `http` crate's types ([`Request`], [`Response`] over the
//! app's [`Body`]); the edge adapter only translates `worker` types to and from them and
//! supplies the ports.

mod admin;
mod admin_auth;
mod admin_domains;
mod admin_members;
mod admin_profile;
mod backchannel;
pub mod config;
pub mod error;
pub mod gateway;
pub mod pages;
pub mod respond;
pub mod router;
pub mod scim;
mod sso;

use crate::core::clock::Clock;
use crate::core::http::HttpClient;
use crate::core::jose::verify::SignatureVerifier;
use crate::core::oidc::discovery::DiscoveryCache;
use crate::core::oidc::jwks_cache::JwksCache;
use crate::core::random::Random;
use crate::core::session::SessionCache;
use crate::core::store::KvStore;
pub use admin_domains::RecheckReport;
use config::AppConfig;
use error::AppError;
use std::rc::Rc;
use url::Url;

/// A request the app receives.
pub type Request = http::Request<Body>;
/// A response the app answers with.
pub type Response = http::Response<Body>;

/// A message body.
///
/// The app's own routes (pages, SSO, admin API) read and write small bodies, and the edge
/// buffers them under a cap before the app runs, so today a body is empty or bytes.
///
/// Plan for the access gateway: its route group forwards request bodies to the origin and
/// returns the origin's responses as they are, which must stream (a buffered 100 MB upload
/// costs workerd ~3x that in memory; see PLATFORM.md "Streaming bodies"). The edge will add a
/// `Stream` variant holding the platform's body stream (cfg'd to wasm32, as only the edge can
/// produce one), passed through untouched; the enum is `#[non_exhaustive]` so that adding it
/// breaks nobody, and [`Body::as_bytes`] answers `None` for it, so a handler of the app's own
/// routes that is ever handed a stream refuses it instead of reading an empty body.
#[derive(Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// A buffered body.
    Bytes(Vec<u8>),
}

impl Body {
    /// The buffered bytes (`Some(&[])` for an empty body; `None` for a body that is not
    /// buffered).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Body::Empty => Some(&[]),
            Body::Bytes(b) => Some(b),
        }
    }
    /// The buffered bytes, consuming the body (`None` for a body that is not buffered).
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Body::Empty => Some(Vec::new()),
            Body::Bytes(b) => Some(b),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Self {
        if b.is_empty() {
            Body::Empty
        } else {
            Body::Bytes(b)
        }
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        s.into_bytes().into()
    }
}

impl From<&str> for Body {
    fn from(s: &str) -> Self {
        s.as_bytes().to_vec().into()
    }
}

/// Header access shared by [`Request`] and [`Response`], so handlers read as plain strings.
pub trait HeaderExt {
    /// The first value of header `name` (case-insensitive), if it is UTF-8.
    fn header(&self, name: &str) -> Option<&str>;
}

impl<B> HeaderExt for http::Request<B> {
    fn header(&self, name: &str) -> Option<&str> {
        first_header(self.headers(), name)
    }
}

impl<B> HeaderExt for http::Response<B> {
    fn header(&self, name: &str) -> Option<&str> {
        first_header(self.headers(), name)
    }
}

fn first_header<'a>(h: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    // UTF-8 rather than `to_str` (visible ASCII only): the edge builds header values from JS
    // strings, so a value reads here exactly as the platform handed it over.
    h.get(name)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
}

/// What handlers read of a request, as they did before the `http` types.
pub trait RequestExt: HeaderExt {
    /// The path (percent-encoded as received).
    fn path(&self) -> &str;
    /// The value of query parameter `name` (first occurrence, decoded).
    fn query(&self, name: &str) -> Option<String>;
    /// The request's URL as the public reaches it: `PUBLIC_ORIGIN` + path + query. The request's
    /// own Host (and any X-Forwarded-*) is never used: the edge gives the app only the path and
    /// query.
    fn public_url(&self, public_origin: &Url) -> Url;
}

impl<B> RequestExt for http::Request<B> {
    fn path(&self) -> &str {
        self.uri().path()
    }
    fn query(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.uri().query()?.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
    fn public_url(&self, public_origin: &Url) -> Url {
        let mut u = public_origin.clone();
        u.set_path(self.uri().path());
        u.set_query(self.uri().query());
        u
    }
}

/// What handlers and tests read and write of a response.
pub trait ResponseExt: HeaderExt {
    /// The body as UTF-8 (lossy), for tests and logs of non-secret bodies.
    fn text(&self) -> String;
    /// Appends a header (for `Set-Cookie`, of which there may be several).
    fn append_header(&mut self, name: http::HeaderName, value: &str) -> Result<(), AppError>;
    /// Sets a header, replacing any value it had.
    fn set_header(&mut self, name: http::HeaderName, value: &str) -> Result<(), AppError>;
}

impl ResponseExt for Response {
    fn text(&self) -> String {
        String::from_utf8_lossy(self.body().as_bytes().unwrap_or_default()).into_owned()
    }
    fn append_header(&mut self, name: http::HeaderName, value: &str) -> Result<(), AppError> {
        self.headers_mut()
            .append(name, respond::header_value(value)?);
        Ok(())
    }
    fn set_header(&mut self, name: http::HeaderName, value: &str) -> Result<(), AppError> {
        self.headers_mut()
            .insert(name, respond::header_value(value)?);
        Ok(())
    }
}

/// Where the application writes its log lines. Lines never contain tokens, codes, secrets or
/// cookies: only reasons, correlation ids and non-secret identifiers.
pub trait Log {
    /// Writes one line.
    fn line(&self, line: &str);
}

#[cfg(any(test, feature = "testkit"))]
/// A log that keeps lines in memory (tests assert that no secret ever reaches it).
#[derive(Debug, Default)]
pub struct MemoryLog(pub std::cell::RefCell<Vec<String>>);

#[cfg(any(test, feature = "testkit"))]
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
    /// Recently read org configurations.
    pub orgs: crate::core::org_cache::OrgCache,
    /// Recently signed gateway assertions.
    pub assertions: gateway::AssertionCache,
    /// Recently fetched org revocation snapshots.
    pub snapshots: crate::core::ledger::SnapshotCache,
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
    /// The org ledgers (members, revocations, SCIM): one Durable Object per org on the edge.
    pub ledger: &'a dyn crate::core::ledger::LedgerPort,
    /// Rate limits per client address (the Workers Rate Limiting binding on the edge).
    pub limits: &'a dyn crate::core::ratelimit::RateLimits,
    /// Who has claimed and verified which domain: one Durable Object on the edge.
    pub registry: &'a dyn crate::core::domains::RegistryPort,
}

/// The client's address as the platform reports it (`CF-Connecting-IP`, set by Cloudflare's
/// edge, never a forwarded header), the key of every rate limit. An IPv6 address counts by its
/// /64 prefix: that is the smallest block a client is given (RFC 6177, RFC 7421: one subnet, one
/// home line or VM), and any host in it may pick any of its 2^64 addresses (RFC 8981), so a key
/// per address would give one client an unlimited budget. IPv4 (and IPv4-mapped) addresses
/// count whole.
///
/// Cloudflare's "Pseudo IPv4: Overwrite headers" puts a Class E address (240.0.0.0/4), hashed
/// from the client's IPv6 address, in `CF-Connecting-IP` and the real one in
/// `CF-Connecting-IPv6`: one per IPv6 address, so again one fresh budget per address. Only
/// then, with an address no real IPv4 client has, is `CF-Connecting-IPv6` read (and counted by
/// its /64); otherwise a client could pick its own key by sending that header.
pub(crate) fn client_key(req: &Request) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let address = |name: &str| {
        req.header(name)
            .map(str::trim)
            .filter(|ip| !ip.is_empty() && ip.len() <= 64)
    };
    let Some(ip) = address("cf-connecting-ip") else {
        return Cow::Borrowed("unknown");
    };
    let per_64 = |v6: std::net::Ipv6Addr| {
        let s = v6.segments();
        format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
    };
    if let Ok(v4) = ip.parse::<std::net::Ipv4Addr>() {
        let pseudo = v4.octets()[0] >= 240 && !v4.is_broadcast();
        if let Some(real) = address("cf-connecting-ipv6")
            .filter(|_| pseudo)
            .and_then(|v6| v6.parse::<std::net::Ipv6Addr>().ok())
            .filter(|v6| v6.to_ipv4_mapped().is_none())
        {
            return Cow::Owned(per_64(real));
        }
        return Cow::Borrowed(ip);
    }
    match ip.parse::<std::net::Ipv6Addr>() {
        Ok(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Cow::Owned(v4.to_string()),
            None => Cow::Owned(per_64(v6)),
        },
        Err(_) => Cow::Borrowed(ip),
    }
}

impl<S, H, V> App<'_, S, H, V> {
    /// Counts one request of `class` from this client; a 429 with `Retry-After` over budget.
    pub(crate) async fn rate_limit(
        &self,
        req: &Request,
        class: crate::core::ratelimit::LimitClass,
    ) -> Result<(), AppError> {
        if self.limits.allow(class, &client_key(req)).await {
            return Ok(());
        }
        let (_, period) = class.budget();
        self.log.line(&format!("rate-limited class={class:?}"));
        Err(AppError::new(error::ErrorCode::RateLimited)
            .header(http::header::RETRY_AFTER, http::HeaderValue::from(period)))
    }
}

impl<S: KvStore, H, V> App<'_, S, H, V> {
    /// The session store every handler uses: KV behind the isolate's cache, every org session
    /// checked against the org's ledger (through the isolate's revocation snapshots).
    pub(crate) fn sessions(
        &self,
    ) -> crate::core::session::SessionStore<&S, crate::core::ledger::LedgerRevocations<'_>> {
        crate::core::session::SessionStore::with_cache(&self.store, self.state.sessions.clone())
            .with_revocations(crate::core::ledger::LedgerRevocations {
                ledger: self.ledger,
                cache: &self.state.snapshots,
            })
    }
}

impl<S: KvStore, H: HttpClient, V: SignatureVerifier> App<'_, S, H, V> {
    /// Answers one request. Never panics on bad input: every failure is an [`AppError`]
    /// rendered as a 4xx/5xx page or JSON with a correlation id that is also logged. The
    /// matched route's group then applies its response policy (the app's own group hardens).
    pub async fn handle(&self, req: Request) -> Response {
        let (group, result) = router::route(self, &req).await;
        let resp = match result {
            Ok(resp) => resp,
            Err(err) => self.render_error(&req, err),
        };
        self.deployed(group.finish(resp))
    }

    /// The deployment's response policy on edge-sso's own responses (HSTS, production CSP).
    pub(crate) fn deployed(&self, resp: Response) -> Response {
        deployed(self.config, resp)
    }

    /// Logs `err` with a fresh correlation id and renders it for the client.
    pub(crate) fn render_error<B>(&self, req: &http::Request<B>, err: AppError) -> Response {
        let as_json = respond::wants_json(req);
        render_error(self.log, self.random, req.path(), as_json, err)
    }
}

/// The deployment's response policy (HSTS when `PUBLIC_ORIGIN` is https, the production CSP
/// unless loopback IdPs are allowed) on a response of edge-sso's own.
fn deployed(config: &AppConfig, resp: Response) -> Response {
    respond::deployment_policy(
        resp,
        config.public_origin.scheme() == "https",
        config.idp_policy.allow_insecure_loopback,
    )
}

/// The answer of the edge when it refuses a request before the app runs or after the gate
/// (a configuration error, a missing binding, an unreadable or oversized body, a method the
/// platform cannot forward, an unreachable origin): rendered by [`render_error`], with the app
/// group's response policy and, when the configuration is known (`config`), the deployment's
/// (HSTS, the production CSP), so these answers carry the headers every other answer of
/// edge-sso's own carries.
pub fn edge_refusal(
    config: Option<&AppConfig>,
    log: &dyn Log,
    random: &dyn Random,
    path: &str,
    as_json: bool,
    err: AppError,
) -> Response {
    let resp = router::RouteGroup::App.finish(render_error(log, random, path, as_json, err));
    match config {
        Some(config) => deployed(config, resp),
        None => resp,
    }
}

/// Logs `err` with a fresh correlation id and renders it for the client: JSON when `as_json`
/// (see [`respond::wants_json`]), otherwise the error page. Also used by the edge for failures
/// before the app runs (bad configuration, a missing binding, an unreadable or oversized body);
/// the caller applies the route group's policy ([`router::RouteGroup::finish`]).
pub fn render_error(
    log: &dyn Log,
    random: &dyn Random,
    path: &str,
    as_json: bool,
    err: AppError,
) -> Response {
    let cid = random.token(9).unwrap_or_else(|_| "-".into());
    log.line(&format!(
        "error cid={cid} status={} code={} path={} detail={}",
        err.status().as_u16(),
        err.code,
        path,
        err.log_detail.as_deref().unwrap_or(&err.message)
    ));
    respond::error_response(err, as_json, &cid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::clock::FixedClock;
    use crate::core::http::{HttpError, HttpRequest, HttpResponse};
    use crate::core::jose::native_verifier::NativeVerifier;
    use crate::core::random::CountingRandom;
    use crate::core::store::{block_on, MemoryStore};
    use http::Method;

    struct Offline;

    impl HttpClient for Offline {
        async fn send(&self, _: HttpRequest, _: usize) -> Result<HttpResponse, HttpError> {
            Err(HttpError::Network("offline".into()))
        }
    }

    /// The deployment the tests run as (https, so with the production policy).
    fn config() -> AppConfig {
        AppConfig::from_vars(|k| match k {
            "PUBLIC_ORIGIN" => Some("https://sso.example.com".into()),
            "ADMIN_TOKEN" => Some("0123456789abcdef0123".into()),
            "COOKIE_SECRET" => Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".into()),
            _ => None,
        })
        .unwrap()
    }

    fn send(method: Method, uri: &str, accept: Option<&str>) -> Response {
        let config = config();
        let clock = FixedClock::at(1_700_000_000);
        let app = App {
            config: &config,
            store: MemoryStore::new(&clock),
            http: Offline,
            verifier: NativeVerifier,
            clock: &clock,
            random: &CountingRandom::default(),
            log: &MemoryLog::default(),
            state: &IsolateState::default(),
            ledger: &crate::core::ledger::MemoryLedger::new(&clock),
            limits: &crate::core::ratelimit::NoLimits,
            registry: &crate::core::domains::MemoryRegistry::new(&clock),
        };
        let mut req = http::Request::builder().method(method).uri(uri);
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        block_on(app.handle(req.body(Body::Empty).unwrap()))
    }

    fn assert_hardened(r: &Response) {
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    }

    fn error_json(r: &Response) -> serde_json::Value {
        serde_json::from_slice(r.body().as_bytes().unwrap()).unwrap()
    }

    #[test]
    fn edge_refusals_carry_the_deployment_policy() {
        let config = config();
        let log = MemoryLog::default();
        let random = CountingRandom::default();
        let refuse = |config: Option<&AppConfig>, as_json: bool| {
            let err = AppError::new(error::ErrorCode::TooLarge);
            edge_refusal(config, &log, &random, "/admin/orgs/acme", as_json, err)
        };
        // An oversized body on an https deployment: HSTS like every other answer, and the page
        // has the production CSP (no loopback form-action).
        for as_json in [true, false] {
            let r = refuse(Some(&config), as_json);
            assert_eq!(r.status(), 413);
            assert_hardened(&r);
            assert_eq!(
                r.header("strict-transport-security"),
                Some(respond::HSTS),
                "json: {as_json}"
            );
            assert_eq!(r.header("cache-control"), Some("no-store"));
        }
        assert_eq!(
            refuse(Some(&config), false).header("content-security-policy"),
            Some(respond::CSP_PRODUCTION)
        );
        // Without a configuration (the refusal is of the configuration) the app policy still
        // applies.
        let r = refuse(None, false);
        assert_hardened(&r);
        assert_eq!(r.header("content-security-policy"), Some(respond::CSP));
        assert_eq!(r.header("strict-transport-security"), None);
    }

    #[test]
    fn a_known_path_with_another_method_is_405_with_allow() {
        for (method, path, allow) in [
            (Method::PATCH, "/admin/orgs/acme", "GET, PUT, DELETE"),
            (Method::GET, "/admin/orgs/acme/revoke", "POST"),
            (Method::PUT, "/admin/orgs/acme/members", "GET"),
            (Method::GET, "/admin/orgs/acme/scim-token", "POST, DELETE"),
            (Method::POST, "/admin/orgs/acme/domains", "GET"),
            (
                Method::GET,
                "/admin/orgs/acme/domains/acme.com",
                "PUT, DELETE",
            ),
            (
                Method::GET,
                "/admin/orgs/acme/domains/acme.com/verify",
                "POST",
            ),
            (Method::OPTIONS, "/", "GET, HEAD"),
            (Method::POST, "/admin/orgs", "GET"),
            (Method::GET, "/sso/logout", "POST"),
            (
                Method::from_bytes(b"BREW").unwrap(),
                "/healthz",
                "GET, HEAD",
            ),
        ] {
            let r = send(method.clone(), path, Some("application/json"));
            assert_eq!(r.status(), 405, "{method} {path}");
            assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
            assert_eq!(error_json(&r)["error"], "method_not_allowed");
            assert!(error_json(&r)["correlation_id"].is_string());
            assert_hardened(&r);
        }
    }

    #[test]
    fn an_unknown_path_is_404_and_hardened() {
        for path in ["/nope", "/sso/start/", "/healthz/", "/www/../admin"] {
            let r = send(Method::GET, path, None);
            assert_eq!(r.status(), 404, "{path}");
            assert_eq!(r.header("allow"), None);
            assert!(r.header("content-security-policy").is_some(), "html page");
            assert_eq!(r.header("cache-control"), Some("no-store"));
            assert_hardened(&r);
        }
        for (method, path) in [(Method::DELETE, "/nope"), (Method::GET, "/admin/orgs/")] {
            let r = send(method, path, Some("application/json"));
            assert_eq!(r.status(), 404, "{path}");
            assert_eq!(error_json(&r)["error"], "not_found");
            assert_hardened(&r);
        }
    }

    #[test]
    fn head_answers_as_get_and_assets_keep_their_cache_policy() {
        let r = send(Method::HEAD, "/healthz", None);
        assert_eq!(r.status(), 200);
        let r = send(Method::GET, "/www/style.css", None);
        assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
        assert_hardened(&r);
    }

    #[test]
    fn request_ext_reads_path_query_headers_and_the_public_url() {
        let req = http::Request::builder()
            .uri("/sso/callback?code=a%20b&state=s&code=second")
            .header("Cookie", "x=1")
            .header("cookie", "y=2")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(req.path(), "/sso/callback");
        assert_eq!(req.query("code").as_deref(), Some("a b"));
        assert_eq!(req.query("missing"), None);
        assert_eq!(req.header("COOKIE"), Some("x=1"));
        let origin = Url::parse("https://sso.example.com").unwrap();
        assert_eq!(
            req.public_url(&origin).as_str(),
            "https://sso.example.com/sso/callback?code=a%20b&state=s&code=second"
        );
        // A path that looks like an authority stays a path on PUBLIC_ORIGIN.
        let req = http::Request::builder()
            .uri("//evil.example/x")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(req.public_url(&origin).host_str(), Some("sso.example.com"));
    }
}
