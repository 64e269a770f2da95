//! `POST /admin/orgs/{slug}/test`: test connection for an org's IdP (see
//! [`crate::core::profile::connection`]). Without a body the stored config is tested; with one,
//! the candidate config in it (validated like a PUT, the stored client secret kept when left
//! out), so an admin can try a config before saving it. Nothing is stored either way.

use super::admin::{body_bytes, existing_org};
use super::error::AppError;
use super::respond::json;
use super::{App, Request, Response};
use crate::core::directory::OrgDirectory;
use crate::core::http::HttpClient;
use crate::core::jose::verify::SignatureVerifier;
use crate::core::org::{OrgConfig, OrgSlug};
use crate::core::profile::connection::{report_json, test_connection};
use crate::core::store::KvStore;
use http::StatusCode;

/// `POST /admin/orgs/{slug}/test`: `200 {"ok", "checks": [{"name","ok","detail","hint"?}],
/// "provider"?}`; `400` naming the field of a bad candidate; `404` without a body for an
/// unknown org.
pub(super) async fn test<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
) -> Result<Response, AppError> {
    super::admin_auth::for_org(app, req, slug).await?;
    let body = body_bytes(req)?;
    let org = if body.iter().all(u8::is_ascii_whitespace) {
        existing_org(app, slug).await?
    } else {
        let stored = OrgDirectory::new(&app.store).get(slug).await?;
        OrgConfig::from_admin_json(slug.clone(), body, &app.config.idp_policy, stored.as_ref())?
    };
    let report = test_connection(&app.http, &org, &app.config.idp_policy).await;
    Ok(json(StatusCode::OK, &report_json(&report)))
}
