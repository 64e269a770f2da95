//! The org ledger on the edge: one Durable Object per org ([`OrgLedger`], SQLite storage), and
//! the worker's [`LedgerPort`] that calls it ([`DoLedger`]).
//!
//! The object holds the hot part of its [`Ledger`] in memory, loaded from its `rows` table at
//! the first command after it starts. The cold rows (spent transactions, seen `jti`s, audit
//! events: they grow with traffic) stay in the `cold` table, read synchronously during a command
//! through [`SqlCold`]. Each command is applied, its changed rows (hot and cold) are written in
//! one `transactionSync` (all or nothing), and only then answered. A Durable Object runs one event at a time, and
//! this handler does not await between reading the state and writing it, so commands never
//! interleave. If the write fails, the in-memory state is dropped (reloaded from the rows at the
//! next command) and the caller gets an error, which fails closed.

use super::{object, WorkerClock};
use crate::core::clock::Clock;
use crate::core::clock::UnixTime;
use crate::core::ledger::{
    is_cold, ColdError, ColdRow, ColdRows, Command, Ledger, LedgerFuture, LedgerPort, Reply, Row,
    RowChange, AUDIT, AUDIT_RETENTION_SECS, JTI, SPENT_TX,
};
use crate::core::org::OrgSlug;
use crate::core::random::OsRandom;
use crate::core::store::StoreError;
use serde::Deserialize;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use worker::{
    durable_object, DurableObject, Env, Request, Response, SqlStorage, SqlStorageValue, State,
};

/// The Durable Object binding (wrangler.toml `[[durable_objects.bindings]]`).
pub const LEDGER_BINDING: &str = "ORG_LEDGER";

/// Largest command the object reads (SCIM bodies are capped at the worker before this).
const MAX_COMMAND_BYTES: usize = 256 * 1024;

/// The hot rows (`rows`), and the cold ones (`cold`) with the time after which each may be
/// pruned, indexed for the prune's `until < now` scan.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS rows (kind TEXT NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (kind, id)); \
CREATE TABLE IF NOT EXISTS cold (kind TEXT NOT NULL, id TEXT NOT NULL, until INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (kind, id)); \
CREATE INDEX IF NOT EXISTS cold_until ON cold (kind, until)";

/// Moves the cold rows an older build kept in `rows` into `cold` (one transaction: a spent
/// transaction or `jti` forgotten would allow a replay). Their `until`: the stored number for
/// spent transactions and `jti`s, `at` plus the retention for audit events. A row already in
/// `cold` wins. A row that does not read back gets `until` 0 and is pruned at the next command
/// (as the old load skipped it).
const MIGRATE: [&str; 2] = [
    "INSERT INTO cold (kind, id, until, json) \
     SELECT kind, id, CASE WHEN kind <> ?1 THEN CAST(json AS INTEGER) WHEN json_valid(json) THEN COALESCE(CAST(json_extract(json, '$.at') AS INTEGER), 0) + ?2 ELSE 0 END, json \
     FROM rows WHERE kind IN (?1, ?3, ?4) ON CONFLICT (kind, id) DO NOTHING",
    "DELETE FROM rows WHERE kind IN (?1, ?3, ?4)",
];

/// The largest integer a JavaScript number holds exactly (SQLite values cross as numbers).
const MAX_SAFE: u64 = (1 << 53) - 1;

fn int(n: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(n.min(MAX_SAFE) as i64)
}

/// A row of any of the object's queries (one type, so one deserializer in the Wasm): each
/// query fills the columns it selects.
#[derive(Deserialize)]
struct DbRow {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    json: String,
    #[serde(default)]
    until: f64,
    #[serde(default)]
    n: f64,
}

/// The `cold` table, read synchronously inside a command.
struct SqlCold<'a> {
    sql: &'a SqlStorage,
}

impl SqlCold<'_> {
    fn rows(&self, query: &str, bindings: Vec<SqlStorageValue>) -> Result<Vec<DbRow>, ColdError> {
        self.sql
            .exec(query, bindings)
            .and_then(|c| c.to_array())
            .map_err(|e| ColdError(e.to_string()))
    }
}

impl ColdRows for SqlCold<'_> {
    fn until(&self, kind: &str, id: &str) -> Result<Option<UnixTime>, ColdError> {
        let rows: Vec<DbRow> = self.rows(
            "SELECT until FROM cold WHERE kind = ? AND id = ?",
            vec![kind.into(), id.into()],
        )?;
        Ok(rows.first().map(|r| UnixTime(r.until as u64)))
    }

    fn count(&self, kind: &str) -> Result<usize, ColdError> {
        let rows: Vec<DbRow> = self.rows(
            "SELECT COUNT(*) AS n FROM cold WHERE kind = ?",
            vec![kind.into()],
        )?;
        Ok(rows.first().map_or(0, |r| r.n as usize))
    }

    fn expired(&self, kind: &str, now: UnixTime, limit: usize) -> Result<Vec<String>, ColdError> {
        let rows: Vec<DbRow> = self.rows(
            "SELECT id FROM cold WHERE kind = ? AND until < ? ORDER BY until LIMIT ?",
            vec![kind.into(), int(now.secs()), int(limit as u64)],
        )?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    fn ascending(
        &self,
        kind: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, ColdError> {
        let rows: Vec<DbRow> = match after {
            Some(after) => self.rows(
                "SELECT id FROM cold WHERE kind = ? AND id > ? ORDER BY id LIMIT ?",
                vec![kind.into(), after.into(), int(limit as u64)],
            ),
            None => self.rows(
                "SELECT id FROM cold WHERE kind = ? ORDER BY id LIMIT ?",
                vec![kind.into(), int(limit as u64)],
            ),
        }?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    fn descending(
        &self,
        kind: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ColdRow>, ColdError> {
        let rows: Vec<DbRow> = match before {
            Some(before) => self.rows(
                "SELECT id, json FROM cold WHERE kind = ? AND id < ? ORDER BY id DESC LIMIT ?",
                vec![kind.into(), before.into(), int(limit as u64)],
            ),
            None => self.rows(
                "SELECT id, json FROM cold WHERE kind = ? ORDER BY id DESC LIMIT ?",
                vec![kind.into(), int(limit as u64)],
            ),
        }?;
        Ok(rows
            .into_iter()
            .map(|r| ColdRow {
                id: r.id,
                json: r.json,
            })
            .collect())
    }
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
            self.migrate()?;
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
            .apply(cmd, WorkerClock.now(), &OsRandom, &SqlCold { sql: &sql })
            .map_err(|e| e.to_string())?;
        let changes = ledger.take_changes();
        if !changes.is_empty() {
            self.persist(changes)?;
        }
        Ok(reply)
    }

    /// Moves the cold rows of an older build from `rows` into `cold` ([`MIGRATE`]).
    fn migrate(&self) -> Result<(), String> {
        object::in_transaction(&self.state.storage(), move |sql| {
            for query in MIGRATE {
                sql.exec(
                    query,
                    vec![
                        AUDIT.into(),
                        int(AUDIT_RETENTION_SECS),
                        SPENT_TX.into(),
                        JTI.into(),
                    ],
                )?;
            }
            Ok(())
        })
        .map_err(|e| format!("ledger migration {e}"))
    }

    /// Writes `changes` in one storage transaction.
    fn persist(&self, changes: Vec<RowChange>) -> Result<(), String> {
        object::in_transaction(&self.state.storage(), move |sql| {
            for c in changes {
                if is_cold(c.kind) {
                    match (c.json, c.until) {
                        (Some(json), Some(until)) => sql.exec(
                            "INSERT INTO cold (kind, id, until, json) VALUES (?, ?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET until = excluded.until, json = excluded.json",
                            vec![c.kind.into(), c.id.into(), int(until.secs()), json.into()],
                        ),
                        _ => sql.exec(
                            "DELETE FROM cold WHERE kind = ? AND id = ?",
                            vec![c.kind.into(), c.id.into()],
                        ),
                    }?;
                    continue;
                }
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
