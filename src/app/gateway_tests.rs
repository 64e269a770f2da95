// Native tests of the gateway on the app's ports (see gateway.rs): hand-built requests through
// `App::gate` on a stopped clock, an in-memory store, the native ES256 signer and verifier.

use super::*;
use crate::app::config::AppConfig;
use crate::app::{Body, IsolateState, MemoryLog};
use crate::core::clock::{Clock, FixedClock};
use crate::core::cookie::SECURE_SESSION_COOKIE;
use crate::core::gateway::headers::{EMAIL_HEADER, ORG_HEADER, ROLE_HEADER};
use crate::core::http::{HttpError, HttpRequest, HttpResponse};
use crate::core::jose::jwk::PublicJwk;
use crate::core::jose::jws::{JwsPolicy, UntrustedJws};
use crate::core::jose::native_signer::NativeEs256Signer;
use crate::core::jose::native_verifier::NativeVerifier;
use crate::core::jose::private_jwk::EcPrivateJwk;
use crate::core::jose::testkit::{fixture, Key};
use crate::core::ledger::MemoryLedger;
use crate::core::member::Member;
use crate::core::org::{OrgConfig, OrgSlug, Role};
use crate::core::org_cache::ORG_CACHE_SECS;
use crate::core::random::CountingRandom;
use crate::core::session::OrgSession;
use crate::core::store::{block_on, MemoryStore, StoreError};
use serde_json::{json, Value};
use std::cell::Cell;
use std::rc::Rc;

// ---------------------------------------------------------------------------------------------
// Deployment

const T0: u64 = 1_700_000_000;
const PUBLIC_ORIGIN: &str = "https://sso.example.com";
const ORIGIN_URL: &str = "https://hub.internal.example:8443";
const ADMIN_TOKEN: &str = "0123456789abcdef0123";
const KID: &str = "gw-test-1";
const ISSUER: &str = "https://idp.example.com";

/// The fixture P-256 key as `ASSERTION_SIGNING_KEY`, with a `kid`.
fn signing_key_json() -> String {
    let mut v: serde_json::Map<String, Value> =
        crate::core::json::from_str(fixture(Key::P256)).unwrap();
    v.insert("kid".into(), KID.into());
    Value::Object(v).to_string()
}

fn config(gateway_on: bool) -> AppConfig {
    let key = signing_key_json();
    AppConfig::from_vars(|k| match k {
        "PUBLIC_ORIGIN" => Some(PUBLIC_ORIGIN.into()),
        "ADMIN_TOKEN" => Some(ADMIN_TOKEN.into()),
        "COOKIE_SECRET" => Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".into()),
        "ORIGIN_URL" if gateway_on => Some(ORIGIN_URL.into()),
        "ASSERTION_SIGNING_KEY" => Some(key.clone()),
        _ => None,
    })
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Ports

/// The stopped clock, shared by the app and the store.
#[derive(Clone)]
struct TestClock(Rc<FixedClock>);

impl Clock for TestClock {
    fn now(&self) -> UnixTime {
        self.0.now()
    }
}

/// The gateway makes no outbound call of its own (the edge forwards).
struct Offline;

impl HttpClient for Offline {
    async fn send(&self, _: HttpRequest, _: usize) -> Result<HttpResponse, HttpError> {
        Err(HttpError::Network("offline".into()))
    }
}

/// A memory store whose reads can be made to fail.
struct Flaky {
    inner: MemoryStore<TestClock>,
    fail_reads: Cell<bool>,
}

impl KvStore for Flaky {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        if self.fail_reads.get() {
            return Err(StoreError("down".into()));
        }
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> Result<(), StoreError> {
        self.inner.put(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.inner.list(prefix, limit).await
    }
}

// ---------------------------------------------------------------------------------------------
// Fixture

struct Fixture {
    config: AppConfig,
    clock: TestClock,
    store: Flaky,
    random: CountingRandom,
    log: MemoryLog,
    state: IsolateState,
    signer: NativeEs256Signer,
    ledger: MemoryLedger<TestClock>,
    registry: crate::core::domains::MemoryRegistry<TestClock>,
}

type TestApp<'a> = App<'a, &'a Flaky, Offline, NativeVerifier>;

impl Fixture {
    fn new(gateway_on: bool) -> Fixture {
        let config = config(gateway_on);
        let key = EcPrivateJwk::parse(&signing_key_json()).unwrap();
        let clock = TestClock(Rc::new(FixedClock::at(T0)));
        Fixture {
            signer: NativeEs256Signer::new(&key).unwrap(),
            config,
            store: Flaky {
                inner: MemoryStore::new(clock.clone()),
                fail_reads: Cell::new(false),
            },
            ledger: MemoryLedger::new(clock.clone()),
            registry: crate::core::domains::MemoryRegistry::new(clock.clone()),
            clock,
            random: CountingRandom::default(),
            log: MemoryLog::default(),
            state: IsolateState::default(),
        }
    }

    /// A deployment with the gateway on.
    fn on() -> Fixture {
        Fixture::new(true)
    }

    fn app(&self) -> TestApp<'_> {
        App {
            config: &self.config,
            store: &self.store,
            http: Offline,
            verifier: NativeVerifier,
            clock: &self.clock,
            random: &self.random,
            log: &self.log,
            state: &self.state,
            ledger: &self.ledger,
            limits: &crate::core::ratelimit::NoLimits,
            registry: &self.registry,
        }
    }

    fn now(&self) -> UnixTime {
        self.clock.now()
    }

    fn advance(&self, secs: u64) {
        self.clock.0.advance(secs);
    }

    fn gate(&self, req: &Request) -> GateOutcome {
        block_on(self.app().gate(req, Some(&self.signer)))
    }

    fn forward(&self, req: &Request) -> ForwardPlan {
        match self.gate(req) {
            GateOutcome::Forward(plan) => plan,
            GateOutcome::Respond(r) => {
                panic!("expected a forward, got {} {}", r.status(), r.text())
            }
        }
    }

    fn respond(&self, req: &Request) -> Response {
        match self.gate(req) {
            GateOutcome::Respond(r) => r,
            GateOutcome::Forward(plan) => panic!("expected a response, got a forward: {plan:?}"),
        }
    }

    /// Stores org `slug` through the directory (this isolate's org cache is left alone, like a
    /// change made at another location).
    fn put_org(&self, slug: &str, extra: Value) {
        let dir = OrgDirectory::new(&self.store);
        block_on(dir.put(org_config(slug, extra))).unwrap();
    }

    fn delete_org(&self, slug: &str) {
        let dir = OrgDirectory::new(&self.store);
        assert!(block_on(dir.delete(&slug_of(slug))).unwrap());
    }

    /// Forgets this isolate's cached config of `slug` (what the admin API does after a write).
    fn forget(&self, slug: &str) {
        self.state.orgs.forget(&slug_of(slug));
    }

    /// Signs `member` in to `slug` and returns the session cookie value.
    fn login(&self, slug: &str, member: &Member) -> String {
        let now = self.now();
        let session = OrgSession::new(member, now, 8 * 3600, None);
        let store = crate::core::session::SessionStore::new(&self.store);
        let new = block_on(store.login(&self.random, now, None, &slug_of(slug), session)).unwrap();
        new.id.expose().to_owned()
    }

    /// A reader of acme (`groups: [readers]`) signed in; the cookie value.
    fn reader_session(&self) -> String {
        self.login("acme", &member(&["readers"]))
    }

    /// The admin API, as an operator would call it.
    fn admin(&self, method: http::Method, path: &str, body: Option<Value>) -> Response {
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
            .header("content-type", "application/json")
            .body(body.map_or(Body::Empty, |b| Body::from(b.to_string())))
            .unwrap();
        block_on(self.app().handle(req))
    }

    fn logs(&self) -> String {
        self.log.0.borrow().join("\n")
    }
}

// ---------------------------------------------------------------------------------------------
// Orgs and members

fn slug_of(s: &str) -> OrgSlug {
    OrgSlug::parse(s).unwrap()
}

/// Readers get `read`, writers `write`; `extra` overrides or adds fields.
fn org_body(extra: Value) -> Value {
    let mut body = json!({
        "domains": ["example.com"],
        "issuer": ISSUER,
        "client_id": "client-123",
        "client_secret": "s3cret",
        "role_mapping": [
            {"claim": "groups", "value": "readers", "role": "read"},
            {"claim": "groups", "value": "writers", "role": "write"}
        ],
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn org_config(slug: &str, extra: Value) -> OrgConfig {
    OrgConfig::from_admin_json(
        slug_of(slug),
        org_body(extra).to_string().as_bytes(),
        &crate::core::oidc::url_policy::IdpUrlPolicy {
            allow_insecure_loopback: false,
        },
        None,
    )
    .unwrap()
}

/// Ada (issuer and client id of `org_body`), with `groups` as the role claims kept at sign-in.
fn member(groups: &[&str]) -> Member {
    let claims = json!({ "groups": groups });
    Member::for_tests("u-ada", "ada@example.com", Role::Read)
        .with_role_claims(claims.as_object().unwrap().clone())
}

// ---------------------------------------------------------------------------------------------
// Requests

fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> Request {
    let mut b = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::Empty).unwrap()
}

fn session_cookie(id: &str) -> String {
    format!("{SECURE_SESSION_COOKIE}={id}")
}

/// A script's GET with the session.
fn api_get(uri: &str, session: &str) -> Request {
    let cookie = session_cookie(session);
    request(
        "GET",
        uri,
        &[("accept", "application/json"), ("cookie", &cookie)],
    )
}

const NAVIGATE: (&str, &str) = ("sec-fetch-mode", "navigate");
const JSON: (&str, &str) = ("accept", "application/json");

// ---------------------------------------------------------------------------------------------
// Reading outcomes

fn header<'a>(plan: &'a ForwardPlan, name: &str) -> Option<&'a str> {
    plan.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn edge_sso_header_names(plan: &ForwardPlan) -> Vec<String> {
    plan.headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .filter(|k| k.starts_with("edge-sso-"))
        .collect()
}

fn assert_anonymous(plan: &ForwardPlan) {
    assert_eq!(plan.identity, None);
    assert!(edge_sso_header_names(plan).is_empty(), "{:?}", plan.headers);
}

fn error_json(r: &Response) -> Value {
    serde_json::from_slice(r.body().as_bytes().unwrap()).unwrap()
}

fn assert_error(r: &Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status(), status, "{}", r.text());
    let v = error_json(r);
    assert_eq!(v["error"], code, "{v}");
    assert!(v["correlation_id"].is_string());
    assert_eq!(r.header("x-frame-options"), Some("DENY"), "hardened");
    v
}

fn assertion(plan: &ForwardPlan) -> &str {
    header(plan, ASSERTION_HEADER).expect("an assertion")
}

/// The verified claims of an assertion, checked against the published key.
fn verified_claims(fx: &Fixture, jws: &str) -> Value {
    const POLICY: JwsPolicy<'static> = JwsPolicy {
        max_bytes: 8192,
        max_payload_bytes: 4096,
        typ: &["JWT"],
        typ_optional: false,
    };
    let public = fx.config.assertion.as_ref().unwrap().current.public_jwk();
    assert!(public.get("d").is_none());
    let public = PublicJwk::parse(&public).unwrap();
    let token = UntrustedJws::parse(jws, &POLICY).unwrap();
    assert_eq!(token.kid(), Some(KID));
    let payload = block_on(token.verify_signature(&public, &NativeVerifier)).unwrap();
    serde_json::from_slice(payload).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Gateway off, paths

#[test]
fn gateway_off_is_404_for_every_gated_path() {
    let fx = Fixture::new(false);
    assert!(fx.config.origin_url.is_none() && fx.config.assertion.is_none());
    for path in ["/orgs/acme", "/orgs/acme/x", "/orgs/acme//x", "/orgs"] {
        let req = request("GET", path, &[JSON]);
        assert_error(&fx.respond(&req), 404, "not_found");
        let off = block_on(fx.app().gate(&req, None::<&NativeEs256Signer>));
        assert!(matches!(off, GateOutcome::Respond(r) if r.status() == 404));
    }
    // ORIGIN_URL without a signer is off too.
    let fx = Fixture::on();
    fx.put_org("acme", json!({}));
    let req = request("GET", "/orgs/acme", &[JSON]);
    let out = block_on(fx.app().gate(&req, None::<&NativeEs256Signer>));
    assert!(matches!(out, GateOutcome::Respond(r) if r.status() == 404));
}

#[test]
fn non_canonical_paths_are_400_and_never_forwarded() {
    let fx = Fixture::on();
    fx.put_org("acme", json!({"enforced": false}));
    let session = fx.reader_session();
    let cookie = session_cookie(&session);
    for path in [
        "/orgs/acme//x",
        "/orgs/ACME/x",
        "/orgs/acme/a%2fb",
        "/orgs/acme/%2e/x",
        "/orgs/acme/%2E%2E/admin",
        "/orgs/acme/../other",
        "/orgs/acme/",
        "/orgs/acme/%61",
        "/orgs/acme/a%252fb",
        "/ORGS/acme",
        "/orgs//acme",
    ] {
        let req = request("GET", path, &[JSON, ("cookie", &cookie)]);
        let r = fx.respond(&req);
        assert_error(&r, 400, "invalid_path");
    }
    assert!(
        !fx.logs().contains(&session),
        "the session id is never logged"
    );
}

#[test]
fn orgs_itself_is_not_gated_and_is_404() {
    let fx = Fixture::on();
    assert_error(
        &fx.respond(&request("GET", "/orgs", &[JSON])),
        404,
        "not_found",
    );
}

// ---------------------------------------------------------------------------------------------
// Orgs without enforcement

#[test]
fn unknown_org_forwards_anonymously_and_drops_spoofed_identity() {
    let fx = Fixture::on();
    let req = request(
        "POST",
        "/orgs/nobody/x?y=1",
        &[
            ("Edge-SSO-Email", "ceo@example.com"),
            ("edge-sso-assertion", "forged.jwt.value"),
            ("EDGE-SSO-ROLE", "admin"),
            ("x-kept", "yes"),
        ],
    );
    let plan = fx.forward(&req);
    assert_anonymous(&plan);
    assert_eq!(plan.url, format!("{ORIGIN_URL}/orgs/nobody/x?y=1"));
    assert_eq!(header(&plan, "x-kept"), Some("yes"));
}

#[test]
fn unknown_org_drops_spoofed_headers_even_with_a_session_of_another_org() {
    let fx = Fixture::on();
    fx.put_org("acme", json!({}));
    let session = fx.reader_session();
    let cookie = session_cookie(&session);
    let req = request(
        "GET",
        "/orgs/nobody",
        &[("cookie", &cookie), ("edge-sso-email", "x@y")],
    );
    let plan = fx.forward(&req);
    assert_anonymous(&plan);
    assert_eq!(
        header(&plan, "cookie"),
        None,
        "our cookie never reaches the origin"
    );
}

#[test]
fn unenforced_org_forwards_without_session_and_with_identity_when_signed_in() {
    let fx = Fixture::on();
    fx.put_org("acme", json!({"enforced": false}));
    let req = request("DELETE", "/orgs/acme/settings", &[NAVIGATE]);
    assert_anonymous(&fx.forward(&req));

    let session = fx.reader_session();
    let plan = fx.forward(&api_get("/orgs/acme/models", &session));
    let identity = plan.identity.clone().expect("the member is told about");
    assert_eq!(identity.email, "ada@example.com");
    assert!(header(&plan, ASSERTION_HEADER).is_some());
}

// ---------------------------------------------------------------------------------------------
// Enforced org without a session

#[test]
fn navigation_without_session_redirects_to_sign_in_and_back() {
    let fx = Fixture::on();
    fx.put_org("acme", json!({}));
    let req = request("GET", "/orgs/acme/models?tab=files", &[NAVIGATE]);
    let r = fx.respond(&req);
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.header("location"),
        Some("/sso/start?org=acme&return_to=%2Forgs%2Facme%2Fmodels%3Ftab%3Dfiles")
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
}

#[test]
fn fetch_without_session_is_401_json_with_login_url() {
    let fx = Fixture::on();
    fx.put_org("acme", json!({}));
    for method in ["GET", "POST"] {
        let req = request(method, "/orgs/acme/api/items", &[JSON]);
        let r = fx.respond(&req);
        let v = assert_error(&r, 401, "sso_required");
        assert_eq!(v["login_url"], "/sso/start?org=acme");
        let challenge = r.header("www-authenticate").expect("a challenge");
        assert!(challenge.starts_with("EdgeSSO "), "{challenge}");
        assert!(
            r.header("location").is_none(),
            "never a redirect for a script"
        );
    }
}

#[test]
fn unknown_malformed_or_other_org_sessions_count_as_none() {
    let fx = Fixture::on();
    fx.put_org("acme", json!({}));
    fx.put_org("globex", json!({"domains": ["globex.example"]}));
    let other = fx.login("globex", &member(&["readers"]));
    let unknown = "A".repeat(43);
    for value in [unknown.as_str(), "not-an-id", other.as_str()] {
        let r = fx.respond(&api_get("/orgs/acme", value));
        assert_error(&r, 401, "sso_required");
    }
    // The dev cookie name does not count on an https deployment.
    let session = fx.reader_session();
    let cookie = format!("sso_session={session}");
    let req = request("GET", "/orgs/acme", &[JSON, ("cookie", &cookie)]);
    assert_error(&fx.respond(&req), 401, "sso_required");
}

// ---------------------------------------------------------------------------------------------
// Enforced org with a session

#[test]
fn reader_get_is_forwarded_with_identity_headers_and_a_verifiable_assertion() {
    let fx = Fixture::on();
    fx.put_org("acme", json!({}));
    let session = fx.reader_session();
    let plan = fx.forward(&api_get("/orgs/acme/models/x", &session));

    assert_eq!(header(&plan, EMAIL_HEADER), Some("ada@example.com"));
    assert_eq!(header(&plan, ORG_HEADER), Some("acme"));
    assert_eq!(header(&plan, ROLE_HEADER), Some("read"));
    let mut names = edge_sso_header_names(&plan);
    names.sort();
    assert_eq!(
        names,
        [
            "edge-sso-assertion",
            "edge-sso-email",
            "edge-sso-org",
            "edge-sso-role"
        ]
    );
    let identity = plan.identity.clone().unwrap();
    assert_eq!(identity.roles.org, Some(Role::Read));

    let c = verified_claims(&fx, assertion(&plan));
    assert_eq!(c["iss"], PUBLIC_ORIGIN);
    assert_eq!(c["aud"], ORIGIN_URL);
    assert_eq!(c["sub"], "u-ada");
    assert_eq!(c["email"], "ada@example.com");
    assert_eq!(c["org"], "acme");
    assert_eq!(c["role"], "read");
    assert_eq!(c["idp"], ISSUER);
    assert_eq!(c["iat"], T0);
    let exp = c["exp"].as_u64().unwrap();
    assert!(exp > T0 && exp <= T0 + 300, "{exp}");
    assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 16), "{c}");
    assert!(c.get("rg").is_none());

    let logs = fx.logs();
    assert!(!logs.contains(&session) && !logs.contains(assertion(&plan)));
}

#[test]
fn reader_write_is_403_insufficient_role() {
    let fx = Fixture::on();
    fx.put_org("acme", json!({}));
    let session = fx.reader_session();
    let cookie = session_cookie(&session);
    for method in ["POST", "PUT", "DELETE"] {
        let req = request(method, "/orgs/acme/models/x", &[JSON, ("cookie", &cookie)]);
        let v = assert_error(&fx.respond(&req), 403, "insufficient_role");
        assert_eq!(v["required_role"], "write", "{method}");
    }
    // A writer may.
    let writer = fx.login("acme", &member(&["writers"]));
    let cookie = session_cookie(&writer);
    let req = request("POST", "/orgs/acme/models/x", &[("cookie", &cookie)]);
    let plan = fx.forward(&req);
    assert_eq!(header(&plan, ROLE_HEADER), Some("write"));
}

#[test]
fn forward_strips_our_cookies_keeps_others_and_targets_the_origin() {
    let fx = Fixture::on();
    fx.put_org("acme", json!({}));
    let session = fx.reader_session();
    let cookie = format!("theme=dark; {}; sso_tx=abc", session_cookie(&session));
    let req = request(
        "GET",
        "/orgs/acme/models/caf%C3%A9?q=a%20b&x=1",
        &[
            ("cookie", &cookie),
            ("connection", "x-hop"),
            ("x-hop", "1"),
            ("accept", "text/plain"),
        ],
    );
    let plan = fx.forward(&req);
    assert_eq!(
        plan.url,
        "https://hub.internal.example:8443/orgs/acme/models/caf%C3%A9?q=a%20b&x=1"
    );
    assert_eq!(header(&plan, "cookie"), Some("theme=dark"));
    assert_eq!(header(&plan, "accept"), Some("text/plain"));
    assert_eq!(header(&plan, "connection"), None);
    assert_eq!(header(&plan, "x-hop"), None);
    assert!(plan.headers.iter().all(|(_, v)| !v.contains(&session)));

    // Only our cookie: no Cookie header at all; no query: no `?`.
    let plan = fx.forward(&api_get("/orgs/acme", &session));
    assert_eq!(header(&plan, "cookie"), None);
    assert_eq!(plan.url, format!("{ORIGIN_URL}/orgs/acme"));
}

// ---------------------------------------------------------------------------------------------
// The assertion cache

#[test]
fn assertion_is_reused_within_the_window_and_signed_again_after() {
    let fx = Fixture::on();
    fx.put_org("acme", json!({}));
    let session = fx.reader_session();
    let req = api_get("/orgs/acme/models", &session);
    let first = assertion(&fx.forward(&req)).to_owned();

    fx.advance(ASSERTION_REUSE_SECS - 1);
    let again = fx.forward(&api_get("/orgs/acme/other", &session));
    assert_eq!(assertion(&again), first, "reused within the window");

    fx.advance(1);
    let later = fx.forward(&req);
    let fresh = assertion(&later);
    assert_ne!(fresh, first, "signed again after the window");
    let c = verified_claims(&fx, fresh);
    assert_eq!(c["iat"], T0 + ASSERTION_REUSE_SECS);
    assert_ne!(c["jti"], verified_claims(&fx, &first)["jti"]);
}

#[test]
fn assertions_are_per_session() {
    let fx = Fixture::on();
    fx.put_org("acme", json!({}));
    let a = fx.reader_session();
    let b = fx.reader_session();
    let one = assertion(&fx.forward(&api_get("/orgs/acme", &a))).to_owned();
    let two = fx.forward(&api_get("/orgs/acme", &b));
    assert_ne!(assertion(&two), one);
}

// ---------------------------------------------------------------------------------------------
// Live configuration

#[test]
fn deleted_org_stops_identifying_the_session() {
    let fx = Fixture::on();
    fx.put_org("acme", json!({}));
    let session = fx.reader_session();
    let req = api_get("/orgs/acme/models", &session);
    assert!(fx.forward(&req).identity.is_some());

    fx.delete_org("acme");
    // Within the org cache window this isolate still has the config...
    assert!(fx.forward(&req).identity.is_some());
    // ...until it forgets it (as the admin API does) or the window passes.
    fx.forget("acme");
    assert_anonymous(&fx.forward(&req));
}

#[test]
fn deleted_org_is_seen_after_the_org_cache_window() {
    let fx = Fixture::on();
    fx.put_org("acme", json!({}));
    let session = fx.reader_session();
    let req = api_get("/orgs/acme/models", &session);
    assert!(fx.forward(&req).identity.is_some());
    fx.delete_org("acme");
    fx.advance(ORG_CACHE_SECS);
    assert_anonymous(&fx.forward(&req));
}

#[test]
fn changed_role_mapping_applies_to_the_live_session() {
    let fx = Fixture::on();
    fx.put_org("acme", json!({}));
    let session = fx.reader_session();
    let cookie = session_cookie(&session);
    let post = || request("POST", "/orgs/acme/models", &[JSON, ("cookie", &cookie)]);
    assert_error(&fx.respond(&post()), 403, "insufficient_role");
    let before = assertion(&fx.forward(&api_get("/orgs/acme", &session))).to_owned();

    // Readers become writers.
    let promoted =
        json!({"role_mapping": [{"claim": "groups", "value": "readers", "role": "write"}]});
    fx.put_org("acme", promoted);
    assert_error(&fx.respond(&post()), 403, "insufficient_role");
    fx.advance(ORG_CACHE_SECS);
    let plan = fx.forward(&post());
    assert_eq!(header(&plan, ROLE_HEADER), Some("write"));
    // Within the assertion window, yet signed again: the identity changed.
    let after = assertion(&plan);
    assert_ne!(after, before);
    assert_eq!(verified_claims(&fx, after)["role"], "write");

    // A mapping that no longer grants anything: the session stops counting.
    fx.put_org("acme", json!({"role_mapping": []}));
    fx.forget("acme");
    assert_error(&fx.respond(&post()), 401, "sso_required");
    assert!(fx.logs().contains("session not accepted"));
}

#[test]
fn admin_api_changes_apply_at_once_in_this_isolate() {
    let fx = Fixture::on();
    let r = fx.admin(
        http::Method::PUT,
        "/admin/orgs/acme",
        Some(org_body(json!({}))),
    );
    assert_eq!(r.status(), 201, "{}", r.text());
    let session = fx.reader_session();
    assert_eq!(
        header(&fx.forward(&api_get("/orgs/acme", &session)), ROLE_HEADER),
        Some("read")
    );

    let promoted = org_body(
        json!({"role_mapping": [{"claim": "groups", "value": "readers", "role": "admin"}]}),
    );
    let r = fx.admin(http::Method::PUT, "/admin/orgs/acme", Some(promoted));
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(
        header(&fx.forward(&api_get("/orgs/acme", &session)), ROLE_HEADER),
        Some("admin")
    );

    let r = fx.admin(http::Method::DELETE, "/admin/orgs/acme", None);
    assert_eq!(r.status(), 204, "{}", r.text());
    assert_anonymous(&fx.forward(&api_get("/orgs/acme", &session)));
}

#[test]
fn changed_issuer_or_removed_domain_refuses_the_session() {
    for change in [
        json!({"issuer": "https://other-idp.example.com"}),
        json!({"client_id": "client-456"}),
        json!({"domains": ["example.org"]}),
    ] {
        let fx = Fixture::on();
        fx.put_org("acme", json!({}));
        let session = fx.reader_session();
        assert!(fx
            .forward(&api_get("/orgs/acme", &session))
            .identity
            .is_some());
        fx.put_org("acme", change.clone());
        fx.forget("acme");
        let r = fx.respond(&api_get("/orgs/acme", &session));
        assert_error(&r, 401, "sso_required");
        let nav = request(
            "GET",
            "/orgs/acme",
            &[NAVIGATE, ("cookie", &session_cookie(&session))],
        );
        assert_eq!(fx.respond(&nav).status(), 302, "{change}");
    }
}

// ---------------------------------------------------------------------------------------------
// Failures

#[test]
fn storage_failure_fails_closed() {
    let fx = Fixture::on();
    fx.put_org("acme", json!({"enforced": false}));
    // The org config is now in the isolate cache; the session is not.
    assert_anonymous(&fx.forward(&request("GET", "/orgs/acme", &[])));
    let session = fx.reader_session();
    fx.store.fail_reads.set(true);
    // The session cannot be read: never an anonymous forward that would hide the member.
    let r = fx.respond(&api_get("/orgs/acme", &session));
    assert_error(&r, 503, "storage_unavailable");
    // Nor can the org config once it is not cached.
    fx.forget("acme");
    let r = fx.respond(&request("GET", "/orgs/acme", &[JSON]));
    assert!(r.status().is_server_error(), "{}", r.status());
}
