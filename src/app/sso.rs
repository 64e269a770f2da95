//! The SSO routes: `/sso/start` (home realm discovery + authorization redirect),
//! `/sso/callback` (code exchange + ID-token verification + session), `/sso/me`, `/sso/logout`.

use super::admin::directory_error;
use super::respond::{html, json, redirect, wants_json, AppError};
use super::{pages, App};
use crate::core::cookie::{read_cookie, CookiePolicy};
use crate::core::directory::OrgDirectory;
use crate::core::email::EmailAddress;
use crate::core::http::{HttpClient, HttpRequest, HttpResponse};
use crate::core::jose::verify::SignatureVerifier;
use crate::core::login::{complete_login, CallbackRequest, LoginContext, LoginError};
use crate::core::member::Denial;
use crate::core::oidc::authorize::{
    authorization_url, begin, sanitize_return_to, TransactionStore, TxError, TRANSACTION_TTL_SECS,
};
use crate::core::oidc::discovery::{DiscoveryError, ProviderMetadata};
use crate::core::org::{OrgConfig, OrgSlug};
use crate::core::secret::Secret;
use crate::core::session::{SessionId, SessionRecord, SessionStore};
use crate::core::store::KvStore;

/// Longest `email` query parameter read.
const MAX_EMAIL_PARAM: usize = 320;

fn cookie_policy<S, H, V>(app: &App<'_, S, H, V>) -> CookiePolicy {
    CookiePolicy {
        secure: app.config.secure_cookies(),
    }
}

fn cookie_error(e: impl std::fmt::Display) -> AppError {
    AppError::new(500, "internal_error", "The sign-in could not be completed.").log(e.to_string())
}

fn storage_error(e: impl std::fmt::Display) -> AppError {
    AppError::new(
        503,
        "storage_unavailable",
        "Storage is unavailable; try again.",
    )
    .log(e.to_string())
}

fn discovery_error(e: DiscoveryError) -> AppError {
    AppError::new(
        502,
        "idp_unavailable",
        "Your organisation's identity provider could not be reached or is misconfigured.",
    )
    .log(format!("discovery: {e}"))
}

async fn provider<S: KvStore, H: HttpClient, V>(
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
        .map_err(discovery_error)
}

/// A lookup failure: on the login page for browsers (the email they typed kept in the field,
/// when it is not over-long), JSON for API clients.
fn lookup_failure(
    req: &HttpRequest,
    err: AppError,
    return_to: &str,
) -> Result<HttpResponse, AppError> {
    if wants_json(req) {
        return Err(err);
    }
    let typed = req.query("email").filter(|e| e.len() <= MAX_EMAIL_PARAM);
    Ok(html(
        err.status,
        pages::login_page_with_email(Some(&err.message), Some(return_to), typed.as_deref()),
    ))
}

/// `GET /sso/start?email=E[&return_to=P]` or `?org=SLUG`: finds the org (one KV read on the
/// domain index, one on the org), then redirects to its IdP with state, nonce and PKCE.
pub(super) async fn start<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &HttpRequest,
) -> Result<HttpResponse, AppError> {
    let return_to = sanitize_return_to(&req.query("return_to").unwrap_or_default());
    let dir = OrgDirectory::new(&app.store);
    let (org, login_hint) = match (req.query("email"), req.query("org")) {
        (Some(email), None) => {
            if email.len() > MAX_EMAIL_PARAM {
                let e = AppError::new(400, "invalid_email", "This email address is too long.")
                    .field("email");
                return lookup_failure(req, e, &return_to);
            }
            let email = match EmailAddress::parse(&email) {
                Ok(e) => e,
                Err(e) => {
                    let e = AppError::new(
                        400,
                        "invalid_email",
                        format!("This is not a valid work email: {e}."),
                    )
                    .field("email");
                    return lookup_failure(req, e, &return_to);
                }
            };
            match dir
                .lookup_domain(email.domain())
                .await
                .map_err(directory_error)?
            {
                Some(org) => (org, Some(email.as_str().to_owned())),
                None => {
                    // Reveal nothing about other orgs: the same answer for every unknown domain.
                    let e = AppError::new(
                        404,
                        "unknown_domain",
                        format!("No organisation uses single sign-on for {}. Check the address, or sign in another way.", email.domain()),
                    );
                    return lookup_failure(req, e, &return_to);
                }
            }
        }
        (None, Some(slug)) => {
            let unknown = || {
                AppError::new(
                    404,
                    "unknown_org",
                    "No organisation with single sign-on has this name.",
                )
            };
            let Ok(slug) = OrgSlug::parse(&slug) else {
                return lookup_failure(req, unknown(), &return_to);
            };
            match dir.get(&slug).await.map_err(directory_error)? {
                Some(org) => (org, None),
                None => return lookup_failure(req, unknown(), &return_to),
            }
        }
        (Some(_), Some(_)) => {
            return Err(AppError::new(
                400,
                "invalid_request",
                "Give either email or org, not both.",
            )
            .field("email"))
        }
        (None, None) => {
            let e = AppError::new(400, "invalid_email", "Enter your work email address.")
                .field("email");
            return lookup_failure(req, e, &return_to);
        }
    };

    let meta = provider(app, &org).await?;
    let tx = begin(&app.random, &app.clock, &org.slug, &org.issuer, &return_to)
        .map_err(storage_error)?;
    let url = authorization_url(
        &meta,
        &org.client_id,
        &app.config.url("/sso/callback"),
        &org.scopes,
        &tx,
        login_hint.as_deref(),
    );
    let binding = Secret::new(app.random.token(32).map_err(storage_error)?);
    TransactionStore::new(&app.store)
        .save(&tx, &binding)
        .await
        .map_err(storage_error)?;
    let policy = cookie_policy(app);
    let cookie = policy
        .set_cookie(
            policy.tx_cookie(),
            binding.expose(),
            Some(TRANSACTION_TTL_SECS),
        )
        .map_err(cookie_error)?;
    let mut resp = redirect(302, url.as_str());
    resp.headers.push("set-cookie", cookie);
    resp.headers.set("cache-control", "no-store");
    Ok(resp)
}

fn tx_error(e: TxError) -> AppError {
    match e {
        TxError::Store(e) => storage_error(e),
        TxError::Unknown | TxError::Expired => AppError::new(
            400,
            "login_expired",
            "This sign-in has expired, was already used, or was started in another browser or tab. Please start again.",
        )
        .log(format!("transaction: {e}")),
        other => AppError::new(400, "invalid_callback", "This sign-in response is not valid for this browser. Please start again.")
            .log(format!("transaction: {other}")),
    }
}

fn denied(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::new(403, code, message)
}

/// The one place where a failed login becomes a status, a code and a message for the user.
impl From<LoginError> for AppError {
    fn from(e: LoginError) -> AppError {
        match e {
            LoginError::MalformedCallback(e) => AppError::new(
                400,
                "invalid_callback",
                format!("The sign-in response is malformed: {e}."),
            ),
            // OIDC Core 3.1.2.6: the IdP refused; show its reason (escaped by the page renderer).
            LoginError::IdpRefused { error, description } => {
                let mut msg = format!("Your identity provider did not sign you in ({error})");
                if let Some(d) = description {
                    msg.push_str(": ");
                    msg.push_str(&d);
                }
                msg.push('.');
                AppError::new(403, "idp_error", msg)
            }
            LoginError::NoTransactionCookie => AppError::new(
                400,
                "login_expired",
                "No sign-in is in progress in this browser (cookies may be blocked). Please start again.",
            ),
            LoginError::Transaction(e) => tx_error(e),
            LoginError::Directory(e) => directory_error(e),
            LoginError::OrgChanged => AppError::new(
                400,
                "login_expired",
                "Your organisation's sign-in settings changed during sign-in. Please start again.",
            ),
            LoginError::Discovery(e) => discovery_error(e),
            LoginError::IssuerMismatch(e) => AppError::new(
                400,
                "invalid_callback",
                "The sign-in response came from an unexpected identity provider.",
            )
            .log(e.to_string()),
            LoginError::NoClientAuth(e) => AppError::new(502, "idp_unsupported", "Your organisation's identity provider supports no client authentication method edge-sso offers.").log(e.to_string()),
            LoginError::TokenEndpointUnreachable(e) => AppError::new(
                502,
                "idp_unavailable",
                "Your organisation's identity provider could not be reached.",
            )
            .log(format!("token endpoint: {e}")),
            LoginError::GrantRejected(e) => AppError::new(
                400,
                "login_expired",
                "Your identity provider did not accept this sign-in (it may have been used already). Please start again.",
            )
            .log(format!("token endpoint: {e}")),
            LoginError::TokenEndpoint(e) => AppError::new(502, "idp_error", "Your organisation's identity provider answered with an error.")
                .log(format!("token endpoint: {e}")),
            LoginError::InvalidIdToken(e) => AppError::new(
                400,
                "invalid_id_token",
                "The identity provider's ID token failed verification.",
            )
            .log(format!("id token: {e}")),
            LoginError::KeysUnavailable(e) => AppError::new(
                502,
                "idp_unavailable",
                "Your organisation's identity provider keys could not be fetched.",
            )
            .log(format!("IdP keys unavailable: {e}")),
            LoginError::Denied(d) => denial(d),
            LoginError::Session(e) => storage_error(e),
        }
    }
}

fn denial(d: Denial) -> AppError {
    match d {
        Denial::EmailMissing => denied("email_missing", "Your identity provider did not share your email address (request the email scope and claim)."),
        Denial::EmailUnverified => denied(
            "email_unverified",
            "Your identity provider says this email address is not verified.",
        ),
        Denial::EmailInvalid(e) => denied(
            "email_invalid",
            format!("Your identity provider sent an email address edge-sso cannot use: {e}."),
        ),
        Denial::DomainMismatch(email) => denied(
            "email_domain_mismatch",
            format!(
                "The email {} is not in a domain of this organisation.",
                email.as_str()
            ),
        ),
        Denial::NoRole => denied("no_role", "You signed in, but your organisation grants your account no role here. Ask your administrator for access."),
    }
}

/// `GET /sso/callback`: the authorization response (OIDC Core 3.1.2.5 / 3.1.2.6).
pub(super) async fn callback<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &HttpRequest,
) -> Result<HttpResponse, AppError> {
    let policy = cookie_policy(app);
    let clear_tx = policy
        .clear_cookie(policy.tx_cookie())
        .map_err(cookie_error)?;
    let result = login(app, req, &policy).await;
    // Whatever happened, the transaction cookie is spent.
    let mut resp = match result {
        Ok(resp) => resp,
        Err(err) => {
            let mut resp = app.render_error(req, err);
            resp.headers.push("set-cookie", clear_tx);
            return Ok(resp);
        }
    };
    resp.headers.push("set-cookie", clear_tx);
    resp.headers.set("cache-control", "no-store");
    Ok(resp)
}

/// Reads the callback's inputs from the request, runs [`complete_login`], and answers with the
/// session cookie and a redirect to `return_to`.
async fn login<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &HttpRequest,
    policy: &CookiePolicy,
) -> Result<HttpResponse, AppError> {
    let cookies = req.headers.get("cookie");
    let sessions = SessionStore::with_cache(&app.store, app.state.sessions.clone());
    let redirect_uri = app.config.url("/sso/callback");
    let ctx = LoginContext {
        store: &app.store,
        http: &app.http,
        verifier: &app.verifier,
        clock: app.clock,
        random: app.random,
        discovery: &app.state.discovery,
        jwks: &app.state.jwks,
        sessions: &sessions,
        idp_policy: &app.config.idp_policy,
        redirect_uri: &redirect_uri,
        leeway_secs: app.config.leeway_secs,
    };
    let input = CallbackRequest {
        url: &req.url,
        binding: read_cookie(cookies, policy.tx_cookie()).map(Secret::new),
        previous_session: read_cookie(cookies, policy.session_cookie())
            .and_then(|c| SessionId::from_cookie(&c)),
    };
    let done = complete_login(&ctx, input).await?;
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
    let mut resp = redirect(302, &done.return_to);
    resp.headers.push("set-cookie", cookie);
    Ok(resp)
}

/// The session the browser's cookie names, if it is well formed.
fn session_id(req: &HttpRequest, policy: &CookiePolicy) -> Option<SessionId> {
    read_cookie(req.headers.get("cookie"), policy.session_cookie())
        .and_then(|c| SessionId::from_cookie(&c))
}

/// `GET /sso/me`: the org sessions this browser holds.
pub(super) async fn me<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &HttpRequest,
) -> Result<HttpResponse, AppError> {
    let policy = cookie_policy(app);
    let unauthenticated =
        || AppError::new(401, "unauthenticated", "No valid session: sign in first.");
    let id = session_id(req, &policy).ok_or_else(unauthenticated)?;
    let record = SessionStore::with_cache(&app.store, app.state.sessions.clone())
        .load_cached(&id, app.clock.now())
        .await
        .map_err(storage_error)?
        .ok_or_else(unauthenticated)?;
    let mut orgs = serde_json::Map::new();
    for (slug, s) in &record.orgs {
        orgs.insert(
            slug.to_string(),
            serde_json::json!({ "sub": s.sub(), "email": s.email().as_str(), "role": s.role().as_str(), "expires_at": s.expires_at().secs() }),
        );
    }
    Ok(json(200, &serde_json::json!({ "orgs": orgs })))
}

/// `POST /sso/logout[?org=SLUG]`: ends the session (all orgs, or one), clears the cookie when
/// nothing is left, and hands over to the IdP's end_session_endpoint when it has one
/// (OIDC RP-Initiated Logout 1.0 section 2).
pub(super) async fn logout<S: KvStore, H: HttpClient, V>(
    app: &App<'_, S, H, V>,
    req: &HttpRequest,
) -> Result<HttpResponse, AppError> {
    // CSRF: a cross-site page must not be able to log users out. Browsers send Sec-Fetch-Site
    // and Origin on POST; our pages use `Referrer-Policy: no-referrer`, under which a
    // same-origin form POST carries `Origin: null`, so Sec-Fetch-Site decides then.
    // Non-browser clients send neither.
    let origin = req.headers.get("origin");
    let site = req.headers.get("sec-fetch-site");
    let foreign_origin = origin.is_some_and(|o| o != "null" && o != app.config.origin_str());
    let cross_site = site.is_some_and(|s| s != "same-origin" && s != "none");
    let opaque_unvouched = origin == Some("null") && site.is_none();
    if foreign_origin || cross_site || opaque_unvouched {
        return Err(AppError::new(
            403,
            "cross_site",
            "Sign-out must come from this site.",
        ));
    }
    let org = match req.query("org") {
        Some(s) => Some(OrgSlug::parse(&s).map_err(|_| {
            AppError::new(400, "invalid_field", "org: not a valid organisation slug").field("org")
        })?),
        None => None,
    };
    let policy = cookie_policy(app);
    let now = app.clock.now();
    let mut location = "/".to_owned();
    let mut clear = true;
    if let Some(id) = session_id(req, &policy) {
        let store = SessionStore::with_cache(&app.store, app.state.sessions.clone());
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
    let mut resp = redirect(303, &location);
    if clear {
        resp.headers.push(
            "set-cookie",
            policy
                .clear_cookie(policy.session_cookie())
                .map_err(cookie_error)?,
        );
    }
    resp.headers.set("cache-control", "no-store");
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
