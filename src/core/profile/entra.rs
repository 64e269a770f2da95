//! Microsoft Entra ID (v2.0 endpoints).
//!
//! References: "Microsoft identity platform ID tokens"
//! (<https://learn.microsoft.com/entra/identity-platform/id-tokens>), "ID token claims
//! reference" (<https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference>),
//! "Optional claims" (<https://learn.microsoft.com/entra/identity-platform/optional-claims-reference>),
//! "Migrate away from using email claims for user identification or authorization"
//! (<https://learn.microsoft.com/entra/identity-platform/migrate-off-email-claim-authorization>),
//! "National clouds" (<https://learn.microsoft.com/entra/identity-platform/authentication-national-cloud>).
//!
//! * **Issuer.** A single-tenant authority `https://login.microsoftonline.com/{tenant-id}/v2.0`
//!   is matched exactly. The multi-tenant authorities (`organizations`, `common`) publish the
//!   literal issuer `https://login.microsoftonline.com/{tenantid}/v2.0`: the token's `tid` (a
//!   GUID) is substituted and `iss` compared exactly with the result, so `iss` and `tid` must
//!   name the same tenant, and that tenant must be in the org's `tenants` allow-list (required
//!   for these authorities: without it any Entra tenant in the world could sign in). The
//!   personal-account tenant ([`CONSUMER_TENANT`]) is always refused. v1 issuers
//!   (`https://sts.windows.net/...`) are refused at admin PUT.
//! * **Identity.** Microsoft: "the combination of tid and oid ... uniquely identifies a user";
//!   `sub` is pairwise per application and `oid` is the user's object id in the tenant. The
//!   member key is `"{tid}:{oid}"` (chosen over `sub` so that the same person has the same key
//!   whichever app registration an org moves to; it changes the member key for Entra orgs only).
//! * **Email.** Entra sends no `email_verified`, and `email` is the mutable, unverified `mail`
//!   attribute (the nOAuth class of account takeover). It is trusted only when the token says
//!   `xms_edov: true` ("email domain owner verified", an optional claim), or taken from the claim
//!   the org chose (`email_claim`: `email`, `upn` or `preferred_username`): the org pins its
//!   tenants, so it trusts those tenants' admins to assign addresses. A denial names the optional
//!   claims to add.
//! * **Groups overage.** An ID token carries at most 200 groups; beyond that it carries
//!   `_claim_names: {"groups": "src1"}` (or `hasgroups: true`) instead. When role mapping reads
//!   `groups`, the groups are fetched from Microsoft Graph in the authority's cloud
//!   (`/v1.0/me/transitiveMemberOf`, the transitive membership the claim would hold) with the
//!   access token, never from the `_claim_sources` URL in the token (an attacker-influenced URL
//!   would receive the access token). Graph returns object ids with `User.Read` alone; the
//!   guide recommends the delegated `GroupMember.Read.All` (Microsoft's overage sample) so that
//!   every group type is listed.

use super::{EnrichError, Identity};
use crate::core::http::{HttpClient, HttpRequest};
use crate::core::member::Denial;
use crate::core::oidc::idtoken::VerifiedIdToken;
use crate::core::org::{FieldError, OrgConfig};
use crate::core::secret::Secret;
use serde_json::{Map, Value};
use url::Url;

/// The tenant of personal Microsoft accounts (MSA): never an organisation.
pub const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// The placeholder Entra's multi-tenant discovery documents put in `issuer`.
pub use crate::core::oidc::idtoken::TENANT_PLACEHOLDER;
/// Largest Microsoft Graph response page read, in bytes.
pub const MAX_GRAPH_BODY: usize = 256 * 1024;
/// Most Graph pages read (999 objects each).
pub const MAX_GRAPH_PAGES: usize = 10;

/// Entra login hosts per cloud, and the Microsoft Graph host of that cloud.
const CLOUDS: [(&str, &str); 3] = [
    ("login.microsoftonline.com", "graph.microsoft.com"),
    ("login.microsoftonline.us", "graph.microsoft.us"),
    (
        "login.partner.microsoftonline.cn",
        "microsoftgraph.chinacloudapi.cn",
    ),
];

/// The authorities that publish the `{tenantid}` issuer template.
const MULTI_TENANT: [&str; 2] = ["organizations", "common"];

/// `(login origin, tenant segment)` of a v2.0 Entra authority `https://{host}/{tenant}/v2.0`
/// (the origin without a port, as Entra's issuers are written), or of a development loopback
/// authority `http://127.0.0.1:{port}/{tenant}/v2.0` ([`super::dev_loopback_origin`]).
fn authority(issuer: &str) -> Option<(String, String)> {
    let url = Url::parse(issuer).ok()?;
    let origin = match (url.scheme(), url.host_str()?) {
        ("https", host) if CLOUDS.iter().any(|(l, _)| *l == host) => format!("https://{host}"),
        _ => super::dev_loopback_origin(&url)?,
    };
    let mut segs = url.path_segments()?;
    let tenant = segs.next()?.to_owned();
    (segs.next() == Some("v2.0") && segs.next().is_none() && !tenant.is_empty())
        .then_some((origin, tenant))
}

/// Whether `issuer` is a multi-tenant Entra authority (`organizations` or `common`).
pub fn is_multi_tenant(issuer: &str) -> bool {
    authority(issuer).is_some_and(|(_, t)| MULTI_TENANT.contains(&t.as_str()))
}

/// The issuer template the discovery document of a multi-tenant authority publishes
/// (`https://login.microsoftonline.com/{tenantid}/v2.0` for
/// `https://login.microsoftonline.com/organizations/v2.0`), or `None` for any other issuer.
pub fn tenant_issuer_template(configured: &str) -> Option<String> {
    let (origin, tenant) = authority(configured)?;
    MULTI_TENANT
        .contains(&tenant.as_str())
        .then(|| format!("{origin}/{TENANT_PLACEHOLDER}/v2.0"))
}

/// The Microsoft Graph host of the cloud of the Entra authority `issuer`.
pub fn graph_host(issuer: &str) -> Option<&'static str> {
    let (login, _) = authority(issuer)?;
    let login = login.strip_prefix("https://")?;
    CLOUDS.iter().find(|(l, _)| *l == login).map(|(_, g)| *g)
}

/// The origin Microsoft Graph is asked at for the authority `issuer`: `https://` and its
/// cloud's [`graph_host`], or, for a development loopback authority, that authority's own
/// origin (where the tests' Graph stand-in answers).
fn graph_origin(issuer: &str) -> Option<String> {
    match graph_host(issuer) {
        Some(host) => Some(format!("https://{host}")),
        None => authority(issuer)
            .and_then(|(origin, _)| origin.starts_with("http://").then_some(origin)),
    }
}

/// Issuers no profile can use: Entra v1 (`https://sts.windows.net/{tid}/`, or a
/// `login.microsoftonline.com` authority without `/v2.0`, whose tokens are v1), and the
/// multi-tenant authorities outside the `entra` profile (only it substitutes `{tenantid}`).
pub(crate) fn refuse_unsupported_issuer(org: &OrgConfig) -> Result<(), FieldError> {
    let issuer = org.issuer.as_str();
    let Ok(url) = Url::parse(issuer) else {
        return Ok(());
    };
    let host = url.host_str().unwrap_or_default();
    let tenant = url
        .path_segments()
        .and_then(|mut s| s.next())
        .filter(|t| !t.is_empty())
        .unwrap_or("{tenant-id}")
        .to_owned();
    if host == "sts.windows.net" {
        return Err(FieldError::new(
            "issuer",
            format!("is an Entra ID v1 issuer; edge-sso uses the v2.0 endpoints: use https://login.microsoftonline.com/{tenant}/v2.0 (and \"idp\": \"entra\")"),
        ));
    }
    if CLOUDS.iter().any(|(l, _)| *l == host) && authority(issuer).is_none() {
        return Err(FieldError::new(
            "issuer",
            format!("is not an Entra ID v2.0 authority: use https://{host}/{tenant}/v2.0"),
        ));
    }
    if is_multi_tenant(issuer) && org.profile.idp != super::IdpKind::Entra {
        return Err(FieldError::new(
            "issuer",
            "is a multi-tenant Entra ID authority: set \"idp\": \"entra\" and list the allowed tenant ids in \"tenants\"",
        ));
    }
    Ok(())
}

/// The Entra rules at admin PUT.
pub(crate) fn validate(org: &mut OrgConfig, warnings: &mut Vec<String>) -> Result<(), FieldError> {
    let Some((_, tenant)) = authority(org.issuer.as_str()) else {
        return Err(FieldError::new(
            "issuer",
            "an Entra ID issuer is https://login.microsoftonline.com/{tenant-id}/v2.0 (or .us / login.partner.microsoftonline.cn for the national clouds)",
        ));
    };
    if tenant == "consumers" || tenant == CONSUMER_TENANT {
        return Err(FieldError::new(
            "issuer",
            "is the personal Microsoft account authority: organisation sign-in needs your tenant's authority",
        ));
    }
    if MULTI_TENANT.contains(&tenant.as_str()) {
        if org.profile.tenants.is_empty() {
            return Err(FieldError::new(
                "tenants",
                format!("is required with the \"{tenant}\" authority: list the tenant ids allowed to sign in (or use the single-tenant issuer https://login.microsoftonline.com/{{tenant-id}}/v2.0)"),
            ));
        }
    } else {
        if super::TenantId::parse(&tenant).map(|t| t.0) != Some(tenant.clone()) {
            return Err(FieldError::new(
                "issuer",
                format!("must name the tenant by its id in lower case, as tokens do: https://login.microsoftonline.com/{{tenant-id}}/v2.0, not {tenant:?}"),
            ));
        }
        if !org.profile.tenants.is_empty() {
            return Err(FieldError::new(
                "tenants",
                "applies only to the organizations and common authorities: a single-tenant issuer already pins its tenant",
            ));
        }
    }
    if super::reads_claim(org, "groups")
        && !org
            .scopes
            .iter()
            .any(|s| s.ends_with("GroupMember.Read.All"))
    {
        warnings.push("role mapping reads groups: a member in more than 200 groups gets a groups overage instead, resolved through Microsoft Graph; add the scope GroupMember.Read.All (delegated, admin consent) so Graph lists every group".into());
    }
    if org.profile.email_claim.is_none() {
        warnings.push("no email_claim: members are admitted only when the ID token has email and xms_edov true (add both optional claims under Token configuration), or set email_claim".into());
    }
    Ok(())
}

/// A claim that must be a GUID.
fn guid_claim<'a>(claims: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, Denial> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| super::is_guid(s))
        .ok_or(Denial::ClaimMissing(name))
}

/// The Entra rules on a verified token (see the module documentation).
pub fn identify(token: &VerifiedIdToken, org: &OrgConfig) -> Result<Identity, Denial> {
    let claims = token.claims();
    let tid = guid_claim(claims, "tid")?.to_ascii_lowercase();
    if tid == CONSUMER_TENANT {
        return Err(Denial::ConsumerAccount);
    }
    let allowed = match authority(org.issuer.as_str()) {
        Some((_, t)) if MULTI_TENANT.contains(&t.as_str()) => {
            org.profile.tenants.iter().any(|a| a.as_str() == tid)
        }
        Some((_, t)) => t == tid,
        None => false,
    };
    if !allowed {
        return Err(Denial::TenantNotAllowed(tid));
    }
    let oid = guid_claim(claims, "oid")?.to_ascii_lowercase();
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let email = match org.profile.email_claim {
        Some(c) => text(c.as_str()).ok_or(Denial::EntraEmailUntrusted(Some(c.as_str())))?,
        None => {
            let edov = matches!(claims.get("xms_edov"), Some(Value::Bool(true)))
                || matches!(claims.get("xms_edov"), Some(Value::String(s)) if s == "true" || s == "1");
            match text("email") {
                Some(e) if edov => e,
                _ => return Err(Denial::EntraEmailUntrusted(None)),
            }
        }
    };
    Ok(Identity::new(format!("{tid}:{oid}"), email))
}

/// Whether the token announces a groups overage instead of listing the groups: OIDC Core
/// 5.6.2 distributed claims (`_claim_names.groups`) or the implicit-flow `hasgroups`.
pub fn has_groups_overage(claims: &Map<String, Value>) -> bool {
    if claims.contains_key("groups") {
        return false;
    }
    let named = claims
        .get("_claim_names")
        .and_then(Value::as_object)
        .is_some_and(|n| n.contains_key("groups"));
    named || claims.get("hasgroups") == Some(&Value::Bool(true))
}

/// The first Graph request: the member's transitive group memberships, ids only.
pub fn graph_groups_url(graph_host: &str) -> Url {
    groups_url_at(&format!("https://{graph_host}"))
}

/// [`graph_groups_url`] at a Graph origin (see [`graph_origin`]).
fn groups_url_at(origin: &str) -> Url {
    // The origin is `https://` and one of [`CLOUDS`], or a parsed loopback origin: the URL
    // always parses.
    Url::parse(&format!(
        "{origin}/v1.0/me/transitiveMemberOf?$select=id&$top=999"
    ))
    .unwrap_or_else(|_| unreachable_url())
}

fn unreachable_url() -> Url {
    Url::parse("https://invalid.invalid/").expect("static URL")
}

/// The member's groups from Microsoft Graph, reduced to the ids role mapping names (so the
/// kept role claims stay small). Pages are followed through `@odata.nextLink` only while it
/// stays on the same Graph host and path; at most [`MAX_GRAPH_PAGES`].
pub async fn fetch_groups<H: HttpClient>(
    http: &H,
    org: &OrgConfig,
    access_token: &Secret,
) -> Result<Vec<Value>, EnrichError> {
    let origin = graph_origin(org.issuer.as_str()).ok_or(EnrichError::GraphInvalid(
        "no Microsoft Graph for this authority",
    ))?;
    let wanted: Vec<&str> = org
        .role_mapping
        .iter()
        .filter_map(|r| match &r.matches {
            crate::core::org::RoleMatch::Claim { claim, value } if claim == "groups" => {
                Some(value.as_str())
            }
            _ => None,
        })
        .collect();
    let first = groups_url_at(&origin);
    let mut next = Some(first.clone());
    let mut found: Vec<Value> = Vec::new();
    for _ in 0..MAX_GRAPH_PAGES {
        let Some(url) = next.take() else { break };
        let mut req = HttpRequest::get(url);
        req.headers
            .push("authorization", format!("Bearer {}", access_token.expose()));
        req.headers.push("accept", "application/json");
        let resp = http
            .send(req, MAX_GRAPH_BODY)
            .await
            .map_err(EnrichError::GraphUnreachable)?;
        match resp.status {
            200 => {}
            401 | 403 => return Err(EnrichError::GraphRefused(resp.status)),
            _ => return Err(EnrichError::GraphInvalid("unexpected HTTP status")),
        }
        let page: Map<String, Value> = serde_json::from_slice(&resp.body)
            .map_err(|_| EnrichError::GraphInvalid("the answer is not a JSON object"))?;
        let items = page
            .get("value")
            .and_then(Value::as_array)
            .ok_or(EnrichError::GraphInvalid("the answer has no value array"))?;
        for id in items
            .iter()
            .filter_map(|o| o.get("id").and_then(Value::as_str))
        {
            if wanted.contains(&id) && !found.iter().any(|f| f.as_str() == Some(id)) {
                found.push(Value::String(id.to_owned()));
            }
        }
        next = match page.get("@odata.nextLink") {
            None | Some(Value::Null) => None,
            Some(Value::String(link)) => {
                let url = Url::parse(link)
                    .map_err(|_| EnrichError::GraphInvalid("nextLink is not a URL"))?;
                // Same scheme, host and port (https on 443 for every cloud) and path.
                let same = url.origin() == first.origin() && url.path() == first.path();
                if !same {
                    return Err(EnrichError::GraphInvalid("nextLink leaves Microsoft Graph"));
                }
                Some(url)
            }
            Some(_) => return Err(EnrichError::GraphInvalid("nextLink is not a string")),
        };
    }
    if next.is_some() {
        return Err(EnrichError::GraphInvalid("too many group pages"));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::testkit::*;
    use serde_json::json;

    pub const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    pub const OTHER_TID: &str = "11111111-2222-3333-4444-555555555555";
    pub const OID: &str = "00000000-0000-0000-66f3-3332eca7ea81";

    fn single() -> OrgConfig {
        org(json!({
            "idp": "entra",
            "issuer": format!("https://login.microsoftonline.com/{TID}/v2.0"),
        }))
        .unwrap()
    }

    fn multi(tenants: &[&str]) -> OrgConfig {
        org(json!({
            "idp": "entra",
            "issuer": "https://login.microsoftonline.com/organizations/v2.0",
            "tenants": tenants,
        }))
        .unwrap()
    }

    /// An Entra v2.0 ID token as the claims reference shows it, for tenant `tid`.
    fn entra_claims(tid: &str, extra: Value) -> Value {
        let mut c = json!({
            "ver": "2.0",
            "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
            "tid": tid,
            "oid": OID,
            "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
            "name": "Ada Lovelace",
            "preferred_username": "ada@acme.com",
            "email": "ada@acme.com",
            "xms_edov": true,
        });
        merge(&mut c, extra);
        c
    }

    fn token_for(
        org: &OrgConfig,
        claims: Value,
    ) -> Result<VerifiedIdToken, crate::core::oidc::idtoken::IdTokenError> {
        let meta = meta_for(org.issuer.as_str());
        verify_with(
            &crate::core::profile::id_token_verifier(org, &meta),
            &claims,
        )
    }

    #[test]
    fn single_tenant_exact_issuer_and_identity() {
        let o = single();
        let t = token_for(&o, entra_claims(TID, json!({}))).unwrap();
        let id = identify(&t, &o).unwrap();
        assert_eq!(id.sub(), format!("{TID}:{OID}"));
        assert_eq!(id.email(), "ada@acme.com");
        // Another tenant's token is refused by the exact issuer check.
        assert!(token_for(&o, entra_claims(OTHER_TID, json!({}))).is_err());
    }

    #[test]
    fn multi_tenant_substitutes_tid_and_checks_allow_list() {
        let o = multi(&[TID]);
        let t = token_for(&o, entra_claims(TID, json!({}))).unwrap();
        assert_eq!(
            t.issuer(),
            format!("https://login.microsoftonline.com/{TID}/v2.0")
        );
        assert!(identify(&t, &o).is_ok());
        // A valid token of a tenant not in the allow-list.
        let t = token_for(&o, entra_claims(OTHER_TID, json!({}))).unwrap();
        assert_eq!(
            identify(&t, &o),
            Err(Denial::TenantNotAllowed(OTHER_TID.into()))
        );
    }

    #[test]
    fn tid_and_iss_must_agree() {
        let o = multi(&[TID, OTHER_TID]);
        let c = entra_claims(TID, json!({"tid": OTHER_TID}));
        assert!(token_for(&o, c).is_err());
        // The literal template is never an acceptable iss.
        let c = entra_claims(
            TID,
            json!({"iss": "https://login.microsoftonline.com/{tenantid}/v2.0"}),
        );
        assert!(token_for(&o, c).is_err());
        // tid missing or not a GUID: no issuer to compare with.
        for tid in [json!(null), json!("organizations"), json!(7)] {
            let c = entra_claims(TID, json!({"tid": tid}));
            assert!(token_for(&o, c).is_err(), "{tid}");
        }
    }

    #[test]
    fn consumer_tenant_refused() {
        let o = multi(&[TID]);
        let t = token_for(&o, entra_claims(CONSUMER_TENANT, json!({}))).unwrap();
        assert_eq!(identify(&t, &o), Err(Denial::ConsumerAccount));
        let e = org(json!({
            "idp": "entra",
            "issuer": "https://login.microsoftonline.com/organizations/v2.0",
            "tenants": [CONSUMER_TENANT],
        }))
        .unwrap_err();
        assert_eq!(e.field, "tenants[0]");
        for issuer in [
            "https://login.microsoftonline.com/consumers/v2.0".to_owned(),
            format!("https://login.microsoftonline.com/{CONSUMER_TENANT}/v2.0"),
        ] {
            let e = org(json!({"idp": "entra", "issuer": issuer})).unwrap_err();
            assert_eq!(e.field, "issuer");
        }
    }

    #[test]
    fn email_needs_xms_edov_or_email_claim() {
        let o = single();
        for extra in [
            json!({"xms_edov": false}),
            json!({"xms_edov": null}),
            json!({"xms_edov": "yes"}),
        ] {
            let t = token_for(&o, entra_claims(TID, extra.clone())).unwrap();
            assert_eq!(
                identify(&t, &o),
                Err(Denial::EntraEmailUntrusted(None)),
                "{extra}"
            );
        }
        let mut c = entra_claims(TID, json!({}));
        c.as_object_mut().unwrap().remove("xms_edov");
        let t = token_for(&o, c.clone()).unwrap();
        let d = identify(&t, &o).unwrap_err();
        assert!(d.to_string().contains("xms_edov"), "{d}");
        // The org chose upn: taken from there, missing is named.
        let mut o2 = org(json!({
            "idp": "entra",
            "issuer": format!("https://login.microsoftonline.com/{TID}/v2.0"),
            "email_claim": "upn",
        }))
        .unwrap();
        assert_eq!(
            identify(&t, &o2),
            Err(Denial::EntraEmailUntrusted(Some("upn")))
        );
        c["upn"] = json!("ada@acme.com");
        let t = token_for(&o2, c).unwrap();
        assert_eq!(identify(&t, &o2).unwrap().email(), "ada@acme.com");
        o2.profile.email_claim = Some(crate::core::profile::EntraEmailClaim::PreferredUsername);
        assert_eq!(identify(&t, &o2).unwrap().email(), "ada@acme.com");
    }

    #[test]
    fn oid_required() {
        let o = single();
        let t = token_for(&o, entra_claims(TID, json!({"oid": null}))).unwrap();
        assert_eq!(identify(&t, &o), Err(Denial::ClaimMissing("oid")));
    }

    #[test]
    fn admin_put_rules() {
        let f = |v: Value| org(v).unwrap_err().field;
        assert_eq!(
            f(
                json!({"idp": "entra", "issuer": "https://login.microsoftonline.com/organizations/v2.0"})
            ),
            "tenants"
        );
        assert_eq!(
            f(
                json!({"idp": "entra", "issuer": "https://login.microsoftonline.com/common/v2.0", "tenants": ["x"]})
            ),
            "tenants[0]"
        );
        assert_eq!(
            f(
                json!({"idp": "entra", "issuer": format!("https://login.microsoftonline.com/{TID}/v2.0"), "tenants": [TID]})
            ),
            "tenants"
        );
        assert_eq!(
            f(
                json!({"idp": "entra", "issuer": "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"})
            ),
            "issuer"
        );
        assert_eq!(
            f(json!({"idp": "entra", "issuer": "https://acme.okta.com"})),
            "issuer"
        );
        assert_eq!(
            f(
                json!({"idp": "entra", "issuer": format!("https://login.microsoftonline.com/{TID}/v2.0"), "email_claim": "mail"})
            ),
            "email_claim"
        );
        // v1 issuers, whatever the profile, with the v2.0 value in the hint.
        for idp in ["generic", "entra"] {
            let e = org(json!({"idp": idp, "issuer": format!("https://sts.windows.net/{TID}/")}))
                .unwrap_err();
            assert_eq!(e.field, "issuer");
            assert!(
                e.message
                    .contains(&format!("https://login.microsoftonline.com/{TID}/v2.0")),
                "{}",
                e.message
            );
            let e = org(
                json!({"idp": idp, "issuer": format!("https://login.microsoftonline.com/{TID}")}),
            )
            .unwrap_err();
            assert_eq!(e.field, "issuer");
        }
        // Multi-tenant authorities only with the entra profile.
        assert_eq!(
            f(json!({"issuer": "https://login.microsoftonline.com/organizations/v2.0"})),
            "issuer"
        );
        // Entra fields with another profile.
        assert_eq!(f(json!({"tenants": [TID]})), "tenants");
        assert_eq!(f(json!({"email_claim": "upn"})), "email_claim");
        // National clouds.
        let o = org(json!({"idp": "entra", "issuer": format!("https://login.microsoftonline.us/{TID}/v2.0")})).unwrap();
        assert_eq!(graph_host(o.issuer.as_str()), Some("graph.microsoft.us"));
        assert_eq!(
            graph_host(single().issuer.as_str()),
            Some("graph.microsoft.com")
        );
    }

    #[test]
    fn templates() {
        assert_eq!(
            tenant_issuer_template("https://login.microsoftonline.com/organizations/v2.0")
                .as_deref(),
            Some("https://login.microsoftonline.com/{tenantid}/v2.0")
        );
        assert_eq!(
            tenant_issuer_template("https://login.microsoftonline.com/common/v2.0").as_deref(),
            Some("https://login.microsoftonline.com/{tenantid}/v2.0")
        );
        assert_eq!(
            tenant_issuer_template(&format!("https://login.microsoftonline.com/{TID}/v2.0")),
            None
        );
        assert_eq!(
            tenant_issuer_template("https://evil.example/organizations/v2.0"),
            None
        );
        assert_eq!(
            tenant_issuer_template("http://login.microsoftonline.com/organizations/v2.0"),
            None
        );
    }

    /// The development seam: an Entra-shaped loopback authority (the e2e tests' OP) only
    /// under `ALLOW_INSECURE_LOOPBACK_IDP=true` and only on loopback; Graph at its origin.
    #[test]
    fn loopback_authority_only_in_development() {
        let dev = "http://127.0.0.1:9100/organizations/v2.0";
        let body = |issuer: &str| json!({"idp": "entra", "issuer": issuer, "tenants": [TID]});
        // Without the dev flag the issuer itself is refused.
        assert_eq!(org(body(dev)).unwrap_err().field, "issuer");
        let o = org_with(body(dev), true).unwrap();
        assert!(is_multi_tenant(o.issuer.as_str()));
        assert_eq!(
            tenant_issuer_template(dev).as_deref(),
            Some("http://127.0.0.1:9100/{tenantid}/v2.0")
        );
        assert_eq!(graph_host(dev), None, "no real cloud");
        assert_eq!(graph_origin(dev).as_deref(), Some("http://127.0.0.1:9100"));
        let single = format!("http://localhost:9100/{TID}/v2.0");
        assert!(org_with(json!({"idp": "entra", "issuer": single}), true).is_ok());
        // Not loopback, or not plain-http loopback: no Entra authority, even in development.
        for issuer in [
            "https://127.0.0.1:9100/organizations/v2.0",
            "https://idp.example/organizations/v2.0",
            "http://idp.example/organizations/v2.0",
            "http://10.0.0.1/organizations/v2.0",
        ] {
            assert!(!is_multi_tenant(issuer), "{issuer}");
            assert_eq!(tenant_issuer_template(issuer), None, "{issuer}");
            assert_eq!(graph_origin(issuer), None, "{issuer}");
            assert!(org_with(body(issuer), true).is_err(), "{issuer}");
        }
        // The real clouds are unchanged.
        assert_eq!(
            graph_origin("https://login.microsoftonline.com/organizations/v2.0").as_deref(),
            Some("https://graph.microsoft.com")
        );
    }

    /// Graph pages of a loopback authority stay on its origin and path.
    #[test]
    fn loopback_graph_next_link_stays_on_origin() {
        use crate::core::http::{HttpError, HttpResponse};
        use std::cell::RefCell;
        struct Pages(RefCell<Vec<String>>, String);
        impl HttpClient for Pages {
            async fn send(&self, req: HttpRequest, _max: usize) -> Result<HttpResponse, HttpError> {
                self.0.borrow_mut().push(req.url.to_string());
                Ok(HttpResponse::new(200, "application/json", self.1.clone()))
            }
        }
        let o = org_with(
            json!({"idp": "entra", "issuer": "http://127.0.0.1:9100/organizations/v2.0",
                   "tenants": [TID], "role_mapping": [{"claim": "groups", "value": "g1", "role": "admin"}]}),
            true,
        )
        .unwrap();
        let at = Secret::new("at");
        let one = Pages(
            RefCell::new(vec![]),
            json!({"value": [{"id": "g1"}]}).to_string(),
        );
        let got = crate::core::store::block_on(fetch_groups(&one, &o, &at)).unwrap();
        assert_eq!(got, vec![json!("g1")]);
        assert_eq!(
            one.0.borrow()[0],
            "http://127.0.0.1:9100/v1.0/me/transitiveMemberOf?$select=id&$top=999"
        );
        for link in [
            "http://127.0.0.1:9101/v1.0/me/transitiveMemberOf?page=2",
            "https://127.0.0.1:9100/v1.0/me/transitiveMemberOf?page=2",
            "http://127.0.0.1:9100/v1.0/other?page=2",
        ] {
            let away = Pages(
                RefCell::new(vec![]),
                json!({"value": [], "@odata.nextLink": link}).to_string(),
            );
            assert_eq!(
                crate::core::store::block_on(fetch_groups(&away, &o, &at)),
                Err(EnrichError::GraphInvalid("nextLink leaves Microsoft Graph")),
                "{link}"
            );
        }
    }

    #[test]
    fn overage_detection() {
        let m = |v: Value| v.as_object().unwrap().clone();
        assert!(has_groups_overage(&m(
            json!({"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": "https://evil.example/"}}})
        )));
        assert!(has_groups_overage(&m(json!({"hasgroups": true}))));
        assert!(!has_groups_overage(&m(json!({"groups": ["a"]}))));
        assert!(!has_groups_overage(&m(
            json!({"_claim_names": {"roles": "src1"}})
        )));
        assert!(!has_groups_overage(&m(json!({"hasgroups": "true"}))));
    }
}
