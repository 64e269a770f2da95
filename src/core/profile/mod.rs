//! IdP profiles: what edge-sso must know about each identity provider an organisation actually
//! configures, beyond spec-exact OIDC. An org's `idp` ([`IdpKind`]) shapes three things:
//!
//! 1. **Config validation at admin PUT** ([`validate`]): the issuer forms each IdP publishes
//!    (an Entra v1 issuer, a OneLogin v1 issuer or an Auth0 issuer without its trailing `/` is
//!    refused with the exact value to use), and the profile's own fields (`tenants`,
//!    `email_claim`, `hosted_domains`, `email_verified_claim`).
//! 2. **Issuer matching** ([`id_token_verifier`]): Entra's multi-tenant authorities publish the
//!    templated issuer `.../{tenantid}/v2.0`; Google's tokens may carry `accounts.google.com`.
//! 3. **Who the member is** ([`identify`]): which claims identify the member (`sub`, or Entra's
//!    `tid`+`oid`), which email is trusted, and the IdP-specific admission rules (Entra tenant
//!    allow-list, Google `hd`).
//!
//! Plus **enrichment** ([`enrich`]) between ID-token verification and admission: the userinfo
//! endpoint (OIDC Core 5.3) when the ID token lacks the email or a claim role mapping reads, and
//! Microsoft Graph for Entra's groups overage.
//!
//! Everything here is a pure function of the verified token and the org's config, apart from
//! [`enrich`], whose I/O goes through the core's [`HttpClient`] port.

pub mod auth0;
pub mod connection;
pub mod entra;
pub mod generic;
pub mod google;
pub mod keycloak;
pub mod okta;
pub mod onelogin;

use crate::core::clock::Clock;
use crate::core::email::EmailDomain;
use crate::core::http::{HttpClient, HttpError};
use crate::core::jose::verify::SignatureVerifier;
use crate::core::member::Denial;
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::idtoken::{IdTokenVerifier, VerifiedIdToken};
use crate::core::oidc::userinfo::{self, UserinfoError};
use crate::core::oidc::verify_id_token::{verify_userinfo, IdTokenPorts};
use crate::core::org::{FieldError, OrgConfig};
use crate::core::secret::Secret;
use crate::core::store::KvStore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Most tenants in an Entra `tenants` allow-list.
pub const MAX_TENANTS: usize = 50;

/// Which identity provider an org uses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdpKind {
    /// Any OpenID Provider, spec-exact (the default).
    #[default]
    Generic,
    /// Okta (org or custom authorization server).
    Okta,
    /// Microsoft Entra ID (v2.0 endpoints).
    Entra,
    /// Google Workspace.
    Google,
    /// OneLogin (OIDC v2).
    OneLogin,
    /// Keycloak (17 and later).
    Keycloak,
    /// Auth0.
    Auth0,
}

impl IdpKind {
    /// Every profile.
    pub const ALL: [IdpKind; 7] = [
        IdpKind::Generic,
        IdpKind::Okta,
        IdpKind::Entra,
        IdpKind::Google,
        IdpKind::OneLogin,
        IdpKind::Keycloak,
        IdpKind::Auth0,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            IdpKind::Generic => "generic",
            IdpKind::Okta => "okta",
            IdpKind::Entra => "entra",
            IdpKind::Google => "google",
            IdpKind::OneLogin => "onelogin",
            IdpKind::Keycloak => "keycloak",
            IdpKind::Auth0 => "auth0",
        }
    }

    /// The profile with wire name `s` (exact).
    pub fn parse(s: &str) -> Option<IdpKind> {
        IdpKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The setup guide for this profile, relative to the repository root (none for generic).
    pub fn guide(self) -> Option<&'static str> {
        match self {
            IdpKind::Generic => None,
            IdpKind::Okta => Some("docs/idp/okta.md"),
            IdpKind::Entra => Some("docs/idp/entra.md"),
            IdpKind::Google => Some("docs/idp/google.md"),
            IdpKind::OneLogin => Some("docs/idp/onelogin.md"),
            IdpKind::Keycloak => Some("docs/idp/keycloak.md"),
            IdpKind::Auth0 => Some("docs/idp/auth0.md"),
        }
    }

    fn is_generic(&self) -> bool {
        *self == IdpKind::Generic
    }
}

/// Whether an ID token without `email_verified` may be admitted (`generic` orgs only).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailVerifiedClaim {
    /// `email_verified` must be `true` (the default).
    #[default]
    Required,
    /// An absent `email_verified` is accepted (for IdPs that never send it and only hold
    /// addresses their admins assign); `false` or garbage is still refused.
    Optional,
}

impl EmailVerifiedClaim {
    pub(crate) fn is_required(&self) -> bool {
        *self == EmailVerifiedClaim::Required
    }
}

/// Which Entra ID claim carries the email of a member of a pinned tenant, when the token does
/// not prove a verified `email` (`xms_edov`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntraEmailClaim {
    /// `email` (an optional claim; its value is the user's `mail` attribute).
    Email,
    /// `upn` (an optional claim; the user principal name, in one of the tenant's verified
    /// domains).
    Upn,
    /// `preferred_username` (v2.0 tokens: usually the UPN).
    PreferredUsername,
}

impl EntraEmailClaim {
    /// The claim name.
    pub fn as_str(self) -> &'static str {
        match self {
            EntraEmailClaim::Email => "email",
            EntraEmailClaim::Upn => "upn",
            EntraEmailClaim::PreferredUsername => "preferred_username",
        }
    }
}

/// An Entra ID tenant id: a GUID, kept in lower case (the form Entra writes in `tid` and in
/// issuers).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct TenantId(String);

impl TenantId {
    /// Parses a GUID (`8-4-4-4-12` hex digits, any case) into its lower-case form.
    pub fn parse(s: &str) -> Option<TenantId> {
        is_guid(s).then(|| TenantId(s.to_ascii_lowercase()))
    }

    /// The tenant id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `s` is a GUID in its 36-character hyphenated form.
pub(crate) fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

impl Serialize for TenantId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TenantId::parse(&s).ok_or_else(|| serde::de::Error::custom("not a tenant GUID"))
    }
}

/// An org's IdP profile settings, stored flattened into its [`OrgConfig`]. Every field has a
/// default, so configs stored before profiles existed read as `generic` with the defaults.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct ProfileConfig {
    /// The profile.
    #[serde(default)]
    pub idp: IdpKind,
    /// Entra multi-tenant allow-list (required for the `organizations` and `common`
    /// authorities).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<TenantId>,
    /// Entra: the claim trusted as the email of a member of a pinned tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_claim: Option<EntraEmailClaim>,
    /// Google: the Workspace domains (`hd`) admitted; empty means the org's email domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosted_domains: Vec<EmailDomain>,
    /// Generic: whether `email_verified` may be absent.
    #[serde(default, skip_serializing_if = "EmailVerifiedClaim::is_required")]
    pub email_verified_claim: EmailVerifiedClaim,
}

impl ProfileConfig {
    /// Whether the default, `generic` profile with no profile field set.
    pub fn is_default(&self) -> bool {
        self.idp.is_generic() && *self == ProfileConfig::default()
    }
}

/// The admin body fields this module owns.
pub const FIELDS: [&str; 5] = [
    "idp",
    "tenants",
    "email_claim",
    "hosted_domains",
    "email_verified_claim",
];

/// Parses the profile fields of an admin body; `get` returns a body field. Cross-field rules
/// (issuer forms, which fields go with which profile) are [`validate`]'s.
pub fn parse_fields<'a>(
    get: impl Fn(&str) -> Option<&'a Value>,
) -> Result<ProfileConfig, FieldError> {
    let idp = match get("idp") {
        None => IdpKind::Generic,
        Some(v) => v.as_str().and_then(IdpKind::parse).ok_or_else(|| {
            FieldError::new(
                "idp",
                "must be one of generic, okta, entra, google, onelogin, keycloak, auth0",
            )
        })?,
    };
    let tenants = match get("tenants") {
        None => Vec::new(),
        Some(v) => {
            let items = v
                .as_array()
                .ok_or_else(|| FieldError::new("tenants", "must be an array of tenant ids"))?;
            if items.len() > MAX_TENANTS {
                return Err(FieldError::new(
                    "tenants",
                    format!("must list at most {MAX_TENANTS} tenants"),
                ));
            }
            let mut out: Vec<TenantId> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let field = format!("tenants[{i}]");
                let t = item.as_str().and_then(TenantId::parse).ok_or_else(|| {
                    FieldError::new(
                        &field,
                        "must be a tenant id (a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47: Entra admin center > Overview > Tenant ID)",
                    )
                })?;
                if t.as_str() == entra::CONSUMER_TENANT {
                    return Err(FieldError::new(
                        field,
                        "is the Microsoft personal-account (MSA) tenant: personal accounts cannot be organisation members",
                    ));
                }
                if out.contains(&t) {
                    return Err(FieldError::new(field, "duplicate tenant"));
                }
                out.push(t);
            }
            out
        }
    };
    let email_claim = match get("email_claim") {
        None | Some(Value::Null) => None,
        Some(v) => Some(match v.as_str() {
            Some("email") => EntraEmailClaim::Email,
            Some("upn") => EntraEmailClaim::Upn,
            Some("preferred_username") => EntraEmailClaim::PreferredUsername,
            _ => {
                return Err(FieldError::new(
                    "email_claim",
                    "must be \"email\", \"upn\" or \"preferred_username\"",
                ))
            }
        }),
    };
    let hosted_domains = match get("hosted_domains") {
        None => Vec::new(),
        Some(v) => {
            let items = v
                .as_array()
                .ok_or_else(|| FieldError::new("hosted_domains", "must be an array of domains"))?;
            if items.len() > crate::core::org::MAX_DOMAINS {
                return Err(FieldError::new(
                    "hosted_domains",
                    format!(
                        "must list at most {} domains",
                        crate::core::org::MAX_DOMAINS
                    ),
                ));
            }
            let mut out: Vec<EmailDomain> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let field = format!("hosted_domains[{i}]");
                let d = item
                    .as_str()
                    .ok_or_else(|| FieldError::new(&field, "must be a string"))
                    .and_then(|s| {
                        EmailDomain::parse(s).map_err(|e| FieldError::new(&field, e.to_string()))
                    })?;
                if out.contains(&d) {
                    return Err(FieldError::new(field, "duplicate domain"));
                }
                out.push(d);
            }
            out
        }
    };
    let email_verified_claim = match get("email_verified_claim").map(Value::as_str) {
        None | Some(Some("required")) => EmailVerifiedClaim::Required,
        Some(Some("optional")) => EmailVerifiedClaim::Optional,
        Some(_) => {
            return Err(FieldError::new(
                "email_verified_claim",
                "must be \"required\" (the default) or \"optional\"",
            ))
        }
    };
    Ok(ProfileConfig {
        idp,
        tenants,
        email_claim,
        hosted_domains,
        email_verified_claim,
    })
}

/// The profile's cross-field rules on a config parsed from an admin body: fields that belong
/// to another profile are refused (naming the field), the issuer must be in a form the IdP
/// really issues, and the profile may adjust the config (Okta's `groups` scope). Returns the
/// warnings for the admin (a config that works but is likely to surprise).
pub fn validate(org: &mut OrgConfig) -> Result<Vec<String>, FieldError> {
    let p = &org.profile;
    let only = |set: bool, field: &str, kind: IdpKind| {
        if set && p.idp != kind {
            Err(FieldError::new(
                field,
                format!("applies only to \"idp\": \"{}\"", kind.as_str()),
            ))
        } else {
            Ok(())
        }
    };
    only(!p.tenants.is_empty(), "tenants", IdpKind::Entra)?;
    only(p.email_claim.is_some(), "email_claim", IdpKind::Entra)?;
    only(
        !p.hosted_domains.is_empty(),
        "hosted_domains",
        IdpKind::Google,
    )?;
    only(
        !p.email_verified_claim.is_required(),
        "email_verified_claim",
        IdpKind::Generic,
    )?;
    // Every profile: an Entra v1 issuer is refused wherever it is pasted.
    entra::refuse_unsupported_issuer(org)?;
    let mut warnings = Vec::new();
    match org.profile.idp {
        IdpKind::Generic => {}
        IdpKind::Okta => okta::validate(org, &mut warnings)?,
        IdpKind::Entra => entra::validate(org, &mut warnings)?,
        IdpKind::Google => google::validate(org)?,
        IdpKind::OneLogin => onelogin::validate(org)?,
        IdpKind::Keycloak => keycloak::validate(org, &mut warnings)?,
        IdpKind::Auth0 => auth0::validate(org)?,
    }
    Ok(warnings)
}

/// The warnings [`validate`] would give for a stored config (for the admin API's answers).
pub fn warnings(org: &OrgConfig) -> Vec<String> {
    let mut copy = org.clone();
    validate(&mut copy).unwrap_or_default()
}

/// Adds to an admin API answer about `org` (its [`OrgConfig::redacted_json`]) the profile's
/// `warnings` (when any) and its setup `guide`. Both are read-only: a body sent back as an
/// update must leave them out.
pub fn annotate(org: &OrgConfig, answer: &mut Value) {
    let Value::Object(m) = answer else { return };
    let w = warnings(org);
    if !w.is_empty() {
        m.insert("warnings".into(), w.into());
    }
    if let Some(g) = org.profile.idp.guide() {
        m.insert("guide".into(), g.into());
    }
}

/// Development only: the origin (`http://127.0.0.1:{port}`) of a plain-http loopback URL, the
/// one seam that lets the `entra` and `google` profiles run against a local OP of the tests
/// (an Entra-shaped `http://127.0.0.1:{port}/{tenant}/v2.0`, a Google-shaped
/// `http://127.0.0.1:{port}`). Such an issuer exists only where `ALLOW_INSECURE_LOOPBACK_IDP=true`:
/// without it the [`crate::core::oidc::url_policy::IdpUrlPolicy`] refuses it at admin PUT and
/// in every discovery document, so production never reaches a loopback IdP or Graph.
pub(crate) fn dev_loopback_origin(url: &url::Url) -> Option<String> {
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    (url.scheme() == "http" && loopback).then(|| url.origin().ascii_serialization())
}

/// What an admin pastes as the issuer, reduced to the issuer: OIDC Discovery 4 puts the
/// configuration document at `{issuer}/.well-known/openid-configuration`, so a pasted
/// discovery URL has the issuer as its prefix. Anything else is returned unchanged. (The
/// document's own `issuer` may still differ, e.g. by a trailing slash: discovery reports that
/// mismatch with the exact value.)
pub fn reduce_issuer_input(s: &str) -> &str {
    const WELL_KNOWN: &str = "/.well-known/openid-configuration";
    s.strip_suffix(WELL_KNOWN).unwrap_or(s)
}

/// The ID-token verifier for `org` at the IdP described by `meta` (discovery for the org's
/// issuer): the exact issuer, or for an Entra multi-tenant authority the discovery document's
/// `{tenantid}` template with the token's `tid` substituted, or for Google the legacy
/// `accounts.google.com` too. The caller adds leeway and algorithms.
pub fn id_token_verifier(org: &OrgConfig, meta: &ProviderMetadata) -> IdTokenVerifier {
    let client_id = org.client_id.as_str();
    match org.profile.idp {
        IdpKind::Entra if entra::is_multi_tenant(org.issuer.as_str()) => {
            // Discovery checked that `meta.issuer` is this authority's template
            // (`discovery_issuer_matches`); the verifier substitutes the token's `tid` and
            // compares `iss` exactly with the result: the issuer check is never skipped.
            IdTokenVerifier::new(meta.issuer.clone(), client_id).with_tenant_issuer_template()
        }
        IdpKind::Google => IdTokenVerifier::new(org.issuer.as_str(), client_id)
            .with_issuer_alias(google::LEGACY_ISSUER),
        _ => IdTokenVerifier::new(org.issuer.as_str(), client_id),
    }
}

/// Who a verified ID token's subject is for this org, before the domain and role checks: the
/// member key and the email the profile trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    sub: String,
    email: String,
}

impl Identity {
    pub(crate) fn new(sub: impl Into<String>, email: impl Into<String>) -> Identity {
        Identity {
            sub: sub.into(),
            email: email.into(),
        }
    }
    /// The member key at the org's issuer: the token's `sub`, or for Entra `"{tid}:{oid}"`.
    pub fn sub(&self) -> &str {
        &self.sub
    }
    /// The email the profile trusts (not yet parsed or checked against the org's domains).
    pub fn email(&self) -> &str {
        &self.email
    }
}

/// Applies the org's profile rules to a verified (and possibly enriched) token: the identity
/// and the trusted email, or the [`Denial`] naming the rule that refused.
pub fn identify(token: &VerifiedIdToken, org: &OrgConfig) -> Result<Identity, Denial> {
    match org.profile.idp {
        IdpKind::Entra => entra::identify(token, org),
        IdpKind::Google => google::identify(token, org),
        IdpKind::OneLogin => onelogin::identify(token),
        IdpKind::Generic => generic::identify(token, org.profile.email_verified_claim),
        // Okta, Keycloak and Auth0 send `email_verified`: the generic rule, required.
        IdpKind::Okta | IdpKind::Keycloak | IdpKind::Auth0 => {
            generic::identify(token, EmailVerifiedClaim::Required)
        }
    }
}

/// Why enrichment (userinfo, Microsoft Graph) failed. `Display` never includes a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnrichError {
    /// The userinfo endpoint failed or answered something unusable.
    Userinfo(UserinfoError),
    /// Groups overage: the token response carried no access token to ask Graph with.
    GraphNoAccessToken,
    /// Microsoft Graph could not be reached.
    GraphUnreachable(HttpError),
    /// Microsoft Graph refused (401/403: the access token lacks the permission).
    GraphRefused(u16),
    /// Microsoft Graph answered something unusable.
    GraphInvalid(&'static str),
}

impl std::fmt::Display for EnrichError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnrichError::Userinfo(e) => write!(f, "userinfo: {e}"),
            EnrichError::GraphNoAccessToken => {
                f.write_str("groups overage: the token response has no access token for Microsoft Graph")
            }
            EnrichError::GraphUnreachable(e) => write!(f, "Microsoft Graph: {e}"),
            EnrichError::GraphRefused(s) => write!(
                f,
                "Microsoft Graph refused the group lookup (HTTP {s}): grant the app the delegated permission GroupMember.Read.All (admin consent) and add it to the org's scopes"
            ),
            EnrichError::GraphInvalid(m) => write!(f, "Microsoft Graph: {m}"),
        }
    }
}

impl std::error::Error for EnrichError {}

/// The claim names role mapping reads (the top-level name of a dot path included).
fn role_claims_read(org: &OrgConfig) -> impl Iterator<Item = &str> {
    org.role_mapping.iter().filter_map(|r| r.claim_name())
}

/// Whether role mapping reads the claim `name`.
pub(crate) fn reads_claim(org: &OrgConfig, name: &str) -> bool {
    role_claims_read(org).any(|c| c == name)
}

/// Fills in what the ID token lacks, between verification and admission:
///
/// * Entra groups overage (the token says `_claim_names.groups` or `hasgroups` instead of
///   listing the groups) when role mapping reads `groups`: the groups come from Microsoft Graph
///   in the authority's cloud, asked with the access token ([`entra::fetch_groups`]); never
///   from the `_claim_sources` URL the token names.
/// * Otherwise, when the ID token lacks `email` or a claim role mapping reads and discovery
///   lists a `userinfo_endpoint`: OIDC Core 5.3, with the access token. Its `sub` must equal the
///   ID token's (5.3.2); ID-token claims win on conflict; `email` and `email_verified` are taken
///   only as a pair, and only when the ID token has no `email`.
///
/// Without an access token (or an endpoint) userinfo is skipped and admission decides on the
/// ID token alone; so does a userinfo failure when only a mapped claim was missing (a failure
/// when the email is missing, an answer for another `sub`, or a signed answer that fails
/// verification, fails the sign-in). A signed answer (`application/jwt`) is verified like the
/// ID token, by `idv` with the issuer's keys ([`verify_userinfo`]). Entra is not sent to
/// userinfo: its userinfo is a Graph endpoint whose email is the same unverified one; Entra's
/// email rules read the ID token.
pub async fn enrich<S, H, V, C>(
    ports: &IdTokenPorts<'_, S, H, V, C>,
    idv: &IdTokenVerifier,
    org: &OrgConfig,
    meta: &ProviderMetadata,
    access_token: Option<&Secret>,
    token: VerifiedIdToken,
) -> Result<VerifiedIdToken, EnrichError>
where
    S: KvStore,
    H: HttpClient,
    V: SignatureVerifier,
    C: Clock + ?Sized,
{
    let http = ports.http;
    if org.profile.idp == IdpKind::Entra {
        if !reads_claim(org, "groups") || !entra::has_groups_overage(token.claims()) {
            return Ok(token);
        }
        let at = access_token.ok_or(EnrichError::GraphNoAccessToken)?;
        let groups = entra::fetch_groups(http, org, at).await?;
        let mut extra = Map::new();
        extra.insert("groups".into(), Value::Array(groups));
        return Ok(token.with_extra_claims(&extra));
    }
    let Some(endpoint) = &meta.userinfo_endpoint else {
        return Ok(token);
    };
    let Some(at) = access_token else {
        return Ok(token);
    };
    let claims = token.claims();
    let lacks = |name: &str| {
        let top = name.split('.').next().unwrap_or(name);
        !claims.contains_key(name) && !claims.contains_key(top)
    };
    let lacks_email = !claims.contains_key("email");
    if !lacks_email && !role_claims_read(org).any(lacks) {
        return Ok(token);
    }
    let req = userinfo::userinfo_request(endpoint, at);
    let answer = match http.send(req, userinfo::MAX_USERINFO_BODY).await {
        Ok(resp) => verify_userinfo(ports, idv, &meta.jwks_uri, &resp, &token).await,
        Err(e) => Err(UserinfoError::Unreachable(e)),
    };
    match answer {
        Ok(extra) => Ok(token.with_extra_claims(&extra)),
        // An answer about someone else, or a signed one that fails verification, is never
        // ignored (OIDC Core 5.3.2).
        Err(e) if e.is_untrusted_answer() => Err(EnrichError::Userinfo(e)),
        // Without the email the sign-in cannot succeed: say why.
        Err(e) if lacks_email => Err(EnrichError::Userinfo(e)),
        // Only a mapped claim was missing (a user in no group often has no groups claim at
        // all): the role mapping decides on the ID token alone, as without userinfo.
        Err(_) => Ok(token),
    }
}

#[cfg(test)]
pub(crate) mod testkit;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in IdpKind::ALL {
            assert_eq!(IdpKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
            assert_eq!(k.guide().is_none(), k == IdpKind::Generic);
        }
        assert_eq!(IdpKind::parse("Okta"), None);
        assert_eq!(IdpKind::parse("azure"), None);
    }

    #[test]
    fn guid_shape() {
        assert!(is_guid("72f988bf-86f1-41af-91ab-2d7cd011db47"));
        assert_eq!(
            TenantId::parse("72F988BF-86F1-41AF-91AB-2D7CD011DB47")
                .unwrap()
                .as_str(),
            "72f988bf-86f1-41af-91ab-2d7cd011db47"
        );
        for bad in [
            "",
            "72f988bf86f141af91ab2d7cd011db47",
            "72f988bf-86f1-41af-91ab-2d7cd011db4",
            "72f988bf-86f1-41af-91ab-2d7cd011db47x",
            "g2f988bf-86f1-41af-91ab-2d7cd011db47",
            "{72f988bf-86f1-41af-91ab-2d7cd011db4}",
            "contoso.onmicrosoft.com",
        ] {
            assert!(!is_guid(bad), "{bad}");
        }
    }

    /// Each IdP's public discovery document (as published, with placeholder tenants) parses for
    /// the issuer an admin configures, and an ID token shaped like that IdP's (claims as its
    /// documentation shows them) verifies and admits under the profile.
    #[test]
    fn real_discovery_documents_and_token_shapes() {
        use crate::core::member::admit;
        use crate::core::oidc::discovery::parse_metadata;
        use crate::core::oidc::url_policy::IdpUrlPolicy;
        use serde_json::json;
        use testkit::*;
        const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let strict = IdpUrlPolicy {
            allow_insecure_loopback: false,
        };
        let cases: [(&str, &str, Value, &str, Value); 6] = [
            (
                "okta",
                "https://acme.okta.com",
                json!({}),
                include_str!("fixtures/okta.json"),
                json!({"ver": 1, "jti": "ID.4eAWJOCMB3SX8XewDfVR", "amr": ["pwd"], "idp": "00ok1u7AsAkrwdZL3z0g3",
                    "email": "ada@acme.com", "email_verified": true, "preferred_username": "ada@acme.com", "groups": ["Everyone"]}),
            ),
            (
                "entra",
                "https://login.microsoftonline.com/organizations/v2.0",
                json!({"tenants": [TID]}),
                include_str!("fixtures/entra-organizations.json"),
                json!({"ver": "2.0", "iss": format!("https://login.microsoftonline.com/{TID}/v2.0"), "tid": TID,
                    "oid": "00000000-0000-0000-66f3-3332eca7ea81", "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
                    "preferred_username": "ada@acme.com", "email": "ada@acme.com", "xms_edov": true, "name": "Ada"}),
            ),
            (
                "google",
                "https://accounts.google.com",
                json!({}),
                include_str!("fixtures/google.json"),
                json!({"azp": CLIENT_ID, "sub": "110169484474386276334", "hd": "acme.com", "email": "ada@acme.com",
                    "email_verified": true, "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q"}),
            ),
            (
                "onelogin",
                "https://acme.onelogin.com/oidc/2",
                json!({}),
                include_str!("fixtures/onelogin.json"),
                json!({"sub": "45678901", "email": "ada@acme.com", "preferred_username": "ada", "name": "Ada", "sid": "5d2b3c4d"}),
            ),
            (
                "keycloak",
                "https://sso.acme.com/realms/acme",
                json!({}),
                include_str!("fixtures/keycloak.json"),
                json!({"typ": "ID", "azp": CLIENT_ID, "sid": "2f4e6a8c", "email": "ada@acme.com", "email_verified": true,
                    "preferred_username": "ada", "realm_access": {"roles": ["default-roles-acme"]}}),
            ),
            (
                "auth0",
                "https://acme.us.auth0.com/",
                json!({}),
                include_str!("fixtures/auth0.json"),
                json!({"sub": "auth0|64a1b2c3d4e5f6", "email": "ada@acme.com", "email_verified": true,
                    "nickname": "ada", "https://hub.example/roles": ["hub-admin"]}),
            ),
        ];
        for (idp, issuer, extra, doc, claims) in cases {
            let mut body = json!({"idp": idp, "issuer": issuer, "default_role": "read"});
            testkit::merge(&mut body, extra);
            let org = org(body).unwrap_or_else(|e| panic!("{idp}: {e}"));
            let meta = parse_metadata(org.issuer.as_str(), &strict, doc.as_bytes())
                .unwrap_or_else(|e| panic!("{idp}: {e}"));
            let v = id_token_verifier(&org, &meta).with_provider_algs(&meta);
            let t = verify_with(&v, &claims).unwrap_or_else(|e| panic!("{idp}: {e}"));
            let m = admit(&t, &org).unwrap_or_else(|e| panic!("{idp}: {e}"));
            assert_eq!(m.email().as_str(), "ada@acme.com", "{idp}");
            // A discovery URL pasted as the issuer reduces to the configured issuer (Auth0's
            // trailing slash put back).
            let pasted = format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            );
            let mut body = json!({"idp": idp, "issuer": pasted});
            if idp == "entra" {
                body["tenants"] = json!([TID]);
            }
            assert_eq!(org_issuer(body), issuer, "{idp}");
        }
    }

    /// What the guides tell an admin to PUT (docs/idp/*.md, pasted as written, placeholders
    /// filled) is accepted, and for Okta and Entra an ID token shaped like theirs (claims as
    /// the fixtures above) is admitted with the role the guide's rule promises.
    #[test]
    fn the_guides_put_bodies_configure_what_their_tokens_need() {
        use crate::core::member::admit;
        use crate::core::org::OrgSlug;
        use crate::core::org::Role;
        use serde_json::json;
        use testkit::*;
        const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let guides = [
            ("okta", include_str!("../../../docs/idp/okta.md")),
            ("entra", include_str!("../../../docs/idp/entra.md")),
            ("google", include_str!("../../../docs/idp/google.md")),
            ("onelogin", include_str!("../../../docs/idp/onelogin.md")),
            ("keycloak", include_str!("../../../docs/idp/keycloak.md")),
            ("auth0", include_str!("../../../docs/idp/auth0.md")),
        ];
        let strict = crate::core::oidc::url_policy::IdpUrlPolicy {
            allow_insecure_loopback: false,
        };
        for (idp, guide) in guides {
            let bodies: Vec<&str> = guide
                .split("-d '")
                .skip(1)
                .map(|rest| &rest[..rest.find('\'').expect("closing quote")])
                .collect();
            assert!(!bodies.is_empty(), "{idp}: the guide shows a PUT body");
            for raw in bodies {
                let raw = raw.replace("{tenant-id}", TID);
                let mut body: Value = serde_json::from_slice(raw.as_bytes())
                    .unwrap_or_else(|e| panic!("{idp}: the guide's body is not JSON: {e}"));
                assert_eq!(body["idp"], idp, "{idp}");
                let slug = OrgSlug::parse("acme").unwrap();
                OrgConfig::from_admin_json(slug.clone(), raw.as_bytes(), &strict, None)
                    .unwrap_or_else(|e| panic!("{idp}: the guide's body is refused: {e}"));
                if !matches!(idp, "okta" | "entra") {
                    continue;
                }
                // The guide's first role rule, met by a token shaped like the IdP's.
                let rule = body["role_mapping"][0].clone();
                body["client_id"] = json!(CLIENT_ID);
                let org =
                    OrgConfig::from_admin_json(slug, body.to_string().as_bytes(), &strict, None)
                        .unwrap();
                let meta = meta_for(org.issuer.as_str());
                let claims = match idp {
                    "okta" => json!({"ver": 1, "email": "ada@acme.com", "email_verified": true,
                        "preferred_username": "ada@acme.com", "groups": ["Everyone", rule["value"]]}),
                    _ => {
                        json!({"ver": "2.0", "tid": TID, "oid": "00000000-0000-0000-66f3-3332eca7ea81",
                        "preferred_username": "ada@acme.com", "email": "ada@acme.com", "xms_edov": true,
                        "groups": [rule["value"]]})
                    }
                };
                let v = id_token_verifier(&org, &meta).with_provider_algs(&meta);
                let t = verify_with(&v, &claims).unwrap_or_else(|e| panic!("{idp}: {e}"));
                let m = admit(&t, &org).unwrap_or_else(|e| panic!("{idp}: {e}"));
                assert_eq!(m.email().as_str(), "ada@acme.com", "{idp}");
                assert_eq!(
                    Some(m.role()),
                    Role::parse(rule["role"].as_str().unwrap()),
                    "{idp}"
                );
                // Without the claim the rule reads, the guide's default role applies.
                let mut without = claims.clone();
                without["groups"] = json!(["Everyone"]);
                let t = verify_with(&v, &without).unwrap();
                assert_eq!(
                    Some(admit(&t, &org).unwrap().role()),
                    Role::parse("read"),
                    "{idp}"
                );
            }
        }
    }

    #[test]
    fn extra_claims_never_outrank_the_id_token() {
        use serde_json::json;
        use testkit::verified;
        let extra = |v: Value| v.as_object().unwrap().clone();
        // The ID token's email_verified says nothing about another source's address.
        let t = verified(json!({"email_verified": true}))
            .with_extra_claims(&extra(json!({"email": "eve@acme.com"})));
        assert_eq!(t.email(), Some("eve@acme.com"));
        assert_eq!(
            t.email_verified(),
            crate::core::oidc::idtoken::EmailVerified::Absent
        );
        // The pair is taken together.
        let t = verified(json!({})).with_extra_claims(&extra(
            json!({"email": "ada@acme.com", "email_verified": true}),
        ));
        assert_eq!(
            t.email_verified(),
            crate::core::oidc::idtoken::EmailVerified::True
        );
        // An ID-token email stands; so do its other claims.
        let t = verified(json!({"email": "ada@acme.com", "groups": ["a"]})).with_extra_claims(
            &extra(json!({"email": "eve@acme.com", "email_verified": true, "groups": ["admins"], "dept": "R&D"})),
        );
        assert_eq!(t.email(), Some("ada@acme.com"));
        assert_eq!(
            t.email_verified(),
            crate::core::oidc::idtoken::EmailVerified::Absent
        );
        assert_eq!(t.claims()["groups"], json!(["a"]));
        assert_eq!(t.claims()["dept"], "R&D");
        // Claims the profiles admit by, and the token's own, never come from elsewhere.
        let t = verified(json!({})).with_extra_claims(&extra(json!({
            "sub": "x", "iss": "y", "hd": "acme.com", "tid": "t", "oid": "o", "xms_edov": true,
        })));
        assert_eq!(t.sub(), "user-42");
        for k in ["hd", "tid", "oid", "xms_edov"] {
            assert!(!t.claims().contains_key(k), "{k}");
        }
    }

    fn org_issuer(body: Value) -> String {
        testkit::org(body).unwrap().issuer.as_str().to_owned()
    }

    #[test]
    fn discovery_url_reduced_to_issuer() {
        assert_eq!(
            reduce_issuer_input("https://acme.okta.com/.well-known/openid-configuration"),
            "https://acme.okta.com"
        );
        assert_eq!(
            reduce_issuer_input(
                "https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration"
            ),
            "https://login.microsoftonline.com/t/v2.0"
        );
        assert_eq!(
            reduce_issuer_input("https://acme.okta.com"),
            "https://acme.okta.com"
        );
    }
}
