//! The domain sub-resource through the whole app, with a fake DoH resolver, on a stopped clock.

use super::super::config::AppConfig;
use super::super::{App, Body, IsolateState, MemoryLog, Response, ResponseExt};
use crate::core::clock::FixedClock;
use crate::core::directory::OrgDirectory;
use crate::core::domains::{MemoryRegistry, MISSES_TO_UNVERIFY};
use crate::core::email::EmailDomain;
use crate::core::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use crate::core::jose::native_verifier::NativeVerifier;
use crate::core::ledger::MemoryLedger;
use crate::core::random::CountingRandom;
use crate::core::store::{block_on, MemoryStore};
use http::Method;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;

const TOKEN: &str = "0123456789abcdef0123";

/// What the fake resolver answers for one name.
#[derive(Clone)]
enum Dns {
    Txt(Vec<String>),
    ServFail,
    Down,
}

/// A DoH JSON resolver: names not set are NXDOMAIN.
#[derive(Default)]
struct FakeDoh {
    records: RefCell<BTreeMap<String, Dns>>,
    asked: RefCell<Vec<String>>,
}

impl FakeDoh {
    fn set(&self, domain: &str, dns: Dns) {
        self.records
            .borrow_mut()
            .insert(format!("_edge-sso-challenge.{domain}"), dns);
    }
    fn clear(&self, domain: &str) {
        self.records
            .borrow_mut()
            .remove(&format!("_edge-sso-challenge.{domain}"));
    }
}

impl HttpClient for FakeDoh {
    async fn send(&self, req: HttpRequest, max_body: usize) -> Result<HttpResponse, HttpError> {
        assert_eq!(req.url.host_str(), Some("doh.example"));
        assert_eq!(req.headers.get("accept"), Some("application/dns-json"));
        assert!(max_body <= 64 * 1024);
        let name = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        self.asked.borrow_mut().push(name.clone());
        let body = match self.records.borrow().get(&name).cloned() {
            None => json!({"Status": 3}),
            Some(Dns::ServFail) => json!({"Status": 2}),
            Some(Dns::Down) => return Err(HttpError::Timeout),
            Some(Dns::Txt(values)) => json!({"Status": 0, "Answer": values.iter().map(|v| json!({
                "name": format!("{name}."), "type": 16, "TTL": 60, "data": format!("\"{v}\"")
            })).collect::<Vec<_>>()}),
        };
        Ok(HttpResponse::new(
            200,
            "application/dns-json",
            body.to_string(),
        ))
    }
}

struct T {
    clock: &'static FixedClock,
    config: AppConfig,
    store: MemoryStore<&'static FixedClock>,
    doh: FakeDoh,
    random: CountingRandom,
    log: MemoryLog,
    state: IsolateState,
    ledger: MemoryLedger<&'static FixedClock>,
    registry: MemoryRegistry<&'static FixedClock>,
}

impl T {
    fn new() -> T {
        let clock: &'static FixedClock = Box::leak(Box::new(FixedClock::at(1_700_000_000)));
        let config = AppConfig::from_vars(|k| match k {
            "PUBLIC_ORIGIN" => Some("https://sso.example.com".into()),
            "ADMIN_TOKEN" => Some(TOKEN.into()),
            "DOH_URL" => Some("https://doh.example/dns-query".into()),
            "COOKIE_SECRET" => Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".into()),
            _ => None,
        })
        .unwrap();
        let t = T {
            clock,
            config,
            store: MemoryStore::new(clock),
            doh: FakeDoh::default(),
            random: CountingRandom::default(),
            log: MemoryLog::default(),
            state: IsolateState::default(),
            ledger: MemoryLedger::new(clock),
            registry: MemoryRegistry::new(clock),
        };
        for (slug, domain) in [("acme", "acme.com"), ("beta", "beta.com")] {
            let body = json!({"domains": [domain], "issuer": format!("https://{slug}.okta.com"),
                "client_id": "c", "client_secret": "s"});
            let r = t.send(Method::PUT, &format!("/admin/orgs/{slug}"), Some(body));
            assert_eq!(r.status(), 201, "{}", r.text());
        }
        t
    }

    fn app(&self) -> App<'_, &MemoryStore<&'static FixedClock>, &FakeDoh, NativeVerifier> {
        self.app_on(&self.store)
    }

    /// The app over this state with `store` as its KV (the test store, or a wrapper of it).
    fn app_on<K: crate::core::store::KvStore>(
        &self,
        store: K,
    ) -> App<'_, K, &FakeDoh, NativeVerifier> {
        App {
            config: &self.config,
            store,
            http: &self.doh,
            verifier: NativeVerifier,
            clock: self.clock,
            random: &self.random,
            log: &self.log,
            state: &self.state,
            ledger: &self.ledger,
            registry: &self.registry,
            limits: &crate::core::ratelimit::NoLimits,
        }
    }

    fn send_as(&self, method: Method, path: &str, body: Option<Value>, token: &str) -> Response {
        block_on(self.app().handle(request(method, path, body, token)))
    }

    fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        self.send_as(method, path, body, TOKEN)
    }

    fn json(&self, method: Method, path: &str) -> (u16, Value) {
        let r = self.send(method, path, None);
        let v = serde_json::from_slice(r.body().as_bytes().unwrap()).unwrap_or(Value::Null);
        (r.status().as_u16(), v)
    }

    fn routes_to(&self, domain: &str) -> Option<String> {
        block_on(OrgDirectory::new(&self.store).lookup_domain(&EmailDomain::parse(domain).unwrap()))
            .unwrap()
            .map(|c| c.slug.to_string())
    }

    fn claim(&self, org: &str, domain: &str) -> String {
        let (s, v) = self.json(Method::PUT, &format!("/admin/orgs/{org}/domains/{domain}"));
        assert!(s == 201 || s == 200, "{s} {v}");
        v["txt_value"].as_str().unwrap().to_owned()
    }

    fn verify(&self, org: &str, domain: &str) -> (u16, Value) {
        self.json(
            Method::POST,
            &format!("/admin/orgs/{org}/domains/{domain}/verify"),
        )
    }

    fn recheck(&self) -> crate::app::RecheckReport {
        recheck_on(self.app())
    }
}

/// An admin API request with `token`, asking for JSON.
fn request(method: Method, path: &str, body: Option<Value>, token: &str) -> http::Request<Body> {
    http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("accept", "application/json")
        .body(body.map_or(Body::Empty, |b| Body::from(b.to_string())))
        .unwrap()
}

/// The cron's re-check through `app`.
fn recheck_on<K: crate::core::store::KvStore>(
    app: App<'_, K, &FakeDoh, NativeVerifier>,
) -> crate::app::RecheckReport {
    block_on(app.recheck_domains(crate::core::domains::RECHECKS_PER_RUN)).unwrap()
}

#[test]
fn claim_publish_verify_and_route() {
    let t = T::new();
    let (s, v) = t.json(Method::PUT, "/admin/orgs/acme/domains/Acme.DEV");
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["domain"], "acme.dev");
    assert_eq!(v["status"], "pending");
    assert_eq!(v["txt_name"], "_edge-sso-challenge.acme.dev");
    let value = v["txt_value"].as_str().unwrap().to_owned();
    assert!(value.starts_with("edge-sso-verify="));
    assert_eq!(v["verified_at"], Value::Null);
    // Claiming again returns the same challenge.
    let (s, again) = t.json(Method::PUT, "/admin/orgs/acme/domains/acme.dev");
    assert_eq!((s, &again["txt_value"]), (200, &v["txt_value"]));
    // Pending never routes.
    assert_eq!(t.routes_to("acme.dev"), None);

    // Absent, then wrong, then right.
    let (s, v) = t.verify("acme", "acme.dev");
    assert_eq!(
        (s, v["check"].as_str(), v["status"].as_str()),
        (200, Some("nxdomain"), Some("pending"))
    );
    assert!(v["message"].as_str().unwrap().contains("NXDOMAIN"));
    t.doh.set("acme.dev", Dns::Txt(vec![]));
    assert_eq!(t.verify("acme", "acme.dev").1["check"], "no_record");
    t.doh
        .set("acme.dev", Dns::Txt(vec!["edge-sso-verify=not-it".into()]));
    assert_eq!(t.verify("acme", "acme.dev").1["check"], "wrong_value");
    t.doh.set("acme.dev", Dns::ServFail);
    assert_eq!(t.verify("acme", "acme.dev").1["check"], "servfail");
    t.doh.set("acme.dev", Dns::Down);
    assert_eq!(t.verify("acme", "acme.dev").1["check"], "doh_failure");
    assert!(t
        .log
        .0
        .borrow()
        .iter()
        .any(|l| l.contains("doh_failure") && l.contains("timed out")));
    assert_eq!(t.routes_to("acme.dev"), None);
    t.doh.set(
        "acme.dev",
        Dns::Txt(vec!["v=spf1 -all".into(), value.clone()]),
    );
    let (s, v) = t.verify("acme", "acme.dev");
    assert_eq!(
        (s, v["check"].as_str(), v["status"].as_str()),
        (200, Some("verified"), Some("verified"))
    );
    assert_eq!(v["verified_at"], 1_700_000_000u64);
    assert_eq!(t.routes_to("acme.dev").as_deref(), Some("acme"));
    // Admission counts it: the org config lists it as DNS-verified.
    let (_, org) = t.json(Method::GET, "/admin/orgs/acme");
    assert_eq!(org["verified_domains"], json!(["acme.dev"]));
    // An admin PUT of the config keeps it.
    let body = json!({"domains": ["acme.com"], "issuer": "https://acme.okta.com", "client_id": "c2", "client_secret": "s2"});
    assert_eq!(
        t.send(Method::PUT, "/admin/orgs/acme", Some(body)).status(),
        200
    );
    assert_eq!(t.routes_to("acme.dev").as_deref(), Some("acme"));

    // The list: the claim, then the operator's domain.
    let (s, v) = t.json(Method::GET, "/admin/orgs/acme/domains");
    assert_eq!(s, 200);
    let list = v["domains"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["domain"], "acme.dev");
    assert_eq!(list[0]["source"], "dns");
    assert_eq!(list[0]["txt_value"], value.as_str());
    assert_eq!(list[0]["last_checked"], 1_700_000_000u64);
    assert_eq!(
        list[1],
        json!({"domain": "acme.com", "status": "verified", "source": "operator",
        "txt_name": null, "txt_value": null, "verified_at": null, "last_checked": null})
    );
}

#[test]
fn another_orgs_pending_and_verified_claims() {
    let t = T::new();
    let a = t.claim("acme", "shared.com");
    let b = t.claim("beta", "shared.com");
    assert_ne!(a, b, "each org has its own challenge");
    // Beta's record verifies beta, not acme.
    t.doh.set("shared.com", Dns::Txt(vec![b.clone()]));
    assert_eq!(t.verify("acme", "shared.com").1["check"], "wrong_value");
    assert_eq!(t.verify("beta", "shared.com").1["status"], "verified");
    assert_eq!(t.routes_to("shared.com").as_deref(), Some("beta"));
    // Now acme cannot verify it, even with its own record: 409 naming beta (operator only).
    t.doh
        .set("shared.com", Dns::Txt(vec![a.clone(), b.clone()]));
    let (s, v) = t.verify("acme", "shared.com");
    assert_eq!(
        (s, v["error"].as_str(), v["org"].as_str()),
        (409, Some("domain_claimed"), Some("beta"))
    );
    assert!(v["message"].as_str().unwrap().contains("beta"));
    assert_eq!(t.routes_to("shared.com").as_deref(), Some("beta"));
    // But it may still hold a pending claim on it.
    let (s, _) = t.json(Method::PUT, "/admin/orgs/acme/domains/shared.com");
    assert_eq!(s, 200);
    // A domain in another org's `domains` (the operator's word) cannot be verified either.
    let c = t.claim("acme", "beta.com");
    t.doh.set("beta.com", Dns::Txt(vec![c]));
    let (s, v) = t.verify("acme", "beta.com");
    assert_eq!((s, v["org"].as_str()), (409, Some("beta")));
    assert_eq!(t.routes_to("beta.com").as_deref(), Some("beta"));
    // And the operator cannot list beta's DNS-verified domain for acme.
    let body = json!({"domains": ["acme.com", "shared.com"], "issuer": "https://acme.okta.com", "client_id": "c"});
    let r = t.send(Method::PUT, "/admin/orgs/acme", Some(body));
    assert_eq!(r.status(), 409, "{}", r.text());
    // Beta releases it: acme may verify now.
    assert_eq!(
        t.send(Method::DELETE, "/admin/orgs/beta/domains/shared.com", None)
            .status(),
        204
    );
    assert_eq!(t.routes_to("shared.com"), None);
    assert_eq!(t.verify("acme", "shared.com").1["status"], "verified");
    assert_eq!(t.routes_to("shared.com").as_deref(), Some("acme"));
}

#[test]
fn the_scheduled_recheck_unverifies_after_n_misses() {
    let t = T::new();
    let v = t.claim("acme", "acme.dev");
    t.doh.set("acme.dev", Dns::Txt(vec![v.clone()]));
    t.verify("acme", "acme.dev");
    let p = t.claim("acme", "pending.dev");
    let _ = p;
    // Only verified claims are re-checked.
    t.doh.asked.borrow_mut().clear();
    let report = t.recheck();
    assert_eq!((report.checked, report.misses), (1, 0));
    assert_eq!(*t.doh.asked.borrow(), ["_edge-sso-challenge.acme.dev"]);
    // The record disappears; resolver failures in between never count.
    t.doh.clear("acme.dev");
    for n in 1..MISSES_TO_UNVERIFY {
        t.clock.advance(1800);
        let r = t.recheck();
        assert_eq!((r.misses, r.unverified.len()), (1, 0));
        assert_eq!(
            t.routes_to("acme.dev").as_deref(),
            Some("acme"),
            "after {n} misses"
        );
        t.doh.set("acme.dev", Dns::Down);
        assert_eq!(t.recheck().misses, 0);
        t.doh.set("acme.dev", Dns::ServFail);
        assert_eq!(t.recheck().misses, 0);
        t.doh.clear("acme.dev");
    }
    t.clock.advance(1800);
    let r = t.recheck();
    assert_eq!(r.unverified, [EmailDomain::parse("acme.dev").unwrap()]);
    assert_eq!(t.routes_to("acme.dev"), None);
    let (_, list) = t.json(Method::GET, "/admin/orgs/acme/domains");
    assert_eq!(list["domains"][0]["status"], "unverified");
    assert_eq!(list["domains"][0]["last_check"], "nxdomain");
    let (_, org) = t.json(Method::GET, "/admin/orgs/acme");
    assert_eq!(org.get("verified_domains"), None);
    assert!(t
        .log
        .0
        .borrow()
        .iter()
        .any(|l| l.starts_with("domain unverified domain=acme.dev org=acme")));
    // Not re-checked any more; a manual verify brings it back.
    assert_eq!(t.recheck().checked, 0);
    t.doh.set("acme.dev", Dns::Txt(vec![v]));
    assert_eq!(t.verify("acme", "acme.dev").1["status"], "verified");
    assert_eq!(t.routes_to("acme.dev").as_deref(), Some("acme"));
}

#[test]
fn a_lost_routing_write_is_repaired_by_the_next_check() {
    let t = T::new();
    let v = t.claim("acme", "acme.dev");
    t.doh.set("acme.dev", Dns::Txt(vec![v]));
    t.verify("acme", "acme.dev");
    // Simulate a lost write: the index entry is gone.
    block_on(crate::core::store::KvStore::delete(
        &t.store,
        "domain:acme.dev",
    ))
    .unwrap();
    assert_eq!(t.routes_to("acme.dev"), None);
    t.recheck();
    assert_eq!(t.routes_to("acme.dev").as_deref(), Some("acme"));
}

#[test]
fn refusals() {
    let t = T::new();
    for (path, field) in [
        ("/admin/orgs/acme/domains/gmail.com", "domain"),
        ("/admin/orgs/acme/domains/PROTON.ME", "domain"),
        ("/admin/orgs/acme/domains/a..com", "domain"),
        ("/admin/orgs/acme/domains/acme.com.", "domain"),
        ("/admin/orgs/acme/domains/*.acme.com", "domain"),
        ("/admin/orgs/acme/domains/%zz", "domain"),
        ("/admin/orgs/acme/domains/", "domain"),
        ("/admin/orgs/acme/domains/a%2Fb.com", "domain"),
        ("/admin/orgs/Acme/domains/acme.dev", "slug"),
    ] {
        let (s, v) = t.json(Method::PUT, path);
        assert_eq!((s, v["field"].as_str()), (400, Some(field)), "{path}: {v}");
    }
    let (_, v) = t.json(Method::PUT, "/admin/orgs/acme/domains/gmail.com");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("public mail domain"));
    assert_eq!(
        t.json(Method::PUT, "/admin/orgs/nobody/domains/x.dev").0,
        404
    );
    assert_eq!(t.json(Method::GET, "/admin/orgs/nobody/domains").0, 404);
    // IDN in the path, percent-encoded, is normalised as the lookup does.
    let (s, v) = t.json(Method::PUT, "/admin/orgs/acme/domains/b%C3%BCcher.de");
    assert_eq!((s, v["domain"].as_str()), (201, Some("xn--bcher-kva.de")));
    // No claim: verify and release are 404 unknown_claim.
    let (s, v) = t.verify("acme", "unclaimed.dev");
    assert_eq!((s, v["error"].as_str()), (404, Some("unknown_claim")));
    let (s, v) = t.json(Method::DELETE, "/admin/orgs/acme/domains/unclaimed.dev");
    assert_eq!((s, v["error"].as_str()), (404, Some("unknown_claim")));
    // Another org's claim is not this org's.
    t.claim("beta", "beta.dev");
    assert_eq!(t.verify("acme", "beta.dev").0, 404);
    // The admin token is required for every route.
    for (m, p) in [
        (Method::GET, "/admin/orgs/acme/domains"),
        (Method::PUT, "/admin/orgs/acme/domains/x.dev"),
        (Method::POST, "/admin/orgs/acme/domains/x.dev/verify"),
        (Method::DELETE, "/admin/orgs/acme/domains/x.dev"),
    ] {
        assert_eq!(
            t.send_as(m, p, None, "wrong-token-wrong-token").status(),
            401,
            "{p}"
        );
    }
    assert!(
        t.doh.asked.borrow().is_empty(),
        "no DNS asked for a refused request"
    );
}

#[test]
fn the_registry_failing_fails_closed() {
    let t = T::new();
    let v = t.claim("acme", "acme.dev");
    t.doh.set("acme.dev", Dns::Txt(vec![v]));
    t.registry.fail.set(true);
    assert_eq!(t.verify("acme", "acme.dev").0, 503);
    assert_eq!(t.routes_to("acme.dev"), None);
    assert!(t.app().recheck_domains_blocking().is_err());
}

#[test]
fn deleting_the_org_releases_its_claims() {
    let t = T::new();
    let v = t.claim("acme", "acme.dev");
    t.doh.set("acme.dev", Dns::Txt(vec![v]));
    t.verify("acme", "acme.dev");
    assert_eq!(
        t.send(Method::DELETE, "/admin/orgs/acme", None).status(),
        204
    );
    assert_eq!(t.routes_to("acme.dev"), None);
    assert!(t.registry.rows().is_empty());
    // The domain is free for beta.
    let b = t.claim("beta", "acme.dev");
    t.doh.set("acme.dev", Dns::Txt(vec![b]));
    assert_eq!(t.verify("beta", "acme.dev").1["status"], "verified");
}

#[test]
fn applying_staged_settings_does_not_bring_back_a_domain_dns_no_longer_proves() {
    use crate::core::org::OrgSlug;
    use crate::core::staging::Staging;
    let t = T::new();
    let v = t.claim("acme", "acme.dev");
    t.doh.set("acme.dev", Dns::Txt(vec![v.clone()]));
    assert_eq!(t.verify("acme", "acme.dev").1["status"], "verified");
    // An org admin's sign-in change waits in staging, taken from the config of that moment.
    let slug = OrgSlug::parse("acme").unwrap();
    let base = block_on(OrgDirectory::new(&t.store).get(&slug))
        .unwrap()
        .unwrap();
    assert_eq!(base.verified_domains.len(), 1);
    let mut staged = base.clone();
    staged.client_id = crate::core::org::ClientId::parse("c2").unwrap();
    block_on(Staging::new(&t.store).put(&base, &staged)).unwrap();
    // Meanwhile the claim is released (the same holds for one the re-check unverified).
    assert_eq!(
        t.send(Method::DELETE, "/admin/orgs/acme/domains/acme.dev", None)
            .status(),
        204
    );
    assert_eq!(t.routes_to("acme.dev"), None);
    let r = t.send(Method::POST, "/admin/orgs/acme/staged/apply", None);
    assert_eq!(r.status(), 200, "{}", r.text());
    let (_, org) = t.json(Method::GET, "/admin/orgs/acme");
    assert_eq!(org["client_id"], "c2");
    assert!(org.get("verified_domains").is_none(), "{org}");
    assert_eq!(t.routes_to("acme.dev"), None, "routing needs DNS proof");
    // Beta may prove it now.
    let b = t.claim("beta", "acme.dev");
    t.doh.set("acme.dev", Dns::Txt(vec![b]));
    assert_eq!(t.verify("beta", "acme.dev").1["status"], "verified");
    assert_eq!(t.routes_to("acme.dev").as_deref(), Some("beta"));
}

impl App<'_, &MemoryStore<&'static FixedClock>, &FakeDoh, NativeVerifier> {
    fn recheck_domains_blocking(
        &self,
    ) -> Result<crate::app::RecheckReport, crate::app::error::AppError> {
        block_on(self.recheck_domains(5))
    }
}

/// The test store with its writes failing (reads work), as a KV write refused at the
/// per-key write rate or a KV outage mid-request leaves things.
struct WritesFail<'a>(&'a MemoryStore<&'static FixedClock>);

impl crate::core::store::KvStore for WritesFail<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, crate::core::store::StoreError> {
        crate::core::store::KvStore::get(self.0, key).await
    }
    async fn put(
        &self,
        _key: &str,
        _value: &str,
        _ttl: Option<u64>,
    ) -> Result<(), crate::core::store::StoreError> {
        Err(crate::core::store::StoreError(
            "injected write failure".into(),
        ))
    }
    async fn delete(&self, _key: &str) -> Result<(), crate::core::store::StoreError> {
        Err(crate::core::store::StoreError(
            "injected write failure".into(),
        ))
    }
    async fn list(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, crate::core::store::StoreError> {
        crate::core::store::KvStore::list(self.0, prefix, limit).await
    }
}

impl T {
    /// The app over the same state, but every KV write fails.
    fn app_writes_fail(&self) -> App<'_, WritesFail<'_>, &FakeDoh, NativeVerifier> {
        self.app_on(WritesFail(&self.store))
    }

    /// `send`, through [`T::app_writes_fail`].
    fn send_writes_fail(&self, method: Method, path: &str) -> Response {
        block_on(
            self.app_writes_fail()
                .handle(request(method, path, None, TOKEN)),
        )
    }

    /// The registry's claim of `org` on `domain`, if any.
    fn registry_claim(&self, org: &str, domain: &str) -> Option<crate::core::domains::Claim> {
        let cmd = crate::core::domains::Command::Get {
            org: crate::core::org::OrgSlug::parse(org).unwrap(),
            domain: EmailDomain::parse(domain).unwrap(),
        };
        match self.registry.call_now(cmd).unwrap() {
            crate::core::domains::Reply::Found { claim } => claim,
            r => panic!("{r:?}"),
        }
    }
}

#[test]
fn a_release_whose_routing_write_fails_leaves_no_routing_behind() {
    // The registry and KV must never end up with a domain routing to an org that holds no
    // verified claim on it: nothing (no re-check, no retry) would ever take that routing away.
    let t = T::new();
    let v = t.claim("acme", "acme.dev");
    t.doh.set("acme.dev", Dns::Txt(vec![v]));
    assert_eq!(t.verify("acme", "acme.dev").1["status"], "verified");
    // The KV write of the release fails: the DELETE fails ...
    let r = t.send_writes_fail(Method::DELETE, "/admin/orgs/acme/domains/acme.dev");
    assert!(r.status().is_server_error(), "{}", r.status());
    // ... and leaves a consistent state: the claim is still there (so it still routes) ...
    assert_eq!(t.routes_to("acme.dev").as_deref(), Some("acme"));
    assert!(
        t.registry_claim("acme", "acme.dev")
            .is_some_and(|c| c.is_verified()),
        "routing without a verified claim"
    );
    // ... and a retry completes the release.
    assert_eq!(
        t.send(Method::DELETE, "/admin/orgs/acme/domains/acme.dev", None)
            .status(),
        204
    );
    assert_eq!(t.routes_to("acme.dev"), None);
    assert_eq!(t.registry_claim("acme", "acme.dev"), None);
}

impl T {
    /// The cron's re-check, through [`T::app_writes_fail`].
    fn recheck_writes_fail(&self) -> crate::app::RecheckReport {
        recheck_on(self.app_writes_fail())
    }
}

#[test]
fn an_unverify_whose_routing_write_fails_is_retried_not_forgotten() {
    // The last miss's KV write fails (a KV outage, or the per-key write limit an org admin
    // saving the config at that moment can cause): the domain must not route on for good.
    let t = T::new();
    let v = t.claim("acme", "acme.dev");
    t.doh.set("acme.dev", Dns::Txt(vec![v.clone()]));
    assert_eq!(t.verify("acme", "acme.dev").1["status"], "verified");
    t.doh.clear("acme.dev");
    for _ in 1..MISSES_TO_UNVERIFY {
        t.clock.advance(1800);
        assert_eq!(t.recheck().misses, 1);
    }
    t.clock.advance(1800);
    let r = t.recheck_writes_fail();
    assert_eq!(r.errors, 1, "{r:?}");
    // Routing and the registry agree: still verified and routing, or neither.
    let claim = t.registry_claim("acme", "acme.dev").unwrap();
    assert_eq!(
        claim.is_verified(),
        t.routes_to("acme.dev").is_some(),
        "{claim:?}"
    );
    // The next run finishes the job.
    t.clock.advance(1800);
    t.recheck();
    assert_eq!(t.routes_to("acme.dev"), None);
    assert!(!t.registry_claim("acme", "acme.dev").unwrap().is_verified());
    let (_, org) = t.json(Method::GET, "/admin/orgs/acme");
    assert_eq!(org.get("verified_domains"), None, "{org}");

    // The same through a manual verify that meets the last miss.
    t.doh.set("acme.dev", Dns::Txt(vec![v]));
    assert_eq!(t.verify("acme", "acme.dev").1["status"], "verified");
    t.doh.clear("acme.dev");
    for _ in 1..MISSES_TO_UNVERIFY {
        assert_eq!(t.verify("acme", "acme.dev").1["check"], "nxdomain");
    }
    let r = t.send_writes_fail(Method::POST, "/admin/orgs/acme/domains/acme.dev/verify");
    assert!(r.status().is_server_error(), "{}", r.status());
    let claim = t.registry_claim("acme", "acme.dev").unwrap();
    assert_eq!(
        claim.is_verified(),
        t.routes_to("acme.dev").is_some(),
        "{claim:?}"
    );
    // A retried verify (or the next cron run) finishes it.
    let (s, v) = t.verify("acme", "acme.dev");
    assert_eq!((s, v["status"].as_str()), (200, Some("unverified")));
    assert_eq!(t.routes_to("acme.dev"), None);
}

impl T {
    /// Acme verified acme.dev by DNS and released it, and the next read of acme's config is
    /// served from before the release (KV's propagation time), acme.dev still listed.
    fn released_behind_a_stale_read() -> T {
        use crate::core::store::KvStore;
        let t = T::new();
        let v = t.claim("acme", "acme.dev");
        t.doh.set("acme.dev", Dns::Txt(vec![v]));
        assert_eq!(t.verify("acme", "acme.dev").1["status"], "verified");
        let stale = block_on(KvStore::get(&t.store, "org:acme"))
            .unwrap()
            .unwrap();
        assert!(stale.contains("acme.dev"));
        assert_eq!(
            t.send(Method::DELETE, "/admin/orgs/acme/domains/acme.dev", None)
                .status(),
            204
        );
        block_on(KvStore::put(&t.store, "org:acme", &stale, None)).unwrap();
        t.state
            .orgs
            .forget(&crate::core::org::OrgSlug::parse("acme").unwrap());
        t
    }
}

#[test]
fn a_save_from_a_stale_read_does_not_bring_back_a_released_domain() {
    // KV reads may lag a write by its propagation time: an admin PUT (or a staged apply) soon
    // after a release reads the org config from before it, verified domain included. Written
    // back as read, that domain would route again with no claim behind it, for good.
    let t = T::released_behind_a_stale_read();
    let body = json!({"domains": ["acme.com"], "issuer": "https://acme.okta.com",
        "client_id": "c", "session_ttl_secs": 7200});
    let r = t.send(Method::PUT, "/admin/orgs/acme", Some(body));
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(
        t.routes_to("acme.dev"),
        None,
        "routing needs a verified claim"
    );
    let (_, org) = t.json(Method::GET, "/admin/orgs/acme");
    assert!(org.get("verified_domains").is_none(), "{org}");
    // A domain the registry still holds as verified stays.
    let w = t.claim("acme", "acme.net");
    t.doh.set("acme.net", Dns::Txt(vec![w]));
    assert_eq!(t.verify("acme", "acme.net").1["status"], "verified");
    let body = json!({"domains": ["acme.com"], "issuer": "https://acme.okta.com",
        "client_id": "c", "session_ttl_secs": 3600});
    assert_eq!(
        t.send(Method::PUT, "/admin/orgs/acme", Some(body)).status(),
        200
    );
    assert_eq!(t.routes_to("acme.net").as_deref(), Some("acme"));
}

#[test]
fn a_verify_from_a_stale_read_does_not_list_a_released_domain_again() {
    // The routing write of a verify is a read-modify-write of the org config: read before an
    // earlier release had propagated, it must not write the released domain back.
    let t = T::released_behind_a_stale_read();
    let w = t.claim("acme", "acme.net");
    t.doh.set("acme.net", Dns::Txt(vec![w]));
    assert_eq!(t.verify("acme", "acme.net").1["status"], "verified");
    let (_, org) = t.json(Method::GET, "/admin/orgs/acme");
    assert_eq!(org["verified_domains"], json!(["acme.net"]), "{org}");
    assert_eq!(t.routes_to("acme.dev"), None);
    assert_eq!(t.routes_to("acme.net").as_deref(), Some("acme"));
}
