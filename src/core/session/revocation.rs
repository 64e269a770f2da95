//! The revocation port: asked about every org session before it is accepted.

use crate::core::clock::UnixTime;
#[cfg(any(test, feature = "testkit"))]
use crate::core::oidc::issuer::IssuerUrl;
use crate::core::org::OrgSlug;
use crate::core::session::OrgSession;
use crate::core::store::StoreError;
#[cfg(any(test, feature = "testkit"))]
use std::cell::{Cell, RefCell};
#[cfg(any(test, feature = "testkit"))]
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// Whether an org session that is otherwise live (signed in, not expired, not logged out) is
/// still honoured. Consulted by [`crate::core::session::SessionStore`] on every session it hands
/// out, cache hits included, so a revocation takes effect without waiting for the cache.
/// An error fails closed (the caller treats the session as unusable).
#[allow(async_fn_in_trait)]
pub trait Revocations {
    /// False if `session` of `org` has been revoked as of `now`.
    async fn org_session_valid(
        &self,
        org: &OrgSlug,
        session: &OrgSession,
        now: UnixTime,
    ) -> Result<bool, StoreError>;
}

impl<T: Revocations + ?Sized> Revocations for &T {
    async fn org_session_valid(
        &self,
        org: &OrgSlug,
        session: &OrgSession,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        (**self).org_session_valid(org, session, now).await
    }
}

impl<T: Revocations + ?Sized> Revocations for Rc<T> {
    async fn org_session_valid(
        &self,
        org: &OrgSlug,
        session: &OrgSession,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        (**self).org_session_valid(org, session, now).await
    }
}

/// Nothing is ever revoked (beyond logout and expiry): the session store's default, for tools
/// and benches. The app checks every session against the org ledger
/// (`core::ledger::LedgerRevocations`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRevocations;

impl Revocations for NoRevocations {
    async fn org_session_valid(
        &self,
        _: &OrgSlug,
        _: &OrgSession,
        _: UnixTime,
    ) -> Result<bool, StoreError> {
        Ok(true)
    }
}

#[cfg(any(test, feature = "testkit"))]
/// Revocations in memory, for tests: a member (by issuer and `sub`), one IdP session (by issuer
/// and `sid`), or every org session of an org made before a time.
#[derive(Debug, Default)]
pub struct MemoryRevocations {
    members: RefCell<BTreeSet<(OrgSlug, IssuerUrl, String)>>,
    sids: RefCell<BTreeSet<(OrgSlug, IssuerUrl, String)>>,
    orgs_before: RefCell<BTreeMap<OrgSlug, UnixTime>>,
    /// When set, every lookup fails (to test that callers fail closed).
    pub fail: Cell<bool>,
}

#[cfg(any(test, feature = "testkit"))]
impl MemoryRevocations {
    /// No revocations.
    pub fn new() -> Self {
        Self::default()
    }

    /// Revokes every session of the member `sub` at `issuer` in `org`.
    pub fn revoke_member(&self, org: &OrgSlug, issuer: &IssuerUrl, sub: &str) {
        self.members
            .borrow_mut()
            .insert((org.clone(), issuer.clone(), sub.to_owned()));
    }

    /// Revokes the org sessions made in the IdP session `sid` of `issuer` (OIDC Back-Channel
    /// Logout 1.0 section 2.4: `sid` is unique per issuer).
    pub fn revoke_sid(&self, org: &OrgSlug, issuer: &IssuerUrl, sid: &str) {
        self.sids
            .borrow_mut()
            .insert((org.clone(), issuer.clone(), sid.to_owned()));
    }

    /// Revokes every org session of `org` made before `before` (later logins are honoured).
    pub fn revoke_org_before(&self, org: &OrgSlug, before: UnixTime) {
        let mut orgs = self.orgs_before.borrow_mut();
        let at = orgs.entry(org.clone()).or_insert(before);
        *at = (*at).max(before);
    }
}

#[cfg(any(test, feature = "testkit"))]
impl Revocations for MemoryRevocations {
    async fn org_session_valid(
        &self,
        org: &OrgSlug,
        session: &OrgSession,
        _now: UnixTime,
    ) -> Result<bool, StoreError> {
        if self.fail.get() {
            return Err(StoreError("revocations unavailable".into()));
        }
        let member = (
            org.clone(),
            session.issuer().clone(),
            session.sub().to_owned(),
        );
        if self.members.borrow().contains(&member) {
            return Ok(false);
        }
        if let Some(sid) = session.sid() {
            let key = (org.clone(), session.issuer().clone(), sid.to_owned());
            if self.sids.borrow().contains(&key) {
                return Ok(false);
            }
        }
        if let Some(before) = self.orgs_before.borrow().get(org) {
            if session.logged_in_at() < *before {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
