//! The SCIM error response (RFC 7644 3.12): every failure is this JSON object, with `status` as a
//! string and a `scimType` where RFC 7644 Table 9 has one that fits.

use super::ScimResponse;
use serde_json::{json, Value};

/// The schema URN of error responses (RFC 7644 3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// One SCIM failure: the HTTP status (a plain number; the core knows no HTTP types), the RFC 7644
/// `scimType` keyword and a human-readable detail that never echoes secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimError {
    /// HTTP status code.
    pub status: u16,
    /// RFC 7644 Table 9 keyword (`invalidFilter`, `uniqueness`, ...), if one applies.
    pub scim_type: Option<&'static str>,
    /// What went wrong, for the IdP's provisioning log.
    pub detail: String,
}

impl ScimError {
    fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }
    /// 400 `invalidFilter`: the filter is malformed or uses what this server does not support.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidFilter"), detail)
    }
    /// 400 `invalidSyntax`: the body is not JSON, or not the message shape asked for.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidSyntax"), detail)
    }
    /// 400 `invalidValue`: a required value is missing or a value has the wrong type or size.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidValue"), detail)
    }
    /// 400 `invalidPath`: a PATCH `path` is malformed or names an attribute not in the schema.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidPath"), detail)
    }
    /// 400 `noTarget`: a PATCH `path` selects nothing that can be operated on.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::new(400, Some("noTarget"), detail)
    }
    /// 400 `mutability`: the attribute is read-only (`id`, `meta`, `groups`).
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new(400, Some("mutability"), detail)
    }
    /// 400 `tooMany`: a request or the directory is over one of this server's count limits.
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::new(400, Some("tooMany"), detail)
    }
    /// 409 `uniqueness`: another resource already holds this unique value.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some("uniqueness"), detail)
    }
    /// 404: no such resource or endpoint.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }
    /// 405: the endpoint exists but not with this method.
    pub fn method_not_allowed(method: &str) -> Self {
        let shown: String = method.chars().take(16).collect();
        Self::new(
            405,
            None,
            format!("method {shown} is not allowed on this endpoint"),
        )
    }
    /// 500: the CSPRNG failed, so no id can be minted (the only 5xx this module produces).
    pub fn random_failed() -> Self {
        Self::new(500, None, "the server could not generate an identifier")
    }

    /// The RFC 7644 3.12 JSON body.
    pub fn body(&self) -> Value {
        let mut v = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            v["scimType"] = Value::String(t.to_owned());
        }
        v
    }

    /// The response carrying this error.
    pub fn response(&self) -> ScimResponse {
        ScimResponse {
            status: self.status,
            body: Some(self.body()),
            location: None,
        }
    }
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SCIM {}: {}", self.status, self.detail)
    }
}

impl std::error::Error for ScimError {}

/// Shortens untrusted text quoted in a detail (attribute names, operators) so an error never
/// reflects a large input back.
pub(crate) fn quote(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    }
}
