//! The isolate's copy of each org's revocation [`Snapshot`], and the [`Revocations`] port the
//! session store asks, answered from it.

use super::{Command, LedgerPort, Reply, Snapshot, REVOCATION_CACHE_SECS};
use crate::core::clock::UnixTime;
use crate::core::org::OrgSlug;
use crate::core::session::{OrgSession, Revocations};
use crate::core::store::StoreError;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Most orgs whose snapshots one isolate keeps.
pub const SNAPSHOT_CACHE_MAX_ORGS: usize = 1024;

/// Snapshots by org, each used for at most [`REVOCATION_CACHE_SECS`] after it was fetched.
#[derive(Debug, Default)]
pub struct SnapshotCache {
    entries: RefCell<HashMap<OrgSlug, (UnixTime, Rc<Snapshot>)>>,
}

impl SnapshotCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached snapshot of `org`, if fetched less than [`REVOCATION_CACHE_SECS`] ago.
    pub fn get(&self, org: &OrgSlug, now: UnixTime) -> Option<Rc<Snapshot>> {
        let entries = self.entries.borrow();
        let (at, snap) = entries.get(org)?;
        // A clock that went backwards counts as stale.
        (*at <= now && now.secs() - at.secs() < REVOCATION_CACHE_SECS).then(|| snap.clone())
    }

    /// Keeps `snapshot` of `org`, fetched at `now`.
    pub fn insert(&self, org: &OrgSlug, snapshot: Snapshot, now: UnixTime) -> Rc<Snapshot> {
        let snap = Rc::new(snapshot);
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= SNAPSHOT_CACHE_MAX_ORGS && !entries.contains_key(org) {
            entries
                .retain(|_, (at, _)| now.secs().saturating_sub(at.secs()) < REVOCATION_CACHE_SECS);
            if entries.len() >= SNAPSHOT_CACHE_MAX_ORGS {
                entries.clear();
            }
        }
        entries.insert(org.clone(), (now, snap.clone()));
        snap
    }

    /// Forgets `org`'s snapshot (after this isolate changed its ledger, so its own next request
    /// sees the change at once).
    pub fn forget(&self, org: &OrgSlug) {
        self.entries.borrow_mut().remove(org);
    }

    /// The snapshot of `org`: cached, or fetched from `ledger` (and cached).
    pub async fn snapshot(
        &self,
        ledger: &dyn LedgerPort,
        org: &OrgSlug,
        now: UnixTime,
    ) -> Result<Rc<Snapshot>, StoreError> {
        if let Some(s) = self.get(org, now) {
            return Ok(s);
        }
        match ledger.call(org, Command::Snapshot).await? {
            Reply::Snapshot(s) => Ok(self.insert(org, s, now)),
            _ => Err(StoreError(
                "the ledger answered a snapshot request oddly".into(),
            )),
        }
    }
}

/// [`Revocations`] answered from the org's ledger through the isolate's [`SnapshotCache`]: no
/// ledger round trip while the snapshot is fresh. A ledger failure fails closed.
pub struct LedgerRevocations<'a> {
    /// The ledger.
    pub ledger: &'a dyn LedgerPort,
    /// The isolate's snapshots.
    pub cache: &'a SnapshotCache,
}

impl Revocations for LedgerRevocations<'_> {
    async fn org_session_valid(
        &self,
        org: &OrgSlug,
        session: &OrgSession,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let snap = self.cache.snapshot(self.ledger, org, now).await?;
        Ok(snap.session_valid(session))
    }
}
