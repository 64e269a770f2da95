//! Google Workspace.
//!
//! References: "OpenID Connect" (<https://developers.google.com/identity/openid-connect/openid-connect>),
//! section "Validating an ID token" and "An ID token's payload".
//!
//! * **Issuer.** `https://accounts.google.com`; Google: "The value of iss in the ID token is
//!   equal to accounts.google.com or https://accounts.google.com", so both are accepted in
//!   tokens (the configured issuer must be the https form, which is what discovery publishes).
//! * **Shared issuer, so `hd`.** Every Google account, consumer Gmail included, signs in at the
//!   same issuer, and a consumer account can be registered on any address, including one at the
//!   org's domain. Google: the `hd` claim is "The domain associated with the Google Workspace or
//!   Cloud organization of the user. Provided only if the user belongs to a Google Cloud
//!   organization. You must check this claim when restricting access to a resource to only
//!   members of certain domains. The absence of this claim indicates that the account does not
//!   belong to a Google hosted domain." So `hd` is required and must be one of the org's
//!   `hosted_domains` (default: its email domains).
//! * **Identity** is `sub`, never the email ("Use sub within your application as the
//!   unique-identifier key for the user"). `email_verified` is sent and must be true.

use super::{generic, EmailVerifiedClaim, Identity};
use crate::core::email::EmailDomain;
use crate::core::member::Denial;
use crate::core::oidc::idtoken::VerifiedIdToken;
use crate::core::org::{FieldError, OrgConfig};
use serde_json::Value;

/// Google's issuer.
pub const ISSUER: &str = "https://accounts.google.com";
/// The scheme-less form Google may still write in `iss`.
pub const LEGACY_ISSUER: &str = "accounts.google.com";

/// The Google rules at admin PUT.
pub(crate) fn validate(org: &OrgConfig) -> Result<(), FieldError> {
    // Development only: a Google-shaped loopback OP (an origin, no path) of the tests.
    let dev = url::Url::parse(org.issuer.as_str())
        .ok()
        .and_then(|u| super::dev_loopback_origin(&u))
        .is_some_and(|o| o == org.issuer.as_str());
    if org.issuer.as_str() != ISSUER && !dev {
        return Err(FieldError::new(
            "issuer",
            format!("Google's issuer is {ISSUER}"),
        ));
    }
    Ok(())
}

/// The Google rules on a verified token.
pub fn identify(token: &VerifiedIdToken, org: &OrgConfig) -> Result<Identity, Denial> {
    let id = generic::identify(token, EmailVerifiedClaim::Required)?;
    let hd = match token.claims().get("hd") {
        Some(Value::String(s)) => s,
        _ => return Err(Denial::HostedDomainMissing),
    };
    let Ok(domain) = EmailDomain::parse(hd) else {
        return Err(Denial::HostedDomainNotAllowed(
            hd.chars().take(64).collect(),
        ));
    };
    let allowed = if org.profile.hosted_domains.is_empty() {
        org.domains.contains(&domain)
    } else {
        org.profile.hosted_domains.contains(&domain)
    };
    if !allowed {
        return Err(Denial::HostedDomainNotAllowed(domain.as_str().to_owned()));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::testkit::*;
    use serde_json::json;

    fn google(extra: Value) -> OrgConfig {
        let mut body = json!({"idp": "google", "issuer": ISSUER});
        merge(&mut body, extra);
        org(body).unwrap()
    }

    /// A Google ID token as Google's documentation shows it.
    fn google_claims(extra: Value) -> Value {
        let mut c = json!({
            "iss": ISSUER,
            "azp": CLIENT_ID,
            "sub": "110169484474386276334",
            "hd": "acme.com",
            "email": "ada@acme.com",
            "email_verified": true,
            "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q",
            "name": "Ada Lovelace",
        });
        merge(&mut c, extra);
        c
    }

    fn verify(o: &OrgConfig, c: Value) -> VerifiedIdToken {
        let meta = meta_for(ISSUER);
        verify_with(&crate::core::profile::id_token_verifier(o, &meta), &c).unwrap()
    }

    #[test]
    fn workspace_account_admitted_with_either_issuer_form() {
        let o = google(json!({}));
        for iss in [ISSUER, LEGACY_ISSUER] {
            let t = verify(&o, google_claims(json!({"iss": iss})));
            let id = identify(&t, &o).unwrap();
            assert_eq!(id.sub(), "110169484474386276334");
        }
        let meta = meta_for(ISSUER);
        let v = crate::core::profile::id_token_verifier(&o, &meta);
        assert!(verify_with(
            &v,
            &google_claims(json!({"iss": "https://accounts.google.com/"}))
        )
        .is_err());
        assert!(verify_with(
            &v,
            &google_claims(json!({"iss": "http://accounts.google.com"}))
        )
        .is_err());
    }

    #[test]
    fn consumer_account_without_hd_refused() {
        let o = google(json!({}));
        let t = verify(&o, google_claims(json!({"hd": null})));
        assert_eq!(identify(&t, &o), Err(Denial::HostedDomainMissing));
        let mut c = google_claims(json!({}));
        c.as_object_mut().unwrap().remove("hd");
        let t = verify(&o, c);
        assert_eq!(identify(&t, &o), Err(Denial::HostedDomainMissing));
    }

    #[test]
    fn foreign_hd_refused() {
        let o = google(json!({}));
        let t = verify(&o, google_claims(json!({"hd": "evil.example"})));
        assert_eq!(
            identify(&t, &o),
            Err(Denial::HostedDomainNotAllowed("evil.example".into()))
        );
        // hosted_domains replaces the default.
        let o = google(json!({"hosted_domains": ["acme-corp.com"]}));
        let t = verify(&o, google_claims(json!({})));
        assert!(matches!(
            identify(&t, &o),
            Err(Denial::HostedDomainNotAllowed(_))
        ));
        let t = verify(&o, google_claims(json!({"hd": "ACME-corp.com"})));
        assert!(identify(&t, &o).is_ok());
    }

    #[test]
    fn unverified_email_refused() {
        let o = google(json!({}));
        let t = verify(&o, google_claims(json!({"email_verified": false})));
        assert_eq!(identify(&t, &o), Err(Denial::EmailUnverified));
    }

    /// The development seam: a Google-shaped loopback OP (an origin, no path) only under
    /// `ALLOW_INSECURE_LOOPBACK_IDP=true` and only on loopback.
    #[test]
    fn loopback_issuer_only_in_development() {
        let body = |issuer: &str| json!({"idp": "google", "issuer": issuer});
        let dev = "http://127.0.0.1:9100";
        assert_eq!(org(body(dev)).unwrap_err().field, "issuer");
        assert!(org_with(body(dev), true).is_ok());
        for issuer in [
            "http://127.0.0.1:9100/realms/x",
            "https://127.0.0.1:9100",
            "https://google.example",
            "http://google.example",
        ] {
            assert!(org_with(body(issuer), true).is_err(), "{issuer}");
        }
    }

    #[test]
    fn admin_put_rules() {
        let e =
            org(json!({"idp": "google", "issuer": "https://accounts.google.com/"})).unwrap_err();
        assert_eq!(e.field, "issuer");
        let e = org(json!({"hosted_domains": ["acme.com"]})).unwrap_err();
        assert_eq!(e.field, "hosted_domains");
        let e = org(
            json!({"idp": "google", "issuer": ISSUER, "hosted_domains": ["acme.com", "ACME.com"]}),
        )
        .unwrap_err();
        assert_eq!(e.field, "hosted_domains[1]");
    }
}
