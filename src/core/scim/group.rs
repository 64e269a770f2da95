//! Groups (RFC 7643 4.2): wire JSON <-> [`ScimGroup`], the attributes filters may name, and the
//! `/Groups` handlers.
//!
//! Members are users of this directory only: a POST, PUT or PATCH naming an unknown user id is
//! 400 `invalidValue` (nothing is stored), so the IdP reports the mismatch instead of this
//! directory silently dropping a membership that role mapping may depend on. Removing a member
//! that is not there succeeds.

use super::error::{quote, ScimError};
use super::filter::{ci_eq, AttrPath, Val, CORE_GROUP_SCHEMA};
use super::list::{list_response, page, parse_query};
use super::patch::{self, add_members, check_members, parse_members};
use super::wire::{get_ci, meta, opt_string, parse_object, string};
use super::{
    new_id, ScimChange, ScimDirectory, ScimGroup, ScimOutcome, ScimResponse, ScimUser, MAX_GROUPS,
};
use crate::core::clock::UnixTime;
use crate::core::random::Random;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// What a POST or PUT body says about a group.
struct GroupFields {
    display_name: String,
    external_id: Option<String>,
    members: Vec<String>,
}

fn parse_group(obj: &Map<String, Value>) -> Result<GroupFields, ScimError> {
    let display_name = match get_ci(obj, "displayName") {
        Some(v) => string(v, "displayName")?,
        None => return Err(ScimError::invalid_value("displayName is required")),
    };
    let members = match get_ci(obj, "members") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => parse_members(v)?,
    };
    Ok(GroupFields {
        display_name,
        external_id: opt_string(get_ci(obj, "externalId"), "externalId")?,
        members,
    })
}

/// The wire form of a group; members carry `display` (the user's displayName or userName) and
/// `$ref`.
pub(crate) fn render_group(g: &ScimGroup, users: &BTreeMap<String, ScimUser>, base: &str) -> Value {
    let location = format!("{base}/Groups/{}", g.id);
    let members: Vec<Value> = g
        .members
        .iter()
        .map(|id| {
            let mut m = json!({"value": id, "$ref": format!("{base}/Users/{id}"), "type": "User"});
            if let Some(u) = users.get(id) {
                m["display"] = json!(u.display_name.as_deref().unwrap_or(&u.user_name));
            }
            m
        })
        .collect();
    let mut v = json!({
        "schemas": [CORE_GROUP_SCHEMA],
        "id": g.id,
        "displayName": g.display_name,
        "members": members,
        "meta": meta("Group", g.created, g.last_modified, &location, g.version),
    });
    if let Some(x) = &g.external_id {
        v["externalId"] = json!(x);
    }
    v
}

/// Whether a filter may name `p` on groups: `id`, `displayName`, `externalId`, `members`,
/// `members.value` and `members[value eq ...]`.
pub(crate) fn filterable(p: &AttrPath) -> bool {
    if !p.in_schema(CORE_GROUP_SCHEMA) {
        return false;
    }
    let simple = p.value_filter.is_none() && p.sub_attr.is_none();
    if ["id", "displayName", "externalId"].iter().any(|a| p.is(a)) {
        return simple;
    }
    if p.is("members") {
        let vf_ok = p.value_filter.as_ref().is_none_or(|f| {
            f.check(&|q| {
                q.schema.is_none()
                    && q.value_filter.is_none()
                    && q.sub_attr.is_none()
                    && q.is("value")
            })
            .is_ok()
        });
        return vf_ok && (p.sub_is(None) || p.sub_is(Some("value")));
    }
    false
}

/// The values of `p` (checked by [`filterable`]) on `g`; ids compare case-exactly.
pub(crate) fn values<'a>(g: &'a ScimGroup, p: &AttrPath) -> Vec<Val<'a>> {
    if p.is("id") {
        vec![Val::Str(&g.id, true)]
    } else if p.is("displayName") {
        vec![Val::Str(&g.display_name, false)]
    } else if p.is("externalId") {
        g.external_id
            .as_deref()
            .map(|x| Val::Str(x, true))
            .into_iter()
            .collect()
    } else if p.is("members") {
        g.members
            .iter()
            .map(|m| Val::Str(m.as_str(), true))
            .filter(|v| {
                p.value_filter
                    .as_ref()
                    .is_none_or(|f| f.matches(&|_| vec![*v]))
            })
            .collect()
    } else {
        Vec::new()
    }
}

fn validate(g: &ScimGroup) -> Result<(), ScimError> {
    if g.display_name.trim().is_empty() {
        return Err(ScimError::invalid_value("displayName must not be empty"));
    }
    Ok(())
}

impl ScimDirectory {
    fn check_group_unique(&self, g: &ScimGroup, except: Option<&str>) -> Result<(), ScimError> {
        let clash = self
            .groups
            .values()
            .any(|o| Some(o.id.as_str()) != except && ci_eq(&o.display_name, &g.display_name));
        if clash {
            return Err(ScimError::uniqueness(
                "a group with this displayName already exists",
            ));
        }
        Ok(())
    }

    fn group(&self, id: &str) -> Result<&ScimGroup, ScimError> {
        self.groups
            .get(id)
            .ok_or_else(|| ScimError::not_found(format!("no group {}", quote(id))))
    }

    pub(crate) fn list_groups(&self, query: &str, base: &str) -> Result<Value, ScimError> {
        let q = parse_query(query)?;
        if let Some(f) = &q.filter {
            f.check(&filterable)?;
        }
        let mut hits: Vec<&ScimGroup> = self
            .groups
            .values()
            .filter(|g| {
                q.filter
                    .as_ref()
                    .is_none_or(|f| f.matches(&|p| values(g, p)))
            })
            .collect();
        hits.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        let resources = page(&hits, &q)
            .iter()
            .map(|g| {
                let mut v = render_group(g, &self.users, base);
                q.projection.apply(&mut v);
                v
            })
            .collect();
        Ok(list_response(hits.len(), q.start_index, resources))
    }

    pub(crate) fn get_group(&self, id: &str, query: &str, base: &str) -> Result<Value, ScimError> {
        let q = parse_query(query)?;
        let mut v = render_group(self.group(id)?, &self.users, base);
        q.projection.apply(&mut v);
        Ok(v)
    }

    pub(crate) fn create_group(
        &mut self,
        body: &[u8],
        base: &str,
        now: UnixTime,
        random: &dyn Random,
    ) -> Result<ScimOutcome, ScimError> {
        let f = parse_group(&parse_object(body)?)?;
        check_members(&f.members, &self.users)?;
        let mut g = ScimGroup {
            id: String::new(),
            display_name: f.display_name,
            external_id: f.external_id,
            members: Vec::new(),
            created: now,
            last_modified: now,
            version: 1,
        };
        add_members(&mut g.members, f.members);
        validate(&g)?;
        self.check_group_unique(&g, None)?;
        if self.groups.len() >= MAX_GROUPS {
            return Err(ScimError::too_many(format!(
                "this directory holds at most {MAX_GROUPS} groups"
            )));
        }
        g.id = new_id(random, &|id| self.groups.contains_key(id))?;
        let body = render_group(&g, &self.users, base);
        let location = format!("{base}/Groups/{}", g.id);
        let id = g.id.clone();
        self.groups.insert(id.clone(), g);
        Ok(ScimOutcome {
            response: ScimResponse {
                status: 201,
                body: Some(body),
                location: Some(location),
            },
            changes: vec![ScimChange::Group { id }],
        })
    }

    /// PUT: displayName, externalId and members replaced (absent members: none).
    pub(crate) fn replace_group(
        &mut self,
        id: &str,
        body: &[u8],
        base: &str,
        now: UnixTime,
    ) -> Result<ScimOutcome, ScimError> {
        let old = self.group(id)?.clone();
        let f = parse_group(&parse_object(body)?)?;
        check_members(&f.members, &self.users)?;
        let mut new = ScimGroup {
            display_name: f.display_name,
            external_id: f.external_id,
            members: Vec::new(),
            ..old.clone()
        };
        add_members(&mut new.members, f.members);
        self.commit_group(old, new, base, now)
    }

    pub(crate) fn patch_group(
        &mut self,
        id: &str,
        body: &[u8],
        base: &str,
        now: UnixTime,
    ) -> Result<ScimOutcome, ScimError> {
        let old = self.group(id)?.clone();
        let ops = patch::parse(body)?;
        let mut new = old.clone();
        patch::apply_group(&mut new, &ops, &self.users)?;
        self.commit_group(old, new, base, now)
    }

    fn commit_group(
        &mut self,
        old: ScimGroup,
        mut new: ScimGroup,
        base: &str,
        now: UnixTime,
    ) -> Result<ScimOutcome, ScimError> {
        validate(&new)?;
        self.check_group_unique(&new, Some(&old.id))?;
        let mut changes = Vec::new();
        if new != old {
            new.version = old.version.saturating_add(1);
            new.last_modified = now.max(old.created);
            changes.push(ScimChange::Group { id: new.id.clone() });
            self.groups.insert(new.id.clone(), new.clone());
        }
        let body = render_group(&new, &self.users, base);
        Ok(ScimOutcome {
            response: ScimResponse {
                status: 200,
                body: Some(body),
                location: None,
            },
            changes,
        })
    }

    pub(crate) fn delete_group(&mut self, id: &str) -> Result<ScimOutcome, ScimError> {
        self.group(id)?;
        self.groups.remove(id);
        Ok(ScimOutcome {
            response: ScimResponse {
                status: 204,
                body: None,
                location: None,
            },
            changes: vec![ScimChange::GroupDeleted { id: id.to_owned() }],
        })
    }
}
