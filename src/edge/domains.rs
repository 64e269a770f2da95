//! The domain registry on the edge: one Durable Object for every claim ([`DomainRegistry`],
//! named [`REGISTRY_NAME`], SQLite storage), and the worker's [`RegistryPort`] that calls it
//! ([`DoRegistry`]). Built exactly like the org ledger (`super::ledger`): the [`Registry`] is
//! held in memory, loaded from its rows at the first command, each command's changed rows are
//! written in one `transactionSync`, and only then answered; a failed write drops the memory
//! state (reloaded at the next command) and fails the call, which fails closed.
//!
//! One object for all domains is what makes "one org per verified domain" a single-writer
//! decision. Its load is tiny (admin calls and one cron run every 30 minutes), so a single
//! instance is no bottleneck; the hot path (`/sso/start`) never calls it.

use super::{object, WorkerClock};
use crate::core::clock::Clock;
use crate::core::domains::{Command, Registry, RegistryFuture, RegistryPort, Reply};
use crate::core::random::OsRandom;
use crate::core::store::StoreError;
use serde::Deserialize;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use worker::{durable_object, DurableObject, Env, Request, Response, State};

/// The Durable Object binding (wrangler.toml `[[durable_objects.bindings]]`).
pub const REGISTRY_BINDING: &str = "DOMAIN_REGISTRY";
/// The name of the one instance.
pub const REGISTRY_NAME: &str = "registry";

/// Largest command the object reads (commands are a few hundred bytes).
const MAX_COMMAND_BYTES: usize = 16 * 1024;

const SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS claims (id TEXT NOT NULL PRIMARY KEY, json TEXT NOT NULL)";

#[derive(Deserialize)]
struct DbRow {
    id: String,
    json: String,
}

/// Every domain claim.
#[durable_object(fetch)]
pub struct DomainRegistry {
    state: State,
    registry: RefCell<Option<Registry>>,
}

impl DurableObject for DomainRegistry {
    fn new(state: State, _env: Env) -> Self {
        DomainRegistry {
            state,
            registry: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let cmd: Command = match object::read_command(&mut req, MAX_COMMAND_BYTES).await? {
            Ok(c) => c,
            Err(refusal) => return Ok(refusal),
        };
        match self.run(cmd) {
            Ok(reply) => Response::from_json(&reply),
            Err(e) => {
                *self.registry.borrow_mut() = None;
                worker::console_log!("domain registry error: {e}");
                Response::error("domain registry unavailable", 503)
            }
        }
    }
}

impl DomainRegistry {
    /// Loads (once), applies and persists, with no await in between.
    fn run(&self, cmd: Command) -> Result<Reply, String> {
        let sql = self.state.storage().sql();
        let mut slot = self.registry.borrow_mut();
        if slot.is_none() {
            sql.exec(SCHEMA, None).map_err(|e| e.to_string())?;
            let rows: Vec<DbRow> = sql
                .exec("SELECT id, json FROM claims", None)
                .and_then(|c| c.to_array())
                .map_err(|e| e.to_string())?;
            let registry = Registry::load(rows.into_iter().map(|r| (r.id, r.json)));
            if registry.unreadable_rows > 0 {
                worker::console_log!(
                    "domain registry: {} unreadable rows skipped",
                    registry.unreadable_rows
                );
            }
            *slot = Some(registry);
        }
        let registry = slot.as_mut().ok_or("registry not loaded")?;
        let reply = registry
            .apply(cmd, WorkerClock.now(), &OsRandom)
            .map_err(|e| e.to_string())?;
        let changes = registry.take_changes();
        if !changes.is_empty() {
            self.persist(changes)?;
        }
        Ok(reply)
    }

    /// Writes `changes` in one storage transaction.
    fn persist(&self, changes: Vec<(String, Option<String>)>) -> Result<(), String> {
        object::in_transaction(&self.state.storage(), move |sql| {
            for (id, json) in changes {
                match json {
                    Some(json) => sql.exec(
                        "INSERT INTO claims (id, json) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json",
                        vec![id.into(), json.into()],
                    ),
                    None => sql.exec("DELETE FROM claims WHERE id = ?", vec![id.into()]),
                }?;
            }
            Ok(())
        })
        .map_err(|e| format!("domain registry {e}"))
    }
}

/// The worker's way to the registry.
pub struct DoRegistry<'a> {
    /// The worker's environment (holds the binding).
    pub env: &'a Env,
}

impl DoRegistry<'_> {
    async fn send(&self, cmd: &Command) -> Result<Reply, StoreError> {
        object::call(self.env, REGISTRY_BINDING, REGISTRY_NAME, cmd)
            .await
            .map_err(|e| StoreError(format!("domain registry: {e}")))
    }
}

impl RegistryPort for DoRegistry<'_> {
    fn call(&self, cmd: Command) -> RegistryFuture<'_> {
        Box::pin(async move { self.send(&cmd).await })
    }
}
