//! Logout Token rules (Back-Channel Logout 1.0 2.6), one rejection per test, on a stopped clock.

use super::*;
use crate::core::clock::FixedClock;
use crate::core::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use crate::core::jose::native_verifier::NativeVerifier;
use crate::core::oidc::idtoken::testkit::{
    hs256_keyed_with_public, jwks, jwks_json, sign, Key, CLIENT_ID, ISS, NOW,
};
use crate::core::oidc::jwks_cache::{JwksCache, JwksFetchError};
use crate::core::oidc::verify_id_token::{verify_logout_token, IdTokenPorts, LogoutVerifyError};
use crate::core::store::{block_on, MemoryStore};
use base64ct::{Base64UrlUnpadded, Encoding};
use proptest::prelude::*;
use serde_json::json;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use url::Url;

/// Claims of a valid Logout Token at [`NOW`] with both `sub` and `sid`.
fn claims() -> Value {
    json!({
        "iss": ISS,
        "aud": CLIENT_ID,
        "iat": NOW - 5,
        "exp": NOW + 120,
        "jti": "jti-bWJq",
        "sub": "user-42",
        "sid": "session-7",
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    })
}

fn verifier() -> LogoutTokenVerifier {
    LogoutTokenVerifier::new(IssuerUrl::parse(ISS).unwrap(), CLIENT_ID)
}

/// The header of a typical Logout Token by key "a".
fn header() -> Value {
    json!({"alg": "RS256", "kid": "a", "typ": "logout+jwt"})
}

fn check_with(
    lv: &LogoutTokenVerifier,
    token: &str,
    keys: &Jwks,
) -> Result<VerifiedLogoutToken, LogoutTokenError> {
    let t = UntrustedLogoutToken::parse(token)?;
    block_on(lv.verify(&t, keys, &NativeVerifier, UnixTime(NOW)))
}

/// Verifies against a JWKS holding RSA key "a".
fn check(token: &str) -> Result<VerifiedLogoutToken, LogoutTokenError> {
    check_with(&verifier(), token, &jwks(&[(Key::RsaA, "a")]))
}

/// A token signed by key "a" with [`claims`] changed by `f`.
fn with_claims(f: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut c = claims();
    f(c.as_object_mut().unwrap());
    sign(Key::RsaA, &header(), &c)
}

fn refused(f: impl FnOnce(&mut Map<String, Value>)) -> LogoutTokenError {
    check(&with_claims(f)).unwrap_err()
}

fn header_token(header: Value) -> String {
    sign(Key::RsaA, &header, &claims())
}

// --- Happy paths -------------------------------------------------------------------------

#[test]
fn sub_and_sid_accepted() {
    let v = check(&with_claims(|_| {})).unwrap();
    assert_eq!(
        v,
        VerifiedLogoutToken {
            sub: Some("user-42".into()),
            sid: Some("session-7".into()),
            jti: "jti-bWJq".into(),
            iat: UnixTime(NOW - 5),
            remember_until: UnixTime(NOW + 120 + DEFAULT_LEEWAY_SECS),
        }
    );
}

#[test]
fn sub_only_accepted() {
    let v = check(&with_claims(|c| {
        c.remove("sid");
    }))
    .unwrap();
    assert_eq!((v.sub.as_deref(), v.sid), (Some("user-42"), None));
}

#[test]
fn sid_only_accepted() {
    let v = check(&with_claims(|c| {
        c.remove("sub");
    }))
    .unwrap();
    assert_eq!((v.sub, v.sid.as_deref()), (None, Some("session-7")));
}

#[test]
fn other_events_and_event_members_allowed() {
    let t = with_claims(|c| {
        c.insert(
            "events".into(),
            json!({
                BACKCHANNEL_LOGOUT_EVENT: {"reason": "admin"},
                "https://example.com/other-event": 1,
            }),
        );
    });
    assert!(check(&t).is_ok());
}

#[test]
fn aud_array_with_only_the_client_accepted() {
    let t = with_claims(|c| {
        c.insert("aud".into(), json!([CLIENT_ID]));
    });
    assert!(check(&t).is_ok());
}

#[test]
fn other_algorithms_accepted() {
    let es = sign(Key::P256, &json!({"alg": "ES256", "kid": "ec"}), &claims());
    let ed = sign(
        Key::Ed25519,
        &json!({"alg": "EdDSA", "kid": "ed"}),
        &claims(),
    );
    let ps = sign(Key::RsaA, &json!({"alg": "PS256", "kid": "a"}), &claims());
    let keys = jwks(&[(Key::RsaA, "a"), (Key::P256, "ec"), (Key::Ed25519, "ed")]);
    for t in [es, ed, ps] {
        assert!(check_with(&verifier(), &t, &keys).is_ok());
    }
}

// --- Header: typ, alg, JWE, size ------------------------------------------------------------

#[test]
fn typ_variants_accepted() {
    for typ in [
        Some("JWT"),
        Some("jwt"),
        Some("application/jwt"),
        Some("logout+jwt"),
        Some("Logout+JWT"),
        Some("application/logout+jwt"),
        None,
    ] {
        let mut h = json!({"alg": "RS256", "kid": "a"});
        if let Some(typ) = typ {
            h["typ"] = json!(typ);
        }
        assert!(check(&header_token(h)).is_ok(), "{typ:?}");
    }
}

#[test]
fn typ_at_jwt_refused() {
    let t = header_token(json!({"alg": "RS256", "kid": "a", "typ": "at+jwt"}));
    assert_eq!(check(&t).unwrap_err(), LogoutTokenError::UnsupportedType);
}

#[test]
fn typ_not_a_string_refused() {
    let t = header_token(json!({"alg": "RS256", "kid": "a", "typ": ["logout+jwt"]}));
    assert_eq!(check(&t).unwrap_err(), LogoutTokenError::UnsupportedType);
}

#[test]
fn alg_none_refused() {
    let h = Base64UrlUnpadded::encode_string(br#"{"alg":"none"}"#);
    let p = Base64UrlUnpadded::encode_string(&serde_json::to_vec(&claims()).unwrap());
    for t in [format!("{h}.{p}."), format!("{h}.{p}.AAAA")] {
        assert_eq!(
            check(&t).unwrap_err(),
            LogoutTokenError::UnsupportedAlgorithm
        );
    }
}

#[test]
fn hs256_refused() {
    // HMAC keyed with the bytes of the IdP's public key: the classic confusion.
    let t = hs256_keyed_with_public(Key::RsaA, "a", &claims());
    assert_eq!(
        check(&t).unwrap_err(),
        LogoutTokenError::UnsupportedAlgorithm
    );
}

#[test]
fn algorithm_outside_the_allow_list_refused() {
    let t = sign(Key::RsaA, &json!({"alg": "PS256", "kid": "a"}), &claims());
    let lv = verifier().with_allowed_algs(&[JwsAlg::RS256]);
    assert_eq!(
        check_with(&lv, &t, &jwks(&[(Key::RsaA, "a")])).unwrap_err(),
        LogoutTokenError::DisallowedAlgorithm(JwsAlg::PS256)
    );
}

#[test]
fn jwe_refused() {
    assert_eq!(
        check("eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d").unwrap_err(),
        LogoutTokenError::EncryptedTokenUnsupported
    );
}

#[test]
fn crit_header_refused() {
    let t = header_token(json!({"alg": "RS256", "kid": "a", "crit": ["x"], "x": 1}));
    assert_eq!(
        check(&t).unwrap_err(),
        LogoutTokenError::UnsupportedCritHeader
    );
}

#[test]
fn oversize_token_refused_before_parsing() {
    // Not even a JWS: the length cap comes first.
    let t = "a".repeat(MAX_LOGOUT_TOKEN_BYTES + 1);
    assert_eq!(
        UntrustedLogoutToken::parse(&t).unwrap_err(),
        LogoutTokenError::TooLarge
    );
}

#[test]
fn malformed_token_refused() {
    assert_eq!(
        check("a.b").unwrap_err(),
        LogoutTokenError::Malformed("not three parts")
    );
}

// --- Signature and keys ---------------------------------------------------------------------

#[test]
fn bad_signature_refused() {
    // Signed by key B under key A's kid.
    let t = sign(Key::RsaB, &header(), &claims());
    assert_eq!(check(&t).unwrap_err(), LogoutTokenError::InvalidSignature);
}

#[test]
fn tampered_claims_refused() {
    let t = with_claims(|_| {});
    let parts: Vec<&str> = t.split('.').collect();
    let mut c = claims();
    c["sub"] = json!("someone-else");
    let forged = Base64UrlUnpadded::encode_string(&serde_json::to_vec(&c).unwrap());
    let t = format!("{}.{forged}.{}", parts[0], parts[2]);
    assert_eq!(check(&t).unwrap_err(), LogoutTokenError::InvalidSignature);
}

#[test]
fn unknown_kid_asks_for_a_refetch() {
    let t = sign(Key::RsaA, &json!({"alg": "RS256", "kid": "new"}), &claims());
    let err = check(&t).unwrap_err();
    assert_eq!(err, LogoutTokenError::UnknownKid);
    assert!(err.is_unknown_kid());
    assert!(!LogoutTokenError::InvalidSignature.is_unknown_kid());
}

#[test]
fn weak_key_refused() {
    let t = sign(
        Key::RsaWeak,
        &json!({"alg": "RS256", "kid": "w"}),
        &claims(),
    );
    assert_eq!(
        check_with(&verifier(), &t, &jwks(&[(Key::RsaWeak, "w")])).unwrap_err(),
        LogoutTokenError::UnusableKey
    );
}

// --- iss, aud, azp ----------------------------------------------------------------------------

#[test]
fn wrong_issuer_refused() {
    let e = refused(|c| {
        c.insert("iss".into(), json!(format!("{ISS}/")));
    });
    assert_eq!(e, LogoutTokenError::InvalidIssuer);
}

#[test]
fn missing_issuer_refused() {
    let e = refused(|c| {
        c.remove("iss");
    });
    assert_eq!(e, LogoutTokenError::InvalidIssuer);
}

#[test]
fn audience_without_the_client_refused() {
    let e = refused(|c| {
        c.insert("aud".into(), json!(["other-client"]));
    });
    assert_eq!(e, LogoutTokenError::InvalidAudience);
}

#[test]
fn untrusted_extra_audience_refused() {
    let e = refused(|c| {
        c.insert("aud".into(), json!([CLIENT_ID, "other-client"]));
    });
    assert_eq!(e, LogoutTokenError::UntrustedAudience);
}

#[test]
fn foreign_azp_refused() {
    let e = refused(|c| {
        c.insert("azp".into(), json!("other-client"));
    });
    assert_eq!(e, LogoutTokenError::InvalidAzp);
}

// --- iat, exp, nbf ----------------------------------------------------------------------------

#[test]
fn iat_in_the_future_refused() {
    let e = refused(|c| {
        c.insert("iat".into(), json!(NOW + DEFAULT_LEEWAY_SECS + 1));
    });
    assert_eq!(e, LogoutTokenError::IssuedInFuture);
}

#[test]
fn iat_in_the_future_within_leeway_accepted() {
    let t = with_claims(|c| {
        c.insert("iat".into(), json!(NOW + DEFAULT_LEEWAY_SECS));
    });
    assert!(check(&t).is_ok());
}

#[test]
fn missing_iat_refused() {
    let e = refused(|c| {
        c.remove("iat");
    });
    assert_eq!(e, LogoutTokenError::MissingIat);
}

#[test]
fn expired_refused() {
    let e = refused(|c| {
        c.insert("exp".into(), json!(NOW - DEFAULT_LEEWAY_SECS));
    });
    assert_eq!(e, LogoutTokenError::Expired);
}

#[test]
fn expired_within_leeway_accepted() {
    let t = with_claims(|c| {
        c.insert("exp".into(), json!(NOW - DEFAULT_LEEWAY_SECS + 1));
    });
    assert_eq!(check(&t).unwrap().remember_until, UnixTime(NOW + 1));
}

#[test]
fn malformed_exp_refused() {
    let e = refused(|c| {
        c.insert("exp".into(), json!("soon"));
    });
    assert_eq!(e, LogoutTokenError::MalformedExp);
}

#[test]
fn no_exp_and_old_iat_refused() {
    let e = refused(|c| {
        c.remove("exp");
        c.insert("iat".into(), json!(NOW - MAX_AGE_WITHOUT_EXP_SECS));
    });
    assert_eq!(e, LogoutTokenError::StaleWithoutExp);
}

#[test]
fn no_exp_and_fresh_iat_accepted() {
    let t = with_claims(|c| {
        c.remove("exp");
        c.insert("iat".into(), json!(NOW - MAX_AGE_WITHOUT_EXP_SECS + 1));
    });
    let v = check(&t).unwrap();
    assert_eq!(
        v.remember_until,
        UnixTime(NOW + 1 + DEFAULT_LEEWAY_SECS),
        "iat + 120 s + leeway"
    );
}

#[test]
fn nbf_in_the_future_refused() {
    let e = refused(|c| {
        c.insert("nbf".into(), json!(NOW + DEFAULT_LEEWAY_SECS + 1));
    });
    assert_eq!(e, LogoutTokenError::NotYetValid);
}

#[test]
fn malformed_nbf_refused() {
    let e = refused(|c| {
        c.insert("nbf".into(), json!(true));
    });
    assert_eq!(e, LogoutTokenError::MalformedNbf);
}

// --- sub, sid -------------------------------------------------------------------------------

#[test]
fn neither_sub_nor_sid_refused() {
    let e = refused(|c| {
        c.remove("sub");
        c.remove("sid");
    });
    assert_eq!(e, LogoutTokenError::MissingSubAndSid);
}

#[test]
fn empty_sub_refused() {
    let e = refused(|c| {
        c.insert("sub".into(), json!(""));
    });
    assert_eq!(e, LogoutTokenError::InvalidSub);
}

#[test]
fn non_string_sub_refused() {
    let e = refused(|c| {
        c.insert("sub".into(), json!(42));
    });
    assert_eq!(e, LogoutTokenError::InvalidSub);
}

#[test]
fn overlong_sub_refused() {
    let e = refused(|c| {
        c.insert("sub".into(), json!("x".repeat(MAX_SUB_LEN + 1)));
    });
    assert_eq!(e, LogoutTokenError::InvalidSub);
}

#[test]
fn empty_sid_refused() {
    let e = refused(|c| {
        c.insert("sid".into(), json!(""));
    });
    assert_eq!(e, LogoutTokenError::InvalidSid);
}

#[test]
fn non_string_sid_refused() {
    let e = refused(|c| {
        c.insert("sid".into(), json!(null));
    });
    assert_eq!(e, LogoutTokenError::InvalidSid);
}

#[test]
fn overlong_sid_refused() {
    let e = refused(|c| {
        c.insert("sid".into(), json!("s".repeat(MAX_SID_LEN + 1)));
    });
    assert_eq!(e, LogoutTokenError::InvalidSid);
}

// --- events, nonce, jti ---------------------------------------------------------------------

#[test]
fn events_missing_refused() {
    let e = refused(|c| {
        c.remove("events");
    });
    assert_eq!(e, LogoutTokenError::MissingEvents);
}

#[test]
fn events_not_an_object_refused() {
    let e = refused(|c| {
        c.insert("events".into(), json!([BACKCHANNEL_LOGOUT_EVENT]));
    });
    assert_eq!(e, LogoutTokenError::EventsNotObject);
}

#[test]
fn logout_event_member_missing_refused() {
    let e = refused(|c| {
        c.insert(
            "events".into(),
            json!({"http://schemas.openid.net/event/backchannel-logout/": {}}),
        );
    });
    assert_eq!(e, LogoutTokenError::MissingLogoutEvent);
}

#[test]
fn logout_event_member_not_an_object_refused() {
    let e = refused(|c| {
        c.insert("events".into(), json!({ BACKCHANNEL_LOGOUT_EVENT: true }));
    });
    assert_eq!(e, LogoutTokenError::LogoutEventNotObject);
}

#[test]
fn nonce_present_refused() {
    let e = refused(|c| {
        c.insert("nonce".into(), json!("n-0S6_WzA2Mj"));
    });
    assert_eq!(e, LogoutTokenError::NoncePresent);
}

#[test]
fn jti_missing_refused() {
    let e = refused(|c| {
        c.remove("jti");
    });
    assert_eq!(e, LogoutTokenError::MissingJti);
}

#[test]
fn empty_jti_refused() {
    let e = refused(|c| {
        c.insert("jti".into(), json!(""));
    });
    assert_eq!(e, LogoutTokenError::MissingJti);
}

#[test]
fn non_string_jti_refused() {
    let e = refused(|c| {
        c.insert("jti".into(), json!(7));
    });
    assert_eq!(e, LogoutTokenError::MissingJti);
}

#[test]
fn overlong_jti_refused() {
    let e = refused(|c| {
        c.insert("jti".into(), json!("j".repeat(MAX_JTI_LEN + 1)));
    });
    assert_eq!(e, LogoutTokenError::InvalidJti);
}

#[test]
fn id_token_shaped_claims_refused() {
    // An ID token (nonce, no events) must never pass as a Logout Token.
    let e = refused(|c| {
        c.remove("events");
        c.insert("nonce".into(), json!("n"));
    });
    assert_eq!(e, LogoutTokenError::MissingEvents);
}

#[test]
fn claims_not_an_object_refused() {
    let t = sign(Key::RsaA, &header(), &json!(["not", "claims"]));
    assert_eq!(
        check(&t).unwrap_err(),
        LogoutTokenError::Malformed("claims")
    );
}

// --- Messages -------------------------------------------------------------------------------

#[test]
fn messages_echo_nothing_from_the_token() {
    let alg = sign(Key::RsaA, &json!({"alg": "<script>XSS"}), &claims());
    let e = check(&alg).unwrap_err();
    assert_eq!(e, LogoutTokenError::UnsupportedAlgorithm);
    assert!(!e.to_string().to_lowercase().contains("script"), "{e}");
    let e = LogoutTokenError::SignatureBackend("backend said secret-ish".into());
    assert!(!e.to_string().contains("secret-ish"), "{e}");
}

// --- The sequencing function: cache, refetch, no keys ------------------------------------------

const JWKS_URI: &str = "https://idp.example.com/jwks";

/// Answers JWKS fetches from a queue; counts them.
struct FakeHttp {
    answers: RefCell<VecDeque<Result<HttpResponse, HttpError>>>,
    calls: Cell<usize>,
}

impl HttpClient for FakeHttp {
    async fn send(&self, req: HttpRequest, max_body: usize) -> Result<HttpResponse, HttpError> {
        assert_eq!(req.url.as_str(), JWKS_URI);
        self.calls.set(self.calls.get() + 1);
        let r = self
            .answers
            .borrow_mut()
            .pop_front()
            .expect("unexpected fetch")?;
        if r.body.len() > max_body {
            return Err(HttpError::TooLarge);
        }
        Ok(r)
    }
}

fn keys_answer(keys: &[(Key, &str)]) -> Result<HttpResponse, HttpError> {
    Ok(HttpResponse::new(200, "application/json", jwks_json(keys)))
}

struct World {
    clock: &'static FixedClock,
    store: MemoryStore<&'static FixedClock>,
    http: FakeHttp,
    cache: JwksCache,
}

impl World {
    fn new(answers: Vec<Result<HttpResponse, HttpError>>) -> Self {
        let clock: &'static FixedClock = Box::leak(Box::new(FixedClock::at(NOW)));
        World {
            clock,
            store: MemoryStore::new(clock),
            http: FakeHttp {
                answers: RefCell::new(answers.into()),
                calls: Cell::new(0),
            },
            cache: JwksCache::new(),
        }
    }

    fn verify(&self, token: &str) -> Result<VerifiedLogoutToken, LogoutVerifyError> {
        let ports = IdTokenPorts {
            store: &self.store,
            http: &self.http,
            verifier: &NativeVerifier,
            clock: self.clock,
            jwks: &self.cache,
        };
        block_on(verify_logout_token(
            &ports,
            &verifier(),
            &Url::parse(JWKS_URI).unwrap(),
            token,
        ))
    }
}

/// A token by `key` under `kid`, valid at `now`.
fn token_at(key: Key, kid: &str, now: u64) -> String {
    let mut c = claims();
    c["iat"] = json!(now);
    c["exp"] = json!(now + 120);
    sign(key, &json!({"alg": "RS256", "kid": kid}), &c)
}

#[test]
fn sequence_fetches_keys_and_verifies() {
    let w = World::new(vec![keys_answer(&[(Key::RsaA, "a")])]);
    let v = w.verify(&token_at(Key::RsaA, "a", NOW)).unwrap();
    assert_eq!(v.sid.as_deref(), Some("session-7"));
    assert_eq!(w.http.calls.get(), 1);
}

#[test]
fn unknown_kid_then_refetch() {
    // The cached set has only "a"; the IdP rotates to "b" and signs with it.
    let w = World::new(vec![
        keys_answer(&[(Key::RsaA, "a")]),
        keys_answer(&[(Key::RsaA, "a"), (Key::RsaB, "b")]),
    ]);
    assert!(w.verify(&token_at(Key::RsaA, "a", NOW)).is_ok());
    w.clock.advance(REFETCH_AFTER);
    let now = NOW + REFETCH_AFTER;
    let v = w.verify(&token_at(Key::RsaB, "b", now)).unwrap();
    assert_eq!(v.iat, UnixTime(now));
    assert_eq!(w.http.calls.get(), 2, "one refetch");
}

/// Past the cache's refetch cooldown, well within the keys' lifetime.
const REFETCH_AFTER: u64 = crate::core::oidc::jwks_cache::REFETCH_COOLDOWN_SECS + 1;

#[test]
fn unknown_kid_after_refetch_still_refused() {
    let w = World::new(vec![
        keys_answer(&[(Key::RsaA, "a")]),
        keys_answer(&[(Key::RsaA, "a")]),
    ]);
    assert!(w.verify(&token_at(Key::RsaA, "a", NOW)).is_ok());
    w.clock.advance(REFETCH_AFTER);
    let e = w
        .verify(&token_at(Key::RsaB, "b", NOW + REFETCH_AFTER))
        .unwrap_err();
    assert_eq!(e, LogoutVerifyError::Token(LogoutTokenError::UnknownKid));
    assert_eq!(w.http.calls.get(), 2);
}

#[test]
fn no_keys_at_all_is_jwks_unavailable() {
    let w = World::new(vec![Ok(HttpResponse::new(503, "text/plain", "down"))]);
    let e = w.verify(&token_at(Key::RsaA, "a", NOW)).unwrap_err();
    assert_eq!(
        e,
        LogoutVerifyError::JwksUnavailable(JwksFetchError::Status(503))
    );
}

#[test]
fn token_refused_at_parse_costs_no_fetch() {
    let w = World::new(vec![]);
    let e = w.verify("not-a-token").unwrap_err();
    assert_eq!(
        e,
        LogoutVerifyError::Token(LogoutTokenError::Malformed("not three parts"))
    );
    assert_eq!(w.http.calls.get(), 0);
}

// --- Properties -----------------------------------------------------------------------------

#[test]
fn per_key_issuer_binds_logout_tokens_too() {
    let keys_for = |issuer: &str| {
        let mut k = crate::core::oidc::idtoken::testkit::public_json(Key::RsaA, "a");
        k["issuer"] = issuer.into();
        Jwks::from_values(&[k]).unwrap()
    };
    let t = with_claims(|_| {});
    assert!(check_with(&verifier(), &t, &keys_for(ISS)).is_ok());
    assert_eq!(
        check_with(&verifier(), &t, &keys_for("https://other.example.com")).unwrap_err(),
        LogoutTokenError::InvalidIssuer
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any string: the parser answers, never panics.
    #[test]
    fn parser_never_panics(s in "\\PC*") {
        let _ = UntrustedLogoutToken::parse(&s);
    }

    /// Strings shaped like a JWS (three or five base64url-ish parts) reach deeper.
    #[test]
    fn jws_shaped_strings_never_panic(
        parts in prop::collection::vec("[A-Za-z0-9_=.-]{0,64}", 1..6)
    ) {
        let _ = UntrustedLogoutToken::parse(&parts.join("."));
    }

    /// Any JSON text as verified claims: the claim rules answer, never panic.
    #[test]
    fn claim_rules_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = verifier().check_claims(&bytes, None, UnixTime(NOW));
    }

    /// Arbitrary values in each claim of an otherwise valid token never panic.
    #[test]
    fn arbitrary_claim_values_never_panic(
        name in prop::sample::select(vec!["iss", "aud", "iat", "exp", "nbf", "sub", "sid",
                                          "events", "jti", "nonce", "azp"]),
        value in arb_json(),
    ) {
        let mut c = claims();
        c[name] = value;
        let _ = verifier().check_claims(&serde_json::to_vec(&c).unwrap(), None, UnixTime(NOW));
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

mod model {
    use super::*;
    use crate::core::oidc::idtoken::testkit::claim_model::{assemble, claim, Choice};

    fn picks() -> impl Strategy<Value = Vec<(&'static str, Choice)>> {
        let s = |v: &str| Some(json!(v));
        let n = |v: u64| Some(json!(v));
        let ev = |v: Value| Some(json!({ BACKCHANNEL_LOGOUT_EVENT: v }));
        (
            claim(
                "iss",
                vec![
                    (s(ISS), true),
                    (None, false),
                    (s("https://evil.example"), false),
                    (Some(json!(1)), false),
                ],
            ),
            claim(
                "aud",
                vec![
                    (s(CLIENT_ID), true),
                    (Some(json!([CLIENT_ID])), true),
                    (Some(json!([CLIENT_ID, "other"])), false),
                    (s("other"), false),
                    (None, false),
                ],
            ),
            claim(
                "iat",
                vec![
                    (n(NOW - 5), true),
                    (n(NOW + 60), true),
                    (n(NOW + 61), false),
                    (None, false),
                    (s("x"), false),
                ],
            ),
            claim(
                "exp",
                vec![
                    (n(NOW + 120), true),
                    (n(NOW - 59), true),
                    (n(NOW - 60), false),
                    (s("x"), false),
                ],
            ),
            claim(
                "jti",
                vec![
                    (s("jti-1"), true),
                    (s(""), false),
                    (None, false),
                    (Some(json!(1)), false),
                    (s(&"j".repeat(MAX_JTI_LEN + 1)), false),
                ],
            ),
            claim(
                "events",
                vec![
                    (ev(json!({})), true),
                    (ev(json!({"a": 1})), true),
                    (Some(json!({BACKCHANNEL_LOGOUT_EVENT: {}, "x": 1})), true),
                    (None, false),
                    (Some(json!([])), false),
                    (Some(json!({})), false),
                    (ev(json!([])), false),
                ],
            ),
            claim(
                "nonce",
                vec![(None, true), (s("n"), false), (Some(Value::Null), false)],
            ),
            prop_oneof![3 => Just((s("user-42"), Some(true))), 1 => prop::sample::select(vec![
                (s("user-42"), Some(true)), (s(""), Some(false)), (None, None),
                (s(&"a".repeat(256)), Some(false)), (Some(json!(1)), Some(false)),
            ])],
            prop_oneof![3 => Just((s("session-7"), Some(true))), 1 => prop::sample::select(vec![
                (s("session-7"), Some(true)), (s(""), Some(false)), (None, None),
                (s(&"s".repeat(MAX_SID_LEN + 1)), Some(false)),
            ])],
        )
            .prop_map(|t| {
                // Back-Channel Logout 1.0 2.6 step 5: sub, sid or both; each present one valid.
                let ((sub, sub_ok), (sid, sid_ok)) = (t.7, t.8);
                let either = sub_ok.is_some() || sid_ok.is_some();
                let valid = either && sub_ok != Some(false) && sid_ok != Some(false);
                vec![
                    t.0,
                    t.1,
                    t.2,
                    t.3,
                    t.4,
                    t.5,
                    t.6,
                    ("sub", (sub, valid)),
                    ("sid", (sid, true)),
                ]
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// A Logout Token's claims are accepted exactly when each is acceptable on its own
        /// (Back-Channel Logout 1.0 2.4, 2.6 steps 4-7).
        #[test]
        fn logout_claims_agree_with_a_model(p in picks()) {
            let (payload, want) = assemble(&p);
            let got = verifier().check_claims(&payload, None, UnixTime(NOW));
            prop_assert_eq!(got.is_ok(), want, "{:?} {:?}", String::from_utf8_lossy(&payload), got);
        }
    }
}
