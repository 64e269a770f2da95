//! Userinfo responses (OIDC Core 5.3.2): plain JSON, signed JWTs verified like ID tokens, and
//! every refusal; on a stopped clock with the fixture keys.

use super::*;
use crate::core::clock::FixedClock;
use crate::core::http::HttpClient;
use crate::core::jose::alg::JwsAlg;
use crate::core::jose::native_verifier::NativeVerifier;
use crate::core::oidc::idtoken::testkit::{public_json, sign, Key, CLIENT_ID, ISS, NOW};
use crate::core::oidc::idtoken::{IdTokenVerifier, VerifiedIdToken};
use crate::core::oidc::jwks_cache::{JwksCache, REFETCH_COOLDOWN_SECS};
use crate::core::oidc::verify_id_token::{verify_userinfo, IdTokenPorts};
use crate::core::profile::testkit::{meta_for, org, verified};
use crate::core::store::{block_on, MemoryStore};
use serde_json::json;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

fn resp(status: u16, ct: &str, body: Value) -> HttpResponse {
    HttpResponse::new(status, ct, body.to_string())
}

/// The claims of a plain JSON answer.
fn plain(r: &HttpResponse, sub: &str) -> Result<Map<String, Value>, UserinfoError> {
    match userinfo_response(r, sub)? {
        UserinfoResponse::Claims(c) => Ok(c),
        UserinfoResponse::Signed(_) => panic!("not plain JSON"),
    }
}

#[test]
fn request_is_a_bearer_get() {
    let url = Url::parse("https://idp.example.com/userinfo").unwrap();
    let r = userinfo_request(&url, &Secret::new("at-1"));
    assert_eq!(r.method, crate::core::http::Method::Get);
    assert_eq!(r.url, url);
    assert_eq!(r.headers.get("authorization"), Some("Bearer at-1"));
}

#[test]
fn claims_for_the_same_sub() {
    for ct in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/json",
    ] {
        let r = resp(
            200,
            ct,
            json!({"sub": "u1", "email": "ada@acme.com", "groups": ["a"], "iss": "x", "aud": "y"}),
        );
        let c = plain(&r, "u1").unwrap();
        assert_eq!(
            Value::Object(c),
            json!({"email": "ada@acme.com", "groups": ["a"]}),
            "{ct}"
        );
    }
}

#[test]
fn sub_mismatch_refused() {
    for body in [json!({"sub": "u2"}), json!({}), json!({"sub": 1})] {
        let r = resp(200, "application/json", body.clone());
        assert_eq!(plain(&r, "u1"), Err(UserinfoError::SubMismatch), "{body}");
    }
}

#[test]
fn other_answers_refused() {
    let r = resp(302, "text/html", json!({}));
    assert_eq!(plain(&r, "u1"), Err(UserinfoError::Status(302)));
    let r = resp(401, "application/json", json!({"error": "invalid_token"}));
    assert_eq!(plain(&r, "u1"), Err(UserinfoError::Status(401)));
    let r = HttpResponse::new(200, "application/json", "[1]");
    assert_eq!(plain(&r, "u1"), Err(UserinfoError::Malformed));
    let r = HttpResponse::new(200, "application/json", vec![b' '; MAX_USERINFO_BODY + 1]);
    assert_eq!(plain(&r, "u1"), Err(UserinfoError::Malformed));
    let r = HttpResponse::new(200, "application/jwt", vec![b'a'; MAX_USERINFO_BODY + 1]);
    assert_eq!(plain(&r, "u1"), Err(UserinfoError::Malformed));
}

#[test]
fn only_json_and_jwt_content_types_are_read() {
    let body = json!({"sub": "u1"});
    for ct in [
        "text/html",
        "text/plain",
        "application/jsonp",
        "application/jwt-x",
        "",
    ] {
        let r = resp(200, ct, body.clone());
        assert_eq!(
            plain(&r, "u1"),
            Err(UserinfoError::UnsupportedContentType),
            "{ct:?}"
        );
    }
    let mut r = resp(200, "application/json", body);
    r.headers = Default::default();
    assert_eq!(plain(&r, "u1"), Err(UserinfoError::UnsupportedContentType));
}

#[test]
fn encrypted_userinfo_refused_with_a_clear_message() {
    let r = HttpResponse::new(200, "application/jwt", "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d");
    let e = plain(&r, "u1").unwrap_err();
    assert_eq!(e, UserinfoError::EncryptedUnsupported);
    assert!(e.to_string().contains("encrypted"), "{e}");
    assert!(!e.is_untrusted_answer());
}

#[test]
fn malformed_jwts_refused_before_any_key() {
    for body in ["", "a.b", "not a jwt", "a.b.c"] {
        let r = HttpResponse::new(200, "application/jwt", body);
        assert!(
            matches!(
                plain(&r, "u1"),
                Err(UserinfoError::InvalidSignature(IdTokenError::Malformed(_)))
            ),
            "{body:?}"
        );
    }
    // `alg: none` and HMAC are never verified.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none"})),
        b64(&json!({"sub": "u1", "iss": ISS}))
    );
    let r = HttpResponse::new(200, "application/jwt", none);
    assert!(matches!(
        plain(&r, "u1"),
        Err(UserinfoError::InvalidSignature(
            IdTokenError::UnsupportedAlgorithm(_)
        ))
    ));
    // Another kind of token does not pass as userinfo.
    let t = sign(
        Key::RsaA,
        &json!({"alg": "RS256", "kid": "a", "typ": "logout+jwt"}),
        &signed_claims(),
    );
    let r = HttpResponse::new(200, "application/jwt", t);
    assert_eq!(
        plain(&r, "u1").unwrap_err(),
        UserinfoError::InvalidSignature(IdTokenError::UnsupportedType)
    );
}

fn b64(v: &Value) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::encode_string(&serde_json::to_vec(v).unwrap())
}

// --- Signed userinfo, verified like an ID token --------------------------------------------

const JWKS_URI: &str = "https://idp.example.com/keys";
const USERINFO: &str = "https://idp.example.com/userinfo";

/// Answers each URL from its own queue, and counts the fetches.
#[derive(Default)]
struct FakeHttp {
    answers: RefCell<HashMap<String, VecDeque<HttpResponse>>>,
    fetched: RefCell<Vec<String>>,
}

impl FakeHttp {
    fn answer(&self, url: &str, r: HttpResponse) {
        self.answers
            .borrow_mut()
            .entry(url.to_owned())
            .or_default()
            .push_back(r);
    }
    fn hits(&self, url: &str) -> usize {
        self.fetched.borrow().iter().filter(|u| *u == url).count()
    }
}

impl HttpClient for FakeHttp {
    async fn send(&self, req: HttpRequest, max_body: usize) -> Result<HttpResponse, HttpError> {
        self.fetched.borrow_mut().push(req.url.to_string());
        let r = self
            .answers
            .borrow_mut()
            .get_mut(req.url.as_str())
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| panic!("unexpected fetch of {}", req.url));
        if r.body.len() > max_body {
            return Err(HttpError::TooLarge);
        }
        Ok(r)
    }
}

struct World {
    clock: &'static FixedClock,
    store: MemoryStore<&'static FixedClock>,
    http: FakeHttp,
    cache: JwksCache,
}

impl World {
    /// A world whose IdP publishes `keys` (JWK JSON values).
    fn with_keys(keys: Vec<Value>) -> World {
        let clock: &'static FixedClock = Box::leak(Box::new(FixedClock::at(NOW)));
        let w = World {
            clock,
            store: MemoryStore::new(clock),
            http: FakeHttp::default(),
            cache: JwksCache::new(),
        };
        w.publish(keys);
        w
    }
    fn new() -> World {
        World::with_keys(vec![public_json(Key::RsaA, "a")])
    }
    fn publish(&self, keys: Vec<Value>) {
        let doc = serde_json::to_vec(&json!({ "keys": keys })).unwrap();
        self.http
            .answer(JWKS_URI, HttpResponse::new(200, "application/json", doc));
    }
    fn ports(
        &self,
    ) -> IdTokenPorts<'_, MemoryStore<&'static FixedClock>, FakeHttp, NativeVerifier, FixedClock>
    {
        IdTokenPorts {
            store: &self.store,
            http: &self.http,
            verifier: &NativeVerifier,
            clock: self.clock,
            jwks: &self.cache,
        }
    }
    fn check_with(
        &self,
        idv: &IdTokenVerifier,
        r: &HttpResponse,
        id_token: &VerifiedIdToken,
    ) -> Result<Map<String, Value>, UserinfoError> {
        let uri = Url::parse(JWKS_URI).unwrap();
        block_on(verify_userinfo(&self.ports(), idv, &uri, r, id_token))
    }
    /// `r` for the ID token of `user-42` at [`ISS`], verified by the default verifier.
    fn check(&self, r: &HttpResponse) -> Result<Map<String, Value>, UserinfoError> {
        self.check_with(
            &IdTokenVerifier::new(ISS, CLIENT_ID),
            r,
            &verified(json!({})),
        )
    }
}

/// The claims of a valid signed userinfo answer for `user-42`.
fn signed_claims() -> Value {
    json!({"iss": ISS, "aud": CLIENT_ID, "sub": "user-42", "email": "ada@acme.com", "groups": ["eng"]})
}

/// `claims` signed RS256 by `key` under `kid`, as an `application/jwt` answer.
fn jwt_answer(key: Key, kid: &str, claims: &Value) -> HttpResponse {
    let t = sign(
        key,
        &json!({"alg": "RS256", "kid": kid, "typ": "JWT"}),
        claims,
    );
    HttpResponse::new(200, "application/jwt", t)
}

/// A signed answer by key "a" with [`signed_claims`] changed by `f`.
fn with_claims(f: impl FnOnce(&mut Map<String, Value>)) -> HttpResponse {
    let mut c = signed_claims();
    f(c.as_object_mut().unwrap());
    jwt_answer(Key::RsaA, "a", &c)
}

#[test]
fn signed_userinfo_verified_with_the_issuers_keys() {
    let w = World::new();
    let c = w.check(&with_claims(|_| {})).unwrap();
    assert_eq!(
        Value::Object(c),
        json!({"email": "ada@acme.com", "groups": ["eng"]})
    );
    assert_eq!(w.http.hits(JWKS_URI), 1);
    // Plain JSON goes through the same function, with no key fetched.
    let w = World::with_keys(vec![]);
    let r = resp(
        200,
        "application/json",
        json!({"sub": "user-42", "dept": "R&D"}),
    );
    assert_eq!(Value::Object(w.check(&r).unwrap()), json!({"dept": "R&D"}));
    assert_eq!(w.http.hits(JWKS_URI), 0);
}

#[test]
fn signed_userinfo_accepts_a_trailing_newline_and_an_aud_list_or_none() {
    let w = World::new();
    let mut r = with_claims(|_| {});
    r.body.push(b'\n');
    assert!(w.check(&r).is_ok());
    assert!(w
        .check(&with_claims(|c| {
            c.insert("aud".into(), json!(["other", CLIENT_ID]));
        }))
        .is_ok());
    assert!(w
        .check(&with_claims(|c| {
            c.remove("aud");
        }))
        .is_ok());
}

#[test]
fn signed_userinfo_with_a_bad_signature_refused() {
    let w = World::new();
    // Key B's signature under key A's kid.
    let r = jwt_answer(Key::RsaB, "a", &signed_claims());
    let e = w.check(&r).unwrap_err();
    assert_eq!(
        e,
        UserinfoError::InvalidSignature(IdTokenError::InvalidSignature)
    );
    assert!(e.is_untrusted_answer());
    // A tampered payload.
    let mut r = with_claims(|_| {});
    let t = String::from_utf8(r.body.clone()).unwrap();
    let parts: Vec<&str> = t.split('.').collect();
    let forged = b64(&json!({"iss": ISS, "sub": "user-42", "email": "eve@acme.com"}));
    r.body = format!("{}.{forged}.{}", parts[0], parts[2]).into_bytes();
    assert_eq!(
        w.check(&r).unwrap_err(),
        UserinfoError::InvalidSignature(IdTokenError::InvalidSignature)
    );
}

#[test]
fn signed_userinfo_uses_the_orgs_algorithm_allow_list() {
    let w = World::new();
    let idv = IdTokenVerifier::new(ISS, CLIENT_ID).with_allowed_algs(&[JwsAlg::ES256]);
    let e = w
        .check_with(&idv, &with_claims(|_| {}), &verified(json!({})))
        .unwrap_err();
    assert_eq!(
        e,
        UserinfoError::InvalidSignature(IdTokenError::DisallowedAlgorithm(JwsAlg::RS256))
    );
}

#[test]
fn signed_userinfo_iss_must_be_the_issuer() {
    let w = World::new();
    for iss in [
        json!("https://evil.example.com"),
        json!(format!("{ISS}/")),
        json!(1),
    ] {
        let e = w
            .check(&with_claims(|c| {
                c.insert("iss".into(), iss.clone());
            }))
            .unwrap_err();
        assert_eq!(e, UserinfoError::InvalidIssuer, "{iss}");
        assert!(e.is_untrusted_answer());
    }
    // Required when signed (OIDC Core 5.3.2: "MUST contain the Claims iss ...").
    let e = w
        .check(&with_claims(|c| {
            c.remove("iss");
        }))
        .unwrap_err();
    assert_eq!(e, UserinfoError::InvalidIssuer);
}

#[test]
fn signed_userinfo_aud_must_include_the_client_id() {
    let w = World::new();
    for aud in [
        json!("other"),
        json!(["other"]),
        json!([]),
        json!(5),
        json!([5]),
    ] {
        let e = w
            .check(&with_claims(|c| {
                c.insert("aud".into(), aud.clone());
            }))
            .unwrap_err();
        assert_eq!(e, UserinfoError::InvalidAudience, "{aud}");
        assert!(e.is_untrusted_answer());
    }
}

#[test]
fn signed_userinfo_sub_must_be_the_id_tokens() {
    let w = World::new();
    for sub in [Some(json!("user-43")), Some(json!(42)), None] {
        let e = w
            .check(&with_claims(|c| match &sub {
                Some(s) => {
                    c.insert("sub".into(), s.clone());
                }
                None => {
                    c.remove("sub");
                }
            }))
            .unwrap_err();
        assert_eq!(e, UserinfoError::SubMismatch, "{sub:?}");
    }
}

#[test]
fn signed_userinfo_claims_not_an_object_refused() {
    let w = World::new();
    let t = sign(
        Key::RsaA,
        &json!({"alg": "RS256", "kid": "a"}),
        &json!(["x"]),
    );
    let r = HttpResponse::new(200, "application/jwt", t);
    assert!(w.check(&r).is_err());
}

#[test]
fn signed_userinfo_honours_the_per_key_issuer() {
    let mut k = public_json(Key::RsaA, "a");
    k["issuer"] = "https://other.example.com".into();
    let w = World::with_keys(vec![k]);
    assert_eq!(
        w.check(&with_claims(|_| {})).unwrap_err(),
        UserinfoError::InvalidSignature(IdTokenError::KeyIssuerMismatch)
    );
    let mut k = public_json(Key::RsaA, "a");
    k["issuer"] = ISS.into();
    let w = World::with_keys(vec![k]);
    assert!(w.check(&with_claims(|_| {})).is_ok());
}

#[test]
fn signed_userinfo_unknown_kid_refetches_once() {
    let w = World::new();
    // Warm the cache with key "a", then the IdP rotates to "b".
    assert!(w.check(&with_claims(|_| {})).is_ok());
    w.clock.advance(REFETCH_COOLDOWN_SECS + 1);
    w.publish(vec![
        public_json(Key::RsaA, "a"),
        public_json(Key::RsaB, "b"),
    ]);
    assert!(w
        .check(&jwt_answer(Key::RsaB, "b", &signed_claims()))
        .is_ok());
    assert_eq!(w.http.hits(JWKS_URI), 2, "one refetch");
    // A kid the refetched set lacks either stays refused.
    w.clock.advance(REFETCH_COOLDOWN_SECS + 1);
    w.publish(vec![public_json(Key::RsaA, "a")]);
    assert_eq!(
        w.check(&jwt_answer(Key::RsaB, "zz", &signed_claims()))
            .unwrap_err(),
        UserinfoError::InvalidSignature(IdTokenError::UnknownKid)
    );
}

#[test]
fn signed_userinfo_without_keys_is_keys_unavailable() {
    let w = World::with_keys(vec![]);
    // The published set has no usable key: the cache has none to hand out.
    let e = w.check(&with_claims(|_| {})).unwrap_err();
    assert!(matches!(e, UserinfoError::KeysUnavailable(_)), "{e:?}");
    assert!(!e.is_untrusted_answer());
}

// --- Enrichment: what a signed answer changes at sign-in ------------------------------------

/// Runs [`crate::core::profile::enrich`] for an org whose role mapping reads `groups`, with an
/// ID token that has `extra` claims (but no groups), answering userinfo with `answer`.
fn enrich_with(
    w: &World,
    extra: Value,
    answer: HttpResponse,
) -> Result<VerifiedIdToken, crate::core::profile::EnrichError> {
    w.http.answer(USERINFO, answer);
    let org = org(json!({"role_mapping": [{"claim": "groups", "value": "eng", "role": "write"}]}))
        .unwrap();
    let meta = meta_for(ISS);
    let idv = IdTokenVerifier::new(ISS, CLIENT_ID);
    block_on(crate::core::profile::enrich(
        &w.ports(),
        &idv,
        &org,
        &meta,
        Some(&Secret::new("at-1")),
        verified(extra),
    ))
}

#[test]
fn enrichment_takes_signed_claims() {
    let w = World::new();
    let t = enrich_with(
        &w,
        json!({"email": "ada@acme.com", "email_verified": true}),
        with_claims(|_| {}),
    )
    .unwrap();
    assert_eq!(t.claims()["groups"], json!(["eng"]));
    assert_eq!(w.http.hits(USERINFO), 1);
}

#[test]
fn enrichment_never_ignores_a_signed_answer_that_fails_verification() {
    // Only the mapped claim is missing (the email is in the ID token): an unusable answer is
    // ignored, but a forged or misissued one fails the sign-in.
    let has_email = json!({"email": "ada@acme.com", "email_verified": true});
    let w = World::new();
    let e = enrich_with(
        &w,
        has_email.clone(),
        jwt_answer(Key::RsaB, "a", &signed_claims()),
    )
    .unwrap_err();
    assert_eq!(
        e,
        crate::core::profile::EnrichError::Userinfo(UserinfoError::InvalidSignature(
            IdTokenError::InvalidSignature
        ))
    );
    let w = World::new();
    let r = with_claims(|c| {
        c.insert("iss".into(), "https://evil.example.com".into());
    });
    assert!(enrich_with(&w, has_email.clone(), r).is_err());
    // An encrypted answer is unusable, not untrusted: ignored when only a group was missing...
    let jwe = || HttpResponse::new(200, "application/jwt", "h.k.iv.ct.tag");
    let w = World::new();
    let t = enrich_with(&w, has_email, jwe()).unwrap();
    assert!(!t.claims().contains_key("groups"));
    // ...and the sign-in's refusal when the email was missing says why.
    let w = World::new();
    let e = enrich_with(&w, json!({}), jwe()).unwrap_err();
    assert!(e.to_string().contains("encrypted"), "{e}");
}
