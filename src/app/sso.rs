//! The SSO routes: `/sso/start` (home realm discovery + authorization redirect),
//! `/sso/callback` (the login use case of [`crate::core::login`]), `/sso/me`, `/sso/logout`.
//! Only translation lives here: request in, core call, response out.

use super::error::{self, AppError, ErrorCode};
use super::respond::{html, json, redirect, wants_json};
use super::{pages, App, HeaderExt, Request, RequestExt, Response, ResponseExt};
use crate::core::cookie::{read_cookie, tx_cookies, CookiePolicy};
use crate::core::directory::OrgDirectory;
use crate::core::email::EmailAddress;
use crate::core::gateway::live::live_identity;
use crate::core::http::HttpClient;
use crate::core::jose::verify::SignatureVerifier;
use crate::core::ledger::{Command, Reply};
use crate::core::login::{complete_login, CallbackRequest, Completed, LoginContext, TestReport};
use crate::core::oidc::authorize::{
    authorization_url, begin, callback_state, sanitize_return_to, seal_transaction,
    transaction_started_at, TestLogin, MAX_TX_COOKIES, TRANSACTION_TTL_SECS,
};
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::org::Role;
use crate::core::org::{OrgConfig, OrgSlug};
use crate::core::session::{SessionId, SessionRecord};
use crate::core::staging::Staging;
use crate::core::store::KvStore;
use crate::core::test_login::TestLinkClaims;
use http::header::{CACHE_CONTROL, SET_COOKIE};
use http::{Method, StatusCode};
use std::rc::Rc;

/// Longest `email` query parameter read.
const MAX_EMAIL_PARAM: usize = 320;

pub(super) fn cookie_policy<S, H, V>(app: &App<'_, S, H, V>) -> CookiePolicy {
    CookiePolicy {
        secure: app.config.secure_cookies(),
    }
}

fn cookie_error(e: crate::core::cookie::CookieError) -> AppError {
    e.into()
}

fn storage_error(e: impl std::fmt::Display) -> AppError {
    error::storage(e)
}

pub(super) async fn provider<S: KvStore, H: HttpClient, V>(
    app: &App<'_, S, H, V>,
    org: &OrgConfig,
) -> Result<ProviderMetadata, AppError> {
    app.state
        .discovery
        .metadata(
            &app.store,
            &app.http,
            &app.clock,
            org.issuer.as_str(),
            &app.config.idp_policy,
        )
        .await
        .map_err(AppError::from)
}

/// A lookup failure: on the login page for browsers (the email they typed kept in the field,
/// when it is not over-long), JSON for API clients.
fn lookup_failure(req: &Request, err: AppError, return_to: &str) -> Result<Response, AppError> {
    if wants_json(req) {
        return Err(err);
    }
    let typed = req.query("email").filter(|e| e.len() <= MAX_EMAIL_PARAM);
    Ok(html(
        err.status(),
        pages::login_page_with_email(Some(&err.message), Some(return_to), typed.as_deref()),
    ))
}

/// The answer to `HEAD` on a route that starts or completes a sign-in: a link prefetcher or
/// preview must not burn a login, so nothing is looked up, written or set.
fn head_only() -> Result<Response, AppError> {
    let mut resp = html(StatusCode::OK, String::new());
    resp.set_header(CACHE_CONTROL, "no-store")?;
    Ok(resp)
}

/// Whether the browser says this navigation was started by another site (Fetch Metadata,
/// `Sec-Fetch-Site`): `cross-site`, or `same-site` (a sibling subdomain is another origin, and
/// the cookie-bomb threat assumes a hostile one). Clients that send no header are not browsers
/// and are not asked.
pub(super) fn started_elsewhere(req: &Request) -> bool {
    matches!(
        req.header("sec-fetch-site"),
        Some("cross-site" | "same-site")
    )
}

/// `GET /sso/start?email=E[&return_to=P]` or `?org=SLUG`: finds the org (one KV read on the
/// domain index and one on the org for an email, none when the isolate's org cache has them),
/// then redirects to its IdP with state, nonce and PKCE, the transaction sealed into its own
/// cookie: nothing is stored. A sign-in started by another site gets a confirmation page naming the org instead
/// (login CSRF into an org the user did not choose). `HEAD` does nothing.
pub(super) async fn start<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
) -> Result<Response, AppError> {
    if req.method() == Method::HEAD {
        return head_only();
    }
    let return_to = sanitize_return_to(&req.query("return_to").unwrap_or_default());
    let test = req.query("test");
    if test.is_some() && req.query("email").is_some() {
        return Err(AppError::new(ErrorCode::InvalidRequest)
            .message("A test sign-in link names its organisation, not an email.")
            .field("email"));
    }
    let dir = OrgDirectory::new(&app.store);
    let (org, login_hint) = match (req.query("email"), req.query("org")) {
        (Some(email), None) => {
            if email.len() > MAX_EMAIL_PARAM {
                let e = AppError::new(ErrorCode::InvalidEmail)
                    .message("This email address is too long.")
                    .field("email");
                return lookup_failure(req, e, &return_to);
            }
            let email = match EmailAddress::parse(&email) {
                Ok(e) => e,
                Err(e) => {
                    let e = AppError::new(ErrorCode::InvalidEmail)
                        .message(format!("This is not a valid work email: {e}."))
                        .field("email");
                    return lookup_failure(req, e, &return_to);
                }
            };
            // The isolate's org cache (ORG_CACHE_SECS) keeps the domain's pointer and the
            // org: the callback reads the org afresh.
            match app
                .state
                .orgs
                .by_domain(&dir, email.domain(), app.clock.now())
                .await?
            {
                Some(org) => (org, Some(email.as_str().to_owned())),
                None => {
                    // Reveal nothing about other orgs: the same answer for every unknown domain.
                    let e = AppError::new(ErrorCode::UnknownDomain).message(
                        format!("No organisation uses single sign-on for {}. Check the address, or sign in another way.", email.domain()),
                    );
                    return lookup_failure(req, e, &return_to);
                }
            }
        }
        (None, Some(slug)) => {
            let unknown = || {
                AppError::new(ErrorCode::UnknownOrg)
                    .message("No organisation with single sign-on has this name.")
            };
            let Ok(slug) = OrgSlug::parse(&slug) else {
                return lookup_failure(req, unknown(), &return_to);
            };
            // The isolate's org cache (ORG_CACHE_SECS): the callback reads the org afresh.
            match app.state.orgs.get(&dir, &slug, app.clock.now()).await? {
                Some(org) => (org, None),
                None => return lookup_failure(req, unknown(), &return_to),
            }
        }
        (Some(_), Some(_)) => {
            return Err(AppError::new(ErrorCode::InvalidRequest)
                .message("Give either email or org, not both.")
                .field("email"))
        }
        (None, None) => {
            let e = AppError::new(ErrorCode::InvalidEmail).field("email");
            return lookup_failure(req, e, &return_to);
        }
    };

    // A test sign-in link is checked before anything else is shown for it.
    let link = match &test {
        Some(token) => Some(open_test_link(app, &org.slug, token)?),
        None => None,
    };

    if started_elsewhere(req) {
        // The button re-requests this same URL from our page (Sec-Fetch-Site: same-origin).
        let fields: Vec<(&str, String)> = [
            ("email", login_hint.clone()),
            ("org", req.query("org")),
            ("test", test.clone()),
            ("return_to", Some(return_to.clone()).filter(|r| r != "/")),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        let mut resp = html(
            StatusCode::OK,
            pages::confirm_page(org.slug.as_str(), &fields),
        );
        resp.set_header(CACHE_CONTROL, "no-store")?;
        return Ok(resp);
    }

    // The isolate's cached config is shared, not copied; a test link may swap in the staged one.
    let (org, test) = match link {
        Some(link) => {
            let (cfg, test) = spend_test_link(app, (*org).clone(), &link).await?;
            (Rc::new(cfg), Some(test))
        }
        None => (org, None),
    };
    let meta = provider(app, &org).await?;
    let mut tx = begin(&app.random, &app.clock, &org.slug, &org.issuer, &return_to)
        .map_err(storage_error)?;
    tx.test = test;
    let url = authorization_url(
        &meta,
        &org.client_id,
        &app.config.url("/sso/callback"),
        &org.scopes,
        &tx,
        login_hint.as_deref(),
    );
    let policy = cookie_policy(app);
    let origin = app.config.origin_str();
    let name = policy.tx_cookie_for(tx.state.expose());
    let sealed = seal_transaction(&app.config.cookie_sealer, app.random, &origin, &name, &tx)
        .map_err(storage_error)?;
    let cookie = policy
        .set_cookie(&name, &sealed, Some(TRANSACTION_TTL_SECS))
        .map_err(cookie_error)?;
    let mut resp = redirect(StatusCode::FOUND, url.as_str())?;
    for old in oldest_tx_cookies(app, req, &policy, &origin) {
        let clear = policy.clear_cookie(&old).map_err(cookie_error)?;
        resp.append_header(SET_COOKIE, &clear)?;
    }
    resp.append_header(SET_COOKIE, &cookie)?;
    resp.set_header(CACHE_CONTROL, "no-store")?;
    Ok(resp)
}

/// The claims of the test sign-in link `token` for org `slug` (not yet spent).
fn open_test_link<S, H, V>(
    app: &App<'_, S, H, V>,
    slug: &OrgSlug,
    token: &str,
) -> Result<TestLinkClaims, AppError> {
    let origin = app.config.origin_str();
    TestLinkClaims::open(
        &app.config.cookie_sealer,
        &origin,
        token,
        slug,
        app.clock.now(),
    )
    .map_err(|e| {
        AppError::new(ErrorCode::LoginExpired)
            .message(format!(
                "This test sign-in link cannot be used: {e}. Get a new one from the console."
            ))
            .field("test")
    })
}

/// Spends the test sign-in `link` in the org's ledger (single use), and the configuration the
/// test signs in with: the org's active one, or its staged one.
async fn spend_test_link<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    org: OrgConfig,
    link: &TestLinkClaims,
) -> Result<(OrgConfig, TestLogin), AppError> {
    let spend = Command::SpendTransaction {
        id: link.spent_id(),
        until: link.expires_at,
    };
    match app.ledger.call(&org.slug, spend).await? {
        Reply::Spent { first: true } => {}
        Reply::Spent { first: false } => {
            return Err(AppError::new(ErrorCode::LoginExpired)
                .message("This test sign-in link was already used. Get a new one from the console.")
                .field("test"))
        }
        Reply::Rejected { message } => {
            return Err(AppError::new(ErrorCode::StorageUnavailable).message(message))
        }
        _ => return Err(storage_error("unexpected ledger reply")),
    }
    if !link.staged {
        return Ok((org, TestLogin { staged: None }));
    }
    match Staging::new(&app.store).get(&org.slug).await? {
        // What applying the staged settings would write now (the staged change merged onto the
        // org's stored config, read afresh: the isolate's copy may be older), and its name.
        Some(staged) => {
            let current = OrgDirectory::new(&app.store)
                .get(&org.slug)
                .await?
                .ok_or(ErrorCode::UnknownOrg)?;
            let digest = staged.test_digest(&current)?;
            Ok((
                staged.applied(&current).0,
                TestLogin {
                    staged: Some(digest),
                },
            ))
        }
        None => Err(AppError::new(ErrorCode::NotFound)
            .message("This organisation has no staged changes to test.")),
    }
}

/// The transaction cookies to clear so that, with the one being set, the browser holds at most
/// [`MAX_TX_COOKIES`]: those that do not open first, then the oldest.
fn oldest_tx_cookies<S, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    policy: &CookiePolicy,
    origin: &str,
) -> Vec<String> {
    let mut held: Vec<(u64, String)> = tx_cookies(policy, req.header("cookie"))
        .into_iter()
        .map(|(name, value)| {
            let at = transaction_started_at(&app.config.cookie_sealer, origin, &name, &value);
            (at.map_or(0, |t| t.secs()), name)
        })
        .collect();
    let excess = (held.len() + 1).saturating_sub(MAX_TX_COOKIES);
    held.sort();
    held.into_iter().take(excess).map(|(_, n)| n).collect()
}

/// `GET /sso/callback`: the authorization response (OIDC Core 3.1.2.5 / 3.1.2.6). `HEAD` does
/// nothing.
pub(super) async fn callback<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
) -> Result<Response, AppError> {
    if req.method() == Method::HEAD {
        return head_only();
    }
    let policy = cookie_policy(app);
    let url = req.public_url(&app.config.public_origin);
    // Whatever happened, the transaction cookie of this state is done: every answer clears it.
    let clear_tx = match callback_state(&url) {
        Some(state) => {
            let c = policy
                .clear_cookie(&policy.tx_cookie_for(&state))
                .map_err(cookie_error)?;
            Some(super::respond::header_value(&c)?)
        }
        None => None,
    };
    let mut resp = login(app, req, &policy)
        .await
        .map_err(|err| match &clear_tx {
            Some(c) => err.header(SET_COOKIE, c.clone()),
            None => err,
        })?;
    if let Some(c) = clear_tx {
        resp.headers_mut().append(SET_COOKIE, c);
    }
    resp.set_header(CACHE_CONTROL, "no-store")?;
    Ok(resp)
}

/// Reads the callback's inputs from the request, runs [`complete_login`], and answers with the
/// session cookie and a redirect to `return_to`.
async fn login<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
    policy: &CookiePolicy,
) -> Result<Response, AppError> {
    let cookies = req.header("cookie");
    let sessions = app.sessions();
    let redirect_uri = app.config.url("/sso/callback");
    let url = req.public_url(&app.config.public_origin);
    let ctx = LoginContext {
        store: &app.store,
        http: &app.http,
        verifier: &app.verifier,
        clock: app.clock,
        random: app.random,
        discovery: &app.state.discovery,
        jwks: &app.state.jwks,
        sessions: &sessions,
        ledger: app.ledger,
        snapshots: &app.state.snapshots,
        idp_policy: &app.config.idp_policy,
        redirect_uri: &redirect_uri,
        leeway_secs: app.config.leeway_secs,
        sealer: &app.config.cookie_sealer,
        cookies: *policy,
    };
    let input = CallbackRequest {
        url: &url,
        cookie_header: cookies,
        previous_session: read_cookie(cookies, policy.session_cookie())
            .and_then(|c| SessionId::from_cookie(&c)),
    };
    let done = match complete_login(&ctx, input).await? {
        Completed::SignedIn(done) => done,
        Completed::Tested(report) => return test_result(app, req, report).await,
    };
    app.log.line(&format!(
        "login org={} sub_len={} role={}",
        done.org.as_str(),
        done.member.sub().len(),
        done.member.role().as_str()
    ));
    let now = app.clock.now();
    let cookie = policy
        .set_cookie(
            policy.session_cookie(),
            done.session.id.expose(),
            Some(done.session.record.max_age(now)),
        )
        .map_err(cookie_error)?;
    let mut resp = redirect(StatusCode::FOUND, &done.return_to)?;
    resp.append_header(SET_COOKIE, &cookie)?;
    Ok(resp)
}

/// The answer to a test sign-in's callback: what happened, as a page (or JSON for
/// `Accept: application/json`), with no session and no token. A staged test that admits an
/// `admin` marks the staged config as tested, so an org admin may apply it.
async fn test_result<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    report: TestReport,
) -> Result<Response, AppError> {
    let mut marked = false;
    if let (Some(digest), Ok(ok)) = (&report.staged, &report.outcome) {
        if ok.member.role() == Role::Admin {
            let email = ok.member.email().as_str();
            Staging::new(&app.store)
                .mark_tested(&report.org, digest, email, app.clock.now())
                .await?;
            marked = true;
            let actor = super::admin_auth::Actor::OrgAdmin {
                email: email.to_owned(),
            };
            super::admin_members::record_event(
                app,
                &actor,
                &report.org,
                "org.settings.sso.tested",
                serde_json::json!({}),
            )
            .await;
        }
    }
    app.log.line(&format!(
        "test login org={} staged={} ok={}",
        report.org.as_str(),
        report.staged.is_some(),
        report.outcome.is_ok()
    ));
    let body = test_report_json(report, marked);
    if wants_json(req) {
        return Ok(json(StatusCode::OK, &body));
    }
    Ok(html(StatusCode::OK, pages::test_result_page(&body)))
}

/// The report as JSON: claims, identity, roles and matched rules, or the refusal.
fn test_report_json(report: TestReport, marked: bool) -> serde_json::Value {
    use serde_json::{json, Value};
    let mut out = json!({
        "test": true,
        "org": report.org.as_str(),
        "staged": report.staged.is_some(),
        "ok": report.outcome.is_ok(),
        "claims": report.claims.clone().map(Value::Object),
        "identity": report.identity.as_ref().map(|(sub, email)| json!({"id": sub, "email": email})),
    });
    let staged = report.staged.is_some();
    match report.outcome {
        Ok(ok) => {
            let groups: serde_json::Map<String, Value> = ok
                .roles
                .groups
                .iter()
                .map(|(name, role)| (name.clone(), role.as_str().into()))
                .collect();
            let matched: Vec<Value> = ok
                .matched_rules
                .iter()
                .filter_map(|&i| {
                    let rule = serde_json::to_value(ok.role_mapping.get(i)?).ok()?;
                    Some(json!({"index": i, "rule": rule}))
                })
                .collect();
            out["member"] = json!({
                "email": ok.member.email().as_str(),
                "role": ok.member.role().as_str(),
                "resource_groups": groups,
                "scim_groups": ok.scim_groups,
                "matched_rules": matched,
            });
            if staged {
                out["staged_tested"] = marked.into();
            }
        }
        Err(e) => {
            let detail = e.to_string();
            let app_error = AppError::from(e);
            out["refused"] = json!({
                "error": app_error.code.to_string(),
                "message": app_error.message,
                "detail": detail,
            });
        }
    }
    out
}

/// The session the browser's cookie names, if it is well formed.
fn session_id(req: &Request, policy: &CookiePolicy) -> Option<SessionId> {
    read_cookie(req.header("cookie"), policy.session_cookie())
        .and_then(|c| SessionId::from_cookie(&c))
}

/// `GET /sso/me`: the org sessions this browser holds.
pub(super) async fn me<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
) -> Result<Response, AppError> {
    let policy = cookie_policy(app);
    let unauthenticated = || AppError::new(ErrorCode::Unauthenticated);
    let id = session_id(req, &policy).ok_or_else(unauthenticated)?;
    let record = app
        .sessions()
        .load_cached(&id, app.clock.now())
        .await
        .map_err(storage_error)?
        .ok_or_else(unauthenticated)?;
    // Each org session is judged against its org's current config: a deleted org, a changed
    // issuer or client, a removed domain end it; a changed role mapping changes the roles shown.
    let now = app.clock.now();
    let dir = OrgDirectory::new(&app.store);
    let mut orgs = serde_json::Map::new();
    for (slug, s) in &record.orgs {
        let org = app.state.orgs.get(&dir, slug, now).await?;
        // Cached: the session store has just read the same org's snapshot.
        let snapshot = app.state.snapshots.snapshot(app.ledger, slug, now).await?;
        let Ok(identity) = live_identity(slug, org.as_deref(), s, &snapshot.scim_groups(s)) else {
            continue;
        };
        let groups: serde_json::Map<String, serde_json::Value> = identity
            .roles
            .groups
            .iter()
            .map(|(name, role)| (name.clone(), role.as_str().into()))
            .collect();
        orgs.insert(
            slug.to_string(),
            serde_json::json!({
                "sub": s.sub(),
                "email": s.email().as_str(),
                "role": identity.roles.org.map(|r| r.as_str()),
                "resource_groups": groups,
                "expires_at": s.expires_at().secs(),
            }),
        );
    }
    if orgs.is_empty() {
        return Err(unauthenticated());
    }
    Ok(json(StatusCode::OK, &serde_json::json!({ "orgs": orgs })))
}

/// `POST /sso/logout[?org=SLUG]`: ends the session (all orgs, or one), clears the cookie when
/// nothing is left, and hands over to the IdP's end_session_endpoint when it has one
/// (OIDC RP-Initiated Logout 1.0 section 2).
pub(super) async fn logout<S: KvStore, H: HttpClient, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
) -> Result<Response, AppError> {
    // CSRF: a cross-site page must not be able to log users out. Browsers send Sec-Fetch-Site
    // and Origin on POST; our pages use `Referrer-Policy: no-referrer`, under which a
    // same-origin form POST carries `Origin: null`, so Sec-Fetch-Site decides then.
    // Non-browser clients send neither.
    let origin = req.header("origin");
    let site = req.header("sec-fetch-site");
    let foreign_origin = origin.is_some_and(|o| o != "null" && o != app.config.origin_str());
    let cross_site = site.is_some_and(|s| s != "same-origin" && s != "none");
    let opaque_unvouched = origin == Some("null") && site.is_none();
    if foreign_origin || cross_site || opaque_unvouched {
        return Err(AppError::new(ErrorCode::CrossSite));
    }
    let org = match req.query("org") {
        Some(s) => Some(OrgSlug::parse(&s).map_err(|_| {
            AppError::new(ErrorCode::InvalidField)
                .message("org: not a valid organisation slug")
                .field("org")
        })?),
        None => None,
    };
    let policy = cookie_policy(app);
    let now = app.clock.now();
    let mut location = "/".to_owned();
    let mut clear = true;
    if let Some(id) = session_id(req, &policy) {
        let store = app.sessions();
        let removed = store
            .logout(&id, org.as_ref(), now)
            .await
            .map_err(storage_error)?;
        if org.is_some() {
            clear = store.load(&id, now).await.map_err(storage_error)?.is_none();
        }
        if let Some(removed) = removed {
            if let Some(url) = end_session_url(app, &removed).await {
                location = url;
            }
        }
    }
    let mut resp = redirect(StatusCode::SEE_OTHER, &location)?;
    if clear {
        let cleared = policy
            .clear_cookie(policy.session_cookie())
            .map_err(cookie_error)?;
        resp.append_header(SET_COOKIE, &cleared)?;
    }
    resp.set_header(CACHE_CONTROL, "no-store")?;
    Ok(resp)
}

/// The first removed org session whose IdP has an end_session_endpoint, as a logout URL. An org
/// that is gone, unreadable, re-pointed at another issuer or whose IdP is unreachable is skipped,
/// not the end of the search.
async fn end_session_url<S: KvStore, H: HttpClient, V>(
    app: &App<'_, S, H, V>,
    removed: &SessionRecord,
) -> Option<String> {
    let dir = OrgDirectory::new(&app.store);
    for (slug, s) in &removed.orgs {
        let Ok(Some(org)) = dir.get(slug).await else {
            continue;
        };
        if org.issuer != *s.issuer() {
            continue;
        }
        let Ok(meta) = provider(app, &org).await else {
            continue;
        };
        let Some(mut url) = meta.end_session_endpoint.clone() else {
            continue;
        };
        {
            let mut q = url.query_pairs_mut();
            if let Some(hint) = s.id_token_hint() {
                q.append_pair("id_token_hint", hint.expose());
            }
            q.append_pair("client_id", org.client_id.as_str());
            q.append_pair("post_logout_redirect_uri", app.config.url("/").as_str());
        }
        return Some(url.into());
    }
    None
}
