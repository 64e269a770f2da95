//! What a session id stands for: a [`SessionRecord`] of per-org [`OrgSession`]s.

use crate::core::clock::UnixTime;
use crate::core::email::EmailAddress;
use crate::core::member::Member;
use crate::core::oidc::issuer::IssuerUrl;
use crate::core::org::{ClientId, OrgSlug, Role};
use crate::core::secret::Secret;
use crate::core::store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One org's signed-in session inside a [`SessionRecord`]. Made only from an admitted
/// [`Member`] ([`OrgSession::new`]) or read back from the store. Serialised with plain strings,
/// in the format records have always had in KV.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSession {
    pub(super) sub: String,
    pub(super) email: EmailAddress,
    pub(super) role: Role,
    pub(super) auth_time: UnixTime,
    pub(super) expires_at: UnixTime,
    pub(super) id_token_hint: Option<Secret>,
    pub(super) sid: Option<String>,
    pub(super) issuer: IssuerUrl,
    /// When this org session was made. Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) logged_in_at: Option<UnixTime>,
    /// The client id the session's ID token was issued to. Absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) client_id: Option<ClientId>,
    /// The bounded copy of the claims the role mapping reads ([`Member::role_claims`]), so a
    /// changed role mapping applies to live sessions. Absent in older records, whose stored
    /// `role` then stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) role_claims: Option<serde_json::Map<String, serde_json::Value>>,
}

impl OrgSession {
    /// The org session of `member`, signed in at `now` for `ttl_secs`. `id_token` is kept as
    /// `id_token_hint` for RP-initiated logout (OIDC RP-Initiated Logout 1.0 section 2).
    pub fn new(member: &Member, now: UnixTime, ttl_secs: u64, id_token: Option<Secret>) -> Self {
        OrgSession {
            sub: member.sub().to_owned(),
            email: member.email().clone(),
            role: member.role(),
            auth_time: member.auth_time().unwrap_or(now),
            expires_at: now.plus(ttl_secs),
            id_token_hint: id_token,
            sid: member.sid().map(str::to_owned),
            issuer: member.issuer().clone(),
            logged_in_at: Some(now),
            client_id: Some(member.client_id().clone()),
            role_claims: Some(member.role_claims().clone()),
        }
    }

    /// The same session recorded as made at `logged_in_at` (the ledger's answer to the
    /// sign-in, which is later than any revocation that applies to the member, so that the new
    /// session is not born revoked when both fall in the same second).
    pub fn logged_in_from(mut self, logged_in_at: crate::core::clock::UnixTime) -> Self {
        self.logged_in_at = Some(logged_in_at);
        self
    }

    /// The IdP's `sub` claim.
    pub fn sub(&self) -> &str {
        &self.sub
    }
    /// The user's email address as verified at login.
    pub fn email(&self) -> &EmailAddress {
        &self.email
    }
    /// The hub role granted at login.
    pub fn role(&self) -> Role {
        self.role
    }
    /// When the user authenticated (`auth_time`, or the login time).
    pub fn auth_time(&self) -> UnixTime {
        self.auth_time
    }
    /// When this org session ends.
    pub fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
    /// When this org session was made; for records older than the field, `auth_time` (which is
    /// never later, so revoking "before a time" errs towards revoking).
    pub fn logged_in_at(&self) -> UnixTime {
        self.logged_in_at.unwrap_or(self.auth_time)
    }
    /// The ID token, for `id_token_hint`.
    pub fn id_token_hint(&self) -> Option<&Secret> {
        self.id_token_hint.as_ref()
    }
    /// The IdP session id (`sid` claim), for back-channel / front-channel logout.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }
    /// The issuer that authenticated the user.
    pub fn issuer(&self) -> &IssuerUrl {
        &self.issuer
    }
    /// The client id the ID token was issued to (`None` for records older than the field).
    pub fn client_id(&self) -> Option<&ClientId> {
        self.client_id.as_ref()
    }
    /// The claims the role mapping reads, kept at sign-in (`None` for older records).
    pub fn role_claims(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.role_claims.as_ref()
    }
}

/// The KV record behind a session id: the org sessions one browser holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Org sessions by org slug.
    pub orgs: BTreeMap<OrgSlug, OrgSession>,
    /// When this record (and its id) was created.
    pub created_at: UnixTime,
}

impl SessionRecord {
    /// The session for `org`, if the browser holds one.
    pub fn org(&self, org: &OrgSlug) -> Option<&OrgSession> {
        self.orgs.get(org)
    }

    /// The latest expiry of any org session (when the record as a whole ends).
    pub fn expires_at(&self) -> Option<UnixTime> {
        self.orgs.values().map(|s| s.expires_at).max()
    }

    /// Seconds until the record as a whole ends (for the cookie's `Max-Age`); 0 if it has.
    pub fn max_age(&self, now: UnixTime) -> u64 {
        self.expires_at()
            .map_or(0, |e| e.secs().saturating_sub(now.secs()))
    }

    /// Drops org sessions that have expired at `now` (an org session is valid while
    /// `now < expires_at`).
    pub(super) fn retain_live(&mut self, now: UnixTime) {
        self.orgs.retain(|_, s| now < s.expires_at);
    }

    /// Evicts the org session with the oldest login other than `keep`; false if there is none.
    pub(super) fn evict_oldest_except(&mut self, keep: &OrgSlug) -> bool {
        let oldest = self
            .orgs
            .iter()
            .filter(|(slug, _)| *slug != keep)
            .min_by_key(|(_, s)| s.auth_time)
            .map(|(slug, _)| slug.clone());
        match oldest {
            Some(slug) => self.orgs.remove(&slug).is_some(),
            None => false,
        }
    }
}

pub(super) fn encode(record: &SessionRecord) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|_| StoreError("could not encode session record".into()))
}
