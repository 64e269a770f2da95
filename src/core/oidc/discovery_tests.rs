use super::*;
use crate::core::clock::FixedClock;
use crate::core::store::{block_on, MemoryStore};
use std::cell::{Cell, RefCell};

pub(crate) const ISS: &str = "https://idp.example.com/realms/acme";
const STRICT: IdpUrlPolicy = IdpUrlPolicy {
    allow_insecure_loopback: false,
};

pub(crate) fn doc() -> serde_json::Value {
    serde_json::json!({
        "issuer": ISS,
        "authorization_endpoint": "https://idp.example.com/realms/acme/auth",
        "token_endpoint": "https://idp.example.com/realms/acme/token",
        "jwks_uri": "https://idp.example.com/realms/acme/certs",
        "end_session_endpoint": "https://idp.example.com/realms/acme/logout",
        "response_types_supported": ["code", "id_token"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "some_vendor_extension": {"x": 1},
    })
}

/// Validated metadata for tests of the other flow modules.
pub(crate) fn meta() -> ProviderMetadata {
    parse(&doc()).unwrap()
}

fn parse(v: &serde_json::Value) -> Result<ProviderMetadata, DiscoveryError> {
    parse_metadata(ISS, &STRICT, v.to_string().as_bytes())
}

fn with(key: &str, value: serde_json::Value) -> serde_json::Value {
    let mut d = doc();
    d[key] = value;
    d
}

fn without(key: &str) -> serde_json::Value {
    let mut d = doc();
    d.as_object_mut().unwrap().remove(key);
    d
}

fn ok_resp(v: &serde_json::Value) -> HttpResponse {
    HttpResponse::new(200, "application/json", v.to_string())
}

#[test]
fn request_url_per_discovery_4() {
    let r = discovery_request(ISS).unwrap();
    assert_eq!(
        r.url.as_str(),
        "https://idp.example.com/realms/acme/.well-known/openid-configuration"
    );
    let r = discovery_request("https://idp.example.com/").unwrap();
    assert_eq!(
        r.url.as_str(),
        "https://idp.example.com/.well-known/openid-configuration"
    );
    let r = discovery_request("https://idp.example.com").unwrap();
    assert_eq!(
        r.url.as_str(),
        "https://idp.example.com/.well-known/openid-configuration"
    );
}

#[test]
fn request_rejects_bad_issuers() {
    for i in [
        "not a url",
        "https://a.example/?x=1",
        "https://a.example/#f",
    ] {
        assert!(
            matches!(
                discovery_request(i),
                Err(DiscoveryError::BadEndpoint { name: "issuer", .. })
            ),
            "{i}"
        );
    }
}

#[test]
fn parses_with_defaults() {
    let m = parse(&without("end_session_endpoint")).unwrap();
    assert_eq!(m.issuer, ISS);
    assert_eq!(
        m.token_endpoint_auth_methods_supported,
        ["client_secret_basic"]
    );
    assert!(!m.authorization_response_iss_parameter_supported);
    assert!(!m.backchannel_logout_supported);
    assert_eq!(m.end_session_endpoint, None);
    assert_eq!(m.id_token_signing_alg_values_supported, ["RS256"]);
}

#[test]
fn nulls_count_as_absent() {
    let m = parse(&with(
        "token_endpoint_auth_methods_supported",
        serde_json::Value::Null,
    ))
    .unwrap();
    assert_eq!(
        m.token_endpoint_auth_methods_supported,
        ["client_secret_basic"]
    );
}

#[test]
fn serialized_metadata_parses_back() {
    let m = meta();
    let body = serde_json::to_vec(&m).unwrap();
    assert_eq!(parse_metadata(ISS, &STRICT, &body).unwrap(), m);
}

#[test]
fn rejects_non_200() {
    let r = HttpResponse::new(404, "text/plain", "no");
    assert_eq!(
        discovery_response(ISS, &STRICT, &r),
        Err(DiscoveryError::Status(404))
    );
    let r = HttpResponse::new(200, "application/json", "");
    assert!(matches!(
        discovery_response(ISS, &STRICT, &r),
        Err(DiscoveryError::Json(_))
    ));
}

#[test]
fn rejects_redirect() {
    let r = HttpResponse::new(301, "text/plain", "");
    let e = discovery_response(ISS, &STRICT, &r).unwrap_err();
    assert_eq!(e, DiscoveryError::Redirect);
    assert!(e.to_string().contains("redirects are not followed"));
}

#[test]
fn rejects_too_large() {
    let mut d = doc();
    d["pad"] = serde_json::Value::String("x".repeat(MAX_DISCOVERY_BODY));
    assert_eq!(
        discovery_response(ISS, &STRICT, &ok_resp(&d)),
        Err(DiscoveryError::TooLarge)
    );
}

#[test]
fn rejects_non_object_and_wrong_types() {
    for body in ["[]", "\"x\"", "null", "{"] {
        let r = HttpResponse::new(200, "application/json", body);
        assert!(matches!(
            discovery_response(ISS, &STRICT, &r),
            Err(DiscoveryError::Json(_))
        ));
    }
    assert!(matches!(
        parse(&with("backchannel_logout_supported", "yes".into())),
        Err(DiscoveryError::Json(_))
    ));
    assert!(matches!(
        parse(&without("issuer")),
        Err(DiscoveryError::Json(_))
    ));
}

#[test]
fn rejects_issuer_mismatch() {
    for other in [
        "https://idp.example.com/realms/acme/",
        "https://idp.example.com/realms/evil",
        "https://IDP.example.com/realms/acme",
    ] {
        assert_eq!(
            parse(&with("issuer", other.into())),
            Err(DiscoveryError::IssuerMismatch {
                expected: ISS.into(),
                found: other.into()
            })
        );
    }
}

#[test]
fn rejects_issuer_refused_by_policy() {
    let iss = "http://idp.example.com";
    let mut d = doc();
    d["issuer"] = iss.into();
    let e = parse_metadata(iss, &STRICT, d.to_string().as_bytes()).unwrap_err();
    assert!(matches!(
        e,
        DiscoveryError::BadEndpoint { name: "issuer", .. }
    ));
}

#[test]
fn rejects_missing_required_endpoints() {
    for name in ["authorization_endpoint", "token_endpoint", "jwks_uri"] {
        match parse(&without(name)) {
            Err(DiscoveryError::BadEndpoint { name: n, .. }) => assert_eq!(n, name),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn rejects_bad_endpoints() {
    let cases = [
        ("token_endpoint", "/token"),
        ("token_endpoint", "http://idp.example.com/token"),
        ("jwks_uri", "https://169.254.169.254/latest"),
        ("authorization_endpoint", "https://idp.example.com/auth#x"),
        ("end_session_endpoint", "https://10.0.0.1/logout"),
        ("userinfo_endpoint", "javascript:alert(1)"),
    ];
    for (name, value) in cases {
        match parse(&with(name, value.into())) {
            Err(DiscoveryError::BadEndpoint { name: n, .. }) => assert_eq!(n, name),
            other => panic!("{name}={value}: {other:?}"),
        }
    }
}

#[test]
fn loopback_endpoints_only_with_dev_policy() {
    let iss = "http://127.0.0.1:9000";
    let d = serde_json::json!({
        "issuer": iss,
        "authorization_endpoint": "http://127.0.0.1:9000/auth",
        "token_endpoint": "http://127.0.0.1:9000/token",
        "jwks_uri": "http://127.0.0.1:9000/jwks",
    });
    let dev = IdpUrlPolicy {
        allow_insecure_loopback: true,
    };
    assert!(parse_metadata(iss, &dev, d.to_string().as_bytes()).is_ok());
    assert!(parse_metadata(iss, &STRICT, d.to_string().as_bytes()).is_err());
}

#[test]
fn rejects_without_code_response_type() {
    assert!(matches!(
        parse(&with(
            "response_types_supported",
            serde_json::json!(["id_token"])
        )),
        Err(DiscoveryError::Unsupported(_))
    ));
    assert!(parse(&without("response_types_supported")).is_ok());
}

#[test]
fn rejects_without_s256() {
    let e = parse(&with(
        "code_challenge_methods_supported",
        serde_json::json!(["plain"]),
    ))
    .unwrap_err();
    assert!(matches!(e, DiscoveryError::Unsupported(ref m) if m.contains("S256")));
    assert!(parse(&without("code_challenge_methods_supported")).is_ok());
}

/// An HTTP client that answers from a script and counts calls.
pub(crate) struct FakeHttp {
    pub answer: RefCell<Result<HttpResponse, HttpError>>,
    pub calls: Cell<u32>,
    pub last_url: RefCell<Option<Url>>,
}

impl FakeHttp {
    pub fn new(answer: Result<HttpResponse, HttpError>) -> Self {
        FakeHttp {
            answer: RefCell::new(answer),
            calls: Cell::new(0),
            last_url: RefCell::new(None),
        }
    }
}

impl HttpClient for FakeHttp {
    async fn send(&self, req: HttpRequest, max: usize) -> Result<HttpResponse, HttpError> {
        assert_eq!(max, MAX_DISCOVERY_BODY);
        self.calls.set(self.calls.get() + 1);
        *self.last_url.borrow_mut() = Some(req.url);
        self.answer.borrow().clone()
    }
}

#[test]
fn cache_fetches_once_then_memory_then_kv() {
    let clock = FixedClock::at(10_000);
    let store = MemoryStore::new(&clock);
    let http = FakeHttp::new(Ok(ok_resp(&doc())));
    let cache = DiscoveryCache::new();
    let m = block_on(cache.metadata(&store, &http, &clock, ISS, &STRICT)).unwrap();
    assert_eq!(m, meta());
    assert_eq!(http.calls.get(), 1);
    assert_eq!(
        http.last_url.borrow().as_ref().unwrap().as_str(),
        "https://idp.example.com/realms/acme/.well-known/openid-configuration"
    );
    // Memory hit: no KV read, no fetch.
    let gets = store.counts().gets;
    block_on(cache.metadata(&store, &http, &clock, ISS, &STRICT)).unwrap();
    assert_eq!((http.calls.get(), store.counts().gets), (1, gets));
    // A new isolate: KV hit, no fetch.
    let other = DiscoveryCache::new();
    assert_eq!(
        block_on(other.metadata(&store, &http, &clock, ISS, &STRICT)).unwrap(),
        m
    );
    assert_eq!(http.calls.get(), 1);
    assert!(block_on(store.get(&discovery_key(ISS))).unwrap().is_some());
}

#[test]
fn cache_expires_after_ttl() {
    let clock = FixedClock::at(10_000);
    let store = MemoryStore::new(&clock);
    let http = FakeHttp::new(Ok(ok_resp(&doc())));
    let cache = DiscoveryCache::new();
    block_on(cache.metadata(&store, &http, &clock, ISS, &STRICT)).unwrap();
    clock.advance(DISCOVERY_TTL_SECS - 1);
    block_on(cache.metadata(&store, &http, &clock, ISS, &STRICT)).unwrap();
    assert_eq!(http.calls.get(), 1);
    clock.advance(1);
    block_on(cache.metadata(&store, &http, &clock, ISS, &STRICT)).unwrap();
    assert_eq!(http.calls.get(), 2);
}

#[test]
fn kv_record_is_revalidated() {
    let clock = FixedClock::at(10_000);
    let store = MemoryStore::new(&clock);
    let mut evil = doc();
    evil["token_endpoint"] = "https://169.254.169.254/token".into();
    let record = serde_json::json!({"fetched_at": 10_000, "metadata": evil});
    block_on(store.put(&discovery_key(ISS), &record.to_string(), None)).unwrap();
    let http = FakeHttp::new(Ok(ok_resp(&doc())));
    let m = block_on(DiscoveryCache::new().metadata(&store, &http, &clock, ISS, &STRICT)).unwrap();
    assert_eq!(m, meta());
    assert_eq!(http.calls.get(), 1, "invalid KV record is refetched");

    // A record stamped in the past beyond the TTL, or garbage, is ignored likewise.
    for text in [
        serde_json::json!({"fetched_at": 1, "metadata": doc()}).to_string(),
        "garbage".to_owned(),
    ] {
        block_on(store.put(&discovery_key(ISS), &text, None)).unwrap();
        block_on(DiscoveryCache::new().metadata(&store, &http, &clock, ISS, &STRICT)).unwrap();
    }
    assert_eq!(http.calls.get(), 3);
}

#[test]
fn cache_propagates_fetch_errors_and_caches_nothing() {
    let clock = FixedClock::at(10_000);
    let store = MemoryStore::new(&clock);
    let cache = DiscoveryCache::new();
    let http = FakeHttp::new(Err(HttpError::Timeout));
    assert_eq!(
        block_on(cache.metadata(&store, &http, &clock, ISS, &STRICT)),
        Err(DiscoveryError::Http(HttpError::Timeout))
    );
    *http.answer.borrow_mut() = Err(HttpError::TooLarge);
    assert_eq!(
        block_on(cache.metadata(&store, &http, &clock, ISS, &STRICT)),
        Err(DiscoveryError::TooLarge)
    );
    *http.answer.borrow_mut() = Ok(HttpResponse::new(302, "text/plain", ""));
    assert_eq!(
        block_on(cache.metadata(&store, &http, &clock, ISS, &STRICT)),
        Err(DiscoveryError::Redirect)
    );
    assert!(store.snapshot().is_empty());
}

#[test]
fn cache_refuses_issuer_outside_policy_without_fetching() {
    let clock = FixedClock::at(10_000);
    let store = MemoryStore::new(&clock);
    let http = FakeHttp::new(Ok(ok_resp(&doc())));
    let e = block_on(DiscoveryCache::new().metadata(
        &store,
        &http,
        &clock,
        "https://192.168.0.1/realm",
        &STRICT,
    ))
    .unwrap_err();
    assert!(matches!(
        e,
        DiscoveryError::BadEndpoint { name: "issuer", .. }
    ));
    assert_eq!(http.calls.get(), 0);
}

#[test]
fn kv_read_failure_is_a_store_error_but_write_failure_is_not() {
    let clock = FixedClock::at(10_000);
    let store = MemoryStore::new(&clock);
    let http = FakeHttp::new(Ok(ok_resp(&doc())));
    store.fail.set(true);
    assert!(matches!(
        block_on(DiscoveryCache::new().metadata(&store, &http, &clock, ISS, &STRICT)),
        Err(DiscoveryError::Store(_))
    ));
    assert_eq!(http.calls.get(), 0);

    /// Reads work, writes fail.
    struct ReadOnly<'a>(&'a MemoryStore<&'a FixedClock>);
    impl KvStore for ReadOnly<'_> {
        async fn get(&self, k: &str) -> Result<Option<String>, StoreError> {
            self.0.get(k).await
        }
        async fn put(&self, _: &str, _: &str, _: Option<u64>) -> Result<(), StoreError> {
            Err(StoreError("quota".into()))
        }
        async fn delete(&self, k: &str) -> Result<(), StoreError> {
            self.0.delete(k).await
        }
        async fn list(&self, p: &str, l: usize) -> Result<Vec<String>, StoreError> {
            self.0.list(p, l).await
        }
    }
    store.fail.set(false);
    let ro = ReadOnly(&store);
    assert_eq!(
        block_on(DiscoveryCache::new().metadata(&ro, &http, &clock, ISS, &STRICT)).unwrap(),
        meta()
    );
}
