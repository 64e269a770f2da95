//! Native micro-benchmarks of the protocol core (`cargo bench --bench core`; scripts/bench.sh
//! runs them short). Fixture keys (tests/fixtures/) and the token signer come from the crate's
//! test kit, `core::jose::testkit` (feature `testkit`, enabled by the self dev-dependency).

use criterion::{criterion_group, criterion_main, Criterion};
use edge_sso::core::clock::{FixedClock, UnixTime};
use edge_sso::core::cookie::read_cookie;
use edge_sso::core::email::EmailAddress;
use edge_sso::core::jose::alg::JwsAlg;
use edge_sso::core::jose::jwk::Jwks;
use edge_sso::core::jose::native_verifier::NativeVerifier;
use edge_sso::core::jose::testkit::{self, Key};
use edge_sso::core::ledger::{Command, Ledger, MemoryColdRows, Reply, Selector};
use edge_sso::core::oidc::authorize::{authorization_url, begin};
use edge_sso::core::oidc::discovery::parse_metadata;
use edge_sso::core::oidc::idtoken::{IdTokenVerifier, UntrustedIdToken};
use edge_sso::core::oidc::issuer::IssuerUrl;
use edge_sso::core::oidc::url_policy::IdpUrlPolicy;
use edge_sso::core::org::{ClientId, OrgSlug};
use edge_sso::core::random::CountingRandom;
use edge_sso::core::secret::Secret;
use edge_sso::core::session::{OrgSession, SessionCache, SessionId, SessionStore};
use edge_sso::core::store::{block_on, MemoryStore};
use serde_json::json;
use std::hint::black_box;
use std::rc::Rc;
use url::Url;

const ISS: &str = "https://idp.example.com";
const CLIENT_ID: &str = "client-123";
const NOW: u64 = 1_700_000_000;
const NONCE: &str = "nonce-Zk3x9";

fn jwks_json() -> Vec<u8> {
    testkit::jwks_json(&[(Key::RsaA, "rsa"), (Key::P256, "ec"), (Key::Ed25519, "ed")])
}

fn sign(alg: JwsAlg) -> String {
    let (name, key, kid) = match alg {
        JwsAlg::RS256 => ("RS256", Key::RsaA, "rsa"),
        JwsAlg::PS256 => ("PS256", Key::RsaA, "rsa"),
        JwsAlg::ES256 => ("ES256", Key::P256, "ec"),
        JwsAlg::EdDSA => ("EdDSA", Key::Ed25519, "ed"),
    };
    let claims = json!({
        "iss": ISS, "aud": CLIENT_ID, "sub": "user-42", "exp": NOW + 300, "iat": NOW - 10,
        "nonce": NONCE, "email": "ada@example.org", "email_verified": true, "sid": "session-7",
        "auth_time": NOW - 20, "groups": ["admins"],
    });
    let header = json!({"alg": name, "typ": "JWT", "kid": kid});
    testkit::sign(key, &header, &claims)
}

fn idtoken(c: &mut Criterion) {
    let jwks = Jwks::parse(&jwks_json()).unwrap();
    let verifier = IdTokenVerifier::new(ISS, CLIENT_ID);
    let nonce = Secret::new(NONCE);
    let mut g = c.benchmark_group("id_token_verify");
    for alg in [JwsAlg::RS256, JwsAlg::PS256, JwsAlg::ES256, JwsAlg::EdDSA] {
        let token = sign(alg);
        // Sanity: the fixture token verifies.
        let parsed = UntrustedIdToken::parse(&token).unwrap();
        block_on(verifier.verify(&parsed, &jwks, &NativeVerifier, UnixTime(NOW), &nonce)).unwrap();
        g.bench_function(format!("{alg:?}"), |b| {
            b.iter(|| {
                let t = UntrustedIdToken::parse(black_box(&token)).unwrap();
                block_on(verifier.verify(&t, &jwks, &NativeVerifier, UnixTime(NOW), &nonce))
                    .unwrap()
            })
        });
    }
    g.finish();
}

fn jwks(c: &mut Criterion) {
    let doc = jwks_json();
    c.bench_function("jwks_parse_3_keys", |b| {
        b.iter(|| Jwks::parse(black_box(&doc)).unwrap())
    });
    let jwks = Jwks::parse(&doc).unwrap();
    c.bench_function("jwks_select_by_kid", |b| {
        b.iter(|| {
            jwks.select(black_box(JwsAlg::ES256), black_box(Some("ec")))
                .unwrap()
                .kid()
                .is_some()
        })
    });
}

fn email(c: &mut Criterion) {
    c.bench_function("email_parse_and_domain_key", |b| {
        b.iter(|| {
            let e = EmailAddress::parse(black_box("Ada.Lovelace@Mail.Example.ORG")).unwrap();
            format!("domain:{}", e.domain().as_str())
        })
    });
}

fn session(c: &mut Criterion) {
    let clock = FixedClock::at(NOW);
    let store = SessionStore::with_cache(MemoryStore::new(&clock), Rc::new(SessionCache::new()));
    // An org session as stored (only an admitted member makes one at login).
    let org: OrgSession = serde_json::from_value(json!({
        "sub": "user-42",
        "email": "ada@example.org",
        "role": "admin",
        "auth_time": NOW,
        "expires_at": NOW + 3600,
        "id_token_hint": "eyJ.hint.sig",
        "sid": "session-7",
        "issuer": ISS,
    }))
    .unwrap();
    let acme = OrgSlug::parse("acme").unwrap();
    let new =
        block_on(store.login(&CountingRandom::default(), UnixTime(NOW), None, &acme, org)).unwrap();
    let header = format!("theme=dark; sso_session={}; _ga=GA1.2.3", new.id.expose());
    let uncached = SessionStore::new(MemoryStore::new(&clock));
    block_on(uncached.login(
        &CountingRandom::default(),
        UnixTime(NOW),
        None,
        &acme,
        new.record.orgs[&acme].clone(),
    ))
    .unwrap();
    c.bench_function("session_cookie_parse_and_load_cached_hit", |b| {
        b.iter(|| {
            let id = read_cookie(Some(black_box(&header)), "sso_session").unwrap();
            let id = SessionId::from_cookie(&id).unwrap();
            block_on(store.load_cached(&id, UnixTime(NOW)))
                .unwrap()
                .unwrap()
        })
    });
    c.bench_function("session_cookie_parse_and_load_memory_kv", |b| {
        b.iter(|| {
            let id = read_cookie(Some(black_box(&header)), "sso_session").unwrap();
            let id = SessionId::from_cookie(&id).unwrap();
            block_on(store.load(&id, UnixTime(NOW))).unwrap().unwrap()
        })
    });
}

fn authorize(c: &mut Criterion) {
    let doc = serde_json::to_vec(&json!({
        "issuer": ISS,
        "authorization_endpoint": "https://idp.example.com/auth?tenant=acme",
        "token_endpoint": "https://idp.example.com/token",
        "jwks_uri": "https://idp.example.com/jwks",
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .unwrap();
    let meta = parse_metadata(ISS, &IdpUrlPolicy::default(), &doc).unwrap();
    let clock = FixedClock::at(NOW);
    let random = CountingRandom::default();
    let redirect = Url::parse("https://sso.example.com/sso/callback").unwrap();
    let scopes = vec!["email".to_owned(), "profile".to_owned()];
    let (acme, iss, client_id) = (
        OrgSlug::parse("acme").unwrap(),
        IssuerUrl::parse(ISS).unwrap(),
        ClientId::parse(CLIENT_ID).unwrap(),
    );
    c.bench_function("authorization_request_begin_and_url", |b| {
        b.iter(|| {
            let tx = begin(&random, &clock, &acme, &iss, "/app?x=1").unwrap();
            authorization_url(
                &meta,
                &client_id,
                &redirect,
                &scopes,
                &tx,
                Some("ada@example.org"),
            )
        })
    });
}

/// A large org's snapshot refresh in its Durable Object: 10,000 time-based revocations (5,000
/// IdP sessions, 5,000 emails). "whole" is what every refresh cost before snapshot versions (and
/// still costs once after each change); "confirmed" what an unchanged one costs now. Each
/// answer is serialised, as the object sends it.
fn ledger_snapshot(c: &mut Criterion) {
    let mut ledger = Ledger::default();
    let cold = MemoryColdRows::default();
    let random = CountingRandom::default();
    let run = |ledger: &mut Ledger, cmd| {
        let reply = ledger.apply(cmd, UnixTime(NOW), &random, &cold).unwrap();
        ledger.take_changes();
        serde_json::to_string(&reply).unwrap()
    };
    for i in 0..5_000 {
        for selector in [
            Selector::Sid(format!("idp-session-{i:05}")),
            Selector::Email(format!("member-{i:05}@acme.example")),
        ] {
            run(&mut ledger, Command::Revoke { selector });
        }
    }
    let whole = run(&mut ledger, Command::Snapshot { have: None });
    let reply: Reply = serde_json::from_str(&whole).unwrap();
    let Reply::Snapshot { version, .. } = reply else {
        panic!("{reply:?}")
    };
    let confirmed = run(
        &mut ledger,
        Command::Snapshot {
            have: Some(version.clone()),
        },
    );
    println!(
        "ledger_snapshot: whole answer {} B, confirmed answer {} B",
        whole.len(),
        confirmed.len()
    );
    let mut g = c.benchmark_group("ledger_snapshot_refresh_10k_revocations");
    g.bench_function("whole", |b| {
        b.iter(|| run(&mut ledger, Command::Snapshot { have: None }))
    });
    g.bench_function("confirmed", |b| {
        b.iter(|| {
            let have = Some(version.clone());
            run(&mut ledger, Command::Snapshot { have })
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    idtoken,
    jwks,
    email,
    session,
    authorize,
    ledger_snapshot
);
criterion_main!(benches);
