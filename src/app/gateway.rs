//! The access gateway: mandatory SSO in front of the hub's origin (`ORIGIN_URL`), for every
//! request to `/orgs/{slug}` and `/orgs/{slug}/...`.
//!
//! A pipeline of small stages, each decided by the core: canonical path
//! ([`classify_path`]) -> org config (isolate cache) -> the browser's org session, judged against
//! the org's *current* config ([`live_identity`]) -> the decision ([`decide`]: forward, send the
//! browser to sign in, 401 for scripts, 403 for want of a role) -> the request rewrite (hop-by-hop
//! headers, spoofed `Edge-SSO-*` headers and edge-sso's own cookies dropped; identity headers and
//! the signed assertion added). The edge then streams the body both ways
//! ([`GateOutcome::Forward`]); nothing here reads a body.

use super::error::{AppError, ErrorCode};
use super::respond::{json, redirect};
use super::router::RouteGroup;
use super::{App, HeaderExt, Request, RequestExt, Response, ResponseExt};
use crate::core::clock::UnixTime;
use crate::core::cookie::read_cookie;
use crate::core::directory::OrgDirectory;
use crate::core::gateway::assertion::{assertion_claims, MAX_ASSERTION_TTL_SECS};
use crate::core::gateway::headers::{
    forward_request_headers, identity_headers, EDGE_SSO_COOKIES, EDGE_SSO_HEADER_PREFIX,
};
use crate::core::gateway::live::live_identity;
use crate::core::gateway::path::names_orgs;
use crate::core::gateway::{classify_path, decide, is_navigation, Decision, DecisionInput};
use crate::core::gateway::{GatedPath, Identity, PathClass};
use crate::core::http::HttpClient;
use crate::core::jose::sign::{sign_compact, Signer};
use crate::core::jose::verify::SignatureVerifier;
use crate::core::secret::sha256_hex;
use crate::core::session::SessionId;
use crate::core::store::KvStore;
use http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use std::cell::RefCell;
use std::collections::HashMap;

/// The signed identity header the origin verifies against `/.well-known/jwks.json`.
pub const ASSERTION_HEADER: &str = "Edge-SSO-Assertion";
/// Lifetime of an assertion (at most [`MAX_ASSERTION_TTL_SECS`]).
pub const ASSERTION_TTL_SECS: u64 = MAX_ASSERTION_TTL_SECS;
/// How long a signed assertion is reused for the same session, org and roles: the origin always
/// receives one with at least `ASSERTION_TTL_SECS - ASSERTION_REUSE_SECS` seconds left.
pub const ASSERTION_REUSE_SECS: u64 = 60;
/// Most assertions kept per isolate.
pub const ASSERTION_CACHE_MAX_ENTRIES: usize = 1024;

/// What the edge does with a gated request.
#[derive(Debug)]
pub enum GateOutcome {
    /// Answer with this response (a refusal, a sign-in redirect, or 404 when the gateway is off).
    Respond(Response),
    /// Forward to the origin, streaming the body both ways.
    Forward(ForwardPlan),
}

/// A request the gateway lets through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardPlan {
    /// `ORIGIN_URL`'s origin + the path exactly as judged + the query.
    pub url: String,
    /// The request headers to send: filtered, plus the identity when there is one.
    pub headers: Vec<(String, String)>,
    /// The member the origin is told about, if any.
    pub identity: Option<Identity>,
}

/// Whether `path` is one the gateway judges: `/orgs`, `/orgs/...` and every disguise of that
/// prefix [`classify_path`] refuses ([`names_orgs`]), plus paths starting with an empty segment
/// (refused as non-canonical), so that none of them reaches another route.
pub fn is_gated_path(path: &str) -> bool {
    names_orgs(path) || path.starts_with("//")
}

/// Signed assertions by (session, org, identity), reused for [`ASSERTION_REUSE_SECS`].
#[derive(Debug, Default)]
pub struct AssertionCache {
    entries: RefCell<HashMap<String, (String, UnixTime)>>,
}

impl AssertionCache {
    fn get(&self, key: &str, now: UnixTime) -> Option<String> {
        let entries = self.entries.borrow();
        let (jws, at) = entries.get(key)?;
        let fresh = now.secs() >= at.secs() && now.secs() < at.secs() + ASSERTION_REUSE_SECS;
        fresh.then(|| jws.clone())
    }
    fn put(&self, key: String, jws: String, now: UnixTime) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= ASSERTION_CACHE_MAX_ENTRIES {
            entries.retain(|_, (_, at)| now.secs() < at.secs() + ASSERTION_REUSE_SECS);
            if entries.len() >= ASSERTION_CACHE_MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (jws, now));
    }
}

impl<S: KvStore, H: HttpClient, V: SignatureVerifier> App<'_, S, H, V> {
    /// Judges one request under `/orgs/` (see the module docs). `signer` signs the assertion
    /// with `ASSERTION_SIGNING_KEY` (WebCrypto at the edge, a Rust signer natively); without
    /// `ORIGIN_URL` and a signer the gateway is off and every gated path is a 404. Responses
    /// of our own are hardened like every app response; forwarded ones are the edge's to stream.
    pub async fn gate<G: Signer>(&self, req: &Request, signer: Option<&G>) -> GateOutcome {
        match self.judge(req, signer).await {
            Ok(Judged::Forward(plan)) => GateOutcome::Forward(plan),
            Ok(Judged::Respond(resp)) => {
                GateOutcome::Respond(self.deployed(RouteGroup::App.finish(resp)))
            }
            Err(err) => GateOutcome::Respond(
                self.deployed(RouteGroup::App.finish(self.render_error(req, err))),
            ),
        }
    }

    async fn judge<G: Signer>(
        &self,
        req: &Request,
        signer: Option<&G>,
    ) -> Result<Judged, AppError> {
        let (Some(origin), Some(keys), Some(signer)) =
            (&self.config.origin_url, &self.config.assertion, signer)
        else {
            return Err(ErrorCode::NotFound.into());
        };
        let path = classify_path(req.path()).map_err(|refusal| {
            AppError::new(ErrorCode::InvalidPath).log(format!("path refused: {refusal}"))
        })?;
        let PathClass::Gated(path) = path else {
            return Err(ErrorCode::NotFound.into());
        };
        let now = self.clock.now();
        let org = self
            .state
            .orgs
            .get(&OrgDirectory::new(&self.store), &path.slug, now)
            .await?;
        let (session_id, identity) = self.member_of(req, &path, org.as_deref(), now).await?;
        let method = req.method().as_str();
        let navigation = is_navigation(method, |name| req.header(name));
        let query = req.uri().query();
        let decision = decide(&DecisionInput {
            path: &path,
            query,
            method,
            navigation,
            org: org.as_deref(),
            identity: identity.as_ref(),
        });
        match decision {
            Decision::Forward { identity } => {
                let mut url = origin.origin().ascii_serialization();
                url.push_str(req.path());
                if let Some(q) = query {
                    url.push('?');
                    url.push_str(q);
                }
                let headers = req
                    .headers()
                    .iter()
                    // Any UTF-8 value passes (not only visible ASCII), as the edge read it.
                    .filter_map(|(k, v)| {
                        Some((k.as_str(), std::str::from_utf8(v.as_bytes()).ok()?))
                    });
                let mut headers = forward_request_headers(headers, &EDGE_SSO_COOKIES);
                if let (Some(id), Some(session)) = (&identity, &session_id) {
                    headers.extend(identity_headers(id));
                    let jws = self.assertion(signer, keys, session, id, now).await?;
                    headers.push((ASSERTION_HEADER.to_owned(), jws));
                }
                debug_assert!(
                    identity.is_some()
                        || !headers
                            .iter()
                            .any(|(k, _)| k.len() >= EDGE_SSO_HEADER_PREFIX.len()
                                && k[..EDGE_SSO_HEADER_PREFIX.len()]
                                    .eq_ignore_ascii_case(EDGE_SSO_HEADER_PREFIX))
                );
                Ok(Judged::Forward(ForwardPlan {
                    url,
                    headers,
                    identity,
                }))
            }
            Decision::LoginRedirect { location } => {
                let mut resp = redirect(StatusCode::FOUND, &location)?;
                resp.set_header(CACHE_CONTROL, "no-store")?;
                Ok(Judged::Respond(resp))
            }
            // Never a redirect a script cannot see: 401 with where to sign in.
            Decision::SsoRequired { login_url } => Err(AppError::new(ErrorCode::SsoRequired)
                .extra("login_url", login_url)
                .header(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("EdgeSSO realm=\"organisation single sign-on\""),
                )),
            Decision::InsufficientRole { required } => {
                Err(AppError::new(ErrorCode::InsufficientRole)
                    .message(format!(
                        "Your role in this organisation does not allow this: it needs the {} role.",
                        required.as_str()
                    ))
                    .extra("required_role", required.as_str()))
            }
        }
    }

    /// The browser's session id and, when it holds a valid session of the path's org under the
    /// org's current config, the member. A storage failure fails closed (an error, never an
    /// anonymous forward that would hide the member's session).
    async fn member_of(
        &self,
        req: &Request,
        path: &GatedPath,
        org: Option<&crate::core::org::OrgConfig>,
        now: UnixTime,
    ) -> Result<(Option<SessionId>, Option<Identity>), AppError> {
        let policy = super::sso::cookie_policy(self);
        let Some(id) = read_cookie(req.header("cookie"), policy.session_cookie())
            .and_then(|c| SessionId::from_cookie(&c))
        else {
            return Ok((None, None));
        };
        let record = self.sessions().load_cached(&id, now).await?;
        let identity = match record.as_ref().and_then(|r| r.org(&path.slug)) {
            None => None,
            Some(s) => {
                // Fresh in the isolate: the session store has just consulted it.
                let snapshot = self
                    .state
                    .snapshots
                    .snapshot(self.ledger, &path.slug, now)
                    .await?;
                let groups = snapshot.scim_groups(s);
                match live_identity(&path.slug, org, s, &groups) {
                    Ok(identity) => Some(identity),
                    Err(stale) => {
                        self.log.line(&format!(
                            "gate org={} session not accepted: {stale}",
                            path.slug
                        ));
                        None
                    }
                }
            }
        };
        Ok((Some(id), identity))
    }

    /// The signed assertion for `identity`, reused from the isolate cache for
    /// [`ASSERTION_REUSE_SECS`] (signing every request would be most of the gate's cost).
    async fn assertion<G: Signer>(
        &self,
        signer: &G,
        keys: &super::config::AssertionKeys,
        session: &SessionId,
        identity: &Identity,
        now: UnixTime,
    ) -> Result<String, AppError> {
        let identity_json = serde_json::to_string(identity).map_err(super::error::storage)?;
        let key = format!(
            "{}|{}|{identity_json}",
            sha256_hex(session.expose().as_bytes()),
            signer.kid()
        );
        if let Some(jws) = self.state.assertions.get(&key, now) {
            return Ok(jws);
        }
        let jti = self.random.token(16).map_err(super::error::storage)?;
        let claims = assertion_claims(&keys.context, identity, now, ASSERTION_TTL_SECS, &jti);
        let jws = sign_compact(signer, "JWT", &claims).await.map_err(|e| {
            AppError::new(ErrorCode::InternalError)
                .message("The identity for the service behind single sign-on could not be signed.")
                .log(format!("assertion signing: {e}"))
        })?;
        self.state.assertions.put(key, jws.clone(), now);
        Ok(jws)
    }
}

enum Judged {
    Forward(ForwardPlan),
    Respond(Response),
}

/// `GET /.well-known/jwks.json`: the public keys of the assertion (current, then previous during
/// a rotation); never a private member. Empty when the gateway is off.
pub(super) fn jwks<S, H, V>(app: &App<'_, S, H, V>) -> Result<Response, AppError> {
    let keys: Vec<serde_json::Value> = match &app.config.assertion {
        None => Vec::new(),
        Some(k) => std::iter::once(&k.current)
            .chain(k.previous.as_ref())
            .map(|jwk| jwk.public_jwk())
            .collect(),
    };
    let mut resp = json(StatusCode::OK, &serde_json::json!({ "keys": keys }));
    resp.set_header(CACHE_CONTROL, "public, max-age=300")?;
    Ok(resp)
}

#[cfg(test)]
#[path = "gateway_tests.rs"]
mod tests;
