//! Sessions in KV behind their ids, fronted by the isolate cache and checked against
//! [`Revocations`].

use super::cache::{CacheLookup, SessionCache};
use super::record::encode;
use super::{
    NoRevocations, OrgSession, Revocations, SessionId, SessionRecord, MAX_ORGS_PER_SESSION,
    MAX_RECORD_BYTES,
};
use crate::core::clock::UnixTime;
use crate::core::org::OrgSlug;
use crate::core::random::{Random, RandomError};
use crate::core::store::{KvStore, StoreError, MIN_TTL_SECS};
use std::collections::BTreeMap;
use std::rc::Rc;

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
    /// KV (or the revocation port) failed.
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

/// KV TTL for a record: until its last org session ends, at least KV's minimum.
fn record_ttl(record: &SessionRecord, now: UnixTime) -> u64 {
    record.max_age(now).max(MIN_TTL_SECS)
}

/// Sessions in KV, optionally fronted by an isolate-level [`SessionCache`], every org session
/// checked against `R` before it is handed out.
pub struct SessionStore<S: KvStore, R: Revocations = NoRevocations> {
    kv: S,
    cache: Option<Rc<SessionCache>>,
    revocations: R,
}

impl<S: KvStore> SessionStore<S> {
    /// Sessions in `kv`, uncached ([`SessionStore::load_cached`] behaves like `load`).
    pub fn new(kv: S) -> Self {
        SessionStore {
            kv,
            cache: None,
            revocations: NoRevocations,
        }
    }

    /// Sessions in `kv`, with `cache` (shared by every request of the isolate).
    pub fn with_cache(kv: S, cache: Rc<SessionCache>) -> Self {
        SessionStore {
            kv,
            cache: Some(cache),
            revocations: NoRevocations,
        }
    }
}

impl<S: KvStore, R: Revocations> SessionStore<S, R> {
    /// The same store, consulting `revocations` for every org session it hands out.
    pub fn with_revocations<R2: Revocations>(self, revocations: R2) -> SessionStore<S, R2> {
        SessionStore {
            kv: self.kv,
            cache: self.cache,
            revocations,
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
        Ok(crate::core::json::from_str(&json).ok())
    }

    /// The record under `key` with expired org sessions dropped; `None` if nothing is left.
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

    /// `record` without the org sessions [`Revocations`] refuses; `None` if nothing is left.
    async fn unrevoked(
        &self,
        record: Option<SessionRecord>,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let Some(mut record) = record else {
            return Ok(None);
        };
        let mut revoked = Vec::new();
        for (slug, s) in &record.orgs {
            if !self.revocations.org_session_valid(slug, s, now).await? {
                revoked.push(slug.clone());
            }
        }
        for slug in revoked {
            record.orgs.remove(&slug);
        }
        Ok((!record.orgs.is_empty()).then_some(record))
    }

    /// The live, unrevoked org sessions behind `id`, straight from KV. `None` when the id is
    /// unknown, or every org session in it has expired or been revoked.
    pub async fn load(
        &self,
        id: &SessionId,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let record = self.load_key(&id.key(), now).await?;
        self.unrevoked(record, now).await
    }

    /// Like [`SessionStore::load`], but answers from the isolate's cache when it has a copy younger
    /// than [`SESSION_CACHE_SECS`](super::SESSION_CACHE_SECS) (no KV read), and caches what it reads. Revocations are
    /// consulted on hits and misses alike.
    pub async fn load_cached(
        &self,
        id: &SessionId,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let Some(cache) = &self.cache else {
            return self.load(id, now).await;
        };
        let key = id.key();
        let record = match cache.get(&key, now) {
            CacheLookup::Hit(record) => record,
            CacheLookup::Miss => {
                let record = self.load_key(&key, now).await?;
                if let Some(r) = &record {
                    cache.insert(&key, r, now);
                }
                record
            }
        };
        self.unrevoked(record, now).await
    }

    /// Signs the browser in to `org` under a new id.
    ///
    /// The id the browser brought (`previous`) is never reused (no session fixation): its
    /// still-valid, unrevoked org sessions are carried over into a record under a fresh id, with
    /// `session` replacing any earlier session for `org`, and the old record is deleted. Past
    /// [`MAX_ORGS_PER_SESSION`] or [`MAX_RECORD_BYTES`] the oldest other logins are evicted.
    /// The old record is deleted before the new one is written: if the write then fails the
    /// browser is signed out, never left with two live ids.
    pub async fn login<Rng: Random + ?Sized>(
        &self,
        random: &Rng,
        now: UnixTime,
        previous: Option<&SessionId>,
        org: &OrgSlug,
        session: OrgSession,
    ) -> Result<NewSession, SessionError> {
        if session.expires_at <= now {
            return Err(SessionError::AlreadyExpired);
        }
        let previous_key = previous.map(SessionId::key);
        let mut orgs = match &previous_key {
            Some(key) => {
                let carried = self.load_key(key, now).await?;
                self.unrevoked(carried, now)
                    .await?
                    .map(|r| r.orgs)
                    .unwrap_or_default()
            }
            None => BTreeMap::new(),
        };
        orgs.insert(org.clone(), session);
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

        let id = SessionId::generate(random)?;
        let key = id.key();
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
        Ok(NewSession { id, record })
    }

    /// Signs the browser out: of every org when `org` is `None` (the record is deleted), or of
    /// `org` only (the record is rewritten without it, or deleted if nothing live is left).
    /// Returns what was removed (with its `id_token_hint`s, for RP-initiated logout), or `None`
    /// if there was nothing to remove. The local cache entry is dropped in every case; other
    /// isolates see the logout after at most [`SESSION_CACHE_SECS`](super::SESSION_CACHE_SECS) plus KV propagation.
    /// Logging out of one org is a read-modify-write, not atomic: KV has no compare-and-swap, so
    /// two concurrent writes to the same record keep the last one. The worst case is a lost
    /// write: another org's logout undone, or an id retired by a concurrent login revived with
    /// the org sessions it already held (never with the new login's). Logging out of every org
    /// is a plain delete and has no such race.
    pub async fn logout(
        &self,
        id: &SessionId,
        org: Option<&OrgSlug>,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let key = id.key();
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
            orgs: BTreeMap::from([(org.clone(), removed)]),
            created_at: record.created_at,
        }))
    }
}
