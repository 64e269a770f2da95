//! The UserInfo endpoint (OIDC Core 5.3): asked, with the access token, for claims the ID token
//! lacks. Pure request and response values; the caller sends the request through its
//! [`crate::core::http::HttpClient`] (no redirects, capped, timed out).
//!
//! OIDC Core 5.3.2: "The sub Claim in the UserInfo Response MUST be verified to exactly match
//! the sub Claim in the ID Token; if they do not match, the UserInfo Response values MUST NOT be
//! used." Only a plain JSON response (`application/json`) is read; a signed or encrypted one
//! (`application/jwt`, 5.3.2) is refused as unsupported, because edge-sso never registers
//! `userinfo_signed_response_alg` and so never asks for one.

use crate::core::http::{HttpError, HttpRequest, HttpResponse};
use crate::core::secret::Secret;
use serde_json::{Map, Value};
use url::Url;

/// Largest userinfo response read, in bytes.
pub const MAX_USERINFO_BODY: usize = 16 * 1024;

/// Claims never taken from userinfo: they describe the ID token itself, not the user.
const TOKEN_CLAIMS: [&str; 12] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "azp",
    "auth_time",
    "sid",
    "jti",
    "at_hash",
];

/// Why the userinfo response cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserinfoError {
    /// The endpoint could not be reached.
    Unreachable(HttpError),
    /// A status other than 200 (a redirect included: never followed).
    Status(u16),
    /// A signed or encrypted (`application/jwt`) response: not requested, not read.
    SignedUnsupported,
    /// Not a JSON object.
    Malformed,
    /// Its `sub` is missing or not the ID token's (OIDC Core 5.3.2).
    SubMismatch,
}

impl std::fmt::Display for UserinfoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserinfoError::Unreachable(e) => write!(f, "unreachable: {e}"),
            UserinfoError::Status(s) => write!(f, "HTTP status {s}"),
            UserinfoError::SignedUnsupported => {
                f.write_str("signed userinfo responses are not supported")
            }
            UserinfoError::Malformed => f.write_str("the response is not a JSON object"),
            UserinfoError::SubMismatch => {
                f.write_str("the userinfo sub is not the ID token's (OIDC Core 5.3.2)")
            }
        }
    }
}

impl std::error::Error for UserinfoError {}

/// OIDC Core 5.3.1: a GET with the access token as a Bearer token (RFC 6750 2.1).
pub fn userinfo_request(endpoint: &Url, access_token: &Secret) -> HttpRequest {
    let mut req = HttpRequest::get(endpoint.clone());
    req.headers
        .push("authorization", format!("Bearer {}", access_token.expose()));
    req.headers.push("accept", "application/json");
    req
}

/// The claims of a userinfo response for the user whose ID token has `sub` `id_token_sub`,
/// without the token-describing claims (`iss`, `aud`, `exp`, ...).
pub fn userinfo_response(
    resp: &HttpResponse,
    id_token_sub: &str,
) -> Result<Map<String, Value>, UserinfoError> {
    if resp.status != 200 {
        return Err(UserinfoError::Status(resp.status));
    }
    if resp.body.len() > MAX_USERINFO_BODY {
        return Err(UserinfoError::Malformed);
    }
    let ct = resp
        .headers
        .get("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ct.starts_with("application/jwt") {
        return Err(UserinfoError::SignedUnsupported);
    }
    let mut claims: Map<String, Value> =
        serde_json::from_slice(&resp.body).map_err(|_| UserinfoError::Malformed)?;
    if claims.get("sub").and_then(Value::as_str) != Some(id_token_sub) {
        return Err(UserinfoError::SubMismatch);
    }
    for k in TOKEN_CLAIMS {
        claims.remove(k);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resp(status: u16, ct: &str, body: Value) -> HttpResponse {
        HttpResponse::new(status, ct, body.to_string())
    }

    #[test]
    fn request_is_a_bearer_get() {
        let url = Url::parse("https://idp.example.com/userinfo").unwrap();
        let r = userinfo_request(&url, &Secret::new("at-1"));
        assert_eq!(r.method, crate::core::http::Method::Get);
        assert_eq!(r.url, url);
        assert_eq!(r.headers.get("authorization"), Some("Bearer at-1"));
    }

    #[test]
    fn claims_for_the_same_sub() {
        let r = resp(
            200,
            "application/json; charset=utf-8",
            json!({"sub": "u1", "email": "ada@acme.com", "groups": ["a"], "iss": "x", "aud": "y"}),
        );
        let c = userinfo_response(&r, "u1").unwrap();
        assert_eq!(
            Value::Object(c),
            json!({"email": "ada@acme.com", "groups": ["a"]})
        );
    }

    #[test]
    fn sub_mismatch_refused() {
        for body in [json!({"sub": "u2"}), json!({}), json!({"sub": 1})] {
            let r = resp(200, "application/json", body.clone());
            assert_eq!(
                userinfo_response(&r, "u1"),
                Err(UserinfoError::SubMismatch),
                "{body}"
            );
        }
    }

    #[test]
    fn other_answers_refused() {
        let r = resp(302, "text/html", json!({}));
        assert_eq!(userinfo_response(&r, "u1"), Err(UserinfoError::Status(302)));
        let r = resp(401, "application/json", json!({"error": "invalid_token"}));
        assert_eq!(userinfo_response(&r, "u1"), Err(UserinfoError::Status(401)));
        let r = HttpResponse::new(200, "application/jwt", "a.b.c");
        assert_eq!(
            userinfo_response(&r, "u1"),
            Err(UserinfoError::SignedUnsupported)
        );
        let r = HttpResponse::new(200, "application/json", "[1]");
        assert_eq!(userinfo_response(&r, "u1"), Err(UserinfoError::Malformed));
        let r = HttpResponse::new(200, "application/json", vec![b' '; MAX_USERINFO_BODY + 1]);
        assert_eq!(userinfo_response(&r, "u1"), Err(UserinfoError::Malformed));
    }
}
