//! The org's revocation state as the hot path reads it.

use crate::core::clock::UnixTime;
use crate::core::secret::sha256_hex;
use crate::core::session::OrgSession;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Names one content of an org's [`Snapshot`]: the SHA-256 of its JSON (maps serialise in key
/// order, so equal snapshots have equal versions, whichever ledger instance made them). An
/// isolate that holds a snapshot sends its version when it refreshes; the ledger answers
/// [`super::Reply::SnapshotCurrent`] when its own snapshot has the same version, so an
/// unchanged snapshot (the usual case: sign-ins do not change it) is not sent again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotVersion(String);

impl SnapshotVersion {
    /// The version of `snapshot`.
    pub fn of(snapshot: &Snapshot) -> SnapshotVersion {
        // Serialising these plain maps cannot fail.
        let json = serde_json::to_vec(snapshot).unwrap_or_default();
        SnapshotVersion(sha256_hex(&json))
    }
}

/// Everything needed to judge an org session without asking the ledger: time-based revocations
/// (a session made at or before the time is refused) and the deprovisioned members (refused
/// whenever they signed in). Revocations older than [`super::REVOCATION_KEEP_SECS`] are left
/// out: no session they could refuse is still alive.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Every session made at or before this time is refused (org-wide revoke, org deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_before: Option<UnixTime>,
    /// Sessions of these subjects made at or before the time are refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subs: BTreeMap<String, UnixTime>,
    /// Sessions of these emails (lowercased) made at or before the time are refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub emails: BTreeMap<String, UnixTime>,
    /// Sessions made in these IdP sessions at or before the time are refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sids: BTreeMap<String, UnixTime>,
    /// Deprovisioned subjects: every session refused.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub inactive_subs: BTreeSet<String>,
    /// Deprovisioned emails (lowercased): every session refused.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub inactive_emails: BTreeSet<String>,
    /// SCIM group display names by member subject or lowercased email, for `scim_group` role
    /// rules.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scim_groups: BTreeMap<String, Vec<String>>,
}

/// Whether a revocation at `at` refuses a session made at `logged_in_at` (made at or before it).
pub(super) fn refuses(at: Option<&UnixTime>, logged_in_at: UnixTime) -> bool {
    at.is_some_and(|at| logged_in_at <= *at)
}

impl Snapshot {
    /// Whether `session` is still honoured.
    pub fn session_valid(&self, session: &OrgSession) -> bool {
        let t = session.logged_in_at();
        let email = super::fold(session.email().as_str());
        let sub = session.sub();
        !(refuses(self.all_before.as_ref(), t)
            || refuses(self.subs.get(sub), t)
            || refuses(self.emails.get(&email), t)
            || session
                .sid()
                .is_some_and(|sid| refuses(self.sids.get(sid), t))
            || self.inactive_subs.contains(sub)
            || self.inactive_emails.contains(&email))
    }

    /// About how many bytes of memory it takes (its strings and a per-entry allowance for the
    /// maps' nodes), for the isolate cache's budget.
    pub fn weight(&self) -> usize {
        const ENTRY: usize = 64;
        let keys =
            |it: &mut dyn Iterator<Item = &String>| it.map(|k| k.len() + ENTRY).sum::<usize>();
        keys(&mut self.subs.keys())
            + keys(&mut self.emails.keys())
            + keys(&mut self.sids.keys())
            + keys(&mut self.inactive_subs.iter())
            + keys(&mut self.inactive_emails.iter())
            + self
                .scim_groups
                .iter()
                .map(|(k, groups)| k.len() + ENTRY + keys(&mut groups.iter()))
                .sum::<usize>()
    }

    /// The SCIM groups of the member of `session` (by subject, else by email).
    pub fn scim_groups(&self, session: &OrgSession) -> Vec<&str> {
        self.groups_for(session.sub(), session.email().as_str())
    }

    /// The SCIM groups of the member with subject `sub` (else with `email`).
    pub fn groups_for(&self, sub: &str, email: &str) -> Vec<&str> {
        self.scim_groups
            .get(sub)
            .or_else(|| self.scim_groups.get(&super::fold(email)))
            .map_or_else(Vec::new, |g| g.iter().map(String::as_str).collect())
    }
}
