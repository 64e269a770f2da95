//! What the ledger is asked ([`Command`]) and what it answers ([`Reply`]): plain serde types,
//! the JSON carried between the worker and the org's Durable Object.

use super::snapshot::{Snapshot, SnapshotVersion};
use crate::core::clock::UnixTime;
use crate::core::email::EmailAddress;
use crate::core::oidc::issuer::IssuerUrl;
use crate::core::org::Role;
use serde::{Deserialize, Serialize};

/// Who may sign in to an org (org setting `provisioning`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provisioning {
    /// Anyone of the org's domains whom the IdP authenticates becomes a member at first sign-in.
    #[default]
    Sso,
    /// Only active SCIM-provisioned users may sign in.
    Scim,
}

/// An admitted member signing in: what the ledger records, and checks against deprovisioning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInFacts {
    /// The issuer that authenticated them.
    pub issuer: IssuerUrl,
    /// Their `sub` at that issuer.
    pub sub: String,
    /// Their verified email.
    pub email: EmailAddress,
    /// The role the org's mapping gave them.
    pub role: Role,
    /// The IdP session, for back-channel logout.
    pub sid: Option<String>,
    /// When the org session will end.
    pub expires_at: UnixTime,
    /// The org's provisioning mode.
    pub provisioning: Provisioning,
    /// The ID token's `iat` (the IdP's clock), to tell an ID token issued before a logout of
    /// its `sid` from a later sign-in in the same IdP session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<UnixTime>,
}

/// Whose sessions a revocation ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selector {
    /// Every session of the member(s) with this email (compared case-insensitively).
    Email(String),
    /// Every session of the member with this IdP subject.
    Sub(String),
    /// The sessions made in this IdP session (back-channel logout `sid`).
    Sid(String),
    /// Every session of the org.
    All,
}

/// One request to an org's ledger.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Records a sign-in, or refuses it ([`Reply::SignedIn`] / [`Reply::Refused`]).
    SignIn(SignInFacts),
    /// The org's revocation state ([`Reply::Snapshot`]), or [`Reply::SnapshotCurrent`] when it
    /// is still the one of version `have`.
    Snapshot {
        /// The version the caller holds, if any.
        #[serde(default)]
        have: Option<SnapshotVersion>,
    },
    /// Ends sessions now ([`Reply::Revoked`]).
    Revoke {
        /// Whose.
        selector: Selector,
    },
    /// A verified back-channel logout token's effect ([`Reply::LoggedOut`]): ends the sessions
    /// of `sid` if given, else of `sub`, unless `jti` was seen before.
    BackchannelLogout {
        /// The token's `jti`.
        jti: String,
        /// The token's `iat` (the IdP's clock): an ID token of `sid` issued no later is refused
        /// at sign-in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issued_at: Option<UnixTime>,
        /// Until when the `jti` must be remembered.
        remember_until: UnixTime,
        /// The token's `sub`.
        sub: Option<String>,
        /// The token's `sid`.
        sid: Option<String>,
    },
    /// A page of members ([`Reply::Members`]), in id order after `cursor`.
    Members {
        /// Page size (capped at [`super::MAX_MEMBERS_PAGE`]).
        limit: usize,
        /// The `next_cursor` of the previous page.
        cursor: Option<String>,
    },
    /// Sets (or, with `None`, clears) the SHA-256 hex of the org's SCIM token ([`Reply::Done`]).
    SetScimToken {
        /// The hash.
        hash: Option<String>,
    },
    /// An authenticated SCIM request ([`Reply::Scim`]).
    Scim {
        /// SHA-256 hex of the bearer token presented.
        token_hash: String,
        /// The public `.../scim/v2/{slug}`.
        base_url: String,
        /// The request.
        request: crate::core::scim::ScimRequest,
    },
    /// Sets (or, with `None`, revokes) the org's setup link: the SHA-256 hex of its token and
    /// its expiry ([`Reply::Done`]). It also ends at the first sign-in of a member whose role is
    /// `admin`.
    SetSetupLink {
        /// The hash, or `None` to revoke.
        hash: Option<String>,
        /// When it expires.
        expires_at: UnixTime,
    },
    /// Whether `hash` is the org's live setup link ([`Reply::SetupLink`]).
    CheckSetupLink {
        /// SHA-256 hex of the presented token.
        hash: String,
    },
    /// `cmd`, with its audit events attributed to `meta`'s actor and correlation id.
    Audited {
        /// Who, and which request.
        meta: super::AuditMeta,
        /// The command.
        cmd: Box<Command>,
    },
    /// Appends an event the app made ([`Reply::Done`]).
    Record {
        /// The event.
        event: super::AuditEvent,
    },
    /// A page of the audit log, newest first ([`Reply::Audit`]).
    Audit {
        /// Page size (capped at [`super::MAX_AUDIT_PAGE`]).
        limit: usize,
        /// The `next_cursor` of the previous page.
        cursor: Option<u64>,
        /// Only events of this family (`org.scim` matches `org.scim.user.deleted`).
        event_type: Option<String>,
    },
    /// Forgets everything of the org (it was deleted) and refuses every session made until now
    /// ([`Reply::Done`]).
    Purge,
    /// Marks a login transaction as used ([`Reply::Spent`]): the callback asks this after
    /// opening the sealed transaction cookie and before exchanging the code, so one transaction
    /// completes at most once anywhere, whatever the IdP does with a replayed code.
    SpendTransaction {
        /// A hash of the transaction's `state` (never the state itself).
        id: String,
        /// Until when it must be remembered: the transaction's expiry, after which its cookie
        /// is refused anyway.
        until: UnixTime,
    },
}

/// Why a sign-in was refused by the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The member was deactivated or deleted by SCIM.
    Deprovisioned,
    /// The org takes only SCIM-provisioned members, and this one is not.
    NotProvisioned,
    /// The ID token was issued in an IdP session (`sid`) that a logout token, issued no
    /// earlier, has ended (the code was still on its way when the user signed out at the IdP).
    IdpSessionEnded,
}

/// A member as the admin API lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    /// The ledger's id for the member.
    pub id: String,
    /// Their email.
    pub email: Option<String>,
    /// Their IdP subject.
    pub sub: Option<String>,
    /// The role of their last sign-in.
    pub role: Option<Role>,
    /// False once deprovisioned.
    pub active: bool,
    /// `sso` or `scim`.
    pub source: super::MemberSource,
    /// Their last sign-in.
    pub last_login: Option<UnixTime>,
    /// Their live sessions known to the ledger.
    pub sessions: u64,
}

/// The ledger's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The sign-in is recorded; the org session's `logged_in_at` must be `logged_in_at` (later
    /// than every revocation that applies to the member, so it is not born revoked).
    SignedIn {
        /// The member's id.
        member_id: String,
        /// The login time to record in the session.
        logged_in_at: UnixTime,
    },
    /// The sign-in is refused.
    Refused {
        /// Why.
        reason: Refusal,
    },
    /// The revocation state.
    Snapshot {
        /// Its version (what the next [`Command::Snapshot`] sends as `have`).
        version: SnapshotVersion,
        /// The state.
        snapshot: Snapshot,
    },
    /// The revocation state is still the one of the version the caller holds.
    SnapshotCurrent,
    /// `revoked` live sessions known to the ledger were ended.
    Revoked {
        /// How many.
        revoked: u64,
    },
    /// A logout token was applied (or was a replay and changed nothing).
    LoggedOut {
        /// The `jti` had been seen before.
        replayed: bool,
        /// Live sessions ended.
        revoked: u64,
    },
    /// A page of members.
    Members {
        /// The members.
        members: Vec<MemberView>,
        /// Where the next page starts, if there is one.
        next_cursor: Option<String>,
    },
    /// The command was applied.
    Done,
    /// The SCIM answer.
    Scim(crate::core::scim::ScimResponse),
    /// Whether a setup link is live.
    SetupLink {
        /// It is.
        valid: bool,
        /// Until when (when valid).
        expires_at: Option<UnixTime>,
    },
    /// A page of the audit log.
    Audit {
        /// The events, newest first.
        events: Vec<super::AuditEvent>,
        /// Where the next (older) page starts, if there is one.
        next_cursor: Option<u64>,
    },
    /// The answer to [`Command::SpendTransaction`].
    Spent {
        /// True the first time this transaction is spent; false for every later attempt.
        first: bool,
    },
    /// The ledger refused the command (a limit was reached); nothing was changed.
    Rejected {
        /// Why, for the person who asked.
        message: String,
    },
}
