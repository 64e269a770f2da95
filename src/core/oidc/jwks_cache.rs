//! The IdP signing keys, cached in two tiers: the isolate's memory (free, lost on eviction) and
//! KV (shared by every isolate, eventually consistent), refetched from the `jwks_uri` when they
//! expire or when a token names a key we do not have (key rotation, OIDC Core 10.1.1).
//!
//! Refetches are rate-limited per issuer ([`REFETCH_COOLDOWN_SECS`]) so a flood of tokens with
//! random `kid`s cannot turn the worker into an amplifier against the IdP; when the endpoint
//! fails, the last good keys keep serving (up to [`MAX_STALE_SECS`] past their expiry).
//! KV failures are not fatal: the cache then behaves as if KV were empty / the write never
//! happened.
//!
//! The cache only hands out keys ([`JwksCache::keys`], [`JwksCache::refetch_for_unknown_kid`]);
//! [`verify_id_token`](super::verify_id_token::verify_id_token) runs the verification with them.

use crate::core::clock::UnixTime;
use crate::core::http::{HttpClient, HttpError, HttpRequest};
use crate::core::jose::jwk::{Jwks, JwksError, MAX_JWKS_BYTES};
use crate::core::secret::sha256_hex;
use crate::core::store::KvStore;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use url::Url;

/// Shortest cache lifetime, whatever `Cache-Control` says.
pub const MIN_TTL_SECS: u64 = 300;
/// Longest cache lifetime, whatever `Cache-Control` says.
pub const MAX_TTL_SECS: u64 = 86_400;
/// Cache lifetime when the response has no usable `max-age`.
pub const DEFAULT_TTL_SECS: u64 = 3_600;
/// At most one fetch per issuer in this many seconds (tracked per isolate and in KV).
pub const REFETCH_COOLDOWN_SECS: u64 = 20;
/// How long past their expiry the last good keys keep serving while the endpoint fails.
pub const MAX_STALE_SECS: u64 = 7 * 86_400;

/// Why the JWKS could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksFetchError {
    /// Transport failure (including a body over [`MAX_JWKS_BYTES`]).
    Http(HttpError),
    /// A 3xx answer: redirects are never followed.
    Redirect(u16),
    /// Any other status than 200.
    Status(u16),
    /// The document was refused.
    Invalid(JwksError),
    /// A fetch failed moments ago and the cooldown forbids another one yet.
    CoolingDown,
}

impl std::fmt::Display for JwksFetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwksFetchError::Http(e) => write!(f, "JWKS fetch failed: {e}"),
            JwksFetchError::Redirect(s) => write!(f, "JWKS endpoint redirected ({s})"),
            JwksFetchError::Status(s) => write!(f, "JWKS endpoint answered {s}"),
            JwksFetchError::Invalid(e) => write!(f, "JWKS refused: {e}"),
            JwksFetchError::CoolingDown => f.write_str("JWKS fetch failed recently"),
        }
    }
}

impl std::error::Error for JwksFetchError {}

/// One issuer's keys as cached in the isolate.
#[derive(Debug, Clone)]
struct Entry {
    jwks_uri: String,
    /// The last good key set, if any fetch ever succeeded.
    jwks: Option<Rc<Jwks>>,
    fetched_at: UnixTime,
    expires_at: UnixTime,
    /// Last fetch attempt (success or failure), for the cooldown.
    last_attempt: UnixTime,
}

impl Entry {
    fn is_fresh(&self, now: UnixTime) -> bool {
        self.jwks.is_some() && now < self.expires_at
    }
    /// Keys good enough to verify with: fresh, or stale within [`MAX_STALE_SECS`].
    fn usable(&self, now: UnixTime) -> Option<Rc<Jwks>> {
        self.jwks
            .clone()
            .filter(|_| now < self.expires_at.plus(MAX_STALE_SECS))
    }
    fn cooling_down(&self, now: UnixTime) -> bool {
        now < self.last_attempt.plus(REFETCH_COOLDOWN_SECS)
    }
}

/// The KV record under `jwks:{sha256_hex(issuer)}`.
#[derive(Serialize, Deserialize)]
struct StoredEntry {
    jwks_uri: String,
    /// The public JWKs as published (re-checked when read back).
    keys: Vec<serde_json::Value>,
    fetched_at: u64,
    expires_at: u64,
    last_attempt: u64,
}

fn kv_key(issuer: &str) -> String {
    format!("jwks:{}", sha256_hex(issuer.as_bytes()))
}

/// The TTL a JWKS response asks for: `Cache-Control: max-age` clamped to
/// [[`MIN_TTL_SECS`], [`MAX_TTL_SECS`]], else [`DEFAULT_TTL_SECS`].
fn ttl_from_cache_control(value: Option<&str>) -> u64 {
    let max_age = value.and_then(|v| {
        v.split(',').find_map(|d| {
            let (name, val) = d.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("max-age")
                .then(|| val.trim().trim_matches('"').parse::<u64>().ok())?
        })
    });
    max_age.map_or(DEFAULT_TTL_SECS, |s| s.clamp(MIN_TTL_SECS, MAX_TTL_SECS))
}

/// The KV store and HTTP client the cache reads through.
#[derive(Debug)]
pub struct KeyPorts<'a, S, H> {
    /// Where the keys are shared between isolates.
    pub store: &'a S,
    /// Fetches the `jwks_uri` (never following redirects).
    pub http: &'a H,
}

/// One issuer's keys as handed out by [`JwksCache::keys`], with what
/// [`JwksCache::refetch_for_unknown_kid`] needs to know about how they were obtained.
#[derive(Debug, Clone)]
pub struct IssuerKeys {
    jwks: Rc<Jwks>,
    issuer: String,
    jwks_uri: Url,
    entry: Entry,
    /// Fetched (or found newer in KV) during this [`JwksCache::keys`] call.
    refreshed: bool,
}

impl IssuerKeys {
    /// The key set.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }
}

enum Refresh {
    /// New keys (fetched by us, or by another isolate and found in KV).
    Updated(Entry),
    /// The fetch failed.
    Failed(JwksFetchError),
    /// Within the cooldown: nothing was fetched.
    CoolingDown,
}

/// Isolate-level JWKS cache backed by KV. Create one per isolate (e.g. in a `thread_local!`)
/// and pass the request's KV, HTTP client and clock to each call.
#[derive(Debug, Default)]
pub struct JwksCache {
    entries: RefCell<HashMap<String, Entry>>,
}

impl JwksCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// `issuer`'s keys from `jwks_uri`: cached keys when fresh (isolate, then KV), else fetched
    /// (a scheduled fetch, which does not start the cooldown). When the fetch fails, the last
    /// good keys keep serving up to [`MAX_STALE_SECS`] past their expiry; with none, the
    /// failure (or [`JwksFetchError::CoolingDown`]) is returned.
    pub async fn keys<S: KvStore, H: HttpClient>(
        &self,
        ports: &KeyPorts<'_, S, H>,
        issuer: &str,
        jwks_uri: &Url,
        now: UnixTime,
    ) -> Result<IssuerKeys, JwksFetchError> {
        let mut entry = self.load(ports.store, issuer, jwks_uri).await;
        let mut refreshed = false;
        let mut failure = None;
        if !entry.as_ref().is_some_and(|e| e.is_fresh(now)) {
            match self
                .refresh(ports, issuer, jwks_uri, now, entry.as_ref(), false)
                .await
            {
                Refresh::Updated(e) => {
                    entry = Some(e);
                    refreshed = true;
                }
                Refresh::Failed(e) => failure = Some(e),
                Refresh::CoolingDown => {}
            }
            // A failed attempt was recorded in the isolate; re-read it for the stale keys.
            if !refreshed {
                entry = self.entries.borrow().get(issuer).cloned().or(entry);
            }
        }
        match entry {
            Some(entry) => match entry.usable(now) {
                Some(jwks) => Ok(IssuerKeys {
                    jwks,
                    issuer: issuer.to_owned(),
                    jwks_uri: jwks_uri.clone(),
                    entry,
                    refreshed,
                }),
                None => Err(failure.unwrap_or(JwksFetchError::CoolingDown)),
            },
            None => Err(failure.unwrap_or(JwksFetchError::CoolingDown)),
        }
    }

    /// New keys after a token named a key `keys` does not have (OIDC Core 10.1.1: the IdP may
    /// have rotated its keys). `None` when nothing new can be had: `keys` were fetched by this
    /// very call sequence already, the cooldown forbids a fetch ([`REFETCH_COOLDOWN_SECS`],
    /// which this refetch starts), or the fetch failed.
    pub async fn refetch_for_unknown_kid<S: KvStore, H: HttpClient>(
        &self,
        ports: &KeyPorts<'_, S, H>,
        keys: &IssuerKeys,
        now: UnixTime,
    ) -> Option<Rc<Jwks>> {
        if keys.refreshed {
            return None;
        }
        match self
            .refresh(
                ports,
                &keys.issuer,
                &keys.jwks_uri,
                now,
                Some(&keys.entry),
                true,
            )
            .await
        {
            Refresh::Updated(Entry {
                jwks: Some(jwks), ..
            }) => Some(jwks),
            _ => None,
        }
    }

    /// The issuer's entry: from the isolate, else from KV (then kept in the isolate).
    async fn load<S: KvStore>(&self, store: &S, issuer: &str, jwks_uri: &Url) -> Option<Entry> {
        if let Some(e) = self.entries.borrow().get(issuer) {
            if e.jwks_uri == jwks_uri.as_str() {
                return Some(e.clone());
            }
        }
        let e = load_kv(store, issuer, jwks_uri).await?;
        self.entries
            .borrow_mut()
            .insert(issuer.to_owned(), e.clone());
        Some(e)
    }

    /// Fetches new keys unless another isolate just did (KV) or the cooldown forbids it.
    /// `forced` marks a refetch for an unknown `kid`: only those and failed fetches start the
    /// cooldown, so a rotation right after a scheduled fetch is still picked up at once, while
    /// a flood of random kids gets at most one fetch per [`REFETCH_COOLDOWN_SECS`].
    async fn refresh<S: KvStore, H: HttpClient>(
        &self,
        ports: &KeyPorts<'_, S, H>,
        issuer: &str,
        jwks_uri: &Url,
        now: UnixTime,
        current: Option<&Entry>,
        forced: bool,
    ) -> Refresh {
        // The isolate's own cooldown first: a flood costs no KV read.
        if current.is_some_and(|c| c.cooling_down(now)) {
            return Refresh::CoolingDown;
        }
        let mut base = current.cloned();
        if let Some(kv) = load_kv(ports.store, issuer, jwks_uri).await {
            let newer = current.is_none_or(|c| kv.fetched_at > c.fetched_at);
            if newer && kv.is_fresh(now) {
                self.entries
                    .borrow_mut()
                    .insert(issuer.to_owned(), kv.clone());
                return Refresh::Updated(kv);
            }
            let cooling = kv.cooling_down(now);
            if newer || kv.last_attempt > base.as_ref().map_or(UnixTime(0), |b| b.last_attempt) {
                base = Some(kv);
            }
            if cooling {
                // Another isolate tried moments ago; remember its attempt here too.
                if let Some(b) = &base {
                    self.entries
                        .borrow_mut()
                        .insert(issuer.to_owned(), b.clone());
                }
                return Refresh::CoolingDown;
            }
        }
        let result = fetch_jwks(ports.http, jwks_uri).await;
        let (entry, outcome) = match result {
            Ok((jwks, ttl)) => {
                let e = Entry {
                    jwks_uri: jwks_uri.as_str().to_owned(),
                    jwks: Some(Rc::new(jwks)),
                    fetched_at: now,
                    expires_at: now.plus(ttl),
                    last_attempt: if forced {
                        now
                    } else {
                        base.as_ref().map_or(UnixTime(0), |b| b.last_attempt)
                    },
                };
                (e.clone(), Refresh::Updated(e))
            }
            Err(err) => {
                // Keep the last good keys; only the attempt time changes.
                let mut e = base.unwrap_or(Entry {
                    jwks_uri: jwks_uri.as_str().to_owned(),
                    jwks: None,
                    fetched_at: UnixTime(0),
                    expires_at: UnixTime(0),
                    last_attempt: now,
                });
                e.last_attempt = now;
                (e, Refresh::Failed(err))
            }
        };
        self.entries
            .borrow_mut()
            .insert(issuer.to_owned(), entry.clone());
        save_kv(ports.store, issuer, &entry, now).await;
        outcome
    }
}

async fn load_kv<S: KvStore>(store: &S, issuer: &str, jwks_uri: &Url) -> Option<Entry> {
    let raw = store.get(&kv_key(issuer)).await.ok()??;
    let s: StoredEntry = serde_json::from_str(&raw).ok()?;
    if s.jwks_uri != jwks_uri.as_str() {
        return None;
    }
    Some(Entry {
        jwks_uri: s.jwks_uri,
        jwks: Jwks::from_values(&s.keys).ok().map(Rc::new),
        fetched_at: UnixTime(s.fetched_at),
        expires_at: UnixTime(s.expires_at),
        last_attempt: UnixTime(s.last_attempt),
    })
}

/// Best effort: a KV failure only costs other isolates a fetch.
async fn save_kv<S: KvStore>(store: &S, issuer: &str, e: &Entry, now: UnixTime) {
    let stored = StoredEntry {
        jwks_uri: e.jwks_uri.clone(),
        keys: e
            .jwks
            .as_ref()
            .map(|j| {
                j.keys()
                    .iter()
                    .filter_map(|k| serde_json::to_value(k).ok())
                    .collect()
            })
            .unwrap_or_default(),
        fetched_at: e.fetched_at.secs(),
        expires_at: e.expires_at.secs(),
        last_attempt: e.last_attempt.secs(),
    };
    let ttl = if e.jwks.is_some() {
        e.expires_at
            .plus(MAX_STALE_SECS)
            .secs()
            .saturating_sub(now.secs())
    } else {
        REFETCH_COOLDOWN_SECS
    };
    if let Ok(json) = serde_json::to_string(&stored) {
        let _ = store.put(&kv_key(issuer), &json, Some(ttl)).await;
    }
}

/// GET `jwks_uri`: 200 only (redirects are never followed), body capped at [`MAX_JWKS_BYTES`].
async fn fetch_jwks<H: HttpClient>(
    http: &H,
    jwks_uri: &Url,
) -> Result<(Jwks, u64), JwksFetchError> {
    let mut req = HttpRequest::get(jwks_uri.clone());
    req.headers
        .push("accept", "application/jwk-set+json, application/json");
    let resp = http
        .send(req, MAX_JWKS_BYTES)
        .await
        .map_err(JwksFetchError::Http)?;
    match resp.status {
        200 => {}
        300..=399 => return Err(JwksFetchError::Redirect(resp.status)),
        s => return Err(JwksFetchError::Status(s)),
    }
    if resp.body.len() > MAX_JWKS_BYTES {
        return Err(JwksFetchError::Http(HttpError::TooLarge));
    }
    let jwks = Jwks::parse(&resp.body).map_err(JwksFetchError::Invalid)?;
    Ok((
        jwks,
        ttl_from_cache_control(resp.headers.get("cache-control")),
    ))
}

#[cfg(test)]
mod tests {
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
        let key = format!("jwks:{}", sha256_hex(ISS.as_bytes()));
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
        // Seed the isolate and KV with an entry for another URI.
        let other = Entry {
            jwks_uri: "https://old.example/jwks".into(),
            jwks: Some(Rc::new(jwks(&[(Key::RsaB, "a")]))),
            fetched_at: UnixTime(NOW),
            expires_at: UnixTime(NOW + 3600),
            last_attempt: UnixTime(NOW),
        };
        cache.entries.borrow_mut().insert(ISS.into(), other.clone());
        block_on(save_kv(&w.store, ISS, &other, UnixTime(NOW)));
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
}
