//! What the ledger stores per member.

use crate::core::clock::UnixTime;
use crate::core::org::Role;
use serde::{Deserialize, Serialize};

/// How a member came to the org.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberSource {
    /// At their first sign-in.
    Sso,
    /// Provisioned by the IdP through SCIM.
    Scim,
}

/// One org session the ledger knows of (for counts and to revoke by `sid`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionMark {
    /// When it was made.
    pub logged_in_at: UnixTime,
    /// When it ends.
    pub expires_at: UnixTime,
    /// Its IdP session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// A member of an org. Joined to sign-ins by `sub`, and, for SCIM-provisioned members, by
/// email (case-insensitively) until their first sign-in sets `sub`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// The ledger's id.
    pub id: String,
    /// The issuer of their last sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Their IdP subject (SCIM `externalId`, or the ID token's `sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Their email, lowercased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The role of their last sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// `sso` or `scim`.
    pub source: MemberSource,
    /// False once SCIM deactivated or deleted them: their sessions are refused and their
    /// sign-ins too, until SCIM activates them again.
    pub active: bool,
    /// The SCIM user behind them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_id: Option<String>,
    /// Their first sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_login: Option<UnixTime>,
    /// Their last sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<UnixTime>,
    /// Their recent sessions (at most [`super::MAX_SESSION_MARKS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<SessionMark>,
}
