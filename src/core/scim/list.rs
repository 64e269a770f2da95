//! Query parameters of `GET /Users` and `GET /Groups` (RFC 7644 3.4.2): `filter`, `startIndex`,
//! `count`, `attributes`, `excludedAttributes`, and the `ListResponse` they produce.

use super::error::ScimError;
use super::filter::{AttrPath, Filter};
use super::MAX_RESULTS;
use serde_json::{json, Value};

/// The schema URN of list answers (RFC 7644 3.4.2).
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A parsed query string.
#[derive(Debug, Default)]
pub(crate) struct ListQuery {
    /// The filter, if one was given.
    pub filter: Option<Filter>,
    /// 1-based index of the first result (RFC 7644 3.4.2.4: below 1 is 1).
    pub start_index: usize,
    /// Most results to return: capped at [`MAX_RESULTS`]; 0 asks only for `totalResults`.
    pub count: usize,
    /// Which attributes to return.
    pub projection: Projection,
}

/// `attributes` / `excludedAttributes` (RFC 7644 3.4.2.5), on top-level attribute names.
#[derive(Debug, Default)]
pub(crate) struct Projection {
    /// Return only these (plus `id` and `schemas`); empty: all defaults.
    pub attributes: Vec<String>,
    /// Leave these out (never `id` or `schemas`).
    pub excluded: Vec<String>,
}

/// Parses the raw (undecoded) query string. Parameter names are matched case-insensitively;
/// where one is repeated the first wins.
pub(crate) fn parse_query(raw: &str) -> Result<ListQuery, ScimError> {
    let mut q = ListQuery {
        start_index: 1,
        count: MAX_RESULTS,
        ..ListQuery::default()
    };
    let mut seen: Vec<String> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        let key = k.to_ascii_lowercase();
        if seen.contains(&key) {
            continue;
        }
        seen.push(key.clone());
        match key.as_str() {
            "filter" => q.filter = Some(Filter::parse(&v)?),
            "startindex" => {
                q.start_index = integer(&v, "startIndex")?.clamp(1, i64::from(u32::MAX)) as usize
            }
            "count" => q.count = integer(&v, "count")?.clamp(0, MAX_RESULTS as i64) as usize,
            "attributes" => q.projection.attributes = names(&v),
            "excludedattributes" => q.projection.excluded = names(&v),
            _ => {}
        }
    }
    Ok(q)
}

/// An integer parameter; out-of-range values saturate (they are clamped anyway).
fn integer(s: &str, what: &str) -> Result<i64, ScimError> {
    let t = s.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || digits.len() > 64 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ScimError::invalid_value(format!(
            "{what} must be an integer"
        )));
    }
    Ok(t.parse::<i64>().unwrap_or(if t.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    }))
}

/// Comma-separated attribute names, reduced to their top-level attribute (`name.givenName` ->
/// `name`, schema URN prefix dropped). Names that do not parse are ignored.
fn names(s: &str) -> Vec<String> {
    s.split(',')
        .take(64)
        .filter_map(|n| AttrPath::parse(n.trim()).ok())
        .map(|p| p.attr)
        .collect()
}

impl Projection {
    /// Applies the projection to a rendered resource.
    pub(crate) fn apply(&self, v: &mut Value) {
        let Value::Object(obj) = v else { return };
        let always = |k: &str| k == "id" || k == "schemas";
        if !self.attributes.is_empty() {
            obj.retain(|k, _| {
                always(k) || self.attributes.iter().any(|a| a.eq_ignore_ascii_case(k))
            });
        }
        obj.retain(|k, _| always(k) || !self.excluded.iter().any(|a| a.eq_ignore_ascii_case(k)));
    }
}

/// The page of `items` (already filtered and in their stable order) the query asks for.
pub(crate) fn page<'a, T>(items: &'a [T], q: &ListQuery) -> &'a [T] {
    let start = (q.start_index - 1).min(items.len());
    let end = start.saturating_add(q.count).min(items.len());
    &items[start..end]
}

/// A `ListResponse` (RFC 7644 3.4.2) with integer counts.
pub(crate) fn list_response(total: usize, start_index: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
