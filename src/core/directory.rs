//! The org directory: org configs and the email-domain index, in a [`KvStore`].
//!
//! KV layout:
//! * `org:{slug}` holds the [`OrgConfig`] as JSON. It is the source of truth.
//! * `domain:{domain}` holds the slug of the org that claims the domain. It is only a pointer,
//!   verified on every read: a domain routes to an org only if the index points at the org
//!   **and** the org's config lists the domain.
//!
//! Workers KV has no transactions and no compare-and-swap, so every write sequence below is
//! ordered such that any prefix of it (a crash, a failed write) leaves a state where each domain
//! routes to at most one org, and only to an org whose stored config claims it:
//! * a domain is routed by a single key (`domain:{domain}`), so it can never route to two orgs;
//! * an index entry is followed only when the config it points at lists the domain, so an entry
//!   written ahead of its config, left behind by a deleted org, or orphaned by a dropped domain
//!   routes nowhere (and another org may claim that domain).
//!
//! Limits, by design of the store: two admin writes racing for the same new domain from
//! different requests can both pass the conflict check; the later index write wins the routing,
//! and the loser's next save reports [`DirectoryError::DomainClaimed`]. Workers KV is eventually
//! consistent (a write can take ~60 s to reach other locations), so for up to that long after a
//! change a lookup elsewhere may still see the previous routing, and an admin check may read
//! stale index entries.

use crate::core::email::EmailDomain;
use crate::core::org::{OrgConfig, OrgSlug};
use crate::core::store::{KvStore, StoreError};

/// Key prefix of org configs.
pub const ORG_PREFIX: &str = "org:";
/// Key prefix of the domain index.
pub const DOMAIN_PREFIX: &str = "domain:";

/// Why a directory operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DirectoryError {
    /// Another org's config lists this domain and the index routes it there (HTTP 409).
    /// Which org is deliberately not said.
    DomainClaimed {
        /// The contested domain.
        domain: EmailDomain,
    },
    /// The store failed.
    Store(StoreError),
    /// A stored value cannot be read (names the key, never the value).
    Corrupt(String),
}

impl std::fmt::Display for DirectoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DirectoryError::DomainClaimed { domain } => {
                write!(
                    f,
                    "the domain {domain} is already claimed by another organisation"
                )
            }
            DirectoryError::Store(e) => e.fmt(f),
            DirectoryError::Corrupt(what) => write!(f, "corrupt directory entry: {what}"),
        }
    }
}

impl std::error::Error for DirectoryError {}

impl From<StoreError> for DirectoryError {
    fn from(e: StoreError) -> Self {
        DirectoryError::Store(e)
    }
}

/// What [`OrgDirectory::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// There was no config for the org before.
    Created,
    /// An existing config was replaced.
    Updated,
}

/// Org configs and the domain index over a [`KvStore`] (see the module documentation for the
/// layout and the consistency argument).
pub struct OrgDirectory<S: KvStore> {
    store: S,
}

fn org_key(slug: &OrgSlug) -> String {
    format!("{ORG_PREFIX}{slug}")
}

fn domain_key(domain: &EmailDomain) -> String {
    format!("{DOMAIN_PREFIX}{domain}")
}

impl<S: KvStore> OrgDirectory<S> {
    /// A directory over `store`.
    pub fn new(store: S) -> Self {
        OrgDirectory { store }
    }

    /// The config of org `slug`, if there is one.
    pub async fn get(&self, slug: &OrgSlug) -> Result<Option<OrgConfig>, DirectoryError> {
        let key = org_key(slug);
        let Some(raw) = self.store.get(&key).await? else {
            return Ok(None);
        };
        let config: OrgConfig = crate::core::json::from_str(&raw).map_err(|e| {
            // The serde message could quote a stored value (the secret): report only where.
            DirectoryError::Corrupt(format!(
                "{key} is not a valid org config (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if config.slug != *slug {
            return Err(DirectoryError::Corrupt(format!(
                "{key} holds the config of another org"
            )));
        }
        Ok(Some(config))
    }

    /// The slug the index entry of `domain` points at, if any.
    async fn index(&self, domain: &EmailDomain) -> Result<Option<IndexEntry>, DirectoryError> {
        let key = domain_key(domain);
        Ok(self
            .store
            .get(&key)
            .await?
            .map(|v| match OrgSlug::parse(&v) {
                Ok(slug) => IndexEntry::Org(slug),
                Err(_) => IndexEntry::Corrupt(key),
            }))
    }

    /// The org that `domain` routes to: exactly one index read and, if the index has an entry,
    /// one org read; never a scan. The index entry is honoured only if that org's config lists
    /// the domain, so a stale or half-written entry routes nowhere.
    pub async fn lookup_domain(
        &self,
        domain: &EmailDomain,
    ) -> Result<Option<OrgConfig>, DirectoryError> {
        let Some(slug) = self.domain_slug(domain).await? else {
            return Ok(None);
        };
        Ok(self
            .get(&slug)
            .await?
            .filter(|config| config.lists_domain(domain)))
    }

    /// The slug the index entry of `domain` points at (one read), not yet checked against
    /// that org's config: a caller must route only to an org whose config lists the domain,
    /// as [`OrgDirectory::lookup_domain`] does.
    pub async fn domain_slug(
        &self,
        domain: &EmailDomain,
    ) -> Result<Option<OrgSlug>, DirectoryError> {
        match self.index(domain).await? {
            None => Ok(None),
            Some(IndexEntry::Org(slug)) => Ok(Some(slug)),
            Some(IndexEntry::Corrupt(key)) => Err(DirectoryError::Corrupt(format!(
                "{key} does not hold an org slug"
            ))),
        }
    }

    /// Up to `limit` org configs, in slug order.
    pub async fn list(&self, limit: usize) -> Result<Vec<OrgConfig>, DirectoryError> {
        let keys = self.store.list(ORG_PREFIX, limit).await?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let slug = key
                .strip_prefix(ORG_PREFIX)
                .and_then(|s| OrgSlug::parse(s).ok())
                .ok_or_else(|| DirectoryError::Corrupt(format!("{key} is not an org key")))?;
            // Deleted (or expired) between the listing and the read: skip it.
            if let Some(config) = self.get(&slug).await? {
                out.push(config);
            }
        }
        Ok(out)
    }

    /// Stores `config`, creating or replacing its org.
    ///
    /// 1. Conflict check, before any write: for every domain whose index entry points at
    ///    another org that still lists the domain, fail with
    ///    [`DirectoryError::DomainClaimed`] and write nothing.
    /// 2. Point the index entries of the config's domains at this org (new domains, and entries
    ///    that were stale). They route nowhere yet: the stored config does not list them.
    /// 3. Write the config: the new domains start routing, dropped ones stop at once.
    /// 4. Delete the index entries of dropped domains that still point at this org (cleanup
    ///    only; a left-over entry routes nowhere). An entry re-read here that already points at
    ///    another org is left alone.
    pub async fn put(&self, config: OrgConfig) -> Result<PutOutcome, DirectoryError> {
        let slug = config.slug.clone();
        let existing = self.get(&slug).await?;

        // Step 1. Other orgs' configs are read at most once each (a list, not a map: it holds
        // at most one entry per domain of this config, and a map type would be one more B-tree
        // instantiation in the Wasm).
        let mut others: Vec<(OrgSlug, Option<OrgConfig>)> = Vec::new();
        let mut to_index = Vec::new();
        for domain in config.all_domains() {
            match self.index(domain).await? {
                Some(IndexEntry::Org(owner)) if owner == slug => continue,
                Some(IndexEntry::Org(owner)) => {
                    let other = match others.iter().position(|(s, _)| *s == owner) {
                        Some(i) => &others[i].1,
                        None => {
                            let other = self.get(&owner).await?;
                            others.push((owner, other));
                            &others[others.len() - 1].1
                        }
                    };
                    if other.as_ref().is_some_and(|o| o.lists_domain(domain)) {
                        return Err(DirectoryError::DomainClaimed {
                            domain: domain.clone(),
                        });
                    }
                }
                // Unreadable entries route nowhere; overwriting them repairs the index.
                Some(IndexEntry::Corrupt(_)) | None => {}
            }
            to_index.push(domain);
        }

        // Step 2.
        for domain in to_index {
            self.store
                .put(&domain_key(domain), slug.as_str(), None)
                .await?;
        }

        // Step 3.
        let json = serde_json::to_string(&config)
            .map_err(|e| DirectoryError::Corrupt(format!("cannot serialise org config: {e}")))?;
        self.store.put(&org_key(&slug), &json, None).await?;

        // Step 4.
        let outcome = match existing {
            None => PutOutcome::Created,
            Some(old) => {
                for domain in old.all_domains().filter(|d| !config.lists_domain(d)) {
                    self.delete_index_if_ours(domain, &slug).await?;
                }
                PutOutcome::Updated
            }
        };
        Ok(outcome)
    }

    /// Deletes org `slug`; `Ok(false)` if it did not exist.
    ///
    /// The config goes first, so all its domains stop routing at once (index entries are only
    /// followed to a config that lists the domain); the index entries that still point at this
    /// org are removed afterwards, as cleanup. Had the index gone first, a failure halfway
    /// would leave the org half-routed. A config that cannot be parsed is deleted too (so a
    /// corrupt org can be removed); its index entries then stay behind, routing nowhere.
    pub async fn delete(&self, slug: &OrgSlug) -> Result<bool, DirectoryError> {
        let key = org_key(slug);
        let domains = match self.get(slug).await {
            Ok(None) => return Ok(false),
            Ok(Some(config)) => config.all_domains().cloned().collect(),
            Err(DirectoryError::Corrupt(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        self.store.delete(&key).await?;
        for domain in &domains {
            self.delete_index_if_ours(domain, slug).await?;
        }
        Ok(true)
    }

    /// Adds `domain` to (`verified`) or removes it from org `slug`'s DNS-verified domains, and
    /// the routing with it; `Ok(false)` when there is no such org. Idempotent: called again
    /// with the same arguments it repairs an index entry a failed write left behind.
    ///
    /// Adding is ordered like [`OrgDirectory::put`]: the conflict check first (another org's
    /// stored config lists the domain and the index routes it there:
    /// [`DirectoryError::DomainClaimed`], nothing written), then the index entry (which routes
    /// nowhere until the config lists the domain), then the config. Removing writes the config
    /// first (routing stops at once), then deletes the index entry if it is still ours and the
    /// operator's `domains` do not list the domain too.
    ///
    /// `proven` answers what the domain registry (the claims' one writer) holds as `slug`'s
    /// verified claims. It is asked only when the config is written: of the other domains in
    /// its `verified_domains` only those are written back, since the config was read from KV,
    /// and a read that predates a release or an unverify (KV's propagation time) would
    /// otherwise list that domain again. A call that changes nothing in the config (the
    /// re-check of a claim already routing) writes nothing and asks nothing.
    pub async fn set_verified(
        &self,
        slug: &OrgSlug,
        domain: &EmailDomain,
        verified: bool,
        proven: impl AsyncFnOnce() -> Result<Vec<EmailDomain>, StoreError>,
    ) -> Result<bool, DirectoryError> {
        let Some(mut config) = self.get(slug).await? else {
            return Ok(false);
        };
        if verified {
            match self.index(domain).await? {
                Some(IndexEntry::Org(owner)) if owner == *slug => {}
                Some(IndexEntry::Org(owner)) => {
                    if self
                        .get(&owner)
                        .await?
                        .is_some_and(|o| o.lists_domain(domain))
                    {
                        return Err(DirectoryError::DomainClaimed {
                            domain: domain.clone(),
                        });
                    }
                    self.store
                        .put(&domain_key(domain), slug.as_str(), None)
                        .await?;
                }
                Some(IndexEntry::Corrupt(_)) | None => {
                    self.store
                        .put(&domain_key(domain), slug.as_str(), None)
                        .await?;
                }
            }
        }
        if config.verified_domains.contains(domain) != verified {
            let proven = proven().await?;
            config
                .verified_domains
                .retain(|d| d != domain && proven.contains(d));
            if verified {
                config.verified_domains.push(domain.clone());
            }
            self.write_config(&config).await?;
        }
        if !verified && !config.lists_domain(domain) {
            self.delete_index_if_ours(domain, slug).await?;
        }
        Ok(true)
    }

    /// The org `domain` routes to, if any (what [`OrgDirectory::lookup_domain`] finds).
    pub async fn owner_of(&self, domain: &EmailDomain) -> Result<Option<OrgSlug>, DirectoryError> {
        Ok(self.lookup_domain(domain).await?.map(|c| c.slug))
    }

    async fn write_config(&self, config: &OrgConfig) -> Result<(), DirectoryError> {
        let json = serde_json::to_string(config)
            .map_err(|e| DirectoryError::Corrupt(format!("cannot serialise org config: {e}")))?;
        self.store.put(&org_key(&config.slug), &json, None).await?;
        Ok(())
    }

    async fn delete_index_if_ours(
        &self,
        domain: &EmailDomain,
        slug: &OrgSlug,
    ) -> Result<(), DirectoryError> {
        if matches!(self.index(domain).await?, Some(IndexEntry::Org(s)) if s == *slug) {
            self.store.delete(&domain_key(domain)).await?;
        }
        Ok(())
    }
}

/// A `domain:` index value.
enum IndexEntry {
    /// Points at this org.
    Org(OrgSlug),
    /// Not a slug (carries the key, for the error message).
    Corrupt(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::clock::FixedClock;
    use crate::core::oidc::issuer::IssuerUrl;
    use crate::core::org::{ClientId, Role};
    use crate::core::secret::Secret;
    use crate::core::store::{block_on, MemoryStore};

    /// What a registry with no verified claims answers.
    async fn none() -> Result<Vec<EmailDomain>, StoreError> {
        Ok(Vec::new())
    }

    fn slug(s: &str) -> OrgSlug {
        OrgSlug::parse(s).unwrap()
    }

    fn dom(s: &str) -> EmailDomain {
        EmailDomain::parse(s).unwrap()
    }

    fn config(s: &str, domains: &[&str]) -> OrgConfig {
        OrgConfig {
            slug: slug(s),
            domains: domains.iter().map(|d| dom(d)).collect(),
            issuer: IssuerUrl::parse(&format!("https://{s}.okta.com")).unwrap(),
            client_id: ClientId::parse(&format!("{s}-client")).unwrap(),
            client_secret: Secret::new(format!("{s}-secret")),
            scopes: vec!["openid".into()],
            role_mapping: vec![],
            default_role: Some(Role::Read),
            session_ttl_secs: 28_800,
            enforced: true,
            access_rules: vec![],
            resource_groups: vec![],
            provisioning: Default::default(),
            verified_domains: vec![],
            profile: Default::default(),
        }
    }

    fn routes_to(d: &OrgDirectory<&MemoryStore<&FixedClock>>, domain: &str) -> Option<String> {
        block_on(d.lookup_domain(&dom(domain)))
            .unwrap()
            .map(|c| c.slug.as_str().to_owned())
    }

    fn keys(store: &MemoryStore<&FixedClock>) -> Vec<(String, String)> {
        store
            .snapshot()
            .into_iter()
            .map(|(k, v)| {
                let v = if k.starts_with(ORG_PREFIX) {
                    "<config>".into()
                } else {
                    v
                };
                (k, v)
            })
            .collect()
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn create_then_get_and_route() {
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        let c = config("acme", &["acme.com", "acme.io"]);
        assert_eq!(block_on(d.put(c.clone())).unwrap(), PutOutcome::Created);
        assert_eq!(block_on(d.get(&slug("acme"))).unwrap(), Some(c));
        assert_eq!(routes_to(&d, "acme.com").as_deref(), Some("acme"));
        assert_eq!(routes_to(&d, "acme.io").as_deref(), Some("acme"));
        assert_eq!(routes_to(&d, "other.com"), None);
        assert_eq!(
            keys(&store),
            kv(&[
                ("domain:acme.com", "acme"),
                ("domain:acme.io", "acme"),
                ("org:acme", "<config>"),
            ])
        );
        assert_eq!(block_on(d.get(&slug("nobody"))).unwrap(), None);
    }

    #[test]
    fn update_adds_and_drops_domains() {
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        block_on(d.put(config("acme", &["acme.com", "acme.io"]))).unwrap();
        let mut c = config("acme", &["acme.com", "acme.dev"]);
        c.client_id = ClientId::parse("rotated").unwrap();
        assert_eq!(block_on(d.put(c)).unwrap(), PutOutcome::Updated);
        assert_eq!(routes_to(&d, "acme.com").as_deref(), Some("acme"));
        assert_eq!(routes_to(&d, "acme.dev").as_deref(), Some("acme"));
        assert_eq!(routes_to(&d, "acme.io"), None);
        assert_eq!(
            keys(&store),
            kv(&[
                ("domain:acme.com", "acme"),
                ("domain:acme.dev", "acme"),
                ("org:acme", "<config>"),
            ])
        );
        let got = block_on(d.get(&slug("acme"))).unwrap().unwrap();
        assert_eq!(got.client_id.as_str(), "rotated");
    }

    #[test]
    fn domain_moves_between_orgs() {
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        block_on(d.put(config("alpha", &["alpha.com", "shared.com"]))).unwrap();
        assert_eq!(
            block_on(d.put(config("beta", &["beta.com", "shared.com"]))),
            Err(DirectoryError::DomainClaimed {
                domain: dom("shared.com")
            })
        );
        block_on(d.put(config("alpha", &["alpha.com"]))).unwrap();
        assert_eq!(routes_to(&d, "shared.com"), None);
        assert_eq!(
            block_on(d.put(config("beta", &["beta.com", "shared.com"]))).unwrap(),
            PutOutcome::Created
        );
        assert_eq!(routes_to(&d, "shared.com").as_deref(), Some("beta"));
        assert_eq!(routes_to(&d, "alpha.com").as_deref(), Some("alpha"));
    }

    #[test]
    fn conflict_writes_nothing() {
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        block_on(d.put(config("alpha", &["alpha.com"]))).unwrap();
        block_on(d.put(config("beta", &["beta.com"]))).unwrap();
        let before = store.snapshot();
        // New domain first, contested one last: the check must precede every write.
        let err = block_on(d.put(config("beta", &["beta.com", "new.com", "alpha.com"])));
        assert_eq!(
            err,
            Err(DirectoryError::DomainClaimed {
                domain: dom("alpha.com")
            })
        );
        let err = block_on(d.put(config("gamma", &["gamma.com", "alpha.com"])));
        assert!(matches!(err, Err(DirectoryError::DomainClaimed { .. })));
        assert_eq!(store.snapshot(), before);
        assert_eq!(
            DirectoryError::DomainClaimed {
                domain: dom("alpha.com")
            }
            .to_string(),
            "the domain alpha.com is already claimed by another organisation"
        );
    }

    #[test]
    fn delete_stops_routing_and_cleans_up() {
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        block_on(d.put(config("acme", &["acme.com", "acme.io"]))).unwrap();
        block_on(d.put(config("other", &["other.com"]))).unwrap();
        assert!(block_on(d.delete(&slug("acme"))).unwrap());
        assert_eq!(routes_to(&d, "acme.com"), None);
        assert_eq!(block_on(d.get(&slug("acme"))).unwrap(), None);
        assert_eq!(
            keys(&store),
            kv(&[("domain:other.com", "other"), ("org:other", "<config>")])
        );
        assert!(!block_on(d.delete(&slug("acme"))).unwrap());
    }

    #[test]
    fn delete_without_index_cleanup_still_stops_routing() {
        // What a crash right after the first write of `delete` leaves behind.
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        block_on(d.put(config("acme", &["acme.com"]))).unwrap();
        block_on(store.delete("org:acme")).unwrap();
        assert_eq!(routes_to(&d, "acme.com"), None);
        // And the domain is free for another org.
        block_on(d.put(config("newco", &["acme.com"]))).unwrap();
        assert_eq!(routes_to(&d, "acme.com").as_deref(), Some("newco"));
    }

    #[test]
    fn delete_leaves_entries_now_owned_by_others() {
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        block_on(d.put(config("acme", &["acme.com"]))).unwrap();
        // Simulate a race: another org took the index entry meanwhile.
        block_on(store.put("domain:acme.com", "newco", None)).unwrap();
        assert!(block_on(d.delete(&slug("acme"))).unwrap());
        assert_eq!(
            block_on(store.get("domain:acme.com")).unwrap().as_deref(),
            Some("newco")
        );
    }

    #[test]
    fn stale_or_half_written_index_does_not_route() {
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        block_on(d.put(config("acme", &["acme.com"]))).unwrap();
        // Points at an org that does not list the domain (half-written put, dropped domain).
        block_on(store.put("domain:evil.com", "acme", None)).unwrap();
        assert_eq!(routes_to(&d, "evil.com"), None);
        // Points at an org that does not exist.
        block_on(store.put("domain:ghost.com", "ghost", None)).unwrap();
        assert_eq!(routes_to(&d, "ghost.com"), None);
        // Such entries do not block a legitimate claim.
        block_on(d.put(config("evil-co", &["evil.com", "ghost.com"]))).unwrap();
        assert_eq!(routes_to(&d, "evil.com").as_deref(), Some("evil-co"));
        assert_eq!(routes_to(&d, "ghost.com").as_deref(), Some("evil-co"));
    }

    #[test]
    fn lookup_does_exactly_two_gets() {
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        block_on(d.put(config("acme", &["acme.com"]))).unwrap();
        let before = store.counts();
        assert!(routes_to(&d, "acme.com").is_some());
        let after = store.counts();
        assert_eq!(after.gets - before.gets, 2);
        assert_eq!(after.lists, before.lists);
        assert_eq!(after.puts, before.puts);
        // A miss stops after the index read.
        assert_eq!(routes_to(&d, "nope.com"), None);
        assert_eq!(store.counts().gets - after.gets, 1);
        assert_eq!(store.counts().lists, 0);
    }

    #[test]
    fn list_returns_configs() {
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        for s in ["cc", "aa", "bb"] {
            block_on(d.put(config(s, &[&format!("{s}.com")]))).unwrap();
        }
        let all: Vec<String> = block_on(d.list(10))
            .unwrap()
            .into_iter()
            .map(|c| c.slug.to_string())
            .collect();
        assert_eq!(all, ["aa", "bb", "cc"]);
        assert_eq!(block_on(d.list(2)).unwrap().len(), 2);
    }

    #[test]
    fn corrupt_org_config_reported_without_value() {
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        block_on(store.put("org:acme", "{\"client_secret\":\"hunter2\"", None)).unwrap();
        block_on(store.put("domain:acme.com", "acme", None)).unwrap();
        let e = block_on(d.get(&slug("acme"))).unwrap_err();
        assert!(matches!(e, DirectoryError::Corrupt(_)));
        assert!(!e.to_string().contains("hunter2"));
        assert!(matches!(
            block_on(d.lookup_domain(&dom("acme.com"))),
            Err(DirectoryError::Corrupt(_))
        ));
        assert!(matches!(
            block_on(d.list(10)),
            Err(DirectoryError::Corrupt(_))
        ));
        assert!(matches!(
            block_on(d.put(config("acme", &["acme.com"]))),
            Err(DirectoryError::Corrupt(_))
        ));
        // A corrupt org can still be deleted.
        assert!(block_on(d.delete(&slug("acme"))).unwrap());
        assert_eq!(block_on(d.get(&slug("acme"))).unwrap(), None);
    }

    #[test]
    fn config_under_wrong_key_is_corrupt() {
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        let json = serde_json::to_string(&config("other", &["acme.com"])).unwrap();
        block_on(store.put("org:acme", &json, None)).unwrap();
        block_on(store.put("domain:acme.com", "acme", None)).unwrap();
        assert!(matches!(
            block_on(d.lookup_domain(&dom("acme.com"))),
            Err(DirectoryError::Corrupt(_))
        ));
    }

    #[test]
    fn corrupt_index_entry() {
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        block_on(store.put("domain:acme.com", "Not A Slug", None)).unwrap();
        assert!(matches!(
            block_on(d.lookup_domain(&dom("acme.com"))),
            Err(DirectoryError::Corrupt(_))
        ));
        // Saving an org that claims the domain repairs the entry.
        block_on(d.put(config("acme", &["acme.com"]))).unwrap();
        assert_eq!(routes_to(&d, "acme.com").as_deref(), Some("acme"));
    }

    #[test]
    fn corrupt_other_org_blocks_claim() {
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        block_on(store.put("org:alpha", "garbage", None)).unwrap();
        block_on(store.put("domain:x.com", "alpha", None)).unwrap();
        let before = store.snapshot();
        assert!(matches!(
            block_on(d.put(config("beta", &["x.com"]))),
            Err(DirectoryError::Corrupt(_))
        ));
        assert_eq!(store.snapshot(), before);
    }

    #[test]
    fn dns_verified_domains_route_and_stop_routing() {
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        block_on(d.put(config("acme", &["acme.com"]))).unwrap();
        block_on(d.put(config("other", &["other.com"]))).unwrap();
        assert!(block_on(d.set_verified(&slug("acme"), &dom("acme.dev"), true, none)).unwrap());
        assert_eq!(routes_to(&d, "acme.dev").as_deref(), Some("acme"));
        assert_eq!(
            block_on(d.owner_of(&dom("acme.dev"))).unwrap(),
            Some(slug("acme"))
        );
        // Idempotent, and kept by an admin put of the config (which keeps verified_domains).
        assert!(block_on(d.set_verified(&slug("acme"), &dom("acme.dev"), true, none)).unwrap());
        let mut c = config("acme", &["acme.com"]);
        c.verified_domains = block_on(d.get(&slug("acme")))
            .unwrap()
            .unwrap()
            .verified_domains;
        block_on(d.put(c)).unwrap();
        assert_eq!(routes_to(&d, "acme.dev").as_deref(), Some("acme"));
        // The operator cannot give a DNS-verified domain to another org.
        assert_eq!(
            block_on(d.put(config("other", &["other.com", "acme.dev"]))),
            Err(DirectoryError::DomainClaimed {
                domain: dom("acme.dev")
            })
        );
        // Nor can DNS take an operator-listed one.
        let before = store.snapshot();
        assert_eq!(
            block_on(d.set_verified(&slug("acme"), &dom("other.com"), true, none)),
            Err(DirectoryError::DomainClaimed {
                domain: dom("other.com")
            })
        );
        assert_eq!(store.snapshot(), before);
        // Unverified: routing stops, the index entry goes.
        assert!(block_on(d.set_verified(&slug("acme"), &dom("acme.dev"), false, none)).unwrap());
        assert_eq!(routes_to(&d, "acme.dev"), None);
        assert_eq!(block_on(store.get("domain:acme.dev")).unwrap(), None);
        // A domain both listed by the operator and DNS-verified keeps routing when unverified.
        block_on(d.set_verified(&slug("acme"), &dom("acme.com"), true, none)).unwrap();
        block_on(d.set_verified(&slug("acme"), &dom("acme.com"), false, none)).unwrap();
        assert_eq!(routes_to(&d, "acme.com").as_deref(), Some("acme"));
        // An org that is gone: nothing to do.
        assert!(!block_on(d.set_verified(&slug("ghost"), &dom("g.com"), true, none)).unwrap());
        assert_eq!(block_on(store.get("domain:g.com")).unwrap(), None);
    }

    #[test]
    fn deleting_an_org_drops_its_dns_verified_routing() {
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        block_on(d.put(config("acme", &["acme.com"]))).unwrap();
        block_on(d.set_verified(&slug("acme"), &dom("acme.dev"), true, none)).unwrap();
        // A put that drops nothing keeps it; the org's deletion removes its entry.
        assert!(block_on(d.delete(&slug("acme"))).unwrap());
        assert_eq!(routes_to(&d, "acme.dev"), None);
        assert_eq!(keys(&store), kv(&[]));
    }

    #[test]
    fn store_failures_surface() {
        let clock = FixedClock::at(1_000);
        let store = MemoryStore::new(&clock);
        let d = OrgDirectory::new(&store);
        store.fail.set(true);
        assert!(matches!(
            block_on(d.lookup_domain(&dom("acme.com"))),
            Err(DirectoryError::Store(_))
        ));
        assert!(matches!(
            block_on(d.put(config("acme", &["acme.com"]))),
            Err(DirectoryError::Store(_))
        ));
        assert!(matches!(
            block_on(d.delete(&slug("acme"))),
            Err(DirectoryError::Store(_))
        ));
        assert!(matches!(block_on(d.list(5)), Err(DirectoryError::Store(_))));
    }
}
