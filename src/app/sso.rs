//! The SSO routes: `/sso/start` (home realm discovery + authorization redirect),
//! `/sso/callback` (code exchange + ID-token verification + session), `/sso/me`, `/sso/logout`.

use super::error::{self, AppError, ErrorCode};
use super::respond::{html, json, redirect, wants_json};
use super::{pages, App, HeaderExt, Request, RequestExt, Response, ResponseExt};
use crate::core::cookie::{read_cookie, CookiePolicy};
use crate::core::directory::OrgDirectory;
use crate::core::email::EmailAddress;
use crate::core::http::HttpClient;
use crate::core::oidc::authorize::{
    authorization_url, begin, sanitize_return_to, TransactionStore, TRANSACTION_TTL_SECS,
};
use crate::core::oidc::callback::{check_iss, Callback};
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::idtoken::{IdTokenVerifier, UntrustedIdToken};
use crate::core::oidc::signature::SignatureVerifier;
use crate::core::oidc::token::{token_request, token_response, MAX_TOKEN_BODY};
use crate::core::org::{OrgConfig, OrgSlug};
use crate::core::roles::map_role;
use crate::core::secret::Secret;
use crate::core::session::{OrgSession, SessionStore};
use crate::core::store::KvStore;
use http::header::{CACHE_CONTROL, SET_COOKIE};
use http::StatusCode;

/// Longest `email` query parameter read.
const MAX_EMAIL_PARAM: usize = 320;

fn cookie_policy<S, H, V>(app: &App<'_, S, H, V>) -> CookiePolicy {
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
            &org.issuer,
            &app.config.idp_policy,
        )
        .await
        .map_err(AppError::from)
}

/// A lookup failure: on the login page for browsers, JSON for API clients.
fn lookup_failure(req: &Request, err: AppError, return_to: &str) -> Result<Response, AppError> {
    if wants_json(req) {
        return Err(err);
    }
    Ok(html(
        err.status(),
        pages::login_page(Some(&err.message), Some(return_to)),
    ))
}

/// `GET /sso/start?email=E[&return_to=P]` or `?org=SLUG`: finds the org (one KV read on the
/// domain index, one on the org), then redirects to its IdP with state, nonce and PKCE.
pub(super) async fn start<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
) -> Result<Response, AppError> {
    let return_to = sanitize_return_to(&req.query("return_to").unwrap_or_default());
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
            match dir.lookup_domain(email.domain()).await? {
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
            match dir.get(&slug).await? {
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

    let meta = provider(app, &org).await?;
    let tx = begin(
        &app.random,
        &app.clock,
        org.slug.as_str(),
        &org.issuer,
        &return_to,
    )
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
    let mut resp = redirect(StatusCode::FOUND, url.as_str())?;
    resp.append_header(SET_COOKIE, &cookie)?;
    resp.set_header(CACHE_CONTROL, "no-store")?;
    Ok(resp)
}

fn denied(code: ErrorCode, message: impl Into<String>) -> AppError {
    AppError::new(code).message(message)
}

/// `GET /sso/callback`: the authorization response (OIDC Core 3.1.2.5 / 3.1.2.6).
pub(super) async fn callback<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
) -> Result<Response, AppError> {
    let policy = cookie_policy(app);
    let clear_tx = policy
        .clear_cookie(policy.tx_cookie())
        .map_err(cookie_error)?;
    let clear_tx = super::respond::header_value(&clear_tx)?;
    // Whatever happened, the transaction cookie is spent: errors carry the clearing cookie too.
    let mut resp = complete_login(app, req, &policy)
        .await
        .map_err(|err| err.header(SET_COOKIE, clear_tx.clone()))?;
    resp.headers_mut().append(SET_COOKIE, clear_tx);
    resp.set_header(CACHE_CONTROL, "no-store")?;
    Ok(resp)
}

async fn complete_login<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
    policy: &CookiePolicy,
) -> Result<Response, AppError> {
    let now = app.clock.now();
    let params = Callback::from_query(&req.public_url(&app.config.public_origin))?;
    let (code, state, iss) = match params {
        // OIDC Core 3.1.2.6: the IdP refused; show its reason (escaped by the page renderer).
        Callback::Error { error, description } => {
            let mut msg = format!("Your identity provider did not sign you in ({error})");
            if let Some(d) = description {
                msg.push_str(": ");
                msg.push_str(&d);
            }
            msg.push('.');
            return Err(AppError::new(ErrorCode::IdpError).message(msg));
        }
        Callback::Code { code, state, iss } => (code, state, iss),
    };
    let binding = read_cookie(req.header("cookie"), policy.tx_cookie()).ok_or_else(|| {
        AppError::new(ErrorCode::LoginExpired).message(
            "No sign-in is in progress in this browser (cookies may be blocked). Please start again.",
        )
    })?;
    // Single use: the transaction is deleted before any check (RFC 9700 4.7; OIDC Core 3.1.2.7).
    let tx = TransactionStore::new(&app.store)
        .take(&Secret::new(binding), &state, now)
        .await
        .map_err(AppError::from)?;
    let slug = OrgSlug::parse(&tx.org)
        .map_err(|e| storage_error(format!("bad org in transaction: {e}")))?;
    let org = OrgDirectory::new(&app.store)
        .get(&slug)
        .await
        .map_err(AppError::from)?
        .filter(|org| org.issuer == tx.issuer)
        .ok_or_else(|| {
            AppError::new(ErrorCode::LoginExpired).message(
                "Your organisation's sign-in settings changed during sign-in. Please start again.",
            )
        })?;
    let meta = provider(app, &org).await?;
    // RFC 9207 2.4: the authorization response's `iss` must be our IdP's (mix-up defence).
    check_iss(iss.as_deref(), &meta).map_err(AppError::from)?;

    // OIDC Core 3.1.3.1: exchange the code at the token endpoint (never following redirects).
    let redirect_uri = app.config.url("/sso/callback");
    let request = token_request(
        &meta,
        &org.client_id,
        &org.client_secret,
        &code,
        &tx.pkce_verifier,
        &redirect_uri,
    )
    .map_err(AppError::from)?;
    let response = app.http.send(request, MAX_TOKEN_BODY).await.map_err(|e| {
        AppError::new(ErrorCode::IdpUnavailable)
            .message("Your organisation's identity provider could not be reached.")
            .log(format!("token endpoint: {e}"))
    })?;
    let tokens = token_response(&response).map_err(AppError::from)?;

    // OIDC Core 3.1.3.7: verify the ID token (signature via the IdP's JWKS, then every claim).
    let untrusted = UntrustedIdToken::parse(tokens.id_token.expose()).map_err(AppError::from)?;
    let verifier = IdTokenVerifier::new(org.issuer.clone(), org.client_id.clone())
        .with_leeway_secs(app.config.leeway_secs);
    let verified = app
        .state
        .jwks
        .verify_id_token(
            &app.store,
            &app.http,
            &app.verifier,
            &app.clock,
            &meta.jwks_uri,
            &verifier,
            &untrusted,
            &tx.nonce,
        )
        .await
        .map_err(AppError::from)?;

    // The user must belong to this org: a verified email in one of its domains (same
    // normalisation as the lookup), or an IdP shared by several orgs could sign anyone in.
    let email = verified
        .email()
        .ok_or_else(|| denied(ErrorCode::EmailMissing, "Your identity provider did not share your email address (request the email scope and claim)."))?;
    // `email_verified` false, or present but neither a boolean nor "true"/"false": refused.
    // Absent is accepted: some IdPs (Entra ID) never send it and verify emails themselves.
    let verified_claim_present = verified.claims().contains_key("email_verified");
    if verified.email_verified() == Some(false)
        || (verified_claim_present && verified.email_verified().is_none())
    {
        return Err(denied(
            ErrorCode::EmailUnverified,
            "Your identity provider says this email address is not verified.",
        ));
    }
    let email = EmailAddress::parse(email).map_err(|e| {
        denied(
            ErrorCode::EmailInvalid,
            format!("Your identity provider sent an email address edge-sso cannot use: {e}."),
        )
    })?;
    if !org.lists_domain(email.domain()) {
        return Err(denied(
            ErrorCode::EmailDomainMismatch,
            format!(
                "The email {} is not in a domain of this organisation.",
                email.as_str()
            ),
        ));
    }
    let role = map_role(&org.role_mapping, org.default_role, verified.claims()).ok_or_else(|| {
        denied(ErrorCode::NoRole, "You signed in, but your organisation grants your account no role here. Ask your administrator for access.")
    })?;

    let session = OrgSession {
        sub: verified.sub().to_owned(),
        email: email.as_str().to_owned(),
        role: role.as_str().to_owned(),
        auth_time: verified.auth_time().unwrap_or(now),
        expires_at: now.plus(org.session_ttl_secs),
        id_token_hint: Some(tokens.id_token.clone()),
        sid: verified.sid().map(str::to_owned),
        issuer: org.issuer.clone(),
    };
    // A fresh session id every login (no fixation); the old one is retired.
    let previous = read_cookie(req.header("cookie"), policy.session_cookie());
    let new = SessionStore::with_cache(&app.store, app.state.sessions.clone())
        .login(
            app.random,
            now,
            previous.as_deref(),
            org.slug.as_str(),
            session,
        )
        .await
        .map_err(storage_error)?;
    app.log.line(&format!(
        "login org={} sub_len={} role={}",
        org.slug.as_str(),
        verified.sub().len(),
        role.as_str()
    ));
    let cookie = policy
        .set_cookie(
            policy.session_cookie(),
            new.id.expose(),
            Some(new.record.max_age(now)),
        )
        .map_err(cookie_error)?;
    let mut resp = redirect(StatusCode::FOUND, &tx.return_to)?;
    resp.append_header(SET_COOKIE, &cookie)?;
    Ok(resp)
}

/// `GET /sso/me`: the org sessions this browser holds.
pub(super) async fn me<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
) -> Result<Response, AppError> {
    let policy = cookie_policy(app);
    let unauthenticated = || AppError::new(ErrorCode::Unauthenticated);
    let id =
        read_cookie(req.header("cookie"), policy.session_cookie()).ok_or_else(unauthenticated)?;
    let record = SessionStore::with_cache(&app.store, app.state.sessions.clone())
        .load_cached(&id, app.clock.now())
        .await
        .map_err(storage_error)?
        .ok_or_else(unauthenticated)?;
    let mut orgs = serde_json::Map::new();
    for (slug, s) in &record.orgs {
        orgs.insert(
            slug.clone(),
            serde_json::json!({ "sub": s.sub, "email": s.email, "role": s.role, "expires_at": s.expires_at.secs() }),
        );
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
    if let Some(id) = read_cookie(req.header("cookie"), policy.session_cookie()) {
        let store = SessionStore::with_cache(&app.store, app.state.sessions.clone());
        let removed = store
            .logout(&id, org.as_ref().map(OrgSlug::as_str), now)
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

/// The first removed org session whose IdP has an end_session_endpoint, as a logout URL.
async fn end_session_url<S: KvStore, H: HttpClient, V>(
    app: &App<'_, S, H, V>,
    removed: &crate::core::session::SessionRecord,
) -> Option<String> {
    let dir = OrgDirectory::new(&app.store);
    for (slug, s) in &removed.orgs {
        let org = dir.get(&OrgSlug::parse(slug).ok()?).await.ok()??;
        if org.issuer != s.issuer {
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
            if let Some(hint) = &s.id_token_hint {
                q.append_pair("id_token_hint", hint.expose());
            }
            q.append_pair("client_id", &org.client_id);
            q.append_pair("post_logout_redirect_uri", app.config.url("/").as_str());
        }
        return Some(url.into());
    }
    None
}
