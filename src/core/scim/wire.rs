//! Reading and writing SCIM JSON values: case-insensitive attribute lookup (RFC 7643 2.1),
//! typed and size-checked values, `meta` (RFC 7643 3.1) and its RFC 3339 timestamps.

use super::error::ScimError;
use super::filter::parse_bool_str;
use super::MAX_STRING_CHARS;
use crate::core::clock::UnixTime;
use serde_json::{json, Map, Value};

/// The member of `obj` named `name`, compared case-insensitively (RFC 7643 2.1: "Attribute names
/// are case insensitive"). With duplicates differing only in case, the first one wins.
pub(crate) fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A string value within the size cap.
pub(crate) fn string(v: &Value, what: &str) -> Result<String, ScimError> {
    match v {
        Value::String(s) => check_len(s, what).map(|()| s.clone()),
        _ => Err(ScimError::invalid_value(format!("{what} must be a string"))),
    }
}

/// An optional string: absent or `null` is `None`.
pub(crate) fn opt_string(v: Option<&Value>, what: &str) -> Result<Option<String>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => string(v, what).map(Some),
    }
}

/// Refuses strings over [`MAX_STRING_CHARS`] characters.
pub(crate) fn check_len(s: &str, what: &str) -> Result<(), ScimError> {
    if s.chars().count() > MAX_STRING_CHARS {
        return Err(ScimError::invalid_value(format!(
            "{what} is longer than {MAX_STRING_CHARS} characters"
        )));
    }
    Ok(())
}

/// A boolean given as a JSON boolean or as the string `"True"`/`"False"` in any case (Entra).
pub(crate) fn boolean(v: &Value, what: &str) -> Result<bool, ScimError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => parse_bool_str(s)
            .ok_or_else(|| ScimError::invalid_value(format!("{what} must be a boolean"))),
        _ => Err(ScimError::invalid_value(format!(
            "{what} must be a boolean"
        ))),
    }
}

/// The body as a JSON object, or 400 `invalidSyntax`.
pub(crate) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ScimError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ScimError::invalid_syntax("the body must be a JSON object")),
        Err(_) => Err(ScimError::invalid_syntax("the body is not valid JSON")),
    }
}

/// Whether the body's `schemas` lists `urn` (case-insensitively).
pub(crate) fn has_schema(obj: &Map<String, Value>, urn: &str) -> bool {
    match get_ci(obj, "schemas") {
        Some(Value::Array(a)) => a
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn))),
        _ => false,
    }
}

/// The `meta` attribute (RFC 7643 3.1), with the weak version ETag form RFC 7644 3.14 shows.
pub(crate) fn meta(
    resource_type: &str,
    created: UnixTime,
    last_modified: UnixTime,
    location: &str,
    version: u64,
) -> Value {
    json!({
        "resourceType": resource_type,
        "created": rfc3339(created),
        "lastModified": rfc3339(last_modified),
        "location": location,
        "version": format!("W/\"{version}\""),
    })
}

/// `UnixTime` as an RFC 3339 UTC timestamp (`2024-05-01T12:00:00Z`), the `dateTime` of RFC 7643
/// 2.3.5. Civil-from-days after Howard Hinnant's algorithm (proleptic Gregorian calendar).
pub fn rfc3339(t: UnixTime) -> String {
    let secs = t.secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}
