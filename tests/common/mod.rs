//! The native integration harness: the whole [`App`] on a [`MemoryStore`], a stopped clock,
//! [`CountingRandom`], [`NativeVerifier`], a [`MemoryLog`], and in-process fake IdPs behind
//! [`HttpClient`]. The fake IdPs behave like real ones where the app depends on it (discovery,
//! JWKS, a token endpoint that checks the code, PKCE S256, client authentication and the
//! redirect URI) and sign ID tokens with the fixture keys; they are not what is under test.
//!
//! Every secret a test sees (admin token, client secrets, codes, state, nonce, PKCE verifiers,
//! ID tokens, transaction and session cookie values) is remembered, and when the harness is
//! dropped at the end of a passing test it asserts that no log line contains any of them.
#![allow(dead_code)]

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use edge_sso::app::config::AppConfig;
pub use edge_sso::app::ResponseExt;
use edge_sso::app::{App, Body, HeaderExt, IsolateState, MemoryLog, Request, Response};
use edge_sso::core::clock::{Clock, FixedClock};
use edge_sso::core::http::{HttpClient, HttpError, HttpRequest, HttpResponse, Method};
use edge_sso::core::jose::native_verifier::NativeVerifier;
use edge_sso::core::jose::testkit;
use edge_sso::core::ledger::MemoryLedger;
use edge_sso::core::random::CountingRandom;
use edge_sso::core::ratelimit::MemoryRateLimits;
use edge_sso::core::store::{block_on, MemoryStore, OpCounts};
pub use http::Method as InMethod;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use url::{form_urlencoded, Url};

/// The hub's `PUBLIC_ORIGIN`.
pub const ORIGIN: &str = "https://hub.example.com";
/// The hub's `ADMIN_TOKEN`.
pub const ADMIN_TOKEN: &str = "admin-token-5f2b9c0e7a1d4c38";
/// When every test starts.
pub const T0: u64 = 1_700_000_000;
/// The session cookie on an https hub.
pub const SESSION_COOKIE: &str = "__Host-sso_session";
/// The prefix of the transaction cookies on an https hub (each is `{TX_COOKIE}_{8 hex}`).
pub const TX_COOKIE: &str = "__Host-sso_tx";
/// The hub's `COOKIE_SECRET`.
pub const COOKIE_SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
/// Another valid cookie secret (another deployment's, or the one before a rotation).
pub const OTHER_COOKIE_SECRET: &str = "HxkZGBcWFRQTEhEQDw4NDAsKCQgHBgUEAwIBAAECAwQ";

/// The transaction cookie's name for the login whose `state` is `state`.
pub fn tx_cookie_name(state: &str) -> String {
    format!(
        "{TX_COOKIE}_{}",
        &edge_sso::core::secret::sha256_hex(state.as_bytes())[..8]
    )
}

/// The hub's configuration with cookie secrets `current` and `previous`.
pub fn hub_config(current: &str, previous: Option<&str>) -> AppConfig {
    AppConfig::from_vars(|k| match k {
        "PUBLIC_ORIGIN" => Some(ORIGIN.into()),
        "ADMIN_TOKEN" => Some(ADMIN_TOKEN.into()),
        "COOKIE_SECRET" => Some(current.into()),
        "COOKIE_SECRET_PREVIOUS" => previous.map(str::to_owned),
        _ => None,
    })
    .unwrap()
}

/// Slug, domains and IdP of the first org.
pub const ACME: &str = "acme-corp";
/// Slug of the second org.
pub const GLOBEX: &str = "globex";

// ---------------------------------------------------------------------------------------------
// Keys

/// A fixture signing key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// RSA 2048, RS256.
    RsaA,
    /// Another RSA 2048 key (signs "bad signature" tokens under `RsaA`'s kid).
    RsaB,
    /// P-256, ES256.
    P256,
}

impl Key {
    /// The same key in the crate's test kit (which holds the fixtures and the signer).
    fn kit(self) -> testkit::Key {
        match self {
            Key::RsaA => testkit::Key::RsaA,
            Key::RsaB => testkit::Key::RsaB,
            Key::P256 => testkit::Key::P256,
        }
    }

    /// The JWS algorithm this key signs with.
    pub fn alg(self) -> &'static str {
        match self {
            Key::RsaA | Key::RsaB => "RS256",
            Key::P256 => "ES256",
        }
    }

    /// The public JWK (private members dropped) with key id `kid`.
    pub fn public_jwk(self, kid: &str) -> Value {
        let mut v = testkit::public_json(self.kit(), kid);
        v["use"] = "sig".into();
        v
    }

    /// A compact JWS of `claims` with header `{alg, typ, kid}`, signed by this key.
    pub fn sign(self, kid: &str, claims: &Value) -> String {
        let header = json!({"alg": self.alg(), "typ": "JWT", "kid": kid});
        testkit::sign(self.kit(), &header, claims)
    }
}

// ---------------------------------------------------------------------------------------------
// The fake IdP

/// What the authorization endpoint granted: checked again at the token endpoint.
#[derive(Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    claims: Value,
    key: Key,
}

/// How the simulated user's authorization goes: the ID token's claims can be edited and its
/// signing key swapped.
pub struct Consent {
    /// Edits the default claims.
    pub edit: Box<dyn FnOnce(&mut Value)>,
    /// Signs with this key instead of the IdP's own (under the IdP's kid).
    pub key: Option<Key>,
}

impl Default for Consent {
    fn default() -> Self {
        Consent {
            edit: Box::new(|_| {}),
            key: None,
        }
    }
}

impl Consent {
    /// Claims edited by `edit`.
    pub fn claims(edit: impl FnOnce(&mut Value) + 'static) -> Self {
        Consent {
            edit: Box::new(edit),
            key: None,
        }
    }
    /// Signed by `key` (a key the IdP does not publish).
    pub fn signed_by(key: Key) -> Self {
        Consent {
            edit: Box::new(|_| {}),
            key: Some(key),
        }
    }
}

/// An in-process OpenID Provider.
pub struct FakeIdp {
    /// Issuer identifier.
    pub issuer: String,
    /// The hub's client id here.
    pub client_id: String,
    /// The hub's client secret here.
    pub client_secret: String,
    /// The key it signs with.
    pub key: Key,
    /// Its kid.
    pub kid: String,
    /// Discovery: `authorization_response_iss_parameter_supported`.
    pub iss_parameter_supported: Cell<bool>,
    /// Discovery lists an `end_session_endpoint`.
    pub end_session: bool,
    /// When set, the token endpoint answers with this (once per request, kept).
    pub token_override: RefCell<Option<HttpResponse>>,
    /// When set, the discovery document's `issuer` (Entra's `{tenantid}` template).
    pub discovery_issuer: RefCell<Option<String>>,
    /// When set, discovery lists a userinfo endpoint answering this (to the access token).
    pub userinfo: RefCell<Option<Value>>,
    /// When set, codes are not single use (a non-conforming IdP: RFC 6749 4.1.2 says MUST).
    pub accept_codes_twice: Cell<bool>,
    /// Every secret it handed out or received (codes, ID tokens, PKCE verifiers).
    pub secrets: RefCell<Vec<String>>,
    grants: RefCell<HashMap<String, Grant>>,
    counter: Cell<u64>,
}

impl FakeIdp {
    /// An IdP at `issuer` signing with `key`.
    pub fn new(issuer: &str, name: &str, key: Key) -> Self {
        FakeIdp {
            issuer: issuer.to_owned(),
            client_id: format!("hub-client-{name}"),
            client_secret: format!("{name}-client-secret-9d8f7e6a5b4c3d2e"),
            key,
            kid: format!("{name}-key-1"),
            iss_parameter_supported: Cell::new(false),
            end_session: false,
            token_override: RefCell::new(None),
            discovery_issuer: RefCell::new(None),
            userinfo: RefCell::new(None),
            accept_codes_twice: Cell::new(false),
            secrets: RefCell::new(Vec::new()),
            grants: RefCell::new(HashMap::new()),
            counter: Cell::new(0),
        }
    }

    fn endpoint(&self, name: &str) -> String {
        format!("{}/{name}", self.issuer.trim_end_matches('/'))
    }

    /// The authorization endpoint.
    pub fn authorization_endpoint(&self) -> String {
        self.endpoint("authorize")
    }
    /// The token endpoint.
    pub fn token_endpoint(&self) -> String {
        self.endpoint("token")
    }
    /// The JWKS URI.
    pub fn jwks_uri(&self) -> String {
        self.endpoint("jwks")
    }
    /// The end-session endpoint.
    pub fn end_session_endpoint(&self) -> String {
        self.endpoint("logout")
    }
    /// The discovery URL.
    pub fn discovery_url(&self) -> String {
        self.endpoint(".well-known/openid-configuration")
    }
    /// The userinfo endpoint.
    pub fn userinfo_endpoint(&self) -> String {
        self.endpoint("userinfo")
    }

    fn owns(&self, url: &Url) -> bool {
        [
            self.discovery_url(),
            self.token_endpoint(),
            self.jwks_uri(),
            self.userinfo_endpoint(),
        ]
        .iter()
        .any(|e| url.as_str() == e)
    }

    fn discovery(&self) -> Value {
        let issuer = self
            .discovery_issuer
            .borrow()
            .clone()
            .unwrap_or_else(|| self.issuer.clone());
        let mut doc = json!({
            "issuer": issuer,
            "authorization_endpoint": self.authorization_endpoint(),
            "token_endpoint": self.token_endpoint(),
            "jwks_uri": self.jwks_uri(),
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": [self.key.alg()],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "authorization_response_iss_parameter_supported": self.iss_parameter_supported.get(),
        });
        if self.end_session {
            doc["end_session_endpoint"] = self.end_session_endpoint().into();
        }
        if self.userinfo.borrow().is_some() {
            doc["userinfo_endpoint"] = self.userinfo_endpoint().into();
        }
        doc
    }

    /// The user signs in at the IdP: checks the authorization request like a real IdP would,
    /// remembers the grant, and returns the redirect back to the hub (`code`, `state` and, when
    /// discovery announces it, `iss`).
    pub fn authorize(&self, auth_url: &Url, now: u64, consent: Consent) -> Url {
        assert!(
            auth_url
                .as_str()
                .starts_with(&self.authorization_endpoint()),
            "authorization request sent to {auth_url}, not {}",
            self.authorization_endpoint()
        );
        let q = query_map(auth_url);
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], self.client_id);
        assert_eq!(q["redirect_uri"], format!("{ORIGIN}/sso/callback"));
        assert_eq!(q["code_challenge_method"], "S256");
        assert!(q["scope"].split(' ').any(|s| s == "openid"));
        let mut claims = json!({
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": "user-42",
            "email": q.get("login_hint").cloned().unwrap_or_else(|| "ada@acme.com".into()),
            "email_verified": true,
            "nonce": q["nonce"],
            "iat": now,
            "exp": now + 300,
            "auth_time": now,
            "groups": ["staff"],
        });
        (consent.edit)(&mut claims);
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let code = format!(
            "code-{}",
            &edge_sso::core::secret::sha256_hex(format!("{}{n}", self.issuer).as_bytes())[..40]
        );
        self.secrets.borrow_mut().push(code.clone());
        self.grants.borrow_mut().insert(
            code.clone(),
            Grant {
                client_id: q["client_id"].clone(),
                redirect_uri: q["redirect_uri"].clone(),
                code_challenge: q["code_challenge"].clone(),
                claims,
                key: consent.key.unwrap_or(self.key),
            },
        );
        let mut cb = Url::parse(&q["redirect_uri"]).unwrap();
        {
            let mut p = cb.query_pairs_mut();
            p.append_pair("code", &code)
                .append_pair("state", &q["state"]);
            if self.iss_parameter_supported.get() {
                p.append_pair("iss", &self.issuer);
            }
        }
        cb
    }

    fn oauth_error(status: u16, error: &str) -> HttpResponse {
        HttpResponse::new(
            status,
            "application/json",
            json!({"error": error, "error_description": "refused by the fake IdP"}).to_string(),
        )
    }

    /// RFC 6749 4.1.3 / RFC 7636 4.6, as a real token endpoint checks them.
    fn token(&self, req: &HttpRequest) -> HttpResponse {
        if let Some(r) = self.token_override.borrow().clone() {
            return r;
        }
        assert_eq!(req.method, Method::Post);
        assert_eq!(
            req.headers.get("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        let form: HashMap<String, String> = form_urlencoded::parse(&req.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if let Some(v) = form.get("code_verifier") {
            self.secrets.borrow_mut().push(v.clone());
        }
        // client_secret_basic: base64(urlencode(id) ":" urlencode(secret)).
        let authenticated = req
            .headers
            .get("authorization")
            .and_then(|h| h.strip_prefix("Basic "))
            .and_then(|b| Base64::decode_vec(b).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|pair| {
                let (id, secret) = pair.split_once(':')?;
                let dec = |s: &str| -> String {
                    form_urlencoded::parse(format!("x={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                Some(dec(id) == self.client_id && dec(secret) == self.client_secret)
            })
            .unwrap_or(false);
        if !authenticated {
            return Self::oauth_error(401, "invalid_client");
        }
        if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return Self::oauth_error(400, "unsupported_grant_type");
        }
        // Codes are single use (unless this IdP is told to misbehave).
        let twice = self.accept_codes_twice.get();
        let Some(grant) = form.get("code").and_then(|c| {
            let mut grants = self.grants.borrow_mut();
            if twice {
                grants.get(c).cloned()
            } else {
                grants.remove(c)
            }
        }) else {
            return Self::oauth_error(400, "invalid_grant");
        };
        if grant.client_id != self.client_id
            || form.get("redirect_uri") != Some(&grant.redirect_uri)
        {
            return Self::oauth_error(400, "invalid_grant");
        }
        let challenge = form
            .get("code_verifier")
            .map(|v| Base64UrlUnpadded::encode_string(&Sha256::digest(v.as_bytes())));
        if challenge.as_deref() != Some(grant.code_challenge.as_str()) {
            return Self::oauth_error(400, "invalid_grant");
        }
        let id_token = grant.key.sign(&self.kid, &grant.claims);
        self.secrets.borrow_mut().push(id_token.clone());
        let access_token = format!(
            "at-{}",
            &edge_sso::core::secret::sha256_hex(id_token.as_bytes())[..24]
        );
        self.secrets.borrow_mut().push(access_token.clone());
        HttpResponse::new(
            200,
            "application/json",
            json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            })
            .to_string(),
        )
    }

    fn serve(&self, req: &HttpRequest) -> HttpResponse {
        let url = req.url.as_str();
        if url == self.discovery_url() {
            HttpResponse::new(200, "application/json", self.discovery().to_string())
        } else if url == self.jwks_uri() {
            let mut r = HttpResponse::new(
                200,
                "application/json",
                json!({"keys": [self.key.public_jwk(&self.kid)]}).to_string(),
            );
            r.headers.set("cache-control", "public, max-age=3600");
            r
        } else if url == self.userinfo_endpoint() {
            // OIDC Core 5.3.1: a Bearer access token this IdP issued.
            let bearer = req.headers.get("authorization").unwrap_or_default();
            let issued = bearer.strip_prefix("Bearer ").is_some_and(|t| {
                t.starts_with("at-") && self.secrets.borrow().iter().any(|s| s == t)
            });
            match (&*self.userinfo.borrow(), issued) {
                (Some(v), true) => HttpResponse::new(200, "application/json", v.to_string()),
                _ => Self::oauth_error(401, "invalid_token"),
            }
        } else {
            self.token(req)
        }
    }
}

/// The outbound network: the fake IdPs, and a record of every request made.
pub struct Network {
    /// The IdPs reachable.
    pub idps: Vec<FakeIdp>,
    /// Other hosts (a fake Microsoft Graph): a URL and its fixed answer.
    pub stubs: RefCell<Vec<(String, HttpResponse)>>,
    /// The `Authorization` header of every request to a stub, by URL.
    pub stub_auth: RefCell<Vec<(String, Option<String>)>>,
    /// Method and URL of every request, in order.
    pub requests: RefCell<Vec<(Method, String)>>,
}

impl Network {
    /// How many requests went to `url`.
    pub fn hits(&self, url: &str) -> usize {
        self.requests
            .borrow()
            .iter()
            .filter(|(_, u)| u == url)
            .count()
    }
}

impl HttpClient for Network {
    async fn send(&self, req: HttpRequest, max_body: usize) -> Result<HttpResponse, HttpError> {
        self.requests
            .borrow_mut()
            .push((req.method, req.url.as_str().to_owned()));
        if let Some((_, resp)) = self
            .stubs
            .borrow()
            .iter()
            .find(|(u, _)| u == req.url.as_str())
        {
            self.stub_auth.borrow_mut().push((
                req.url.as_str().to_owned(),
                req.headers.get("authorization").map(str::to_owned),
            ));
            return Ok(resp.clone());
        }
        let idp = self
            .idps
            .iter()
            .find(|i| i.owns(&req.url))
            .ok_or_else(|| HttpError::Network("no such host".into()))?;
        let resp = idp.serve(&req);
        if resp.body.len() > max_body {
            return Err(HttpError::TooLarge);
        }
        Ok(resp)
    }
}

// ---------------------------------------------------------------------------------------------
// The harness

/// A login started with `/sso/start`.
pub struct Started {
    /// The 302.
    pub response: Response,
    /// Its Location: the authorization request.
    pub auth_url: Url,
    /// The transaction cookie's name (named after the state).
    pub tx_name: String,
    /// The transaction cookie's value (the sealed transaction).
    pub tx_cookie: String,
    /// The authorization request's parameters.
    pub params: HashMap<String, String>,
}

/// The app with its ports, and the fake IdPs.
pub struct Harness {
    /// The stopped clock (leaked: the store borrows it for `'static`).
    pub clock: &'static FixedClock,
    /// Workers KV.
    pub store: MemoryStore<&'static FixedClock>,
    /// Outbound HTTP.
    pub net: Network,
    /// The worker's configuration.
    pub config: AppConfig,
    /// Randomness.
    pub random: CountingRandom,
    /// The log.
    pub log: MemoryLog,
    /// The isolate's caches.
    pub state: IsolateState,
    /// The org ledgers.
    pub ledger: MemoryLedger<&'static FixedClock>,
    /// Rate limits (real budgets, in memory).
    pub limits: MemoryRateLimits<&'static FixedClock>,
    /// The domain registry.
    pub registry: edge_sso::core::domains::MemoryRegistry<&'static FixedClock>,
    secrets: RefCell<Vec<String>>,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// An empty hub with two IdPs: [`Harness::acme_idp`] (RS256, announces `iss` in
    /// authorization responses, has an end-session endpoint) and [`Harness::globex_idp`]
    /// (ES256, neither).
    pub fn new() -> Self {
        let clock: &'static FixedClock = Box::leak(Box::new(FixedClock::at(T0)));
        let mut acme = FakeIdp::new("https://idp.acme.test/realms/acme", "acme", Key::RsaA);
        acme.iss_parameter_supported.set(true);
        acme.end_session = true;
        let globex = FakeIdp::new("https://login.globex.test", "globex", Key::P256);
        let config = hub_config(COOKIE_SECRET, None);
        Harness {
            clock,
            store: MemoryStore::new(clock),
            net: Network {
                idps: vec![acme, globex],
                stubs: RefCell::new(Vec::new()),
                stub_auth: RefCell::new(Vec::new()),
                requests: RefCell::new(Vec::new()),
            },
            config,
            random: CountingRandom::default(),
            log: MemoryLog::default(),
            state: IsolateState::default(),
            ledger: MemoryLedger::new(clock),
            limits: {
                // Tests drive many requests from one "client": budgets are the real ones only
                // where a test asks (`limits.budget_override.set(None)`).
                let limits = MemoryRateLimits::new(clock);
                limits.budget_override.set(Some(1_000_000));
                limits
            },
            registry: edge_sso::core::domains::MemoryRegistry::new(clock),
            secrets: RefCell::new(Vec::new()),
        }
    }

    /// The IdP of org [`ACME`].
    pub fn acme_idp(&self) -> &FakeIdp {
        &self.net.idps[0]
    }
    /// The IdP of org [`GLOBEX`].
    pub fn globex_idp(&self) -> &FakeIdp {
        &self.net.idps[1]
    }

    fn app(&self) -> App<'_, &MemoryStore<&'static FixedClock>, &Network, NativeVerifier> {
        App {
            config: &self.config,
            store: &self.store,
            http: &self.net,
            verifier: NativeVerifier,
            clock: self.clock,
            random: &self.random,
            log: &self.log,
            state: &self.state,
            ledger: &self.ledger,
            limits: &self.limits,
            registry: &self.registry,
        }
    }

    /// Sends one request through the app.
    pub fn send(&self, req: Request) -> Response {
        block_on(self.app().handle(req))
    }

    /// Sends `method path` with `headers` and `body`. The path is resolved and encoded as a
    /// URL parser would (as the platform does before the worker sees it), and the app gets only
    /// the path and query, as from the edge.
    pub fn request(
        &self,
        method: InMethod,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let url = Url::parse(ORIGIN).unwrap().join(path).unwrap();
        let mut req = http::Request::builder()
            .method(method)
            .uri(&url[url::Position::BeforePath..url::Position::AfterQuery]);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req.body(Body::from(body.to_vec())).unwrap())
    }

    /// `GET path`, with the `Cookie` header if given.
    pub fn get(&self, path: &str, cookie: Option<&str>) -> Response {
        match cookie {
            Some(c) => self.request(InMethod::GET, path, &[("cookie", c)], b""),
            None => self.request(InMethod::GET, path, &[], b""),
        }
    }

    /// An admin API call with the right bearer token.
    pub fn admin(&self, method: InMethod, path: &str, body: &[u8]) -> Response {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        self.request(
            method,
            path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            body,
        )
    }

    /// `PUT /admin/orgs/{slug}` with `body`.
    pub fn put_org(&self, slug: &str, body: &Value) -> Response {
        self.admin(
            InMethod::PUT,
            &format!("/admin/orgs/{slug}"),
            body.to_string().as_bytes(),
        )
    }

    /// A valid org body for `idp` claiming `domains`: default role `read`, and members of
    /// the `hub-admins` group get `admin`.
    pub fn org_body(idp: &FakeIdp, domains: &[&str]) -> Value {
        json!({
            "domains": domains,
            "issuer": idp.issuer,
            "client_id": idp.client_id,
            "client_secret": idp.client_secret,
            "scopes": ["openid", "email", "profile"],
            "role_mapping": [{"claim": "groups", "value": "hub-admins", "role": "admin"}],
            "default_role": "read",
            "session_ttl_secs": 3600,
        })
    }

    /// Creates [`ACME`] (acme.com, bücher.example) and [`GLOBEX`] (globex.com).
    pub fn with_orgs() -> Self {
        let h = Harness::new();
        let acme = Self::org_body(h.acme_idp(), &["acme.com", "bücher.example"]);
        assert_eq!(h.put_org(ACME, &acme).status(), 201);
        let globex = Self::org_body(h.globex_idp(), &["globex.com"]);
        assert_eq!(h.put_org(GLOBEX, &globex).status(), 201);
        h
    }

    /// Remembers `s` as a secret that must never be logged.
    pub fn secret(&self, s: &str) {
        self.secrets.borrow_mut().push(s.to_owned());
    }

    /// `GET /sso/start?{query}`, expecting the redirect to an IdP.
    pub fn start_query(&self, query: &str) -> Started {
        self.start_with(query, None)
    }

    /// `GET /sso/start?{query}` with the `Cookie` header `cookie`, expecting the redirect.
    pub fn start_with(&self, query: &str, cookie: Option<&str>) -> Started {
        let response = self.get(&format!("/sso/start?{query}"), cookie);
        assert_eq!(response.status(), 302, "{}", response.text());
        let auth_url = location(&response);
        let params = query_map(&auth_url);
        let tx_name = tx_cookie_name(&params["state"]);
        let tx_cookie = set_cookie_value(&response, &tx_name).expect("tx cookie");
        self.secret(&tx_cookie);
        self.secret(&params["state"]);
        self.secret(&params["nonce"]);
        Started {
            response,
            auth_url,
            tx_name,
            tx_cookie,
            params,
        }
    }

    /// Starts a login for `email`.
    pub fn start(&self, email: &str) -> Started {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("email", email)
            .finish();
        self.start_query(&q)
    }

    /// The IdP of the authorization request `started` signs the user in with `consent`;
    /// returns the callback URL.
    pub fn authorize(&self, started: &Started, consent: Consent) -> Url {
        let idp = self
            .net
            .idps
            .iter()
            .find(|i| {
                started
                    .auth_url
                    .as_str()
                    .starts_with(&i.authorization_endpoint())
            })
            .expect("authorization request to a known IdP");
        idp.authorize(&started.auth_url, self.clock.now().secs(), consent)
    }

    /// `GET` the callback URL `cb` with the given cookies: `tx` is sent as the transaction
    /// cookie of `cb`'s state.
    pub fn callback(&self, cb: &Url, tx: Option<&str>, session: Option<&str>) -> Response {
        let mut cookies = Vec::new();
        if let Some(t) = tx {
            let state = query_map(cb).get("state").cloned().unwrap_or_default();
            cookies.push(format!("{}={t}", tx_cookie_name(&state)));
        }
        if let Some(s) = session {
            cookies.push(format!("{SESSION_COOKIE}={s}"));
        }
        let header = cookies.join("; ");
        self.callback_with(cb, (!cookies.is_empty()).then_some(header.as_str()))
    }

    /// `GET` the callback URL `cb` with the `Cookie` header `cookie` as given.
    pub fn callback_with(&self, cb: &Url, cookie: Option<&str>) -> Response {
        let path = format!("{}?{}", cb.path(), cb.query().unwrap_or(""));
        let resp = self.get(&path, cookie);
        if let Some(id) = set_cookie_value(&resp, SESSION_COOKIE).filter(|v| !v.is_empty()) {
            self.secret(&id);
        }
        resp
    }

    /// A full login of `email` (carrying `previous` over); returns the session cookie value.
    pub fn login(&self, email: &str, previous: Option<&str>) -> String {
        let started = self.start(email);
        let cb = self.authorize(&started, Consent::default());
        let resp = self.callback(&cb, Some(&started.tx_cookie), previous);
        assert_eq!(resp.status(), 302, "{}", resp.text());
        set_cookie_value(&resp, SESSION_COOKIE).expect("session cookie")
    }

    /// `GET /sso/me` with session cookie `id`.
    pub fn me(&self, id: &str) -> Response {
        self.get("/sso/me", Some(&format!("{SESSION_COOKIE}={id}")))
    }

    /// `POST /sso/logout` with session cookie `id` and `Origin`.
    pub fn logout(&self, id: &str, origin: &str) -> Response {
        let cookie = format!("{SESSION_COOKIE}={id}");
        self.request(
            InMethod::POST,
            "/sso/logout",
            &[("cookie", &cookie), ("origin", origin)],
            b"",
        )
    }

    /// How many session records KV holds.
    pub fn session_records(&self) -> usize {
        self.store
            .snapshot()
            .iter()
            .filter(|(k, _)| k.starts_with("sess:"))
            .count()
    }

    /// KV operation counts so far.
    pub fn counts(&self) -> OpCounts {
        self.store.counts()
    }

    /// Every log line.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.0.borrow().clone()
    }

    /// Every secret seen so far.
    pub fn all_secrets(&self) -> Vec<String> {
        let mut all = self.secrets.borrow().clone();
        all.push(ADMIN_TOKEN.to_owned());
        for idp in &self.net.idps {
            all.push(idp.client_secret.clone());
            all.extend(idp.secrets.borrow().iter().cloned());
        }
        all
    }

    /// Asserts that no log line contains any secret seen so far.
    pub fn assert_logs_clean(&self) {
        let secrets = self.all_secrets();
        for line in self.log.0.borrow().iter() {
            for s in &secrets {
                assert!(
                    !line.contains(s.as_str()),
                    "log line leaks a secret: {line:?}"
                );
            }
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.assert_logs_clean();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Response helpers

/// The query parameters of `url` (first occurrence wins).
pub fn query_map(url: &Url) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for (k, v) in url.query_pairs() {
        m.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    m
}

/// The response's `Location`, resolved against the hub.
pub fn location(resp: &Response) -> Url {
    let loc = resp.header("location").expect("location header");
    Url::parse(ORIGIN).unwrap().join(loc).unwrap()
}

/// Every `Set-Cookie` header.
pub fn set_cookies(resp: &Response) -> Vec<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ASCII Set-Cookie").to_owned())
        .collect()
}

/// The full `Set-Cookie` header for cookie `name`.
pub fn set_cookie_header(resp: &Response, name: &str) -> Option<String> {
    set_cookies(resp)
        .into_iter()
        .find(|c| c.split_once('=').is_some_and(|(n, _)| n == name))
}

/// The value `Set-Cookie` gives cookie `name` (empty when it clears it).
pub fn set_cookie_value(resp: &Response, name: &str) -> Option<String> {
    let h = set_cookie_header(resp, name)?;
    let (_, rest) = h.split_once('=')?;
    Some(rest.split(';').next().unwrap_or("").to_owned())
}

/// The body as JSON.
pub fn json_body(resp: &Response) -> Value {
    serde_json::from_slice(resp.body().as_bytes().expect("buffered body"))
        .unwrap_or_else(|_| panic!("not JSON ({}): {}", resp.status(), resp.text()))
}

/// The transaction cookies `resp` sets: (name, value; empty when it clears one).
pub fn tx_set_cookies(resp: &Response) -> Vec<(String, String)> {
    set_cookies(resp)
        .into_iter()
        .filter_map(|c| {
            let pair = c.split(';').next()?.to_owned();
            let (n, v) = pair.split_once('=')?;
            n.starts_with(&format!("{TX_COOKIE}_"))
                .then(|| (n.to_owned(), v.to_owned()))
        })
        .collect()
}

/// Asserts that `resp` opened no session: no session cookie with a value.
pub fn assert_no_session_cookie(resp: &Response) {
    let v = set_cookie_value(resp, SESSION_COOKIE);
    assert!(
        v.as_deref().is_none_or(str::is_empty),
        "a session cookie was set: {v:?}"
    );
}

/// Asserts that `resp` is a test sign-in's JSON report of a refusal with `error`, whose message
/// contains `message`, and that no session was made. Answers the report.
pub fn assert_test_sign_in_refused(resp: &Response, error: &str, message: &str) -> Value {
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_no_session_cookie(resp);
    let r = json_body(resp);
    assert_eq!(r["ok"], false);
    assert_eq!(r["refused"]["error"], error, "{r}");
    let text = r["refused"]["message"].as_str().unwrap_or_default();
    assert!(text.contains(message), "{text}");
    r
}

/// Signs `email` in to [`ACME`] with ID-token `groups`; the session cookie header
/// (`name=value`) for admin requests made with it.
pub fn acme_session(h: &Harness, email: &str, groups: &[&str]) -> String {
    let started = h.start(email);
    let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
    let cb = h.authorize(
        &started,
        Consent::claims(move |c| c["groups"] = json!(groups)),
    );
    let resp = h.callback(&cb, Some(&started.tx_cookie), None);
    assert_eq!(resp.status(), 302, "{}", resp.text());
    format!(
        "{SESSION_COOKIE}={}",
        set_cookie_value(&resp, SESSION_COOKIE).unwrap()
    )
}

/// A request from the console (same origin, JSON) with `cookie`.
pub fn console(
    h: &Harness,
    cookie: &str,
    method: http::Method,
    path: &str,
    body: Option<&Value>,
) -> Response {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    h.request(
        method,
        path,
        &[
            ("cookie", cookie),
            ("origin", ORIGIN),
            ("sec-fetch-site", "same-origin"),
            ("content-type", "application/json"),
        ],
        body.as_bytes(),
    )
}

/// `/admin/orgs/{ACME}` + `rest`.
pub fn acme_path(rest: &str) -> String {
    format!("/admin/orgs/{ACME}{rest}")
}
