//! The registry natively: one [`Registry`] stored as rows between commands, each command and
//! reply passed through JSON, as the Durable Object does, so native tests exercise the edge's
//! wire and storage formats too.

use super::registry::{Command, Registry, Reply};
use super::{RegistryFuture, RegistryPort};
use crate::core::clock::Clock;
use crate::core::random::CountingRandom;
use crate::core::store::StoreError;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

/// The domain registry in memory.
pub struct MemoryRegistry<C: Clock> {
    clock: C,
    random: CountingRandom,
    rows: RefCell<BTreeMap<String, String>>,
    /// Commands answered so far.
    pub calls: Cell<usize>,
    /// When set, every call fails (to test that callers fail closed).
    pub fail: Cell<bool>,
}

impl<C: Clock> MemoryRegistry<C> {
    /// An empty registry on `clock` (challenges from a deterministic counter).
    pub fn new(clock: C) -> Self {
        MemoryRegistry {
            clock,
            random: CountingRandom::default(),
            rows: RefCell::default(),
            calls: Cell::new(0),
            fail: Cell::new(false),
        }
    }

    /// Runs `cmd` synchronously (what [`RegistryPort::call`] does).
    pub fn call_now(&self, cmd: Command) -> Result<Reply, StoreError> {
        self.calls.set(self.calls.get() + 1);
        if self.fail.get() {
            return Err(StoreError("domain registry unavailable".into()));
        }
        let wire = |e: serde_json::Error| StoreError(format!("registry wire format: {e}"));
        let cmd: Command = crate::core::json::from_str(&serde_json::to_string(&cmd).map_err(wire)?)
            .map_err(wire)?;
        let mut rows = self.rows.borrow_mut();
        let mut registry = Registry::load(rows.iter().map(|(k, v)| (k.clone(), v.clone())));
        let reply = registry
            .apply(cmd, self.clock.now(), &self.random)
            .map_err(|e| StoreError(format!("registry: {e}")))?;
        for (id, json) in registry.take_changes() {
            match json {
                Some(json) => rows.insert(id, json),
                None => rows.remove(&id),
            };
        }
        let reply = serde_json::to_string(&reply).map_err(wire)?;
        crate::core::json::from_str(&reply).map_err(wire)
    }

    /// The stored rows (id -> JSON), for tests.
    pub fn rows(&self) -> BTreeMap<String, String> {
        self.rows.borrow().clone()
    }
}

impl<C: Clock> RegistryPort for MemoryRegistry<C> {
    fn call(&self, cmd: Command) -> RegistryFuture<'_> {
        Box::pin(async move { self.call_now(cmd) })
    }
}
