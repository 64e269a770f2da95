//! The UserInfo endpoint (OIDC Core 5.3): asked, with the access token, for claims the ID token
//! lacks. Pure request and response values; the caller sends the request through its
//! [`crate::core::http::HttpClient`] (no redirects, capped, timed out).
//!
//! OIDC Core 5.3.2: "The sub Claim in the UserInfo Response MUST be verified to exactly match
//! the sub Claim in the ID Token; if they do not match, the UserInfo Response values MUST NOT be
//! used." Two forms are read (5.3.2): plain JSON (`application/json`), and a signed JWT
//! (`application/jwt`, when the client is registered with `userinfo_signed_response_alg`),
//! which is verified like an ID token: the same JWKS, the same algorithm allow-list, then
//! [`signed_userinfo_claims`]. An encrypted JWT (a JWE, five parts) needs keys edge-sso never
//! registers and is refused; so is any other content type.

use crate::core::http::{HttpError, HttpRequest, HttpResponse};
use crate::core::jose::jws::{JwsError, JwsPolicy, UntrustedJws};
use crate::core::oidc::idtoken::{key_issuer_matches, IdTokenError};
use crate::core::oidc::issuer::issuer_matches;
use crate::core::oidc::jwks_cache::JwksFetchError;
use crate::core::secret::Secret;
use serde_json::{Map, Value};
use url::Url;

/// Largest userinfo response read, in bytes (JSON or JWT).
pub const MAX_USERINFO_BODY: usize = 16 * 1024;

/// The header policy of a signed userinfo response: at most [`MAX_USERINFO_BODY`] in all (so
/// the base64url payload decodes to at most three quarters of it), `typ` absent or `JWT`
/// (RFC 7519 5.1) so that no other kind of token passes as one.
pub const USERINFO_JWS_POLICY: JwsPolicy<'static> = JwsPolicy {
    max_bytes: MAX_USERINFO_BODY,
    max_payload_bytes: MAX_USERINFO_BODY / 4 * 3,
    typ: &["JWT"],
    typ_optional: true,
};

/// Why the userinfo response cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserinfoError {
    /// The endpoint could not be reached.
    Unreachable(HttpError),
    /// A status other than 200 (a redirect included: never followed).
    Status(u16),
    /// A content type other than `application/json` and `application/jwt`.
    UnsupportedContentType,
    /// An encrypted (JWE) `application/jwt` response: edge-sso registers no encryption keys.
    EncryptedUnsupported,
    /// Not a JSON object (or a JWT whose claims are not one), or larger than
    /// [`MAX_USERINFO_BODY`].
    Malformed,
    /// A signed response that fails the ID-token checks it shares: not a well-formed JWS, an
    /// algorithm the org does not accept, no key of the issuer's JWKS, a bad signature, or a
    /// key published for another issuer ([`IdTokenError::KeyIssuerMismatch`]).
    InvalidSignature(IdTokenError),
    /// The IdP's keys could not be fetched to verify a signed response.
    KeysUnavailable(JwksFetchError),
    /// A signed response whose `iss` is missing or not the IdP's (OIDC Core 5.3.2).
    InvalidIssuer,
    /// A signed response whose `aud` does not include our client id (OIDC Core 5.3.2).
    InvalidAudience,
    /// Its `sub` is missing or not the ID token's (OIDC Core 5.3.2).
    SubMismatch,
}

impl UserinfoError {
    /// Whether the answer must never be ignored: it is about someone else, or signed and
    /// fails verification (a forgery or a misconfiguration, never a claim to do without).
    pub fn is_untrusted_answer(&self) -> bool {
        matches!(
            self,
            UserinfoError::SubMismatch
                | UserinfoError::InvalidSignature(_)
                | UserinfoError::InvalidIssuer
                | UserinfoError::InvalidAudience
        )
    }
}

impl std::fmt::Display for UserinfoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserinfoError::Unreachable(e) => write!(f, "unreachable: {e}"),
            UserinfoError::Status(s) => write!(f, "HTTP status {s}"),
            UserinfoError::UnsupportedContentType => f.write_str(
                "the response is neither application/json nor application/jwt (OIDC Core 5.3.2)",
            ),
            UserinfoError::EncryptedUnsupported => f.write_str(
                "the response is an encrypted JWT: edge-sso reads plain JSON or signed userinfo only; unset userinfo_encrypted_response_alg for this client at the IdP",
            ),
            UserinfoError::Malformed => f.write_str("the response is not a JSON object"),
            UserinfoError::InvalidSignature(e) => write!(f, "signed response refused: {e}"),
            UserinfoError::KeysUnavailable(e) => write!(f, "IdP keys unavailable: {e}"),
            UserinfoError::InvalidIssuer => {
                f.write_str("the signed response's iss is not the IdP's (OIDC Core 5.3.2)")
            }
            UserinfoError::InvalidAudience => f.write_str(
                "the signed response's aud does not include the client id (OIDC Core 5.3.2)",
            ),
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

/// A 200 userinfo answer, read but not yet trusted.
#[derive(Debug)]
pub enum UserinfoResponse {
    /// Plain JSON whose `sub` is the ID token's: the claims, without the token-describing
    /// ones (`iss`, `aud`, `exp`, ...).
    Claims(Map<String, Value>),
    /// A signed JWT: verify it with the issuer's keys, then [`signed_userinfo_claims`].
    Signed(UntrustedJws),
}

/// Reads a userinfo response for the user whose ID token has `sub` `id_token_sub`: status 200,
/// at most [`MAX_USERINFO_BODY`], and `application/json` (its claims) or `application/jwt`
/// (a compact JWS under [`USERINFO_JWS_POLICY`], to verify); anything else is refused.
pub fn userinfo_response(
    resp: &HttpResponse,
    id_token_sub: &str,
) -> Result<UserinfoResponse, UserinfoError> {
    if resp.status != 200 {
        return Err(UserinfoError::Status(resp.status));
    }
    if resp.body.len() > MAX_USERINFO_BODY {
        return Err(UserinfoError::Malformed);
    }
    // The media type, without parameters (RFC 9110 8.3.1: case-insensitive).
    let ct = resp.headers.get("content-type").unwrap_or_default();
    let media = ct.split(';').next().unwrap_or_default().trim();
    if media.eq_ignore_ascii_case("application/json") {
        let claims: Map<String, Value> =
            serde_json::from_slice(&resp.body).map_err(|_| UserinfoError::Malformed)?;
        return userinfo_claims(claims, id_token_sub).map(UserinfoResponse::Claims);
    }
    if !media.eq_ignore_ascii_case("application/jwt") {
        return Err(UserinfoError::UnsupportedContentType);
    }
    let body = std::str::from_utf8(&resp.body).map_err(|_| UserinfoError::Malformed)?;
    // A JWT body may end with a newline; nothing else around it is allowed.
    let body = body
        .strip_suffix("\r\n")
        .or(body.strip_suffix('\n'))
        .unwrap_or(body);
    match UntrustedJws::parse(body, &USERINFO_JWS_POLICY) {
        Ok(jws) => Ok(UserinfoResponse::Signed(jws)),
        Err(JwsError::Encrypted) => Err(UserinfoError::EncryptedUnsupported),
        Err(e) => Err(UserinfoError::InvalidSignature(e.into())),
    }
}

/// The claims of a plain or verified userinfo answer: its `sub` must be the ID token's (OIDC
/// Core 5.3.2); the token-describing claims are dropped.
fn userinfo_claims(
    mut claims: Map<String, Value>,
    id_token_sub: &str,
) -> Result<Map<String, Value>, UserinfoError> {
    if claims.get("sub").and_then(Value::as_str) != Some(id_token_sub) {
        return Err(UserinfoError::SubMismatch);
    }
    // They describe the ID token itself, not the user.
    for k in super::idtoken::TOKEN_CLAIMS {
        claims.remove(k);
    }
    Ok(claims)
}

/// The claims of a signed userinfo response whose signature verified (by `key`, whose
/// per-key `issuer` is `key_issuer`), OIDC Core 5.3.2: "If signed, the UserInfo Response MUST
/// contain the Claims iss (issuer) and aud (audience) as members. The iss value MUST be the
/// OP's Issuer Identifier URL. The aud value MUST be or include the RP's Client ID value."
/// `iss` must exactly equal `issuer` (the issuer the ID token was verified for) and be the
/// key's issuer when the JWKS names one; `aud`, which some providers leave out, must include
/// `client_id` when present; `sub` must be the ID token's.
pub fn signed_userinfo_claims(
    payload: &[u8],
    key_issuer: Option<&str>,
    issuer: &str,
    client_id: &str,
    id_token_sub: &str,
) -> Result<Map<String, Value>, UserinfoError> {
    let claims: Map<String, Value> =
        serde_json::from_slice(payload).map_err(|_| UserinfoError::Malformed)?;
    let iss = claims.get("iss").and_then(Value::as_str);
    if !iss.is_some_and(|iss| issuer_matches(issuer, iss)) {
        return Err(UserinfoError::InvalidIssuer);
    }
    if let Some(k) = key_issuer {
        if !iss.is_some_and(|iss| key_issuer_matches(k, iss, &claims)) {
            return Err(UserinfoError::InvalidSignature(
                IdTokenError::KeyIssuerMismatch,
            ));
        }
    }
    match claims.get("aud") {
        None => {}
        Some(Value::String(a)) if a == client_id => {}
        Some(Value::Array(list)) if list.iter().any(|a| a.as_str() == Some(client_id)) => {}
        Some(_) => return Err(UserinfoError::InvalidAudience),
    }
    userinfo_claims(claims, id_token_sub)
}

#[cfg(test)]
#[path = "userinfo_tests.rs"]
mod tests;
