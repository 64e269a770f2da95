//! The isolate-level cache of session records.

use super::{SessionRecord, SESSION_CACHE_MAX_ENTRIES, SESSION_CACHE_SECS};
use crate::core::clock::UnixTime;
use std::cell::RefCell;
use std::collections::HashMap;

pub(super) enum CacheLookup {
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

    pub(super) fn get(&self, key: &str, now: UnixTime) -> CacheLookup {
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

    pub(super) fn insert(&self, key: &str, record: &SessionRecord, now: UnixTime) {
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

    pub(super) fn invalidate(&self, key: &str) {
        self.entries.borrow_mut().remove(key);
    }
}
