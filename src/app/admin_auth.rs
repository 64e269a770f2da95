//! Who may administer an org (issue "Console"): the operator (`ADMIN_TOKEN`, everything, every
//! org), an org's own admins (members whose effective org role is `admin` in a valid SSO session
//! of that org, for that org only, by their session cookie), and the holder of the org's setup
//! link (before any SSO admin exists). Cookie-authenticated writes must come from our own origin
//! (`Sec-Fetch-Site: same-origin`, or an `Origin` equal to `PUBLIC_ORIGIN`) with a JSON content
//! type: a cross-site form cannot send that, and no CORS is ever answered.

use super::error::{AppError, ErrorCode};
use super::{App, HeaderExt, Request};
use crate::core::clock::UnixTime;
use crate::core::cookie::{read_cookie, DEV_SETUP_COOKIE, SECURE_SETUP_COOKIE};
use crate::core::directory::OrgDirectory;
use crate::core::gateway::live::live_identity;
use crate::core::ledger::{AuditMeta, Command, Reply};
use crate::core::org::{OrgSlug, Role};
use crate::core::secret::sha256_hex;
use crate::core::session::SessionId;
use crate::core::store::KvStore;

/// Who is making an admin request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// `Authorization: Bearer <ADMIN_TOKEN>`.
    Operator,
    /// An admin member of the org, by their SSO session.
    OrgAdmin {
        /// Their email.
        email: String,
    },
    /// The holder of the org's setup link.
    SetupLink,
}

impl Actor {
    /// The operator may do anything.
    pub fn is_operator(&self) -> bool {
        matches!(self, Actor::Operator)
    }

    /// The actor as the audit log names it.
    pub fn audit_name(&self) -> String {
        match self {
            Actor::Operator => "operator".into(),
            Actor::OrgAdmin { email } => email.clone(),
            Actor::SetupLink => "setup-link".into(),
        }
    }

    /// Audit attribution with a fresh correlation id (also logged).
    pub fn meta<S, H, V>(&self, app: &App<'_, S, H, V>) -> AuditMeta {
        let cid = app.random.token(9).unwrap_or_else(|_| "-".into());
        app.log.line(&format!(
            "admin change cid={cid} actor={}",
            match self {
                Actor::Operator => "operator",
                Actor::OrgAdmin { .. } => "org-admin",
                Actor::SetupLink => "setup-link",
            }
        ));
        AuditMeta {
            actor: self.audit_name(),
            cid,
        }
    }
}

/// The setup cookie's name under this deployment's cookie policy.
pub(super) fn setup_cookie<S, H, V>(app: &App<'_, S, H, V>) -> &'static str {
    if app.config.secure_cookies() {
        SECURE_SETUP_COOKIE
    } else {
        DEV_SETUP_COOKIE
    }
}

fn bearer(req: &Request) -> Option<&str> {
    req.header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The operator only (org lists, creating and deleting orgs, setup links).
pub(super) async fn operator<S, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
) -> Result<(), AppError> {
    match bearer(req) {
        Some(token) if app.config.admin_token.ct_eq_str(token) => Ok(()),
        _ => {
            // Failed authentications are rate limited per client; a right token never counts.
            app.rate_limit(req, crate::core::ratelimit::LimitClass::AuthFailure)
                .await?;
            Err(ErrorCode::Unauthorized.into())
        }
    }
}

/// A request with cookies that changes something must come from our own pages.
fn same_origin_write<S, H, V>(app: &App<'_, S, H, V>, req: &Request) -> Result<(), AppError> {
    if matches!(req.method().as_str(), "GET" | "HEAD") {
        return Ok(());
    }
    let refuse = |why: &str| {
        AppError::new(ErrorCode::CrossSite).message(format!(
            "Admin changes must come from this site's console ({why})."
        ))
    };
    let site_ok = match req.header("sec-fetch-site") {
        Some(site) => site == "same-origin",
        None => req.header("origin") == Some(app.config.origin_str().as_str()),
    };
    if !site_ok {
        return Err(refuse("cross-site request"));
    }
    let json = req
        .header("content-type")
        .and_then(|c| c.split(';').next())
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(refuse("Content-Type must be application/json"));
    }
    Ok(())
}

/// Whether the browser's SSO session makes its member an admin of `slug` (effective org role
/// `admin` under the org's current configuration); their email if so.
async fn session_admin<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
) -> Result<Option<String>, AppError> {
    let policy = super::sso::cookie_policy(app);
    let Some(id) = read_cookie(req.header("cookie"), policy.session_cookie())
        .and_then(|c| SessionId::from_cookie(&c))
    else {
        return Ok(None);
    };
    let now = app.clock.now();
    let Some(record) = app.sessions().load_cached(&id, now).await? else {
        return Ok(None);
    };
    let Some(session) = record.org(slug) else {
        return Ok(None);
    };
    let dir = OrgDirectory::new(&app.store);
    let org = app.state.orgs.get(&dir, slug, now).await?;
    let snapshot = app.state.snapshots.snapshot(app.ledger, slug, now).await?;
    let groups = snapshot.scim_groups(session);
    let admin = live_identity(slug, org.as_deref(), session, &groups)
        .ok()
        .filter(|i| i.roles.org == Some(Role::Admin));
    Ok(admin.map(|i| i.email))
}

/// Whether the browser holds `slug`'s live setup link.
async fn setup_link<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
) -> Result<bool, AppError> {
    let Some(value) = read_cookie(req.header("cookie"), setup_cookie(app)) else {
        return Ok(false);
    };
    let Some((cookie_slug, token)) = value.split_once('.') else {
        return Ok(false);
    };
    if cookie_slug != slug.as_str() {
        return Ok(false);
    }
    check_setup_token(app, slug, token).await
}

/// Asks the org's ledger whether `token` is its live setup link.
pub(super) async fn check_setup_token<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    slug: &OrgSlug,
    token: &str,
) -> Result<bool, AppError> {
    Ok(setup_link_expiry(app, slug, token).await?.is_some())
}

/// When `token`, if it is `slug`'s live setup link, expires.
async fn setup_link_expiry<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    slug: &OrgSlug,
    token: &str,
) -> Result<Option<UnixTime>, AppError> {
    // No org, no link: and no Durable Object called (and created) for a slug nobody has.
    let dir = OrgDirectory::new(&app.store);
    if app
        .state
        .orgs
        .get(&dir, slug, app.clock.now())
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let cmd = Command::CheckSetupLink {
        hash: sha256_hex(token.as_bytes()),
    };
    Ok(match app.ledger.call(slug, cmd).await? {
        Reply::SetupLink {
            valid: true,
            expires_at: Some(at),
        } => Some(at),
        _ => None,
    })
}

/// The operator, or an admin of `slug` (session or setup link). Anyone else: 401 (403 for a
/// cookie-authenticated write from another site).
pub(super) async fn for_org<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
) -> Result<Actor, AppError> {
    if bearer(req).is_some() {
        return operator(app, req).await.map(|()| Actor::Operator);
    }
    let actor = if let Some(email) = session_admin(app, req, slug).await? {
        Actor::OrgAdmin { email }
    } else if setup_link(app, req, slug).await? {
        Actor::SetupLink
    } else {
        return Err(AppError::new(ErrorCode::Unauthorized).message(
            "Sign in as an admin of this organisation, open its setup link, or give the operator token.",
        ));
    };
    same_origin_write(app, req)?;
    Ok(actor)
}

/// The orgs this browser may administer by cookie: those where its SSO session is an admin,
/// and the one its setup link is for.
pub(super) async fn cookie_orgs<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
) -> Result<(Option<String>, Vec<String>), AppError> {
    let mut orgs = Vec::new();
    let mut email = None;
    let policy = super::sso::cookie_policy(app);
    let now = app.clock.now();
    if let Some(id) = read_cookie(req.header("cookie"), policy.session_cookie())
        .and_then(|c| SessionId::from_cookie(&c))
    {
        if let Some(record) = app.sessions().load_cached(&id, now).await? {
            for slug in record.orgs.keys() {
                if let Some(e) = session_admin(app, req, slug).await? {
                    email.get_or_insert(e);
                    orgs.push(slug.as_str().to_owned());
                }
            }
        }
    }
    let setup = read_cookie(req.header("cookie"), setup_cookie(app));
    let parsed = setup
        .as_deref()
        .and_then(|v| v.split_once('.'))
        .and_then(|(s, t)| Some((OrgSlug::parse(s).ok()?, t)));
    if let Some((slug, token)) = parsed {
        if !orgs.iter().any(|o| o == slug.as_str()) && check_setup_token(app, &slug, token).await? {
            orgs.push(slug.as_str().to_owned());
        }
    }
    Ok((email, orgs))
}

/// `GET /admin/whoami`: what the console may show. `{"operator": true}` for the operator token;
/// `{"operator": false, "email", "orgs": [...]}` for cookie admins; 401 otherwise.
pub(super) async fn whoami<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
) -> Result<super::Response, AppError> {
    use super::respond::json;
    if bearer(req).is_some() {
        operator(app, req).await?;
        return Ok(json(
            http::StatusCode::OK,
            &serde_json::json!({ "operator": true }),
        ));
    }
    let (email, orgs) = cookie_orgs(app, req).await?;
    if orgs.is_empty() {
        return Err(AppError::new(ErrorCode::Unauthorized)
            .message("Sign in as an admin of an organisation, open its setup link, or give the operator token."));
    }
    Ok(json(
        http::StatusCode::OK,
        &serde_json::json!({ "operator": false, "email": email, "orgs": orgs }),
    ))
}

/// `GET /admin/setup?token=SLUG.TOKEN`: opens a setup link: the token goes into an HttpOnly,
/// SameSite=Lax cookie for the rest of its life, and the browser to the console of that org.
/// A navigation another site started (`Sec-Fetch-Site: cross-site` or `same-site`) gets a page
/// naming the org first, with a button that opens it.
pub(super) async fn open_setup_link<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
) -> Result<super::Response, AppError> {
    use super::RequestExt;
    let invalid = || {
        AppError::new(ErrorCode::InvalidRequest)
            .message("This setup link is not valid: it was revoked, has expired, or an admin has already signed in. Ask the operator for a new one.")
    };
    let value = req
        .query("token")
        .filter(|t| t.len() <= 200)
        .ok_or_else(invalid)?;
    let (slug, token) = value.split_once('.').ok_or_else(invalid)?;
    let slug = OrgSlug::parse(slug).map_err(|_| invalid())?;
    let expires_at = setup_link_expiry(app, &slug, token)
        .await?
        .ok_or_else(invalid)?;
    if super::sso::started_elsewhere(req) {
        // Another site's page (or a link in webmail) must not plant a setup cookie of an org the
        // visitor did not choose (an attacker's own org's link: its console would then look like
        // the visitor's own). As for a sign-in started elsewhere, the org is named and the
        // button re-requests this URL from our own page (Sec-Fetch-Site: same-origin).
        let mut resp = super::respond::html(
            http::StatusCode::OK,
            super::pages::confirm_setup_page(slug.as_str(), &[("token", value.to_owned())]),
        );
        // The page holds the link's token: never kept by a cache.
        super::ResponseExt::set_header(&mut resp, http::header::CACHE_CONTROL, "no-store")?;
        return Ok(resp);
    }
    let policy = super::sso::cookie_policy(app);
    let max_age = expires_at.secs().saturating_sub(app.clock.now().secs());
    let cookie = policy
        .set_cookie(setup_cookie(app), &value, Some(max_age))
        .map_err(|_| invalid())?;
    let mut resp = super::respond::redirect(
        http::StatusCode::SEE_OTHER,
        &format!("/admin#org={}", slug.as_str()),
    )?;
    super::ResponseExt::append_header(&mut resp, http::header::SET_COOKIE, &cookie)?;
    app.log
        .line(&format!("setup link opened org={}", slug.as_str()));
    Ok(resp)
}
