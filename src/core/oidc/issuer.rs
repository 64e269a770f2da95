//! Issuer identifiers: the [`IssuerUrl`] newtype (validated once, when an admin configures an
//! org) and the one place where an issuer is compared with the configured one (discovery
//! `issuer`, ID token `iss`, RFC 9207 `iss` authorization response parameter), and
//! [`discovery_issuer_matches`] for Entra ID's templated multi-tenant issuer (`{tenantid}`).

use crate::core::oidc::url_policy::IdpUrlPolicy;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

/// Longest issuer URL, in characters.
pub const MAX_ISSUER_CHARS: usize = 512;

/// Whether `actual` is the issuer `configured`. OIDC Discovery 4.3 and OIDC Core 3.1.3.7 step 2
/// require an exact match: simple string comparison, no normalisation (a trailing slash matters).
pub fn issuer_matches(configured: &str, actual: &str) -> bool {
    configured == actual
}

/// Whether the discovery document's `issuer` `found` is the one of the configured issuer:
/// exactly it (OIDC Discovery 4.3), or, for an Entra ID multi-tenant authority
/// (`https://login.microsoftonline.com/organizations/v2.0`, `.../common/v2.0`), the
/// `{tenantid}` template that authority publishes (see [`crate::core::profile::entra`]). Such
/// metadata verifies ID tokens only through
/// [`crate::core::oidc::idtoken::IdTokenVerifier::with_tenant_issuer_template`]; compared
/// literally, the template matches no token.
pub fn discovery_issuer_matches(configured: &str, found: &str) -> bool {
    issuer_matches(configured, found)
        || crate::core::profile::entra::tenant_issuer_template(configured).as_deref() == Some(found)
}

/// An issuer identifier (OIDC Discovery 4.3): an absolute URL without query or fragment, at most
/// [`MAX_ISSUER_CHARS`] characters, written in the canonical form the URL parser produces (a
/// missing root `/` aside). It is kept exactly as written, because ID-token `iss` is compared
/// with it as a string (OIDC Core 3.1.3.7 step 2); a non-canonical spelling
/// (`HTTPS://Acme.okta.com`, a backslash, a numeric IPv4 shorthand) could never match and could
/// hide a different host from a reviewer, so it is refused up front.
///
/// Serialised as the plain string; deserialising checks the shape again (not the deployment's
/// [`IdpUrlPolicy`], which [`IssuerUrl::parse_with_policy`] applies when an admin sets it).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct IssuerUrl(String);

/// Why a string is not an [`IssuerUrl`]. The texts are the admin API's field messages.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssuerError {
    /// Empty.
    Empty,
    /// Longer than [`MAX_ISSUER_CHARS`].
    TooLong,
    /// Contains whitespace or control characters (the URL parser would silently drop them).
    Whitespace,
    /// Not an absolute URL.
    NotAbsolute,
    /// Has a query.
    Query,
    /// Has a fragment.
    Fragment,
    /// Refused by the deployment's [`IdpUrlPolicy`].
    Policy(String),
    /// Not in canonical form; carries the canonical spelling.
    NotCanonical(String),
}

impl std::fmt::Display for IssuerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IssuerError::Empty => f.write_str("must not be empty"),
            IssuerError::TooLong => write!(f, "must be at most {MAX_ISSUER_CHARS} characters"),
            IssuerError::Whitespace => {
                f.write_str("must not contain whitespace or control characters")
            }
            IssuerError::NotAbsolute => f.write_str("must be an absolute URL"),
            IssuerError::Query => f.write_str("must not have a query (\"?\")"),
            IssuerError::Fragment => f.write_str("must not have a fragment (\"#\")"),
            IssuerError::Policy(m) => f.write_str(m),
            IssuerError::NotCanonical(c) => write!(f, "must be written in canonical form ({c})"),
        }
    }
}

impl std::error::Error for IssuerError {}

impl IssuerUrl {
    /// Checks the shape of an issuer (see [`IssuerUrl`]); no URL policy.
    pub fn parse(s: &str) -> Result<IssuerUrl, IssuerError> {
        Self::parse_checked(s, |_| Ok(()))
    }

    /// Like [`IssuerUrl::parse`], and the URL must pass `policy` (https unless the deployment
    /// allows loopback http, no credentials, ...).
    pub fn parse_with_policy(s: &str, policy: &IdpUrlPolicy) -> Result<IssuerUrl, IssuerError> {
        Self::parse_checked(s, |url| {
            policy
                .check(url)
                .map_err(|e| IssuerError::Policy(e.to_string()))
        })
    }

    fn parse_checked(
        s: &str,
        check: impl FnOnce(&Url) -> Result<(), IssuerError>,
    ) -> Result<IssuerUrl, IssuerError> {
        if s.is_empty() {
            return Err(IssuerError::Empty);
        }
        if s.chars().count() > MAX_ISSUER_CHARS {
            return Err(IssuerError::TooLong);
        }
        // The URL parser silently strips surrounding spaces and embedded tabs and newlines.
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(IssuerError::Whitespace);
        }
        let url = Url::parse(s).map_err(|_| IssuerError::NotAbsolute)?;
        if url.query().is_some() {
            return Err(IssuerError::Query);
        }
        if url.fragment().is_some() {
            return Err(IssuerError::Fragment);
        }
        check(&url)?;
        let canonical = url.as_str();
        let matches_canonical =
            canonical == s || (url.path() == "/" && canonical.strip_suffix('/') == Some(s));
        if !matches_canonical {
            return Err(IssuerError::NotCanonical(canonical.to_owned()));
        }
        Ok(IssuerUrl(s.to_owned()))
    }

    /// The issuer, exactly as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `actual` (an `iss` value) is this issuer: see [`issuer_matches`].
    pub fn matches(&self, actual: &str) -> bool {
        issuer_matches(&self.0, actual)
    }
}

impl std::fmt::Display for IssuerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for IssuerUrl {
    type Err = IssuerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IssuerUrl::parse(s)
    }
}

impl From<IssuerUrl> for String {
    fn from(i: IssuerUrl) -> String {
        i.0
    }
}

impl Serialize for IssuerUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for IssuerUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        IssuerUrl::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_only() {
        assert!(issuer_matches("https://a.example", "https://a.example"));
        assert!(!issuer_matches("https://a.example", "https://a.example/"));
        assert!(!issuer_matches("https://a.example", "https://A.example"));
        assert!(!issuer_matches("https://a.example", ""));
        let i = IssuerUrl::parse("https://a.example").unwrap();
        assert!(i.matches("https://a.example"));
        assert!(!i.matches("https://a.example/"));
    }

    #[test]
    fn shape() {
        for good in [
            "https://a.example",
            "https://a.example/",
            "https://login.example.com/tenant/v2.0",
            "http://127.0.0.1:9000/realms/x",
        ] {
            assert_eq!(IssuerUrl::parse(good).unwrap().as_str(), good);
        }
        let bad = |s: &str| IssuerUrl::parse(s).unwrap_err();
        assert_eq!(bad(""), IssuerError::Empty);
        assert_eq!(
            bad(&format!(
                "https://a.example/{}",
                "x".repeat(MAX_ISSUER_CHARS)
            )),
            IssuerError::TooLong
        );
        assert_eq!(bad(" https://a.example"), IssuerError::Whitespace);
        assert_eq!(bad("https://a.ex\tample"), IssuerError::Whitespace);
        assert_eq!(bad("a.example"), IssuerError::NotAbsolute);
        assert_eq!(bad("https://a.example/?x"), IssuerError::Query);
        assert_eq!(bad("https://a.example/#x"), IssuerError::Fragment);
        assert!(matches!(
            bad("HTTPS://A.example"),
            IssuerError::NotCanonical(c) if c == "https://a.example/"
        ));
    }

    #[test]
    fn policy_is_applied_before_canonical_form() {
        let strict = IdpUrlPolicy {
            allow_insecure_loopback: false,
        };
        assert!(matches!(
            IssuerUrl::parse_with_policy("http://127.0.0.1:9000/x", &strict),
            Err(IssuerError::Policy(_))
        ));
    }

    #[test]
    fn serde_is_a_plain_string_and_validates() {
        let i = IssuerUrl::parse("https://a.example/x").unwrap();
        assert_eq!(
            serde_json::to_string(&i).unwrap(),
            "\"https://a.example/x\""
        );
        let back: IssuerUrl = crate::core::json::from_str("\"https://a.example/x\"").unwrap();
        assert_eq!(back, i);
        assert!(crate::core::json::from_str::<IssuerUrl>("\"not a url\"").is_err());
    }
}
