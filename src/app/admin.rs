//! The admin API: organisation SSO configs (`/admin/orgs[/{slug}]`), bearer-token protected.

use super::error::{AppError, ErrorCode};
use super::respond::{json, with_body};
use super::{App, HeaderExt, Request, Response};
use crate::core::directory::{OrgDirectory, PutOutcome};
use crate::core::http::HttpClient;
use crate::core::jose::verify::SignatureVerifier;
use crate::core::org::{OrgConfig, OrgSlug, MAX_BODY_BYTES};
use crate::core::store::KvStore;
use http::StatusCode;

/// Most orgs `GET /admin/orgs` returns.
pub const MAX_LISTED_ORGS: usize = 1000;

/// Checks `Authorization: Bearer <ADMIN_TOKEN>` in constant time.
pub(super) fn authorize<S, H, V>(app: &App<'_, S, H, V>, req: &Request) -> Result<(), AppError> {
    let presented = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if app.config.admin_token.ct_eq_str(token) => Ok(()),
        _ => Err(ErrorCode::Unauthorized.into()),
    }
}

fn parse_slug(raw: &str) -> Result<OrgSlug, AppError> {
    Ok(OrgSlug::parse(raw)?)
}

/// The buffered admin body, refused over [`MAX_BODY_BYTES`].
pub(super) fn body_bytes(req: &Request) -> Result<&[u8], AppError> {
    // The edge buffers bodies of this group; anything else is refused, never read as empty.
    let body = req
        .body()
        .as_bytes()
        .ok_or_else(|| AppError::new(ErrorCode::BadRequest).log("admin body not buffered"))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(AppError::new(ErrorCode::TooLarge)
            .message(format!("body: must be at most {MAX_BODY_BYTES} bytes"))
            .field("body"));
    }
    Ok(body)
}

/// The org's stored config, or 404 `unknown_org`.
pub(super) async fn existing_org<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    slug: &OrgSlug,
) -> Result<OrgConfig, AppError> {
    OrgDirectory::new(&app.store)
        .get(slug)
        .await?
        .ok_or_else(|| ErrorCode::UnknownOrg.into())
}

/// A sub-resource of `/admin/orgs/{slug}/...`, with the methods it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sub {
    Org,
    Members,
    Revoke,
    ScimToken,
    Test,
}

impl Sub {
    fn allow(self) -> &'static str {
        match self {
            Sub::Org => "GET, PUT, DELETE",
            Sub::Members => "GET",
            Sub::Revoke => "POST",
            Sub::ScimToken => "POST, DELETE",
            Sub::Test => "POST",
        }
    }
}

/// Splits the path after `/admin/orgs/` into the slug and the sub-resource. Anything that is
/// not a known sub-resource stays part of the slug, which its validator then refuses with a 400
/// naming the field (as `a/b` always was).
fn split(rest: &str) -> (&str, Sub) {
    for (suffix, sub) in [
        ("/members", Sub::Members),
        ("/revoke", Sub::Revoke),
        ("/scim-token", Sub::ScimToken),
        ("/test", Sub::Test),
    ] {
        if let Some(slug) = rest.strip_suffix(suffix) {
            return (slug, sub);
        }
    }
    (rest, Sub::Org)
}

/// `/admin/orgs/{slug}[/{sub-resource}]`, any method.
pub(super) async fn dispatch<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
    rest: &str,
) -> Result<Response, AppError> {
    use http::Method;
    let (raw, sub) = split(rest);
    let m = req.method();
    let not_allowed = || {
        AppError::new(ErrorCode::MethodNotAllowed).header(
            http::header::ALLOW,
            http::HeaderValue::from_static(sub.allow()),
        )
    };
    match sub {
        Sub::Org if m == Method::GET => get(app, req, raw).await,
        Sub::Org if m == Method::PUT => put(app, req, raw).await,
        Sub::Org if m == Method::DELETE => delete(app, req, raw).await,
        Sub::Members if m == Method::GET => {
            super::admin_members::list(app, req, &parse_slug(raw)?).await
        }
        Sub::Revoke if m == Method::POST => {
            super::admin_members::revoke(app, req, &parse_slug(raw)?).await
        }
        Sub::ScimToken if m == Method::POST => {
            super::admin_members::mint_scim_token(app, req, &parse_slug(raw)?).await
        }
        Sub::ScimToken if m == Method::DELETE => {
            super::admin_members::delete_scim_token(app, req, &parse_slug(raw)?).await
        }
        Sub::Test if m == Method::POST => {
            super::admin_profile::test(app, req, &parse_slug(raw)?).await
        }
        _ => Err(not_allowed()),
    }
}

/// `GET /admin/orgs`: every org, redacted.
pub(super) async fn list<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
) -> Result<Response, AppError> {
    authorize(app, req)?;
    let orgs = OrgDirectory::new(&app.store).list(MAX_LISTED_ORGS).await?;
    let list: Vec<_> = orgs.iter().map(OrgConfig::redacted_json).collect();
    Ok(json(StatusCode::OK, &serde_json::json!({ "orgs": list })))
}

/// `GET /admin/orgs/{slug}`: one org, redacted.
async fn get<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &str,
) -> Result<Response, AppError> {
    authorize(app, req)?;
    let slug = parse_slug(slug)?;
    match OrgDirectory::new(&app.store).get(&slug).await? {
        Some(cfg) => Ok(json(StatusCode::OK, &cfg.redacted_json())),
        None => Err(ErrorCode::UnknownOrg.into()),
    }
}

/// `PUT /admin/orgs/{slug}`: creates (201) or replaces (200) an org.
async fn put<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &str,
) -> Result<Response, AppError> {
    authorize(app, req)?;
    let slug = parse_slug(slug)?;
    let body = body_bytes(req)?;
    let dir = OrgDirectory::new(&app.store);
    let existing = dir.get(&slug).await?;
    // Validation is pure: a body that fails it writes nothing.
    let cfg = OrgConfig::from_admin_json(slug, body, &app.config.idp_policy, existing.as_ref())?;
    let mut body = cfg.redacted_json();
    // The IdP profile's advice on a config that works but may surprise (not sent back as input).
    crate::core::profile::annotate(&cfg, &mut body);
    let slug = cfg.slug.clone();
    let outcome = dir.put(cfg).await;
    // This isolate's live sessions see the change at once; others within the cache window.
    app.state.orgs.forget(&slug);
    let status = match outcome? {
        PutOutcome::Created => StatusCode::CREATED,
        PutOutcome::Updated => StatusCode::OK,
    };
    Ok(json(status, &body))
}

/// `DELETE /admin/orgs/{slug}`: 204, or 404 when there is no such org. Every session of the
/// org is revoked and its ledger (members, SCIM) forgotten.
async fn delete<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &str,
) -> Result<Response, AppError> {
    authorize(app, req)?;
    let slug = parse_slug(slug)?;
    existing_org(app, &slug).await?;
    // The ledger first: if it fails, nothing is deleted; if the KV delete then fails, the org
    // stays with every session revoked (the safe side).
    super::admin_members::purge(app, &slug).await?;
    let deleted = OrgDirectory::new(&app.store).delete(&slug).await;
    app.state.orgs.forget(&slug);
    if deleted? {
        Ok(with_body(
            StatusCode::NO_CONTENT,
            "text/plain; charset=utf-8",
            super::Body::Empty,
        ))
    } else {
        Err(ErrorCode::UnknownOrg.into())
    }
}
