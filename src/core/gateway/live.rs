//! Configuration changes apply to live sessions: an org session is judged against the org's
//! *current* configuration every time it is used (gate, `/sso/me`), not only at sign-in.
//!
//! A session stops being accepted when its org is deleted, when the org's `issuer` or
//! `client_id` changes (the session was authenticated by another IdP or client), or when the
//! member's email domain is no longer one of the org's. The member's roles are mapped again from
//! the claims kept at sign-in ([`OrgSession::role_claims`]), so a changed `role_mapping`,
//! `default_role` or `resource_groups` applies without signing in again.

use crate::core::gateway::decision::Identity;
use crate::core::org::{OrgConfig, OrgSlug};
use crate::core::roles::{member_roles, MemberRoles};
use crate::core::session::OrgSession;

/// Why an org session is no longer accepted under the org's current configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stale {
    /// The org no longer exists.
    OrgGone,
    /// The org's issuer changed since the sign-in.
    IssuerChanged,
    /// The org's client id changed since the sign-in.
    ClientChanged,
    /// The member's email domain is no longer one of the org's.
    DomainRemoved,
    /// The current role mapping grants the member no role.
    NoRole,
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stale::OrgGone => "the org was deleted",
            Stale::IssuerChanged => "the org's issuer changed",
            Stale::ClientChanged => "the org's client id changed",
            Stale::DomainRemoved => "the member's email domain was removed from the org",
            Stale::NoRole => "the org's role mapping grants no role any more",
        })
    }
}

/// The identity of the member of `session` (an org session of `slug`) under the org's current
/// configuration `org` (`None`: no such org), or why the session no longer counts.
/// `scim_groups` are the member's current SCIM groups (display names), for `scim_group` rules.
pub fn live_identity(
    slug: &OrgSlug,
    org: Option<&OrgConfig>,
    session: &OrgSession,
    scim_groups: &[&str],
) -> Result<Identity, Stale> {
    let org = org.filter(|o| o.slug == *slug).ok_or(Stale::OrgGone)?;
    if *session.issuer() != org.issuer {
        return Err(Stale::IssuerChanged);
    }
    // Records older than the client-id field were checked against the issuer only.
    if session.client_id().is_some_and(|c| *c != org.client_id) {
        return Err(Stale::ClientChanged);
    }
    if !org.lists_domain(session.email().domain()) {
        return Err(Stale::DomainRemoved);
    }
    let roles = match session.role_claims() {
        Some(claims) => member_roles(
            &org.role_mapping,
            org.default_role,
            &org.resource_groups,
            claims,
            scim_groups,
        ),
        // A record from before role claims were kept: its sign-in role stands.
        None => MemberRoles {
            org: Some(session.role()),
            groups: Vec::new(),
        },
    };
    if roles.org.is_none() {
        return Err(Stale::NoRole);
    }
    Ok(Identity {
        org: slug.clone(),
        sub: session.sub().to_owned(),
        email: session.email().as_str().to_owned(),
        idp: session.issuer().as_str().to_owned(),
        roles,
        expires_at: session.expires_at(),
    })
}

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;
