//! SCIM 2.0 provisioning (RFC 7643 core schema, RFC 7644 protocol) as Okta and Microsoft Entra
//! call it: a per-org [`ScimDirectory`] of users and groups and one entry point,
//! [`ScimDirectory::handle`], that answers an already authenticated request and reports what it
//! changed ([`ScimChange`]) so the caller can persist those records and end the sessions of
//! deactivated or deleted users.
//!
//! No I/O and no HTTP types: the status is a plain `u16`, the body a JSON value that the caller
//! sends as `application/scim+json` (RFC 7644 3.1), capping the body's bytes before it gets here.
//! This module caps counts and string lengths ([`MAX_USERS`], [`MAX_OPERATIONS`], ...).
//!
//! * `filter.rs`: filter and PATCH path grammar (AST, evaluation).
//! * `patch.rs`: PatchOp messages (RFC 7644 3.5.2) in both IdPs' dialects, applied atomically.
//! * `user.rs`, `group.rs`: wire JSON <-> stored records, uniqueness, filterable attributes.
//! * `list.rs`: query parameters, `ListResponse`, `attributes`/`excludedAttributes`.
//! * `schemas.rs`: `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`.
//! * `error.rs`: the RFC 7644 3.12 error object.
//!
//! Stored form (serde of the structs here) and wire form (the SCIM JSON rendered by `user.rs` and
//! `group.rs`) are kept apart: the stored form can change with a migration, the wire form is the
//! RFC's.

mod error;
pub mod filter;
mod group;
mod list;
mod patch;
mod schemas;
mod user;
mod wire;

#[cfg(test)]
mod tests;

pub use error::{ScimError, ERROR_SCHEMA};
pub use patch::PATCH_SCHEMA;
pub use wire::rfc3339;

use crate::core::clock::UnixTime;
use crate::core::random::Random;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most users one directory holds (a POST beyond it is 400 `tooMany`).
pub const MAX_USERS: usize = 50_000;
/// Most groups one directory holds.
pub const MAX_GROUPS: usize = 5_000;
/// Most resources one list answer holds (`count` is capped to it; `filter.maxResults`).
pub const MAX_RESULTS: usize = 200;
/// Most operations in one PatchOp message.
pub const MAX_OPERATIONS: usize = 100;
/// Most members named by one request (a POST/PUT `members`, or one PATCH operation's value).
pub const MAX_MEMBERS_PER_REQUEST: usize = 1000;
/// Most emails one user holds.
pub const MAX_EMAILS: usize = 20;
/// Longest string attribute value, in characters.
pub const MAX_STRING_CHARS: usize = 1024;

/// One request to `/scim/v2/{slug}{path}`, already authenticated by the caller.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScimRequest {
    /// The HTTP method (`GET`, `POST`, `PUT`, `PATCH`, `DELETE`).
    pub method: String,
    /// The path below the org's SCIM base: `/Users`, `/Users/{id}`, `/Groups`,
    /// `/ServiceProviderConfig`, `/Schemas`, `/Schemas/{urn}`, `/ResourceTypes`, ...
    pub path: String,
    /// The raw query string, undecoded, without the `?`.
    pub query: Option<String>,
    /// The request body (already capped in bytes by the caller).
    pub body: Vec<u8>,
}

/// The answer: status, a JSON body (`None` for 204), and `Location` for 201.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScimResponse {
    /// HTTP status code.
    pub status: u16,
    /// The JSON body, sent as `application/scim+json`; `None` for 204.
    pub body: Option<serde_json::Value>,
    /// The `Location` header value (201 answers to POST, RFC 7644 3.3).
    pub location: Option<String>,
}

/// What a request changed, for persistence and revocation (empty for reads and errors).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ScimChange {
    /// User `id` was created (`before: None`) or replaced/patched (`before: Some(old)`); the new
    /// record is `directory.users[id]`.
    User {
        /// The user's id.
        id: String,
        /// The record before the write, `None` for a creation.
        before: Option<ScimUser>,
    },
    /// A user was deleted; this is the last record.
    UserDeleted {
        /// The record as it was.
        before: ScimUser,
    },
    /// Group `id` was created, replaced, patched, or lost a deleted member.
    Group {
        /// The group's id.
        id: String,
    },
    /// Group `id` was deleted.
    GroupDeleted {
        /// The group's id.
        id: String,
    },
}

/// The response and the changes behind it.
#[derive(Clone, Debug)]
pub struct ScimOutcome {
    /// What to answer.
    pub response: ScimResponse,
    /// What changed (persist these; revoke on deactivation or deletion).
    pub changes: Vec<ScimChange>,
}

/// A user's email (RFC 7643 4.1.2 `emails`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimEmail {
    /// The address, as given.
    pub value: String,
    /// `work`, `home`, `other`, or whatever label the IdP sends.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// Whether this is the user's primary address.
    pub primary: bool,
}

/// A user's name components (RFC 7643 4.1.1 `name`; the others are ignored).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimName {
    /// `givenName`.
    pub given_name: Option<String>,
    /// `familyName`.
    pub family_name: Option<String>,
    /// `formatted`.
    pub formatted: Option<String>,
}

impl ScimName {
    fn is_empty(&self) -> bool {
        self.given_name.is_none() && self.family_name.is_none() && self.formatted.is_none()
    }
}

/// A provisioned user (stored form).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScimUser {
    /// Server-assigned id (case-sensitive).
    pub id: String,
    /// `userName`, unique case-insensitively.
    pub user_name: String,
    /// `externalId`: the IdP's id for the user (Okta: its user id, which is also its OIDC `sub`).
    pub external_id: Option<String>,
    /// `active`: false means deprovisioned.
    pub active: bool,
    /// `emails`.
    pub emails: Vec<ScimEmail>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `name`.
    pub name: Option<ScimName>,
    /// When it was created.
    pub created: UnixTime,
    /// When it last changed.
    pub last_modified: UnixTime,
    /// Bumped at every change (rendered as `meta.version` `W/"n"`).
    pub version: u64,
}

/// A provisioned group (stored form).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScimGroup {
    /// Server-assigned id (case-sensitive).
    pub id: String,
    /// `displayName`, unique case-insensitively (what role mapping rules name).
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// Member user ids, without duplicates, in the order they were added.
    pub members: Vec<String>,
    /// When it was created.
    pub created: UnixTime,
    /// When it last changed.
    pub last_modified: UnixTime,
    /// Bumped at every change.
    pub version: u64,
}

/// One organisation's SCIM users and groups, held whole in memory by its owner.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ScimDirectory {
    /// Users by id.
    pub users: BTreeMap<String, ScimUser>,
    /// Groups by id.
    pub groups: BTreeMap<String, ScimGroup>,
}

/// The endpoints below the base URL (RFC 7644 3.2), matched case-insensitively.
enum Route<'a> {
    Users,
    User(&'a str),
    Groups,
    Group(&'a str),
    ServiceProviderConfig,
    ResourceTypes,
    ResourceType(&'a str),
    Schemas,
    Schema(&'a str),
}

fn route<'a>(path: &'a str) -> Option<Route<'a>> {
    let path = path.strip_prefix('/')?;
    let path = path.strip_suffix('/').unwrap_or(path);
    let (head, tail) = match path.split_once('/') {
        Some((h, t)) => (h, Some(t)),
        None => (path, None),
    };
    let is = |name: &str| head.eq_ignore_ascii_case(name);
    let one = |t: &'a str| (!t.is_empty() && !t.contains('/')).then_some(t);
    Some(match tail {
        None if is("Users") => Route::Users,
        None if is("Groups") => Route::Groups,
        None if is("ServiceProviderConfig") => Route::ServiceProviderConfig,
        None if is("ResourceTypes") => Route::ResourceTypes,
        None if is("Schemas") => Route::Schemas,
        Some(t) if is("Users") => Route::User(one(t)?),
        Some(t) if is("Groups") => Route::Group(one(t)?),
        Some(t) if is("ResourceTypes") => Route::ResourceType(one(t)?),
        Some(t) if is("Schemas") => Route::Schema(one(t)?),
        _ => return None,
    })
}

/// Minimal percent-decoding of one path segment (`/Schemas/urn%3Aietf...`); invalid escapes and
/// non-UTF-8 results are kept as sent, so they simply match nothing.
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

impl ScimDirectory {
    /// Answers one SCIM request. `base_url` is the public `.../scim/v2/{slug}` (no trailing
    /// slash), used for `meta.location` and `Location`; `random` mints ids (16 bytes,
    /// base64url, 22 characters). Never panics and never answers 5xx, except 500 when the CSPRNG
    /// fails. A failed request changes nothing (PATCH is atomic, RFC 7644 3.5.2).
    pub fn handle(
        &mut self,
        req: &ScimRequest,
        base_url: &str,
        now: UnixTime,
        random: &dyn Random,
    ) -> ScimOutcome {
        match self.dispatch(req, base_url, now, random) {
            Ok(outcome) => outcome,
            Err(e) => ScimOutcome {
                response: e.response(),
                changes: Vec::new(),
            },
        }
    }

    fn dispatch(
        &mut self,
        req: &ScimRequest,
        base: &str,
        now: UnixTime,
        random: &dyn Random,
    ) -> Result<ScimOutcome, ScimError> {
        let route = route(&req.path).ok_or_else(|| ScimError::not_found("no such endpoint"))?;
        let method = req.method.to_ascii_uppercase();
        let query = req.query.as_deref().unwrap_or("");
        let read = |body: serde_json::Value| Ok(ScimOutcome::read(body));
        match (route, method.as_str()) {
            (Route::ServiceProviderConfig, "GET") => read(schemas::service_provider_config(base)),
            (Route::ResourceTypes, "GET") => read(schemas::resource_types(base)),
            (Route::ResourceType(name), "GET") => {
                read(schemas::resource_type(base, &percent_decode(name))?)
            }
            (Route::Schemas, "GET") => read(schemas::schemas(base)),
            (Route::Schema(id), "GET") => read(schemas::schema(base, &percent_decode(id))?),
            (Route::Users, "GET") => read(self.list_users(query, base)?),
            (Route::Users, "POST") => self.create_user(&req.body, base, now, random),
            (Route::User(id), "GET") => read(self.get_user(&percent_decode(id), query, base)?),
            (Route::User(id), "PUT") => {
                self.replace_user(&percent_decode(id), &req.body, base, now)
            }
            (Route::User(id), "PATCH") => {
                self.patch_user(&percent_decode(id), &req.body, base, now)
            }
            (Route::User(id), "DELETE") => self.delete_user(&percent_decode(id), now),
            (Route::Groups, "GET") => read(self.list_groups(query, base)?),
            (Route::Groups, "POST") => self.create_group(&req.body, base, now, random),
            (Route::Group(id), "GET") => read(self.get_group(&percent_decode(id), query, base)?),
            (Route::Group(id), "PUT") => {
                self.replace_group(&percent_decode(id), &req.body, base, now)
            }
            (Route::Group(id), "PATCH") => {
                self.patch_group(&percent_decode(id), &req.body, base, now)
            }
            (Route::Group(id), "DELETE") => self.delete_group(&percent_decode(id)),
            _ => Err(ScimError::method_not_allowed(&req.method)),
        }
    }

    /// The SCIM user a sign-in belongs to: the one whose `externalId` is `sub` exactly, else one
    /// whose `userName` or an `emails[].value` equals `email` case-insensitively, preferring a
    /// `userName`, work or primary address match, then the oldest. Inactive users are returned
    /// too (the caller refuses them as deprovisioned).
    pub fn user_for(&self, sub: &str, email: &str) -> Option<&ScimUser> {
        if !sub.is_empty() {
            if let Some(u) = self
                .users
                .values()
                .find(|u| u.external_id.as_deref() == Some(sub))
            {
                return Some(u);
            }
        }
        if email.is_empty() {
            return None;
        }
        let rank = |u: &ScimUser| -> Option<u8> {
            if filter::ci_eq(&u.user_name, email) {
                return Some(0);
            }
            u.emails
                .iter()
                .filter(|e| filter::ci_eq(&e.value, email))
                .map(|e| {
                    let work = e
                        .type_
                        .as_deref()
                        .is_some_and(|t| t.eq_ignore_ascii_case("work"));
                    if work || e.primary {
                        0
                    } else {
                        1
                    }
                })
                .min()
        };
        self.users
            .values()
            .filter_map(|u| rank(u).map(|r| (r, u.created, &u.id, u)))
            .min_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)))
            .map(|t| t.3)
    }

    /// The `displayName`s of the groups `user_id` is a member of, in group id order.
    pub fn groups_of(&self, user_id: &str) -> Vec<&str> {
        self.groups
            .values()
            .filter(|g| g.members.iter().any(|m| m == user_id))
            .map(|g| g.display_name.as_str())
            .collect()
    }
}

impl ScimOutcome {
    fn read(body: serde_json::Value) -> ScimOutcome {
        ScimOutcome {
            response: ScimResponse {
                status: 200,
                body: Some(body),
                location: None,
            },
            changes: Vec::new(),
        }
    }
}

/// A fresh id: 16 CSPRNG bytes, base64url (22 characters), retried on the (practically
/// impossible) collision with an existing id.
fn new_id(random: &dyn Random, taken: &dyn Fn(&str) -> bool) -> Result<String, ScimError> {
    for _ in 0..3 {
        let id = random.token(16).map_err(|_| ScimError::random_failed())?;
        if !taken(&id) {
            return Ok(id);
        }
    }
    Err(ScimError::random_failed())
}
