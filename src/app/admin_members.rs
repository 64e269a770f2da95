//! The admin API of an org's members and their offboarding: `GET /admin/orgs/{slug}/members`,
//! `POST /admin/orgs/{slug}/revoke`, and the SCIM token (`POST`/`DELETE
//! /admin/orgs/{slug}/scim-token`). Everything here is the org's ledger's.

use super::admin::{body_bytes, existing_org};
use super::admin_auth::{for_org, Actor};
use super::error::{AppError, ErrorCode};
use super::respond::{json, with_body};
use super::{App, Body, Request, RequestExt, Response};
use crate::core::email::EmailAddress;
use crate::core::ledger::{AuditEvent, Command, Reply, Selector, MAX_AUDIT_PAGE, MAX_MEMBERS_PAGE};
use crate::core::org::OrgSlug;
use crate::core::secret::sha256_hex;
use crate::core::store::{KvStore, StoreError};
use http::StatusCode;
use serde_json::{json, Value};

/// Default page size of the member list.
pub const DEFAULT_MEMBERS_PAGE: usize = 50;
/// Longest `sub` or `email` a revoke names.
const MAX_SELECTOR_CHARS: usize = 320;
/// How long a setup link is valid (7 days).
pub const SETUP_LINK_SECS: u64 = 7 * 86_400;
/// Random bytes in a SCIM token (256 bits).
const SCIM_TOKEN_BYTES: usize = 32;

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::new(ErrorCode::InvalidField)
        .message(format!("{field}: {}", message.into()))
        .field(field)
}

fn odd_reply(r: Reply) -> AppError {
    AppError::from(StoreError(format!("unexpected ledger reply: {r:?}")))
}

/// Calls the org's ledger; a refusal (a limit) is a 503 with its message. Writes are attributed
/// to `actor` in the audit log.
async fn call<S, H, V>(
    app: &App<'_, S, H, V>,
    actor: &Actor,
    org: &OrgSlug,
    cmd: Command,
) -> Result<Reply, AppError> {
    let cmd = match cmd {
        read @ (Command::Members { .. }
        | Command::Audit { .. }
        | Command::Snapshot { .. }
        | Command::CheckSetupLink { .. }) => read,
        write => Command::Audited {
            meta: actor.meta(app),
            cmd: Box::new(write),
        },
    };
    match app.ledger.call(org, cmd).await? {
        Reply::Rejected { message } => {
            Err(AppError::new(ErrorCode::StorageUnavailable).message(message))
        }
        r => Ok(r),
    }
}

/// The `limit` query parameter of a paged list: 1 to `max`, [`DEFAULT_MEMBERS_PAGE`] when
/// absent.
fn page_limit(req: &Request, max: usize) -> Result<usize, AppError> {
    match req.query("limit") {
        None => Ok(DEFAULT_MEMBERS_PAGE),
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| invalid("limit", format!("must be a whole number from 1 to {max}"))),
    }
}

/// A fresh 256-bit bearer value (SCIM tokens, setup links); a failed CSPRNG is a 503.
fn fresh_token<S, H, V>(app: &App<'_, S, H, V>) -> Result<String, AppError> {
    app.random
        .token(SCIM_TOKEN_BYTES)
        .map_err(|e| AppError::from(StoreError(format!("CSPRNG: {e}"))))
}

/// `GET /admin/orgs/{slug}/members[?limit=&cursor=]`.
pub(super) async fn list<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
) -> Result<Response, AppError> {
    let actor = for_org(app, req, slug).await?;
    existing_org(app, slug).await?;
    let limit = page_limit(req, MAX_MEMBERS_PAGE)?;
    let cursor = req.query("cursor");
    if cursor
        .as_ref()
        .is_some_and(|c| c.is_empty() || c.len() > 64)
    {
        return Err(invalid(
            "cursor",
            "must be the next_cursor of a previous page",
        ));
    }
    match call(app, &actor, slug, Command::Members { limit, cursor }).await? {
        Reply::Members {
            members,
            next_cursor,
        } => Ok(json(
            StatusCode::OK,
            &json!({ "members": members, "next_cursor": next_cursor }),
        )),
        r => Err(odd_reply(r)),
    }
}

/// The one selector of a revoke body: exactly one of `{"email": ...}`, `{"sub": ...}`,
/// `{"all": true}`.
fn selector(body: &[u8]) -> Result<Selector, AppError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        invalid(
            "body",
            "must be a JSON object with exactly one of email, sub or all",
        )
    })?;
    let Value::Object(map) = value else {
        return Err(invalid(
            "body",
            "must be a JSON object with exactly one of email, sub or all",
        ));
    };
    if let Some(k) = map
        .keys()
        .find(|k| !["email", "sub", "all"].contains(&k.as_str()))
    {
        let k: String = k.chars().take(64).collect();
        return Err(invalid(
            &k,
            "unknown field (give exactly one of email, sub or all)",
        ));
    }
    if map.len() != 1 {
        return Err(invalid("body", "give exactly one of email, sub or all"));
    }
    let text = |field: &str, v: &Value| -> Result<String, AppError> {
        match v.as_str().map(str::trim) {
            Some(s) if !s.is_empty() && s.chars().count() <= MAX_SELECTOR_CHARS => Ok(s.to_owned()),
            _ => Err(invalid(
                field,
                format!("must be a non-empty string of at most {MAX_SELECTOR_CHARS} characters"),
            )),
        }
    };
    let (key, v) = map.iter().next().ok_or_else(|| invalid("body", "empty"))?;
    match key.as_str() {
        "email" => {
            let e = text("email", v)?;
            if !e.contains('@') {
                return Err(invalid("email", "must be an email address"));
            }
            // Sessions and sign-ins carry the address with its domain normalised (IDNA, as
            // `EmailAddress` does: `bücher.de` is `xn--bcher-kva.de`); a revocation keyed on
            // the form as written would match none of them.
            let e = EmailAddress::parse(&e).map_or(e, |a| a.as_str().to_owned());
            Ok(Selector::Email(e))
        }
        "sub" => Ok(Selector::Sub(text("sub", v)?)),
        _ => match v {
            Value::Bool(true) => Ok(Selector::All),
            _ => Err(invalid("all", "must be true")),
        },
    }
}

/// `POST /admin/orgs/{slug}/revoke` -> `{"revoked": n}`: ends the named sessions everywhere
/// within the revocation bound (this isolate at once).
pub(super) async fn revoke<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
) -> Result<Response, AppError> {
    let actor = for_org(app, req, slug).await?;
    let selector = selector(body_bytes(req)?)?;
    existing_org(app, slug).await?;
    let reply = call(app, &actor, slug, Command::Revoke { selector }).await?;
    app.state.snapshots.forget(slug);
    match reply {
        Reply::Revoked { revoked } => {
            app.log
                .line(&format!("revoke org={} revoked={revoked}", slug.as_str()));
            Ok(json(StatusCode::OK, &json!({ "revoked": revoked })))
        }
        r => Err(odd_reply(r)),
    }
}

/// `POST /admin/orgs/{slug}/scim-token`: mints the org's SCIM token, shown once; only its
/// SHA-256 is stored, and minting again replaces it.
pub(super) async fn mint_scim_token<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
) -> Result<Response, AppError> {
    let actor = for_org(app, req, slug).await?;
    existing_org(app, slug).await?;
    let token = fresh_token(app)?;
    let hash = sha256_hex(token.as_bytes());
    match call(
        app,
        &actor,
        slug,
        Command::SetScimToken { hash: Some(hash) },
    )
    .await?
    {
        Reply::Done => {}
        r => return Err(odd_reply(r)),
    }
    app.log
        .line(&format!("scim-token minted org={}", slug.as_str()));
    let base_url = app.config.url(&format!("/scim/v2/{}", slug.as_str()));
    Ok(json(
        StatusCode::CREATED,
        &json!({ "token": token, "base_url": base_url.as_str() }),
    ))
}

/// `DELETE /admin/orgs/{slug}/scim-token`: disables SCIM for the org (204).
pub(super) async fn delete_scim_token<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
) -> Result<Response, AppError> {
    let actor = for_org(app, req, slug).await?;
    existing_org(app, slug).await?;
    match call(app, &actor, slug, Command::SetScimToken { hash: None }).await? {
        Reply::Done => Ok(with_body(
            StatusCode::NO_CONTENT,
            "text/plain; charset=utf-8",
            Body::Empty,
        )),
        r => Err(odd_reply(r)),
    }
}

/// Forgets the org's ledger and revokes every session of it (the org is being deleted).
pub(super) async fn purge<S, H, V>(app: &App<'_, S, H, V>, slug: &OrgSlug) -> Result<(), AppError> {
    let reply = call(app, &Actor::Operator, slug, Command::Purge).await?;
    app.state.snapshots.forget(slug);
    match reply {
        Reply::Done => Ok(()),
        r => Err(odd_reply(r)),
    }
}

/// `GET /admin/orgs/{slug}/audit[?limit=&cursor=&type=]`: the audit log, newest first.
pub(super) async fn audit<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
) -> Result<Response, AppError> {
    let actor = for_org(app, req, slug).await?;
    existing_org(app, slug).await?;
    let limit = page_limit(req, MAX_AUDIT_PAGE)?;
    let cursor = match req.query("cursor") {
        None => None,
        Some(c) => Some(
            c.parse::<u64>()
                .map_err(|_| invalid("cursor", "must be the next_cursor of a previous page"))?,
        ),
    };
    let event_type = req.query("type");
    let name_ok = |t: &str| {
        !t.is_empty()
            && t.len() <= 64
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_')
    };
    if event_type.as_deref().is_some_and(|t| !name_ok(t)) {
        return Err(invalid(
            "type",
            "must be an event name or family such as org.scim",
        ));
    }
    let cmd = Command::Audit {
        limit,
        cursor,
        event_type,
    };
    match call(app, &actor, slug, cmd).await? {
        Reply::Audit {
            events,
            next_cursor,
        } => Ok(json(
            StatusCode::OK,
            &json!({ "events": events, "next_cursor": next_cursor }),
        )),
        r => Err(odd_reply(r)),
    }
}

/// Records an operator's configuration change of `slug` (`changes`: field -> {old, new}, secrets
/// only as `"changed": true`). A failure is logged, never fails the change itself, which is
/// already stored.
pub(super) async fn record_settings<S, H, V>(
    app: &App<'_, S, H, V>,
    actor: &Actor,
    slug: &OrgSlug,
    event: &str,
    changes: Value,
) {
    record_event(app, actor, slug, event, json!({ "changes": changes })).await;
}

/// `POST /admin/orgs/{slug}/setup-link` (operator): a one-time link, valid 7 days, that opens
/// the console for this org only; it ends at the first sign-in of a member whose role is
/// `admin`, or when revoked (`DELETE`). Minting again replaces it.
pub(super) async fn mint_setup_link<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
) -> Result<Response, AppError> {
    super::admin_auth::operator(app, req).await?;
    existing_org(app, slug).await?;
    let token = fresh_token(app)?;
    let expires_at = app.clock.now().plus(SETUP_LINK_SECS);
    let cmd = Command::SetSetupLink {
        hash: Some(sha256_hex(token.as_bytes())),
        expires_at,
    };
    match call(app, &Actor::Operator, slug, cmd).await? {
        Reply::Done => {}
        r => return Err(odd_reply(r)),
    }
    let mut url = app.config.url("/admin/setup");
    url.query_pairs_mut()
        .append_pair("token", &format!("{}.{token}", slug.as_str()));
    Ok(json(
        StatusCode::CREATED,
        &json!({ "url": url.as_str(), "expires_at": expires_at }),
    ))
}

/// `DELETE /admin/orgs/{slug}/setup-link` (operator): revokes it (204).
pub(super) async fn revoke_setup_link<S: KvStore, H, V>(
    app: &App<'_, S, H, V>,
    req: &Request,
    slug: &OrgSlug,
) -> Result<Response, AppError> {
    super::admin_auth::operator(app, req).await?;
    existing_org(app, slug).await?;
    let cmd = Command::SetSetupLink {
        hash: None,
        expires_at: app.clock.now(),
    };
    match call(app, &Actor::Operator, slug, cmd).await? {
        Reply::Done => Ok(with_body(
            StatusCode::NO_CONTENT,
            "text/plain; charset=utf-8",
            Body::Empty,
        )),
        r => Err(odd_reply(r)),
    }
}

/// Records `event` about `slug` by `actor` with `detail` (domain claims and checks). A failure
/// is logged, never fails the change itself.
pub(super) async fn record_event<S, H, V>(
    app: &App<'_, S, H, V>,
    actor: &Actor,
    slug: &OrgSlug,
    event: &str,
    detail: Value,
) {
    let meta = actor.meta(app);
    let event = AuditEvent::new(event, &meta, app.clock.now(), detail);
    if app
        .ledger
        .call(slug, Command::Record { event })
        .await
        .is_err()
    {
        app.log.line(&format!(
            "audit record failed org={} cid={}",
            slug.as_str(),
            meta.cid
        ));
    }
}
