use super::testkit::*;
use super::*;
use crate::core::jose::native_verifier::NativeVerifier;
use crate::core::store::block_on;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::json;

fn verifier() -> IdTokenVerifier {
    IdTokenVerifier::new(ISS, CLIENT_ID)
}

fn check_with(
    idv: &IdTokenVerifier,
    token: &str,
    jwks: &Jwks,
) -> Result<VerifiedIdToken, IdTokenError> {
    let t = UntrustedIdToken::parse(token)?;
    block_on(idv.verify(
        &t,
        jwks,
        &NativeVerifier,
        UnixTime(NOW),
        &Secret::new(NONCE),
    ))
}

/// Verifies against a JWKS holding RSA key "a".
fn check(token: &str) -> Result<VerifiedIdToken, IdTokenError> {
    check_with(&verifier(), token, &jwks(&[(Key::RsaA, "a")]))
}

/// An RS256 token by key "a" with `claims` modified by `f`.
fn with_claims(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut c = claims();
    f(c.as_object_mut().unwrap());
    token_a(&c)
}

fn header_token(header: Value) -> String {
    sign(Key::RsaA, &header, &claims())
}

#[test]
fn rs256_happy_path() {
    let v = check(&token_a(&claims())).unwrap();
    assert_eq!(v.sub(), "user-42");
    assert_eq!(v.issuer(), ISS);
    assert_eq!(v.email(), Some("ada@example.org"));
    assert_eq!(v.email_verified(), EmailVerified::True);
    assert_eq!(v.expires_at(), UnixTime(NOW + 300));
    assert_eq!(v.issued_at(), UnixTime(NOW - 10));
    assert_eq!(v.auth_time(), Some(UnixTime(NOW - 20)));
    assert_eq!(v.sid(), Some("session-7"));
    assert_eq!(v.claims()["groups"], json!(["admins"]));
}

#[test]
fn ps256_happy_path() {
    let t = sign(Key::RsaA, &json!({"alg": "PS256", "kid": "a"}), &claims());
    assert_eq!(check(&t).unwrap().sub(), "user-42");
}

#[test]
fn es256_happy_path() {
    let t = sign(Key::P256, &json!({"alg": "ES256", "kid": "ec"}), &claims());
    let jwks = jwks(&[(Key::RsaA, "a"), (Key::P256, "ec")]);
    assert_eq!(check_with(&verifier(), &t, &jwks).unwrap().sub(), "user-42");
}

#[test]
fn eddsa_happy_path() {
    let t = sign(Key::Ed25519, &json!({"alg": "EdDSA"}), &claims());
    let jwks = jwks(&[(Key::RsaA, "a"), (Key::Ed25519, "ed")]);
    assert_eq!(check_with(&verifier(), &t, &jwks).unwrap().sub(), "user-42");
}

#[test]
fn weak_rsa_key_refused() {
    let t = sign(
        Key::RsaWeak,
        &json!({"alg": "RS256", "kid": "w"}),
        &claims(),
    );
    let jwks = jwks(&[(Key::RsaWeak, "w")]);
    assert!(matches!(
        check_with(&verifier(), &t, &jwks),
        Err(IdTokenError::UnusableKey(_))
    ));
}

#[test]
fn rs256_token_against_ec_key_refused() {
    // The token names the EC key's kid; an EC key is never used for RS256.
    let t = sign(Key::RsaA, &json!({"alg": "RS256", "kid": "ec"}), &claims());
    let jwks = jwks(&[(Key::P256, "ec")]);
    assert_eq!(
        check_with(&verifier(), &t, &jwks).unwrap_err(),
        IdTokenError::UnknownKid
    );
    let t = sign(Key::RsaA, &json!({"alg": "RS256"}), &claims());
    assert_eq!(
        check_with(&verifier(), &t, &jwks).unwrap_err(),
        IdTokenError::NoSuitableKey
    );
}

#[test]
fn alg_none_refused() {
    let h = Base64UrlUnpadded::encode_string(br#"{"alg":"none","typ":"JWT"}"#);
    let p = Base64UrlUnpadded::encode_string(&serde_json::to_vec(&claims()).unwrap());
    for t in [format!("{h}.{p}."), format!("{h}.{p}.AAAA")] {
        assert_eq!(
            check(&t).unwrap_err(),
            IdTokenError::UnsupportedAlgorithm("none".into())
        );
    }
}

#[test]
fn hs256_with_public_key_as_secret_refused() {
    // The classic confusion: HMAC keyed with the bytes of the IdP's public key.
    let t = hs256_keyed_with_public(Key::RsaA, "a", &claims());
    assert_eq!(
        check(&t).unwrap_err(),
        IdTokenError::UnsupportedAlgorithm("HS256".into())
    );
}

#[test]
fn unsupported_alg_name_is_sanitised() {
    let t = header_token(json!({"alg": "RS256\n<script>xxxxxxxxxxxxxxxxxxxxxx"}));
    assert_eq!(
        check(&t).unwrap_err(),
        IdTokenError::UnsupportedAlgorithm("RS256scriptxxxxx".into())
    );
}

#[test]
fn disallowed_alg_refused() {
    let t = sign(Key::RsaA, &json!({"alg": "PS256", "kid": "a"}), &claims());
    let idv = verifier().with_allowed_algs(&[JwsAlg::RS256]);
    assert_eq!(
        check_with(&idv, &t, &jwks(&[(Key::RsaA, "a")])).unwrap_err(),
        IdTokenError::DisallowedAlgorithm(JwsAlg::PS256)
    );
}

#[test]
fn tampered_payload_refused() {
    let t = token_a(&claims());
    let parts: Vec<&str> = t.split('.').collect();
    let mut c = claims();
    c["sub"] = json!("admin");
    let forged = Base64UrlUnpadded::encode_string(&serde_json::to_vec(&c).unwrap());
    let t = format!("{}.{forged}.{}", parts[0], parts[2]);
    assert_eq!(check(&t).unwrap_err(), IdTokenError::InvalidSignature);
}

#[test]
fn signature_checked_before_claims_are_read() {
    // Garbage claims with a bad signature: the signature failure is reported.
    let t = token_a(&claims());
    let parts: Vec<&str> = t.split('.').collect();
    let junk = Base64UrlUnpadded::encode_string(b"not json");
    let t = format!("{}.{junk}.{}", parts[0], parts[2]);
    assert_eq!(check(&t).unwrap_err(), IdTokenError::InvalidSignature);
}

#[test]
fn embedded_jwk_header_is_ignored() {
    // The attacker signs with their own key and ships it in `jwk` (and `jku`, `x5u`): the
    // token is still checked only against the JWKS, and fails.
    let attacker = public(Key::RsaB, "a");
    for header in [
        json!({"alg": "RS256", "kid": "a", "jwk": attacker}),
        json!({"alg": "RS256", "jwk": attacker, "jku": "https://evil.example/jwks",
               "x5u": "https://evil.example/cert", "x5c": ["AAAA"]}),
    ] {
        let t = sign(Key::RsaB, &header, &claims());
        assert_eq!(check(&t).unwrap_err(), IdTokenError::InvalidSignature);
    }
}

#[test]
fn wrong_nonce_refused() {
    let t = with_claims(|c| {
        c.insert("nonce".into(), json!("other"));
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::NonceMismatch);
}

#[test]
fn missing_nonce_refused() {
    let t = with_claims(|c| {
        c.remove("nonce");
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::MissingNonce);
    let t = with_claims(|c| {
        c.insert("nonce".into(), json!(5));
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::MissingNonce);
}

#[test]
fn expired_refused_after_leeway() {
    let t = with_claims(|c| {
        c.insert("exp".into(), json!(NOW - 60));
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::Expired);
    let t = with_claims(|c| {
        c.insert("exp".into(), json!(NOW - 59));
    });
    assert!(check(&t).is_ok(), "within the 60 s leeway");
}

#[test]
fn missing_exp_refused() {
    let t = with_claims(|c| {
        c.remove("exp");
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::MissingExp);
    let t = with_claims(|c| {
        c.insert("exp".into(), json!("tomorrow"));
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::MissingExp);
}

#[test]
fn fractional_exp_accepted() {
    let t = with_claims(|c| {
        c.insert("exp".into(), json!((NOW + 100) as f64 + 0.5));
    });
    assert_eq!(check(&t).unwrap().expires_at(), UnixTime(NOW + 100));
}

#[test]
fn iat_in_future_refused() {
    let t = with_claims(|c| {
        c.insert("iat".into(), json!(NOW + 61));
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::IssuedInFuture);
    let t = with_claims(|c| {
        c.insert("iat".into(), json!(NOW + 60));
    });
    assert!(check(&t).is_ok(), "within the leeway");
}

#[test]
fn missing_iat_refused() {
    let t = with_claims(|c| {
        c.remove("iat");
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::MissingIat);
}

#[test]
fn nbf_in_future_refused() {
    let t = with_claims(|c| {
        c.insert("nbf".into(), json!(NOW + 120));
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::NotYetValid);
    let t = with_claims(|c| {
        c.insert("nbf".into(), json!("soon"));
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::Malformed("nbf"));
    let t = with_claims(|c| {
        c.insert("nbf".into(), json!(NOW - 5));
    });
    assert!(check(&t).is_ok());
}

#[test]
fn audience_without_client_id_refused() {
    let t = with_claims(|c| {
        c.insert("aud".into(), json!("someone-else"));
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::InvalidAudience);
    let t = with_claims(|c| {
        c.remove("aud");
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::InvalidAudience);
    let t = with_claims(|c| {
        c.insert("aud".into(), json!([CLIENT_ID, 7]));
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::InvalidAudience);
}

#[test]
fn extra_untrusted_audience_refused() {
    let t = with_claims(|c| {
        c.insert("aud".into(), json!([CLIENT_ID, "other-client"]));
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::UntrustedAudience);
    let t = with_claims(|c| {
        c.insert("aud".into(), json!([CLIENT_ID]));
    });
    assert!(
        check(&t).is_ok(),
        "an array holding only our client id is fine"
    );
}

#[test]
fn azp_mismatch_refused() {
    let t = with_claims(|c| {
        c.insert("azp".into(), json!("other-client"));
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::InvalidAzp);
    let t = with_claims(|c| {
        c.insert("azp".into(), json!(CLIENT_ID));
    });
    assert!(check(&t).is_ok());
}

#[test]
fn issuer_mismatch_refused() {
    let t = with_claims(|c| {
        c.insert("iss".into(), json!(format!("{ISS}/")));
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::InvalidIssuer);
    let t = with_claims(|c| {
        c.remove("iss");
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::InvalidIssuer);
}

#[test]
fn missing_sub_refused() {
    let t = with_claims(|c| {
        c.remove("sub");
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::MissingSub);
    let t = with_claims(|c| {
        c.insert("sub".into(), json!(""));
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::MissingSub);
}

#[test]
fn overlong_sub_refused() {
    let t = with_claims(|c| {
        c.insert("sub".into(), json!("x".repeat(256)));
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::InvalidSub);
}

#[test]
fn crit_header_refused() {
    let t = header_token(json!({"alg": "RS256", "kid": "a", "crit": ["exp"], "exp": 1}));
    assert_eq!(check(&t).unwrap_err(), IdTokenError::UnsupportedCritHeader);
}

#[test]
fn typ_other_than_jwt_refused() {
    for typ in [json!("logout+jwt"), json!("at+jwt"), json!(1)] {
        let t = header_token(json!({"alg": "RS256", "kid": "a", "typ": typ}));
        assert_eq!(check(&t).unwrap_err(), IdTokenError::UnsupportedType);
    }
    for typ in ["jwt", "application/JWT"] {
        let t = header_token(json!({"alg": "RS256", "kid": "a", "typ": typ}));
        assert!(check(&t).is_ok(), "{typ}");
    }
}

#[test]
fn encrypted_token_refused() {
    assert_eq!(
        check("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d").unwrap_err(),
        IdTokenError::EncryptedTokenUnsupported
    );
}

#[test]
fn oversize_token_refused() {
    let t = with_claims(|c| {
        c.insert("pad".into(), json!("x".repeat(MAX_ID_TOKEN_BYTES)));
    });
    assert_eq!(check(&t).unwrap_err(), IdTokenError::TooLarge);
}

#[test]
fn oversize_claims_refused() {
    // Under the token cap, over the claims cap.
    let t = with_claims(|c| {
        c.insert("pad".into(), json!("x".repeat(MAX_CLAIMS_BYTES)));
    });
    assert!(t.len() <= MAX_ID_TOKEN_BYTES, "{}", t.len());
    assert_eq!(check(&t).unwrap_err(), IdTokenError::TooLarge);
}

#[test]
fn malformed_tokens_refused() {
    let good = token_a(&claims());
    let parts: Vec<&str> = good.split('.').collect();
    let cases = [
        ("", "not three parts"),
        ("a.b", "not three parts"),
        ("a.b.c.d", "not three parts"),
        ("!!.b.c", "header"),
        ("W10.b.c", "header"), // "[]"
        ("e30.b.c", "alg"),    // "{}"
    ];
    for (t, what) in cases {
        assert_eq!(check(t).unwrap_err(), IdTokenError::Malformed(what), "{t}");
    }
    let padded = format!("{}=.{}.{}", parts[0], parts[1], parts[2]);
    assert_eq!(
        check(&padded).unwrap_err(),
        IdTokenError::Malformed("header")
    );
    let bad_payload = format!("{}.%%.{}", parts[0], parts[2]);
    assert_eq!(
        check(&bad_payload).unwrap_err(),
        IdTokenError::Malformed("payload")
    );
    let no_sig = format!("{}.{}.", parts[0], parts[1]);
    assert_eq!(
        check(&no_sig).unwrap_err(),
        IdTokenError::Malformed("signature")
    );
    let bad_kid = header_token(json!({"alg": "RS256", "kid": 1}));
    assert_eq!(check(&bad_kid).unwrap_err(), IdTokenError::Malformed("kid"));
}

#[test]
fn claims_not_an_object_refused() {
    let t = sign(
        Key::RsaA,
        &json!({"alg": "RS256", "kid": "a"}),
        &json!([1, 2]),
    );
    assert_eq!(check(&t).unwrap_err(), IdTokenError::Malformed("claims"));
}

#[test]
fn unknown_kid_reported_for_refetch() {
    let t = sign(Key::RsaA, &json!({"alg": "RS256", "kid": "zz"}), &claims());
    let err = check(&t).unwrap_err();
    assert_eq!(err, IdTokenError::UnknownKid);
    assert!(err.is_unknown_kid());
    assert!(!IdTokenError::InvalidSignature.is_unknown_kid());
}

#[test]
fn ambiguous_key_refused() {
    let t = sign(Key::RsaA, &json!({"alg": "RS256"}), &claims());
    let jwks = jwks(&[(Key::RsaA, "a"), (Key::RsaB, "b")]);
    assert_eq!(
        check_with(&verifier(), &t, &jwks).unwrap_err(),
        IdTokenError::AmbiguousKey
    );
}

#[test]
fn email_verified_is_tri_state() {
    for (v, want) in [
        (json!(true), EmailVerified::True),
        (json!("true"), EmailVerified::True),
        (json!("TRUE"), EmailVerified::True),
        (json!("false"), EmailVerified::False),
        (json!(false), EmailVerified::False),
        // Garbage is never verification.
        (json!(1), EmailVerified::False),
        (json!("yes"), EmailVerified::False),
        (json!(null), EmailVerified::False),
        (json!([true]), EmailVerified::False),
    ] {
        let t = with_claims(|c| {
            c.insert("email_verified".into(), v.clone());
        });
        assert_eq!(check(&t).unwrap().email_verified(), want, "{v}");
    }
    let t = with_claims(|c| {
        c.remove("email_verified");
        c.remove("email");
    });
    let v = check(&t).unwrap();
    assert_eq!(
        (v.email(), v.email_verified()),
        (None, EmailVerified::Absent)
    );
}

fn meta_with_algs(algs: &[&str]) -> ProviderMetadata {
    let doc = json!({
        "issuer": ISS,
        "authorization_endpoint": "https://idp.example.com/auth",
        "token_endpoint": "https://idp.example.com/token",
        "jwks_uri": "https://idp.example.com/jwks",
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": algs,
    });
    let mut doc = doc;
    if algs.is_empty() {
        doc.as_object_mut()
            .unwrap()
            .remove("id_token_signing_alg_values_supported");
    }
    crate::core::oidc::discovery::parse_metadata(
        ISS,
        &crate::core::oidc::url_policy::IdpUrlPolicy::default(),
        &serde_json::to_vec(&doc).unwrap(),
    )
    .unwrap()
}

#[test]
fn provider_algs_are_intersected_with_ours() {
    let of =
        |algs: &[&str]| allowed_algs_for(&algs.iter().map(|a| a.to_string()).collect::<Vec<_>>());
    assert_eq!(of(&[]), JwsAlg::ALL.to_vec());
    assert_eq!(of(&["RS256"]), vec![JwsAlg::RS256]);
    assert_eq!(
        of(&["HS256", "ES256", "none", "RS256", "RS512"]),
        vec![JwsAlg::RS256, JwsAlg::ES256]
    );
    assert_eq!(of(&["HS256", "ES384"]), Vec::<JwsAlg>::new());
    assert_eq!(
        of(&["rs256"]),
        Vec::<JwsAlg>::new(),
        "alg names are case-sensitive"
    );
}

#[test]
fn provider_algs_restrict_the_verifier() {
    let rs_only = verifier().with_provider_algs(&meta_with_algs(&["RS256"]));
    assert_eq!(rs_only.allowed_algs(), [JwsAlg::RS256]);
    let es = sign(Key::P256, &json!({"alg": "ES256", "kid": "ec"}), &claims());
    let keys = jwks(&[(Key::RsaA, "a"), (Key::P256, "ec")]);
    assert_eq!(
        check_with(&rs_only, &es, &keys).unwrap_err(),
        IdTokenError::DisallowedAlgorithm(JwsAlg::ES256)
    );
    assert!(check_with(&rs_only, &token_a(&claims()), &keys).is_ok());
    // No list in discovery: today's default set.
    let any = verifier().with_provider_algs(&meta_with_algs(&[]));
    assert_eq!(any.allowed_algs(), JwsAlg::ALL);
    assert!(check_with(&any, &es, &keys).is_ok());
    // Only algorithms we cannot check: nothing is accepted.
    let none = verifier().with_provider_algs(&meta_with_algs(&["ES384"]));
    assert_eq!(
        check_with(&none, &token_a(&claims()), &keys).unwrap_err(),
        IdTokenError::DisallowedAlgorithm(JwsAlg::RS256)
    );
}

#[test]
fn leeway_is_capped() {
    let idv = verifier().with_leeway_secs(100_000);
    let t = with_claims(|c| {
        c.insert("exp".into(), json!(NOW - 1_000));
    });
    assert_eq!(
        check_with(&idv, &t, &jwks(&[(Key::RsaA, "a")])).unwrap_err(),
        IdTokenError::Expired
    );
}

#[test]
fn debug_shows_no_claims() {
    let t = UntrustedIdToken::parse(&token_a(&claims())).unwrap();
    let s = format!("{t:?}");
    assert!(s.contains("RS256") && !s.contains(NONCE), "{s}");
}

/// A JWKS holding RSA key "a" published for `issuer` (Entra ID's per-key `issuer`).
fn jwks_for_issuer(issuer: &str) -> Jwks {
    let mut k = public_json(Key::RsaA, "a");
    k["issuer"] = issuer.into();
    Jwks::from_values(&[k]).unwrap()
}

#[test]
fn per_key_issuer_must_match_iss() {
    let t = token_a(&claims());
    // The key's issuer is the token's: accepted.
    assert!(check_with(&verifier(), &t, &jwks_for_issuer(ISS)).is_ok());
    // Published for another issuer: a named refusal, even though `iss` is the org's.
    assert_eq!(
        check_with(
            &verifier(),
            &t,
            &jwks_for_issuer("https://other.example.com")
        )
        .unwrap_err(),
        IdTokenError::KeyIssuerMismatch
    );
    // Compared exactly (a trailing slash matters).
    assert_eq!(
        check_with(&verifier(), &t, &jwks_for_issuer(&format!("{ISS}/"))).unwrap_err(),
        IdTokenError::KeyIssuerMismatch
    );
}

#[test]
fn per_key_issuer_template_takes_the_tokens_tid() {
    const T1: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const T2: &str = "11111111-2222-3333-4444-555555555555";
    let tpl = "https://login.microsoftonline.com/{tenantid}/v2.0";
    let idv = IdTokenVerifier::new(tpl, CLIENT_ID).with_tenant_issuer_template();
    let token = |iss: String, tid: Option<&str>| {
        with_claims(|c| {
            c.insert("iss".into(), iss.into());
            c.remove("tid");
            if let Some(tid) = tid {
                c.insert("tid".into(), tid.into());
            }
        })
    };
    let iss1 = format!("https://login.microsoftonline.com/{T1}/v2.0");
    // Entra's shared keys: the template, with the token's tid.
    assert!(check_with(&idv, &token(iss1.clone(), Some(T1)), &jwks_for_issuer(tpl)).is_ok());
    // A key published for tenant T2 does not verify T1's tokens.
    let t2_key = jwks_for_issuer(&format!("https://login.microsoftonline.com/{T2}/v2.0"));
    assert_eq!(
        check_with(&idv, &token(iss1.clone(), Some(T1)), &t2_key).unwrap_err(),
        IdTokenError::KeyIssuerMismatch
    );
    // A single-tenant org (exact issuer) with the shared keys: the tid fills the template.
    let single = IdTokenVerifier::new(iss1.clone(), CLIENT_ID);
    assert!(check_with(
        &single,
        &token(iss1.clone(), Some(T1)),
        &jwks_for_issuer(tpl)
    )
    .is_ok());
    // Without a GUID tid the template names no issuer: refused.
    for tid in [None, Some("not-a-guid")] {
        assert_eq!(
            check_with(&single, &token(iss1.clone(), tid), &jwks_for_issuer(tpl)).unwrap_err(),
            IdTokenError::KeyIssuerMismatch,
            "{tid:?}"
        );
    }
    // The tid and the key's template must name the same tenant as `iss` (T2's tid with T1's
    // iss fails the org's own template check first).
    assert_eq!(
        check_with(&idv, &token(iss1, Some(T2)), &jwks_for_issuer(tpl)).unwrap_err(),
        IdTokenError::InvalidIssuer
    );
    // A template with the placeholder twice is no issuer.
    let twice = "https://login.microsoftonline.com/{tenantid}/{tenantid}";
    let iss = format!("https://login.microsoftonline.com/{T1}/{T1}");
    let v = IdTokenVerifier::new(iss.clone(), CLIENT_ID);
    assert_eq!(
        check_with(&v, &token(iss, Some(T1)), &jwks_for_issuer(twice)).unwrap_err(),
        IdTokenError::KeyIssuerMismatch
    );
}

// --- Properties -----------------------------------------------------------------------------

mod props {
    use super::testkit::claim_model::{self, assemble, claim};
    use super::*;
    use proptest::prelude::*;

    fn picks() -> impl Strategy<Value = Vec<(&'static str, claim_model::Choice)>> {
        let s = |v: &str| Some(json!(v));
        let n = |v: u64| Some(json!(v));
        (
            claim(
                "iss",
                vec![
                    (s(ISS), true),
                    (None, false),
                    (s("https://evil.example"), false),
                    (s(&format!("{ISS}/")), false),
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
                    (Some(json!([1])), false),
                    (Some(json!([])), false),
                ],
            ),
            claim(
                "azp",
                vec![
                    (None, true),
                    (s(CLIENT_ID), true),
                    (s("other"), false),
                    (Some(json!(1)), false),
                ],
            ),
            claim(
                "exp",
                vec![
                    (n(NOW + 300), true),
                    (n(NOW - 59), true),
                    (n(NOW - 60), false),
                    (None, false),
                    (s("x"), false),
                    (Some(json!(-1)), false),
                    (Some(json!(NOW as f64 + 0.5)), true),
                ],
            ),
            claim(
                "iat",
                vec![
                    (n(NOW - 10), true),
                    (n(NOW + 60), true),
                    (n(NOW + 61), false),
                    (None, false),
                    (s("x"), false),
                ],
            ),
            claim(
                "nbf",
                vec![
                    (None, true),
                    (n(NOW + 60), true),
                    (n(NOW + 61), false),
                    (s("x"), false),
                ],
            ),
            claim(
                "nonce",
                vec![
                    (s(NONCE), true),
                    (s("nonce-other"), false),
                    (None, false),
                    (Some(json!(1)), false),
                    (s(""), false),
                ],
            ),
            claim(
                "sub",
                vec![
                    (s("user-42"), true),
                    (s(""), false),
                    (s(&"a".repeat(255)), true),
                    (s(&"a".repeat(256)), false),
                    (None, false),
                    (Some(json!(1)), false),
                ],
            ),
            claim(
                "auth_time",
                vec![(None, true), (n(NOW - 20), true), (s("x"), false)],
            ),
            claim(
                "email_verified",
                vec![
                    (None, true),
                    (Some(json!("TRUE")), true),
                    (Some(json!(0)), true),
                ],
            ),
        )
            .prop_map(|t| vec![t.0, t.1, t.2, t.3, t.4, t.5, t.6, t.7, t.8, t.9])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// A token is accepted exactly when each of its claims is acceptable on its own, and an
        /// accepted one reports the claims it carried.
        #[test]
        fn claims_decision_agrees_with_a_model(p in picks()) {
            let (payload, want) = assemble(&p);
            let got = verifier().check_claims(&payload, None, UnixTime(NOW), &Secret::new(NONCE));
            prop_assert_eq!(got.is_ok(), want, "{:?} {:?}", String::from_utf8_lossy(&payload), got);
            if let Ok(v) = got {
                let c: Value = serde_json::from_slice(&payload).unwrap();
                prop_assert_eq!(Some(v.sub()), c["sub"].as_str());
                prop_assert_eq!(v.issuer(), ISS);
            }
        }

        /// Any bytes as the claims: an answer, never a panic.
        #[test]
        fn any_claims_bytes_are_answered(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = verifier().check_claims(&bytes, None, UnixTime(NOW), &Secret::new(NONCE));
        }

        /// Compact-JWS-shaped strings (a real header, noise after) and any text never panic
        /// the parser.
        #[test]
        fn parse_never_panics(
            s in prop_oneof![any::<String>(), "eyJhbGciOiJSUzI1NiIsImtpZCI6ImEifQ\\.[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,20}"]
        ) {
            let _ = UntrustedIdToken::parse(&s);
        }
    }
}
