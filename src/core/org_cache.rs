//! The isolate-level cache of org configurations, so that a gated request of a signed-in member
//! costs no storage read. Entries (including "no such org") live [`ORG_CACHE_SECS`]; that plus
//! KV's propagation is how long a configuration change takes to reach a live session at a
//! location other than the one that made it (the isolate that applied a change forgets its entry
//! at once).
//!
//! `/sso/start?email=` goes through the same cache: the domain index's pointer (domain -> slug)
//! is kept next to the configs, so a repeated lookup of a known domain costs no read either.
//! A pointer is followed only while the org's config lists the domain (the directory's rule,
//! see [`OrgDirectory::lookup_domain`]); when it no longer does, the index is read again. Only
//! pointers that led to an org are kept: a lookup of an unknown domain always reads the index,
//! so a newly added domain routes at once and anonymous lookups of made-up domains cannot fill
//! the cache.

use crate::core::clock::UnixTime;
use crate::core::directory::{DirectoryError, OrgDirectory};
use crate::core::email::EmailDomain;
use crate::core::org::{OrgConfig, OrgSlug};
use crate::core::store::KvStore;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// How long a cached org configuration is used before it is read again.
pub const ORG_CACHE_SECS: u64 = 10;
/// Most orgs kept; when full, expired entries go first, then everything.
pub const ORG_CACHE_MAX_ENTRIES: usize = 1024;
/// Most domain pointers kept, evicted like the orgs.
pub const DOMAIN_CACHE_MAX_ENTRIES: usize = 1024;

type Entry = (Option<Rc<OrgConfig>>, UnixTime);

/// Org configurations by slug, for [`ORG_CACHE_SECS`].
#[derive(Default)]
pub struct OrgCache {
    entries: RefCell<HashMap<OrgSlug, Entry>>,
    /// Domain-index pointers that led to an org listing the domain, for [`ORG_CACHE_SECS`].
    domains: RefCell<HashMap<EmailDomain, (OrgSlug, UnixTime)>>,
}

fn fresh(at: UnixTime, now: UnixTime) -> bool {
    now.secs() < at.secs().saturating_add(ORG_CACHE_SECS) && now.secs() >= at.secs()
}

/// Inserts into a map bounded at `max`: when full, expired entries go first, then everything.
fn bounded_insert<K: std::hash::Hash + Eq, V>(
    map: &mut HashMap<K, V>,
    max: usize,
    key: K,
    value: V,
    now: UnixTime,
    at: impl Fn(&V) -> UnixTime,
) {
    if map.len() >= max {
        map.retain(|_, v| fresh(at(v), now));
        if map.len() >= max {
            map.clear();
        }
    }
    map.insert(key, value);
}

impl std::fmt::Debug for OrgCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgCache")
            .field("entries", &self.entries.borrow().len())
            .field("domains", &self.domains.borrow().len())
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
            if fresh(*at, now) {
                return Ok(cfg.clone());
            }
        }
        let cfg = dir.get(slug).await?.map(Rc::new);
        bounded_insert(
            &mut self.entries.borrow_mut(),
            ORG_CACHE_MAX_ENTRIES,
            slug.clone(),
            (cfg.clone(), now),
            now,
            |(_, at)| *at,
        );
        Ok(cfg)
    }

    /// The org `domain` routes to, as [`OrgDirectory::lookup_domain`] answers it, through the
    /// cache: a fresh pointer and a cached config that lists the domain cost no read; otherwise
    /// the index is read (and the config, through [`OrgCache::get`]). Read failures are not
    /// cached.
    pub async fn by_domain<S: KvStore>(
        &self,
        dir: &OrgDirectory<S>,
        domain: &EmailDomain,
        now: UnixTime,
    ) -> Result<Option<Rc<OrgConfig>>, DirectoryError> {
        let cached = self
            .domains
            .borrow()
            .get(domain)
            .filter(|(_, at)| fresh(*at, now))
            .map(|(slug, _)| slug.clone());
        if let Some(slug) = cached {
            if let Some(cfg) = self.get(dir, &slug, now).await? {
                if cfg.lists_domain(domain) {
                    return Ok(Some(cfg));
                }
            }
            // The org dropped the domain (or is gone): the index may point elsewhere now.
            self.domains.borrow_mut().remove(domain);
        }
        let Some(slug) = dir.domain_slug(domain).await? else {
            return Ok(None);
        };
        let Some(cfg) = self
            .get(dir, &slug, now)
            .await?
            .filter(|cfg| cfg.lists_domain(domain))
        else {
            return Ok(None);
        };
        bounded_insert(
            &mut self.domains.borrow_mut(),
            DOMAIN_CACHE_MAX_ENTRIES,
            domain.clone(),
            (slug, now),
            now,
            |(_, at)| *at,
        );
        Ok(Some(cfg))
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
    use crate::core::oidc::url_policy::IdpUrlPolicy;
    use crate::core::store::{block_on, MemoryStore};

    fn org(slug: &str, domains: &[&str]) -> OrgConfig {
        let body = serde_json::json!({
            "domains": domains,
            "issuer": format!("https://{slug}.okta.com"),
            "client_id": "c",
            "client_secret": "s",
        });
        OrgConfig::from_admin_json(
            OrgSlug::parse(slug).unwrap(),
            body.to_string().as_bytes(),
            &IdpUrlPolicy {
                allow_insecure_loopback: false,
            },
            None,
        )
        .unwrap()
    }

    fn dom(s: &str) -> EmailDomain {
        EmailDomain::parse(s).unwrap()
    }

    fn routed(
        cache: &OrgCache,
        dir: &OrgDirectory<&MemoryStore<FixedClock>>,
        d: &str,
        t: u64,
    ) -> Option<String> {
        block_on(cache.by_domain(dir, &dom(d), UnixTime(t)))
            .unwrap()
            .map(|c| c.slug.as_str().to_owned())
    }

    #[test]
    fn a_known_domain_is_routed_from_the_cache_for_the_window_then_read_again() {
        let store = MemoryStore::new(FixedClock::at(1_000));
        let dir = OrgDirectory::new(&store);
        block_on(dir.put(org("acme", &["acme.com"]))).unwrap();
        let cache = OrgCache::default();
        assert_eq!(
            routed(&cache, &dir, "acme.com", 1_000).as_deref(),
            Some("acme")
        );
        let reads = store.counts().gets;
        assert_eq!(
            routed(&cache, &dir, "acme.com", 1_009).as_deref(),
            Some("acme")
        );
        assert_eq!(
            store.counts().gets,
            reads,
            "a fresh pointer and org cost no read"
        );
        assert_eq!(
            routed(&cache, &dir, "acme.com", 1_010).as_deref(),
            Some("acme")
        );
        assert_eq!(
            store.counts().gets,
            reads + 2,
            "expired: the index and the org again"
        );
    }

    #[test]
    fn an_unknown_domain_is_never_cached_so_a_new_one_routes_at_once() {
        let store = MemoryStore::new(FixedClock::at(1_000));
        let dir = OrgDirectory::new(&store);
        let cache = OrgCache::default();
        assert_eq!(routed(&cache, &dir, "acme.com", 1_000), None);
        let reads = store.counts().gets;
        assert_eq!(routed(&cache, &dir, "acme.com", 1_001), None);
        assert_eq!(
            store.counts().gets,
            reads + 1,
            "a miss reads the index each time"
        );
        block_on(dir.put(org("acme", &["acme.com"]))).unwrap();
        assert_eq!(
            routed(&cache, &dir, "acme.com", 1_002).as_deref(),
            Some("acme")
        );
        assert!(cache.domains.borrow().len() == 1);
    }

    #[test]
    fn a_pointer_is_followed_only_while_the_org_lists_the_domain() {
        let store = MemoryStore::new(FixedClock::at(1_000));
        let dir = OrgDirectory::new(&store);
        block_on(dir.put(org("acme", &["acme.com"]))).unwrap();
        let cache = OrgCache::default();
        assert_eq!(
            routed(&cache, &dir, "acme.com", 1_000).as_deref(),
            Some("acme")
        );
        // This isolate moves the domain to another org (the admin API forgets what it changed).
        block_on(dir.put(org("acme", &["acme.io"]))).unwrap();
        cache.forget(&OrgSlug::parse("acme").unwrap());
        assert_eq!(
            routed(&cache, &dir, "acme.com", 1_001),
            None,
            "dropped: routes nowhere"
        );
        block_on(dir.put(org("globex", &["acme.com"]))).unwrap();
        assert_eq!(
            routed(&cache, &dir, "acme.com", 1_002).as_deref(),
            Some("globex"),
            "the stale pointer is not kept: the index is read again"
        );
        // A deleted org: its pointer leads nowhere once the org's entry is forgotten.
        block_on(dir.delete(&OrgSlug::parse("globex").unwrap())).unwrap();
        cache.forget(&OrgSlug::parse("globex").unwrap());
        assert_eq!(routed(&cache, &dir, "acme.com", 1_003), None);
    }

    #[test]
    fn the_domain_pointers_are_bounded() {
        let store = MemoryStore::new(FixedClock::at(1_000));
        let dir = OrgDirectory::new(&store);
        let domains: Vec<String> = (0..DOMAIN_CACHE_MAX_ENTRIES + 5)
            .map(|i| format!("d{i}.example"))
            .collect();
        let names: Vec<&str> = domains.iter().map(String::as_str).collect();
        let max = crate::core::org::MAX_DOMAINS;
        for (i, chunk) in names.chunks(max).enumerate() {
            block_on(dir.put(org(&format!("org{i}"), chunk))).unwrap();
        }
        let cache = OrgCache::default();
        for (i, d) in names.iter().enumerate() {
            let expected = format!("org{}", i / max);
            assert_eq!(routed(&cache, &dir, d, 1_000), Some(expected));
            assert!(cache.domains.borrow().len() <= DOMAIN_CACHE_MAX_ENTRIES);
        }
        // Full of fresh pointers: everything goes, then the new one is kept.
        assert_eq!(cache.domains.borrow().len(), 5);
        // Full of expired ones: those go first.
        let cache = OrgCache::default();
        for d in &names[..DOMAIN_CACHE_MAX_ENTRIES - 1] {
            routed(&cache, &dir, d, 1_000);
        }
        routed(&cache, &dir, names[DOMAIN_CACHE_MAX_ENTRIES - 1], 1_020);
        routed(&cache, &dir, names[DOMAIN_CACHE_MAX_ENTRIES], 1_020);
        assert_eq!(cache.domains.borrow().len(), 2);
    }

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
