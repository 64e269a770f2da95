use super::*;
use crate::core::clock::Clock;
use crate::core::clock::FixedClock;
use crate::core::http::HttpResponse;
use crate::core::jose::native_verifier::NativeVerifier;
use crate::core::oidc::idtoken::testkit::*;
use crate::core::oidc::idtoken::{
    IdTokenError, IdTokenVerifier, UntrustedIdToken, VerifiedIdToken,
};
use crate::core::oidc::verify_id_token::{verify_id_token, IdTokenPorts, VerifyError};
use crate::core::secret::Secret;
use crate::core::store::{block_on, MemoryStore};
use serde_json::json;
use std::cell::Cell;
use std::collections::VecDeque;

/// A fake transport: canned answers in order, then `fallback` forever; counts calls and
/// honours the `max_body` contract like a real client would.
struct FakeHttp {
    queue: RefCell<VecDeque<Result<HttpResponse, HttpError>>>,
    fallback: RefCell<Option<Result<HttpResponse, HttpError>>>,
    calls: Cell<usize>,
    last_max_body: Cell<usize>,
}

impl FakeHttp {
    fn new(answers: Vec<Result<HttpResponse, HttpError>>) -> Self {
        FakeHttp {
            queue: RefCell::new(answers.into()),
            fallback: RefCell::new(None),
            calls: Cell::new(0),
            last_max_body: Cell::new(0),
        }
    }
    fn push(&self, answer: Result<HttpResponse, HttpError>) {
        self.queue.borrow_mut().push_back(answer);
    }
    fn always(&self, answer: Result<HttpResponse, HttpError>) {
        *self.fallback.borrow_mut() = Some(answer);
    }
}

impl HttpClient for FakeHttp {
    async fn send(&self, req: HttpRequest, max_body: usize) -> Result<HttpResponse, HttpError> {
        assert_eq!(req.url.as_str(), JWKS_URI);
        self.calls.set(self.calls.get() + 1);
        self.last_max_body.set(max_body);
        let answer = self
            .queue
            .borrow_mut()
            .pop_front()
            .or_else(|| self.fallback.borrow().clone())
            .expect("unexpected fetch");
        let resp = answer?;
        if resp.body.len() > max_body {
            return Err(HttpError::TooLarge);
        }
        Ok(resp)
    }
}

const JWKS_URI: &str = "https://idp.example.com/jwks";

fn ok(keys: &[(Key, &str)], max_age: Option<u64>) -> Result<HttpResponse, HttpError> {
    let mut r = HttpResponse::new(200, "application/json", jwks_json(keys));
    if let Some(s) = max_age {
        r.headers
            .push("Cache-Control", format!("public, max-age={s}"));
    }
    Ok(r)
}

fn status(code: u16) -> Result<HttpResponse, HttpError> {
    Ok(HttpResponse::new(code, "text/plain", "nope"))
}

fn token(key: Key, kid: &str) -> UntrustedIdToken {
    let t = sign(key, &json!({"alg": "RS256", "kid": kid}), &claims());
    UntrustedIdToken::parse(&t).unwrap()
}

struct World {
    clock: &'static FixedClock,
    store: MemoryStore<&'static FixedClock>,
    http: FakeHttp,
}

impl World {
    fn new(answers: Vec<Result<HttpResponse, HttpError>>) -> Self {
        // One stopped clock for the cache and the store; each test leaks one (tiny).
        let clock: &'static FixedClock = Box::leak(Box::new(FixedClock::at(NOW)));
        World {
            clock,
            store: MemoryStore::new(clock),
            http: FakeHttp::new(answers),
        }
    }
    fn verify(
        &self,
        cache: &JwksCache,
        token: &UntrustedIdToken,
    ) -> Result<VerifiedIdToken, VerifyError> {
        let ports = IdTokenPorts {
            store: &self.store,
            http: &self.http,
            verifier: &NativeVerifier,
            clock: self.clock,
            jwks: cache,
        };
        block_on(verify_id_token(
            &ports,
            &IdTokenVerifier::new(ISS, CLIENT_ID),
            &Url::parse(JWKS_URI).unwrap(),
            token,
            &Secret::new(NONCE),
        ))
    }
    /// A token valid at the world's current time.
    fn token_now(&self, key: Key, kid: &str) -> UntrustedIdToken {
        let now = self.clock.now().secs();
        let mut c = claims();
        c["iat"] = json!(now);
        c["exp"] = json!(now + 300);
        let t = sign(key, &json!({"alg": "RS256", "kid": kid}), &c);
        UntrustedIdToken::parse(&t).unwrap()
    }
}

#[test]
fn fetches_once_then_serves_from_the_isolate() {
    let w = World::new(vec![ok(&[(Key::RsaA, "a")], None)]);
    let cache = JwksCache::new();
    let t = token(Key::RsaA, "a");
    assert!(w.verify(&cache, &t).is_ok());
    assert_eq!(w.http.last_max_body.get(), MAX_JWKS_BYTES);
    let gets = w.store.counts().gets;
    assert!(w.verify(&cache, &t).is_ok());
    assert_eq!(w.http.calls.get(), 1);
    assert_eq!(w.store.counts().gets, gets, "isolate hit: no KV read");
}

#[test]
fn kv_cached_keys_serve_a_fresh_isolate_without_fetching() {
    let w = World::new(vec![ok(&[(Key::RsaA, "a")], None)]);
    let t = token(Key::RsaA, "a");
    assert!(w.verify(&JwksCache::new(), &t).is_ok());
    let key = kv_key(ISS, JWKS_URI);
    assert!(w.store.snapshot().iter().any(|(k, _)| *k == key));
    let fresh_isolate = JwksCache::new();
    assert!(w.verify(&fresh_isolate, &t).is_ok());
    assert_eq!(w.http.calls.get(), 1);
}

#[test]
fn unknown_kid_triggers_one_refetch() {
    let w = World::new(vec![
        ok(&[(Key::RsaA, "a")], None),
        ok(&[(Key::RsaA, "a")], None),
    ]);
    let cache = JwksCache::new();
    assert!(w.verify(&cache, &token(Key::RsaA, "a")).is_ok());
    w.clock.advance(REFETCH_COOLDOWN_SECS);
    let err = w.verify(&cache, &w.token_now(Key::RsaB, "b")).unwrap_err();
    assert_eq!(err, VerifyError::IdToken(IdTokenError::UnknownKid));
    assert_eq!(w.http.calls.get(), 2);
}

#[test]
fn rotation_picks_up_the_new_key() {
    let w = World::new(vec![
        ok(&[(Key::RsaA, "a")], None),
        ok(&[(Key::RsaA, "a"), (Key::RsaB, "b")], None),
    ]);
    let cache = JwksCache::new();
    assert!(w.verify(&cache, &token(Key::RsaA, "a")).is_ok());
    w.clock.advance(REFETCH_COOLDOWN_SECS);
    let tb = w.token_now(Key::RsaB, "b");
    assert_eq!(w.verify(&cache, &tb).unwrap().sub(), "user-42");
    assert!(w.verify(&cache, &tb).is_ok());
    assert_eq!(w.http.calls.get(), 2);
    // Another isolate finds the rotated set in KV.
    assert!(w.verify(&JwksCache::new(), &tb).is_ok());
    assert_eq!(w.http.calls.get(), 2);
}

#[test]
fn rotation_right_after_a_scheduled_fetch_is_picked_up() {
    let w = World::new(vec![
        ok(&[(Key::RsaA, "a")], None),
        ok(&[(Key::RsaA, "a"), (Key::RsaB, "b")], None),
    ]);
    let cache = JwksCache::new();
    assert!(w.verify(&cache, &token(Key::RsaA, "a")).is_ok());
    // The scheduled (first) fetch does not start the cooldown: the new kid refetches at once.
    assert!(w.verify(&cache, &token(Key::RsaB, "b")).is_ok());
    assert_eq!(w.http.calls.get(), 2);
}

#[test]
fn second_unknown_kid_within_cooldown_is_refused_until_it_ends() {
    let w = World::new(vec![
        ok(&[(Key::RsaA, "a")], None),
        ok(&[(Key::RsaA, "a")], None),
        ok(&[(Key::RsaB, "b")], None),
    ]);
    let cache = JwksCache::new();
    assert!(w.verify(&cache, &token(Key::RsaA, "a")).is_ok());
    // A forced refetch for an unknown kid starts the cooldown.
    let unknown = token(Key::RsaB, "zzz");
    assert!(w.verify(&cache, &unknown).is_err());
    assert_eq!(w.http.calls.get(), 2);
    let tb = token(Key::RsaB, "b");
    assert_eq!(
        w.verify(&cache, &tb).unwrap_err(),
        VerifyError::IdToken(IdTokenError::UnknownKid)
    );
    assert_eq!(w.http.calls.get(), 2, "no fetch during the cooldown");
    w.clock.advance(REFETCH_COOLDOWN_SECS);
    assert!(w.verify(&cache, &tb).is_ok());
    assert_eq!(w.http.calls.get(), 3);
}

#[test]
fn cooldown_holds_under_a_flood_of_random_kids() {
    let w = World::new(vec![]);
    w.http.always(ok(&[(Key::RsaA, "a")], None));
    let cache = JwksCache::new();
    let other_isolate = JwksCache::new();
    for i in 0..120u64 {
        if i % 2 == 0 && i > 0 {
            w.clock.advance(1);
        }
        let t = w.token_now(Key::RsaB, &format!("random-{i}"));
        let isolate = if i % 3 == 0 { &other_isolate } else { &cache };
        assert_eq!(
            w.verify(isolate, &t).unwrap_err(),
            VerifyError::IdToken(IdTokenError::UnknownKid)
        );
    }
    // 60 seconds of flood from two isolates: the first (scheduled) fetch, then forced
    // refetches at t=0, 20 and 40 only.
    assert_eq!(w.clock.now().secs() - NOW, 59);
    assert_eq!(w.http.calls.get(), 4);
}

#[test]
fn endpoint_failure_keeps_the_last_good_keys() {
    let w = World::new(vec![ok(&[(Key::RsaA, "a")], Some(300))]);
    let cache = JwksCache::new();
    assert!(w.verify(&cache, &token(Key::RsaA, "a")).is_ok());
    w.clock.advance(400);
    w.http.push(status(500));
    assert!(w.verify(&cache, &w.token_now(Key::RsaA, "a")).is_ok());
    assert_eq!(w.http.calls.get(), 2);
    // Within the cooldown no further fetch; stale keys keep serving.
    assert!(w.verify(&cache, &w.token_now(Key::RsaA, "a")).is_ok());
    assert_eq!(w.http.calls.get(), 2);
    // A fresh isolate gets the stale keys from KV too.
    assert!(w
        .verify(&JwksCache::new(), &w.token_now(Key::RsaA, "a"))
        .is_ok());
    assert_eq!(w.http.calls.get(), 2);
    // Past the staleness bound the keys are gone.
    w.clock.advance(MAX_STALE_SECS);
    w.http.push(Err(HttpError::Timeout));
    assert_eq!(
        w.verify(&cache, &w.token_now(Key::RsaA, "a")).unwrap_err(),
        VerifyError::JwksUnavailable(JwksFetchError::Http(HttpError::Timeout))
    );
}

#[test]
fn expired_keys_are_refetched() {
    let w = World::new(vec![
        ok(&[(Key::RsaA, "a")], Some(600)),
        ok(&[(Key::RsaB, "b")], None),
    ]);
    let cache = JwksCache::new();
    assert!(w.verify(&cache, &token(Key::RsaA, "a")).is_ok());
    w.clock.advance(599);
    assert!(w.verify(&cache, &w.token_now(Key::RsaA, "a")).is_ok());
    assert_eq!(w.http.calls.get(), 1);
    w.clock.advance(1);
    assert!(w.verify(&cache, &w.token_now(Key::RsaB, "b")).is_ok());
    assert_eq!(w.http.calls.get(), 2);
}

#[test]
fn no_keys_and_failing_endpoint_is_unavailable() {
    let w = World::new(vec![status(503)]);
    let cache = JwksCache::new();
    let t = token(Key::RsaA, "a");
    assert_eq!(
        w.verify(&cache, &t).unwrap_err(),
        VerifyError::JwksUnavailable(JwksFetchError::Status(503))
    );
    assert_eq!(
        w.verify(&cache, &t).unwrap_err(),
        VerifyError::JwksUnavailable(JwksFetchError::CoolingDown)
    );
    // The failed attempt is recorded in KV: another isolate does not fetch either.
    assert_eq!(
        w.verify(&JwksCache::new(), &t).unwrap_err(),
        VerifyError::JwksUnavailable(JwksFetchError::CoolingDown)
    );
    assert_eq!(w.http.calls.get(), 1);
}

#[test]
fn redirect_is_refused() {
    let mut r = HttpResponse::new(302, "text/plain", "");
    r.headers.push("location", "https://evil.example/jwks");
    let w = World::new(vec![Ok(r)]);
    assert_eq!(
        w.verify(&JwksCache::new(), &token(Key::RsaA, "a"))
            .unwrap_err(),
        VerifyError::JwksUnavailable(JwksFetchError::Redirect(302))
    );
}

#[test]
fn oversize_jwks_is_refused() {
    let body = vec![b' '; MAX_JWKS_BYTES + 1];
    let w = World::new(vec![Ok(HttpResponse::new(200, "application/json", body))]);
    assert_eq!(
        w.verify(&JwksCache::new(), &token(Key::RsaA, "a"))
            .unwrap_err(),
        VerifyError::JwksUnavailable(JwksFetchError::Http(HttpError::TooLarge))
    );
}

#[test]
fn invalid_jwks_is_refused() {
    let w = World::new(vec![Ok(HttpResponse::new(200, "application/json", "{}"))]);
    assert_eq!(
        w.verify(&JwksCache::new(), &token(Key::RsaA, "a"))
            .unwrap_err(),
        VerifyError::JwksUnavailable(JwksFetchError::Invalid(JwksError::Malformed))
    );
}

#[test]
fn token_errors_pass_through() {
    let w = World::new(vec![ok(&[(Key::RsaA, "a")], None)]);
    let mut c = claims();
    c["nonce"] = json!("other");
    let t = sign(Key::RsaA, &json!({"alg": "RS256", "kid": "a"}), &c);
    let t = UntrustedIdToken::parse(&t).unwrap();
    assert_eq!(
        w.verify(&JwksCache::new(), &t).unwrap_err(),
        VerifyError::IdToken(IdTokenError::NonceMismatch)
    );
    assert_eq!(w.http.calls.get(), 1);
}

#[test]
fn kv_failure_is_not_fatal() {
    let w = World::new(vec![ok(&[(Key::RsaA, "a")], None)]);
    w.store.fail.set(true);
    assert!(w.verify(&JwksCache::new(), &token(Key::RsaA, "a")).is_ok());
}

#[test]
fn changed_jwks_uri_is_a_miss() {
    let w = World::new(vec![ok(&[(Key::RsaA, "a")], None)]);
    let cache = JwksCache::new();
    // Seed the isolate and KV with an entry for another URI of the same issuer.
    const OLD: &str = "https://old.example/jwks";
    let other = Entry {
        jwks_uri: OLD.into(),
        jwks: Some(Rc::new(jwks(&[(Key::RsaB, "a")]))),
        fetched_at: UnixTime(NOW),
        expires_at: UnixTime(NOW + 3600),
        last_attempt: UnixTime(NOW),
    };
    let old = Source::new(ISS, &Url::parse(OLD).unwrap());
    cache
        .entries
        .borrow_mut()
        .insert(old.clone(), other.clone());
    block_on(save_kv(&w.store, &old, &other, UnixTime(NOW)));
    // Defence in depth: a record under the asked-for pair's key that names another URI.
    let asked = Source::new(ISS, &Url::parse(JWKS_URI).unwrap());
    block_on(save_kv(&w.store, &asked, &other, UnixTime(NOW)));
    assert!(w.verify(&cache, &token(Key::RsaA, "a")).is_ok());
    assert_eq!(w.http.calls.get(), 1);
}

#[test]
fn ttl_follows_cache_control_within_bounds() {
    assert_eq!(ttl_from_cache_control(None), DEFAULT_TTL_SECS);
    assert_eq!(ttl_from_cache_control(Some("no-cache")), DEFAULT_TTL_SECS);
    assert_eq!(ttl_from_cache_control(Some("max-age=7200")), 7200);
    assert_eq!(
        ttl_from_cache_control(Some("public, Max-Age=\"900\", must-revalidate")),
        900
    );
    assert_eq!(ttl_from_cache_control(Some("max-age=0")), MIN_TTL_SECS);
    assert_eq!(ttl_from_cache_control(Some("max-age=999999")), MAX_TTL_SECS);
    assert_eq!(ttl_from_cache_control(Some("max-age=-1")), DEFAULT_TTL_SECS);
    assert_eq!(
        ttl_from_cache_control(Some("s-maxage=10")),
        DEFAULT_TTL_SECS
    );
}

/// A transport that yields once before answering through `inner`, as a real fetch does: the
/// requests of one isolate interleave at that await.
struct Yielding<'a>(&'a FakeHttp);

impl HttpClient for Yielding<'_> {
    async fn send(&self, req: HttpRequest, max_body: usize) -> Result<HttpResponse, HttpError> {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if yielded {
                std::task::Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await;
        self.0.send(req, max_body).await
    }
}

/// Polls two futures in turn until both are done (one isolate serving two requests).
fn both<A: std::future::Future, B: std::future::Future>(a: A, b: B) -> (A::Output, B::Output) {
    use std::task::{Context, Poll, Waker};
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut ra, mut rb) = (None, None);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..100 {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(&mut cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(&mut cx) {
                rb = Some(v);
            }
        }
        if let (Some(_), Some(_)) = (&ra, &rb) {
            return (ra.unwrap(), rb.unwrap());
        }
    }
    panic!("futures never completed");
}

#[test]
fn concurrent_unknown_kids_share_one_refetch() {
    // The cooldown starts when a forced refetch starts, not when it ends: a flood of random
    // kids arriving while the first refetch is in flight must not fetch too.
    let w = World::new(vec![ok(&[(Key::RsaA, "a")], None)]);
    let cache = JwksCache::new();
    assert!(w.verify(&cache, &token(Key::RsaA, "a")).is_ok());
    w.http.always(ok(&[(Key::RsaA, "a")], None));
    let http = Yielding(&w.http);
    let ports = IdTokenPorts {
        store: &w.store,
        http: &http,
        verifier: &NativeVerifier,
        clock: w.clock,
        jwks: &cache,
    };
    let idv = IdTokenVerifier::new(ISS, CLIENT_ID);
    let uri = Url::parse(JWKS_URI).unwrap();
    let nonce = Secret::new(NONCE);
    let (t1, t2) = (token(Key::RsaB, "random-1"), token(Key::RsaB, "random-2"));
    let (r1, r2) = both(
        verify_id_token(&ports, &idv, &uri, &t1, &nonce),
        verify_id_token(&ports, &idv, &uri, &t2, &nonce),
    );
    for r in [r1, r2] {
        assert_eq!(
            r.unwrap_err(),
            VerifyError::IdToken(IdTokenError::UnknownKid)
        );
    }
    assert_eq!(w.http.calls.get(), 2, "the first fetch and one refetch");
}

/// A KV that never shows its writes (eventual consistency at its worst).
struct NoWrites<'a>(&'a MemoryStore<&'static FixedClock>);

impl KvStore for NoWrites<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, crate::core::store::StoreError> {
        self.0.get(key).await
    }
    async fn put(
        &self,
        _: &str,
        _: &str,
        _: Option<u64>,
    ) -> Result<(), crate::core::store::StoreError> {
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), crate::core::store::StoreError> {
        self.0.delete(key).await
    }
    async fn list(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, crate::core::store::StoreError> {
        self.0.list(prefix, limit).await
    }
}

#[test]
fn a_refetch_made_meanwhile_in_this_isolate_is_reused() {
    // Request B took its keys before request A's refetch brought the rotated set: B's own
    // refetch gets that set from the isolate, without a fetch and whatever KV shows.
    let w = World::new(vec![
        ok(&[(Key::RsaA, "a")], None),
        ok(&[(Key::RsaA, "a"), (Key::RsaB, "b")], None),
    ]);
    let store = NoWrites(&w.store);
    let cache = JwksCache::new();
    let kp = KeyPorts {
        store: &store,
        http: &w.http,
    };
    let uri = Url::parse(JWKS_URI).unwrap();
    block_on(cache.keys(&kp, ISS, &uri, w.clock.now())).unwrap();
    w.http
        .always(ok(&[(Key::RsaA, "a"), (Key::RsaB, "b")], None));
    let b_keys = block_on(cache.keys(&kp, ISS, &uri, w.clock.now())).unwrap();
    w.clock.advance(REFETCH_COOLDOWN_SECS);
    let a_keys = block_on(cache.keys(&kp, ISS, &uri, w.clock.now())).unwrap();
    let rotated = block_on(cache.refetch_for_unknown_kid(&kp, &a_keys, w.clock.now())).unwrap();
    assert_eq!(rotated.keys().len(), 2);
    let again = block_on(cache.refetch_for_unknown_kid(&kp, &b_keys, w.clock.now()));
    assert_eq!(again.map(|j| j.keys().len()), Some(2));
    assert_eq!(w.http.calls.get(), 2);
}

// ---- Two orgs, one issuer, two `jwks_uri`s (Entra's multi-tenant issuer template) ----

const ENTRA_TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
const COMMON_JWKS: &str = "https://login.microsoftonline.com/common/discovery/v2.0/keys";
const ORGS_JWKS: &str = "https://login.microsoftonline.com/organizations/discovery/v2.0/keys";

/// A transport serving several `jwks_uri`s: per URI, canned answers in order then a fallback;
/// counts the fetches per URI. Any other URI (or an exhausted one) panics the test.
#[derive(Default)]
struct ManyIdps {
    answers: RefCell<HashMap<String, VecDeque<Result<HttpResponse, HttpError>>>>,
    fallback: RefCell<Option<Result<HttpResponse, HttpError>>>,
    calls: RefCell<HashMap<String, usize>>,
}

impl ManyIdps {
    fn push(&self, uri: &str, answer: Result<HttpResponse, HttpError>) {
        self.answers
            .borrow_mut()
            .entry(uri.to_owned())
            .or_default()
            .push_back(answer);
    }
    fn calls(&self, uri: &str) -> usize {
        self.calls.borrow().get(uri).copied().unwrap_or(0)
    }
}

impl HttpClient for ManyIdps {
    async fn send(&self, req: HttpRequest, _: usize) -> Result<HttpResponse, HttpError> {
        let uri = req.url.as_str().to_owned();
        *self.calls.borrow_mut().entry(uri.clone()).or_default() += 1;
        self.answers
            .borrow_mut()
            .get_mut(&uri)
            .and_then(VecDeque::pop_front)
            .or_else(|| self.fallback.borrow().clone())
            .unwrap_or_else(|| panic!("unexpected fetch of {uri}"))
    }
}

/// A KV that records the keys it is asked for.
struct Recording<'a> {
    inner: &'a MemoryStore<&'static FixedClock>,
    reads: RefCell<Vec<String>>,
}

impl KvStore for Recording<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, crate::core::store::StoreError> {
        self.reads.borrow_mut().push(key.to_owned());
        self.inner.get(key).await
    }
    async fn put(
        &self,
        key: &str,
        value: &str,
        ttl: Option<u64>,
    ) -> Result<(), crate::core::store::StoreError> {
        self.inner.put(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), crate::core::store::StoreError> {
        self.inner.delete(key).await
    }
    async fn list(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, crate::core::store::StoreError> {
        self.inner.list(prefix, limit).await
    }
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

/// The one key id of a key set (the tests give each URI its own).
fn kid(keys: &IssuerKeys) -> String {
    let k = keys.jwks().keys();
    assert_eq!(k.len(), 1);
    serde_json::to_value(&k[0]).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn same_issuer_two_jwks_uris_are_fetched_once_each() {
    // Keyed by issuer alone, alternating orgs replaced each other's entry: a fetch per request.
    let w = World::new(vec![]);
    let http = ManyIdps::default();
    http.push(COMMON_JWKS, ok(&[(Key::RsaA, "common")], None));
    http.push(ORGS_JWKS, ok(&[(Key::RsaB, "orgs")], None));
    let kp = KeyPorts {
        store: &w.store,
        http: &http,
    };
    let cache = JwksCache::new();
    for _ in 0..5 {
        let a = block_on(cache.keys(&kp, ENTRA_TEMPLATE, &url(COMMON_JWKS), w.clock.now()));
        assert_eq!(kid(&a.unwrap()), "common");
        let b = block_on(cache.keys(&kp, ENTRA_TEMPLATE, &url(ORGS_JWKS), w.clock.now()));
        assert_eq!(kid(&b.unwrap()), "orgs");
        w.clock.advance(1);
    }
    assert_eq!((http.calls(COMMON_JWKS), http.calls(ORGS_JWKS)), (1, 1));
    // Both are in KV too: another isolate alternating the same way fetches nothing.
    let other_isolate = JwksCache::new();
    for _ in 0..3 {
        let a = block_on(other_isolate.keys(&kp, ENTRA_TEMPLATE, &url(COMMON_JWKS), w.clock.now()));
        assert_eq!(kid(&a.unwrap()), "common");
        let b = block_on(other_isolate.keys(&kp, ENTRA_TEMPLATE, &url(ORGS_JWKS), w.clock.now()));
        assert_eq!(kid(&b.unwrap()), "orgs");
    }
    assert_eq!((http.calls(COMMON_JWKS), http.calls(ORGS_JWKS)), (1, 1));
}

#[test]
fn cooldown_of_one_jwks_uri_neither_blocks_nor_is_lost_to_the_other() {
    let w = World::new(vec![]);
    let http = ManyIdps::default();
    http.push(COMMON_JWKS, status(503));
    http.push(ORGS_JWKS, ok(&[(Key::RsaB, "orgs")], None));
    http.push(ORGS_JWKS, ok(&[(Key::RsaB, "orgs")], None));
    let kp = KeyPorts {
        store: &w.store,
        http: &http,
    };
    let cache = JwksCache::new();
    let now = w.clock.now();
    let (common, orgs) = (url(COMMON_JWKS), url(ORGS_JWKS));
    assert_eq!(
        block_on(cache.keys(&kp, ENTRA_TEMPLATE, &common, now)).unwrap_err(),
        JwksFetchError::Status(503)
    );
    // The failed fetch cools down COMMON_JWKS only.
    let b = block_on(cache.keys(&kp, ENTRA_TEMPLATE, &orgs, now)).unwrap();
    assert_eq!(kid(&b), "orgs");
    // ... and ORGS_JWKS's entry did not erase that cooldown (in this isolate or in KV).
    for isolate in [&cache, &JwksCache::new()] {
        assert_eq!(
            block_on(isolate.keys(&kp, ENTRA_TEMPLATE, &common, now)).unwrap_err(),
            JwksFetchError::CoolingDown
        );
    }
    assert_eq!(http.calls(COMMON_JWKS), 1);
    // A forced refetch (unknown kid) of ORGS_JWKS is not blocked by COMMON_JWKS's cooldown,
    // and starts ORGS_JWKS's own.
    let b = block_on(cache.keys(&kp, ENTRA_TEMPLATE, &orgs, now)).unwrap();
    assert!(block_on(cache.refetch_for_unknown_kid(&kp, &b, now)).is_some());
    let b = block_on(cache.keys(&kp, ENTRA_TEMPLATE, &orgs, now)).unwrap();
    assert!(block_on(cache.refetch_for_unknown_kid(&kp, &b, now)).is_none());
    assert_eq!((http.calls(COMMON_JWKS), http.calls(ORGS_JWKS)), (1, 2));
    // Once COMMON_JWKS's cooldown is over it is fetched again.
    w.clock.advance(REFETCH_COOLDOWN_SECS);
    http.push(COMMON_JWKS, ok(&[(Key::RsaA, "common")], None));
    let a = block_on(cache.keys(&kp, ENTRA_TEMPLATE, &common, w.clock.now())).unwrap();
    assert_eq!(kid(&a), "common");
    assert_eq!(http.calls(COMMON_JWKS), 2);
}

#[test]
fn kv_record_of_one_jwks_uri_is_not_read_for_the_other() {
    let w = World::new(vec![]);
    let store = Recording {
        inner: &w.store,
        reads: RefCell::default(),
    };
    let http = ManyIdps::default();
    http.push(COMMON_JWKS, ok(&[(Key::RsaA, "common")], None));
    http.push(ORGS_JWKS, ok(&[(Key::RsaB, "orgs")], None));
    let kp = KeyPorts {
        store: &store,
        http: &http,
    };
    let (common, orgs) = (url(COMMON_JWKS), url(ORGS_JWKS));
    block_on(JwksCache::new().keys(&kp, ENTRA_TEMPLATE, &common, w.clock.now())).unwrap();
    let (common_key, orgs_key) = (
        kv_key(ENTRA_TEMPLATE, COMMON_JWKS),
        kv_key(ENTRA_TEMPLATE, ORGS_JWKS),
    );
    assert_ne!(common_key, orgs_key);
    assert!(w.store.snapshot().iter().any(|(k, _)| *k == common_key));
    // A fresh isolate asking for ORGS_JWKS reads only its own key, then fetches.
    store.reads.borrow_mut().clear();
    let b = block_on(JwksCache::new().keys(&kp, ENTRA_TEMPLATE, &orgs, w.clock.now())).unwrap();
    assert_eq!(kid(&b), "orgs");
    assert!(!store.reads.borrow().is_empty());
    assert!(store.reads.borrow().iter().all(|k| *k == orgs_key));
    assert_eq!((http.calls(COMMON_JWKS), http.calls(ORGS_JWKS)), (1, 1));
}

#[test]
fn kv_key_names_the_pair_unambiguously() {
    let key = kv_key(ISS, JWKS_URI);
    let hex = key.strip_prefix("jwks:").unwrap();
    assert_eq!(hex.len(), 64);
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
    // Not the pre-pair key (issuer alone), so old records are simply not found.
    assert_ne!(key, format!("jwks:{}", sha256_hex(ISS.as_bytes())));
    assert_ne!(key, kv_key(ISS, "https://idp.example.com/jwks2"));
    assert_ne!(key, kv_key("https://other.example", JWKS_URI));
    // The same concatenation split elsewhere is another pair, hence another key.
    assert_ne!(kv_key("ab", "c"), kv_key("a", "bc"));
}

#[test]
fn isolate_entries_are_bounded_dropping_the_least_recently_touched() {
    let w = World::new(vec![]);
    let http = ManyIdps::default();
    *http.fallback.borrow_mut() = Some(ok(&[(Key::RsaA, "a")], None));
    let kp = KeyPorts {
        store: &w.store,
        http: &http,
    };
    let cache = JwksCache::new();
    let uri = |i: usize| url(&format!("https://idp{i}.example/jwks"));
    for i in 0..=MAX_ISOLATE_ENTRIES {
        block_on(cache.keys(&kp, ISS, &uri(i), w.clock.now())).unwrap();
        w.clock.advance(1);
    }
    let entries = cache.entries.borrow();
    assert_eq!(entries.len(), MAX_ISOLATE_ENTRIES);
    assert!(!entries.contains_key(&Source::new(ISS, &uri(0))));
    assert!(entries.contains_key(&Source::new(ISS, &uri(1))));
    assert!(entries.contains_key(&Source::new(ISS, &uri(MAX_ISOLATE_ENTRIES))));
    drop(entries);
    // The dropped pair comes back from KV, without a fetch.
    block_on(cache.keys(&kp, ISS, &uri(0), w.clock.now())).unwrap();
    assert_eq!(http.calls(uri(0).as_str()), 1);
}
