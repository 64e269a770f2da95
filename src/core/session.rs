//! Browser sessions: one random id per browser cookie, one KV record per id, one entry per org.
//!
//! * The cookie holds a [`SessionId`]: 32 bytes from the CSPRNG, base64url (43 characters).
//! * KV holds `sess:{sha256_hex(id)}` -> JSON [`SessionRecord`]. The bearer value itself is never
//!   a KV key, so a leaked key listing does not leak live sessions.
//! * A record maps org slugs to [`OrgSession`]s, each with its own expiry: one browser can be
//!   signed in to several orgs of the hub at once.
//! * Every login mints a new id (OWASP Session Management Cheat Sheet, "Renew the Session ID After
//!   Any Privilege Level Change"; no session fixation). The still-valid org sessions of the id the
//!   browser brought are carried over into the new record and the old record is deleted, so a
//!   copy of the old cookie is dead after the login. Because a record can only ever shrink after it
//!   is written (logout of one org rewrites it without that org; nothing extends it), a cached
//!   copy can never grant more than KV does, only for longer (see [`SESSION_CACHE_SECS`]).
//! * Carry-over trusts whatever the browser's cookie points to. An attacker who could plant a
//!   cookie of their own (cookie tossing from a sibling host) would get their org session merged
//!   into the victim's. The `__Host-` prefix ([`crate::core::cookie`]) is what rules that out on
//!   https deployments.

use crate::core::clock::UnixTime;
use crate::core::random::{Random, RandomError};
use crate::core::secret::{sha256_hex, Secret};
use crate::core::store::{KvStore, StoreError, MIN_TTL_SECS};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// Random bytes in a session id (256 bits, OWASP asks for at least 64 bits of entropy).
pub const SESSION_ID_BYTES: usize = 32;
/// Length of a session id in base64url without padding.
pub const SESSION_ID_LEN: usize = 43;
/// Prefix of session records' KV keys.
pub const SESSION_KEY_PREFIX: &str = "sess:";
/// Largest session record we write or read back; larger values read from KV count as absent.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// Most org sessions one record holds; logging into one more evicts the oldest login.
pub const MAX_ORGS_PER_SESSION: usize = 16;
/// How long an isolate may answer from its [`SessionCache`] without asking KV.
///
/// Revocation trade-off: a logout or revocation that happens at another isolate or location is
/// seen here after at most `SESSION_CACHE_SECS` plus KV's own propagation delay (up to ~60 s,
/// see [`crate::core::store`]). A logout at this isolate invalidates the local cache at once.
pub const SESSION_CACHE_SECS: u64 = 10;
/// Most entries a [`SessionCache`] holds (bounded memory per isolate).
pub const SESSION_CACHE_MAX_ENTRIES: usize = 1024;

/// A session id: the bearer value in the session cookie. Not `Clone`; `Debug` is redacted.
pub struct SessionId(String);

impl SessionId {
    /// The id, for the `Set-Cookie` header. Call sites of this are the places to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionId([redacted])")
    }
}

/// One org's signed-in session inside a [`SessionRecord`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSession {
    /// The IdP's `sub` claim.
    pub sub: String,
    /// The user's email address as verified at login.
    pub email: String,
    /// The hub role granted at login.
    pub role: String,
    /// When the user authenticated (`auth_time`, or the login time).
    pub auth_time: UnixTime,
    /// When this org session ends.
    pub expires_at: UnixTime,
    /// The ID token, kept as `id_token_hint` for RP-initiated logout (OIDC RP-Initiated Logout 1.0
    /// section 2).
    pub id_token_hint: Option<Secret>,
    /// The IdP session id (`sid` claim), for back-channel / front-channel logout.
    pub sid: Option<String>,
    /// The issuer that authenticated the user.
    pub issuer: String,
}

/// The KV record behind a session id: the org sessions one browser holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Org sessions by org slug.
    pub orgs: BTreeMap<String, OrgSession>,
    /// When this record (and its id) was created.
    pub created_at: UnixTime,
}

impl SessionRecord {
    /// The session for `org`, if the browser holds one.
    pub fn org(&self, org: &str) -> Option<&OrgSession> {
        self.orgs.get(org)
    }

    /// The latest expiry of any org session (when the record as a whole ends).
    pub fn expires_at(&self) -> Option<UnixTime> {
        self.orgs.values().map(|s| s.expires_at).max()
    }

    /// Seconds until the record as a whole ends (for the cookie's `Max-Age`); 0 if it has.
    pub fn max_age(&self, now: UnixTime) -> u64 {
        self.expires_at()
            .map_or(0, |e| e.secs().saturating_sub(now.secs()))
    }

    /// Drops org sessions that have expired at `now` (an org session is valid while
    /// `now < expires_at`).
    fn retain_live(&mut self, now: UnixTime) {
        self.orgs.retain(|_, s| now < s.expires_at);
    }

    /// Evicts the org session with the oldest login other than `keep`; false if there is none.
    fn evict_oldest_except(&mut self, keep: &str) -> bool {
        let oldest = self
            .orgs
            .iter()
            .filter(|(slug, _)| slug.as_str() != keep)
            .min_by_key(|(_, s)| s.auth_time)
            .map(|(slug, _)| slug.clone());
        match oldest {
            Some(slug) => self.orgs.remove(&slug).is_some(),
            None => false,
        }
    }
}

/// What [`SessionStore::login`] produced: the id for the cookie and the record stored under it.
#[derive(Debug)]
pub struct NewSession {
    /// The new id; the old one (if any) is dead.
    pub id: SessionId,
    /// The record stored under the new id (carried-over org sessions plus the new one).
    pub record: SessionRecord,
}

/// Ways a login can fail. Nothing is half-done that grants access: on any error the browser keeps
/// no usable new id.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionError {
    /// The org session to store has already expired.
    AlreadyExpired,
    /// The new org session alone does not fit in [`MAX_RECORD_BYTES`].
    RecordTooLarge,
    /// The CSPRNG failed, or produced the id the browser brought.
    Random(RandomError),
    /// KV failed.
    Store(StoreError),
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionError::AlreadyExpired => f.write_str("the org session has already expired"),
            SessionError::RecordTooLarge => f.write_str("the session record is too large"),
            SessionError::Random(e) => write!(f, "session id: {e}"),
            SessionError::Store(e) => write!(f, "session store: {e}"),
        }
    }
}

impl std::error::Error for SessionError {}

impl From<StoreError> for SessionError {
    fn from(e: StoreError) -> Self {
        SessionError::Store(e)
    }
}

impl From<RandomError> for SessionError {
    fn from(e: RandomError) -> Self {
        SessionError::Random(e)
    }
}

/// True if `id` has the shape of an id we mint: 43 base64url characters decoding (canonically)
/// to 32 bytes. Anything else is rejected before KV is asked.
fn well_formed(id: &str) -> bool {
    if id.len() != SESSION_ID_LEN {
        return false;
    }
    let mut buf = [0u8; SESSION_ID_BYTES];
    matches!(Base64UrlUnpadded::decode(id, &mut buf), Ok(b) if b.len() == SESSION_ID_BYTES)
}

/// The KV key of a session id (a digest: the bearer value is never a key).
fn record_key(id: &str) -> String {
    format!("{SESSION_KEY_PREFIX}{}", sha256_hex(id.as_bytes()))
}

/// KV TTL for a record: until its last org session ends, at least KV's minimum.
fn record_ttl(record: &SessionRecord, now: UnixTime) -> u64 {
    record.max_age(now).max(MIN_TTL_SECS)
}

fn encode(record: &SessionRecord) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|_| StoreError("could not encode session record".into()))
}

enum CacheLookup {
    Miss,
    Hit(Option<SessionRecord>),
}

/// An isolate-level cache of session records, keyed by the record's KV key (never the id).
/// Entries live [`SESSION_CACHE_SECS`]; at most [`SESSION_CACHE_MAX_ENTRIES`] are kept.
/// Share one per isolate through an `Rc` (Workers isolates are single-threaded).
pub struct SessionCache {
    entries: RefCell<HashMap<String, (SessionRecord, UnixTime)>>,
    max_entries: usize,
}

impl Default for SessionCache {
    fn default() -> Self {
        SessionCache::bounded(SESSION_CACHE_MAX_ENTRIES)
    }
}

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache")
            .field("entries", &self.len())
            .field("max_entries", &self.max_entries)
            .finish()
    }
}

impl SessionCache {
    /// An empty cache of [`SESSION_CACHE_MAX_ENTRIES`] entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty cache holding at most `max_entries` (at least 1).
    pub fn bounded(max_entries: usize) -> Self {
        SessionCache {
            entries: RefCell::new(HashMap::new()),
            max_entries: max_entries.max(1),
        }
    }

    /// Number of cached records (fresh or stale).
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    /// True if nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn fresh(cached_at: UnixTime, now: UnixTime) -> bool {
        // A clock that went backwards makes the entry stale, not fresh forever.
        cached_at <= now && now.secs() - cached_at.secs() < SESSION_CACHE_SECS
    }

    fn get(&self, key: &str, now: UnixTime) -> CacheLookup {
        let mut entries = self.entries.borrow_mut();
        let Some((record, cached_at)) = entries.get(key) else {
            return CacheLookup::Miss;
        };
        if !Self::fresh(*cached_at, now) {
            entries.remove(key);
            return CacheLookup::Miss;
        }
        let mut record = record.clone();
        record.retain_live(now);
        if record.orgs.is_empty() {
            // Records only shrink, so KV has nothing live under this key either.
            entries.remove(key);
            return CacheLookup::Hit(None);
        }
        CacheLookup::Hit(Some(record))
    }

    fn insert(&self, key: &str, record: &SessionRecord, now: UnixTime) {
        let mut entries = self.entries.borrow_mut();
        if !entries.contains_key(key) && entries.len() >= self.max_entries {
            entries.retain(|_, (_, at)| Self::fresh(*at, now));
            if entries.len() >= self.max_entries {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    entries.remove(&k);
                }
            }
        }
        entries.insert(key.to_owned(), (record.clone(), now));
    }

    fn invalidate(&self, key: &str) {
        self.entries.borrow_mut().remove(key);
    }
}

/// Sessions in KV, optionally fronted by an isolate-level [`SessionCache`].
pub struct SessionStore<S: KvStore> {
    kv: S,
    cache: Option<Rc<SessionCache>>,
}

impl<S: KvStore> SessionStore<S> {
    /// Sessions in `kv`, uncached ([`SessionStore::load_cached`] behaves like `load`).
    pub fn new(kv: S) -> Self {
        SessionStore { kv, cache: None }
    }

    /// Sessions in `kv`, with `cache` (shared by every request of the isolate).
    pub fn with_cache(kv: S, cache: Rc<SessionCache>) -> Self {
        SessionStore {
            kv,
            cache: Some(cache),
        }
    }

    /// The record under `key` as stored: absent, oversized or unparsable counts as no session
    /// (fail closed); expired org sessions are still in it.
    async fn read(&self, key: &str) -> Result<Option<SessionRecord>, StoreError> {
        let Some(json) = self.kv.get(key).await? else {
            return Ok(None);
        };
        if json.len() > MAX_RECORD_BYTES {
            return Ok(None);
        }
        Ok(serde_json::from_str(&json).ok())
    }

    async fn load_key(
        &self,
        key: &str,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let Some(mut record) = self.read(key).await? else {
            return Ok(None);
        };
        record.retain_live(now);
        Ok((!record.orgs.is_empty()).then_some(record))
    }

    /// The live org sessions behind the cookie value `id`, straight from KV. `None` when the id is
    /// malformed (KV is not asked), unknown, or every org session in it has expired.
    pub async fn load(&self, id: &str, now: UnixTime) -> Result<Option<SessionRecord>, StoreError> {
        if !well_formed(id) {
            return Ok(None);
        }
        self.load_key(&record_key(id), now).await
    }

    /// Like [`SessionStore::load`], but answers from the isolate's cache when it has a copy younger
    /// than [`SESSION_CACHE_SECS`] (no KV read), and caches what it reads.
    pub async fn load_cached(
        &self,
        id: &str,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let Some(cache) = &self.cache else {
            return self.load(id, now).await;
        };
        if !well_formed(id) {
            return Ok(None);
        }
        let key = record_key(id);
        if let CacheLookup::Hit(record) = cache.get(&key, now) {
            return Ok(record);
        }
        let record = self.load_key(&key, now).await?;
        if let Some(r) = &record {
            cache.insert(&key, r, now);
        }
        Ok(record)
    }

    /// Signs the browser in to `org` under a new id.
    ///
    /// The id the browser brought (`previous_id`) is never reused (no session fixation): its
    /// still-valid org sessions are carried over into a record under a fresh id, with `session`
    /// replacing any earlier session for `org`, and the old record is deleted. Past
    /// [`MAX_ORGS_PER_SESSION`] or [`MAX_RECORD_BYTES`] the oldest other logins are evicted.
    /// The old record is deleted before the new one is written: if the write then fails the
    /// browser is signed out, never left with two live ids.
    pub async fn login<R: Random + ?Sized>(
        &self,
        random: &R,
        now: UnixTime,
        previous_id: Option<&str>,
        org: &str,
        session: OrgSession,
    ) -> Result<NewSession, SessionError> {
        if session.expires_at <= now {
            return Err(SessionError::AlreadyExpired);
        }
        let previous_key = previous_id.filter(|p| well_formed(p)).map(record_key);
        let mut orgs = match &previous_key {
            Some(key) => self
                .load_key(key, now)
                .await?
                .map(|r| r.orgs)
                .unwrap_or_default(),
            None => BTreeMap::new(),
        };
        orgs.insert(org.to_owned(), session);
        let mut record = SessionRecord {
            orgs,
            created_at: now,
        };
        let json = loop {
            let json = encode(&record)?;
            if record.orgs.len() <= MAX_ORGS_PER_SESSION && json.len() <= MAX_RECORD_BYTES {
                break json;
            }
            if !record.evict_oldest_except(org) {
                return Err(SessionError::RecordTooLarge);
            }
        };

        let id = random.token(SESSION_ID_BYTES)?;
        let key = record_key(&id);
        if previous_key.as_deref() == Some(key.as_str()) {
            // Only a broken RNG repeats 256 bits; never hand back the id the browser brought.
            return Err(SessionError::Random(RandomError));
        }
        if let Some(old) = &previous_key {
            if let Some(cache) = &self.cache {
                cache.invalidate(old);
            }
            self.kv.delete(old).await?;
        }
        self.kv
            .put(&key, &json, Some(record_ttl(&record, now)))
            .await?;
        Ok(NewSession {
            id: SessionId(id),
            record,
        })
    }

    /// Signs the browser out: of every org when `org` is `None` (the record is deleted), or of
    /// `org` only (the record is rewritten without it, or deleted if nothing live is left).
    /// Returns what was removed (with its `id_token_hint`s, for RP-initiated logout), or `None`
    /// if there was nothing to remove. The local cache entry is dropped in every case; other
    /// isolates see the logout after at most [`SESSION_CACHE_SECS`] plus KV propagation.
    /// Logging out of one org is a read-modify-write, not atomic: KV has no compare-and-swap, so
    /// two concurrent writes to the same record keep the last one. The worst case is a lost
    /// write: another org's logout undone, or an id retired by a concurrent login revived with
    /// the org sessions it already held (never with the new login's). Logging out of every org
    /// is a plain delete and has no such race.
    pub async fn logout(
        &self,
        id: &str,
        org: Option<&str>,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        if !well_formed(id) {
            return Ok(None);
        }
        let key = record_key(id);
        if let Some(cache) = &self.cache {
            cache.invalidate(&key);
        }
        let Some(org) = org else {
            // Delete even if the read fails: signing out must not depend on reading.
            let read = self.read(&key).await;
            self.kv.delete(&key).await?;
            return read;
        };
        let Some(mut record) = self.read(&key).await? else {
            return Ok(None);
        };
        let Some(removed) = record.orgs.remove(org) else {
            return Ok(None);
        };
        record.retain_live(now);
        if record.orgs.is_empty() {
            self.kv.delete(&key).await?;
        } else {
            let json = encode(&record)?;
            self.kv
                .put(&key, &json, Some(record_ttl(&record, now)))
                .await?;
        }
        Ok(Some(SessionRecord {
            orgs: BTreeMap::from([(org.to_owned(), removed)]),
            created_at: record.created_at,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::clock::{Clock, FixedClock};
    use crate::core::random::CountingRandom;
    use crate::core::store::{block_on, MemoryStore, OpCounts};

    const T0: u64 = 1_700_000_000;

    fn org_session(sub: &str, now: UnixTime, lifetime: u64) -> OrgSession {
        OrgSession {
            sub: sub.into(),
            email: format!("{sub}@example.com"),
            role: "member".into(),
            auth_time: now,
            expires_at: now.plus(lifetime),
            id_token_hint: Some(Secret::new(format!("id-token-of-{sub}"))),
            sid: Some(format!("sid-{sub}")),
            issuer: "https://idp.example.com".into(),
        }
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
            previous: Option<&str>,
            org: &str,
            lifetime: u64,
        ) -> SessionId {
            let s = org_session(&format!("user-{org}"), self.now(), lifetime);
            block_on(store.login(&self.random, self.now(), previous, org, s))
                .unwrap()
                .id
        }
        fn load(&self, store: &SessionStore<Kv>, id: &str) -> Option<SessionRecord> {
            block_on(store.load(id, self.now())).unwrap()
        }
    }

    fn orgs(r: &SessionRecord) -> Vec<&str> {
        r.orgs.keys().map(String::as_str).collect()
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
            "acme",
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
        let r = f.load(&store, id.expose()).unwrap();
        assert_eq!(orgs(&r), ["acme"]);
        let s = r.org("acme").unwrap();
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
        let new = f.login(&store, Some(old.expose()), "acme", 3600);
        assert_ne!(old.expose(), new.expose());
        assert_eq!(f.load(&store, old.expose()), None);
        assert!(f.load(&store, new.expose()).is_some());
        assert_eq!(f.kv.snapshot().len(), 1);
    }

    #[test]
    fn unknown_previous_id_is_never_adopted() {
        // An attacker-chosen (well-formed) id that has no record is not reused.
        let f = Fixture::new();
        let store = f.store();
        let planted = f.random.token(SESSION_ID_BYTES).unwrap();
        let new = f.login(&store, Some(&planted), "acme", 3600);
        assert_ne!(new.expose(), planted);
        assert_eq!(f.load(&store, &planted), None);
        let r = f.load(&store, new.expose()).unwrap();
        assert_eq!(orgs(&r), ["acme"]);
    }

    #[test]
    fn multi_org_carry_over() {
        let f = Fixture::new();
        let store = f.store();
        let a = f.login(&store, None, "acme", 3600);
        f.clock.advance(100);
        let b = f.login(&store, Some(a.expose()), "beta", 7200);
        let r = f.load(&store, b.expose()).unwrap();
        assert_eq!(orgs(&r), ["acme", "beta"]);
        assert_eq!(r.org("acme").unwrap().expires_at, UnixTime(T0 + 3600));
        assert_eq!(r.created_at, f.now());
        assert_eq!(f.load(&store, a.expose()), None);
        // KV TTL follows the latest expiry.
        f.clock.advance(7199);
        assert!(f.load(&store, b.expose()).is_some());
    }

    #[test]
    fn relogin_to_same_org_replaces_its_session() {
        let f = Fixture::new();
        let store = f.store();
        let a = f.login(&store, None, "acme", 3600);
        let s = org_session("someone-else", f.now(), 60);
        let b = block_on(store.login(&f.random, f.now(), Some(a.expose()), "acme", s))
            .unwrap()
            .id;
        let r = f.load(&store, b.expose()).unwrap();
        assert_eq!(orgs(&r), ["acme"]);
        assert_eq!(r.org("acme").unwrap().sub, "someone-else");
    }

    #[test]
    fn expired_orgs_are_not_carried_over() {
        let f = Fixture::new();
        let store = f.store();
        let a = f.login(&store, None, "acme", 100);
        f.clock.advance(100);
        let b = f.login(&store, Some(a.expose()), "beta", 3600);
        let r = f.load(&store, b.expose()).unwrap();
        assert_eq!(orgs(&r), ["beta"]);
    }

    #[test]
    fn expiry_is_per_org() {
        let f = Fixture::new();
        let store = f.store();
        let a = f.login(&store, None, "acme", 100);
        let b = f.login(&store, Some(a.expose()), "beta", 3600);
        f.clock.advance(99);
        assert_eq!(orgs(&f.load(&store, b.expose()).unwrap()), ["acme", "beta"]);
        f.clock.advance(1);
        assert_eq!(orgs(&f.load(&store, b.expose()).unwrap()), ["beta"]);
        f.clock.advance(3499);
        assert_eq!(orgs(&f.load(&store, b.expose()).unwrap()), ["beta"]);
        f.clock.advance(1);
        assert_eq!(f.load(&store, b.expose()), None);
    }

    #[test]
    fn record_with_only_expired_orgs_is_none_even_if_kv_kept_it() {
        // KV's 60 s minimum TTL outlives a 10 s org session.
        let f = Fixture::new();
        let store = f.store();
        let a = f.login(&store, None, "acme", 10);
        f.clock.advance(10);
        assert_eq!(f.kv.snapshot().len(), 1);
        assert_eq!(f.load(&store, a.expose()), None);
    }

    #[test]
    fn rejects_already_expired_session() {
        let f = Fixture::new();
        let s = org_session("u", f.now(), 0);
        let r = block_on(f.store().login(&f.random, f.now(), None, "acme", s));
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
        let r = block_on(f.store().login(&Broken, f.now(), None, "acme", s));
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
        let first =
            block_on(store.login(&Stuck, f.now(), None, "acme", org_session("u", f.now(), 60)))
                .unwrap()
                .id;
        let again = block_on(store.login(
            &Stuck,
            f.now(),
            Some(first.expose()),
            "beta",
            org_session("u", f.now(), 60),
        ));
        assert!(matches!(again, Err(SessionError::Random(_))));
    }

    #[test]
    fn store_failure_fails_login() {
        let f = Fixture::new();
        f.kv.fail.set(true);
        let s = org_session("u", f.now(), 60);
        let r = block_on(f.store().login(&f.random, f.now(), None, "acme", s));
        assert!(matches!(r, Err(SessionError::Store(_))));
    }

    #[test]
    fn too_many_orgs_evicts_oldest_login() {
        let f = Fixture::new();
        let store = f.store();
        let mut id = f.login(&store, None, "org00", 100_000);
        for i in 1..=MAX_ORGS_PER_SESSION {
            f.clock.advance(1);
            id = f.login(&store, Some(id.expose()), &format!("org{i:02}"), 100_000);
        }
        let r = f.load(&store, id.expose()).unwrap();
        assert_eq!(r.orgs.len(), MAX_ORGS_PER_SESSION);
        assert!(r.org("org00").is_none());
        assert!(r.org(&format!("org{MAX_ORGS_PER_SESSION:02}")).is_some());
    }

    #[test]
    fn oversized_org_session_is_refused() {
        let f = Fixture::new();
        let mut s = org_session("u", f.now(), 60);
        s.id_token_hint = Some(Secret::new("x".repeat(MAX_RECORD_BYTES)));
        let r = block_on(f.store().login(&f.random, f.now(), None, "acme", s));
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
        for org in ["a", "b", "c", "d"] {
            f.clock.advance(1);
            let prev = id.as_ref().map(|i| i.expose().to_owned());
            let new =
                block_on(store.login(&f.random, f.now(), prev.as_deref(), org, big(org, f.now())))
                    .unwrap();
            id = Some(new.id);
        }
        let r = f.load(&store, id.unwrap().expose()).unwrap();
        assert_eq!(orgs(&r), ["c", "d"]);
    }

    #[test]
    fn malformed_ids_never_hit_kv() {
        let f = Fixture::new();
        let cache = Rc::new(SessionCache::new());
        let store = f.cached(&cache);
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
            assert_eq!(block_on(store.load(bad, f.now())).unwrap(), None);
            assert_eq!(block_on(store.load_cached(bad, f.now())).unwrap(), None);
            assert_eq!(block_on(store.logout(bad, None, f.now())).unwrap(), None);
            assert_eq!(
                block_on(store.logout(bad, Some("acme"), f.now())).unwrap(),
                None
            );
        }
        assert_eq!(f.kv.counts(), OpCounts::default());
        // A malformed previous id is ignored by login: no read, no delete.
        f.login(&store, Some("not-an-id"), "acme", 60);
        assert_eq!(
            f.kv.counts(),
            OpCounts {
                puts: 1,
                ..OpCounts::default()
            }
        );
    }

    #[test]
    fn corrupt_or_oversized_records_count_as_no_session() {
        let f = Fixture::new();
        let store = f.store();
        let id = f.random.token(SESSION_ID_BYTES).unwrap();
        let key = record_key(&id);
        block_on(f.kv.put(&key, "{not json", None)).unwrap();
        assert_eq!(f.load(&store, &id), None);
        let r = encode(&SessionRecord {
            orgs: BTreeMap::from([("acme".to_owned(), org_session("u", f.now(), 60))]),
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
        assert!(block_on(store.load(id.expose(), f.now())).is_err());
    }

    #[test]
    fn logout_all_deletes_record_and_replay_is_dead() {
        let f = Fixture::new();
        let store = f.store();
        let a = f.login(&store, None, "acme", 3600);
        let b = f.login(&store, Some(a.expose()), "beta", 3600);
        let removed = block_on(store.logout(b.expose(), None, f.now()))
            .unwrap()
            .unwrap();
        assert_eq!(orgs(&removed), ["acme", "beta"]);
        assert_eq!(
            removed.org("acme").unwrap().id_token_hint,
            Some(Secret::new("id-token-of-user-acme"))
        );
        assert!(f.kv.snapshot().is_empty());
        // The old cookie, replayed, is dead.
        assert_eq!(f.load(&store, b.expose()), None);
        assert_eq!(f.load(&store, a.expose()), None);
        // A second logout removes nothing.
        assert_eq!(
            block_on(store.logout(b.expose(), None, f.now())).unwrap(),
            None
        );
    }

    #[test]
    fn logout_one_org_keeps_the_others() {
        let f = Fixture::new();
        let store = f.store();
        let a = f.login(&store, None, "acme", 3600);
        let b = f.login(&store, Some(a.expose()), "beta", 100);
        let removed = block_on(store.logout(b.expose(), Some("acme"), f.now()))
            .unwrap()
            .unwrap();
        assert_eq!(orgs(&removed), ["acme"]);
        assert_eq!(orgs(&f.load(&store, b.expose()).unwrap()), ["beta"]);
        // The rewritten record's TTL follows the remaining org: gone after KV's minimum.
        f.clock.advance(MIN_TTL_SECS.max(100));
        assert!(f.kv.snapshot().is_empty());
    }

    #[test]
    fn logout_last_org_deletes_record() {
        let f = Fixture::new();
        let store = f.store();
        let a = f.login(&store, None, "acme", 3600);
        let removed = block_on(store.logout(a.expose(), Some("acme"), f.now())).unwrap();
        assert_eq!(orgs(&removed.unwrap()), ["acme"]);
        assert!(f.kv.snapshot().is_empty());
        assert_eq!(f.load(&store, a.expose()), None);
    }

    #[test]
    fn logout_of_org_not_held_removes_nothing() {
        let f = Fixture::new();
        let store = f.store();
        let a = f.login(&store, None, "acme", 3600);
        let before = f.kv.snapshot();
        assert_eq!(
            block_on(store.logout(a.expose(), Some("beta"), f.now())).unwrap(),
            None
        );
        assert_eq!(f.kv.snapshot(), before);
        let unknown = f.random.token(SESSION_ID_BYTES).unwrap();
        assert_eq!(
            block_on(store.logout(&unknown, Some("acme"), f.now())).unwrap(),
            None
        );
    }

    #[test]
    fn logout_one_org_drops_expired_leftovers() {
        let f = Fixture::new();
        let store = f.store();
        let a = f.login(&store, None, "acme", 10);
        let b = f.login(&store, Some(a.expose()), "beta", 3600);
        f.clock.advance(10);
        block_on(store.logout(b.expose(), Some("beta"), f.now())).unwrap();
        assert!(f.kv.snapshot().is_empty());
    }

    #[test]
    fn logout_all_still_deletes_when_read_fails_parse() {
        let f = Fixture::new();
        let store = f.store();
        let id = f.random.token(SESSION_ID_BYTES).unwrap();
        block_on(f.kv.put(&record_key(&id), "garbage", None)).unwrap();
        assert_eq!(block_on(store.logout(&id, None, f.now())).unwrap(), None);
        assert!(f.kv.snapshot().is_empty());
    }

    #[test]
    fn logout_propagates_store_errors() {
        let f = Fixture::new();
        let store = f.store();
        let id = f.login(&store, None, "acme", 60);
        f.kv.fail.set(true);
        assert!(block_on(store.logout(id.expose(), None, f.now())).is_err());
        assert!(block_on(store.logout(id.expose(), Some("acme"), f.now())).is_err());
    }

    #[test]
    fn cache_hit_makes_no_kv_reads() {
        let f = Fixture::new();
        let cache = Rc::new(SessionCache::new());
        let store = f.cached(&cache);
        let id = f.login(&store, None, "acme", 3600);
        let first = block_on(store.load_cached(id.expose(), f.now())).unwrap();
        assert!(first.is_some());
        let gets = f.kv.counts().gets;
        f.clock.advance(SESSION_CACHE_SECS - 1);
        let second = block_on(store.load_cached(id.expose(), f.now())).unwrap();
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
        block_on(store.load_cached(id.expose(), f.now())).unwrap();
        let gets = f.kv.counts().gets;
        // Another isolate signs the browser out.
        block_on(f.store().logout(id.expose(), None, f.now())).unwrap();
        f.clock.advance(SESSION_CACHE_SECS - 1);
        assert!(block_on(store.load_cached(id.expose(), f.now()))
            .unwrap()
            .is_some());
        assert_eq!(f.kv.counts().gets, gets + 1); // the other isolate's read, not ours
        f.clock.advance(1);
        assert_eq!(
            block_on(store.load_cached(id.expose(), f.now())).unwrap(),
            None
        );
        assert_eq!(f.kv.counts().gets, gets + 2);
    }

    #[test]
    fn cache_respects_org_expiry_without_kv() {
        let f = Fixture::new();
        let cache = Rc::new(SessionCache::new());
        let store = f.cached(&cache);
        let a = f.login(&store, None, "acme", 5);
        let b = f.login(&store, Some(a.expose()), "beta", 3);
        block_on(store.load_cached(b.expose(), f.now())).unwrap();
        let gets = f.kv.counts().gets;
        f.clock.advance(3);
        let r = block_on(store.load_cached(b.expose(), f.now())).unwrap();
        assert_eq!(orgs(&r.unwrap()), ["acme"]);
        f.clock.advance(2);
        assert_eq!(
            block_on(store.load_cached(b.expose(), f.now())).unwrap(),
            None
        );
        assert_eq!(f.kv.counts().gets, gets);
        assert!(cache.is_empty());
    }

    #[test]
    fn cache_stale_when_clock_goes_backwards() {
        let f = Fixture::new();
        let cache = Rc::new(SessionCache::new());
        let store = f.cached(&cache);
        let id = f.login(&store, None, "acme", 3600);
        block_on(store.load_cached(id.expose(), f.now())).unwrap();
        let gets = f.kv.counts().gets;
        f.clock.set(T0 - 1);
        block_on(store.load_cached(id.expose(), f.now())).unwrap();
        assert_eq!(f.kv.counts().gets, gets + 1);
    }

    #[test]
    fn local_logout_invalidates_cache() {
        let f = Fixture::new();
        let cache = Rc::new(SessionCache::new());
        let store = f.cached(&cache);
        let a = f.login(&store, None, "acme", 3600);
        let b = f.login(&store, Some(a.expose()), "beta", 3600);
        block_on(store.load_cached(b.expose(), f.now())).unwrap();
        block_on(store.logout(b.expose(), Some("acme"), f.now())).unwrap();
        let r = block_on(store.load_cached(b.expose(), f.now())).unwrap();
        assert_eq!(orgs(&r.unwrap()), ["beta"]);
        block_on(store.logout(b.expose(), None, f.now())).unwrap();
        assert_eq!(
            block_on(store.load_cached(b.expose(), f.now())).unwrap(),
            None
        );
    }

    #[test]
    fn local_login_invalidates_cached_previous_id() {
        let f = Fixture::new();
        let cache = Rc::new(SessionCache::new());
        let store = f.cached(&cache);
        let a = f.login(&store, None, "acme", 3600);
        block_on(store.load_cached(a.expose(), f.now())).unwrap();
        let _b = f.login(&store, Some(a.expose()), "beta", 3600);
        assert_eq!(
            block_on(store.load_cached(a.expose(), f.now())).unwrap(),
            None
        );
    }

    #[test]
    fn misses_and_unknown_ids_are_not_cached() {
        let f = Fixture::new();
        let cache = Rc::new(SessionCache::new());
        let store = f.cached(&cache);
        let unknown = f.random.token(SESSION_ID_BYTES).unwrap();
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
            block_on(store.load_cached(id.expose(), f.now())).unwrap();
            assert!(cache.len() <= 3);
        }
        // The newest three are cached; the oldest were evicted.
        let gets = f.kv.counts().gets;
        for id in &ids[2..] {
            block_on(store.load_cached(id.expose(), f.now())).unwrap();
        }
        assert_eq!(f.kv.counts().gets, gets);
        block_on(store.load_cached(ids[0].expose(), f.now())).unwrap();
        assert_eq!(f.kv.counts().gets, gets + 1);
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn cache_eviction_prefers_stale_entries() {
        let cache = SessionCache::bounded(2);
        let now = UnixTime(T0);
        let r = SessionRecord {
            orgs: BTreeMap::from([("o".to_owned(), org_session("u", now, 3600))]),
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
        block_on(store.load_cached(id.expose(), f.now())).unwrap();
        block_on(store.load_cached(id.expose(), f.now())).unwrap();
        assert_eq!(f.kv.counts().gets, 2);
    }
}
