//! Users (RFC 7643 4.1): wire JSON <-> [`ScimUser`], the attributes filters may name, and the
//! `/Users` handlers.
//!
//! Stored: `userName`, `externalId`, `active`, `emails` (value, type, primary), `displayName`,
//! `name` (givenName, familyName, formatted). Every other attribute a body carries (`password`,
//! `phoneNumbers`, the enterprise extension, ...) is ignored and never stored (RFC 7644 3.3
//! leaves that to the provider).

use super::error::{quote, ScimError};
use super::filter::{ci_eq, AttrPath, Val, CORE_USER_SCHEMA};
use super::list::{list_response, page, parse_query};
use super::wire::{boolean, get_ci, meta, opt_string, parse_object, string};
use super::{
    new_id, patch, ScimChange, ScimDirectory, ScimEmail, ScimName, ScimOutcome, ScimResponse,
    ScimUser, MAX_EMAILS, MAX_USERS,
};
use crate::core::clock::UnixTime;
use crate::core::random::Random;
use serde_json::{json, Map, Value};

/// What a POST or PUT body says about a user.
pub(crate) struct UserFields {
    pub user_name: String,
    pub external_id: Option<String>,
    /// `None`: not given (POST defaults to true, PUT keeps the current value).
    pub active: Option<bool>,
    pub emails: Vec<ScimEmail>,
    pub display_name: Option<String>,
    pub name: Option<ScimName>,
}

/// Reads a user body; `userName` is required (RFC 7643 4.1.1).
pub(crate) fn parse_user(obj: &Map<String, Value>) -> Result<UserFields, ScimError> {
    let user_name = match get_ci(obj, "userName") {
        Some(v) => string(v, "userName")?,
        None => return Err(ScimError::invalid_value("userName is required")),
    };
    let active = match get_ci(obj, "active") {
        None | Some(Value::Null) => None,
        Some(v) => Some(boolean(v, "active")?),
    };
    let emails = match get_ci(obj, "emails") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => parse_emails(v)?,
    };
    let name = match get_ci(obj, "name") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let mut n = ScimName::default();
            merge_name(&mut n, v)?;
            (!n.is_empty()).then_some(n)
        }
    };
    Ok(UserFields {
        user_name,
        external_id: opt_string(get_ci(obj, "externalId"), "externalId")?,
        active,
        emails,
        display_name: opt_string(get_ci(obj, "displayName"), "displayName")?,
        name,
    })
}

/// `emails`: an array of email objects, or one object (PATCH values are often a single one).
pub(crate) fn parse_emails(v: &Value) -> Result<Vec<ScimEmail>, ScimError> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![v],
        _ => {
            return Err(ScimError::invalid_value(
                "emails must be an array of objects",
            ))
        }
    };
    if items.len() > MAX_EMAILS {
        return Err(ScimError::too_many(format!(
            "at most {MAX_EMAILS} emails per user"
        )));
    }
    items.into_iter().map(parse_email).collect()
}

fn parse_email(v: &Value) -> Result<ScimEmail, ScimError> {
    let Value::Object(o) = v else {
        return Err(ScimError::invalid_value("each email must be an object"));
    };
    let value = match get_ci(o, "value") {
        Some(v) => string(v, "emails.value")?,
        None => return Err(ScimError::invalid_value("emails.value is required")),
    };
    let primary = match get_ci(o, "primary") {
        None | Some(Value::Null) => false,
        Some(v) => boolean(v, "emails.primary")?,
    };
    Ok(ScimEmail {
        value,
        type_: opt_string(get_ci(o, "type"), "emails.type")?,
        primary,
    })
}

/// Sets the sub-attributes `v` names (RFC 7644 3.5.2.3: unnamed ones stay as they are).
pub(crate) fn merge_name(n: &mut ScimName, v: &Value) -> Result<(), ScimError> {
    let Value::Object(o) = v else {
        return Err(ScimError::invalid_value("name must be an object"));
    };
    for (key, slot) in [
        ("givenName", &mut n.given_name),
        ("familyName", &mut n.family_name),
        ("formatted", &mut n.formatted),
    ] {
        if let Some(v) = get_ci(o, key) {
            *slot = opt_string(Some(v), &format!("name.{key}"))?;
        }
    }
    Ok(())
}

/// The wire form of a user.
pub(crate) fn render_user(u: &ScimUser, base: &str) -> Value {
    let location = format!("{base}/Users/{}", u.id);
    let mut v = json!({
        "schemas": [CORE_USER_SCHEMA],
        "id": u.id,
        "userName": u.user_name,
        "active": u.active,
        "emails": u.emails.iter().map(|e| {
            let mut o = json!({"value": e.value, "primary": e.primary});
            if let Some(t) = &e.type_ {
                o["type"] = json!(t);
            }
            o
        }).collect::<Vec<_>>(),
        "meta": meta("User", u.created, u.last_modified, &location, u.version),
    });
    if let Some(x) = &u.external_id {
        v["externalId"] = json!(x);
    }
    if let Some(x) = &u.display_name {
        v["displayName"] = json!(x);
    }
    if let Some(n) = &u.name {
        let mut o = Map::new();
        for (k, x) in [
            ("givenName", &n.given_name),
            ("familyName", &n.family_name),
            ("formatted", &n.formatted),
        ] {
            if let Some(x) = x {
                o.insert(k.to_owned(), json!(x));
            }
        }
        v["name"] = Value::Object(o);
    }
    v
}

const EMAIL_SUBS: [&str; 3] = ["value", "type", "primary"];

/// Whether a filter may name `p` on users: `id`, `userName`, `externalId`, `active`,
/// `displayName`, `name.{givenName,familyName,formatted}`, `emails`, `emails.{value,type,primary}`
/// and `emails[...]` filtering on those sub-attributes.
pub(crate) fn filterable(p: &AttrPath) -> bool {
    if !p.in_schema(CORE_USER_SCHEMA) {
        return false;
    }
    let simple = p.value_filter.is_none() && p.sub_attr.is_none();
    if ["id", "userName", "externalId", "active", "displayName"]
        .iter()
        .any(|a| p.is(a))
    {
        return simple;
    }
    if p.is("name") {
        return p.value_filter.is_none()
            && ["givenName", "familyName", "formatted"]
                .iter()
                .any(|s| p.sub_is(Some(s)));
    }
    if p.is("emails") {
        let sub_ok = p.sub_is(None) || EMAIL_SUBS.iter().any(|s| p.sub_is(Some(s)));
        let vf_ok = p
            .value_filter
            .as_ref()
            .is_none_or(|f| f.check(&email_filterable).is_ok());
        return sub_ok && vf_ok;
    }
    false
}

fn email_filterable(p: &AttrPath) -> bool {
    p.schema.is_none()
        && p.value_filter.is_none()
        && p.sub_attr.is_none()
        && EMAIL_SUBS.iter().any(|s| p.is(s))
}

/// The values of `p` (checked by [`filterable`]) on `u`. `id` and `externalId` compare
/// case-exactly, the other strings not (RFC 7643 4.1 `caseExact`).
pub(crate) fn values<'a>(u: &'a ScimUser, p: &AttrPath) -> Vec<Val<'a>> {
    let s = |x: &'a Option<String>, exact| {
        x.as_deref()
            .map(|x| Val::Str(x, exact))
            .into_iter()
            .collect()
    };
    if p.is("id") {
        vec![Val::Str(&u.id, true)]
    } else if p.is("userName") {
        vec![Val::Str(&u.user_name, false)]
    } else if p.is("externalId") {
        s(&u.external_id, true)
    } else if p.is("active") {
        vec![Val::Bool(u.active)]
    } else if p.is("displayName") {
        s(&u.display_name, false)
    } else if p.is("name") {
        let Some(n) = &u.name else { return Vec::new() };
        if p.sub_is(Some("givenName")) {
            s(&n.given_name, false)
        } else if p.sub_is(Some("familyName")) {
            s(&n.family_name, false)
        } else {
            s(&n.formatted, false)
        }
    } else if p.is("emails") {
        u.emails
            .iter()
            .filter(|e| {
                p.value_filter
                    .as_ref()
                    .is_none_or(|f| f.matches(&|q| email_values(e, q)))
            })
            .flat_map(|e| {
                email_values(
                    e,
                    &AttrPath::simple(p.sub_attr.as_deref().unwrap_or("value")),
                )
            })
            .collect()
    } else {
        Vec::new()
    }
}

/// The values of an email's sub-attribute `p.attr`.
pub(crate) fn email_values<'a>(e: &'a ScimEmail, p: &AttrPath) -> Vec<Val<'a>> {
    if p.is("value") {
        vec![Val::Str(&e.value, false)]
    } else if p.is("type") {
        e.type_
            .as_deref()
            .map(|t| Val::Str(t, false))
            .into_iter()
            .collect()
    } else if p.is("primary") {
        vec![Val::Bool(e.primary)]
    } else {
        Vec::new()
    }
}

/// RFC 7643 4.1.1: `userName` must be non-empty.
pub(crate) fn validate(u: &ScimUser) -> Result<(), ScimError> {
    if u.user_name.trim().is_empty() {
        return Err(ScimError::invalid_value("userName must not be empty"));
    }
    if u.emails.len() > MAX_EMAILS {
        return Err(ScimError::too_many(format!(
            "at most {MAX_EMAILS} emails per user"
        )));
    }
    Ok(())
}

impl ScimDirectory {
    /// 409 `uniqueness` if another user (not `except`) has this `userName` (case-insensitively)
    /// or `externalId` (exactly).
    fn check_user_unique(&self, u: &ScimUser, except: Option<&str>) -> Result<(), ScimError> {
        for other in self
            .users
            .values()
            .filter(|o| Some(o.id.as_str()) != except)
        {
            if ci_eq(&other.user_name, &u.user_name) {
                return Err(ScimError::uniqueness(
                    "a user with this userName already exists",
                ));
            }
            if u.external_id.is_some() && other.external_id == u.external_id {
                return Err(ScimError::uniqueness(
                    "a user with this externalId already exists",
                ));
            }
        }
        Ok(())
    }

    fn user(&self, id: &str) -> Result<&ScimUser, ScimError> {
        self.users
            .get(id)
            .ok_or_else(|| ScimError::not_found(format!("no user {}", quote(id))))
    }

    pub(crate) fn list_users(&self, query: &str, base: &str) -> Result<Value, ScimError> {
        let q = parse_query(query)?;
        if let Some(f) = &q.filter {
            f.check(&filterable)?;
        }
        let mut hits: Vec<&ScimUser> = self
            .users
            .values()
            .filter(|u| {
                q.filter
                    .as_ref()
                    .is_none_or(|f| f.matches(&|p| values(u, p)))
            })
            .collect();
        hits.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        let resources = page(&hits, &q)
            .iter()
            .map(|u| {
                let mut v = render_user(u, base);
                q.projection.apply(&mut v);
                v
            })
            .collect();
        Ok(list_response(hits.len(), q.start_index, resources))
    }

    pub(crate) fn get_user(&self, id: &str, query: &str, base: &str) -> Result<Value, ScimError> {
        let q = parse_query(query)?;
        let mut v = render_user(self.user(id)?, base);
        q.projection.apply(&mut v);
        Ok(v)
    }

    pub(crate) fn create_user(
        &mut self,
        body: &[u8],
        base: &str,
        now: UnixTime,
        random: &dyn Random,
    ) -> Result<ScimOutcome, ScimError> {
        let f = parse_user(&parse_object(body)?)?;
        let mut u = ScimUser {
            id: String::new(),
            user_name: f.user_name,
            external_id: f.external_id,
            active: f.active.unwrap_or(true),
            emails: f.emails,
            display_name: f.display_name,
            name: f.name,
            created: now,
            last_modified: now,
            version: 1,
        };
        validate(&u)?;
        self.check_user_unique(&u, None)?;
        if self.users.len() >= MAX_USERS {
            return Err(ScimError::too_many(format!(
                "this directory holds at most {MAX_USERS} users"
            )));
        }
        u.id = new_id(random, &|id| self.users.contains_key(id))?;
        let body = render_user(&u, base);
        let location = format!("{base}/Users/{}", u.id);
        let id = u.id.clone();
        self.users.insert(id.clone(), u);
        Ok(ScimOutcome {
            response: ScimResponse {
                status: 201,
                body: Some(body),
                location: Some(location),
            },
            changes: vec![ScimChange::User { id, before: None }],
        })
    }

    /// PUT (RFC 7644 3.5.1): every attribute is replaced; `id` and `created` stay. An absent
    /// `active` keeps the current value rather than defaulting to true, so a PUT that leaves it
    /// out can never reactivate a deprovisioned user.
    pub(crate) fn replace_user(
        &mut self,
        id: &str,
        body: &[u8],
        base: &str,
        now: UnixTime,
    ) -> Result<ScimOutcome, ScimError> {
        let old = self.user(id)?.clone();
        let f = parse_user(&parse_object(body)?)?;
        let new = ScimUser {
            user_name: f.user_name,
            external_id: f.external_id,
            active: f.active.unwrap_or(old.active),
            emails: f.emails,
            display_name: f.display_name,
            name: f.name,
            ..old.clone()
        };
        self.commit_user(old, new, base, now)
    }

    /// PATCH (RFC 7644 3.5.2): all operations or none.
    pub(crate) fn patch_user(
        &mut self,
        id: &str,
        body: &[u8],
        base: &str,
        now: UnixTime,
    ) -> Result<ScimOutcome, ScimError> {
        let old = self.user(id)?.clone();
        let ops = patch::parse(body)?;
        let mut new = old.clone();
        patch::apply_user(&mut new, &ops)?;
        self.commit_user(old, new, base, now)
    }

    /// Validates and stores a replaced or patched user. A write that changes nothing keeps the
    /// version and reports no change.
    fn commit_user(
        &mut self,
        old: ScimUser,
        mut new: ScimUser,
        base: &str,
        now: UnixTime,
    ) -> Result<ScimOutcome, ScimError> {
        validate(&new)?;
        self.check_user_unique(&new, Some(&old.id))?;
        let mut changes = Vec::new();
        if new != old {
            new.version = old.version.saturating_add(1);
            new.last_modified = now.max(old.created);
            changes.push(ScimChange::User {
                id: old.id.clone(),
                before: Some(old),
            });
            self.users.insert(new.id.clone(), new.clone());
        }
        Ok(ScimOutcome {
            response: ScimResponse {
                status: 200,
                body: Some(render_user(&new, base)),
                location: None,
            },
            changes,
        })
    }

    /// DELETE: the user goes, and leaves every group it was in (RFC 7644 3.6).
    pub(crate) fn delete_user(
        &mut self,
        id: &str,
        now: UnixTime,
    ) -> Result<ScimOutcome, ScimError> {
        self.user(id)?;
        let before = self
            .users
            .remove(id)
            .ok_or_else(|| ScimError::not_found("no such user"))?;
        let mut changes = vec![ScimChange::UserDeleted { before }];
        for g in self.groups.values_mut() {
            let n = g.members.len();
            g.members.retain(|m| m != id);
            if g.members.len() != n {
                g.version = g.version.saturating_add(1);
                g.last_modified = now.max(g.created);
                changes.push(ScimChange::Group { id: g.id.clone() });
            }
        }
        Ok(ScimOutcome {
            response: ScimResponse {
                status: 204,
                body: None,
                location: None,
            },
            changes,
        })
    }
}
