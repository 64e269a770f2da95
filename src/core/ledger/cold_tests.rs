//! The cold rows: read through the port, never held in memory, with the semantics they had when
//! they were.

use super::cold::{audit_key, ColdError, ColdRow, ColdRows, AUDIT, JTI, SPENT_TX};
use super::memory::OrgRows as Stored;
use super::*;
use crate::core::clock::UnixTime;
use crate::core::random::CountingRandom;
use std::cell::Cell;
use std::collections::BTreeMap;

const T0: u64 = 1_700_000_000;

// What the Durable Object stores: hot rows, and the cold ones behind the port (the native
// ledger's own store, with the tests' helpers below).
impl Stored {
    /// Applies `cmd` to `ledger` and stores its changes; answers the reply and how many cold
    /// rows it deleted.
    fn run(&mut self, ledger: &mut Ledger, cmd: Command, now: u64) -> (Reply, usize) {
        let r = CountingRandom::default();
        let reply = ledger.apply(cmd, UnixTime(now), &r, &self.cold).unwrap();
        let changes = ledger.take_changes();
        let deleted = changes
            .iter()
            .filter(|c| is_cold(c.kind) && c.json.is_none())
            .count();
        self.keep(changes);
        (reply, deleted)
    }

    fn count(&self, kind: &str) -> usize {
        self.cold.count(kind).unwrap()
    }
}

fn spend(id: &str, until: u64) -> Command {
    Command::SpendTransaction {
        id: id.into(),
        until: UnixTime(until),
    }
}

fn logout(jti: &str, until: u64) -> Command {
    Command::BackchannelLogout {
        jti: jti.into(),
        issued_at: None,
        remember_until: UnixTime(until),
        sub: Some("a".into()),
        sid: None,
    }
}

fn record(event: &str) -> Command {
    let meta = AuditMeta {
        actor: "operator".into(),
        cid: "c".into(),
    };
    Command::Record {
        event: AuditEvent::new(event, &meta, UnixTime(T0), serde_json::json!({})),
    }
}

fn audit(limit: usize, cursor: Option<u64>, event_type: Option<&str>) -> Command {
    Command::Audit {
        limit,
        cursor,
        event_type: event_type.map(str::to_owned),
    }
}

#[test]
fn a_replayed_callback_and_logout_token_are_refused_after_the_ledger_is_reloaded() {
    let mut stored = Stored::default();
    let mut first = stored.load();
    let (r, _) = stored.run(&mut first, spend("tx", T0 + 600), T0);
    assert!(matches!(r, Reply::Spent { first: true }), "{r:?}");
    let (r, _) = stored.run(&mut first, logout("j", T0 + 120), T0);
    assert!(
        matches!(
            r,
            Reply::LoggedOut {
                replayed: false,
                ..
            }
        ),
        "{r:?}"
    );
    // Neither is held in the ledger's memory, only in the rows.
    assert!(stored.hot.keys().all(|(kind, _)| !is_cold(kind)));
    assert_eq!((stored.count(SPENT_TX), stored.count(JTI)), (1, 1));
    drop(first);
    // The object restarts: a new ledger from the stored rows.
    let mut second = stored.load();
    let (r, _) = stored.run(&mut second, spend("tx", T0 + 600), T0 + 5);
    assert!(matches!(r, Reply::Spent { first: false }), "{r:?}");
    let (r, _) = stored.run(&mut second, logout("j", T0 + 120), T0 + 5);
    assert!(matches!(
        r,
        Reply::LoggedOut {
            replayed: true,
            revoked: 0
        }
    ));
}

#[test]
fn a_command_reads_its_own_cold_writes() {
    // Nothing reaches the store here (changes are taken only at the end), so every read below
    // is answered by the ledger's layer of not yet stored writes over an empty store.
    let cold = MemoryColdRows::default();
    let mut ledger = Ledger::default();
    let r = CountingRandom::default();
    ledger
        .apply(logout("j", T0 + 120), UnixTime(T0), &r, &cold)
        .unwrap();
    let reply = ledger
        .apply(logout("j", T0 + 120), UnixTime(T0), &r, &cold)
        .unwrap();
    assert!(matches!(reply, Reply::LoggedOut { replayed: true, .. }));
    let reply = ledger
        .apply(spend("tx", T0 + 600), UnixTime(T0), &r, &cold)
        .unwrap();
    assert!(matches!(reply, Reply::Spent { first: true }), "{reply:?}");
    let reply = ledger
        .apply(spend("tx", T0 + 600), UnixTime(T0), &r, &cold)
        .unwrap();
    assert!(matches!(reply, Reply::Spent { first: false }), "{reply:?}");
    // The audit events written so far are paged, newest first, before they are stored.
    let Reply::Audit { events, .. } = ledger
        .apply(audit(10, None, None), UnixTime(T0), &r, &cold)
        .unwrap()
    else {
        panic!()
    };
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![2, 1]);
    let changes = ledger.take_changes();
    assert_eq!(changes.iter().filter(|c| c.kind == JTI).count(), 1);
    assert_eq!(changes.iter().filter(|c| c.kind == SPENT_TX).count(), 1);
    assert_eq!(changes.iter().filter(|c| c.kind == AUDIT).count(), 2);
    assert!(changes.iter().all(|c| c.until.is_some() == is_cold(c.kind)));
}

/// A store that fails on one of its methods.
struct Failing {
    rows: MemoryColdRows,
    on: Cell<&'static str>,
}

impl Failing {
    fn check(&self, method: &str) -> Result<(), ColdError> {
        if self.on.get() == method {
            return Err(ColdError("unavailable".into()));
        }
        Ok(())
    }
}

impl ColdRows for Failing {
    fn until(&self, kind: &str, id: &str) -> Result<Option<UnixTime>, ColdError> {
        self.check("until")?;
        self.rows.until(kind, id)
    }
    fn count(&self, kind: &str) -> Result<usize, ColdError> {
        self.check("count")?;
        self.rows.count(kind)
    }
    fn expired(&self, kind: &str, now: UnixTime, limit: usize) -> Result<Vec<String>, ColdError> {
        self.check("expired")?;
        self.rows.expired(kind, now, limit)
    }
    fn ascending(
        &self,
        kind: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, ColdError> {
        self.check("ascending")?;
        self.rows.ascending(kind, after, limit)
    }
    fn descending(
        &self,
        kind: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ColdRow>, ColdError> {
        self.check("descending")?;
        self.rows.descending(kind, before, limit)
    }
}

#[test]
fn a_cold_read_that_fails_refuses_the_command_and_is_never_taken_as_absent() {
    let r = CountingRandom::default();
    let now = UnixTime(T0);
    let mut rows = MemoryColdRows::default();
    let mut seed = Ledger::default();
    seed.apply(spend("tx", T0 + 600), now, &r, &rows).unwrap();
    seed.apply(logout("j", T0 + 120), now, &r, &rows).unwrap();
    for c in seed.take_changes() {
        rows.store(&c);
    }
    let cold = Failing {
        rows,
        on: Cell::new(""),
    };
    let fails = |cmd: Command, on: &'static str, ledger: &mut Ledger| {
        cold.on.set(on);
        let out = ledger.apply(cmd, now, &r, &cold);
        cold.on.set("");
        matches!(out, Err(LedgerError::Storage(_)))
    };
    // Counting at the first command, and pruning at every one.
    assert!(fails(
        Command::Snapshot { have: None },
        "count",
        &mut Ledger::default()
    ));
    assert!(fails(
        Command::Snapshot { have: None },
        "descending",
        &mut Ledger::default()
    ));
    let mut ledger = Ledger::default();
    assert!(fails(
        Command::Snapshot { have: None },
        "expired",
        &mut ledger
    ));
    let mut ledger = Ledger::default();
    ledger
        .apply(Command::Snapshot { have: None }, now, &r, &cold)
        .unwrap();
    // The replay checks, the audit page and the purge's scan.
    assert!(fails(spend("tx", T0 + 600), "until", &mut ledger));
    assert!(fails(logout("j", T0 + 120), "until", &mut ledger));
    assert!(fails(audit(10, None, None), "descending", &mut ledger));
    assert!(fails(Command::Purge, "ascending", &mut ledger));
}

#[test]
fn expired_cold_rows_are_pruned_in_batches_and_count_as_forgotten_until_then() {
    let mut stored = Stored::default();
    let n = 2 * PRUNE_BATCH + 100;
    for i in 0..n {
        let key = (SPENT_TX.to_owned(), format!("t{i:05}"));
        stored.cold.rows.insert(key, (UnixTime(T0), T0.to_string()));
    }
    let mut ledger = stored.load();
    let now = T0 + 1;
    let (_, deleted) = stored.run(&mut ledger, Command::Snapshot { have: None }, now);
    assert_eq!(deleted, PRUNE_BATCH);
    // One not pruned yet counts as forgotten (its until has passed), and is overwritten, not
    // counted twice.
    let last = format!("t{:05}", n - 1);
    assert!(stored.cold.until(SPENT_TX, &last).unwrap().is_some());
    let before = ledger.tally.unwrap().spent;
    let (r, _) = stored.run(&mut ledger, spend(&last, now + 600), now);
    assert!(matches!(r, Reply::Spent { first: true }), "{r:?}");
    let (r, _) = stored.run(&mut ledger, spend(&last, now + 600), now);
    assert!(matches!(r, Reply::Spent { first: false }), "{r:?}");
    let (_, _) = stored.run(&mut ledger, Command::Snapshot { have: None }, now);
    assert_eq!(
        stored.count(SPENT_TX),
        1,
        "all expired ones pruned, the new one kept"
    );
    assert_eq!(ledger.tally.unwrap().spent, 1);
    assert!(before > 1);
}

#[test]
fn logout_tokens_past_the_cap_are_refused_and_a_replay_still_recognised() {
    let mut stored = Stored::default();
    for i in 0..MAX_SEEN_JTIS {
        let key = (JTI.to_owned(), format!("j{i}"));
        let until = T0 + 120;
        stored
            .cold
            .rows
            .insert(key, (UnixTime(until), until.to_string()));
    }
    let mut ledger = stored.load();
    let (r, _) = stored.run(&mut ledger, logout("new", T0 + 120), T0);
    assert!(matches!(r, Reply::Rejected { .. }), "{r:?}");
    let (r, _) = stored.run(&mut ledger, logout("j7", T0 + 120), T0);
    assert!(
        matches!(r, Reply::LoggedOut { replayed: true, .. }),
        "{r:?}"
    );
    assert_eq!(stored.count(JTI), MAX_SEEN_JTIS);
}

#[test]
fn the_audit_log_keeps_its_newest_events_and_numbers_on() {
    let mut stored = Stored::default();
    for seq in 1..=MAX_AUDIT_EVENTS as u64 {
        let e = AuditEvent {
            seq,
            at: UnixTime(T0),
            event: "org.sso_login".into(),
            actor: "a".into(),
            cid: "c".into(),
            detail: serde_json::json!({}),
        };
        let json = serde_json::to_string(&e).unwrap();
        let until = UnixTime(T0 + AUDIT_RETENTION_SECS);
        stored
            .cold
            .rows
            .insert((AUDIT.into(), audit_key(seq)), (until, json));
    }
    let mut ledger = stored.load();
    let (_, deleted) = stored.run(&mut ledger, record("org.settings.sso"), T0);
    assert_eq!(deleted, 1);
    assert_eq!(stored.count(AUDIT), MAX_AUDIT_EVENTS);
    assert!(stored.cold.until(AUDIT, &audit_key(1)).unwrap().is_none());
    let (Reply::Audit { events, .. }, _) = stored.run(&mut ledger, audit(1, None, None), T0) else {
        panic!()
    };
    assert_eq!(events[0].seq, MAX_AUDIT_EVENTS as u64 + 1);
    // Events older than the retention are pruned, in batches.
    let later = T0 + AUDIT_RETENTION_SECS + 1;
    let mut rounds = 0;
    while stored.count(AUDIT) > 1 {
        stored.run(&mut ledger, Command::Snapshot { have: None }, later);
        rounds += 1;
        assert!(rounds <= MAX_AUDIT_EVENTS / PRUNE_BATCH + 1);
    }
    // The purge clears the log, whatever its size, and numbering starts again.
    for _ in 0..(PRUNE_BATCH + 20) {
        stored.run(&mut ledger, record("org.settings.sso"), later);
    }
    stored.run(&mut ledger, Command::Purge, later);
    let (Reply::Audit { events, .. }, _) = stored.run(&mut ledger, audit(10, None, None), later)
    else {
        panic!()
    };
    let seen: Vec<(u64, &str)> = events.iter().map(|e| (e.seq, e.event.as_str())).collect();
    assert_eq!(seen, vec![(1, "org.deleted")]);
    assert_eq!(stored.count(AUDIT), 1);
    // Seen jtis and spent transactions stay (as before the cold rows).
}

/// The page the in-memory log gave: filter the whole log, newest first.
fn reference_page(
    all: &BTreeMap<u64, AuditEvent>,
    limit: usize,
    cursor: Option<u64>,
    event_type: Option<&str>,
) -> (Vec<u64>, Option<u64>) {
    let limit = limit.clamp(1, MAX_AUDIT_PAGE);
    let mut page: Vec<u64> = all
        .range(..cursor.unwrap_or(u64::MAX))
        .rev()
        .filter(|(_, e)| event_type.is_none_or(|t| super::audit::of_type(&e.event, t)))
        .take(limit + 1)
        .map(|(s, _)| *s)
        .collect();
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last().copied()
    } else {
        None
    };
    (page, next)
}

#[test]
fn audit_pages_filtered_or_not_are_what_filtering_the_whole_log_gives() {
    let mut stored = Stored::default();
    let mut ledger = stored.load();
    // Rare matches spread over more than one scan batch, and look-alikes that must not match.
    for i in 0..700 {
        let event = match i % 97 {
            0 => "org.scim.user.created",
            1 => "org.scim",
            2 => "org.scimx.user",
            _ => "org.sso_login",
        };
        stored.run(&mut ledger, record(event), T0);
    }
    let all: BTreeMap<u64, AuditEvent> = stored
        .cold
        .rows
        .values()
        .map(|(_, json)| serde_json::from_str::<AuditEvent>(json).unwrap())
        .map(|e| (e.seq, e))
        .collect();
    assert_eq!(all.len(), 700);
    for event_type in [
        None,
        Some("org.scim"),
        Some("org.sso_login"),
        Some("org.none"),
    ] {
        for limit in [0, 1, 3, 200, 500] {
            let mut cursor = None;
            loop {
                let (
                    Reply::Audit {
                        events,
                        next_cursor,
                    },
                    _,
                ) = stored.run(&mut ledger, audit(limit, cursor, event_type), T0)
                else {
                    panic!()
                };
                let got: Vec<u64> = events.iter().map(|e| e.seq).collect();
                let want = reference_page(&all, limit, cursor, event_type);
                assert_eq!(
                    (got, next_cursor),
                    want,
                    "{event_type:?} {limit} {cursor:?}"
                );
                if next_cursor.is_none() {
                    break;
                }
                cursor = next_cursor;
            }
        }
    }
    // A cursor past the end and one in the middle of nothing.
    for cursor in [Some(u64::MAX), Some(1), Some(0)] {
        let (
            Reply::Audit {
                events,
                next_cursor,
            },
            _,
        ) = stored.run(&mut ledger, audit(5, cursor, Some("org.scim")), T0)
        else {
            panic!()
        };
        let got: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(
            (got, next_cursor),
            reference_page(&all, 5, cursor, Some("org.scim"))
        );
    }
}
