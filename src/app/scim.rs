//! `/scim/v2/{slug}/...`: SCIM 2.0 (RFC 7644) for the org's IdP, authenticated by the org's SCIM
//! bearer token and answered by the org's ledger (where the token's hash and the SCIM resources
//! live), in one round trip.

use super::respond::with_body;
use super::{App, Body, HeaderExt, Request, Response, ResponseExt};
use crate::core::directory::OrgDirectory;
use crate::core::ledger::{Command, Reply};
use crate::core::org::OrgSlug;
use crate::core::scim::{ScimError, ScimRequest, ScimResponse};
use crate::core::secret::sha256_hex;
use crate::core::store::KvStore;
use http::header::{LOCATION, WWW_AUTHENTICATE};
use http::StatusCode;

/// The SCIM media type (RFC 7644 3.1).
pub const SCIM_JSON: &str = "application/scim+json";

fn error(status: u16, detail: &str) -> ScimResponse {
    ScimError {
        status,
        scim_type: None,
        detail: detail.into(),
    }
    .response()
}

fn render(r: ScimResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body: Body = match &r.body {
        Some(v) => serde_json::to_vec(v).unwrap_or_default().into(),
        None => Body::Empty,
    };
    let mut resp = with_body(status, SCIM_JSON, body);
    if let Some(loc) = &r.location {
        // A location we built from PUBLIC_ORIGIN and an id; never fails in practice.
        let _ = resp.set_header(LOCATION, loc);
    }
    if r.status == 401 {
        let _ = resp.set_header(WWW_AUTHENTICATE, "Bearer realm=\"scim\"");
    }
    if r.status == 429 {
        let (_, period) = crate::core::ratelimit::LimitClass::AuthFailure.budget();
        let _ = resp.set_header(http::header::RETRY_AFTER, &period.to_string());
    }
    resp
}

/// The handler: `slug` is the org, `rest` the path after it (`""`, `/Users`, ...).
pub(super) async fn handle<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &str,
    rest: &str,
) -> Response {
    render(answer(app, req, slug, rest).await)
}

async fn answer<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &str,
    rest: &str,
) -> ScimResponse {
    let Ok(slug) = OrgSlug::parse(slug) else {
        return error(404, "No organisation has this slug.");
    };
    let token = req
        .header("authorization")
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        let r = error(
            401,
            "A SCIM bearer token is required (Authorization: Bearer <token>).",
        );
        return limited_or(app, req, r).await;
    };
    // An org that does not exist has no token to match: answered here, as a wrong token is,
    // so an anonymous request for any slug never reaches (and creates) a Durable Object.
    match app
        .state
        .orgs
        .get(&OrgDirectory::new(&app.store), &slug, app.clock.now())
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => return limited_or(app, req, error(401, BAD_TOKEN)).await,
        Err(_) => return unavailable(app, &slug),
    }
    let Some(body) = req.body().as_bytes() else {
        return error(400, "Unreadable body.");
    };
    let request = ScimRequest {
        method: req.method().as_str().to_owned(),
        path: format!("/{rest}"),
        query: req.uri().query().map(str::to_owned),
        body: body.to_vec(),
    };
    let cmd = Command::Scim {
        token_hash: sha256_hex(token.as_bytes()),
        base_url: app
            .config
            .url(&format!("/scim/v2/{}", slug.as_str()))
            .to_string(),
        request,
    };
    let write = !matches!(req.method().as_str(), "GET" | "HEAD");
    match app.ledger.call(&slug, cmd).await {
        Ok(Reply::Scim(r)) => {
            if write && r.status < 300 {
                // This isolate sees deprovisioning and group changes at once.
                app.state.snapshots.forget(&slug);
            }
            if r.status == 401 {
                app.log
                    .line(&format!("scim org={} refused=bad token", slug.as_str()));
                return limited_or(app, req, r).await;
            }
            r
        }
        Ok(_) | Err(_) => unavailable(app, &slug),
    }
}

/// What the ledger answers a wrong token (`Ledger::scim`), word for word.
const BAD_TOKEN: &str = "A valid SCIM bearer token for this organisation is required.";

/// The org's directory (its config or its ledger) could not be read.
fn unavailable<S, H, V>(app: &App<'_, S, H, V>, slug: &OrgSlug) -> ScimResponse {
    app.log
        .line(&format!("scim org={} unavailable", slug.as_str()));
    // An IdP retries a 503 later, which is what a storage failure needs.
    error(
        503,
        "The organisation's directory is unavailable; retry later.",
    )
}

/// A failed SCIM authentication counts against the client's budget: `r`, or a SCIM 429 once
/// over it.
async fn limited_or<S, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    r: ScimResponse,
) -> ScimResponse {
    match app
        .rate_limit(req, crate::core::ratelimit::LimitClass::AuthFailure)
        .await
    {
        Ok(()) => r,
        Err(_) => error(
            429,
            "Too many failed authentications; try again in a minute.",
        ),
    }
}
