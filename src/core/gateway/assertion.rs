//! The claims of the short-lived assertion the gateway gives the origin about the member (the
//! `Cf-Access-Jwt-Assertion` idea). Only the claims are built here; signing comes later through
//! a signer port.

use crate::core::clock::UnixTime;
use crate::core::gateway::decision::Identity;
use serde_json::{json, Map, Value};
use url::Url;

/// Longest assertion lifetime, in seconds: it is minted per request, so it only needs to
/// outlive the forward.
pub const MAX_ASSERTION_TTL_SECS: u64 = 300;

/// A deployment URL the assertion cannot be built from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssertionConfigError {
    /// `PUBLIC_ORIGIN` is not an http(s) URL.
    PublicOrigin,
    /// `ORIGIN_URL` is not an http(s) URL.
    OriginUrl,
}

impl std::fmt::Display for AssertionConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AssertionConfigError::PublicOrigin => "PUBLIC_ORIGIN must be an http(s) URL",
            AssertionConfigError::OriginUrl => "ORIGIN_URL must be an http(s) URL",
        })
    }
}

impl std::error::Error for AssertionConfigError {}

/// Issuer and audience of every assertion of a deployment, computed once from its
/// configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionContext {
    issuer: String,
    audience: String,
}

/// The ASCII serialization of `u`'s origin (`https://host[:port]`, RFC 6454 6.2), if it is an
/// http(s) URL.
fn origin_of(s: &str) -> Option<String> {
    let u = Url::parse(s).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    Some(u.origin().ascii_serialization())
}

impl AssertionContext {
    /// `iss` is the origin of `public_origin` (PUBLIC_ORIGIN), `aud` the origin of `origin_url`
    /// (ORIGIN_URL), both serialized as RFC 6454 origins so the origin can compare them as exact
    /// strings.
    pub fn new(public_origin: &str, origin_url: &str) -> Result<Self, AssertionConfigError> {
        Ok(AssertionContext {
            issuer: origin_of(public_origin).ok_or(AssertionConfigError::PublicOrigin)?,
            audience: origin_of(origin_url).ok_or(AssertionConfigError::OriginUrl)?,
        })
    }

    /// The `iss` claim.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `aud` claim.
    pub fn audience(&self) -> &str {
        &self.audience
    }
}

/// The assertion's claims: `iss`, `aud`, `sub`, `email`, `org`, `role` (the org-wide role,
/// left out when the member has none), `rg` (resource group name -> role, only when the member
/// has any), `idp` (the IdP's issuer), `iat` = `now`, `exp` = `now` + `ttl_secs` capped at
/// [`MAX_ASSERTION_TTL_SECS`] and at the session's end (an assertion never outlives the session
/// it speaks for), and `jti` (random, from the caller).
pub fn assertion_claims(
    ctx: &AssertionContext,
    identity: &Identity,
    now: UnixTime,
    ttl_secs: u64,
    jti: &str,
) -> Value {
    let mut c = Map::new();
    c.insert("iss".into(), json!(ctx.issuer));
    c.insert("aud".into(), json!(ctx.audience));
    c.insert("sub".into(), json!(identity.sub));
    c.insert("email".into(), json!(identity.email));
    c.insert("org".into(), json!(identity.org.as_str()));
    if let Some(role) = identity.roles.org {
        c.insert("role".into(), json!(role.as_str()));
    }
    if !identity.roles.groups.is_empty() {
        let rg: Map<String, Value> = identity
            .roles
            .groups
            .iter()
            .map(|(name, role)| (name.clone(), json!(role.as_str())))
            .collect();
        c.insert("rg".into(), Value::Object(rg));
    }
    c.insert("idp".into(), json!(identity.idp));
    c.insert("iat".into(), json!(now.secs()));
    c.insert(
        "exp".into(),
        json!(now
            .plus(ttl_secs.min(MAX_ASSERTION_TTL_SECS))
            .min(identity.expires_at)
            .secs()),
    );
    c.insert("jti".into(), json!(jti));
    Value::Object(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::clock::{Clock, FixedClock};
    use crate::core::org::{OrgSlug, Role};
    use crate::core::roles::MemberRoles;

    fn identity(org: Option<Role>, groups: Vec<(String, Role)>) -> Identity {
        Identity {
            expires_at: crate::core::clock::UnixTime(u64::MAX),
            org: OrgSlug::parse("acme").unwrap(),
            sub: "00u1".into(),
            email: "bob@acme.com".into(),
            idp: "https://acme.okta.com".into(),
            roles: MemberRoles { org, groups },
        }
    }

    #[test]
    fn context_uses_origins() {
        let ctx = AssertionContext::new(
            "https://SSO.example.com/",
            "https://hub.internal:8443/base/",
        )
        .unwrap();
        assert_eq!(ctx.issuer(), "https://sso.example.com");
        assert_eq!(ctx.audience(), "https://hub.internal:8443");
        let ctx = AssertionContext::new("http://localhost:8787", "http://127.0.0.1:443").unwrap();
        assert_eq!(ctx.audience(), "http://127.0.0.1:443");
        let ctx = AssertionContext::new("https://a.example:443", "https://b.example").unwrap();
        assert_eq!(ctx.issuer(), "https://a.example");
        for bad in ["", "not a url", "file:///etc", "data:text/plain,x"] {
            assert_eq!(
                AssertionContext::new(bad, "https://hub.example"),
                Err(AssertionConfigError::PublicOrigin)
            );
            assert_eq!(
                AssertionContext::new("https://sso.example", bad),
                Err(AssertionConfigError::OriginUrl)
            );
        }
    }

    #[test]
    fn claims_on_a_stopped_clock() {
        let clock = FixedClock::at(1_700_000_000);
        let ctx = AssertionContext::new("https://sso.example.com", "https://hub.example").unwrap();
        let id = identity(
            Some(Role::Write),
            vec![("research".into(), Role::Admin), ("ops".into(), Role::Read)],
        );
        let c = assertion_claims(&ctx, &id, clock.now(), 60, "jti-1");
        assert_eq!(
            c,
            json!({
                "iss": "https://sso.example.com",
                "aud": "https://hub.example",
                "sub": "00u1",
                "email": "bob@acme.com",
                "org": "acme",
                "role": "write",
                "rg": {"research": "admin", "ops": "read"},
                "idp": "https://acme.okta.com",
                "iat": 1_700_000_000u64,
                "exp": 1_700_000_060u64,
                "jti": "jti-1"
            })
        );
    }

    #[test]
    fn ttl_capped_and_optional_claims_left_out() {
        let ctx = AssertionContext::new("https://sso.example.com", "https://hub.example").unwrap();
        let c = assertion_claims(&ctx, &identity(None, vec![]), UnixTime(100), 86_400, "j");
        assert_eq!(c["exp"], json!(100 + MAX_ASSERTION_TTL_SECS));
        assert!(c.get("role").is_none());
        assert!(c.get("rg").is_none());
        let c = assertion_claims(&ctx, &identity(None, vec![]), UnixTime(u64::MAX), 300, "j");
        assert_eq!(c["exp"], json!(u64::MAX));
    }

    #[test]
    fn exp_never_outlives_the_session() {
        let ctx = AssertionContext::new("https://sso.example.com", "https://hub.example").unwrap();
        let mut id = identity(Some(Role::Read), vec![]);
        id.expires_at = UnixTime(1_000 + 42);
        let c = assertion_claims(&ctx, &id, UnixTime(1_000), 300, "j");
        assert_eq!(c["exp"], json!(1_042));
    }
}
