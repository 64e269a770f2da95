//! Okta.
//!
//! References: "Authorization servers" (<https://developer.okta.com/docs/concepts/auth-servers/>),
//! "OpenID Connect & OAuth 2.0 API" (<https://developer.okta.com/docs/api/openapi/okta-oauth/guides/overview/>),
//! "Customize tokens returned from Okta with a Groups claim"
//! (<https://developer.okta.com/docs/guides/customize-tokens-groups-claim/main/>).
//!
//! * **Issuer.** The org authorization server `https://{org}.okta.com` and custom authorization
//!   servers `https://{org}.okta.com/oauth2/{id}` (`default` included). Both are spec-exact:
//!   the issuer is matched exactly. Custom domains are allowed.
//! * **Groups.** The org authorization server returns the user's groups in the ID token when the
//!   `groups` scope is requested and the app's Groups claim filter is set; when role mapping reads
//!   `groups` and the scopes lack it, `groups` is added at admin PUT. Custom authorization
//!   servers have no built-in `groups` scope (requesting an unknown scope fails the sign-in
//!   with `invalid_scope`): the admin adds a `groups` claim there, and PUT warns.
//! * **Email.** Okta sends `email_verified`: the generic rule, required.
//! * **100-group limit.** "In most flows, the Groups claim can return only up to 100 groups";
//!   for a user who matches more, Okta issues no token and redirects back with the error
//!   description [`GROUPS_LIMIT_ERROR`] (Okta support, "Error: The groups claim matched too
//!   many groups and must be configured to match fewer groups"). The callback shows the org's
//!   admin how to fix it ([`is_groups_limit_error`]).

use crate::core::org::{FieldError, OrgConfig, MAX_SCOPES};
use url::Url;

/// The `error_description` Okta returns to the redirect URI when the app's groups claim
/// matches more than 100 of the user's groups.
pub const GROUPS_LIMIT_ERROR: &str =
    "The groups claim matched too many groups and must be configured to match fewer groups";

/// Whether an authorization error response's `error_description` is Okta's groups-claim limit
/// ([`GROUPS_LIMIT_ERROR`]), compared case-insensitively and ignoring surrounding text (Okta
/// has varied the punctuation around it).
pub fn is_groups_limit_error(description: &str) -> bool {
    const KEY: &str = "matched too many groups";
    // Error descriptions are short; a long one is not Okta's and is not scanned.
    description.len() <= 1024 && description.to_ascii_lowercase().contains(KEY)
}

/// Whether `issuer` is an Okta custom authorization server (`/oauth2/{id}`).
fn custom_server(url: &Url) -> Option<bool> {
    let segs: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        [] => Some(false),
        ["oauth2", id] if !id.is_empty() => Some(true),
        _ => None,
    }
}

/// The Okta rules at admin PUT.
pub(crate) fn validate(org: &mut OrgConfig, warnings: &mut Vec<String>) -> Result<(), FieldError> {
    let url = Url::parse(org.issuer.as_str())
        .map_err(|_| FieldError::new("issuer", "must be an absolute URL"))?;
    let host = url.host_str().unwrap_or("{org}.okta.com").to_owned();
    let Some(custom) = custom_server(&url) else {
        return Err(FieldError::new(
            "issuer",
            format!("an Okta issuer is https://{host} (org authorization server) or https://{host}/oauth2/{{server-id}} (custom authorization server, e.g. /oauth2/default)"),
        ));
    };
    if url.path() == "/oauth2/default/" || org.issuer.as_str().ends_with("/oauth2/default/") {
        return Err(FieldError::new(
            "issuer",
            format!("Okta issuers have no trailing slash: https://{host}/oauth2/default"),
        ));
    }
    if super::reads_claim(org, "groups") && !org.scopes.iter().any(|s| s == "groups") {
        if custom {
            warnings.push("role mapping reads groups: on a custom authorization server add a \"groups\" claim (Security > API > Authorization Servers > Claims, value type Groups) to the ID token".into());
        } else if org.scopes.len() < MAX_SCOPES {
            org.scopes.push("groups".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::core::profile::testkit::*;
    use serde_json::json;

    #[test]
    fn org_server_gets_groups_scope() {
        let o = org(json!({
            "idp": "okta",
            "issuer": "https://acme.okta.com",
            "role_mapping": [{"claim": "groups", "value": "hub-admins", "role": "admin"}],
        }))
        .unwrap();
        assert_eq!(o.scopes, ["openid", "email", "profile", "groups"]);
        // Not twice, and not when no rule reads groups.
        let o = org(
            json!({"idp": "okta", "issuer": "https://acme.okta.com", "scopes": ["openid", "groups"],
            "role_mapping": [{"claim": "groups", "value": "x", "role": "read"}]}),
        )
        .unwrap();
        assert_eq!(o.scopes, ["openid", "groups"]);
        let o = org(json!({"idp": "okta", "issuer": "https://acme.okta.com"})).unwrap();
        assert_eq!(o.scopes, ["openid", "email", "profile"]);
    }

    #[test]
    fn custom_server_warns_instead() {
        let mut o = org(json!({
            "idp": "okta",
            "issuer": "https://acme.okta.com/oauth2/default",
            "role_mapping": [{"claim": "groups", "value": "hub-admins", "role": "admin"}],
        }))
        .unwrap();
        assert_eq!(o.scopes, ["openid", "email", "profile"]);
        let w = crate::core::profile::validate(&mut o).unwrap();
        assert!(w.iter().any(|w| w.contains("groups")), "{w:?}");
    }

    #[test]
    fn groups_limit_error_text() {
        use super::{is_groups_limit_error, GROUPS_LIMIT_ERROR};
        assert!(is_groups_limit_error(GROUPS_LIMIT_ERROR));
        assert!(is_groups_limit_error(&format!("{GROUPS_LIMIT_ERROR}.")));
        assert!(is_groups_limit_error(
            "the groups claim MATCHED TOO MANY GROUPS and must be configured to match fewer groups"
        ));
        for other in [
            "",
            "User is not assigned to the client application.",
            "The 'groups' user claim could not be evaluated.",
            "too many groups",
        ] {
            assert!(!is_groups_limit_error(other), "{other}");
        }
        let long = format!("{GROUPS_LIMIT_ERROR}{}", " ".repeat(1024));
        assert!(!is_groups_limit_error(&long));
    }

    #[test]
    fn issuer_forms() {
        for bad in [
            "https://acme.okta.com/oauth2",
            "https://acme.okta.com/oauth2/default/v1",
            "https://acme.okta.com/oauth2/default/",
            "https://acme.okta.com/app/x",
        ] {
            let e = org(json!({"idp": "okta", "issuer": bad})).unwrap_err();
            assert_eq!(e.field, "issuer", "{bad}");
        }
        for good in [
            "https://acme.okta.com",
            "https://acme.okta.com/oauth2/aus1a2b3c4",
            "https://login.acme.com/oauth2/default",
        ] {
            assert!(
                org(json!({"idp": "okta", "issuer": good})).is_ok(),
                "{good}"
            );
        }
    }
}
