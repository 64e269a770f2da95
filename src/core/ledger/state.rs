//! The ledger's state and its one entry point, [`Ledger::apply`]. The hot state (members,
//! revocations, SCIM resources, the org's settings) lives in memory (in the Durable Object,
//! loaded once from its SQLite rows); the cold rows (spent transactions, seen `jti`s, audit
//! events) stay in storage and are read through [`ColdRows`] (see [`super::cold`]). Every
//! command reports the rows it changed, hot and cold ([`Ledger::take_changes`]), for the caller
//! to store, in one transaction, before it answers.

use super::audit::{
    bounded, of_type, AuditEvent, AuditMeta, AUDIT_RETENTION_SECS, MAX_AUDIT_EVENTS, MAX_AUDIT_PAGE,
};
use super::cold::{
    audit_key, is_cold, ColdError, ColdRows, Pending, Tally, AUDIT, COLD_KINDS, JTI, SPENT_TX,
};
use super::command::{Command, MemberView, Provisioning, Refusal, Reply, Selector, SignInFacts};
use super::record::{MemberRecord, MemberSource, SessionMark};
use super::snapshot::{refuses, Snapshot, SnapshotVersion};
use super::{
    fold, fold_email, MAX_MEMBERS, MAX_MEMBERS_PAGE, MAX_SEEN_JTIS, MAX_SESSION_MARKS,
    MAX_SPENT_MEMORY_SECS, MAX_SPENT_TRANSACTIONS, REVOCATION_KEEP_SECS,
};
use crate::core::clock::UnixTime;
use crate::core::random::{Random, RandomError};
use crate::core::scim::ScimDirectory;
use crate::core::secret::ct_eq;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A stored row: its table (`kind`), key and JSON value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Which collection.
    pub kind: String,
    /// The key within it.
    pub id: String,
    /// The JSON value.
    pub json: String,
}

/// A row to write (`json: Some`) or delete (`json: None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowChange {
    /// Which collection ([`super::is_cold`] says whether it is a cold one).
    pub kind: &'static str,
    /// The key within it.
    pub id: String,
    /// The new value, or `None` to delete the row.
    pub json: Option<String>,
    /// For a cold row being written, the time after which it may be pruned (what
    /// [`ColdRows::expired`] compares); `None` for hot rows and deletions.
    pub until: Option<UnixTime>,
}

/// Why [`Ledger::apply`] could not answer. The command is refused; its changes must not be
/// stored, and the ledger is to be dropped and loaded again (its memory may be ahead of the
/// rows).
#[derive(Debug)]
#[non_exhaustive]
pub enum LedgerError {
    /// No randomness for a new id.
    Random(RandomError),
    /// A cold row could not be read (never taken as absent: that could allow a replay).
    Storage(ColdError),
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::Random(e) => e.fmt(f),
            LedgerError::Storage(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LedgerError {}

impl From<RandomError> for LedgerError {
    fn from(e: RandomError) -> Self {
        LedgerError::Random(e)
    }
}

impl From<ColdError> for LedgerError {
    fn from(e: ColdError) -> Self {
        LedgerError::Storage(e)
    }
}

/// Most expired rows of each cold kind deleted per command: pruning runs at every command, so a
/// bounded batch keeps up with any traffic a command can make while bounding its work.
pub const PRUNE_BATCH: usize = 500;

/// Rows read per step when a filtered audit page scans for matching events.
const AUDIT_SCAN_BATCH: usize = MAX_AUDIT_PAGE + 1;

pub(super) const MEMBER: &str = "member";
pub(super) const SCIM_USER: &str = "scim_user";
pub(super) const SCIM_GROUP: &str = "scim_group";
const REVOKE_SUB: &str = "revoke_sub";
const REVOKE_EMAIL: &str = "revoke_email";
const REVOKE_SID: &str = "revoke_sid";
const LOGOUT_SID: &str = "logout_sid";
const META: &str = "meta";
const ALL_BEFORE: &str = "all_before";
const LATEST_LOGIN: &str = "latest_login";
const SETUP_LINK: &str = "setup_link";
const SCIM_TOKEN: &str = "scim_token";

/// One org's ledger.
#[derive(Debug, Default)]
pub struct Ledger {
    pub(super) members: BTreeMap<String, MemberRecord>,
    pub(super) subs: BTreeMap<String, UnixTime>,
    pub(super) emails: BTreeMap<String, UnixTime>,
    pub(super) sids: BTreeMap<String, UnixTime>,
    /// The `iat` (IdP clock) of the latest logout token for each `sid`, kept as long as the
    /// revocations: an ID token of that `sid` issued no later is refused at sign-in.
    pub(super) sid_logouts: BTreeMap<String, UnixTime>,
    pub(super) all_before: Option<UnixTime>,
    /// The latest `logged_in_at` given to any sign-in (one in the second of a revocation that
    /// applies to it is dated the next second, so it is not born revoked; and the clock may have
    /// read a later second then than now). A revocation is dated no earlier, so it refuses every
    /// session made before it.
    pub(super) latest_login: Option<UnixTime>,
    pub(super) scim_token_hash: Option<String>,
    pub(super) scim_dir: ScimDirectory,
    /// The setup link's token hash and expiry.
    pub(super) setup_link: Option<(String, UnixTime)>,
    /// Who the command being applied is attributed to (set by [`Command::Audited`]).
    meta: Option<AuditMeta>,
    dirty: BTreeSet<(&'static str, String)>,
    /// The cold rows' counts and newest audit seq, loaded at the first command.
    pub(super) tally: Option<Tally>,
    /// The command's cold writes, until [`Ledger::take_changes`].
    pending: Pending,
    /// The audit events of the command, numbered and written when it ends.
    events: Vec<AuditEvent>,
    /// Rows that could not be read back at load (kept out of the state, counted for the log).
    pub unreadable_rows: usize,
    /// No time-based revocation is older than this (`None`: not known since the load).
    oldest_revocation: Option<UnixTime>,
    /// The snapshot last built, with its version, until a hot row changes (so the object does
    /// not rebuild and hash it for every isolate that refreshes; see [`Ledger::apply`]).
    issued: Option<(SnapshotVersion, Snapshot)>,
}

fn parse<T: DeserializeOwned>(json: &str) -> Option<T> {
    crate::core::json::from_str(json).ok()
}

fn to_json<T: Serialize>(v: &T) -> String {
    // Serialising these plain structs cannot fail.
    serde_json::to_string(v).unwrap_or_default()
}

impl Ledger {
    /// The ledger stored as `rows` (the hot rows: the cold ones are read through [`ColdRows`]
    /// by [`Ledger::apply`]). A row that does not read back, or of a cold kind, is skipped and
    /// counted in [`Ledger::unreadable_rows`]; a revocation row is never one of them in
    /// practice (they are plain numbers), so skipping cannot silently un-revoke.
    pub fn load(rows: impl IntoIterator<Item = Row>) -> Ledger {
        let mut l = Ledger::default();
        for row in rows {
            let ok = match row.kind.as_str() {
                MEMBER => parse(&row.json).map(|m| {
                    l.members.insert(row.id, m);
                }),
                REVOKE_SUB => parse(&row.json).map(|t| {
                    l.subs.insert(row.id, t);
                }),
                REVOKE_EMAIL => parse(&row.json).map(|t| {
                    l.emails.insert(row.id, t);
                }),
                REVOKE_SID => parse(&row.json).map(|t| {
                    l.sids.insert(row.id, t);
                }),
                LOGOUT_SID => parse(&row.json).map(|t| {
                    l.sid_logouts.insert(row.id, t);
                }),
                SCIM_USER => parse(&row.json).map(|u| {
                    l.scim_dir.users.insert(row.id, u);
                }),
                SCIM_GROUP => parse(&row.json).map(|g| {
                    l.scim_dir.groups.insert(row.id, g);
                }),
                META if row.id == ALL_BEFORE => parse(&row.json).map(|t| l.all_before = Some(t)),
                META if row.id == LATEST_LOGIN => {
                    parse(&row.json).map(|t| l.latest_login = Some(t))
                }
                META if row.id == SETUP_LINK => parse(&row.json).map(|v| l.setup_link = Some(v)),
                META if row.id == SCIM_TOKEN => {
                    parse(&row.json).map(|h| l.scim_token_hash = Some(h))
                }
                kind if is_cold(kind) => None,
                _ => None,
            };
            if ok.is_none() {
                l.unreadable_rows += 1;
            }
        }
        l
    }

    /// The rows changed since the last call, hot and cold, to store (all in one transaction)
    /// before answering.
    pub fn take_changes(&mut self) -> Vec<RowChange> {
        let cold = self.pending.take().into_iter().flat_map(|(kind, writes)| {
            writes.into_iter().map(move |(id, write)| {
                let (until, json) = write.map_or((None, None), |(u, j)| (Some(u), Some(j)));
                RowChange {
                    kind,
                    id,
                    json,
                    until,
                }
            })
        });
        let cold: Vec<RowChange> = cold.collect();
        let mut changes: Vec<RowChange> = std::mem::take(&mut self.dirty)
            .into_iter()
            .map(|(kind, id)| {
                let json = match kind {
                    MEMBER => self.members.get(&id).map(to_json),
                    REVOKE_SUB => self.subs.get(&id).map(to_json),
                    REVOKE_EMAIL => self.emails.get(&id).map(to_json),
                    REVOKE_SID => self.sids.get(&id).map(to_json),
                    LOGOUT_SID => self.sid_logouts.get(&id).map(to_json),
                    SCIM_USER => self.scim_dir.users.get(&id).map(to_json),
                    SCIM_GROUP => self.scim_dir.groups.get(&id).map(to_json),
                    META if id == ALL_BEFORE => self.all_before.as_ref().map(to_json),
                    META if id == LATEST_LOGIN => self.latest_login.as_ref().map(to_json),
                    META if id == SCIM_TOKEN => self.scim_token_hash.as_ref().map(to_json),
                    META if id == SETUP_LINK => self.setup_link.as_ref().map(to_json),
                    _ => None,
                };
                RowChange {
                    kind,
                    id,
                    json,
                    until: None,
                }
            })
            .collect();
        changes.extend(cold);
        changes
    }

    pub(super) fn touch(&mut self, kind: &'static str, id: &str) {
        self.dirty.insert((kind, id.to_owned()));
    }

    /// Whether `hash` is the SHA-256 hex of the org's SCIM token (constant-time; false when
    /// SCIM is disabled).
    pub fn scim_token_matches(&self, hash: &str) -> bool {
        self.scim_token_hash
            .as_deref()
            .is_some_and(|h| ct_eq(h.as_bytes(), hash.as_bytes()))
    }

    /// Applies `cmd` at `now`, reading the cold rows through `cold` (as stored before the
    /// command; the command's own writes are laid over them). Never panics; a refused command
    /// changes nothing. After an error, store nothing and load the ledger again.
    pub fn apply(
        &mut self,
        cmd: Command,
        now: UnixTime,
        random: &dyn Random,
        cold: &dyn ColdRows,
    ) -> Result<Reply, LedgerError> {
        if self.tally.is_none() {
            self.tally = Some(Tally::load(cold)?);
        }
        self.prune(now, cold)?;
        self.drop_stale_snapshot();
        let reply = self.run(cmd, now, random, cold);
        // Also after a refused command: its changes are not stored, the ledger is dropped.
        self.drop_stale_snapshot();
        let reply = reply?;
        self.settle(cold)?;
        Ok(reply)
    }

    /// Forgets the built snapshot once any hot row has changed (every change of the hot state
    /// is marked dirty, to be stored: the snapshot is made of nothing else).
    fn drop_stale_snapshot(&mut self) {
        if !self.dirty.is_empty() {
            self.issued = None;
        }
    }

    /// [`Command::Snapshot`]: the snapshot and its version, or only that `have` is current.
    fn snapshot_reply(&mut self, have: Option<SnapshotVersion>) -> Reply {
        let (version, snapshot) = match self.issued.take() {
            Some(issued) => issued,
            None => {
                let snapshot = self.snapshot();
                (SnapshotVersion::of(&snapshot), snapshot)
            }
        };
        let reply = if have.as_ref() == Some(&version) {
            Reply::SnapshotCurrent
        } else {
            Reply::Snapshot {
                version: version.clone(),
                snapshot: snapshot.clone(),
            }
        };
        self.issued = Some((version, snapshot));
        reply
    }

    /// The cold counts (loaded by [`Ledger::apply`] before anything else).
    fn tally(&mut self) -> &mut Tally {
        self.tally.get_or_insert_with(Tally::default)
    }

    /// Writes cold row (`kind`, `id`), counting it when it is new.
    fn put_cold(
        &mut self,
        kind: &'static str,
        id: String,
        until: UnixTime,
        json: String,
        existed: bool,
    ) {
        if !existed {
            if let Some(n) = self.tally().of(kind) {
                *n += 1;
            }
        }
        self.pending.set(kind, id, Some((until, json)));
    }

    /// Deletes cold row (`kind`, `id`), which exists.
    fn delete_cold(&mut self, kind: &'static str, id: String) {
        if let Some(n) = self.tally().of(kind) {
            *n = n.saturating_sub(1);
        }
        self.pending.set(kind, id, None);
    }

    fn run(
        &mut self,
        cmd: Command,
        now: UnixTime,
        random: &dyn Random,
        cold: &dyn ColdRows,
    ) -> Result<Reply, LedgerError> {
        Ok(match cmd {
            Command::Audited { meta, cmd } => {
                let outer = self.meta.replace(meta);
                let reply = self.run(*cmd, now, random, cold);
                self.meta = outer;
                reply?
            }
            Command::SetSetupLink { hash, expires_at } => {
                let event = if hash.is_some() {
                    "org.setup_link.created"
                } else {
                    "org.setup_link.revoked"
                };
                self.setup_link = hash.map(|h| (h, expires_at));
                self.touch(META, SETUP_LINK);
                self.emit(
                    event,
                    "operator",
                    serde_json::json!({ "expires_at": expires_at }),
                    now,
                    random,
                );
                Reply::Done
            }
            Command::CheckSetupLink { hash } => match &self.setup_link {
                Some((h, until)) if now < *until && ct_eq(h.as_bytes(), hash.as_bytes()) => {
                    Reply::SetupLink {
                        valid: true,
                        expires_at: Some(*until),
                    }
                }
                _ => Reply::SetupLink {
                    valid: false,
                    expires_at: None,
                },
            },
            Command::Record { event } => {
                self.record(event, now);
                Reply::Done
            }
            Command::Audit {
                limit,
                cursor,
                event_type,
            } => self.audit_page(limit, cursor, event_type.as_deref(), cold)?,
            Command::SignIn(facts) => self.sign_in(facts, now, random)?,
            Command::Snapshot { have } => self.snapshot_reply(have),
            Command::Revoke { selector } => {
                let revoked = self.revoke(&selector, now);
                let detail = serde_json::json!({ "selector": selector, "revoked": revoked });
                self.emit("org.member.revoked", "operator", detail, now, random);
                Reply::Revoked { revoked }
            }
            Command::BackchannelLogout {
                jti,
                issued_at,
                remember_until,
                sub,
                sid,
            } => {
                let detail = serde_json::json!({ "sub": sub, "sid": sid });
                let logout_of = sid.clone().zip(issued_at);
                let reply = self.backchannel_logout(jti, remember_until, sub, sid, now, cold)?;
                if let (
                    Reply::LoggedOut {
                        replayed: false, ..
                    },
                    Some((sid, iat)),
                ) = (&reply, logout_of)
                {
                    self.note_sid_logout(sid, iat);
                }
                if let Reply::LoggedOut { replayed, revoked } = &reply {
                    let mut detail = detail;
                    detail["replayed"] = (*replayed).into();
                    detail["revoked"] = (*revoked).into();
                    self.emit("org.sso_logout.backchannel", "idp", detail, now, random);
                }
                reply
            }
            Command::Members { limit, cursor } => self.members_page(limit, cursor, now),
            Command::SetScimToken { hash } => {
                let event = if hash.is_some() {
                    "org.scim.token.minted"
                } else {
                    "org.scim.token.disabled"
                };
                self.emit(event, "operator", serde_json::json!({}), now, random);
                self.scim_token_hash = hash;
                self.touch(META, SCIM_TOKEN);
                Reply::Done
            }
            Command::Scim {
                token_hash,
                base_url,
                request,
            } => self.scim(&token_hash, request, &base_url, now, random),
            Command::Purge => {
                self.purge(now, cold)?;
                self.emit(
                    "org.deleted",
                    "operator",
                    serde_json::json!({}),
                    now,
                    random,
                );
                Reply::Done
            }
            Command::SpendTransaction { id, until } => {
                self.spend_transaction(id, until, now, cold)?
            }
        })
    }

    /// Drops what can no longer matter: revocations older than any live session, and (at most
    /// [`PRUNE_BATCH`] per kind) expired spent transactions, `jti`s and audit events.
    fn prune(&mut self, now: UnixTime, cold: &dyn ColdRows) -> Result<(), ColdError> {
        let horizon = UnixTime(now.secs().saturating_sub(REVOCATION_KEEP_SECS));
        // Scanning every revocation at every command would cost O(revocations) per sign-in and
        // per snapshot refresh; none is older than `oldest_revocation`, so most commands skip it.
        if self.oldest_revocation.is_none_or(|t| t < horizon) {
            let mut oldest: Option<UnixTime> = None;
            for (kind, map) in [
                (REVOKE_SUB, &mut self.subs),
                (REVOKE_EMAIL, &mut self.emails),
                (REVOKE_SID, &mut self.sids),
                (LOGOUT_SID, &mut self.sid_logouts),
            ] {
                let old: Vec<String> = map
                    .iter()
                    .filter(|(_, t)| **t < horizon)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in old {
                    map.remove(&k);
                    self.dirty.insert((kind, k));
                }
                oldest = oldest.into_iter().chain(map.values().copied()).min();
            }
            // With none left, the bound holds for any time (a new one lowers it, in `revoke`).
            self.oldest_revocation = Some(oldest.unwrap_or(UnixTime(u64::MAX)));
        }
        for kind in COLD_KINDS {
            for id in self.pending.expired(cold, kind, now, PRUNE_BATCH)? {
                self.delete_cold(kind, id);
            }
        }
        Ok(())
    }

    /// Ends the command: numbers its audit events and writes them, then drops the oldest events
    /// past [`MAX_AUDIT_EVENTS`].
    fn settle(&mut self, cold: &dyn ColdRows) -> Result<(), ColdError> {
        for mut event in std::mem::take(&mut self.events) {
            let seq = self.tally().last_seq + 1;
            self.tally().last_seq = seq;
            event.seq = seq;
            let key = audit_key(seq);
            let existed = matches!(self.pending.get(AUDIT, &key), Some(Some(_)));
            // Pruned by age: `at + AUDIT_RETENTION_SECS < now` is `at < now - AUDIT_RETENTION_SECS`.
            let until = event.at.plus(AUDIT_RETENTION_SECS);
            self.put_cold(AUDIT, key, until, to_json(&event), existed);
        }
        let excess = self.tally().audit.saturating_sub(MAX_AUDIT_EVENTS);
        if excess > 0 {
            for id in self.pending.ascending(cold, AUDIT, None, excess)? {
                self.delete_cold(AUDIT, id);
            }
        }
        Ok(())
    }

    /// Records login transaction `id` as spent; `first` only the first time (RFC 6749 10.5 and
    /// OIDC Core 3.1.3.2 ask the IdP for single-use codes; this makes single use ours too).
    /// A row not yet pruned whose `until` has passed counts as forgotten, as if pruned.
    fn spend_transaction(
        &mut self,
        id: String,
        until: UnixTime,
        now: UnixTime,
        cold: &dyn ColdRows,
    ) -> Result<Reply, ColdError> {
        let stored = self.pending.until(cold, SPENT_TX, &id)?;
        if stored.is_some_and(|u| now <= u) {
            return Ok(Reply::Spent { first: false });
        }
        if stored.is_none() && self.tally().spent >= MAX_SPENT_TRANSACTIONS {
            return Ok(Reply::Rejected {
                message: "Too many sign-ins are in progress for this organisation; try again in a few minutes.".into(),
            });
        }
        let until = until.max(now).min(now.plus(MAX_SPENT_MEMORY_SECS));
        self.put_cold(SPENT_TX, id, until, to_json(&until), stored.is_some());
        Ok(Reply::Spent { first: true })
    }

    /// The member a sign-in of `sub` / `email` is: the one with that subject, else the
    /// SCIM-provisioned one with that email (SCIM's `externalId` is not always the ID token's
    /// `sub`: Entra's default mapping sends `mailNickname`, and its `sub` is pairwise).
    fn find_member(&self, sub: &str, email: &str) -> Option<&MemberRecord> {
        self.members
            .values()
            .find(|m| m.sub.as_deref() == Some(sub))
            .or_else(|| {
                self.members
                    .values()
                    .find(|m| m.scim_id.is_some() && m.email.as_deref() == Some(email))
            })
    }

    /// The latest revocation that applies to a new session of this member (a new session must
    /// be later, or it would be born revoked).
    fn latest_revocation(&self, sub: &str, email: &str, sid: Option<&str>) -> Option<UnixTime> {
        [
            self.all_before,
            self.subs.get(sub).copied(),
            self.emails.get(email).copied(),
            sid.and_then(|s| self.sids.get(s).copied()),
        ]
        .into_iter()
        .flatten()
        .max()
    }

    fn sign_in(
        &mut self,
        facts: SignInFacts,
        now: UnixTime,
        random: &dyn Random,
    ) -> Result<Reply, RandomError> {
        let email = fold(facts.email.as_str());
        // Deprovisioned under this subject or this email: refused, whichever record it is.
        let inactive = self.members.values().any(|m| {
            !m.active
                && (m.sub.as_deref() == Some(&facts.sub) || m.email.as_deref() == Some(&email))
        });
        if inactive {
            let detail = serde_json::json!({ "sub": facts.sub, "reason": "deprovisioned" });
            self.emit("org.sso_login_denied", &email, detail, now, random);
            return Ok(Reply::Refused {
                reason: Refusal::Deprovisioned,
            });
        }
        // OIDC Back-Channel Logout 1.0 2.7: a logout token for `sid` ends that IdP session. An
        // ID token issued in it no later than the logout token (its code was on its way when the
        // user signed out at the IdP) must not open a session; both times are the IdP's clock.
        // A later one is a new sign-in in an IdP session that kept its `sid`, and is let in.
        let logged_out = match (&facts.sid, facts.issued_at) {
            (Some(sid), Some(iat)) => self.sid_logouts.get(sid).is_some_and(|at| iat <= *at),
            _ => false,
        };
        if logged_out {
            let detail = serde_json::json!({ "sub": facts.sub, "reason": "idp_session_ended" });
            self.emit("org.sso_login_denied", &email, detail, now, random);
            return Ok(Reply::Refused {
                reason: Refusal::IdpSessionEnded,
            });
        }
        let existing = self.find_member(&facts.sub, &email).map(|m| m.id.clone());
        let provisioned = existing
            .as_ref()
            .and_then(|id| self.members.get(id))
            .is_some_and(|m| m.scim_id.is_some());
        if facts.provisioning == Provisioning::Scim && !provisioned {
            let detail = serde_json::json!({ "sub": facts.sub, "reason": "not_provisioned" });
            self.emit("org.sso_login_denied", &email, detail, now, random);
            return Ok(Reply::Refused {
                reason: Refusal::NotProvisioned,
            });
        }
        let id = match existing {
            Some(id) => id,
            None => {
                if self.members.len() >= MAX_MEMBERS {
                    return Ok(Reply::Rejected {
                        message: format!("The organisation has reached {MAX_MEMBERS} members."),
                    });
                }
                let id = random.token(16)?;
                self.members.insert(
                    id.clone(),
                    MemberRecord {
                        id: id.clone(),
                        issuer: None,
                        sub: None,
                        email: None,
                        role: None,
                        source: MemberSource::Sso,
                        active: true,
                        scim_id: None,
                        first_login: None,
                        last_login: None,
                        sessions: Vec::new(),
                    },
                );
                id
            }
        };
        let logged_in_at = match self.latest_revocation(&facts.sub, &email, facts.sid.as_deref()) {
            Some(r) if r >= now => r.plus(1),
            _ => now,
        };
        // Kept for every sign-in, not only dated ones: the object's clock can go back (whole
        // seconds; an object may start again on a machine whose clock is a little behind), and a
        // revocation dated by it alone would then miss sessions made in the later second.
        if self.latest_login.is_none_or(|t| t < logged_in_at) {
            self.latest_login = Some(logged_in_at);
            self.touch(META, LATEST_LOGIN);
        }
        if let Some(m) = self.members.get_mut(&id) {
            m.issuer = Some(facts.issuer.as_str().to_owned());
            m.sub = Some(facts.sub);
            m.email = Some(email);
            m.role = Some(facts.role);
            m.first_login.get_or_insert(now);
            m.last_login = Some(now);
            m.sessions.retain(|s| now < s.expires_at);
            m.sessions.push(SessionMark {
                logged_in_at,
                expires_at: facts.expires_at,
                sid: facts.sid,
            });
            let excess = m.sessions.len().saturating_sub(MAX_SESSION_MARKS);
            m.sessions.drain(..excess);
        }
        self.touch(MEMBER, &id);
        if let Some(m) = self.members.get(&id).cloned() {
            let detail = serde_json::json!({ "member_id": id, "sub": m.sub, "role": m.role });
            let actor = m.email.clone().unwrap_or_default();
            self.emit("org.sso_login", &actor, detail, now, random);
            // The setup link has done its job once an SSO admin exists.
            if m.role == Some(crate::core::org::Role::Admin) && self.setup_link.take().is_some() {
                self.touch(META, SETUP_LINK);
                self.emit(
                    "org.setup_link.expired",
                    &actor,
                    serde_json::json!({}),
                    now,
                    random,
                );
            }
        }
        Ok(Reply::SignedIn {
            member_id: id,
            logged_in_at,
        })
    }

    /// The revocation state the hot path reads.
    pub fn snapshot(&self) -> Snapshot {
        let inactive = self.members.values().filter(|m| !m.active);
        Snapshot {
            all_before: self.all_before,
            subs: self.subs.clone(),
            emails: self.emails.clone(),
            sids: self.sids.clone(),
            inactive_subs: inactive.clone().filter_map(|m| m.sub.clone()).collect(),
            inactive_emails: inactive.filter_map(|m| m.email.clone()).collect(),
            scim_groups: self.scim_groups_by_member(),
        }
    }

    /// Remembers that the IdP ended session `sid` with a logout token issued at `iat`.
    fn note_sid_logout(&mut self, sid: String, iat: UnixTime) {
        let at = self.sid_logouts.entry(sid.clone()).or_insert(iat);
        *at = (*at).max(iat);
        // Pruned with the revocations: keep their lower bound true.
        self.oldest_revocation = self.oldest_revocation.map(|t| t.min(iat));
        self.touch(LOGOUT_SID, &sid);
    }

    /// The time to date a revocation made at `now`: no earlier than any session made so far (see
    /// [`Ledger::latest_login`]), so it refuses every one of them it selects.
    fn revocation_time(&self, now: UnixTime) -> UnixTime {
        self.latest_login.map_or(now, |t| t.max(now))
    }

    /// Ends the sessions `selector` names, now; answers how many live sessions the ledger knew
    /// of among them. The revocation is recorded even when it knows of none (sessions made before
    /// the ledger, or elsewhere, end too).
    pub(super) fn revoke(&mut self, selector: &Selector, now: UnixTime) -> u64 {
        let (kind, key) = match selector {
            Selector::Email(e) => (REVOKE_EMAIL, fold_email(e)),
            Selector::Sub(s) => (REVOKE_SUB, s.clone()),
            Selector::Sid(s) => (REVOKE_SID, s.clone()),
            Selector::All => {
                let at = self.revocation_time(now);
                self.all_before = Some(self.all_before.map_or(at, |t| t.max(at)));
                self.touch(META, ALL_BEFORE);
                return self.end_marks(now, |_, _| true);
            }
        };
        let dated = self.revocation_time(now);
        let map = match kind {
            REVOKE_EMAIL => &mut self.emails,
            REVOKE_SUB => &mut self.subs,
            _ => &mut self.sids,
        };
        let at = map.entry(key.clone()).or_insert(dated);
        *at = (*at).max(dated);
        // A time only rises and a new one is `now`: lowering the bound to `now` keeps it true.
        self.oldest_revocation = self.oldest_revocation.map(|t| t.min(now));
        self.touch(kind, &key);
        match selector {
            Selector::Email(_) => self.end_marks(now, |m, _| m.email.as_deref() == Some(&key)),
            Selector::Sub(_) => self.end_marks(now, |m, _| m.sub.as_deref() == Some(&key)),
            _ => self.end_marks(now, |_, s| s.sid.as_deref() == Some(&key)),
        }
    }

    /// Drops the live session marks that `pick` selects, counting them.
    pub(super) fn end_marks(
        &mut self,
        now: UnixTime,
        pick: impl Fn(&MemberRecord, &SessionMark) -> bool,
    ) -> u64 {
        let mut ended = 0;
        let mut touched = Vec::new();
        for m in self.members.values_mut() {
            let before = m.sessions.len();
            let snapshot = m.clone();
            m.sessions
                .retain(|s| !(now < s.expires_at && pick(&snapshot, s)));
            let n = before - m.sessions.len();
            if n > 0 {
                ended += n as u64;
                touched.push(m.id.clone());
            }
        }
        for id in touched {
            self.touch(MEMBER, &id);
        }
        ended
    }

    fn backchannel_logout(
        &mut self,
        jti: String,
        remember_until: UnixTime,
        sub: Option<String>,
        sid: Option<String>,
        now: UnixTime,
        cold: &dyn ColdRows,
    ) -> Result<Reply, ColdError> {
        // OIDC Back-Channel Logout 1.0 section 2.6 step 10: a jti seen before is a replay, and
        // must not end sessions made since the first delivery. One whose `until` has passed but
        // is not pruned yet counts as forgotten, as if pruned.
        let stored = self.pending.until(cold, JTI, &jti)?;
        if stored.is_some_and(|u| now <= u) {
            return Ok(Reply::LoggedOut {
                replayed: true,
                revoked: 0,
            });
        }
        if stored.is_none() && self.tally().jtis >= MAX_SEEN_JTIS {
            return Ok(Reply::Rejected {
                message: "Too many logout tokens are being remembered; try again later.".into(),
            });
        }
        // A token whose `exp` is far away would pin its jti for as long; past
        // MAX_JTI_MEMORY_SECS a replay is possible in principle, but only of a token the IdP
        // signed to live that long.
        let until = remember_until
            .max(now)
            .min(now.plus(super::MAX_JTI_MEMORY_SECS));
        self.put_cold(JTI, jti, until, to_json(&until), stored.is_some());
        // Section 2.7: with a `sid`, the sessions of that IdP session end; with only `sub`,
        // every session of the member.
        let selector = match (sid, sub) {
            (Some(sid), _) => Selector::Sid(sid),
            (None, Some(sub)) => Selector::Sub(sub),
            (None, None) => {
                return Ok(Reply::LoggedOut {
                    replayed: false,
                    revoked: 0,
                })
            }
        };
        Ok(Reply::LoggedOut {
            replayed: false,
            revoked: self.revoke(&selector, now),
        })
    }

    fn members_page(&self, limit: usize, cursor: Option<String>, now: UnixTime) -> Reply {
        let limit = limit.clamp(1, MAX_MEMBERS_PAGE);
        let after = cursor.unwrap_or_default();
        let mut page: Vec<MemberView> = self
            .members
            .range::<String, _>((
                std::ops::Bound::Excluded(&after),
                std::ops::Bound::Unbounded,
            ))
            .take(limit + 1)
            .map(|(_, m)| self.view(m, now))
            .collect();
        let next_cursor = if page.len() > limit {
            page.truncate(limit);
            page.last().map(|m| m.id.clone())
        } else {
            None
        };
        Reply::Members {
            members: page,
            next_cursor,
        }
    }

    /// The member as the admin API lists them, with the live sessions no revocation refuses.
    fn view(&self, m: &MemberRecord, now: UnixTime) -> MemberView {
        let refused = |at: Option<&UnixTime>, s: &SessionMark| refuses(at, s.logged_in_at);
        let sessions = if m.active {
            m.sessions
                .iter()
                .filter(|s| now < s.expires_at)
                .filter(|s| {
                    !(refused(self.all_before.as_ref(), s)
                        || m.sub.as_ref().is_some_and(|k| refused(self.subs.get(k), s))
                        || m.email
                            .as_ref()
                            .is_some_and(|k| refused(self.emails.get(k), s))
                        || s.sid.as_ref().is_some_and(|k| refused(self.sids.get(k), s)))
                })
                .count() as u64
        } else {
            0
        };
        MemberView {
            id: m.id.clone(),
            email: m.email.clone(),
            sub: m.sub.clone(),
            role: m.role,
            active: m.active,
            source: m.source,
            last_login: m.last_login,
            sessions,
        }
    }

    /// Appends an event made inside the ledger; the actor is the [`Command::Audited`] one when
    /// there is one, else `default_actor`.
    pub(super) fn emit(
        &mut self,
        event: &str,
        default_actor: &str,
        detail: serde_json::Value,
        now: UnixTime,
        random: &dyn Random,
    ) {
        let meta = match &self.meta {
            Some(m) => m.clone(),
            None => AuditMeta {
                actor: default_actor.to_owned(),
                cid: random.token(9).unwrap_or_else(|_| "-".into()),
            },
        };
        self.record(AuditEvent::new(event, &meta, now, detail), now);
    }

    /// Appends `event` as the newest entry (numbered and written when the command ends, which
    /// drops the oldest past [`MAX_AUDIT_EVENTS`]).
    fn record(&mut self, mut event: AuditEvent, now: UnixTime) {
        event.at = now;
        event.detail = bounded(event.detail);
        event.event = event.event.chars().take(64).collect();
        event.actor = event.actor.chars().take(320).collect();
        event.cid = event.cid.chars().take(64).collect();
        self.events.push(event);
    }

    /// A page of events before `cursor`, newest first, of the family `event_type` if given.
    /// Filtering scans the stored events in bounded batches (at most [`MAX_AUDIT_EVENTS`] are
    /// kept), so a page is exactly what filtering the whole log would give. An event that does
    /// not read back is left out.
    fn audit_page(
        &self,
        limit: usize,
        cursor: Option<u64>,
        event_type: Option<&str>,
        cold: &dyn ColdRows,
    ) -> Result<Reply, ColdError> {
        let limit = limit.clamp(1, MAX_AUDIT_PAGE);
        let mut before = cursor.map(audit_key);
        let mut events: Vec<AuditEvent> = Vec::new();
        'scan: loop {
            let want = match event_type {
                Some(_) => AUDIT_SCAN_BATCH,
                None => limit + 1 - events.len(),
            };
            let rows = self
                .pending
                .descending(cold, AUDIT, before.as_deref(), want)?;
            let exhausted = rows.len() < want;
            before = rows.last().map(|r| r.id.clone());
            for row in rows {
                let Some(event) = parse::<AuditEvent>(&row.json) else {
                    continue;
                };
                if event_type.is_none_or(|t| of_type(&event.event, t)) {
                    events.push(event);
                    if events.len() > limit {
                        break 'scan;
                    }
                }
            }
            if exhausted || before.is_none() {
                break;
            }
        }
        let next_cursor = if events.len() > limit {
            events.truncate(limit);
            events.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(Reply::Audit {
            events,
            next_cursor,
        })
    }

    fn purge(&mut self, now: UnixTime, cold: &dyn ColdRows) -> Result<(), ColdError> {
        for id in std::mem::take(&mut self.members).into_keys() {
            self.dirty.insert((MEMBER, id));
        }
        for (kind, map) in [
            (REVOKE_SUB, std::mem::take(&mut self.subs)),
            (REVOKE_EMAIL, std::mem::take(&mut self.emails)),
            (REVOKE_SID, std::mem::take(&mut self.sids)),
            (LOGOUT_SID, std::mem::take(&mut self.sid_logouts)),
        ] {
            for id in map.into_keys() {
                self.dirty.insert((kind, id));
            }
        }
        for id in std::mem::take(&mut self.scim_dir.users).into_keys() {
            self.dirty.insert((SCIM_USER, id));
        }
        for id in std::mem::take(&mut self.scim_dir.groups).into_keys() {
            self.dirty.insert((SCIM_GROUP, id));
        }
        // The audit log, in bounded batches; numbering starts again.
        self.events.clear();
        let mut after: Option<String> = None;
        loop {
            let ids = self
                .pending
                .ascending(cold, AUDIT, after.as_deref(), PRUNE_BATCH)?;
            let Some(last) = ids.last().cloned() else {
                break;
            };
            for id in ids {
                self.delete_cold(AUDIT, id);
            }
            after = Some(last);
        }
        self.tally().last_seq = 0;
        // Seen jtis and spent transactions stay: a replay after the org is re-created must
        // still do nothing.
        self.scim_token_hash = None;
        self.touch(META, SCIM_TOKEN);
        self.setup_link = None;
        self.touch(META, SETUP_LINK);
        // Never earlier than before (as revoke-all): a clock that went back must not revive.
        let at = self.revocation_time(now);
        self.all_before = Some(self.all_before.map_or(at, |t| t.max(at)));
        self.touch(META, ALL_BEFORE);
        Ok(())
    }
}
