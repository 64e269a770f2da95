//! Staged sign-in settings (issue "Console", point 3): an org admin's change to an enforced
//! org's issuer, client or IdP profile is kept here, not applied, until a test sign-in with it
//! succeeds for a member who would be `admin` under it ([`Staging::mark_tested`]).
//!
//! Next to the staged config is the config it was staged against (its *base*), so that
//! applying it is a three-way [`merge`]: what the staging change changed, on top of the org's
//! config as it stands then. Whatever the operator or another admin changed since is kept.
//!
//! So the test signs in with what applying would write ([`StagedConfig::applied`] to the org's
//! current config), and its mark names exactly that ([`StagedConfig::test_digest`]: the staged
//! version and the current config): any later change to either voids it, even one racing with
//! the test. A mark earned with the staged copy alone would prove nothing about the role rules,
//! scopes or provisioning the merge keeps from the current config.

use crate::core::clock::UnixTime;
use crate::core::directory::{DirectoryError, OrgDirectory};
use crate::core::org::{OrgConfig, OrgSlug};
use crate::core::secret::{sha256_hex, Secret};
use crate::core::store::{KvStore, StoreError};
use serde::{Deserialize, Serialize};

/// KV key of an org's staged configuration.
fn staged_key(slug: &OrgSlug) -> String {
    format!("org-staged:{}", slug.as_str())
}

/// KV key of the test mark of an org's staged configuration.
fn tested_key(slug: &OrgSlug) -> String {
    format!("org-staged-tested:{}", slug.as_str())
}

/// Longest stored value read back; anything larger is not ours. A staged record is two org
/// configs (staged and base). Each comes from an admin body of at most
/// [`crate::core::org::MAX_BODY_BYTES`] (16 KiB) plus what the body does not carry: at most
/// [`crate::core::domains::MAX_CLAIMS_PER_ORG`] DNS-verified domains and as many defaulted
/// hosted domains (each at most 253 bytes, about 13 KiB per list), so a record stays well
/// under 100 KiB (pinned by a test).
const MAX_STORED: usize = 256 * 1024;

/// A staged configuration and the digest that names this exact version of it.
#[derive(Debug)]
pub struct StagedConfig {
    /// The configuration waiting to be applied.
    pub config: OrgConfig,
    /// The org's config it was staged against (what the staging `PUT` replaced); `None` for a
    /// record staged before bases were kept, which applies whole.
    pub base: Option<OrgConfig>,
    /// A hash of the stored bytes: changes whenever the staged config does. Not secret-free
    /// input (the config holds the client secret), so it is only ever compared, never shown.
    pub digest: String,
}

impl StagedConfig {
    /// The config that applying this makes of the org's `current` config, and the fields where
    /// it replaces a change made since staging: the three-way [`merge`] onto `current`; a
    /// record staged before bases were kept applies whole, with `current`'s domains (who owns
    /// which domain is the operator's word and DNS proof as they stand now: a domain removed,
    /// released or unverified since must not come back).
    pub fn applied(&self, current: &OrgConfig) -> (OrgConfig, Vec<&'static str>) {
        match &self.base {
            Some(base) => merge(base, &self.config, current),
            None => {
                let mut cfg = self.config.clone();
                cfg.domains = current.domains.clone();
                cfg.verified_domains = current.verified_domains.clone();
                (cfg, Vec::new())
            }
        }
    }

    /// The name of a test of this staged version applied to `current` ([`Self::applied`]):
    /// changes whenever either does. Compared only, never shown (the input holds the secret).
    pub fn test_digest(&self, current: &OrgConfig) -> Result<String, StoreError> {
        let (applied, _) = self.applied(current);
        let raw = serde_json::to_string(&applied)
            .map_err(|e| StoreError(format!("encode applied config: {e}")))?;
        Ok(sha256_hex(
            format!("edge-sso staged test\0{}\0{raw}", self.digest).as_bytes(),
        ))
    }
}

/// The stored form of a staged config: the config and its base. A record staged before bases
/// were kept is a bare [`OrgConfig`] (which has no `config` key, so it never reads as this).
#[derive(Serialize, Deserialize)]
struct StagedRecord {
    config: OrgConfig,
    base: OrgConfig,
}

/// Who tested a staged config, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedTest {
    /// The [`StagedConfig::test_digest`] tested.
    pub digest: String,
    /// The email of the member who signed in as `admin` under it.
    pub tested_by: String,
    /// When.
    pub at: UnixTime,
}

/// The staged configurations of orgs, in the org directory's KV store.
pub struct Staging<S> {
    store: S,
}

impl<S: KvStore> Staging<S> {
    /// Staging on `store`.
    pub fn new(store: S) -> Self {
        Staging { store }
    }

    /// The org's staged configuration, if any (an unreadable one reads as none).
    pub async fn get(&self, slug: &OrgSlug) -> Result<Option<StagedConfig>, StoreError> {
        let Some(raw) = self.store.get(&staged_key(slug)).await? else {
            return Ok(None);
        };
        if raw.len() > MAX_STORED {
            return Ok(None);
        }
        let (config, base) = match crate::core::json::from_str::<StagedRecord>(&raw) {
            Ok(r) => (r.config, Some(r.base)),
            Err(_) => match crate::core::json::from_str::<OrgConfig>(&raw) {
                Ok(legacy) => (legacy, None),
                Err(_) => return Ok(None),
            },
        };
        // A record is only ever written under its own org's key; one that names another org
        // (or whose base does) is not this org's.
        if config.slug != *slug || base.as_ref().is_some_and(|b| b.slug != *slug) {
            return Ok(None);
        }
        Ok(Some(StagedConfig {
            config,
            base,
            digest: digest(&raw),
        }))
    }

    /// Stages `config`, staged against the org's current config `base` (replacing any staged
    /// one, and voiding its test mark).
    pub async fn put(&self, base: &OrgConfig, config: &OrgConfig) -> Result<(), StoreError> {
        let raw = encode(base, config)?;
        self.store
            .put(&staged_key(&config.slug), &raw, None)
            .await?;
        self.store.delete(&tested_key(&config.slug)).await
    }

    /// Forgets the org's staged configuration and its test mark.
    pub async fn delete(&self, slug: &OrgSlug) -> Result<(), StoreError> {
        self.store.delete(&staged_key(slug)).await?;
        self.store.delete(&tested_key(slug)).await
    }

    /// The config a staged test named `test_digest` ([`StagedConfig::test_digest`]) signs in
    /// with: the staged config applied to the org's current one, while both are still those the
    /// test started with; `None` once either changed.
    pub async fn under_test(
        &self,
        slug: &OrgSlug,
        test_digest: &str,
    ) -> Result<Option<OrgConfig>, DirectoryError> {
        let Some(staged) = self.get(slug).await? else {
            return Ok(None);
        };
        let Some(current) = OrgDirectory::new(&self.store).get(slug).await? else {
            return Ok(None);
        };
        if staged.test_digest(&current)? != test_digest {
            return Ok(None);
        }
        Ok(Some(staged.applied(&current).0))
    }

    /// Records that `email` signed in as `admin` under the staged config applied to the org's
    /// current one, as named by `digest` ([`StagedConfig::test_digest`]).
    pub async fn mark_tested(
        &self,
        slug: &OrgSlug,
        digest: &str,
        email: &str,
        at: UnixTime,
    ) -> Result<(), StoreError> {
        let mark = StagedTest {
            digest: digest.to_owned(),
            tested_by: email.to_owned(),
            at,
        };
        let raw = serde_json::to_string(&mark)
            .map_err(|e| StoreError(format!("encode staged test: {e}")))?;
        self.store.put(&tested_key(slug), &raw, None).await
    }

    /// The test mark of `staged`, if it was earned with exactly this version of it applied to
    /// exactly `current` (what applying it now would write).
    pub async fn tested(
        &self,
        slug: &OrgSlug,
        staged: &StagedConfig,
        current: &OrgConfig,
    ) -> Result<Option<StagedTest>, StoreError> {
        let Some(raw) = self.store.get(&tested_key(slug)).await? else {
            return Ok(None);
        };
        if raw.len() > MAX_STORED {
            return Ok(None);
        }
        let digest = staged.test_digest(current)?;
        Ok(crate::core::json::from_str::<StagedTest>(&raw)
            .ok()
            .filter(|m| m.digest == digest))
    }
}

/// The config that applying `staged` (staged against `base`) makes of the org's `current`
/// config, and the fields where a change made since staging gives way to the staged value.
///
/// A three-way merge: a field the staging change changed (`staged` differs from `base`) is
/// taken from `staged`, every other field from `current`, so changes made since staging (by
/// the operator or another admin) are kept. When a field was changed both ways, the staged
/// value wins (it is what the test sign-in proved) and the field is named in the returned
/// list (not when both made the same change: nothing is lost then). `domains` and
/// `verified_domains` are always `current`'s: who owns which domain is the operator's word and
/// DNS proof as they stand now, never an org admin's staged copy.
///
/// Fields that only make sense together move together, so the result never mixes halves that
/// were never validated side by side:
/// * the sign-in settings (`issuer`, `client_id`, `client_secret`, `profile`) are the unit the
///   test sign-in proved; a client secret in particular is never sent to an issuer or client
///   it was not issued for (the admin `PUT` requires a new secret with a new issuer or client);
/// * `role_mapping` and `resource_groups`: a rule names a resource group.
pub fn merge(
    base: &OrgConfig,
    staged: &OrgConfig,
    current: &OrgConfig,
) -> (OrgConfig, Vec<&'static str>) {
    // Every field named, no `..`: a field added to OrgConfig fails to compile here until its
    // merge is decided.
    let OrgConfig {
        slug: _,
        domains: _,
        verified_domains: _,
        issuer,
        client_id,
        client_secret,
        profile,
        scopes,
        role_mapping,
        default_role,
        session_ttl_secs,
        enforced,
        access_rules,
        resource_groups,
        provisioning,
    } = staged;
    // The secret is compared in constant time, as everywhere (`Secret`'s `==` is not).
    let secret_eq = |a: &Secret, b: &Secret| a.ct_eq_str(b.expose());
    let sign_in_changed = base.issuer != *issuer
        || base.client_id != *client_id
        || !secret_eq(&base.client_secret, client_secret)
        || base.profile != *profile;
    let roles_changed =
        base.role_mapping != *role_mapping || base.resource_groups != *resource_groups;
    let mut over = Vec::new();
    let merged = OrgConfig {
        slug: current.slug.clone(),
        domains: current.domains.clone(),
        verified_domains: current.verified_domains.clone(),
        issuer: pick(
            &mut over,
            "issuer",
            sign_in_changed,
            PartialEq::eq,
            &base.issuer,
            issuer,
            &current.issuer,
        ),
        client_id: pick(
            &mut over,
            "client_id",
            sign_in_changed,
            PartialEq::eq,
            &base.client_id,
            client_id,
            &current.client_id,
        ),
        client_secret: pick(
            &mut over,
            "client_secret",
            sign_in_changed,
            secret_eq,
            &base.client_secret,
            client_secret,
            &current.client_secret,
        ),
        profile: pick(
            &mut over,
            "profile",
            sign_in_changed,
            PartialEq::eq,
            &base.profile,
            profile,
            &current.profile,
        ),
        role_mapping: pick(
            &mut over,
            "role_mapping",
            roles_changed,
            PartialEq::eq,
            &base.role_mapping,
            role_mapping,
            &current.role_mapping,
        ),
        resource_groups: pick(
            &mut over,
            "resource_groups",
            roles_changed,
            PartialEq::eq,
            &base.resource_groups,
            resource_groups,
            &current.resource_groups,
        ),
        scopes: own(&mut over, "scopes", &base.scopes, scopes, &current.scopes),
        default_role: own(
            &mut over,
            "default_role",
            &base.default_role,
            default_role,
            &current.default_role,
        ),
        session_ttl_secs: own(
            &mut over,
            "session_ttl_secs",
            &base.session_ttl_secs,
            session_ttl_secs,
            &current.session_ttl_secs,
        ),
        enforced: own(
            &mut over,
            "enforced",
            &base.enforced,
            enforced,
            &current.enforced,
        ),
        access_rules: own(
            &mut over,
            "access_rules",
            &base.access_rules,
            access_rules,
            &current.access_rules,
        ),
        provisioning: own(
            &mut over,
            "provisioning",
            &base.provisioning,
            provisioning,
            &current.provisioning,
        ),
    };
    let mut merged = merged;
    // The profile's cross-field rules, as a PUT of this config would run them: they may add to
    // it what its IdP needs (Okta's `groups` scope when the role rules read groups, which the
    // rules kept from `current` may do). Their refusals read only the issuer and the profile,
    // which come from one config that passed them at its PUT, so none can occur here.
    let _ = crate::core::profile::validate(&mut merged);
    (merged, over)
}

/// One field of [`merge`]: `staged` when the staging change changed it (or its unit: `changed`),
/// else `current`; `name` is recorded when that overrides a different change made since.
fn pick<T: Clone>(
    overridden: &mut Vec<&'static str>,
    name: &'static str,
    changed: bool,
    eq: impl Fn(&T, &T) -> bool,
    base: &T,
    staged: &T,
    current: &T,
) -> T {
    if !changed {
        return current.clone();
    }
    if !eq(current, base) && !eq(current, staged) {
        overridden.push(name);
    }
    staged.clone()
}

/// [`pick`] for a field merged on its own.
fn own<T: Clone + PartialEq>(
    overridden: &mut Vec<&'static str>,
    name: &'static str,
    base: &T,
    staged: &T,
    current: &T,
) -> T {
    pick(
        overridden,
        name,
        base != staged,
        PartialEq::eq,
        base,
        staged,
        current,
    )
}

/// The stored record of `config` staged against `base`.
fn encode(base: &OrgConfig, config: &OrgConfig) -> Result<String, StoreError> {
    let record = StagedRecord {
        config: config.clone(),
        base: base.clone(),
    };
    serde_json::to_string(&record).map_err(|e| StoreError(format!("encode staged config: {e}")))
}

fn digest(raw: &str) -> String {
    sha256_hex(format!("edge-sso staged config\0{raw}").as_bytes())
}

#[cfg(test)]
#[path = "staging_tests.rs"]
mod tests;
