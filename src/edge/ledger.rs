//! The org ledger on the edge: one Durable Object per org ([`OrgLedger`], SQLite storage), and
//! the worker's [`LedgerPort`] that calls it ([`DoLedger`]).
//!
//! The object holds its [`Ledger`] in memory, loaded from its rows at the first command after
//! it starts. Each command is applied, its changed rows are written in one `transactionSync`
//! (all or nothing), and only then answered. A Durable Object runs one event at a time, and
//! this handler does not await between reading the state and writing it, so commands never
//! interleave. If the write fails, the in-memory state is dropped (reloaded from the rows at the
//! next command) and the caller gets an error, which fails closed.

use super::{object, WorkerClock};
use crate::core::clock::Clock;
use crate::core::ledger::{Command, Ledger, LedgerFuture, LedgerPort, Reply, Row, RowChange};
use crate::core::org::OrgSlug;
use crate::core::random::OsRandom;
use crate::core::store::StoreError;
use serde::Deserialize;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use worker::{durable_object, DurableObject, Env, Request, Response, State};

/// The Durable Object binding (wrangler.toml `[[durable_objects.bindings]]`).
pub const LEDGER_BINDING: &str = "ORG_LEDGER";

/// Largest command the object reads (SCIM bodies are capped at the worker before this).
const MAX_COMMAND_BYTES: usize = 256 * 1024;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS rows (kind TEXT NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (kind, id))";

#[derive(Deserialize)]
struct DbRow {
    kind: String,
    id: String,
    json: String,
}

/// One org's ledger (named by the org slug).
#[durable_object(fetch)]
pub struct OrgLedger {
    state: State,
    ledger: RefCell<Option<Ledger>>,
}

impl DurableObject for OrgLedger {
    fn new(state: State, _env: Env) -> Self {
        OrgLedger {
            state,
            ledger: RefCell::new(None),
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
                // Reload from storage at the next command: memory may be ahead of the rows.
                *self.ledger.borrow_mut() = None;
                worker::console_log!("ledger error: {e}");
                Response::error("ledger unavailable", 503)
            }
        }
    }
}

impl OrgLedger {
    /// Loads (once), applies and persists, with no await in between.
    fn run(&self, cmd: Command) -> Result<Reply, String> {
        let sql = self.state.storage().sql();
        let mut slot = self.ledger.borrow_mut();
        if slot.is_none() {
            sql.exec(SCHEMA, None).map_err(|e| e.to_string())?;
            let rows: Vec<DbRow> = sql
                .exec("SELECT kind, id, json FROM rows", None)
                .and_then(|c| c.to_array())
                .map_err(|e| e.to_string())?;
            let ledger = Ledger::load(rows.into_iter().map(|r| Row {
                kind: r.kind,
                id: r.id,
                json: r.json,
            }));
            if ledger.unreadable_rows > 0 {
                worker::console_log!("ledger: {} unreadable rows skipped", ledger.unreadable_rows);
            }
            *slot = Some(ledger);
        }
        let ledger = slot.as_mut().ok_or("ledger not loaded")?;
        let reply = ledger
            .apply(cmd, WorkerClock.now(), &OsRandom)
            .map_err(|e| e.to_string())?;
        let changes = ledger.take_changes();
        if !changes.is_empty() {
            self.persist(changes)?;
        }
        Ok(reply)
    }

    /// Writes `changes` in one storage transaction.
    fn persist(&self, changes: Vec<RowChange>) -> Result<(), String> {
        object::in_transaction(&self.state.storage(), move |sql| {
            for c in changes {
                match c.json {
                    Some(json) => sql.exec(
                        "INSERT INTO rows (kind, id, json) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET json = excluded.json",
                        vec![c.kind.to_owned().into(), c.id.into(), json.into()],
                    ),
                    None => sql.exec(
                        "DELETE FROM rows WHERE kind = ? AND id = ?",
                        vec![c.kind.to_owned().into(), c.id.into()],
                    ),
                }?;
            }
            Ok(())
        })
        .map_err(|e| format!("ledger {e}"))
    }
}

/// The worker's way to its orgs' ledgers.
pub struct DoLedger<'a> {
    /// The worker's environment (holds the binding).
    pub env: &'a Env,
}

impl DoLedger<'_> {
    async fn send(&self, org: &OrgSlug, cmd: &Command) -> Result<Reply, StoreError> {
        object::call(self.env, LEDGER_BINDING, org.as_str(), cmd)
            .await
            .map_err(|e| StoreError(format!("org ledger: {e}")))
    }
}

impl LedgerPort for DoLedger<'_> {
    fn call<'b>(&'b self, org: &'b OrgSlug, cmd: Command) -> LedgerFuture<'b> {
        Box::pin(async move { self.send(org, &cmd).await })
    }
}
