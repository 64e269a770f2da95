//! Revocations are consulted on every session the store hands out, cache hits included.

use super::tests::{org_session, slug};
use super::*;
use crate::core::clock::{Clock, FixedClock, UnixTime};
use crate::core::oidc::issuer::IssuerUrl;
use crate::core::random::CountingRandom;
use crate::core::store::{block_on, MemoryStore};
use std::rc::Rc;

const T0: u64 = 1_700_000_000;

struct Fixture {
    clock: &'static FixedClock,
    kv: Rc<MemoryStore<&'static FixedClock>>,
    cache: Rc<SessionCache>,
    revocations: Rc<MemoryRevocations>,
    random: CountingRandom,
}

type Store = SessionStore<Rc<MemoryStore<&'static FixedClock>>, Rc<MemoryRevocations>>;

impl Fixture {
    fn new() -> Self {
        let clock: &'static FixedClock = Box::leak(Box::new(FixedClock::at(T0)));
        Fixture {
            clock,
            kv: Rc::new(MemoryStore::new(clock)),
            cache: Rc::new(SessionCache::new()),
            revocations: Rc::new(MemoryRevocations::new()),
            random: CountingRandom::default(),
        }
    }
    fn store(&self) -> Store {
        SessionStore::with_cache(self.kv.clone(), self.cache.clone())
            .with_revocations(self.revocations.clone())
    }
    fn now(&self) -> UnixTime {
        self.clock.now()
    }
    /// Signs `sub` in to `org` (on top of `previous`) and warms this isolate's cache.
    fn login(
        &self,
        store: &Store,
        previous: Option<&SessionId>,
        org: &str,
        sub: &str,
    ) -> SessionId {
        let s = org_session(sub, self.now(), 3600);
        let id = block_on(store.login(&self.random, self.now(), previous, &slug(org), s))
            .unwrap()
            .id;
        assert!(block_on(store.load_cached(&id, self.now()))
            .unwrap()
            .is_some());
        id
    }
    fn orgs(&self, store: &Store, id: &SessionId) -> Option<Vec<String>> {
        block_on(store.load_cached(id, self.now()))
            .unwrap()
            .map(|r| r.orgs.keys().map(|s| s.to_string()).collect())
    }
}

fn idp() -> IssuerUrl {
    IssuerUrl::parse("https://idp.example.com").unwrap()
}

#[test]
fn revoked_member_cached_session_is_refused() {
    let f = Fixture::new();
    let store = f.store();
    let a = f.login(&store, None, "acme", "ada");
    let b = f.login(&store, Some(&a), "beta", "ada");
    let gets = f.kv.counts().gets;
    f.revocations.revoke_member(&slug("acme"), &idp(), "ada");
    // Answered from the cache (no KV read), and still the revocation holds.
    assert_eq!(f.orgs(&store, &b), Some(vec!["beta".to_owned()]));
    assert_eq!(f.kv.counts().gets, gets);
    // Uncached reads too.
    let r = block_on(store.load(&b, f.now())).unwrap().unwrap();
    assert!(r.org(&slug("acme")).is_none());
    f.revocations.revoke_member(&slug("beta"), &idp(), "ada");
    assert_eq!(f.orgs(&store, &b), None);
}

#[test]
fn member_revocation_is_per_org_issuer_and_sub() {
    let f = Fixture::new();
    let store = f.store();
    let id = f.login(&store, None, "acme", "ada");
    let other = IssuerUrl::parse("https://other.example.com").unwrap();
    f.revocations.revoke_member(&slug("acme"), &other, "ada");
    f.revocations.revoke_member(&slug("acme"), &idp(), "bob");
    f.revocations.revoke_member(&slug("beta"), &idp(), "ada");
    assert_eq!(f.orgs(&store, &id), Some(vec!["acme".to_owned()]));
}

#[test]
fn revoked_idp_session_is_refused() {
    let f = Fixture::new();
    let store = f.store();
    let id = f.login(&store, None, "acme", "ada");
    f.revocations.revoke_sid(&slug("acme"), &idp(), "sid-bob");
    assert!(f.orgs(&store, &id).is_some());
    f.revocations.revoke_sid(&slug("acme"), &idp(), "sid-ada");
    assert_eq!(f.orgs(&store, &id), None);
}

#[test]
fn org_revoked_before_a_time_spares_later_logins() {
    let f = Fixture::new();
    let store = f.store();
    let old = f.login(&store, None, "acme", "ada");
    f.clock.advance(5);
    f.revocations.revoke_org_before(&slug("acme"), f.now());
    assert_eq!(f.orgs(&store, &old), None);
    // A later (earlier-dated) revocation does not move the cut-off back.
    f.revocations
        .revoke_org_before(&slug("acme"), UnixTime(T0 - 100));
    let new = f.login(&store, None, "acme", "ada");
    assert_eq!(f.orgs(&store, &new), Some(vec!["acme".to_owned()]));
}

#[test]
fn revoked_org_sessions_are_not_carried_over_at_login() {
    let f = Fixture::new();
    let store = f.store();
    let a = f.login(&store, None, "acme", "ada");
    f.revocations.revoke_member(&slug("acme"), &idp(), "ada");
    let b = block_on(store.login(
        &f.random,
        f.now(),
        Some(&a),
        &slug("beta"),
        org_session("ada", f.now(), 3600),
    ))
    .unwrap();
    assert_eq!(b.record.orgs.len(), 1);
    assert!(b.record.org(&slug("beta")).is_some());
}

#[test]
fn revocation_lookup_failure_fails_closed() {
    let f = Fixture::new();
    let store = f.store();
    let id = f.login(&store, None, "acme", "ada");
    f.revocations.fail.set(true);
    assert!(block_on(store.load_cached(&id, f.now())).is_err());
    assert!(block_on(store.load(&id, f.now())).is_err());
}

#[test]
fn records_in_the_stored_format_still_read() {
    // A record exactly as the code before the newtypes wrote it (plain strings, no
    // `logged_in_at`).
    let json = r#"{"orgs":{"acme":{"sub":"user-1","email":"Ada@example.com","role":"admin","auth_time":1700000000,"expires_at":1700003600,"id_token_hint":"eyJ.x.y","sid":"s-1","issuer":"https://idp.example.com/realms/acme"}},"created_at":1700000000}"#;
    let r: SessionRecord = crate::core::json::from_str(json).unwrap();
    let s = r.org(&slug("acme")).unwrap();
    assert_eq!(s.sub(), "user-1");
    assert_eq!(s.email().as_str(), "Ada@example.com");
    assert_eq!(s.role(), crate::core::org::Role::Admin);
    assert_eq!(s.issuer().as_str(), "https://idp.example.com/realms/acme");
    assert_eq!(s.sid(), Some("s-1"));
    assert_eq!(s.logged_in_at(), UnixTime(T0));
    assert_eq!(s.id_token_hint().unwrap().expose(), "eyJ.x.y");
    // Written back, only the new field is added.
    let mut back: serde_json::Value = serde_json::to_value(&r).unwrap();
    let mut want: serde_json::Value = crate::core::json::from_str(json).unwrap();
    back["orgs"]["acme"]
        .as_object_mut()
        .unwrap()
        .remove("logged_in_at");
    assert_eq!(back, want);
    // And a null id_token_hint / sid, as written for IdPs that send no sid.
    want["orgs"]["acme"]["sid"] = serde_json::Value::Null;
    want["orgs"]["acme"]["id_token_hint"] = serde_json::Value::Null;
    let r: SessionRecord = serde_json::from_value(want).unwrap();
    assert_eq!(r.org(&slug("acme")).unwrap().sid(), None);
    // A record that no longer validates is refused as a whole (the store treats it as absent).
    let bad = json.replace("\"admin\"", "\"owner\"");
    assert!(crate::core::json::from_str::<SessionRecord>(&bad).is_err());
}

#[test]
fn org_session_is_made_from_a_member() {
    use crate::core::member::Member;
    use crate::core::org::Role;
    let m = Member::for_tests("ada", "Ada@Example.com", Role::Write);
    let s = OrgSession::new(&m, UnixTime(T0), 600, None);
    assert_eq!(s.sub(), "ada");
    assert_eq!(s.email().as_str(), "Ada@example.com");
    assert_eq!(s.role(), Role::Write);
    assert_eq!(s.sid(), Some("sid-ada"));
    assert_eq!(s.issuer(), m.issuer());
    // No auth_time in the token: the login time stands in.
    assert_eq!(s.auth_time(), UnixTime(T0));
    assert_eq!(s.logged_in_at(), UnixTime(T0));
    assert_eq!(s.expires_at(), UnixTime(T0 + 600));
}
