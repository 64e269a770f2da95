//! The org ledger: the per-organisation state that must be strongly consistent, because it
//! decides who may no longer get in. Members (written at every sign-in, or by SCIM), revocations
//! (of a member, an email, one IdP session, or the whole org), seen logout-token `jti`s, spent
//! login transactions, the audit log, the SCIM token's hash and the SCIM resources. Only the hot
//! part (members, revocations, SCIM, settings) is held in memory; the parts that grow with
//! traffic (spent transactions, `jti`s, audit events) stay in storage, behind [`ColdRows`].
//!
//! * On the edge the ledger of an org lives in one Durable Object (SQLite storage), which runs
//!   one request at a time: every [`Command`] sees every write before it, and its reply is sent
//!   only after its writes are durable. Natively, [`MemoryLedger`] runs the same [`Ledger`] logic.
//!   Commands and replies are plain JSON, so the edge's Durable Object is a thin shell around
//!   [`Ledger::apply`].
//! * The hot path never asks the ledger directly. It asks a [`Snapshot`] of the org's
//!   revocation state, fetched at most once per [`REVOCATION_CACHE_SECS`] per isolate
//!   ([`SnapshotCache`], behind the session store's [`Revocations`] port via
//!   [`LedgerRevocations`]). A refresh sends the [`SnapshotVersion`] the isolate holds, and an
//!   unchanged snapshot is confirmed ([`Reply::SnapshotCurrent`]) rather than sent again.
//!
//! # The revocation bound
//! A revoking request (admin revoke, back-channel logout, SCIM deactivation) is answered only
//! after the Durable Object has stored the revocation. Any isolate anywhere that judges a session
//! of that org afterwards either holds a snapshot fetched after the answer (which contains the
//! revocation: the object is the single, strongly consistent home of the state), or one fetched
//! before it, which it uses for at most [`REVOCATION_CACHE_SECS`] after fetching (or after the
//! object last confirmed it as its current state, which is as good as fetching it then). So every
//! location refuses the revoked sessions at most `REVOCATION_CACHE_SECS` (plus the one-second
//! granularity of the clock) after the answer. Refreshing a snapshot is one Durable Object round
//! trip per org per isolate per window; across locations that is a round trip to the object's
//! home location (tens to a few hundred ms), still well inside the bound.
//!
//! [`Revocations`]: crate::core::session::Revocations

mod audit;
mod cache;
mod cold;
mod command;
#[cfg(any(test, feature = "testkit"))]
mod memory;
mod record;
mod scim_link;
mod snapshot;
mod state;

#[cfg(test)]
mod cold_tests;
#[cfg(test)]
mod snapshot_tests;
#[cfg(test)]
mod tests;

pub use audit::{AuditEvent, AuditMeta, AUDIT_RETENTION_SECS, MAX_AUDIT_EVENTS, MAX_AUDIT_PAGE};
pub use cache::{
    LedgerRevocations, SnapshotCache, SNAPSHOT_CACHE_MAX_BYTES, SNAPSHOT_CACHE_MAX_ORGS,
};
pub use cold::{
    audit_key, is_cold, ColdError, ColdRow, ColdRows, AUDIT, COLD_KINDS, JTI, SPENT_TX,
};
pub use command::{Command, MemberView, Provisioning, Refusal, Reply, Selector, SignInFacts};
#[cfg(any(test, feature = "testkit"))]
pub use memory::{MemoryColdRows, MemoryLedger};
pub use record::{MemberRecord, MemberSource, SessionMark};
pub use snapshot::{Snapshot, SnapshotVersion};
pub use state::{Ledger, LedgerError, Row, RowChange, PRUNE_BATCH};

use crate::core::org::OrgSlug;
use crate::core::store::StoreError;
use std::future::Future;
use std::pin::Pin;

/// How long an isolate uses an org's revocation [`Snapshot`] before fetching it again: the
/// revocation bound (see the module docs) is this plus one second.
pub const REVOCATION_CACHE_SECS: u64 = 4;

/// How long a time-based revocation is kept: longer than any org session can live
/// ([`crate::core::org::MAX_SESSION_TTL_SECS`]), after which no session it could refuse exists.
pub const REVOCATION_KEEP_SECS: u64 = crate::core::org::MAX_SESSION_TTL_SECS + 300;

/// Most session marks kept per member (for the session counts of the member list).
pub const MAX_SESSION_MARKS: usize = 32;

/// Most logout-token `jti`s remembered at once; past it, new logout tokens are refused (fail
/// closed: forgetting one early would allow its replay).
pub const MAX_SEEN_JTIS: usize = 100_000;

/// Longest a logout-token `jti` is remembered (7 days), whatever the token's `exp`.
pub const MAX_JTI_MEMORY_SECS: u64 = 7 * 86_400;

/// Most spent login transactions remembered at once per org; past it, callbacks are refused
/// (fail closed: forgetting one early would let it complete twice). Each is remembered for at
/// most [`MAX_SPENT_MEMORY_SECS`], so this is a sign-in rate of about 160 per second per org.
pub const MAX_SPENT_TRANSACTIONS: usize = 100_000;

/// Longest a spent transaction is remembered, whatever `until` the caller asks for (its
/// transaction is refused as expired after 10 minutes; this leaves room for clock skew).
pub const MAX_SPENT_MEMORY_SECS: u64 = 900;

/// Most members an org's ledger holds.
pub const MAX_MEMBERS: usize = 50_000;

/// Largest page of [`Command::Members`].
pub const MAX_MEMBERS_PAGE: usize = 200;

/// The future a [`LedgerPort`] call returns (boxed, so the port is object-safe and the app can
/// hold it as `&dyn LedgerPort` without one more type parameter).
pub type LedgerFuture<'a> = Pin<Box<dyn Future<Output = Result<Reply, StoreError>> + 'a>>;

/// Runs a [`Command`] against the ledger of `org`. On the edge: a call to the org's Durable
/// Object. Natively: [`MemoryLedger`].
pub trait LedgerPort {
    /// Applies `cmd` to `org`'s ledger and answers once its effects are stored.
    fn call<'a>(&'a self, org: &'a OrgSlug, cmd: Command) -> LedgerFuture<'a>;
}

/// Case folding for emails and SCIM user names wherever the ledger compares them.
pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// An email from outside a sign-in (a SCIM user's, a revocation's) as the ledger compares it:
/// its domain normalised as sign-ins carry it ([`crate::core::email::EmailAddress`]: IDNA, so
/// `bücher.de` is `xn--bcher-kva.de`), then folded; text that is no address is only folded.
/// Compared as written, `ann@bücher.de` would match no sign-in's session.
pub(crate) fn fold_email(s: &str) -> String {
    crate::core::email::EmailAddress::parse(s).map_or_else(|_| fold(s), |a| fold(a.as_str()))
}
