//! The org's audit log, kept in its ledger: every configuration change (field names, old and
//! new values, secrets never), SCIM change, revocation, back-channel logout, sign-in and refused
//! sign-in, each with its time, actor and correlation id. Event names follow the style of
//! Hugging Face Hub's audit log (`org.settings.sso`, `org.sso_login`, ...).
//!
//! Retention: the newest [`MAX_AUDIT_EVENTS`] events, none older than [`AUDIT_RETENTION_SECS`].

use crate::core::clock::UnixTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most events kept per org.
pub const MAX_AUDIT_EVENTS: usize = 10_000;
/// Oldest event kept: 90 days.
pub const AUDIT_RETENTION_SECS: u64 = 90 * 86_400;
/// Largest page of [`super::Command::Audit`].
pub const MAX_AUDIT_PAGE: usize = 200;
/// Largest `detail` kept, in bytes of JSON (larger details are replaced by a note).
pub const MAX_AUDIT_DETAIL_BYTES: usize = 4096;

/// Who did it, and the correlation id of the request that did, for [`super::Command::Audited`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditMeta {
    /// `operator`, a member's email, `scim`, `idp`.
    pub actor: String,
    /// The request's correlation id (also in the worker's log line).
    pub cid: String,
}

/// One audit log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Its position in the log (newest is highest), as the ledger assigned it.
    #[serde(default)]
    pub seq: u64,
    /// When.
    pub at: UnixTime,
    /// What: `org.sso_login`, `org.member.revoked`, ...
    pub event: String,
    /// Who.
    pub actor: String,
    /// The correlation id.
    pub cid: String,
    /// The specifics (never a secret or token).
    #[serde(default)]
    pub detail: Value,
}

impl AuditEvent {
    /// An event made by the app (configuration changes, sign-ins refused before the ledger),
    /// recorded with [`super::Command::Record`].
    pub fn new(event: &str, meta: &AuditMeta, at: UnixTime, detail: Value) -> Self {
        AuditEvent {
            seq: 0,
            at,
            event: event.to_owned(),
            actor: meta.actor.clone(),
            cid: meta.cid.clone(),
            detail: bounded(detail),
        }
    }
}

/// `detail`, or a note saying it was too large.
pub(super) fn bounded(detail: Value) -> Value {
    if detail.to_string().len() <= MAX_AUDIT_DETAIL_BYTES {
        detail
    } else {
        serde_json::json!({ "note": "detail too large to keep" })
    }
}

/// Whether `event` is of the family `prefix` (`org.scim` matches `org.scim.user.deleted`).
pub(super) fn of_type(event: &str, prefix: &str) -> bool {
    event == prefix
        || event
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}
