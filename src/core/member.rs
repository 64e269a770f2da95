//! Who is this member? The admission rule that turns a verified ID token into a [`Member`] of
//! one org, or names why not ([`Denial`]). One pure function, [`admit`], so the login, the
//! gateway, back-channel logout and SCIM all answer the question the same way.

use crate::core::clock::UnixTime;
use crate::core::email::{EmailAddress, EmailError};
use crate::core::oidc::idtoken::VerifiedIdToken;
use crate::core::oidc::issuer::IssuerUrl;
use crate::core::org::{ClientId, OrgConfig, Role};
use crate::core::profile::{self, Identity};
use crate::core::roles::{claim_value, map_role};
use serde_json::{Map, Value};

/// Most string values kept per role-mapping claim in [`Member::role_claims`].
pub const MAX_ROLE_CLAIM_VALUES: usize = 256;
/// Longest string value kept in [`Member::role_claims`] (longer ones can match no rule:
/// rule values are at most [`crate::core::org::MAX_CLAIM_VALUE_CHARS`] characters).
pub const MAX_ROLE_CLAIM_VALUE_CHARS: usize = crate::core::org::MAX_CLAIM_VALUE_CHARS;

/// A person admitted to an org: the only input from which an org session
/// ([`crate::core::session::OrgSession::new`]) is made. Only [`admit`] creates one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    sub: String,
    issuer: IssuerUrl,
    client_id: ClientId,
    email: EmailAddress,
    role: Role,
    sid: Option<String>,
    auth_time: Option<UnixTime>,
    role_claims: Map<String, Value>,
}

impl Member {
    /// The IdP's `sub`: the member's stable id at [`Member::issuer`].
    pub fn sub(&self) -> &str {
        &self.sub
    }
    /// The org's issuer, which authenticated the member.
    pub fn issuer(&self) -> &IssuerUrl {
        &self.issuer
    }
    /// The client id the member's ID token was issued to (the org's, at sign-in).
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }
    /// The verified email address, in one of the org's domains.
    pub fn email(&self) -> &EmailAddress {
        &self.email
    }
    /// The role granted by the org's role mapping.
    pub fn role(&self) -> Role {
        self.role
    }
    /// The IdP session (`sid` claim), for back-channel logout.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }
    /// When the member authenticated at the IdP (`auth_time`), if the token said.
    pub fn auth_time(&self) -> Option<UnixTime> {
        self.auth_time
    }
    /// A bounded copy of the claims the org's role mapping reads: for each claim named by a
    /// rule, its string value, or the string elements of its array value (at most
    /// [`MAX_ROLE_CLAIM_VALUES`], each at most [`MAX_ROLE_CLAIM_VALUE_CHARS`] characters; other
    /// JSON types never match a rule and are dropped). Enough to evaluate role rules again later
    /// without keeping the whole ID token.
    pub fn role_claims(&self) -> &Map<String, Value> {
        &self.role_claims
    }

    /// The same member with `claims` as the kept role claims (tests).
    #[cfg(test)]
    pub(crate) fn with_role_claims(mut self, claims: Map<String, Value>) -> Member {
        self.role_claims = claims;
        self
    }

    /// The same member with IdP session `sid` (tests).
    #[cfg(test)]
    pub(crate) fn with_sid(mut self, sid: Option<&str>) -> Member {
        self.sid = sid.map(str::to_owned);
        self
    }

    /// A member made up by a test.
    #[cfg(test)]
    pub(crate) fn for_tests(sub: &str, email: &str, role: Role) -> Member {
        Member {
            sub: sub.to_owned(),
            issuer: IssuerUrl::parse("https://idp.example.com").unwrap(),
            client_id: ClientId::parse("client-123").unwrap(),
            email: EmailAddress::parse(email).unwrap(),
            role,
            sid: Some(format!("sid-{sub}")),
            auth_time: None,
            role_claims: Map::new(),
        }
    }
}

/// Why a verified ID token does not make its subject a member of the org. Named so each has a
/// test and a stable code in the app.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Denial {
    /// The token has no `email` claim (the `email` scope or claim was not granted).
    EmailMissing,
    /// `email_verified` is false, or present with a value of no boolean meaning.
    EmailUnverified,
    /// `email_verified` is absent and the org's profile requires it (generic: set
    /// `"email_verified_claim": "optional"` for an IdP that never sends it).
    EmailVerifiedMissing,
    /// A claim the profile identifies members by is missing or malformed (Entra `tid`, `oid`).
    ClaimMissing(&'static str),
    /// Entra: the token's tenant is not the org's (not its single tenant, not in `tenants`).
    TenantNotAllowed(String),
    /// Entra: a personal Microsoft account (the consumer tenant).
    ConsumerAccount,
    /// Entra: no trusted email: the token lacks `xms_edov: true` with `email`, or the org's
    /// `email_claim` (named) is missing.
    EntraEmailUntrusted(Option<&'static str>),
    /// Google: no `hd` claim, so a consumer Google account.
    HostedDomainMissing,
    /// Google: `hd` is not one of the org's hosted domains (the value, at most 64 characters).
    HostedDomainNotAllowed(String),
    /// The `email` claim is not an address edge-sso accepts.
    EmailInvalid(EmailError),
    /// The address is not in a domain the org lists.
    DomainMismatch(EmailAddress),
    /// No role rule matched and the org has no default role.
    NoRole,
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Denial::EmailMissing => f.write_str("the ID token has no email claim"),
            Denial::EmailUnverified => f.write_str("the IdP says the email is not verified"),
            Denial::EmailVerifiedMissing => f.write_str(
                "the ID token has no email_verified claim; if this IdP never sends it and only holds addresses its admins assign, set the org's \"email_verified_claim\": \"optional\"",
            ),
            Denial::ClaimMissing(c) => write!(
                f,
                "the ID token has no valid {c} claim (Entra ID: request the profile scope)"
            ),
            Denial::TenantNotAllowed(t) => write!(
                f,
                "the Entra ID tenant {t} is not allowed for this org (add it to \"tenants\")"
            ),
            Denial::ConsumerAccount => {
                f.write_str("a personal Microsoft account cannot sign in to an organisation")
            }
            Denial::EntraEmailUntrusted(None) => f.write_str(
                "the ID token has no verified email: add the optional claims email and xms_edov to the ID token (App registration > Token configuration), or set the org's email_claim",
            ),
            Denial::EntraEmailUntrusted(Some(c)) => write!(
                f,
                "the ID token has no {c} claim, which the org's email_claim names: add the optional claim {c} to the ID token (App registration > Token configuration)"
            ),
            Denial::HostedDomainMissing => f.write_str(
                "the Google account belongs to no Google Workspace domain (no hd claim): consumer accounts cannot sign in",
            ),
            Denial::HostedDomainNotAllowed(d) => write!(
                f,
                "the Google Workspace domain {d} is not one of the org's hosted domains"
            ),
            Denial::EmailInvalid(e) => write!(f, "the email claim is not usable: {e}"),
            Denial::DomainMismatch(_) => f.write_str("the email is not in a domain of the org"),
            Denial::NoRole => f.write_str("the role mapping grants no role"),
        }
    }
}

impl std::error::Error for Denial {}

/// Admits the subject of `token` to `org`, or says why not. In order:
///
/// 1. the org's IdP profile ([`profile::identify`]) names the member and the email it trusts:
///    an email is required, or an IdP shared by several orgs could sign anyone in; generically
///    `email_verified` must be true (absent only where the org or its profile allows it; false
///    or garbage never), Entra trusts `xms_edov` or the org's `email_claim`, Google requires
///    the org's `hd`;
/// 2. the email must parse with the same normalisation as home realm discovery;
/// 3. its domain must be one the org lists;
/// 4. the org's role mapping ([`map_role`]) must grant a role.
///
/// `token` must have been verified for this org's issuer and client id.
pub fn admit(token: &VerifiedIdToken, org: &OrgConfig) -> Result<Member, Denial> {
    admit_in_groups(token, org, &[])
}

/// [`admit`] for a member who is in the SCIM groups `scim_groups` (display names), which
/// `scim_group` role rules match.
pub fn admit_in_groups(
    token: &VerifiedIdToken,
    org: &OrgConfig,
    scim_groups: &[&str],
) -> Result<Member, Denial> {
    let identity = profile::identify(token, org)?;
    admit_identity(token, identity, org, scim_groups)
}

/// [`admit_in_groups`] for the `identity` [`profile::identify`] gave for `token` (so the caller
/// can look the member's SCIM groups up by the profile's identity first).
pub fn admit_identity(
    token: &VerifiedIdToken,
    identity: Identity,
    org: &OrgConfig,
    scim_groups: &[&str],
) -> Result<Member, Denial> {
    let email = EmailAddress::parse(identity.email()).map_err(Denial::EmailInvalid)?;
    if !org.lists_domain(email.domain()) {
        return Err(Denial::DomainMismatch(email));
    }
    let role = map_role(
        &org.role_mapping,
        org.default_role,
        token.claims(),
        scim_groups,
    )
    .ok_or(Denial::NoRole)?;
    Ok(Member {
        sub: identity.sub().to_owned(),
        issuer: org.issuer.clone(),
        client_id: org.client_id.clone(),
        email,
        role,
        sid: token.sid().map(str::to_owned),
        auth_time: token.auth_time(),
        role_claims: role_claims(org, token.claims()),
    })
}

fn role_claims(org: &OrgConfig, claims: &Map<String, Value>) -> Map<String, Value> {
    let keep = |s: &str| s.chars().count() <= MAX_ROLE_CLAIM_VALUE_CHARS;
    let mut out = Map::new();
    for rule in &org.role_mapping {
        // SCIM group rules read no claim.
        let Some(claim) = rule.claim_name() else {
            continue;
        };
        if out.contains_key(claim) {
            continue;
        }
        // Kept under the rule's claim name, so a dot path (`realm_access.roles`) is resolved
        // once here and read back as a top-level name by the same role mapping later.
        let value = match claim_value(claims, claim) {
            Some(Value::String(s)) if keep(s) => Value::String(s.clone()),
            Some(Value::Array(items)) => Value::Array(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|s| keep(s))
                    .take(MAX_ROLE_CLAIM_VALUES)
                    .map(|s| Value::String(s.to_owned()))
                    .collect(),
            ),
            _ => continue,
        };
        out.insert(claim.to_owned(), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::email::EmailDomain;
    use crate::core::jose::native_verifier::NativeVerifier;
    use crate::core::oidc::idtoken::testkit::*;
    use crate::core::oidc::idtoken::{IdTokenVerifier, UntrustedIdToken};
    use crate::core::org::{ClientId, OrgSlug, RoleRule};
    use crate::core::secret::Secret;
    use crate::core::store::block_on;
    use serde_json::json;

    fn org() -> OrgConfig {
        OrgConfig {
            slug: OrgSlug::parse("acme").unwrap(),
            domains: vec![EmailDomain::parse("example.org").unwrap()],
            issuer: IssuerUrl::parse(ISS).unwrap(),
            client_id: ClientId::parse(CLIENT_ID).unwrap(),
            client_secret: Secret::new("s"),
            scopes: vec!["openid".into()],
            role_mapping: vec![RoleRule::for_claim("groups", "admins", Role::Admin)],
            default_role: None,
            session_ttl_secs: 3600,
            enforced: true,
            access_rules: vec![],
            resource_groups: vec![],
            provisioning: Default::default(),
            verified_domains: vec![],
            profile: Default::default(),
        }
    }

    /// A verified token with the test kit's claims changed by `f`.
    fn token(f: impl FnOnce(&mut Map<String, Value>)) -> VerifiedIdToken {
        let mut c = claims();
        f(c.as_object_mut().unwrap());
        let t = UntrustedIdToken::parse(&token_a(&c)).unwrap();
        block_on(IdTokenVerifier::new(ISS, CLIENT_ID).verify(
            &t,
            &jwks(&[(Key::RsaA, "a")]),
            &NativeVerifier,
            crate::core::clock::UnixTime(NOW),
            &Secret::new(NONCE),
        ))
        .unwrap()
    }

    #[test]
    fn admits_a_member() {
        let m = admit(&token(|_| {}), &org()).unwrap();
        assert_eq!(m.sub(), "user-42");
        assert_eq!(m.issuer().as_str(), ISS);
        assert_eq!(m.email().as_str(), "ada@example.org");
        assert_eq!(m.role(), Role::Admin);
        assert_eq!(m.sid(), Some("session-7"));
        assert_eq!(m.auth_time(), Some(UnixTime(NOW - 20)));
        assert_eq!(
            Value::Object(m.role_claims().clone()),
            json!({"groups": ["admins"]})
        );
    }

    #[test]
    fn email_missing() {
        let t = token(|c| {
            c.remove("email");
        });
        assert_eq!(admit(&t, &org()), Err(Denial::EmailMissing));
    }

    #[test]
    fn email_verified_false_or_garbage_refused_absent_refused_unless_optional() {
        for v in [
            json!(false),
            json!("false"),
            json!("no"),
            json!(1),
            json!(null),
        ] {
            let t = token(|c| {
                c.insert("email_verified".into(), v.clone());
            });
            assert_eq!(admit(&t, &org()), Err(Denial::EmailUnverified), "{v}");
        }
        let t = token(|c| {
            c.remove("email_verified");
        });
        // The generic profile requires it, unless the org opts out.
        assert_eq!(admit(&t, &org()), Err(Denial::EmailVerifiedMissing));
        let mut optional = org();
        optional.profile.email_verified_claim = crate::core::profile::EmailVerifiedClaim::Optional;
        assert!(admit(&t, &optional).is_ok());
        let t = token(|c| {
            c.insert("email_verified".into(), json!("TRUE"));
        });
        assert!(admit(&t, &org()).is_ok());
    }

    #[test]
    fn email_invalid() {
        let t = token(|c| {
            c.insert("email".into(), json!("not an address"));
        });
        assert!(matches!(admit(&t, &org()), Err(Denial::EmailInvalid(_))));
    }

    #[test]
    fn domain_mismatch_uses_discovery_normalisation() {
        let t = token(|c| {
            c.insert("email".into(), json!("ada@evil.example"));
        });
        assert!(matches!(
            admit(&t, &org()),
            Err(Denial::DomainMismatch(e)) if e.as_str() == "ada@evil.example"
        ));
        let t = token(|c| {
            c.insert("email".into(), json!("Ada@EXAMPLE.org"));
        });
        assert_eq!(
            admit(&t, &org()).unwrap().email().as_str(),
            "Ada@example.org"
        );
    }

    #[test]
    fn no_role() {
        let t = token(|c| {
            c.insert("groups".into(), json!(["everyone"]));
        });
        assert_eq!(admit(&t, &org()), Err(Denial::NoRole));
        let mut o = org();
        o.default_role = Some(Role::Read);
        assert_eq!(admit(&t, &o).unwrap().role(), Role::Read);
    }

    #[test]
    fn role_claims_are_a_bounded_copy_of_the_named_claims() {
        let long = "x".repeat(MAX_ROLE_CLAIM_VALUE_CHARS + 1);
        let many: Vec<String> = (0..MAX_ROLE_CLAIM_VALUES + 10)
            .map(|i| format!("g{i}"))
            .collect();
        let mut o = org();
        o.default_role = Some(Role::Read);
        o.role_mapping
            .push(RoleRule::for_claim("dept", "eng", Role::Write));
        o.role_mapping
            .push(RoleRule::for_claim("level", "1", Role::Write));
        let t = token(|c| {
            let mut groups = vec![json!(1), json!(long.clone()), json!({"a": "b"})];
            groups.extend(many.iter().map(|g| json!(g)));
            c.insert("groups".into(), Value::Array(groups));
            c.insert("dept".into(), json!(long.clone()));
            c.insert("level".into(), json!(1));
            c.insert("secret_claim".into(), json!("not copied"));
        });
        let m = admit(&t, &o).unwrap();
        let rc = m.role_claims();
        assert_eq!(rc.len(), 1, "{rc:?}");
        let groups = rc["groups"].as_array().unwrap();
        assert_eq!(groups.len(), MAX_ROLE_CLAIM_VALUES);
        assert_eq!(groups[0], json!("g0"));
    }

    #[test]
    fn denial_display_names_no_address() {
        let d = Denial::DomainMismatch(EmailAddress::parse("ada@evil.example").unwrap());
        assert!(!d.to_string().contains("ada@"));
    }
}
