//! The isolate's copy of each org's revocation [`Snapshot`], and the [`Revocations`] port the
//! session store asks, answered from it.

use super::{Command, LedgerPort, Reply, Snapshot, SnapshotVersion, REVOCATION_CACHE_SECS};
use crate::core::clock::UnixTime;
use crate::core::org::OrgSlug;
use crate::core::session::{OrgSession, Revocations};
use crate::core::store::StoreError;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Most orgs whose snapshots one isolate keeps.
pub const SNAPSHOT_CACHE_MAX_ORGS: usize = 1024;

/// Most memory (by [`Snapshot::weight`]) the snapshots of one isolate take together: an isolate
/// has 128 MB, and a large org's snapshot is megabytes. One snapshot over it is still kept, alone.
pub const SNAPSHOT_CACHE_MAX_BYTES: usize = 32 << 20;

/// One org's snapshot as this isolate holds it.
#[derive(Debug)]
struct Held {
    /// When the ledger last said this is its state; `None` once [`SnapshotCache::forget`] made
    /// it stale.
    confirmed_at: Option<UnixTime>,
    version: SnapshotVersion,
    snapshot: Rc<Snapshot>,
    /// [`Snapshot::weight`], counted once.
    weight: usize,
}

impl Held {
    /// Whether it was confirmed less than [`REVOCATION_CACHE_SECS`] before `now` (a clock that
    /// went backwards counts as stale).
    fn fresh(&self, now: UnixTime) -> bool {
        self.confirmed_at
            .is_some_and(|at| at <= now && now.secs() - at.secs() < REVOCATION_CACHE_SECS)
    }
}

/// Snapshots by org, each used for at most [`REVOCATION_CACHE_SECS`] after the ledger last
/// confirmed it. A refresh sends the held version, so an unchanged snapshot costs one small
/// round trip ([`Reply::SnapshotCurrent`]) instead of the whole state again.
#[derive(Debug, Default)]
pub struct SnapshotCache {
    entries: RefCell<HashMap<OrgSlug, Held>>,
    /// How many times [`SnapshotCache::forget`] was called: a refresh that was in flight across
    /// one may carry the state from before this isolate's own change, so it is kept stale.
    forgets: std::cell::Cell<u64>,
}

impl SnapshotCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached snapshot of `org`, if confirmed less than [`REVOCATION_CACHE_SECS`] ago.
    pub fn get(&self, org: &OrgSlug, now: UnixTime) -> Option<Rc<Snapshot>> {
        let entries = self.entries.borrow();
        let held = entries.get(org)?;
        held.fresh(now).then(|| held.snapshot.clone())
    }

    /// Keeps `snapshot` of `org`, of `version`, fetched at `now` (for tests; a fetch keeps what
    /// it got itself).
    #[cfg(test)]
    pub(super) fn insert(
        &self,
        org: &OrgSlug,
        version: SnapshotVersion,
        snapshot: Snapshot,
        now: UnixTime,
    ) -> Rc<Snapshot> {
        self.keep(org, version, Rc::new(snapshot), now, true)
    }

    /// Keeps `snapshot` of `org`, of `version`, as the ledger's state at `now` (stale unless
    /// `fresh`), unless the entry holds one confirmed later (by a request that started after this
    /// one); answers `snapshot` either way, for the request that fetched it.
    fn keep(
        &self,
        org: &OrgSlug,
        version: SnapshotVersion,
        snapshot: Rc<Snapshot>,
        now: UnixTime,
        fresh: bool,
    ) -> Rc<Snapshot> {
        let mut entries = self.entries.borrow_mut();
        let weight = match entries.get(org) {
            Some(held) if held.confirmed_at.is_some_and(|at| at > now) => return snapshot,
            // Confirmed: the same content, weighed when it came.
            Some(held) if Rc::ptr_eq(&held.snapshot, &snapshot) => held.weight,
            _ => snapshot.weight(),
        };
        entries.remove(org);
        let total = |e: &HashMap<OrgSlug, Held>| e.values().map(|h| h.weight).sum::<usize>();
        if entries.len() >= SNAPSHOT_CACHE_MAX_ORGS
            || total(&entries) + weight > SNAPSHOT_CACHE_MAX_BYTES
        {
            entries.retain(|_, held| held.fresh(now));
            if entries.len() >= SNAPSHOT_CACHE_MAX_ORGS
                || total(&entries) + weight > SNAPSHOT_CACHE_MAX_BYTES
            {
                entries.clear();
            }
        }
        let held = Held {
            confirmed_at: fresh.then_some(now),
            version,
            snapshot: snapshot.clone(),
            weight,
        };
        entries.insert(org.clone(), held);
        snapshot
    }

    /// Makes `org`'s snapshot stale (after this isolate changed its ledger, so its own next
    /// request asks the ledger at once). Its version is kept for that request.
    pub fn forget(&self, org: &OrgSlug) {
        self.forgets.set(self.forgets.get().wrapping_add(1));
        if let Some(held) = self.entries.borrow_mut().get_mut(org) {
            held.confirmed_at = None;
        }
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
        let held = self
            .entries
            .borrow()
            .get(org)
            .map(|h| (h.version.clone(), h.snapshot.clone()));
        let have = held.as_ref().map(|(version, _)| version.clone());
        let forgets = self.forgets.get();
        let reply = ledger.call(org, Command::Snapshot { have }).await?;
        // This request may use the answer (it reflects the ledger at or after `now`); the
        // isolate keeps it fresh only if it did not change a ledger meanwhile.
        let fresh = self.forgets.get() == forgets;
        match reply {
            Reply::Snapshot { version, snapshot } => {
                Ok(self.keep(org, version, Rc::new(snapshot), now, fresh))
            }
            Reply::SnapshotCurrent => match held {
                Some((version, snapshot)) => Ok(self.keep(org, version, snapshot, now, fresh)),
                None => Err(StoreError(
                    "the ledger confirmed a snapshot that was not asked about".into(),
                )),
            },
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
