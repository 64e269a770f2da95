//! OneLogin (OpenID Connect v2).
//!
//! References: "OneLogin OpenID Connect API" (<https://developers.onelogin.com/openid-connect>),
//! "Migrating to OIDC v2" (<https://developers.onelogin.com/openid-connect/api/migrate-to-v2>).
//!
//! * **Issuer.** `https://{subdomain}.onelogin.com/oidc/2`. The v1 forms
//!   (`https://openid-connect.onelogin.com/oidc`, `https://{subdomain}.onelogin.com/oidc`) are
//!   refused at admin PUT with the v2 value: v1 is deprecated and its tokens differ.
//! * **Email.** OneLogin sends no `email_verified`, so it is optional for this profile. That is
//!   safe because a OneLogin account's email is set by the OneLogin admin (or the directory the
//!   admin connects): users cannot sign up at a company's OneLogin tenant or change their own
//!   address there, and the tenant is the org's own issuer (not shared). `email_verified: false`
//!   or garbage is still refused.
//! * **Identity** is `sub` (the OneLogin user id).

use super::{generic, EmailVerifiedClaim, Identity};
use crate::core::member::Denial;
use crate::core::oidc::idtoken::VerifiedIdToken;
use crate::core::org::{FieldError, OrgConfig};
use url::Url;

/// The OneLogin rules at admin PUT.
pub(crate) fn validate(org: &OrgConfig) -> Result<(), FieldError> {
    let url = Url::parse(org.issuer.as_str())
        .map_err(|_| FieldError::new("issuer", "must be an absolute URL"))?;
    let host = url.host_str().unwrap_or_default();
    let sub = host
        .strip_suffix(".onelogin.com")
        .filter(|s| *s != "openid-connect")
        .unwrap_or("{subdomain}");
    let v2 = format!("https://{sub}.onelogin.com/oidc/2");
    let path = url.path().trim_end_matches('/');
    if host == "openid-connect.onelogin.com" || path == "/oidc" || path == "/oidc/1" {
        return Err(FieldError::new(
            "issuer",
            format!("is a OneLogin OIDC v1 issuer; edge-sso uses v2: use {v2}"),
        ));
    }
    if url.path() != "/oidc/2" {
        return Err(FieldError::new(
            "issuer",
            format!("a OneLogin issuer is {v2} (no trailing slash)"),
        ));
    }
    Ok(())
}

/// The OneLogin rules on a verified token: the generic rule with `email_verified` optional.
pub fn identify(token: &VerifiedIdToken) -> Result<Identity, Denial> {
    generic::identify(token, EmailVerifiedClaim::Optional)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::testkit::*;
    use serde_json::json;

    #[test]
    fn v1_refused_with_v2_hint() {
        for v1 in [
            "https://openid-connect.onelogin.com/oidc",
            "https://acme.onelogin.com/oidc",
            "https://acme.onelogin.com/oidc/1",
        ] {
            let e = org(json!({"idp": "onelogin", "issuer": v1})).unwrap_err();
            assert_eq!(e.field, "issuer");
            assert!(e.message.contains("v2"), "{}", e.message);
            if v1.contains("acme") {
                assert!(
                    e.message.contains("https://acme.onelogin.com/oidc/2"),
                    "{}",
                    e.message
                );
            }
        }
        let e = org(json!({"idp": "onelogin", "issuer": "https://acme.onelogin.com/oidc/2/"}))
            .unwrap_err();
        assert_eq!(e.field, "issuer");
        assert!(
            org(json!({"idp": "onelogin", "issuer": "https://acme.onelogin.com/oidc/2"})).is_ok()
        );
    }

    #[test]
    fn no_email_verified_is_fine_false_is_not() {
        // A OneLogin v2 ID token as its documentation shows it: no email_verified.
        let t = verified(
            json!({"email": "ada@acme.com", "preferred_username": "ada", "name": "Ada", "groups": ["Engineering"]}),
        );
        assert_eq!(identify(&t).unwrap().email(), "ada@acme.com");
        let t = verified(json!({"email": "ada@acme.com", "email_verified": false}));
        assert_eq!(identify(&t), Err(Denial::EmailUnverified));
    }
}
