//! The ledger natively: one [`Ledger`] per org in memory, each command passed through JSON and
//! each change through [`Ledger::take_changes`] and [`Ledger::load`], as the Durable Object does,
//! so the native tests exercise the edge's wire and storage formats too. The cold rows are kept
//! apart ([`MemoryColdRows`], the twin of the object's `cold` table) and read through
//! [`ColdRows`], as on the edge.

use super::cold::{is_cold, ColdError, ColdRow, ColdRows};
use super::state::{Ledger, Row, RowChange};
use super::{Command, LedgerFuture, LedgerPort, Reply};
use crate::core::clock::{Clock, UnixTime};
use crate::core::org::OrgSlug;
use crate::core::random::CountingRandom;
use crate::core::store::StoreError;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ops::Bound;

/// One org's stored rows: the hot ones by (kind, id), and the cold ones (what the Durable
/// Object's `rows` and `cold` tables hold).
#[derive(Default)]
pub(super) struct OrgRows {
    pub(super) hot: BTreeMap<(String, String), String>,
    pub(super) cold: MemoryColdRows,
}

impl OrgRows {
    /// The ledger of these rows, as the object loads it (the hot rows; the cold ones stay here).
    pub(super) fn load(&self) -> Ledger {
        Ledger::load(self.hot.iter().map(|((kind, id), json)| Row {
            kind: kind.clone(),
            id: id.clone(),
            json: json.clone(),
        }))
    }

    /// Stores `changes` as the object does: cold rows apart, hot ones by (kind, id).
    pub(super) fn keep(&mut self, changes: Vec<RowChange>) {
        for change in changes {
            if is_cold(change.kind) {
                self.cold.store(&change);
                continue;
            }
            let key = (change.kind.to_owned(), change.id);
            match change.json {
                Some(json) => self.hot.insert(key, json),
                None => self.hot.remove(&key),
            };
        }
    }
}

/// Cold rows in memory: (kind, id) -> (until, json), what the edge's `cold` table holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryColdRows {
    /// The rows.
    pub rows: BTreeMap<(String, String), (UnixTime, String)>,
}

impl MemoryColdRows {
    /// Stores one change of a cold row (a hot one is ignored).
    pub fn store(&mut self, change: &RowChange) {
        if !is_cold(change.kind) {
            return;
        }
        let key = (change.kind.to_owned(), change.id.clone());
        match (&change.json, change.until) {
            (Some(json), Some(until)) => {
                self.rows.insert(key, (until, json.clone()));
            }
            _ => {
                self.rows.remove(&key);
            }
        }
    }

    /// The rows of `kind` with ids in `(lo, hi)`.
    fn of<'a>(
        &'a self,
        kind: &str,
        lo: Bound<&str>,
        hi: Bound<&str>,
    ) -> impl DoubleEndedIterator<Item = (&'a String, &'a (UnixTime, String))> + 'a {
        let key = |id: &str| (kind.to_owned(), id.to_owned());
        let lo = match lo {
            Bound::Excluded(id) => Bound::Excluded(key(id)),
            _ => Bound::Included(key("")),
        };
        let hi = match hi {
            Bound::Excluded(id) => Bound::Excluded(key(id)),
            // Every id of `kind` sorts before (`kind` + "\0", ""): no kind holds a NUL.
            _ => Bound::Excluded((format!("{kind}\0"), String::new())),
        };
        // `range` panics on an empty or inverted range: answer nothing for those instead.
        let valid = match (&lo, &hi) {
            (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b)) => a < b,
            _ => true,
        };
        valid
            .then(|| self.rows.range((lo, hi)))
            .into_iter()
            .flatten()
            .map(|((_, id), v)| (id, v))
    }
}

impl ColdRows for MemoryColdRows {
    fn until(&self, kind: &str, id: &str) -> Result<Option<UnixTime>, ColdError> {
        Ok(self
            .rows
            .get(&(kind.to_owned(), id.to_owned()))
            .map(|(until, _)| *until))
    }

    fn count(&self, kind: &str) -> Result<usize, ColdError> {
        Ok(self.of(kind, Bound::Unbounded, Bound::Unbounded).count())
    }

    fn expired(&self, kind: &str, now: UnixTime, limit: usize) -> Result<Vec<String>, ColdError> {
        let mut old: Vec<(UnixTime, &String)> = self
            .of(kind, Bound::Unbounded, Bound::Unbounded)
            .filter(|(_, (until, _))| *until < now)
            .map(|(id, (until, _))| (*until, id))
            .collect();
        old.sort();
        Ok(old
            .into_iter()
            .take(limit)
            .map(|(_, id)| id.clone())
            .collect())
    }

    fn ascending(
        &self,
        kind: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, ColdError> {
        let lo = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .of(kind, lo, Bound::Unbounded)
            .take(limit)
            .map(|(id, _)| id.clone())
            .collect())
    }

    fn descending(
        &self,
        kind: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ColdRow>, ColdError> {
        let hi = before.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .of(kind, Bound::Unbounded, hi)
            .rev()
            .take(limit)
            .map(|(id, (_, json))| ColdRow {
                id: id.clone(),
                json: json.clone(),
            })
            .collect())
    }
}

/// Every org's ledger in memory, stored as rows between commands.
pub struct MemoryLedger<C: Clock> {
    clock: C,
    random: CountingRandom,
    rows: RefCell<BTreeMap<OrgSlug, OrgRows>>,
    /// Commands answered so far (tests assert the hot path asks rarely).
    pub calls: Cell<usize>,
    /// When set, every call fails (to test that callers fail closed).
    pub fail: Cell<bool>,
}

impl<C: Clock> MemoryLedger<C> {
    /// Empty ledgers on `clock` (ids from a deterministic counter).
    pub fn new(clock: C) -> Self {
        MemoryLedger {
            clock,
            random: CountingRandom::default(),
            rows: RefCell::default(),
            calls: Cell::new(0),
            fail: Cell::new(false),
        }
    }

    /// Runs `cmd` synchronously (what [`LedgerPort::call`] does).
    pub fn call_now(&self, org: &OrgSlug, cmd: Command) -> Result<Reply, StoreError> {
        self.calls.set(self.calls.get() + 1);
        if self.fail.get() {
            return Err(StoreError("ledger unavailable".into()));
        }
        let wire = |e: serde_json::Error| StoreError(format!("ledger wire format: {e}"));
        let cmd: Command = crate::core::json::from_str(&serde_json::to_string(&cmd).map_err(wire)?)
            .map_err(wire)?;
        let mut all = self.rows.borrow_mut();
        let rows = all.entry(org.clone()).or_default();
        let mut ledger = rows.load();
        let reply = ledger
            .apply(cmd, self.clock.now(), &self.random, &rows.cold)
            .map_err(|e| StoreError(format!("ledger: {e}")))?;
        rows.keep(ledger.take_changes());
        let reply = serde_json::to_string(&reply).map_err(wire)?;
        crate::core::json::from_str(&reply).map_err(wire)
    }
}

impl<C: Clock> LedgerPort for MemoryLedger<C> {
    fn call<'b>(&'b self, org: &'b OrgSlug, cmd: Command) -> LedgerFuture<'b> {
        Box::pin(async move { self.call_now(org, cmd) })
    }
}
