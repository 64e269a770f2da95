//! The isolate-level cache of org configurations, so that a gated request of a signed-in member
//! costs no storage read. Entries (including "no such org") live [`ORG_CACHE_SECS`]; that plus
//! KV's propagation is how long a configuration change takes to reach a live session at a
//! location other than the one that made it (the isolate that applied a change forgets its entry
//! at once).

use crate::core::clock::UnixTime;
use crate::core::directory::{DirectoryError, OrgDirectory};
use crate::core::org::{OrgConfig, OrgSlug};
use crate::core::store::KvStore;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// How long a cached org configuration is used before it is read again.
pub const ORG_CACHE_SECS: u64 = 10;
/// Most orgs kept; when full, expired entries go first, then everything.
pub const ORG_CACHE_MAX_ENTRIES: usize = 1024;

type Entry = (Option<Rc<OrgConfig>>, UnixTime);

/// Org configurations by slug, for [`ORG_CACHE_SECS`].
#[derive(Default)]
pub struct OrgCache {
    entries: RefCell<HashMap<OrgSlug, Entry>>,
}

impl std::fmt::Debug for OrgCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgCache")
            .field("entries", &self.entries.borrow().len())
            .finish()
    }
}

impl OrgCache {
    /// The configuration of `slug` (`None`: no such org), from the cache when it is fresh,
    /// otherwise from `dir`. Read failures are not cached.
    pub async fn get<S: KvStore>(
        &self,
        dir: &OrgDirectory<S>,
        slug: &OrgSlug,
        now: UnixTime,
    ) -> Result<Option<Rc<OrgConfig>>, DirectoryError> {
        if let Some((cfg, at)) = self.entries.borrow().get(slug) {
            if now.secs() < at.secs().saturating_add(ORG_CACHE_SECS) && now.secs() >= at.secs() {
                return Ok(cfg.clone());
            }
        }
        let cfg = dir.get(slug).await?.map(Rc::new);
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= ORG_CACHE_MAX_ENTRIES {
            entries.retain(|_, (_, at)| now.secs() < at.secs().saturating_add(ORG_CACHE_SECS));
            if entries.len() >= ORG_CACHE_MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(slug.clone(), (cfg.clone(), now));
        Ok(cfg)
    }

    /// Drops the entry of `slug` (after this isolate changed or deleted the org).
    pub fn forget(&self, slug: &OrgSlug) {
        self.entries.borrow_mut().remove(slug);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::clock::FixedClock;
    use crate::core::store::{block_on, MemoryStore};

    #[test]
    fn caches_hits_and_misses_for_the_window_then_reads_again() {
        let store = MemoryStore::new(FixedClock::at(1_000));
        let dir = OrgDirectory::new(&store);
        let cache = OrgCache::default();
        let slug = OrgSlug::parse("acme").unwrap();
        let t = UnixTime(1_000);
        assert!(block_on(cache.get(&dir, &slug, t)).unwrap().is_none());
        let reads = store.counts().gets;
        assert!(block_on(cache.get(&dir, &slug, UnixTime(1_009)))
            .unwrap()
            .is_none());
        assert_eq!(
            store.counts().gets,
            reads,
            "a fresh miss is served from the cache"
        );
        block_on(cache.get(&dir, &slug, UnixTime(1_010))).unwrap();
        assert!(
            store.counts().gets > reads,
            "an expired entry is read again"
        );
        let reads = store.counts().gets;
        cache.forget(&slug);
        block_on(cache.get(&dir, &slug, UnixTime(1_011))).unwrap();
        assert!(
            store.counts().gets > reads,
            "a forgotten entry is read again"
        );
    }
}
