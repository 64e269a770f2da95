//! Staged sign-in settings (issue "Console", point 3): an org admin's change to an enforced
//! org's issuer, client or IdP profile is kept here, not applied, until a test sign-in with it
//! succeeds for a member who would be `admin` under it ([`Staging::mark_tested`]). The mark
//! names the exact staged config it was earned with (its [`StagedConfig::digest`]), so any
//! later change to the staged config voids it, even one racing with the test.

use crate::core::clock::UnixTime;
use crate::core::org::{OrgConfig, OrgSlug};
use crate::core::secret::sha256_hex;
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

/// Longest stored value read back (a staged config is an org config: bounded by the admin body
/// cap; anything larger is not ours).
const MAX_STORED: usize = 256 * 1024;

/// A staged configuration and the digest that names this exact version of it.
#[derive(Debug)]
pub struct StagedConfig {
    /// The configuration waiting to be applied.
    pub config: OrgConfig,
    /// A hash of the stored bytes: changes whenever the staged config does. Not secret-free
    /// input (the config holds the client secret), so it is only ever compared, never shown.
    pub digest: String,
}

/// Who tested a staged config, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedTest {
    /// The [`StagedConfig::digest`] tested.
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
        Ok(crate::core::json::from_str(&raw)
            .ok()
            .map(|config| StagedConfig {
                config,
                digest: digest(&raw),
            }))
    }

    /// Stages `config` (replacing any staged one, and voiding its test mark).
    pub async fn put(&self, config: &OrgConfig) -> Result<(), StoreError> {
        let raw = serde_json::to_string(config)
            .map_err(|e| StoreError(format!("encode staged config: {e}")))?;
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

    /// Records that `email` signed in as `admin` under the staged config named `digest`.
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

    /// The test mark of `staged`, if it was earned with exactly this version of it.
    pub async fn tested(
        &self,
        slug: &OrgSlug,
        staged: &StagedConfig,
    ) -> Result<Option<StagedTest>, StoreError> {
        let Some(raw) = self.store.get(&tested_key(slug)).await? else {
            return Ok(None);
        };
        if raw.len() > MAX_STORED {
            return Ok(None);
        }
        Ok(crate::core::json::from_str::<StagedTest>(&raw)
            .ok()
            .filter(|m| m.digest == staged.digest))
    }
}

fn digest(raw: &str) -> String {
    sha256_hex(format!("edge-sso staged config\0{raw}").as_bytes())
}
