//! `POST /sso/backchannel-logout/{slug}`: OpenID Connect Back-Channel Logout 1.0. The IdP posts
//! a signed Logout Token; once it passes section 2.6 and its `jti` is new, the org's ledger ends
//! the sessions of its `sid` (or, without one, of its `sub`) everywhere within the revocation
//! bound.
//!
//! Answers (section 2.8): 200 with `Cache-Control: no-store`, also when no session matched;
//! 400 `{"error":"invalid_request","error_description":...}` otherwise. Never a 5xx: an IdP
//! that gets one retries, and nothing an unauthenticated caller sends should look like our
//! fault; storage failures are 400 too, with a description saying to retry.

use super::respond::json;
use super::{App, HeaderExt, Request, Response};
use crate::core::directory::OrgDirectory;
use crate::core::http::HttpClient;
use crate::core::jose::verify::SignatureVerifier;
use crate::core::ledger::{Command, Reply};
use crate::core::oidc::logout_token::{LogoutTokenVerifier, MAX_LOGOUT_TOKEN_BYTES};
use crate::core::oidc::verify_id_token::{verify_logout_token, IdTokenPorts, LogoutVerifyError};
use crate::core::org::OrgSlug;
use crate::core::store::KvStore;
use http::StatusCode;
use serde_json::json;

fn refuse(description: impl Into<String>) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &json!({ "error": "invalid_request", "error_description": description.into() }),
    )
}

/// The one `logout_token` of a form body.
fn logout_token(req: &Request) -> Result<String, String> {
    let form = req
        .header("content-type")
        .and_then(|c| c.split(';').next())
        .is_some_and(|c| {
            c.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(
            "The body must be application/x-www-form-urlencoded with a logout_token parameter."
                .into(),
        );
    }
    let body = req.body().as_bytes().unwrap_or_default();
    if body.len() > MAX_LOGOUT_TOKEN_BYTES * 3 + 64 {
        return Err("The logout_token is too long.".into());
    }
    let mut tokens = url::form_urlencoded::parse(body)
        .filter(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned());
    match (tokens.next(), tokens.next()) {
        (Some(t), None) if !t.is_empty() => Ok(t),
        (Some(_), Some(_)) => Err("The logout_token parameter must appear once.".into()),
        _ => Err("The logout_token parameter is missing.".into()),
    }
}

/// The handler.
pub(super) async fn logout<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &str,
) -> Response {
    match run(app, req, slug).await {
        Ok(resp) => resp,
        Err(description) => refuse(description),
    }
}

async fn run<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &str,
) -> Result<Response, String> {
    let slug = OrgSlug::parse(slug).map_err(|_| "Unknown organisation.".to_owned())?;
    let token = logout_token(req)?;
    let retry = |what: &str| {
        app.log.line(&format!(
            "backchannel-logout org={} unavailable={what}",
            slug.as_str()
        ));
        format!("The {what} is unavailable; retry later.")
    };
    let org = OrgDirectory::new(&app.store)
        .get(&slug)
        .await
        .map_err(|_| retry("organisation directory"))?
        .ok_or_else(|| "Unknown organisation.".to_owned())?;
    let meta = super::sso::provider(app, &org)
        .await
        .map_err(|_| retry("identity provider's discovery document"))?;
    let verifier = LogoutTokenVerifier::new(org.issuer.clone(), org.client_id.as_str())
        .with_leeway_secs(app.config.leeway_secs)
        .with_provider_algs(&meta);
    let ports = IdTokenPorts {
        store: &app.store,
        http: &app.http,
        verifier: &app.verifier,
        clock: app.clock,
        jwks: &app.state.jwks,
    };
    let verified = match verify_logout_token(&ports, &verifier, &meta.jwks_uri, &token).await {
        Ok(v) => v,
        Err(LogoutVerifyError::Token(e)) => {
            app.log.line(&format!(
                "backchannel-logout org={} refused={e}",
                slug.as_str()
            ));
            return Err(format!("The logout_token is not valid: {e}."));
        }
        Err(LogoutVerifyError::JwksUnavailable(_)) => {
            return Err(retry("identity provider's key set"))
        }
    };
    let cmd = Command::BackchannelLogout {
        jti: verified.jti,
        issued_at: Some(verified.iat),
        remember_until: verified.remember_until,
        sub: verified.sub,
        sid: verified.sid,
    };
    let reply = app
        .ledger
        .call(&slug, cmd)
        .await
        .map_err(|_| retry("session store"))?;
    app.state.snapshots.forget(&slug);
    match reply {
        Reply::LoggedOut { replayed, revoked } => {
            app.log.line(&format!(
                "backchannel-logout org={} replayed={replayed} revoked={revoked}",
                slug.as_str()
            ));
            Ok(json(StatusCode::OK, &json!({})))
        }
        Reply::Rejected { message } => Err(message),
        _ => Err(retry("session store")),
    }
}
