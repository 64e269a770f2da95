//! The admin API: organisation SSO configs (`/admin/orgs[/{slug}]`), bearer-token protected.

use super::respond::{json, AppError};
use super::App;
use crate::core::directory::{DirectoryError, OrgDirectory, PutOutcome};
use crate::core::http::{HttpClient, HttpRequest, HttpResponse, Method};
use crate::core::jose::verify::SignatureVerifier;
use crate::core::org::{OrgConfig, OrgSlug};
use crate::core::store::KvStore;

/// Most orgs `GET /admin/orgs` returns.
pub const MAX_LISTED_ORGS: usize = 1000;

/// Maps a directory failure to a response error.
pub(super) fn directory_error(e: DirectoryError) -> AppError {
    match e {
        DirectoryError::DomainClaimed { domain } => AppError::new(
            409,
            "domain_claimed",
            format!("The domain {domain} is already claimed by another organisation."),
        )
        .field("domains"),
        other => AppError::new(
            503,
            "storage_unavailable",
            "Storage is unavailable; try again.",
        )
        .log(other.to_string()),
    }
}

/// Checks `Authorization: Bearer <ADMIN_TOKEN>` in constant time.
fn authorize<S, H, V>(app: &App<'_, S, H, V>, req: &HttpRequest) -> Result<(), AppError> {
    let presented = req
        .headers
        .get("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if app.config.admin_token.ct_eq_str(token) => Ok(()),
        _ => Err(AppError::new(
            401,
            "unauthorized",
            "A valid admin token is required (Authorization: Bearer <ADMIN_TOKEN>).",
        )),
    }
}

fn parse_slug(raw: &str) -> Result<OrgSlug, AppError> {
    OrgSlug::parse(raw)
        .map_err(|e| AppError::new(400, "invalid_field", format!("slug: {e}")).field("slug"))
}

/// Routes `/admin/orgs` and `/admin/orgs/{slug}`.
pub(super) async fn handle<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &HttpRequest,
    rest: Option<&str>,
) -> Result<HttpResponse, AppError> {
    authorize(app, req)?;
    let dir = OrgDirectory::new(&app.store);
    match (req.method, rest) {
        (Method::Get, None) => {
            let orgs = dir.list(MAX_LISTED_ORGS).await.map_err(directory_error)?;
            let list: Vec<_> = orgs.iter().map(OrgConfig::redacted_json).collect();
            Ok(json(200, &serde_json::json!({ "orgs": list })))
        }
        (Method::Get, Some(slug)) => {
            let slug = parse_slug(slug)?;
            match dir.get(&slug).await.map_err(directory_error)? {
                Some(cfg) => Ok(json(200, &cfg.redacted_json())),
                None => Err(no_such_org()),
            }
        }
        (Method::Put, Some(slug)) => {
            let slug = parse_slug(slug)?;
            if req.body.len() > crate::core::org::MAX_BODY_BYTES {
                return Err(AppError::new(
                    413,
                    "invalid_field",
                    format!(
                        "body: must be at most {} bytes",
                        crate::core::org::MAX_BODY_BYTES
                    ),
                )
                .field("body"));
            }
            let existing = dir.get(&slug).await.map_err(directory_error)?;
            // Validation is pure: a body that fails it writes nothing.
            let cfg = OrgConfig::from_admin_json(
                slug,
                &req.body,
                &app.config.idp_policy,
                existing.as_ref(),
            )
            .map_err(|e| AppError::new(400, "invalid_field", e.to_string()).field(e.field))?;
            let body = cfg.redacted_json();
            let status = match dir.put(cfg).await.map_err(directory_error)? {
                PutOutcome::Created => 201,
                PutOutcome::Updated => 200,
            };
            Ok(json(status, &body))
        }
        (Method::Delete, Some(slug)) => {
            let slug = parse_slug(slug)?;
            if dir.delete(&slug).await.map_err(directory_error)? {
                Ok(HttpResponse::new(
                    204,
                    "text/plain; charset=utf-8",
                    Vec::new(),
                ))
            } else {
                Err(no_such_org())
            }
        }
        _ => Err(AppError::new(
            405,
            "method_not_allowed",
            "Use GET /admin/orgs, or GET, PUT or DELETE /admin/orgs/{slug}.",
        )),
    }
}

fn no_such_org() -> AppError {
    AppError::new(404, "unknown_org", "No organisation has this slug.")
}
