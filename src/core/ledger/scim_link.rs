//! SCIM inside the ledger: the org's [`ScimDirectory`] answers the request, and every user it
//! changed is mirrored onto the member it stands for (created, linked, deactivated, reactivated
//! or tombstoned), so sign-ins and sessions obey SCIM at once.

use super::record::{MemberRecord, MemberSource};
use super::state::{Ledger, MEMBER, SCIM_GROUP, SCIM_USER};
use super::{fold_email, Reply, Selector, MAX_MEMBERS};
use crate::core::clock::UnixTime;
use crate::core::random::Random;
use crate::core::scim::{ScimChange, ScimError, ScimRequest, ScimUser};
use std::collections::BTreeMap;

/// The email a SCIM user signs in with: a work or primary address, else any address, else a
/// `userName` that reads as an address; as the ledger compares emails ([`fold_email`]: the
/// domain normalised as sign-ins have it), or deprovisioning would miss `ann@bücher.de`.
pub(super) fn user_email(u: &ScimUser) -> Option<String> {
    u.emails
        .iter()
        .find(|e| {
            e.primary
                || e.type_
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("work"))
        })
        .or_else(|| u.emails.first())
        .map(|e| e.value.as_str())
        .or_else(|| u.user_name.contains('@').then_some(u.user_name.as_str()))
        .map(fold_email)
}

impl Ledger {
    /// Answers an authenticated SCIM request (`token_hash` is the SHA-256 hex of the bearer
    /// token presented; a wrong or missing one is a SCIM 401 and touches nothing).
    pub(super) fn scim(
        &mut self,
        token_hash: &str,
        request: ScimRequest,
        base_url: &str,
        now: UnixTime,
        random: &dyn Random,
    ) -> Reply {
        if !self.scim_token_matches(token_hash) {
            let e = ScimError {
                status: 401,
                scim_type: None,
                detail: "A valid SCIM bearer token for this organisation is required.".into(),
            };
            return Reply::Scim(e.response());
        }
        let outcome = self.scim_dir.handle(&request, base_url, now, random);
        for change in outcome.changes {
            match change {
                ScimChange::User { id, before } => {
                    self.touch(SCIM_USER, &id);
                    if let Some(user) = self.scim_dir.users.get(&id).cloned() {
                        let event = match &before {
                            None => "org.scim.user.created",
                            Some(b) if b.active && !user.active => "org.member.deprovisioned",
                            Some(b) if !b.active && user.active => "org.member.reactivated",
                            Some(_) => "org.scim.user.updated",
                        };
                        let detail = serde_json::json!({
                            "scim_id": id, "user_name": user.user_name, "active": user.active,
                        });
                        self.emit(event, "scim", detail, now, random);
                        self.mirror_user(&user, before.as_ref(), now, random);
                    }
                }
                ScimChange::UserDeleted { before } => {
                    self.touch(SCIM_USER, &before.id);
                    let detail = serde_json::json!({
                        "scim_id": before.id, "user_name": before.user_name,
                    });
                    self.emit("org.scim.user.deleted", "scim", detail, now, random);
                    self.tombstone(&before, now);
                }
                ScimChange::Group { id } => {
                    self.touch(SCIM_GROUP, &id);
                    let name = self
                        .scim_dir
                        .groups
                        .get(&id)
                        .map(|g| g.display_name.clone());
                    let detail = serde_json::json!({ "scim_id": id, "display_name": name });
                    self.emit("org.scim.group.changed", "scim", detail, now, random);
                }
                ScimChange::GroupDeleted { id } => {
                    self.touch(SCIM_GROUP, &id);
                    let detail = serde_json::json!({ "scim_id": id });
                    self.emit("org.scim.group.deleted", "scim", detail, now, random);
                }
            }
        }
        Reply::Scim(outcome.response)
    }

    /// The member a SCIM user stands for: linked by id, else the one with its `externalId` as
    /// subject, else one with its email.
    fn member_of(&self, u: &ScimUser) -> Option<String> {
        let email = user_email(u);
        self.members
            .values()
            .find(|m| m.scim_id.as_deref() == Some(u.id.as_str()))
            .or_else(|| {
                let ext = u.external_id.as_deref()?;
                self.members
                    .values()
                    .find(|m| m.sub.as_deref() == Some(ext))
            })
            .or_else(|| {
                let email = email.as_deref()?;
                self.members
                    .values()
                    .find(|m| m.email.as_deref() == Some(email) && m.scim_id.is_none())
            })
            .map(|m| m.id.clone())
    }

    fn mirror_user(
        &mut self,
        u: &ScimUser,
        before: Option<&ScimUser>,
        now: UnixTime,
        random: &dyn Random,
    ) {
        let id = match self.member_of(u) {
            Some(id) => id,
            None => {
                if self.members.len() >= MAX_MEMBERS {
                    return;
                }
                let Ok(id) = random.token(16) else { return };
                self.members.insert(
                    id.clone(),
                    MemberRecord {
                        id: id.clone(),
                        issuer: None,
                        sub: None,
                        email: None,
                        role: None,
                        source: MemberSource::Scim,
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
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        let was_active = m.active && before.is_none_or(|b| b.active);
        m.scim_id = Some(u.id.clone());
        m.source = MemberSource::Scim;
        // The externalId stands for the subject only until a sign-in records the real one, which
        // its sessions carry (Entra sends `mailNickname`; its `sub` is pairwise): replacing that
        // one, then the email, would leave those sessions out of a deactivation.
        if let Some(ext) = u.external_id.as_ref().filter(|_| m.last_login.is_none()) {
            m.sub = Some(ext.clone());
        }
        if let Some(email) = user_email(u) {
            m.email = Some(email);
        }
        m.active = u.active;
        let (sub, email) = (m.sub.clone(), m.email.clone());
        self.touch(MEMBER, &id);
        if was_active && !u.active {
            self.end_member(sub, email, now);
        }
    }

    /// The SCIM user is gone: the member stays as an inactive tombstone (sign-ins refused as
    /// deprovisioned until SCIM provisions them again) and their sessions end.
    fn tombstone(&mut self, u: &ScimUser, now: UnixTime) {
        let Some(id) = self.member_of(u) else { return };
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        m.scim_id = None;
        m.active = false;
        let (sub, email) = (m.sub.clone(), m.email.clone());
        self.touch(MEMBER, &id);
        self.end_member(sub, email, now);
    }

    /// Records time-based revocations for the member as well as their inactive flag, so that a
    /// later reactivation does not revive sessions made before the deactivation.
    fn end_member(&mut self, sub: Option<String>, email: Option<String>, now: UnixTime) {
        if let Some(sub) = sub {
            self.revoke(&Selector::Sub(sub), now);
        }
        if let Some(email) = email {
            self.revoke(&Selector::Email(email), now);
        }
    }

    /// SCIM group display names by member subject and email, for `scim_group` role rules.
    pub(super) fn scim_groups_by_member(&self) -> BTreeMap<String, Vec<String>> {
        let mut by_user: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for g in self.scim_dir.groups.values() {
            for uid in &g.members {
                by_user
                    .entry(uid.as_str())
                    .or_default()
                    .push(g.display_name.clone());
            }
        }
        let mut out = BTreeMap::new();
        for m in self.members.values() {
            let Some(groups) = m.scim_id.as_deref().and_then(|id| by_user.get(id)) else {
                continue;
            };
            for key in [m.sub.clone(), m.email.clone()].into_iter().flatten() {
                out.insert(key, groups.clone());
            }
        }
        out
    }
}
