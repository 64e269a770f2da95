//! Tests of the session store and its cache (moved out of the old single `session.rs`).

use super::cache::CacheLookup;
use super::id::{record_key, well_formed};
use super::record::encode;
use super::*;
use crate::core::clock::{Clock, FixedClock, UnixTime};
use crate::core::email::EmailAddress;
use crate::core::oidc::issuer::IssuerUrl;
use crate::core::org::{OrgSlug, Role};
use crate::core::random::{CountingRandom, Random, RandomError};
use crate::core::secret::{sha256_hex, Secret};
use crate::core::store::{block_on, KvStore, MemoryStore, OpCounts, MIN_TTL_SECS};
use std::collections::BTreeMap;
use std::rc::Rc;

const T0: u64 = 1_700_000_000;

pub(super) fn org_session(sub: &str, now: UnixTime, lifetime: u64) -> OrgSession {
    OrgSession {
        sub: sub.into(),
        email: EmailAddress::parse(&format!("{sub}@example.com")).unwrap(),
        role: Role::Read,
        auth_time: now,
        expires_at: now.plus(lifetime),
        id_token_hint: Some(Secret::new(format!("id-token-of-{sub}"))),
        sid: Some(format!("sid-{sub}")),
        issuer: IssuerUrl::parse("https://idp.example.com").unwrap(),
        logged_in_at: Some(now),
        client_id: None,
        role_claims: None,
    }
}

pub(super) fn slug(s: &str) -> OrgSlug {
    OrgSlug::parse(s).unwrap()
}

/// A well-formed id for a cookie value we made up.
fn sid(s: &str) -> SessionId {
    SessionId::from_cookie(s).unwrap()
}

type Kv = Rc<MemoryStore<&'static FixedClock>>;

struct Fixture {
    clock: &'static FixedClock,
    kv: Kv,
    random: CountingRandom,
}

impl Fixture {
    fn new() -> Self {
        // Leaked so the store can borrow it for 'static; a few bytes per test.
        let clock: &'static FixedClock = Box::leak(Box::new(FixedClock::at(T0)));
        let kv = Rc::new(MemoryStore::new(clock));
        Fixture {
            clock,
            kv,
            random: CountingRandom::default(),
        }
    }
    fn now(&self) -> UnixTime {
        self.clock.now()
    }
    fn store(&self) -> SessionStore<Kv> {
        SessionStore::new(self.kv.clone())
    }
    fn cached(&self, cache: &Rc<SessionCache>) -> SessionStore<Kv> {
        SessionStore::with_cache(self.kv.clone(), cache.clone())
    }
    fn login(
        &self,
        store: &SessionStore<Kv>,
        previous: Option<&SessionId>,
        org: &str,
        lifetime: u64,
    ) -> SessionId {
        let s = org_session(&format!("user-{org}"), self.now(), lifetime);
        block_on(store.login(&self.random, self.now(), previous, &slug(org), s))
            .unwrap()
            .id
    }
    fn load(&self, store: &SessionStore<Kv>, id: &SessionId) -> Option<SessionRecord> {
        block_on(store.load(id, self.now())).unwrap()
    }
}

fn orgs(r: &SessionRecord) -> Vec<&str> {
    r.orgs.keys().map(OrgSlug::as_str).collect()
}

#[test]
fn id_shape_and_redaction() {
    let f = Fixture::new();
    let id = f.login(&f.store(), None, "acme", 3600);
    assert_eq!(id.expose().len(), SESSION_ID_LEN);
    assert!(well_formed(id.expose()));
    assert_eq!(format!("{id:?}"), "SessionId([redacted])");
    let new = block_on(f.store().login(
        &f.random,
        f.now(),
        None,
        &slug("acme"),
        org_session("u", f.now(), 60),
    ))
    .unwrap();
    assert!(!format!("{new:?}").contains(new.id.expose()));
    assert!(!format!("{new:?}").contains("id-token-of-u"));
}

#[test]
fn kv_key_is_the_digest_not_the_id() {
    let f = Fixture::new();
    let id = f.login(&f.store(), None, "acme", 3600);
    let snap = f.kv.snapshot();
    assert_eq!(snap.len(), 1);
    assert_eq!(
        snap[0].0,
        format!("sess:{}", sha256_hex(id.expose().as_bytes()))
    );
    assert!(!snap[0].0.contains(id.expose()));
    assert!(!snap[0].1.contains(id.expose()));
}

#[test]
fn login_then_load() {
    let f = Fixture::new();
    let store = f.store();
    let id = f.login(&store, None, "acme", 3600);
    let r = f.load(&store, &id).unwrap();
    assert_eq!(orgs(&r), ["acme"]);
    let s = r.org(&slug("acme")).unwrap();
    assert_eq!(s.sub, "user-acme");
    assert_eq!(s.expires_at, f.now().plus(3600));
    assert_eq!(r.created_at, f.now());
    assert_eq!(r.max_age(f.now()), 3600);
}

#[test]
fn fixation_old_id_dead_after_login_new_id_differs() {
    let f = Fixture::new();
    let store = f.store();
    let old = f.login(&store, None, "acme", 3600);
    let new = f.login(&store, Some(&old), "acme", 3600);
    assert_ne!(old.expose(), new.expose());
    assert_eq!(f.load(&store, &old), None);
    assert!(f.load(&store, &new).is_some());
    assert_eq!(f.kv.snapshot().len(), 1);
}

#[test]
fn unknown_previous_id_is_never_adopted() {
    // An attacker-chosen (well-formed) id that has no record is not reused.
    let f = Fixture::new();
    let store = f.store();
    let planted_value = f.random.token(SESSION_ID_BYTES).unwrap();
    let planted = sid(&planted_value);
    let new = f.login(&store, Some(&planted), "acme", 3600);
    assert_ne!(new.expose(), planted_value);
    assert_eq!(f.load(&store, &planted), None);
    let r = f.load(&store, &new).unwrap();
    assert_eq!(orgs(&r), ["acme"]);
}

#[test]
fn multi_org_carry_over() {
    let f = Fixture::new();
    let store = f.store();
    let a = f.login(&store, None, "acme", 3600);
    f.clock.advance(100);
    let b = f.login(&store, Some(&a), "beta", 7200);
    let r = f.load(&store, &b).unwrap();
    assert_eq!(orgs(&r), ["acme", "beta"]);
    assert_eq!(
        r.org(&slug("acme")).unwrap().expires_at,
        UnixTime(T0 + 3600)
    );
    assert_eq!(r.created_at, f.now());
    assert_eq!(f.load(&store, &a), None);
    // KV TTL follows the latest expiry.
    f.clock.advance(7199);
    assert!(f.load(&store, &b).is_some());
}

#[test]
fn relogin_to_same_org_replaces_its_session() {
    let f = Fixture::new();
    let store = f.store();
    let a = f.login(&store, None, "acme", 3600);
    let s = org_session("someone-else", f.now(), 60);
    let b = block_on(store.login(&f.random, f.now(), Some(&a), &slug("acme"), s))
        .unwrap()
        .id;
    let r = f.load(&store, &b).unwrap();
    assert_eq!(orgs(&r), ["acme"]);
    assert_eq!(r.org(&slug("acme")).unwrap().sub, "someone-else");
}

#[test]
fn expired_orgs_are_not_carried_over() {
    let f = Fixture::new();
    let store = f.store();
    let a = f.login(&store, None, "acme", 100);
    f.clock.advance(100);
    let b = f.login(&store, Some(&a), "beta", 3600);
    let r = f.load(&store, &b).unwrap();
    assert_eq!(orgs(&r), ["beta"]);
}

#[test]
fn expiry_is_per_org() {
    let f = Fixture::new();
    let store = f.store();
    let a = f.login(&store, None, "acme", 100);
    let b = f.login(&store, Some(&a), "beta", 3600);
    f.clock.advance(99);
    assert_eq!(orgs(&f.load(&store, &b).unwrap()), ["acme", "beta"]);
    f.clock.advance(1);
    assert_eq!(orgs(&f.load(&store, &b).unwrap()), ["beta"]);
    f.clock.advance(3499);
    assert_eq!(orgs(&f.load(&store, &b).unwrap()), ["beta"]);
    f.clock.advance(1);
    assert_eq!(f.load(&store, &b), None);
}

#[test]
fn record_with_only_expired_orgs_is_none_even_if_kv_kept_it() {
    // KV's 60 s minimum TTL outlives a 10 s org session.
    let f = Fixture::new();
    let store = f.store();
    let a = f.login(&store, None, "acme", 10);
    f.clock.advance(10);
    assert_eq!(f.kv.snapshot().len(), 1);
    assert_eq!(f.load(&store, &a), None);
}

#[test]
fn rejects_already_expired_session() {
    let f = Fixture::new();
    let s = org_session("u", f.now(), 0);
    let r = block_on(f.store().login(&f.random, f.now(), None, &slug("acme"), s));
    assert!(matches!(r, Err(SessionError::AlreadyExpired)));
    assert_eq!(f.kv.counts(), OpCounts::default());
}

#[test]
fn random_failure_fails_login() {
    struct Broken;
    impl Random for Broken {
        fn fill(&self, _: &mut [u8]) -> Result<(), RandomError> {
            Err(RandomError)
        }
    }
    let f = Fixture::new();
    let s = org_session("u", f.now(), 60);
    let r = block_on(f.store().login(&Broken, f.now(), None, &slug("acme"), s));
    assert!(matches!(r, Err(SessionError::Random(_))));
    assert!(f.kv.snapshot().is_empty());
}

#[test]
fn repeated_id_from_rng_is_refused() {
    struct Stuck;
    impl Random for Stuck {
        fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
            buf.fill(7);
            Ok(())
        }
    }
    let f = Fixture::new();
    let store = f.store();
    let first = block_on(store.login(
        &Stuck,
        f.now(),
        None,
        &slug("acme"),
        org_session("u", f.now(), 60),
    ))
    .unwrap()
    .id;
    let again = block_on(store.login(
        &Stuck,
        f.now(),
        Some(&first),
        &slug("beta"),
        org_session("u", f.now(), 60),
    ));
    assert!(matches!(again, Err(SessionError::Random(_))));
}

#[test]
fn store_failure_fails_login() {
    let f = Fixture::new();
    f.kv.fail.set(true);
    let s = org_session("u", f.now(), 60);
    let r = block_on(f.store().login(&f.random, f.now(), None, &slug("acme"), s));
    assert!(matches!(r, Err(SessionError::Store(_))));
}

#[test]
fn too_many_orgs_evicts_oldest_login() {
    let f = Fixture::new();
    let store = f.store();
    let mut id = f.login(&store, None, "org00", 100_000);
    for i in 1..=MAX_ORGS_PER_SESSION {
        f.clock.advance(1);
        id = f.login(&store, Some(&id), &format!("org{i:02}"), 100_000);
    }
    let r = f.load(&store, &id).unwrap();
    assert_eq!(r.orgs.len(), MAX_ORGS_PER_SESSION);
    assert!(r.org(&slug("org00")).is_none());
    assert!(r
        .org(&slug(&format!("org{MAX_ORGS_PER_SESSION:02}")))
        .is_some());
}

#[test]
fn oversized_org_session_is_refused() {
    let f = Fixture::new();
    let mut s = org_session("u", f.now(), 60);
    s.id_token_hint = Some(Secret::new("x".repeat(MAX_RECORD_BYTES)));
    let r = block_on(f.store().login(&f.random, f.now(), None, &slug("acme"), s));
    assert!(matches!(r, Err(SessionError::RecordTooLarge)));
    assert!(f.kv.snapshot().is_empty());
}

#[test]
fn large_records_evict_older_orgs_to_fit() {
    let f = Fixture::new();
    let store = f.store();
    let big = |sub: &str, now| {
        let mut s = org_session(sub, now, 3600);
        s.id_token_hint = Some(Secret::new("x".repeat(MAX_RECORD_BYTES / 3)));
        s
    };
    let mut id: Option<SessionId> = None;
    for org in ["oa", "ob", "oc", "od"] {
        f.clock.advance(1);
        let new = block_on(store.login(
            &f.random,
            f.now(),
            id.as_ref(),
            &slug(org),
            big(org, f.now()),
        ))
        .unwrap();
        id = Some(new.id);
    }
    let r = f.load(&store, &id.unwrap()).unwrap();
    assert_eq!(orgs(&r), ["oc", "od"]);
}

#[test]
fn malformed_ids_never_hit_kv() {
    let f = Fixture::new();
    let valid = f.random.token(SESSION_ID_BYTES).unwrap();
    let non_canonical = format!("{}B", &valid[..42]); // last char has low bits set
    let too_long = f.random.token(SESSION_ID_BYTES + 1).unwrap();
    for bad in [
        "",
        "short",
        &valid[..42],
        &too_long,
        &format!("{}=", &valid[..42]),
        &format!("{}+", &valid[..42]),
        &format!("{}/", &valid[..42]),
        &format!("{} ", &valid[..42]),
        &format!("{}é", &valid[..41]),
        non_canonical.as_str(),
    ] {
        assert!(!well_formed(bad), "{bad:?}");
        assert!(SessionId::from_cookie(bad).is_none(), "{bad:?}");
    }
    // Nothing was asked of the store: malformed cookies never become an id.
    assert_eq!(f.kv.counts(), OpCounts::default());
    assert!(SessionId::from_cookie(&valid).is_some());
}

#[test]
fn corrupt_or_oversized_records_count_as_no_session() {
    let f = Fixture::new();
    let store = f.store();
    let value = f.random.token(SESSION_ID_BYTES).unwrap();
    let key = record_key(&value);
    let id = sid(&value);
    block_on(f.kv.put(&key, "{not json", None)).unwrap();
    assert_eq!(f.load(&store, &id), None);
    let r = encode(&SessionRecord {
        orgs: BTreeMap::from([(slug("acme"), org_session("u", f.now(), 60))]),
        created_at: f.now(),
    })
    .unwrap();
    block_on(f.kv.put(&key, &r, None)).unwrap();
    assert!(f.load(&store, &id).is_some());
    let padded = format!("{r}{}", " ".repeat(MAX_RECORD_BYTES));
    block_on(f.kv.put(&key, &padded, None)).unwrap();
    assert_eq!(f.load(&store, &id), None);
    block_on(f.kv.put(&key, r#"{"orgs":{},"created_at":1}"#, None)).unwrap();
    assert_eq!(f.load(&store, &id), None);
}

#[test]
fn load_propagates_store_errors() {
    let f = Fixture::new();
    let store = f.store();
    let id = f.login(&store, None, "acme", 60);
    f.kv.fail.set(true);
    assert!(block_on(store.load(&id, f.now())).is_err());
}

#[test]
fn logout_all_deletes_record_and_replay_is_dead() {
    let f = Fixture::new();
    let store = f.store();
    let a = f.login(&store, None, "acme", 3600);
    let b = f.login(&store, Some(&a), "beta", 3600);
    let removed = block_on(store.logout(&b, None, f.now())).unwrap().unwrap();
    assert_eq!(orgs(&removed), ["acme", "beta"]);
    assert_eq!(
        removed.org(&slug("acme")).unwrap().id_token_hint,
        Some(Secret::new("id-token-of-user-acme"))
    );
    assert!(f.kv.snapshot().is_empty());
    // The old cookie, replayed, is dead.
    assert_eq!(f.load(&store, &b), None);
    assert_eq!(f.load(&store, &a), None);
    // A second logout removes nothing.
    assert_eq!(block_on(store.logout(&b, None, f.now())).unwrap(), None);
}

#[test]
fn logout_one_org_keeps_the_others() {
    let f = Fixture::new();
    let store = f.store();
    let a = f.login(&store, None, "acme", 3600);
    let b = f.login(&store, Some(&a), "beta", 100);
    let removed = block_on(store.logout(&b, Some(&slug("acme")), f.now()))
        .unwrap()
        .unwrap();
    assert_eq!(orgs(&removed), ["acme"]);
    assert_eq!(orgs(&f.load(&store, &b).unwrap()), ["beta"]);
    // The rewritten record's TTL follows the remaining org: gone after KV's minimum.
    f.clock.advance(MIN_TTL_SECS.max(100));
    assert!(f.kv.snapshot().is_empty());
}

#[test]
fn logout_last_org_deletes_record() {
    let f = Fixture::new();
    let store = f.store();
    let a = f.login(&store, None, "acme", 3600);
    let removed = block_on(store.logout(&a, Some(&slug("acme")), f.now())).unwrap();
    assert_eq!(orgs(&removed.unwrap()), ["acme"]);
    assert!(f.kv.snapshot().is_empty());
    assert_eq!(f.load(&store, &a), None);
}

#[test]
fn logout_of_org_not_held_removes_nothing() {
    let f = Fixture::new();
    let store = f.store();
    let a = f.login(&store, None, "acme", 3600);
    let before = f.kv.snapshot();
    assert_eq!(
        block_on(store.logout(&a, Some(&slug("beta")), f.now())).unwrap(),
        None
    );
    assert_eq!(f.kv.snapshot(), before);
    let unknown = sid(&f.random.token(SESSION_ID_BYTES).unwrap());
    assert_eq!(
        block_on(store.logout(&unknown, Some(&slug("acme")), f.now())).unwrap(),
        None
    );
}

#[test]
fn logout_one_org_drops_expired_leftovers() {
    let f = Fixture::new();
    let store = f.store();
    let a = f.login(&store, None, "acme", 10);
    let b = f.login(&store, Some(&a), "beta", 3600);
    f.clock.advance(10);
    block_on(store.logout(&b, Some(&slug("beta")), f.now())).unwrap();
    assert!(f.kv.snapshot().is_empty());
}

#[test]
fn logout_all_still_deletes_when_read_fails_parse() {
    let f = Fixture::new();
    let store = f.store();
    let value = f.random.token(SESSION_ID_BYTES).unwrap();
    block_on(f.kv.put(&record_key(&value), "garbage", None)).unwrap();
    let id = sid(&value);
    assert_eq!(block_on(store.logout(&id, None, f.now())).unwrap(), None);
    assert!(f.kv.snapshot().is_empty());
}

#[test]
fn logout_propagates_store_errors() {
    let f = Fixture::new();
    let store = f.store();
    let id = f.login(&store, None, "acme", 60);
    f.kv.fail.set(true);
    assert!(block_on(store.logout(&id, None, f.now())).is_err());
    assert!(block_on(store.logout(&id, Some(&slug("acme")), f.now())).is_err());
}

#[test]
fn cache_hit_makes_no_kv_reads() {
    let f = Fixture::new();
    let cache = Rc::new(SessionCache::new());
    let store = f.cached(&cache);
    let id = f.login(&store, None, "acme", 3600);
    let first = block_on(store.load_cached(&id, f.now())).unwrap();
    assert!(first.is_some());
    let gets = f.kv.counts().gets;
    f.clock.advance(SESSION_CACHE_SECS - 1);
    let second = block_on(store.load_cached(&id, f.now())).unwrap();
    assert_eq!(second, first);
    assert_eq!(f.kv.counts().gets, gets);
    assert_eq!(cache.len(), 1);
}

#[test]
fn cache_expires_after_session_cache_secs() {
    let f = Fixture::new();
    let cache = Rc::new(SessionCache::new());
    let store = f.cached(&cache);
    let id = f.login(&store, None, "acme", 3600);
    block_on(store.load_cached(&id, f.now())).unwrap();
    let gets = f.kv.counts().gets;
    // Another isolate signs the browser out.
    block_on(f.store().logout(&id, None, f.now())).unwrap();
    f.clock.advance(SESSION_CACHE_SECS - 1);
    assert!(block_on(store.load_cached(&id, f.now())).unwrap().is_some());
    assert_eq!(f.kv.counts().gets, gets + 1); // the other isolate's read, not ours
    f.clock.advance(1);
    assert_eq!(block_on(store.load_cached(&id, f.now())).unwrap(), None);
    assert_eq!(f.kv.counts().gets, gets + 2);
}

#[test]
fn cache_respects_org_expiry_without_kv() {
    let f = Fixture::new();
    let cache = Rc::new(SessionCache::new());
    let store = f.cached(&cache);
    let a = f.login(&store, None, "acme", 5);
    let b = f.login(&store, Some(&a), "beta", 3);
    block_on(store.load_cached(&b, f.now())).unwrap();
    let gets = f.kv.counts().gets;
    f.clock.advance(3);
    let r = block_on(store.load_cached(&b, f.now())).unwrap();
    assert_eq!(orgs(&r.unwrap()), ["acme"]);
    f.clock.advance(2);
    assert_eq!(block_on(store.load_cached(&b, f.now())).unwrap(), None);
    assert_eq!(f.kv.counts().gets, gets);
    assert!(cache.is_empty());
}

#[test]
fn cache_stale_when_clock_goes_backwards() {
    let f = Fixture::new();
    let cache = Rc::new(SessionCache::new());
    let store = f.cached(&cache);
    let id = f.login(&store, None, "acme", 3600);
    block_on(store.load_cached(&id, f.now())).unwrap();
    let gets = f.kv.counts().gets;
    f.clock.set(T0 - 1);
    block_on(store.load_cached(&id, f.now())).unwrap();
    assert_eq!(f.kv.counts().gets, gets + 1);
}

#[test]
fn local_logout_invalidates_cache() {
    let f = Fixture::new();
    let cache = Rc::new(SessionCache::new());
    let store = f.cached(&cache);
    let a = f.login(&store, None, "acme", 3600);
    let b = f.login(&store, Some(&a), "beta", 3600);
    block_on(store.load_cached(&b, f.now())).unwrap();
    block_on(store.logout(&b, Some(&slug("acme")), f.now())).unwrap();
    let r = block_on(store.load_cached(&b, f.now())).unwrap();
    assert_eq!(orgs(&r.unwrap()), ["beta"]);
    block_on(store.logout(&b, None, f.now())).unwrap();
    assert_eq!(block_on(store.load_cached(&b, f.now())).unwrap(), None);
}

#[test]
fn local_login_invalidates_cached_previous_id() {
    let f = Fixture::new();
    let cache = Rc::new(SessionCache::new());
    let store = f.cached(&cache);
    let a = f.login(&store, None, "acme", 3600);
    block_on(store.load_cached(&a, f.now())).unwrap();
    let _b = f.login(&store, Some(&a), "beta", 3600);
    assert_eq!(block_on(store.load_cached(&a, f.now())).unwrap(), None);
}

#[test]
fn misses_and_unknown_ids_are_not_cached() {
    let f = Fixture::new();
    let cache = Rc::new(SessionCache::new());
    let store = f.cached(&cache);
    let unknown = sid(&f.random.token(SESSION_ID_BYTES).unwrap());
    block_on(store.load_cached(&unknown, f.now())).unwrap();
    block_on(store.load_cached(&unknown, f.now())).unwrap();
    assert_eq!(f.kv.counts().gets, 2);
    assert!(cache.is_empty());
}

#[test]
fn cache_is_bounded() {
    let f = Fixture::new();
    let cache = Rc::new(SessionCache::bounded(3));
    let store = f.cached(&cache);
    let ids: Vec<SessionId> = (0..5)
        .map(|i| f.login(&store, None, &format!("o{i}"), 3600))
        .collect();
    for id in &ids {
        f.clock.advance(1);
        block_on(store.load_cached(id, f.now())).unwrap();
        assert!(cache.len() <= 3);
    }
    // The newest three are cached; the oldest were evicted.
    let gets = f.kv.counts().gets;
    for id in &ids[2..] {
        block_on(store.load_cached(id, f.now())).unwrap();
    }
    assert_eq!(f.kv.counts().gets, gets);
    block_on(store.load_cached(&ids[0], f.now())).unwrap();
    assert_eq!(f.kv.counts().gets, gets + 1);
    assert_eq!(cache.len(), 3);
}

#[test]
fn cache_eviction_prefers_stale_entries() {
    let cache = SessionCache::bounded(2);
    let now = UnixTime(T0);
    let r = SessionRecord {
        orgs: BTreeMap::from([(slug("oo"), org_session("u", now, 3600))]),
        created_at: now,
    };
    cache.insert("k1", &r, now);
    cache.insert("k2", &r, now.plus(SESSION_CACHE_SECS));
    cache.insert("k3", &r, now.plus(SESSION_CACHE_SECS));
    assert_eq!(cache.len(), 2);
    assert!(matches!(
        cache.get("k2", now.plus(SESSION_CACHE_SECS)),
        CacheLookup::Hit(Some(_))
    ));
    assert!(matches!(
        cache.get("k1", now.plus(SESSION_CACHE_SECS)),
        CacheLookup::Miss
    ));
    assert!(format!("{cache:?}").contains("entries: 2"));
}

#[test]
fn uncached_store_load_cached_reads_kv() {
    let f = Fixture::new();
    let store = f.store();
    let id = f.login(&store, None, "acme", 3600);
    block_on(store.load_cached(&id, f.now())).unwrap();
    block_on(store.load_cached(&id, f.now())).unwrap();
    assert_eq!(f.kv.counts().gets, 2);
}

mod props {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding};
    use proptest::prelude::*;

    /// The shape of a minted id, written as a pattern: 43 base64url characters whose last one
    /// carries no stray bits (32 bytes are 256 bits; 43 characters hold 258, RFC 4648 3.5).
    fn id_model(s: &str) -> bool {
        let b64 = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
        s.len() == SESSION_ID_LEN
            && s.bytes().all(b64)
            && s.bytes()
                .last()
                .is_some_and(|c| b"AEIMQUYcgkosw048".contains(&c))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// A session cookie value is taken as an id exactly when it has the shape of one we
        /// mint; near misses (one character changed, one too many or too few) are refused.
        #[test]
        fn cookie_values_are_ids_exactly_when_well_formed(
            bytes in prop::array::uniform32(any::<u8>()),
            at in any::<prop::sample::Index>(),
            c in prop::sample::select(b"AQgwBx9-_=+/.%".to_vec()),
            edit in 0u8..4,
            junk in "[ -~é]{0,50}",
        ) {
            let id = Base64UrlUnpadded::encode_string(&bytes);
            prop_assert!(id_model(&id) && SessionId::from_cookie(&id).is_some());
            let mut m = id.into_bytes();
            let i = at.index(m.len());
            match edit {
                0 => m[i] = c,
                1 => m.insert(i, c),
                2 => { m.remove(i); }
                _ => m = junk.into_bytes(),
            }
            let m = String::from_utf8(m).unwrap();
            prop_assert_eq!(SessionId::from_cookie(&m).is_some(), id_model(&m), "{}", m);
            prop_assert_eq!(well_formed(&m), id_model(&m));
        }
    }
}
