//! Keycloak.
//!
//! References: "Server Administration Guide" (<https://www.keycloak.org/docs/latest/server_admin/>),
//! "Upgrading to Keycloak 17" (the `/auth` context path was removed:
//! <https://www.keycloak.org/migration/migrating-to-quarkus>).
//!
//! * **Issuer.** `https://{host}/realms/{realm}` (behind any path prefix a reverse proxy adds).
//!   The pre-17 form `.../auth/realms/{realm}` is accepted with a warning: it is only right if
//!   the server still runs with the legacy context path, and breaks when it is upgraded.
//! * **Roles.** Realm roles are in `realm_access.roles` and client roles in
//!   `resource_access.{client-id}.roles`; role rules name them by dot path (see
//!   [`crate::core::roles`]). They appear in the ID token only when the "roles" client scope's
//!   mappers have "Add to ID token" on.
//! * **Groups.** The "Group Membership" mapper writes `groups` as full paths with a leading `/`
//!   (`/engineering/platform`) unless "Full group path" is off: role rule values must be written
//!   the same way.
//! * **Email.** Keycloak sends `email_verified` (false until the user verified or an admin set
//!   it): the generic rule, required.

use crate::core::org::{FieldError, OrgConfig};
use url::Url;

/// The Keycloak rules at admin PUT.
pub(crate) fn validate(org: &OrgConfig, warnings: &mut Vec<String>) -> Result<(), FieldError> {
    let url = Url::parse(org.issuer.as_str())
        .map_err(|_| FieldError::new("issuer", "must be an absolute URL"))?;
    let segs: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
    let n = segs.len();
    if n < 2 || segs[n - 2] != "realms" || segs[n - 1].is_empty() {
        return Err(FieldError::new(
            "issuer",
            "a Keycloak issuer is https://{host}/realms/{realm} (no trailing slash)",
        ));
    }
    if n >= 3 && segs[n - 3] == "auth" {
        warnings.push(format!(
            "the issuer uses the pre-Keycloak-17 /auth context path: since Keycloak 17 the issuer is {}://{}/realms/{}; keep /auth only if the server still runs with --http-relative-path=/auth",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            segs[n - 1]
        ));
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
    fn issuer_forms() {
        assert!(
            org(json!({"idp": "keycloak", "issuer": "https://sso.acme.com/realms/acme"})).is_ok()
        );
        for bad in [
            "https://sso.acme.com",
            "https://sso.acme.com/realms/acme/",
            "https://sso.acme.com/realms/acme/protocol/openid-connect",
        ] {
            assert_eq!(
                org(json!({"idp": "keycloak", "issuer": bad}))
                    .unwrap_err()
                    .field,
                "issuer",
                "{bad}"
            );
        }
        let mut o =
            org(json!({"idp": "keycloak", "issuer": "https://sso.acme.com/auth/realms/acme"}))
                .unwrap();
        let w = crate::core::profile::validate(&mut o).unwrap();
        assert!(w[0].contains("https://sso.acme.com/realms/acme"), "{w:?}");
    }

    #[test]
    fn nested_roles_and_group_paths() {
        const KC: &str = "https://sso.acme.com/realms/acme";
        let o = org(json!({
            "idp": "keycloak",
            "issuer": KC,
            "role_mapping": [
                {"claim": "realm_access.roles", "value": "hub-admin", "role": "admin"},
                {"claim": "resource_access.hub.roles", "value": "writer", "role": "write"},
                {"claim": "groups", "value": "/engineering/ml", "role": "contributor"},
            ],
        }))
        .unwrap();
        // A Keycloak ID token as its default mappers write it.
        let kc = |extra: serde_json::Value| {
            let mut c = json!({"email": "ada@acme.com", "email_verified": true, "preferred_username": "ada",
                "realm_access": {"roles": ["offline_access", "uma_authorization"]},
                "resource_access": {"hub": {"roles": []}, "account": {"roles": ["manage-account"]}},
                "groups": ["/engineering"]});
            merge(&mut c, extra);
            verified_at(KC, c)
        };
        assert_eq!(
            admit(&kc(json!({"realm_access": {"roles": ["hub-admin"]}})), &o)
                .unwrap()
                .role(),
            Role::Admin
        );
        assert_eq!(
            admit(
                &kc(json!({"resource_access": {"hub": {"roles": ["writer"]}}})),
                &o
            )
            .unwrap()
            .role(),
            Role::Write
        );
        assert_eq!(
            admit(&kc(json!({"groups": ["/engineering/ml"]})), &o)
                .unwrap()
                .role(),
            Role::Contributor
        );
        // The leading slash matters.
        assert!(admit(&kc(json!({"groups": ["engineering/ml"]})), &o).is_err());
        // Keycloak sends email_verified: false is refused.
        assert!(admit(
            &kc(json!({"email_verified": false, "groups": ["/engineering/ml"]})),
            &o
        )
        .is_err());
    }
}
