//! The admin API: organisation SSO configs (`/admin/orgs[/{slug}]`), bearer-token protected.

use super::admin_auth::for_org;
use super::error::{AppError, ErrorCode};
use super::respond::{json, with_body};
use super::{App, Request, Response};
use crate::core::directory::{OrgDirectory, PutOutcome};
use crate::core::http::HttpClient;
use crate::core::jose::verify::SignatureVerifier;
use crate::core::org::{OrgConfig, OrgSlug, MAX_BODY_BYTES};
use crate::core::staging::{StagedConfig, Staging};
use crate::core::store::KvStore;
use crate::core::strict_json::{check_no_duplicate_keys, StrictJsonError};
use crate::core::test_login::TestLinkClaims;
use http::StatusCode;

/// Most orgs `GET /admin/orgs` returns.
pub const MAX_LISTED_ORGS: usize = 1000;

/// The operator only: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time.
pub(super) async fn authorize<S, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
) -> Result<(), AppError> {
    super::admin_auth::operator(app, req).await
}

fn parse_slug(raw: &str) -> Result<OrgSlug, AppError> {
    Ok(OrgSlug::parse(raw)?)
}

/// The buffered admin body, refused over [`MAX_BODY_BYTES`] and when any object in it repeats
/// a key (at any depth: the field is named).
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
    if let Err(StrictJsonError::DuplicateKey { path }) = check_no_duplicate_keys(body) {
        let path: String = path.chars().take(128).collect();
        return Err(AppError::new(ErrorCode::InvalidField)
            .message(format!("{path}: appears more than once"))
            .field(path));
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
    Audit,
    SetupLink,
    Staged,
    StagedApply,
    /// `domains`
    Domains,
    /// `domains/{domain}`
    Domain,
    /// `domains/{domain}/verify`
    DomainVerify,
    Test,
    TestLogin,
}

impl Sub {
    fn allow(self) -> &'static str {
        match self {
            Sub::Org => "GET, PUT, DELETE",
            Sub::Members => "GET",
            Sub::Revoke => "POST",
            Sub::ScimToken => "POST, DELETE",
            Sub::Audit => "GET",
            Sub::SetupLink => "POST, DELETE",
            Sub::Staged => "GET, DELETE",
            Sub::StagedApply => "POST",
            Sub::Domains => "GET",
            Sub::Domain => "PUT, DELETE",
            Sub::DomainVerify => "POST",
            Sub::Test => "POST",
            Sub::TestLogin => "POST",
        }
    }
}

/// Splits the path after `/admin/orgs/` into the slug, the sub-resource and the domain of a
/// `domains/{domain}[/verify]` path (empty otherwise). Anything that is not a known
/// sub-resource stays part of the slug, which its validator then refuses with a 400 naming the
/// field (as `a/b` always was).
fn split(rest: &str) -> (&str, Sub, &str) {
    // A slug has no `/`, so the first `/domains/` ends it.
    if let Some((slug, tail)) = rest.split_once("/domains/") {
        if let Some(domain) = tail.strip_suffix("/verify") {
            return (slug, Sub::DomainVerify, domain);
        }
        return (slug, Sub::Domain, tail);
    }
    for (suffix, sub) in [
        ("/domains", Sub::Domains),
        ("/members", Sub::Members),
        ("/revoke", Sub::Revoke),
        ("/scim-token", Sub::ScimToken),
        ("/audit", Sub::Audit),
        ("/setup-link", Sub::SetupLink),
        ("/staged/apply", Sub::StagedApply),
        ("/staged", Sub::Staged),
        ("/test-login", Sub::TestLogin),
        ("/test", Sub::Test),
    ] {
        if let Some(slug) = rest.strip_suffix(suffix) {
            return (slug, sub, "");
        }
    }
    (rest, Sub::Org, "")
}

/// `/admin/orgs/{slug}[/{sub-resource}]`, any method.
pub(super) async fn dispatch<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
    rest: &str,
) -> Result<Response, AppError> {
    use http::Method;
    let (raw, sub, domain) = split(rest);
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
        Sub::Staged if m == Method::GET || m == Method::DELETE => {
            staged_route(app, req, &parse_slug(raw)?, false).await
        }
        Sub::StagedApply if m == Method::POST => {
            staged_route(app, req, &parse_slug(raw)?, true).await
        }
        Sub::SetupLink if m == Method::POST => {
            super::admin_members::mint_setup_link(app, req, &parse_slug(raw)?).await
        }
        Sub::SetupLink if m == Method::DELETE => {
            super::admin_members::revoke_setup_link(app, req, &parse_slug(raw)?).await
        }
        Sub::Audit if m == Method::GET => {
            super::admin_members::audit(app, req, &parse_slug(raw)?).await
        }
        Sub::ScimToken if m == Method::DELETE => {
            super::admin_members::delete_scim_token(app, req, &parse_slug(raw)?).await
        }
        Sub::Domains if m == Method::GET => {
            super::admin_domains::list(app, req, &parse_slug(raw)?).await
        }
        Sub::Domain if m == Method::PUT => {
            super::admin_domains::claim(app, req, &parse_slug(raw)?, domain).await
        }
        Sub::Domain if m == Method::DELETE => {
            super::admin_domains::release(app, req, &parse_slug(raw)?, domain).await
        }
        Sub::DomainVerify if m == Method::POST => {
            super::admin_domains::verify(app, req, &parse_slug(raw)?, domain).await
        }
        Sub::Test if m == Method::POST => {
            super::admin_profile::test(app, req, &parse_slug(raw)?).await
        }
        Sub::TestLogin if m == Method::POST => mint_test_login(app, req, &parse_slug(raw)?).await,
        _ => Err(not_allowed()),
    }
}

/// `GET /admin/orgs`: every org, redacted.
pub(super) async fn list<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
) -> Result<Response, AppError> {
    authorize(app, req).await?;
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
    let slug = parse_slug(slug)?;
    for_org(app, req, &slug).await?;
    match OrgDirectory::new(&app.store).get(&slug).await? {
        Some(cfg) => {
            let mut body = cfg.redacted_json();
            if let Some(staged) = staged(app, &slug).await? {
                let tested = Staging::new(&app.store)
                    .tested(&slug, &staged, &cfg)
                    .await?;
                body["staged"] = staged.config.redacted_json();
                if let Some(t) = tested {
                    body["staged"]["tested_by"] = t.tested_by.into();
                    body["staged"]["tested_at"] = t.at.secs().into();
                }
            }
            Ok(json(StatusCode::OK, &body))
        }
        None => Err(ErrorCode::UnknownOrg.into()),
    }
}

/// The org's staged configuration (changes that could lock it out, waiting to be applied).
async fn staged<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    slug: &OrgSlug,
) -> Result<Option<StagedConfig>, AppError> {
    Ok(Staging::new(&app.store).get(slug).await?)
}

/// `POST /admin/orgs/{slug}/test-login` (operator or the org's admins), body optionally
/// `{"staged": true}`: a one-time test sign-in link, valid [`crate::core::test_login::TEST_LINK_TTL_SECS`], that runs
/// the whole sign-in with the active (or staged) settings and shows the result instead of a
/// session. `201 {"url", "expires_at"}`.
async fn mint_test_login<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
) -> Result<Response, AppError> {
    for_org(app, req, slug).await?;
    existing_org(app, slug).await?;
    let body = body_bytes(req)?;
    let staged_wanted = if body.iter().all(u8::is_ascii_whitespace) {
        false
    } else {
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
            AppError::new(ErrorCode::InvalidField)
                .message("body: must be a JSON object")
                .field("body")
        })?;
        match v.get("staged") {
            None | Some(serde_json::Value::Null) if v.is_object() => false,
            Some(serde_json::Value::Bool(b)) => *b,
            _ => {
                return Err(AppError::new(ErrorCode::InvalidField)
                    .message("staged: must be true or false")
                    .field("staged"))
            }
        }
    };
    if staged_wanted && staged(app, slug).await?.is_none() {
        return Err(
            AppError::new(ErrorCode::NotFound).message("This organisation has no staged changes.")
        );
    }
    let claims = TestLinkClaims::new(app.random, slug, staged_wanted, app.clock.now())
        .map_err(|e| AppError::from(crate::core::store::StoreError(format!("CSPRNG: {e}"))))?;
    let token = claims
        .seal(
            &app.config.cookie_sealer,
            app.random,
            &app.config.origin_str(),
        )
        .map_err(|_| AppError::new(ErrorCode::InternalError).log("seal test link"))?;
    let mut url = app.config.url("/sso/start");
    url.query_pairs_mut()
        .append_pair("org", slug.as_str())
        .append_pair("test", &token);
    Ok(json(
        StatusCode::CREATED,
        &serde_json::json!({ "url": url.as_str(), "expires_at": claims.expires_at }),
    ))
}

/// Whether `new` changes what signs members in (issuer, client, secret, IdP profile): an org admin's such
/// change to an enforced org could lock everyone out, so it is staged.
fn changes_sign_in(old: &OrgConfig, new: &OrgConfig) -> bool {
    old.issuer != new.issuer
        || old.client_id != new.client_id
        || !old.client_secret.ct_eq_str(new.client_secret.expose())
        || old.profile != new.profile
}

/// `GET /admin/orgs/{slug}/staged`, `DELETE` (discard), `POST .../staged/apply`.
async fn staged_route<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
    apply: bool,
) -> Result<Response, AppError> {
    let actor = for_org(app, req, slug).await?;
    let Some(staged_cfg) = staged(app, slug).await? else {
        return Err(
            AppError::new(ErrorCode::NotFound).message("This organisation has no staged changes.")
        );
    };
    let staging = Staging::new(&app.store);
    // The mark holds for the staged version applied to the config as it is now: what an apply
    // writes, and what a test signs in with.
    let existing = existing_org(app, slug).await?;
    let tested = staging.tested(slug, &staged_cfg, &existing).await?;
    let method = req.method().as_str();
    if !apply && method == "GET" {
        let mut body = staged_cfg.config.redacted_json();
        if let Some(t) = &tested {
            body["tested_by"] = t.tested_by.as_str().into();
            body["tested_at"] = t.at.secs().into();
        }
        return Ok(json(StatusCode::OK, &body));
    }
    if apply {
        // Issue "Console" 3: an org admin applies only what a test sign-in proved keeps an
        // admin able to sign in (that very staged version: any later change voids the mark).
        if !actor.is_operator() && tested.is_none() {
            return Err(AppError::new(ErrorCode::Forbidden).message(
                "Staged sign-in settings are applied after a test sign-in with them by a member who would be admin under them (Test sign-in with the staged settings), or by the operator.",
            ));
        }
        let dir = OrgDirectory::new(&app.store);
        // What the staging change changed, on top of the config as it stands now: changes made
        // since staging (the operator's, another admin's) are kept. Staged before bases were
        // kept: applied whole, as then, with the domains as they are now.
        let (mut cfg, overridden) = staged_cfg.applied(&existing);
        super::admin_domains::keep_proven_domains(app, &mut cfg).await?;
        let changes = settings_changes(Some(&existing), &cfg);
        let body = cfg.redacted_json();
        dir.put(cfg).await?;
        app.state.orgs.forget(slug);
        staging.delete(slug).await?;
        let mut detail = serde_json::json!({ "changes": changes });
        if !overridden.is_empty() {
            // Changes made since staging that the staged values replaced: named, so that
            // whoever made them can tell.
            detail["overridden"] = overridden.into();
        }
        super::admin_members::record_event(app, &actor, slug, "org.settings.sso", detail).await;
        return Ok(json(StatusCode::OK, &body));
    }
    staging.delete(slug).await?;
    super::admin_members::record_settings(
        app,
        &actor,
        slug,
        "org.settings.sso.discarded",
        serde_json::json!({}),
    )
    .await;
    Ok(with_body(
        StatusCode::NO_CONTENT,
        "text/plain; charset=utf-8",
        super::Body::Empty,
    ))
}

/// `PUT /admin/orgs/{slug}`: creates (201) or replaces (200) an org.
async fn put<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &str,
) -> Result<Response, AppError> {
    let slug = parse_slug(slug)?;
    let actor = for_org(app, req, &slug).await?;
    let body = body_bytes(req)?;
    let dir = OrgDirectory::new(&app.store);
    let existing = dir.get(&slug).await?;
    if !actor.is_operator() && existing.is_none() {
        return Err(
            AppError::new(ErrorCode::Forbidden).message("Only the operator creates organisations.")
        );
    }
    // Validation is pure: a body that fails it writes nothing.
    let mut cfg =
        OrgConfig::from_admin_json(slug, body, &app.config.idp_policy, existing.as_ref())?;
    // The DNS-proven domains come with the stored config, as read from KV: only those the
    // registry still holds as verified are written back.
    super::admin_domains::keep_proven_domains(app, &mut cfg).await?;
    // A new issuer or client id gets a new secret in the same request: the stored secret is
    // never sent to a token endpoint it was not issued for.
    if let Some(old) = &existing {
        let moved = old.issuer != cfg.issuer || old.client_id != cfg.client_id;
        let secret_given = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .is_some_and(|v| v.get("client_secret").is_some());
        if moved && !secret_given {
            return Err(AppError::new(ErrorCode::InvalidField)
                .message("client_secret: required when issuer or client_id changes (the stored secret belongs to the old client)")
                .field("client_secret"));
        }
    }
    let mut body = cfg.redacted_json();
    // The IdP profile's advice on a config that works but may surprise (not sent back as input).
    crate::core::profile::annotate(&cfg, &mut body);
    let slug = cfg.slug.clone();
    let changes = settings_changes(existing.as_ref(), &cfg);
    if let (false, Some(old)) = (actor.is_operator(), &existing) {
        // An org admin cannot mark a domain verified by listing it: domains are the operator's
        // word or a DNS proof.
        if old.domains != cfg.domains {
            return Err(AppError::new(ErrorCode::Forbidden)
                .message("domains: only the operator sets domains here; claim yours with a DNS record (Domains)")
                .field("domains"));
        }
        if old.enforced && changes_sign_in(old, &cfg) {
            // Staged with the config it replaces (its base): applying it later changes only
            // what this request changed.
            Staging::new(&app.store).put(old, &cfg).await?;
            super::admin_members::record_settings(
                app,
                &actor,
                &slug,
                "org.settings.sso.staged",
                changes,
            )
            .await;
            return Ok(json(
                StatusCode::ACCEPTED,
                &serde_json::json!({
                    "staged": body,
                    "message": "Sign-in settings of an enforced organisation are staged, not applied, so that nobody is locked out."
                }),
            ));
        }
    }
    let outcome = dir.put(cfg).await;
    // This isolate's live sessions see the change at once; others within the cache window.
    app.state.orgs.forget(&slug);
    let status = match outcome? {
        PutOutcome::Created => StatusCode::CREATED,
        PutOutcome::Updated => StatusCode::OK,
    };
    let event = if existing.is_some() {
        "org.settings.sso"
    } else {
        "org.created"
    };
    if existing.is_none() || changes.as_object().is_some_and(|c| !c.is_empty()) {
        super::admin_members::record_settings(app, &actor, &slug, event, changes).await;
    }
    Ok(json(status, &body))
}

/// `DELETE /admin/orgs/{slug}`: 204, or 404 when there is no such org. Every session of the
/// org is revoked and its ledger (members, SCIM), domain claims and staged settings forgotten.
async fn delete<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &str,
) -> Result<Response, AppError> {
    authorize(app, req).await?;
    let slug = parse_slug(slug)?;
    existing_org(app, &slug).await?;
    // The ledger first: if it fails, nothing is deleted; if the KV delete then fails, the org
    // stays with every session revoked (the safe side).
    super::admin_members::purge(app, &slug).await?;
    super::admin_domains::release_org(app, &slug).await?;
    // Staged settings and their test mark belong to this org: an org later created under the
    // same slug (another customer) must not see, test or apply them.
    Staging::new(&app.store).delete(&slug).await?;
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

/// The fields that differ between `old` and `new` as `{field: {"old", "new"}}`; the client
/// secret only as `{"changed": true}` (never its value).
fn settings_changes(old: Option<&OrgConfig>, new: &OrgConfig) -> serde_json::Value {
    let new_json = new.redacted_json();
    let old_json = old
        .map(OrgConfig::redacted_json)
        .unwrap_or(serde_json::Value::Null);
    let mut out = serde_json::Map::new();
    if let Some(fields) = new_json.as_object() {
        for (k, v) in fields {
            let before = old_json.get(k).cloned().unwrap_or(serde_json::Value::Null);
            if &before != v && k != "client_secret_set" {
                out.insert(k.clone(), serde_json::json!({ "old": before, "new": v }));
            }
        }
    }
    let secret_changed = old.is_none_or(|o| !o.client_secret.ct_eq_str(new.client_secret.expose()));
    if secret_changed {
        out.insert(
            "client_secret".into(),
            serde_json::json!({ "changed": true }),
        );
    }
    serde_json::Value::Object(out)
}
