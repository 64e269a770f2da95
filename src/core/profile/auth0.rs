//! Auth0.
//!
//! References: "Validate ID Tokens" (<https://auth0.com/docs/secure/tokens/id-tokens/validate-id-tokens>),
//! "Create Custom Claims" (<https://auth0.com/docs/secure/tokens/json-web-tokens/create-custom-claims>).
//!
//! * **Issuer.** Auth0's issuer is the tenant domain *with* a trailing slash
//!   (`https://{tenant}.{region}.auth0.com/`), and `iss` is compared exactly, so an issuer
//!   configured without it could never match. No network at admin PUT: a `*.auth0.com` issuer
//!   without the slash is refused with the right value. (A custom domain cannot be recognised;
//!   there discovery reports the mismatch with the document's exact issuer.)
//! * **Claims.** Custom claims are namespaced with a URL (`https://hub.example/roles`), and role
//!   rules name them as is: a top-level claim of exactly that name is read before any dot path.
//! * **Email.** Auth0 sends `email_verified`: the generic rule, required (a database connection
//!   with sign-up enabled lets anyone register any address until verified).

use crate::core::org::{FieldError, OrgConfig};
use url::Url;

/// The Auth0 rules at admin PUT.
pub(crate) fn validate(org: &OrgConfig) -> Result<(), FieldError> {
    let issuer = org.issuer.as_str();
    let url =
        Url::parse(issuer).map_err(|_| FieldError::new("issuer", "must be an absolute URL"))?;
    let host = url.host_str().unwrap_or_default();
    if host.ends_with(".auth0.com") {
        if !issuer.ends_with('/') {
            return Err(FieldError::new(
                "issuer",
                format!("Auth0 issuers end with a slash, and iss is compared exactly: use https://{host}/"),
            ));
        }
        if url.path() != "/" {
            return Err(FieldError::new(
                "issuer",
                format!("an Auth0 issuer is the tenant domain alone: https://{host}/"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::core::member::admit;
    use crate::core::org::Role;
    use crate::core::profile::testkit::*;
    use serde_json::json;

    #[test]
    fn trailing_slash_detected() {
        let e = org(json!({"idp": "auth0", "issuer": "https://acme.eu.auth0.com"})).unwrap_err();
        assert_eq!(e.field, "issuer");
        assert!(
            e.message.contains("https://acme.eu.auth0.com/"),
            "{}",
            e.message
        );
        assert!(org(json!({"idp": "auth0", "issuer": "https://acme.eu.auth0.com/"})).is_ok());
        assert!(org(json!({"idp": "auth0", "issuer": "https://acme.eu.auth0.com/x/"})).is_err());
        // A custom domain cannot be recognised at PUT.
        assert!(org(json!({"idp": "auth0", "issuer": "https://login.acme.com/"})).is_ok());
    }

    #[test]
    fn namespaced_url_claims_map_roles() {
        let o = org(json!({
            "idp": "generic",
            "issuer": ISS,
            "role_mapping": [{"claim": "https://hub.example/roles", "value": "hub-admin", "role": "admin"}],
        }))
        .unwrap();
        let t = verified(
            json!({"email": "ada@acme.com", "email_verified": true, "https://hub.example/roles": ["hub-admin"]}),
        );
        assert_eq!(admit(&t, &o).unwrap().role(), Role::Admin);
        let t = verified(
            json!({"email": "ada@acme.com", "email_verified": true, "https://hub.example/roles": ["viewer"]}),
        );
        assert!(admit(&t, &o).is_err());
    }
}
