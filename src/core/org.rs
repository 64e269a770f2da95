//! Organisations: their slug, their roles, and the configuration an admin stores for them
//! (email domains, the IdP client registration, role mapping, session policy).
//!
//! [`OrgConfig::from_admin_json`] is the only way an admin-supplied body becomes an
//! [`OrgConfig`]; it validates every field and names the first one that is wrong.

use crate::core::email::EmailDomain;
use crate::core::gateway::config::{self as gateway_config, AccessRule, ResourceGroup};
use crate::core::ledger::Provisioning;
use crate::core::oidc::issuer::IssuerUrl;
use crate::core::oidc::url_policy::IdpUrlPolicy;
use crate::core::profile::{self, IdpKind, ProfileConfig};
use crate::core::secret::Secret;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Largest admin request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Most domains one org may claim.
pub const MAX_DOMAINS: usize = 50;
pub use crate::core::oidc::issuer::MAX_ISSUER_CHARS;
/// Longest client id, in characters.
pub const MAX_CLIENT_ID_CHARS: usize = 256;
/// Longest client secret, in characters.
pub const MAX_CLIENT_SECRET_CHARS: usize = 1024;
/// Most scopes requested.
pub const MAX_SCOPES: usize = 20;
/// Longest scope token, in characters.
pub const MAX_SCOPE_CHARS: usize = 64;
/// Most role-mapping rules.
pub const MAX_ROLE_RULES: usize = 50;
/// Longest claim name in a role rule, in characters.
pub const MAX_CLAIM_CHARS: usize = 64;
/// Longest claim value in a role rule, in characters.
pub const MAX_CLAIM_VALUE_CHARS: usize = 256;
/// Longest SCIM group `displayName` in a role rule, in characters.
pub const MAX_SCIM_GROUP_CHARS: usize = 256;
/// Shortest allowed session lifetime (5 minutes).
pub const MIN_SESSION_TTL_SECS: u64 = 300;
/// Longest allowed session lifetime (24 hours).
pub const MAX_SESSION_TTL_SECS: u64 = 86_400;
/// Session lifetime when the admin does not set one (8 hours).
pub const DEFAULT_SESSION_TTL_SECS: u64 = 28_800;
/// Scopes requested when the admin does not set them.
pub const DEFAULT_SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// Shortest and longest slug.
const SLUG_LEN: std::ops::RangeInclusive<usize> = 2..=48;

/// Why a string is not an [`OrgSlug`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlugError {
    /// Fewer than 2 or more than 48 characters.
    Length,
    /// A character outside `a-z`, `0-9` and `-`.
    Character,
    /// Starts or ends with `-`, or contains `--`.
    Hyphen,
}

impl std::fmt::Display for SlugError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SlugError::Length => "the org slug must be 2 to 48 characters long",
            SlugError::Character => {
                "the org slug may contain only lower-case letters, digits and hyphens"
            }
            SlugError::Hyphen => {
                "the org slug must not start or end with a hyphen or contain two in a row"
            }
        })
    }
}

impl std::error::Error for SlugError {}

/// The identifier of an organisation on the hub: 2 to 48 characters of `[a-z0-9-]`, no leading,
/// trailing or doubled hyphen. Safe to embed in KV keys and URL paths as is.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct OrgSlug(String);

impl OrgSlug {
    /// Validates a slug (no normalisation: `Acme` is refused, not lower-cased).
    pub fn parse(input: &str) -> Result<OrgSlug, SlugError> {
        if !SLUG_LEN.contains(&input.len()) {
            return Err(SlugError::Length);
        }
        if !input
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(SlugError::Character);
        }
        if input.starts_with('-') || input.ends_with('-') || input.contains("--") {
            return Err(SlugError::Hyphen);
        }
        Ok(OrgSlug(input.to_owned()))
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for OrgSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for OrgSlug {
    type Err = SlugError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrgSlug::parse(s)
    }
}

impl Serialize for OrgSlug {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OrgSlug {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        OrgSlug::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What a member may do in the org on the hub, from least to most privileged (`Ord` follows
/// that order, so `role >= Role::Write` reads naturally).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read access.
    Read,
    /// May propose changes.
    Contributor,
    /// May write.
    Write,
    /// May administer the org.
    Admin,
}

impl Role {
    /// All roles, least privileged first.
    pub const ALL: [Role; 4] = [Role::Read, Role::Contributor, Role::Write, Role::Admin];

    /// The wire name (`"read"`, `"contributor"`, `"write"`, `"admin"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Contributor => "contributor",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }

    /// The role with wire name `s` (exact, lower case).
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Our OAuth 2.0 client identifier at an org's IdP (RFC 6749 2.2): 1 to
/// [`MAX_CLIENT_ID_CHARS`] characters, no control characters. Not a secret. Serialised as the
/// plain string; deserialising checks the same rules.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ClientId(String);

impl ClientId {
    /// Validates a client id (no normalisation).
    pub fn parse(s: &str) -> Result<ClientId, FieldError> {
        bounded_text_str(s, "client_id", MAX_CLIENT_ID_CHARS).map(|s| ClientId(s.to_owned()))
    }

    /// The client id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for ClientId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ClientId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What a [`RoleRule`] looks for in a member.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RoleMatch {
    /// The ID-token claim `claim` is the string `value`, or an array containing it.
    Claim {
        /// ID-token claim name (`groups`, `roles`, ...).
        claim: String,
        /// The value to look for (exact, case-sensitive).
        value: String,
    },
    /// The member is in the SCIM group with this `displayName` (RFC 7643 4.2), compared
    /// exactly (case-sensitive) by [`crate::core::roles::member_roles`].
    ScimGroup(String),
}

/// "Members who match `matches` get `role`" (org-wide, or within `resource_group`'s paths
/// only). Evaluated by [`crate::core::roles::member_roles`]. Stored and shown as
/// `{"claim", "value", "role", "resource_group"?}` or `{"scim_group", "role",
/// "resource_group"?}`: a claim rule's JSON is what it was before SCIM group rules existed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(try_from = "RoleRuleJson", into = "RoleRuleJson")]
pub struct RoleRule {
    /// What the rule looks for.
    pub matches: RoleMatch,
    /// The role granted on a match.
    pub role: Role,
    /// When set, the role holds only within this resource group's paths.
    pub resource_group: Option<String>,
}

impl RoleRule {
    /// An org-wide rule granting `role` when claim `claim` holds `value`.
    pub fn for_claim(claim: impl Into<String>, value: impl Into<String>, role: Role) -> Self {
        RoleRule {
            matches: RoleMatch::Claim {
                claim: claim.into(),
                value: value.into(),
            },
            role,
            resource_group: None,
        }
    }

    /// An org-wide rule granting `role` to members of the SCIM group `display_name`.
    pub fn for_scim_group(display_name: impl Into<String>, role: Role) -> Self {
        RoleRule {
            matches: RoleMatch::ScimGroup(display_name.into()),
            role,
            resource_group: None,
        }
    }

    /// This rule, scoped to the resource group `group`.
    pub fn in_resource_group(mut self, group: impl Into<String>) -> Self {
        self.resource_group = Some(group.into());
        self
    }

    /// The ID-token claim the rule reads, if it is a claim rule.
    pub fn claim_name(&self) -> Option<&str> {
        match &self.matches {
            RoleMatch::Claim { claim, .. } => Some(claim),
            RoleMatch::ScimGroup(_) => None,
        }
    }
}

/// The stored form of a [`RoleRule`]. Field order is the serialized order, so a claim rule
/// writes exactly the bytes it wrote before `scim_group` existed.
#[derive(Serialize, Deserialize)]
struct RoleRuleJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scim_group: Option<String>,
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource_group: Option<String>,
}

impl From<RoleRule> for RoleRuleJson {
    fn from(r: RoleRule) -> Self {
        let (claim, value, scim_group) = match r.matches {
            RoleMatch::Claim { claim, value } => (Some(claim), Some(value), None),
            RoleMatch::ScimGroup(g) => (None, None, Some(g)),
        };
        RoleRuleJson {
            claim,
            value,
            scim_group,
            role: r.role,
            resource_group: r.resource_group,
        }
    }
}

impl TryFrom<RoleRuleJson> for RoleRule {
    type Error = &'static str;
    fn try_from(j: RoleRuleJson) -> Result<Self, Self::Error> {
        let matches = match (j.claim, j.value, j.scim_group) {
            (Some(claim), Some(value), None) => RoleMatch::Claim { claim, value },
            (None, None, Some(g)) => RoleMatch::ScimGroup(g),
            _ => return Err("a role rule has either claim and value, or scim_group"),
        };
        Ok(RoleRule {
            matches,
            role: j.role,
            resource_group: j.resource_group,
        })
    }
}

/// One org's stored configuration. Serializes fully, client secret included, for storage;
/// use [`OrgConfig::redacted_json`] for anything shown to a person. `Debug` redacts the secret.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(from = "OrgConfigWire", into = "OrgConfigWire")]
pub struct OrgConfig {
    /// The org.
    pub slug: OrgSlug,
    /// Email domains whose users sign in through this org's IdP (at least one, no duplicates).
    pub domains: Vec<EmailDomain>,
    /// The IdP's issuer identifier, exactly as the IdP writes it in `iss` (compare with
    /// [`IssuerUrl::matches`]).
    pub issuer: IssuerUrl,
    /// Our client id at the IdP.
    pub client_id: ClientId,
    /// Our client secret at the IdP.
    pub client_secret: Secret,
    /// Scopes requested; always contains `openid`.
    pub scopes: Vec<String>,
    /// Role rules; the most privileged match wins.
    pub role_mapping: Vec<RoleRule>,
    /// Role when no rule matches; `None` denies access.
    pub default_role: Option<Role>,
    /// Session lifetime in seconds (300..=86400).
    pub session_ttl_secs: u64,
    /// Whether members with these domains must sign in through SSO.
    pub enforced: bool,
    /// Gateway access rules, first match wins (absent in configs stored before them).
    #[serde(default)]
    pub access_rules: Vec<AccessRule>,
    /// Resource groups that `role_mapping` rules may grant a role within.
    #[serde(default)]
    pub resource_groups: Vec<ResourceGroup>,
    /// Who may sign in: anyone of the domains (`sso`, the default) or only active
    /// SCIM-provisioned users (`scim`).
    #[serde(default)]
    pub provisioning: Provisioning,
    /// Domains proven by DNS (see [`crate::core::domains`]): maintained by the registry's
    /// writes, never by the admin body (an admin `PUT` keeps the stored list). They route and
    /// admit like `domains`, which are verified by the operator's word.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verified_domains: Vec<EmailDomain>,
    /// The IdP profile (`idp` and its fields, stored flattened; absent in configs stored before
    /// profiles, which read as `generic`).
    pub profile: ProfileConfig,
}

/// [`OrgConfig`]'s stored form: the profile's fields at the top level. Spelled out instead of
/// `#[serde(flatten)]`, which buffers the whole object through serde's `Content` and compiles
/// every nested type a second time for it (tens of KB of Wasm).
#[derive(Serialize, Deserialize)]
struct OrgConfigWire {
    slug: OrgSlug,
    domains: Vec<EmailDomain>,
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: Secret,
    scopes: Vec<String>,
    role_mapping: Vec<RoleRule>,
    default_role: Option<Role>,
    session_ttl_secs: u64,
    enforced: bool,
    #[serde(default)]
    access_rules: Vec<AccessRule>,
    #[serde(default)]
    resource_groups: Vec<ResourceGroup>,
    #[serde(default)]
    provisioning: Provisioning,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    verified_domains: Vec<EmailDomain>,
    #[serde(default)]
    idp: crate::core::profile::IdpKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tenants: Vec<crate::core::profile::TenantId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email_claim: Option<crate::core::profile::EntraEmailClaim>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    hosted_domains: Vec<EmailDomain>,
    #[serde(
        default,
        skip_serializing_if = "crate::core::profile::EmailVerifiedClaim::is_required"
    )]
    email_verified_claim: crate::core::profile::EmailVerifiedClaim,
}

impl From<OrgConfigWire> for OrgConfig {
    fn from(w: OrgConfigWire) -> Self {
        OrgConfig {
            slug: w.slug,
            domains: w.domains,
            issuer: w.issuer,
            client_id: w.client_id,
            client_secret: w.client_secret,
            scopes: w.scopes,
            role_mapping: w.role_mapping,
            default_role: w.default_role,
            session_ttl_secs: w.session_ttl_secs,
            enforced: w.enforced,
            access_rules: w.access_rules,
            resource_groups: w.resource_groups,
            provisioning: w.provisioning,
            verified_domains: w.verified_domains,
            profile: ProfileConfig {
                idp: w.idp,
                tenants: w.tenants,
                email_claim: w.email_claim,
                hosted_domains: w.hosted_domains,
                email_verified_claim: w.email_verified_claim,
            },
        }
    }
}

impl From<OrgConfig> for OrgConfigWire {
    fn from(c: OrgConfig) -> Self {
        let p = c.profile;
        OrgConfigWire {
            slug: c.slug,
            domains: c.domains,
            issuer: c.issuer,
            client_id: c.client_id,
            client_secret: c.client_secret,
            scopes: c.scopes,
            role_mapping: c.role_mapping,
            default_role: c.default_role,
            session_ttl_secs: c.session_ttl_secs,
            enforced: c.enforced,
            access_rules: c.access_rules,
            resource_groups: c.resource_groups,
            provisioning: c.provisioning,
            verified_domains: c.verified_domains,
            idp: p.idp,
            tenants: p.tenants,
            email_claim: p.email_claim,
            hosted_domains: p.hosted_domains,
            email_verified_claim: p.email_verified_claim,
        }
    }
}

/// An admin body field that failed validation: `field` is a path such as `domains[1]`,
/// `role_mapping[0].role`, `issuer`, or `body` for the body as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the offending field.
    pub field: String,
    /// What is wrong with it, for the admin.
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// The members of a JSON object in document order, duplicates kept (so they can be refused:
/// `serde_json::Value` would silently keep the last one).
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Members, A::Error> {
                let mut v = Vec::new();
                while let Some(entry) = m.next_entry::<String, Value>()? {
                    v.push(entry);
                }
                Ok(Members(v))
            }
        }
        d.deserialize_map(V)
    }
}

const FIELDS: [&str; 17] = [
    "domains",
    "issuer",
    "client_id",
    "client_secret",
    "scopes",
    "role_mapping",
    "default_role",
    "session_ttl_secs",
    "enforced",
    "access_rules",
    "resource_groups",
    "provisioning",
    "idp",
    "tenants",
    "email_claim",
    "hosted_domains",
    "email_verified_claim",
];

/// The members of an admin body, each in the slot of its name in [`FIELDS`]. A fixed array
/// rather than a map: the names are known, and a map keyed by `&str` would be one more
/// B-tree instantiation in the Wasm for a lookup among 17 names.
struct Fields<'a>([Option<&'a Value>; FIELDS.len()]);

impl<'a> Fields<'a> {
    /// The member named `k`, if the body has it (never, for a name not in [`FIELDS`]).
    fn get(&self, k: &str) -> Option<&&'a Value> {
        self.0[FIELDS.iter().position(|f| *f == k)?].as_ref()
    }
}

/// A user-supplied key, shortened for echoing back in an error.
fn echo_key(key: &str) -> String {
    const MAX: usize = 64;
    if key.chars().count() <= MAX {
        key.to_owned()
    } else {
        let mut s: String = key.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn string<'a>(v: &'a Value, field: &str) -> Result<&'a str, FieldError> {
    v.as_str()
        .ok_or_else(|| FieldError::new(field, "must be a string"))
}

fn array<'a>(v: &'a Value, field: &str) -> Result<&'a Vec<Value>, FieldError> {
    v.as_array()
        .ok_or_else(|| FieldError::new(field, "must be an array"))
}

/// A string of `1..=max` characters without control characters.
fn bounded_text<'a>(v: &'a Value, field: &str, max: usize) -> Result<&'a str, FieldError> {
    bounded_text_str(string(v, field)?, field, max)
}

fn bounded_text_str<'a>(s: &'a str, field: &str, max: usize) -> Result<&'a str, FieldError> {
    if s.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if has_control(s) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(s)
}

fn parse_domains(v: &Value) -> Result<Vec<EmailDomain>, FieldError> {
    let items = array(v, "domains")?;
    if items.is_empty() {
        return Err(FieldError::new("domains", "must list at least one domain"));
    }
    if items.len() > MAX_DOMAINS {
        return Err(FieldError::new(
            "domains",
            format!("must list at most {MAX_DOMAINS} domains"),
        ));
    }
    let mut out: Vec<EmailDomain> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("domains[{i}]");
        let d = EmailDomain::parse(string(item, &field)?)
            .map_err(|e| FieldError::new(&field, e.to_string()))?;
        if crate::core::domains::public::is_public_mail_domain(&d) {
            return Err(FieldError::new(field, public_domain_message(&d)));
        }
        if let Some(j) = out.iter().position(|o| *o == d) {
            return Err(FieldError::new(
                field,
                format!("{d} is the same domain as domains[{j}]"),
            ));
        }
        out.push(d);
    }
    Ok(out)
}

/// Why a public mail domain is refused (the same words for the config and for claims).
pub fn public_domain_message(d: &EmailDomain) -> String {
    format!("{d} is a public mail domain (anyone can get an address there): it cannot be claimed by an organisation")
}

/// The issuer: an [`IssuerUrl`] that also passes the deployment's URL policy. A pasted
/// discovery URL is reduced to its issuer ([`profile::reduce_issuer_input`]); for Auth0, whose
/// issuers end with `/`, the slash the reduction removed is put back.
fn parse_issuer(v: &Value, policy: &IdpUrlPolicy, idp: IdpKind) -> Result<IssuerUrl, FieldError> {
    const F: &str = "issuer";
    let pasted = string(v, F)?;
    let reduced = profile::reduce_issuer_input(pasted);
    let with_slash;
    let s = if reduced.len() != pasted.len() && idp == IdpKind::Auth0 && !reduced.ends_with('/') {
        with_slash = format!("{reduced}/");
        with_slash.as_str()
    } else {
        reduced
    };
    IssuerUrl::parse_with_policy(s, policy).map_err(|e| FieldError::new(F, e.to_string()))
}

/// RFC 6749 3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_char(b: u8) -> bool {
    b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)
}

fn parse_scopes(v: &Value) -> Result<Vec<String>, FieldError> {
    let items = array(v, "scopes")?;
    if items.len() > MAX_SCOPES {
        return Err(FieldError::new(
            "scopes",
            format!("must list at most {MAX_SCOPES} scopes"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("scopes[{i}]");
        let s = string(item, &field)?;
        if s.is_empty() {
            return Err(FieldError::new(field, "must not be empty"));
        }
        if s.len() > MAX_SCOPE_CHARS {
            return Err(FieldError::new(
                field,
                format!("must be at most {MAX_SCOPE_CHARS} characters"),
            ));
        }
        if !s.bytes().all(is_scope_char) {
            return Err(FieldError::new(
                field,
                "may contain only printable ASCII other than space, '\"' and '\\' (RFC 6749 3.3)",
            ));
        }
        if out.iter().any(|o| o == s) {
            return Err(FieldError::new(field, "duplicate scope"));
        }
        out.push(s.to_owned());
    }
    // OIDC Core 3.1.2.1: "OpenID Connect requests MUST contain the openid scope value."
    if !out.iter().any(|s| s == "openid") {
        return Err(FieldError::new("scopes", "must contain \"openid\""));
    }
    Ok(out)
}

fn parse_role(v: &Value, field: &str) -> Result<Role, FieldError> {
    Role::parse(string(v, field)?)
        .ok_or_else(|| FieldError::new(field, "must be one of read, contributor, write, admin"))
}

fn parse_role_mapping(v: &Value, groups: &[ResourceGroup]) -> Result<Vec<RoleRule>, FieldError> {
    let items = array(v, "role_mapping")?;
    if items.len() > MAX_ROLE_RULES {
        return Err(FieldError::new(
            "role_mapping",
            format!("must have at most {MAX_ROLE_RULES} rules"),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let base = format!("role_mapping[{i}]");
        let obj = item.as_object().ok_or_else(|| {
            FieldError::new(
                &base,
                "must be an object with claim and value (or scim_group), and role",
            )
        })?;
        if let Some(k) = obj.keys().find(|k| {
            !matches!(
                k.as_str(),
                "claim" | "value" | "scim_group" | "role" | "resource_group"
            )
        }) {
            return Err(FieldError::new(
                format!("{base}.{}", echo_key(k)),
                "unknown field",
            ));
        }
        let get = |k: &str| {
            obj.get(k)
                .ok_or_else(|| FieldError::new(format!("{base}.{k}"), "is required"))
        };
        let matches = match obj.get("scim_group") {
            // Exactly one way to match: a SCIM group rule has no claim and no value.
            Some(group) => {
                let field = format!("{base}.scim_group");
                if obj.contains_key("claim") || obj.contains_key("value") {
                    return Err(FieldError::new(
                        field,
                        "must not be combined with claim and value",
                    ));
                }
                RoleMatch::ScimGroup(bounded_text(group, &field, MAX_SCIM_GROUP_CHARS)?.to_owned())
            }
            None => {
                let claim_field = format!("{base}.claim");
                let claim = bounded_text(get("claim")?, &claim_field, MAX_CLAIM_CHARS)?;
                if claim.chars().any(char::is_whitespace) {
                    return Err(FieldError::new(claim_field, "must not contain whitespace"));
                }
                let value = bounded_text(
                    get("value")?,
                    &format!("{base}.value"),
                    MAX_CLAIM_VALUE_CHARS,
                )?;
                RoleMatch::Claim {
                    claim: claim.to_owned(),
                    value: value.to_owned(),
                }
            }
        };
        let role = parse_role(get("role")?, &format!("{base}.role"))?;
        let resource_group =
            gateway_config::parse_rule_resource_group(obj.get("resource_group"), &base, groups)?;
        out.push(RoleRule {
            matches,
            role,
            resource_group,
        });
    }
    Ok(out)
}

impl OrgConfig {
    /// Validates an admin API body (a JSON object, at most 16 KiB) into the config of org
    /// `slug`. Pure: no storage is touched.
    ///
    /// Fields:
    /// * `domains` (required): 1 to 50 email domains, normalised by [`EmailDomain::parse`];
    ///   two entries naming the same domain are refused.
    /// * `issuer` (required): see the issuer rules below.
    /// * `client_id` (required): 1 to 256 characters, no control characters.
    /// * `client_secret`: 1 to 1024 characters, no control characters. Required on create
    ///   (`existing` is `None`); on update it may be omitted to keep the stored secret.
    /// * `scopes` (default `["openid","email","profile"]`): up to 20 distinct RFC 6749 3.3
    ///   scope tokens of at most 64 characters, including `openid`.
    /// * `role_mapping` (default `[]`): up to 50 rules, each `{claim, value, role,
    ///   resource_group?}` or `{scim_group, role, resource_group?}` (exactly one of the two
    ///   shapes; `scim_group` a SCIM group `displayName` of 1 to 256 characters);
    ///   `resource_group` must name one of `resource_groups`.
    /// * `access_rules` (default `[]`): see [`gateway_config::parse_access_rules`].
    /// * `resource_groups` (default `[]`): see [`gateway_config::parse_resource_groups`].
    /// * `default_role` (optional, default `null`): the role when no rule matches; `null` or
    ///   omitted means such users are denied. Defaulting to deny keeps a forgotten field from
    ///   granting access.
    /// * `session_ttl_secs` (default 28800): 300 to 86400.
    /// * `enforced` (default `true`).
    /// * `provisioning` (default `"sso"`): `"sso"` or `"scim"`.
    /// * `idp` (default `"generic"`): the IdP profile, one of `generic`, `okta`, `entra`,
    ///   `google`, `onelogin`, `keycloak`, `auth0` (see [`crate::core::profile`]), with its
    ///   fields: `tenants` (Entra: allowed tenant ids, required for the `organizations` and
    ///   `common` authorities), `email_claim` (Entra: `email`, `upn` or `preferred_username`),
    ///   `hosted_domains` (Google: allowed `hd` values, default the email domains) and
    ///   `email_verified_claim` (generic: `"required"`, the default, or `"optional"`). A field
    ///   of another profile is refused.
    ///
    /// The body replaces the whole config: an omitted optional field takes its default, not
    /// the stored value (the client secret is the only exception). Unknown or duplicated
    /// fields are refused, as is `null` anywhere but `default_role`.
    ///
    /// A pasted discovery URL (`{issuer}/.well-known/openid-configuration`) is reduced to the
    /// issuer. The issuer must be an absolute URL without query or fragment, at most 512 characters,
    /// admitted by `policy`, and written in canonical form (the only leniency: a host-only
    /// issuer may omit the root `/`). It is stored exactly as written, because ID-token `iss`
    /// is compared with it as an exact string (OIDC Core 3.1.3.7 step 2).
    pub fn from_admin_json(
        slug: OrgSlug,
        body: &[u8],
        policy: &IdpUrlPolicy,
        existing: Option<&OrgConfig>,
    ) -> Result<OrgConfig, FieldError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(FieldError::new(
                "body",
                format!("must be at most {MAX_BODY_BYTES} bytes"),
            ));
        }
        let Members(members) = serde_json::from_slice(body)
            .map_err(|_| FieldError::new("body", "must be a JSON object"))?;
        let mut fields = Fields([None; FIELDS.len()]);
        for (k, v) in &members {
            let Some(i) = FIELDS.iter().position(|f| *f == k) else {
                return Err(FieldError::new(echo_key(k), "unknown field"));
            };
            if fields.0[i].replace(v).is_some() {
                return Err(FieldError::new(k.as_str(), "appears more than once"));
            }
        }
        let required = |k: &str| {
            fields
                .get(k)
                .copied()
                .ok_or_else(|| FieldError::new(k, "is required"))
        };

        let domains = parse_domains(required("domains")?)?;
        let profile = profile::parse_fields(|k| fields.get(k).copied())?;
        let issuer = parse_issuer(required("issuer")?, policy, profile.idp)?;
        let client_id = ClientId(
            bounded_text(required("client_id")?, "client_id", MAX_CLIENT_ID_CHARS)?.to_owned(),
        );
        let client_secret = match (fields.get("client_secret"), existing) {
            (Some(v), _) => Secret::new(bounded_text(v, "client_secret", MAX_CLIENT_SECRET_CHARS)?),
            (None, Some(old)) => old.client_secret.clone(),
            (None, None) => return Err(FieldError::new("client_secret", "is required")),
        };
        let scopes = match fields.get("scopes") {
            Some(v) => parse_scopes(v)?,
            None => DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
        };
        let resource_groups = match fields.get("resource_groups") {
            Some(v) => gateway_config::parse_resource_groups(v)?,
            None => Vec::new(),
        };
        let role_mapping = match fields.get("role_mapping") {
            Some(v) => parse_role_mapping(v, &resource_groups)?,
            None => Vec::new(),
        };
        let default_role = match fields.get("default_role") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_role(v, "default_role")?),
        };
        let session_ttl_secs = match fields.get("session_ttl_secs") {
            None => DEFAULT_SESSION_TTL_SECS,
            Some(v) => {
                let range = MIN_SESSION_TTL_SECS..=MAX_SESSION_TTL_SECS;
                match v.as_u64() {
                    Some(n) if range.contains(&n) => n,
                    _ => {
                        return Err(FieldError::new(
                            "session_ttl_secs",
                            format!(
                                "must be a whole number of seconds from {MIN_SESSION_TTL_SECS} to {MAX_SESSION_TTL_SECS}"
                            ),
                        ))
                    }
                }
            }
        };
        let enforced = match fields.get("enforced") {
            None => true,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| FieldError::new("enforced", "must be true or false"))?,
        };
        let access_rules = match fields.get("access_rules") {
            Some(v) => gateway_config::parse_access_rules(v)?,
            None => Vec::new(),
        };
        let provisioning = match fields.get("provisioning").map(|v| v.as_str()) {
            None => Provisioning::Sso,
            Some(Some("sso")) => Provisioning::Sso,
            Some(Some("scim")) => Provisioning::Scim,
            Some(_) => {
                return Err(FieldError::new(
                    "provisioning",
                    "must be \"sso\" (anyone of the org's domains becomes a member at sign-in) or \"scim\" (only SCIM-provisioned users)",
                ))
            }
        };
        let mut cfg = OrgConfig {
            slug,
            domains,
            issuer,
            client_id,
            client_secret,
            scopes,
            role_mapping,
            default_role,
            session_ttl_secs,
            enforced,
            access_rules,
            resource_groups,
            provisioning,
            // Registry-maintained: an admin body never sets them, a replaced config keeps them.
            verified_domains: existing
                .map(|o| o.verified_domains.clone())
                .unwrap_or_default(),
            profile,
        };
        // The profile's cross-field rules (issuer forms, which fields go with which IdP).
        profile::validate(&mut cfg)?;
        Ok(cfg)
    }

    /// The config for display: every field but `client_secret`, plus `"client_secret_set":
    /// true`.
    pub fn redacted_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.remove("client_secret");
            m.insert("client_secret_set".into(), Value::Bool(true));
        }
        v
    }

    /// Whether `domain` is this org's: listed by the operator (`domains`) or proven by DNS
    /// (`verified_domains`). Routing and admission both ask this.
    pub fn lists_domain(&self, domain: &EmailDomain) -> bool {
        self.domains.contains(domain) || self.verified_domains.contains(domain)
    }

    /// Every domain of the org: the operator's, then the DNS-verified ones not among them.
    pub fn all_domains(&self) -> impl Iterator<Item = &EmailDomain> {
        self.domains.iter().chain(
            self.verified_domains
                .iter()
                .filter(|d| !self.domains.contains(d)),
        )
    }
}

#[cfg(test)]
#[path = "org_tests.rs"]
mod tests;
