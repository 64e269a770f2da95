//! The ledger natively: one [`Ledger`] per org in memory, each command passed through JSON and
//! each change through [`Ledger::take_changes`] and [`Ledger::load`], as the Durable Object does,
//! so the native tests exercise the edge's wire and storage formats too.

use super::state::{Ledger, Row};
use super::{Command, LedgerFuture, LedgerPort, Reply};
use crate::core::clock::Clock;
use crate::core::org::OrgSlug;
use crate::core::random::CountingRandom;
use crate::core::store::StoreError;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

/// One org's stored rows by (kind, id).
type OrgRows = BTreeMap<(String, String), String>;

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
        let mut ledger = Ledger::load(rows.iter().map(|((kind, id), json)| Row {
            kind: kind.clone(),
            id: id.clone(),
            json: json.clone(),
        }));
        let reply = ledger
            .apply(cmd, self.clock.now(), &self.random)
            .map_err(|e| StoreError(format!("ledger: {e}")))?;
        for change in ledger.take_changes() {
            let key = (change.kind.to_owned(), change.id);
            match change.json {
                Some(json) => rows.insert(key, json),
                None => rows.remove(&key),
            };
        }
        let reply = serde_json::to_string(&reply).map_err(wire)?;
        crate::core::json::from_str(&reply).map_err(wire)
    }
}

impl<C: Clock> LedgerPort for MemoryLedger<C> {
    fn call<'b>(&'b self, org: &'b OrgSlug, cmd: Command) -> LedgerFuture<'b> {
        Box::pin(async move { self.call_now(org, cmd) })
    }
}
