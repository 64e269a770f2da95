//! PATCH (RFC 7644 3.5.2): a `PatchOp` message parsed into typed operations, normalised so both
//! IdP dialects become the same steps, then applied to a copy of the resource (the caller stores
//! it only if every operation succeeded).
//!
//! Dialects: Okta sends path-less operations whose `value` is an object of attributes
//! (`{"op":"replace","value":{"active":false}}`, `{"op":"replace","value":{"id":..,
//! "displayName":..}}`); Entra sends `op` capitalised, a `path`, and booleans as strings
//! (`{"op":"Replace","path":"active","value":"False"}`), and removes group members with
//! `{"op":"Remove","path":"members","value":[{"value":id}]}`. A path-less value becomes one step
//! per attribute; attributes it names that are unknown or read-only (Okta repeats `id`) are
//! ignored, while an explicit `path` naming them is an error. Attributes of the core User schema
//! and the enterprise extension that are not stored (`title`, `phoneNumbers[type eq "work"].value`,
//! `urn:...:enterprise:2.0:User:department`, which Entra's default mappings send) are accepted and
//! ignored, so provisioning does not fail on them.
//!
//! Removing a value that is not there (a member no longer in the group) succeeds and changes
//! nothing: IdPs retry, and the end state is what they asked for.

use super::error::{quote, ScimError};
use super::filter::{ci_eq, AttrPath, CORE_GROUP_SCHEMA, CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA};
use super::user::{email_values, merge_name, parse_emails};
use super::wire::{boolean, get_ci, has_schema, opt_string, parse_object, string};
use super::{ScimEmail, ScimGroup, ScimUser, MAX_MEMBERS_PER_REQUEST, MAX_OPERATIONS};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// The schema URN of PATCH requests (RFC 7644 3.5.2).
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// `op`, case-insensitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchKind {
    /// `add`.
    Add,
    /// `replace`.
    Replace,
    /// `remove`.
    Remove,
}

/// One operation of a `PatchOp` message.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchOperation {
    /// What to do.
    pub op: PatchKind,
    /// Where; `None` for a path-less add/replace whose value is an object of attributes.
    pub path: Option<AttrPath>,
    /// The value, if given.
    pub value: Option<Value>,
}

/// One normalised step: an operation on one attribute path.
struct Step<'a> {
    op: PatchKind,
    path: AttrPath,
    value: Option<&'a Value>,
    /// Whether the path was sent as `path` (errors) or derived from a path-less value (ignored).
    explicit: bool,
}

/// Parses a `PatchOp` body: `schemas` must list [`PATCH_SCHEMA`], `Operations` must hold at most
/// [`MAX_OPERATIONS`] operations.
pub fn parse(body: &[u8]) -> Result<Vec<PatchOperation>, ScimError> {
    let obj = parse_object(body)?;
    if !has_schema(&obj, PATCH_SCHEMA) {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must contain {PATCH_SCHEMA}"
        )));
    }
    let Some(Value::Array(ops)) = get_ci(&obj, "Operations") else {
        return Err(ScimError::invalid_syntax("Operations must be an array"));
    };
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::too_many(format!(
            "at most {MAX_OPERATIONS} operations per request"
        )));
    }
    ops.iter().map(parse_operation).collect()
}

fn parse_operation(v: &Value) -> Result<PatchOperation, ScimError> {
    let Value::Object(o) = v else {
        return Err(ScimError::invalid_syntax(
            "each operation must be an object",
        ));
    };
    let op = match get_ci(o, "op").and_then(Value::as_str) {
        Some(s) if s.eq_ignore_ascii_case("add") => PatchKind::Add,
        Some(s) if s.eq_ignore_ascii_case("replace") => PatchKind::Replace,
        Some(s) if s.eq_ignore_ascii_case("remove") => PatchKind::Remove,
        _ => {
            return Err(ScimError::invalid_syntax(
                "op must be add, replace or remove",
            ))
        }
    };
    let path = match get_ci(o, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(AttrPath::parse(s)?),
        Some(_) => return Err(ScimError::invalid_path("path must be a string")),
    };
    let value = get_ci(o, "value")
        .filter(|v| !v.is_null() || path.is_some())
        .cloned();
    match (&op, &path, &value) {
        (PatchKind::Remove, None, _) => Err(ScimError::no_target("remove needs a path")),
        (PatchKind::Add | PatchKind::Replace, _, None) => {
            Err(ScimError::invalid_value("add and replace need a value"))
        }
        (PatchKind::Add | PatchKind::Replace, None, Some(v)) if !v.is_object() => Err(
            ScimError::invalid_value("a value without a path must be an object"),
        ),
        _ => Ok(PatchOperation { op, path, value }),
    }
}

/// The steps an operation stands for: itself, or one per attribute of a path-less value.
fn steps(op: &PatchOperation) -> Vec<Step<'_>> {
    match (&op.path, &op.value) {
        (Some(p), v) => vec![Step {
            op: op.op,
            path: p.clone(),
            value: v.as_ref(),
            explicit: true,
        }],
        (None, Some(Value::Object(attrs))) => attrs
            .iter()
            .filter_map(|(k, v)| {
                let path = AttrPath::parse(k).ok()?;
                Some(Step {
                    op: op.op,
                    path,
                    value: Some(v),
                    explicit: false,
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Refuses an explicit path to an unknown attribute; ignores one derived from a path-less value.
fn unknown(step: &Step<'_>) -> Result<(), ScimError> {
    if step.explicit {
        Err(ScimError::invalid_path(format!(
            "unsupported attribute {}",
            quote(&step.path.to_string())
        )))
    } else {
        Ok(())
    }
}

fn read_only(step: &Step<'_>) -> Result<(), ScimError> {
    if step.explicit {
        Err(ScimError::mutability(format!(
            "{} is read-only",
            quote(&step.path.attr)
        )))
    } else {
        Ok(())
    }
}

fn simple(step: &Step<'_>) -> Result<(), ScimError> {
    if step.path.value_filter.is_some() || step.path.sub_attr.is_some() {
        return Err(ScimError::invalid_path(format!(
            "{} has no sub-attributes",
            quote(&step.path.attr)
        )));
    }
    Ok(())
}

fn value<'a>(step: &Step<'a>) -> Result<&'a Value, ScimError> {
    step.value
        .ok_or_else(|| ScimError::invalid_value("a value is required"))
}

/// Core User attributes (RFC 7643 4.1) this server accepts but does not store.
const USER_IGNORED: [&str; 15] = [
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "password",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "entitlements",
    "roles",
    "x509Certificates",
];

/// Applies the operations to `u` in order (RFC 7644 3.5.2: sequentially; any failure fails all).
pub fn apply_user(u: &mut ScimUser, ops: &[PatchOperation]) -> Result<(), ScimError> {
    for op in ops {
        for step in steps(op) {
            user_step(u, &step)?;
        }
    }
    Ok(())
}

fn user_step(u: &mut ScimUser, step: &Step<'_>) -> Result<(), ScimError> {
    let p = &step.path;
    if p.schema
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA))
    {
        return Ok(());
    }
    if !p.in_schema(CORE_USER_SCHEMA) {
        return unknown(step);
    }
    let remove = step.op == PatchKind::Remove;
    if ["id", "meta", "groups", "schemas"].iter().any(|a| p.is(a)) {
        return read_only(step);
    }
    if USER_IGNORED.iter().any(|a| p.is(a)) {
        return Ok(());
    }
    if p.is("active") {
        simple(step)?;
        if remove {
            return Err(ScimError::invalid_value("active cannot be removed"));
        }
        u.active = boolean(value(step)?, "active")?;
    } else if p.is("userName") {
        simple(step)?;
        match step.value {
            Some(v) if !remove && !v.is_null() => u.user_name = string(v, "userName")?,
            _ => return Err(ScimError::invalid_value("userName cannot be removed")),
        }
    } else if p.is("displayName") {
        simple(step)?;
        u.display_name = if remove {
            None
        } else {
            opt_string(step.value, "displayName")?
        };
    } else if p.is("externalId") {
        simple(step)?;
        u.external_id = if remove {
            None
        } else {
            opt_string(step.value, "externalId")?
        };
    } else if p.is("name") {
        name_step(u, step)?;
    } else if p.is("emails") {
        emails_step(&mut u.emails, step)?;
    } else {
        return unknown(step);
    }
    Ok(())
}

fn name_step(u: &mut ScimUser, step: &Step<'_>) -> Result<(), ScimError> {
    let p = &step.path;
    if p.value_filter.is_some() {
        return Err(ScimError::invalid_path("name is not multi-valued"));
    }
    let remove = step.op == PatchKind::Remove;
    let mut n = u.name.clone().unwrap_or_default();
    match p.sub_attr.as_deref() {
        None if remove => n = Default::default(),
        None => match value(step)? {
            Value::Null => n = Default::default(),
            v => merge_name(&mut n, v)?,
        },
        Some(_) => {
            let slot = if p.sub_is(Some("givenName")) {
                &mut n.given_name
            } else if p.sub_is(Some("familyName")) {
                &mut n.family_name
            } else if p.sub_is(Some("formatted")) {
                &mut n.formatted
            } else if ["middleName", "honorificPrefix", "honorificSuffix"]
                .iter()
                .any(|s| p.sub_is(Some(s)))
            {
                return Ok(());
            } else {
                return unknown(step);
            };
            *slot = if remove {
                None
            } else {
                opt_string(step.value, "name")?
            };
        }
    }
    u.name = (!n.is_empty()).then_some(n);
    Ok(())
}

fn emails_step(emails: &mut Vec<ScimEmail>, step: &Step<'_>) -> Result<(), ScimError> {
    let p = &step.path;
    let sub = p.sub_attr.as_deref().map(str::to_ascii_lowercase);
    if let Some(s) = &sub {
        if s == "display" {
            return Ok(());
        }
        if !["value", "type", "primary"].contains(&s.as_str()) {
            return unknown(step);
        }
    }
    if let Some(f) = &p.value_filter {
        f.check(&|q| q.schema.is_none() && ["value", "type", "primary"].iter().any(|a| q.is(a)))
            .map_err(|e| ScimError::invalid_path(e.detail))?;
    }
    let hit = |e: &ScimEmail| {
        p.value_filter
            .as_ref()
            .is_none_or(|f| f.matches(&|q| email_values(e, q)))
    };
    match (step.op, p.value_filter.is_some(), sub.as_deref()) {
        // `emails` itself.
        (PatchKind::Remove, false, None) => match step.value {
            Some(v) if !v.is_null() => {
                let gone = parse_emails(v)?;
                emails.retain(|e| !gone.iter().any(|g| ci_eq(&g.value, &e.value)));
            }
            _ => emails.clear(),
        },
        (PatchKind::Replace, false, None) => *emails = parse_emails(value(step)?)?,
        (PatchKind::Add, false, None) => {
            for new in parse_emails(value(step)?)? {
                match emails.iter_mut().find(|e| ci_eq(&e.value, &new.value)) {
                    Some(e) => *e = new,
                    None => emails.push(new),
                }
            }
        }
        // `emails[filter]`, `emails[filter].sub`, `emails.sub`.
        (PatchKind::Remove, _, None | Some("value")) => emails.retain(|e| !hit(e)),
        (PatchKind::Remove, _, Some(s)) => {
            for e in emails.iter_mut().filter(|e| hit(e)) {
                if s == "type" {
                    e.type_ = None;
                } else {
                    e.primary = false;
                }
            }
        }
        (PatchKind::Add | PatchKind::Replace, _, sub) => {
            let v = value(step)?;
            let matched = emails.iter().filter(|e| hit(e)).count();
            if matched == 0 {
                // RFC 7644 3.5.2.3: a replace whose filter matches nothing on a multi-valued
                // attribute is refused, except that the element it describes can be built from
                // the filter's own `eq` clauses (Entra: `emails[type eq "work"].value`).
                let f = p.value_filter.as_deref();
                let mut e = ScimEmail {
                    value: f
                        .and_then(|f| f.eq_str("value"))
                        .unwrap_or_default()
                        .to_owned(),
                    type_: f.and_then(|f| f.eq_str("type")).map(str::to_owned),
                    primary: f.and_then(|f| f.eq_bool("primary")).unwrap_or(false),
                };
                set_email(&mut e, sub, v)?;
                if e.value.is_empty() {
                    return Err(ScimError::no_target("no email matches the path"));
                }
                if emails.len() >= super::MAX_EMAILS {
                    return Err(ScimError::too_many("too many emails"));
                }
                emails.push(e);
            } else {
                for e in emails.iter_mut().filter(|e| hit(e)) {
                    set_email(e, sub, v)?;
                }
            }
        }
    }
    Ok(())
}

/// Sets `sub` of one email from `v` (the whole element when `sub` is `None`, merging the fields
/// `v` names).
fn set_email(e: &mut ScimEmail, sub: Option<&str>, v: &Value) -> Result<(), ScimError> {
    match sub {
        Some("value") => e.value = string(v, "emails.value")?,
        Some("type") => e.type_ = opt_string(Some(v), "emails.type")?,
        Some(_) => e.primary = boolean(v, "emails.primary")?,
        None => {
            let Value::Object(o) = v else {
                return Err(ScimError::invalid_value("an email must be an object"));
            };
            if let Some(x) = get_ci(o, "value") {
                e.value = string(x, "emails.value")?;
            }
            if let Some(x) = get_ci(o, "type") {
                e.type_ = opt_string(Some(x), "emails.type")?;
            }
            if let Some(x) = get_ci(o, "primary") {
                e.primary = boolean(x, "emails.primary")?;
            }
        }
    }
    Ok(())
}

/// `members` values: `[{"value": userId, "display"?: ...}]` or one such object. Nested groups
/// (`"type": "Group"`) are not supported.
pub fn parse_members(v: &Value) -> Result<Vec<String>, ScimError> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![v],
        _ => {
            return Err(ScimError::invalid_value(
                "members must be an array of objects",
            ))
        }
    };
    if items.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(ScimError::too_many(format!(
            "at most {MAX_MEMBERS_PER_REQUEST} members per request"
        )));
    }
    items
        .into_iter()
        .map(|m| {
            let Value::Object(o) = m else {
                return Err(ScimError::invalid_value("each member must be an object"));
            };
            if let Some(t) = get_ci(o, "type").and_then(Value::as_str) {
                if !t.eq_ignore_ascii_case("User") {
                    return Err(ScimError::invalid_value("only users can be group members"));
                }
            }
            match get_ci(o, "value") {
                Some(v) => string(v, "members.value"),
                None => Err(ScimError::invalid_value("members.value is required")),
            }
        })
        .collect()
}

/// Refuses member ids that are not users of this directory (`invalidValue`), so an IdP learns
/// about a membership it believes in but this directory cannot hold.
pub fn check_members(ids: &[String], users: &BTreeMap<String, ScimUser>) -> Result<(), ScimError> {
    match ids.iter().find(|id| !users.contains_key(id.as_str())) {
        Some(id) => Err(ScimError::invalid_value(format!(
            "no user {} to add as a member",
            quote(id)
        ))),
        None => Ok(()),
    }
}

/// Adds `ids` that are not members yet, in order.
pub fn add_members(members: &mut Vec<String>, ids: Vec<String>) {
    let mut have: HashSet<String> = members.iter().cloned().collect();
    for id in ids {
        if have.insert(id.clone()) {
            members.push(id);
        }
    }
}

/// Applies the operations to `g`; member ids must be `users`.
pub fn apply_group(
    g: &mut ScimGroup,
    ops: &[PatchOperation],
    users: &BTreeMap<String, ScimUser>,
) -> Result<(), ScimError> {
    for op in ops {
        for step in steps(op) {
            group_step(g, &step, users)?;
        }
    }
    Ok(())
}

fn group_step(
    g: &mut ScimGroup,
    step: &Step<'_>,
    users: &BTreeMap<String, ScimUser>,
) -> Result<(), ScimError> {
    let p = &step.path;
    if !p.in_schema(CORE_GROUP_SCHEMA) {
        return unknown(step);
    }
    let remove = step.op == PatchKind::Remove;
    if ["id", "meta", "schemas"].iter().any(|a| p.is(a)) {
        return read_only(step);
    }
    if p.is("displayName") {
        simple(step)?;
        match step.value {
            Some(v) if !remove && !v.is_null() => g.display_name = string(v, "displayName")?,
            _ => return Err(ScimError::invalid_value("displayName cannot be removed")),
        }
    } else if p.is("externalId") {
        simple(step)?;
        g.external_id = if remove {
            None
        } else {
            opt_string(step.value, "externalId")?
        };
    } else if p.is("members") {
        members_step(g, step, users)?;
    } else {
        return unknown(step);
    }
    Ok(())
}

fn members_step(
    g: &mut ScimGroup,
    step: &Step<'_>,
    users: &BTreeMap<String, ScimUser>,
) -> Result<(), ScimError> {
    let p = &step.path;
    if p.sub_attr.is_some() {
        return Err(ScimError::invalid_path(
            "members sub-attributes cannot be patched",
        ));
    }
    if let Some(f) = &p.value_filter {
        // `members[value eq "id"]` (Okta's remove): only `value` can be filtered on.
        f.check(&|q| {
            q.schema.is_none() && q.sub_attr.is_none() && q.value_filter.is_none() && q.is("value")
        })
        .map_err(|e| ScimError::invalid_path(e.detail))?;
        if step.op != PatchKind::Remove {
            return Err(ScimError::invalid_path(
                "use path members to add or replace members",
            ));
        }
        g.members
            .retain(|m| !f.matches(&|_| vec![super::filter::Val::Str(m.as_str(), true)]));
        return Ok(());
    }
    match step.op {
        PatchKind::Remove => match step.value {
            Some(v) if !v.is_null() => {
                let gone: HashSet<String> = parse_members(v)?.into_iter().collect();
                g.members.retain(|m| !gone.contains(m));
            }
            _ => g.members.clear(),
        },
        PatchKind::Add => {
            let ids = parse_members(value(step)?)?;
            check_members(&ids, users)?;
            add_members(&mut g.members, ids);
        }
        PatchKind::Replace => {
            let ids = match value(step)? {
                Value::Null => Vec::new(),
                v => parse_members(v)?,
            };
            check_members(&ids, users)?;
            g.members.clear();
            add_members(&mut g.members, ids);
        }
    }
    Ok(())
}
