//! The ledger's cold rows: the collections that grow with traffic and are only ever looked up by
//! key, counted, pruned by expiry or paged (spent login transactions, seen logout-token `jti`s,
//! audit events). They stay in storage; [`super::Ledger::apply`] reads them through
//! [`ColdRows`], synchronously (a Durable Object's SQLite `exec` is synchronous), and writes them
//! through [`super::Ledger::take_changes`] with the hot rows, so a command stays all or nothing.
//!
//! Within a command the ledger reads through [`Pending`], its own not yet stored writes laid over
//! the port, so a row written earlier in the command is seen by a later read.
//!
//! Every read can fail; a failure refuses the command ([`super::LedgerError::Storage`]), it is
//! never taken as "absent" (an absent spent transaction or `jti` would allow a replay).

use crate::core::clock::UnixTime;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

/// Kind of the spent login transactions (id: the transaction's hash; json: its `until`).
pub const SPENT_TX: &str = "spent_tx";
/// Kind of the seen logout-token `jti`s (id: the `jti`; json: its `until`).
pub const JTI: &str = "jti";
/// Kind of the audit events (id: the zero-padded `seq`, so ids sort as numbers; json: the
/// [`super::AuditEvent`]).
pub const AUDIT: &str = "audit";

/// The cold kinds: their rows belong to [`ColdRows`], never to [`super::Ledger::load`].
pub const COLD_KINDS: [&str; 3] = [SPENT_TX, JTI, AUDIT];

/// Whether rows of `kind` are cold (stored only, read through [`ColdRows`]).
pub fn is_cold(kind: &str) -> bool {
    COLD_KINDS.contains(&kind)
}

/// The key of audit event `seq`: zero-padded to 20 digits, so the string order is `seq`'s.
pub fn audit_key(seq: u64) -> String {
    format!("{seq:020}")
}

/// A cold read that failed (the storage's message; it never holds a row's value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColdError(pub String);

impl fmt::Display for ColdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cold rows: {}", self.0)
    }
}

impl std::error::Error for ColdError {}

/// A stored cold row as [`ColdRows::descending`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColdRow {
    /// The key within its kind.
    pub id: String,
    /// The JSON value.
    pub json: String,
}

/// The stored cold rows, read synchronously. Each row has a kind, an id (unique within the
/// kind), an `until` (the time after which it may be pruned) and a JSON value. Every method
/// answers over the rows as stored before the command (the ledger lays its own writes over
/// them), and is bounded by its `limit`.
pub trait ColdRows {
    /// The `until` of row (`kind`, `id`), if it is stored (expired or not).
    fn until(&self, kind: &str, id: &str) -> Result<Option<UnixTime>, ColdError>;
    /// How many rows of `kind` are stored.
    fn count(&self, kind: &str) -> Result<usize, ColdError>;
    /// Ids of at most `limit` rows of `kind` whose `until` is before `now`, soonest first.
    fn expired(&self, kind: &str, now: UnixTime, limit: usize) -> Result<Vec<String>, ColdError>;
    /// Ids of at most `limit` rows of `kind` after `after` (all when `None`), in ascending id
    /// order.
    fn ascending(
        &self,
        kind: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, ColdError>;
    /// At most `limit` rows of `kind` before `before` (all when `None`), in descending id order.
    fn descending(
        &self,
        kind: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ColdRow>, ColdError>;
}

/// A pending write: `Some((until, json))` to store, `None` to delete.
pub(super) type Write = Option<(UnixTime, String)>;

/// The command's cold writes not yet taken by [`super::Ledger::take_changes`], by kind and id,
/// and the reads that see them.
#[derive(Debug, Default)]
pub(super) struct Pending {
    writes: BTreeMap<&'static str, BTreeMap<String, Write>>,
}

/// The id range `(after, before)` (exclusive, unbounded when `None`).
fn range<'a>(after: Option<&'a str>, before: Option<&'a str>) -> (Bound<&'a str>, Bound<&'a str>) {
    (
        after.map_or(Bound::Unbounded, Bound::Excluded),
        before.map_or(Bound::Unbounded, Bound::Excluded),
    )
}

impl Pending {
    /// Records a write of (`kind`, `id`).
    pub(super) fn set(&mut self, kind: &'static str, id: String, write: Write) {
        self.writes.entry(kind).or_default().insert(id, write);
    }

    /// Takes every pending write, by kind and id.
    pub(super) fn take(&mut self) -> BTreeMap<&'static str, BTreeMap<String, Write>> {
        std::mem::take(&mut self.writes)
    }

    fn of(&self, kind: &str) -> Option<&BTreeMap<String, Write>> {
        self.writes.get(kind)
    }

    /// The pending write of (`kind`, `id`), if any.
    pub(super) fn get(&self, kind: &str, id: &str) -> Option<&Write> {
        self.of(kind).and_then(|w| w.get(id))
    }

    /// The pending writes of `kind` with ids in `(after, before)`.
    fn within<'a>(
        &'a self,
        kind: &str,
        after: Option<&'a str>,
        before: Option<&'a str>,
    ) -> impl DoubleEndedIterator<Item = (&'a String, &'a Write)> + 'a {
        self.of(kind)
            .into_iter()
            .flat_map(move |w| w.range::<str, _>(range(after, before)))
    }

    /// [`ColdRows::until`] as the command sees it.
    pub(super) fn until(
        &self,
        cold: &dyn ColdRows,
        kind: &str,
        id: &str,
    ) -> Result<Option<UnixTime>, ColdError> {
        match self.get(kind, id) {
            Some(write) => Ok(write.as_ref().map(|(until, _)| *until)),
            None => cold.until(kind, id),
        }
    }

    /// [`ColdRows::expired`] as the command sees it (its own deletions left out, its own
    /// expired writes in).
    pub(super) fn expired(
        &self,
        cold: &dyn ColdRows,
        kind: &str,
        now: UnixTime,
        limit: usize,
    ) -> Result<Vec<String>, ColdError> {
        let mut ids: Vec<String> = cold
            .expired(kind, now, limit)?
            .into_iter()
            .filter(|id| self.of(kind).is_none_or(|w| !w.contains_key(id)))
            .collect();
        ids.extend(
            self.within(kind, None, None)
                .filter(|(_, w)| w.as_ref().is_some_and(|(until, _)| *until < now))
                .map(|(id, _)| id.clone()),
        );
        ids.truncate(limit);
        Ok(ids)
    }

    /// [`ColdRows::ascending`] as the command sees it. The port is asked for as many more rows
    /// as there are pending writes in the range, so dropping the ones this command deleted or
    /// rewrote still leaves `limit` when there are that many.
    pub(super) fn ascending(
        &self,
        cold: &dyn ColdRows,
        kind: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, ColdError> {
        let extra = self.within(kind, after, None).count();
        let mut ids: Vec<String> = cold
            .ascending(kind, after, limit.saturating_add(extra))?
            .into_iter()
            .filter(|id| self.of(kind).is_none_or(|w| !w.contains_key(id)))
            .collect();
        ids.extend(
            self.within(kind, after, None)
                .filter(|(_, w)| w.is_some())
                .map(|(id, _)| id.clone()),
        );
        ids.sort_unstable();
        ids.dedup();
        ids.truncate(limit);
        Ok(ids)
    }

    /// [`ColdRows::descending`] as the command sees it (as [`Pending::ascending`]).
    pub(super) fn descending(
        &self,
        cold: &dyn ColdRows,
        kind: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ColdRow>, ColdError> {
        let extra = self.within(kind, None, before).count();
        let mut rows: Vec<ColdRow> = cold
            .descending(kind, before, limit.saturating_add(extra))?
            .into_iter()
            .filter(|r| self.of(kind).is_none_or(|w| !w.contains_key(&r.id)))
            .collect();
        rows.extend(self.within(kind, None, before).filter_map(|(id, w)| {
            w.as_ref().map(|(_, json)| ColdRow {
                id: id.clone(),
                json: json.clone(),
            })
        }));
        rows.sort_unstable_by(|a, b| b.id.cmp(&a.id));
        rows.dedup_by(|a, b| a.id == b.id);
        rows.truncate(limit);
        Ok(rows)
    }
}

/// What the ledger keeps in memory about its cold rows: how many there are per kind (loaded once
/// with [`ColdRows::count`], then kept by the ledger's own writes, so caps are enforced without
/// scans) and the newest audit `seq`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Tally {
    pub(super) spent: usize,
    pub(super) jtis: usize,
    pub(super) audit: usize,
    /// The newest audit event's `seq` (0: none).
    pub(super) last_seq: u64,
}

impl Tally {
    pub(super) fn load(cold: &dyn ColdRows) -> Result<Tally, ColdError> {
        let newest = cold.descending(AUDIT, None, 1)?;
        Ok(Tally {
            spent: cold.count(SPENT_TX)?,
            jtis: cold.count(JTI)?,
            audit: cold.count(AUDIT)?,
            // Ids are written by `audit_key` only; one that does not read back counts as none.
            last_seq: newest.first().and_then(|r| r.id.parse().ok()).unwrap_or(0),
        })
    }

    /// The count of `kind`.
    pub(super) fn of(&mut self, kind: &str) -> Option<&mut usize> {
        match kind {
            SPENT_TX => Some(&mut self.spent),
            JTI => Some(&mut self.jtis),
            AUDIT => Some(&mut self.audit),
            _ => None,
        }
    }
}
