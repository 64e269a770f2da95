//! Test connection: what an admin learns about an org's IdP before (or after) saving its config,
//! without storing anything. Discovery is fetched directly (not through the discovery cache, so
//! a failed test leaves no trace and a fixed IdP is seen at once), then the JWKS; each finding is
//! a [`Check`] with a hint saying what to change.

use super::entra::TENANT_PLACEHOLDER;
use super::IdpKind;
use crate::core::http::HttpClient;
use crate::core::http::HttpRequest;
use crate::core::jose::jwk::{Jwks, MAX_JWKS_BYTES};
use crate::core::oidc::discovery::{
    discovery_request, discovery_response, DiscoveryError, ProviderMetadata, MAX_DISCOVERY_BODY,
};
use crate::core::oidc::idtoken::allowed_algs_for;
use crate::core::oidc::token::client_auth;
use crate::core::oidc::url_policy::IdpUrlPolicy;
use crate::core::org::OrgConfig;
use serde::Serialize;
use serde_json::Value;

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked (`discovery`, `jwks`, `algorithms`, ...).
    pub name: &'static str,
    /// Whether sign-in can work as far as this check goes.
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// What to change, when something should change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

fn check(name: &'static str, ok: bool, detail: impl Into<String>, hint: Option<String>) -> Check {
    Check {
        name,
        ok,
        detail: detail.into(),
        hint,
    }
}

/// The answer: `ok` when every check is; the provider's metadata when discovery worked.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectionReport {
    /// Every check passed.
    pub ok: bool,
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
    /// The validated discovery document, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderMetadata>,
}

/// Runs discovery, the JWKS fetch and the profile's checks for `org`.
pub async fn test_connection<H: HttpClient>(
    http: &H,
    org: &OrgConfig,
    policy: &IdpUrlPolicy,
) -> ConnectionReport {
    let mut checks = Vec::new();
    let meta = discover(http, org, policy, &mut checks).await;
    if let Some(meta) = &meta {
        jwks(http, meta, policy, &mut checks).await;
        provider_checks(org, meta, &mut checks);
    }
    for w in super::warnings(org) {
        checks.push(check(
            "profile",
            true,
            "the config works with a caveat",
            Some(w),
        ));
    }
    ConnectionReport {
        ok: checks.iter().all(|c| c.ok),
        checks,
        provider: meta,
    }
}

async fn discover<H: HttpClient>(
    http: &H,
    org: &OrgConfig,
    policy: &IdpUrlPolicy,
    checks: &mut Vec<Check>,
) -> Option<ProviderMetadata> {
    let issuer = org.issuer.as_str();
    let fail = |detail: String, hint: Option<String>| check("discovery", false, detail, hint);
    let req = match discovery_request(issuer) {
        Ok(r) => r,
        Err(e) => {
            checks.push(fail(e.to_string(), None));
            return None;
        }
    };
    if let Err(e) = policy.check(&req.url) {
        checks.push(fail(e.0, None));
        return None;
    }
    let url = req.url.to_string();
    let resp = match http.send(req, MAX_DISCOVERY_BODY).await {
        Ok(r) => r,
        Err(e) => {
            checks.push(fail(
                format!("{url}: {e}"),
                Some(
                    "check the issuer's host name, and that the IdP is reachable from the internet"
                        .into(),
                ),
            ));
            return None;
        }
    };
    match discovery_response(issuer, policy, &resp) {
        Ok(meta) => {
            checks.push(check(
                "discovery",
                true,
                format!("{url} answered a valid document"),
                None,
            ));
            Some(meta)
        }
        Err(DiscoveryError::IssuerMismatch { found, .. }) => {
            let hint = format!("set \"issuer\" to exactly {found:?}, the document's issuer (iss is compared as an exact string)");
            checks.push(fail(
                format!("the document's issuer {found:?} is not the configured {issuer:?}"),
                Some(hint),
            ));
            None
        }
        Err(e) => {
            let hint = match e {
                DiscoveryError::Status(404) => Some("no discovery document there: the issuer is wrong (compare with the IdP's guide in docs/idp/)".into()),
                DiscoveryError::Redirect => Some("the issuer redirects: configure the exact issuer the IdP publishes".into()),
                _ => None,
            };
            checks.push(fail(format!("{url}: {e}"), hint));
            None
        }
    }
}

async fn jwks<H: HttpClient>(
    http: &H,
    meta: &ProviderMetadata,
    policy: &IdpUrlPolicy,
    checks: &mut Vec<Check>,
) {
    let url = &meta.jwks_uri;
    if let Err(e) = policy.check(url) {
        checks.push(check("jwks", false, e.0, None));
        return;
    }
    let result = match http
        .send(HttpRequest::get(url.clone()), MAX_JWKS_BYTES)
        .await
    {
        Err(e) => Err(e.to_string()),
        Ok(r) if r.status != 200 => Err(format!("HTTP status {}", r.status)),
        Ok(r) => Jwks::parse(&r.body).map_err(|e| e.to_string()),
    };
    checks.push(match result {
        Ok(keys) => check(
            "jwks",
            true,
            format!("{url}: {} usable signing keys", keys.keys().len()),
            None,
        ),
        Err(e) => check("jwks", false, format!("{url}: {e}"), None),
    });
}

fn provider_checks(org: &OrgConfig, meta: &ProviderMetadata, checks: &mut Vec<Check>) {
    let algs = allowed_algs_for(&meta.id_token_signing_alg_values_supported);
    let names: Vec<&str> = algs.iter().map(|a| a.name()).collect();
    checks.push(if algs.is_empty() {
        check(
            "algorithms",
            false,
            format!(
                "the IdP signs ID tokens with {:?} only",
                meta.id_token_signing_alg_values_supported
            ),
            Some("configure the IdP to sign ID tokens with RS256 (or PS256, ES256, EdDSA)".into()),
        )
    } else {
        check(
            "algorithms",
            true,
            format!("ID tokens accepted with {}", names.join(", ")),
            None,
        )
    });
    checks.push(match &meta.code_challenge_methods_supported {
        Some(_) => check("pkce_s256", true, "PKCE S256 supported", None),
        None => check(
            "pkce_s256",
            true,
            "PKCE methods not advertised; S256 is sent anyway",
            None,
        ),
    });
    checks.push(check(
        "iss_parameter",
        true,
        if meta.authorization_response_iss_parameter_supported {
            "RFC 9207 iss in authorization responses: supported and required"
        } else {
            "RFC 9207 iss in authorization responses: not announced (mix-up defence rests on the per-org redirect state)"
        },
        None,
    ));
    checks.push(match client_auth(meta) {
        Ok(a) => check(
            "client_auth",
            true,
            format!("token endpoint authentication: {a:?}"),
            None,
        ),
        Err(e) => check(
            "client_auth",
            false,
            e.to_string(),
            Some(
                "enable client_secret_basic or client_secret_post for the client at the IdP".into(),
            ),
        ),
    });
    checks.push(check(
        "end_session",
        true,
        match &meta.end_session_endpoint {
            Some(u) => format!("RP-initiated logout at {u}"),
            None => "no end_session_endpoint: sign-out ends the hub session only".into(),
        },
        None,
    ));
    checks.push(check(
        "backchannel_logout",
        true,
        if meta.backchannel_logout_supported {
            format!(
                "supported: register {{PUBLIC_ORIGIN}}/sso/backchannel-logout/{}",
                org.slug
            )
        } else {
            "not supported: use SCIM or the admin revoke for offboarding".into()
        },
        None,
    ));
    checks.push(check(
        "userinfo",
        true,
        match &meta.userinfo_endpoint {
            Some(u) => format!("{u} (asked when the ID token lacks the email or a mapped claim)"),
            None => {
                "no userinfo_endpoint: the ID token must carry the email and mapped claims".into()
            }
        },
        None,
    ));
    if org.profile.idp == IdpKind::Entra && super::entra::is_multi_tenant(org.issuer.as_str()) {
        let templated = meta.issuer.contains(TENANT_PLACEHOLDER);
        checks.push(check(
            "entra_tenants",
            templated,
            format!(
                "issuer template {:?}; allowed tenants: {}",
                meta.issuer,
                org.profile.tenants.len()
            ),
            (!templated)
                .then(|| "a multi-tenant authority publishes the {tenantid} template".into()),
        ));
    }
    if let Some(g) = org.profile.idp.guide() {
        checks.push(check("guide", true, format!("set-up guide: {g}"), None));
    }
}

/// The report as the admin API answers it.
pub fn report_json(r: &ConnectionReport) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::http::{HttpError, HttpResponse};
    use crate::core::profile::testkit::org;
    use crate::core::store::block_on;
    use serde_json::json;

    struct Net(Vec<(String, HttpResponse)>);
    impl HttpClient for Net {
        async fn send(&self, req: HttpRequest, _max: usize) -> Result<HttpResponse, HttpError> {
            self.0
                .iter()
                .find(|(u, _)| u == req.url.as_str())
                .map(|(_, r)| r.clone())
                .ok_or_else(|| HttpError::Network("no such host".into()))
        }
    }

    const STRICT: IdpUrlPolicy = IdpUrlPolicy {
        allow_insecure_loopback: false,
    };

    fn okta_net(doc_issuer: &str) -> Net {
        let doc = json!({
            "issuer": doc_issuer,
            "authorization_endpoint": "https://acme.okta.com/oauth2/v1/authorize",
            "token_endpoint": "https://acme.okta.com/oauth2/v1/token",
            "jwks_uri": "https://acme.okta.com/oauth2/v1/keys",
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        });
        use crate::core::jose::testkit::{jwks_json, Key};
        let jwks = String::from_utf8(jwks_json(&[(Key::RsaA, "a")])).unwrap();
        Net(vec![
            (
                "https://acme.okta.com/.well-known/openid-configuration".into(),
                HttpResponse::new(200, "application/json", doc.to_string()),
            ),
            (
                "https://acme.okta.com/oauth2/v1/keys".into(),
                HttpResponse::new(200, "application/json", jwks),
            ),
        ])
    }

    #[test]
    fn a_working_idp_passes() {
        let o = org(json!({"idp": "okta", "issuer": "https://acme.okta.com"})).unwrap();
        let r = block_on(test_connection(
            &okta_net("https://acme.okta.com"),
            &o,
            &STRICT,
        ));
        assert!(r.ok, "{:?}", r.checks);
        assert!(r.provider.is_some());
        let v = report_json(&r);
        assert_eq!(v["checks"][0]["name"], "discovery");
        assert_eq!(v["checks"][1]["name"], "jwks");
        assert!(v["checks"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("1 usable"));
    }

    #[test]
    fn issuer_mismatch_names_the_value_to_use() {
        let o = org(json!({"idp": "okta", "issuer": "https://acme.okta.com"})).unwrap();
        let r = block_on(test_connection(
            &okta_net("https://acme.okta.com/"),
            &o,
            &STRICT,
        ));
        assert!(!r.ok);
        assert!(r.provider.is_none());
        let hint = r.checks[0].hint.as_deref().unwrap();
        assert!(hint.contains("\"https://acme.okta.com/\""), "{hint}");
    }

    #[test]
    fn unreachable_and_unsupported() {
        let o = org(json!({"issuer": "https://nowhere.example"})).unwrap();
        let r = block_on(test_connection(&Net(vec![]), &o, &STRICT));
        assert!(!r.ok);
        assert_eq!(r.checks[0].name, "discovery");
        let mut net = okta_net("https://acme.okta.com");
        net.0[0].1 = HttpResponse::new(
            200,
            "application/json",
            json!({
                "issuer": "https://acme.okta.com",
                "authorization_endpoint": "https://acme.okta.com/a",
                "token_endpoint": "https://acme.okta.com/t",
                "jwks_uri": "https://acme.okta.com/oauth2/v1/keys",
                "id_token_signing_alg_values_supported": ["HS256"],
            })
            .to_string(),
        );
        let o = org(json!({"idp": "okta", "issuer": "https://acme.okta.com"})).unwrap();
        let r = block_on(test_connection(&net, &o, &STRICT));
        let algs = r.checks.iter().find(|c| c.name == "algorithms").unwrap();
        assert!(!algs.ok && algs.hint.is_some());
        assert!(!r.ok);
    }
}
