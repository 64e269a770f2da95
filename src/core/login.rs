//! The login use case: from the authorization response at the redirect URI to an org session.
//!
//! [`complete_login`] runs the whole sequence with no knowledge of HTTP status codes or user
//! messages: open the sealed transaction cookie named after the response's `state`, spend the
//! transaction in the org's ledger (at most once, before anything else), find the org, discover
//! its IdP, check the RFC 9207 `iss`, exchange the code, verify the ID token, [`admit`] the
//! member and store the session.
//! Every way it can fail is one [`LoginError`] variant; the web layer maps those to responses in
//! one place.

use crate::core::clock::Clock;
use crate::core::cookie::{read_cookie, CookiePolicy};
use crate::core::directory::{DirectoryError, OrgDirectory};
use crate::core::http::{HttpClient, HttpError};
use crate::core::jose::verify::SignatureVerifier;
use crate::core::ledger::{Command, LedgerPort, Refusal, Reply, SignInFacts, SnapshotCache};
use crate::core::member::{admit_identity, Denial, Member};
use crate::core::oidc::authorize::{
    callback_state, open_transaction, spent_id, AuthTransaction, TxError,
};
use crate::core::oidc::callback::{check_iss, Callback, CallbackError};
use crate::core::oidc::discovery::{DiscoveryCache, DiscoveryError};
use crate::core::oidc::idtoken::{IdTokenError, UntrustedIdToken};
use crate::core::oidc::jwks_cache::{JwksCache, JwksFetchError};
use crate::core::oidc::token::{token_request, token_response, TokenError, MAX_TOKEN_BODY};
use crate::core::oidc::url_policy::IdpUrlPolicy;
use crate::core::oidc::verify_id_token::{verify_id_token, IdTokenPorts, VerifyError};
use crate::core::org::{OrgConfig, OrgSlug, RoleRule};
use crate::core::profile::{self, EnrichError};
use crate::core::random::Random;
use crate::core::roles::{matching_rules, member_roles, MemberRoles};
use crate::core::seal::Sealer;
use crate::core::secret::Secret;
use crate::core::session::{
    NewSession, OrgSession, Revocations, SessionError, SessionId, SessionStore,
};
use crate::core::staging::Staging;
use crate::core::store::{KvStore, StoreError};
use serde_json::{Map, Value};
use url::Url;

/// The ports and settings a login needs.
pub struct LoginContext<'a, S, H, V, K: KvStore, R: Revocations> {
    /// Key-value storage (the org directory, the discovery and JWKS caches).
    pub store: &'a S,
    /// Outbound HTTP (never follows redirects).
    pub http: &'a H,
    /// Signature verification.
    pub verifier: &'a V,
    /// The clock.
    pub clock: &'a dyn Clock,
    /// The CSPRNG (the new session id).
    pub random: &'a dyn Random,
    /// IdP discovery documents.
    pub discovery: &'a DiscoveryCache,
    /// IdP signing keys.
    pub jwks: &'a JwksCache,
    /// Where the session goes.
    pub sessions: &'a SessionStore<K, R>,
    /// The org ledgers (members, deprovisioning).
    pub ledger: &'a dyn LedgerPort,
    /// The isolate's revocation snapshots (SCIM groups at sign-in).
    pub snapshots: &'a SnapshotCache,
    /// Which IdP URLs may be used.
    pub idp_policy: &'a IdpUrlPolicy,
    /// Our redirect URI, exactly as sent in the authorization request.
    pub redirect_uri: &'a Url,
    /// Clock skew tolerated in ID-token time checks.
    pub leeway_secs: u64,
    /// The keys that open transaction cookies (`COOKIE_SECRET`, `COOKIE_SECRET_PREVIOUS`).
    pub sealer: &'a Sealer,
    /// The deployment's cookie names.
    pub cookies: CookiePolicy,
}

/// What the browser brought to the redirect URI.
pub struct CallbackRequest<'a> {
    /// The redirect URI as requested, with the authorization response in its query.
    pub url: &'a Url,
    /// The request's `Cookie` header: the transaction cookie for the response's `state` is read
    /// from it (see [`CookiePolicy::tx_cookie_for`]).
    pub cookie_header: Option<&'a str>,
    /// The session the browser already holds (its still-valid org sessions are carried over).
    pub previous_session: Option<SessionId>,
}

/// A completed login.
#[derive(Debug)]
pub struct LoginOutcome {
    /// The org signed in to.
    pub org: OrgSlug,
    /// Who signed in.
    pub member: Member,
    /// The new session (its id goes in the cookie; the previous id is dead).
    pub session: NewSession,
    /// Where to send the browser: a same-origin path.
    pub return_to: String,
}

/// Every way a login can fail, in the order the steps run. `Display` never includes a code,
/// token, state or cookie value.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoginError {
    /// The authorization response does not parse (OIDC Core 3.1.2.5).
    MalformedCallback(CallbackError),
    /// The IdP sent an error response (OIDC Core 3.1.2.6). Texts are untrusted. Unless a live
    /// transaction of this browser matches the response's `state`, `error` is one of the
    /// registered codes (else `unspecified_error`) and `description` is `None`: a crafted link
    /// must not put its own text on our origin.
    IdpRefused {
        /// `error`.
        error: String,
        /// `error_description`, if any.
        description: Option<String>,
    },
    /// The IdP sent an error response for a live transaction of an Okta org, and its
    /// `error_description` is Okta's groups-claim limit
    /// ([`GROUPS_LIMIT_ERROR`](crate::core::profile::okta::GROUPS_LIMIT_ERROR)): the user matches
    /// more than the 100 groups Okta puts in a token. The web layer tells the admin how to fix
    /// the app's groups claim.
    OktaGroupsLimit {
        /// `error`.
        error: String,
        /// `error_description` (Okta's text).
        description: String,
    },
    /// The browser sent no transaction cookie for this response's `state`.
    NoTransactionCookie,
    /// The transaction cookie could not be used (does not open, expired, state mismatch,
    /// already spent, ledger failure).
    Transaction(TxError),
    /// The org directory could not be read.
    Directory(DirectoryError),
    /// The org is gone, or its issuer changed since the login started.
    OrgChanged,
    /// The IdP's discovery document is unavailable or invalid.
    Discovery(DiscoveryError),
    /// The response's `iss` is not the IdP's (RFC 9207 2.4).
    IssuerMismatch(CallbackError),
    /// The IdP supports no client authentication method we offer.
    NoClientAuth(TokenError),
    /// The token endpoint could not be reached.
    TokenEndpointUnreachable(HttpError),
    /// The IdP answered with something we refuse to read: a token response over
    /// [`MAX_TOKEN_BODY`], or an ID token over its size cap. Nothing was stored.
    InvalidIdpResponse(&'static str),
    /// The token endpoint refused the code (`invalid_grant`: used, expired, or not ours).
    GrantRejected(TokenError),
    /// The token endpoint answered with any other error.
    TokenEndpoint(TokenError),
    /// The ID token failed verification (OIDC Core 3.1.3.7).
    InvalidIdToken(IdTokenError),
    /// The IdP's keys could not be fetched.
    KeysUnavailable(JwksFetchError),
    /// Claims the ID token lacks could not be fetched (userinfo, Microsoft Graph).
    Enrichment(EnrichError),
    /// The token is valid but its subject is not admitted to the org.
    Denied(Denial),
    /// The org's ledger refused the member (deprovisioned by SCIM, or not provisioned where
    /// the org takes only SCIM-provisioned members).
    Refused(Refusal),
    /// The org's ledger is full (the message says which limit).
    LedgerFull(String),
    /// The org's ledger could not be reached.
    Ledger(StoreError),
    /// The session could not be stored.
    Session(SessionError),
}

impl std::fmt::Display for LoginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoginError::MalformedCallback(e) => write!(f, "callback: {e}"),
            LoginError::IdpRefused { error, .. } => write!(f, "IdP error response: {error}"),
            LoginError::OktaGroupsLimit { error, .. } => {
                write!(f, "IdP error response: {error} (Okta's 100-group limit)")
            }
            LoginError::NoTransactionCookie => f.write_str("no transaction cookie"),
            LoginError::Transaction(e) => write!(f, "transaction: {e}"),
            LoginError::Directory(e) => write!(f, "directory: {e}"),
            LoginError::OrgChanged => f.write_str("the org or its issuer changed during login"),
            LoginError::Discovery(e) => write!(f, "discovery: {e}"),
            LoginError::IssuerMismatch(e) => e.fmt(f),
            LoginError::NoClientAuth(e) => e.fmt(f),
            LoginError::TokenEndpointUnreachable(e) => write!(f, "token endpoint: {e}"),
            LoginError::InvalidIdpResponse(what) => write!(f, "invalid IdP response: {what}"),
            LoginError::GrantRejected(e) | LoginError::TokenEndpoint(e) => {
                write!(f, "token endpoint: {e}")
            }
            LoginError::InvalidIdToken(e) => write!(f, "id token: {e}"),
            LoginError::Refused(r) => write!(f, "ledger refused the member: {r:?}"),
            LoginError::LedgerFull(m) => write!(f, "ledger full: {m}"),
            LoginError::Ledger(e) => write!(f, "ledger: {e}"),
            LoginError::KeysUnavailable(e) => write!(f, "IdP keys unavailable: {e}"),
            LoginError::Denied(d) => write!(f, "denied: {d}"),
            LoginError::Enrichment(e) => write!(f, "enrichment: {e}"),
            LoginError::Session(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LoginError {}

/// What the callback produced: a session, or the report of an admin's test sign-in.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Completed {
    /// An ordinary login: the member is recorded and has a session.
    SignedIn(LoginOutcome),
    /// A test sign-in ([`crate::core::test_login`]): every check ran, nothing was recorded.
    Tested(TestReport),
}

/// What a test sign-in found. Holds no token.
#[derive(Debug)]
pub struct TestReport {
    /// The org tested.
    pub org: OrgSlug,
    /// With the staged settings: the digest of the staged config tested.
    pub staged: Option<String>,
    /// The claims received (the verified ID token's, with userinfo's where fetched), without
    /// `nonce`, `at_hash` and `c_hash`. `None` when the sign-in failed before verification.
    pub claims: Option<Map<String, Value>>,
    /// The identity (`sub`-like key) and email the org's IdP profile chose, if it got that far.
    pub identity: Option<(String, String)>,
    /// The member and roles, or exactly which check refused the sign-in.
    pub outcome: Result<TestAdmission, LoginError>,
}

/// A test sign-in that would have admitted the member.
#[derive(Debug)]
pub struct TestAdmission {
    /// The member as a real sign-in would record them.
    pub member: Member,
    /// Their org-wide and resource-group roles.
    pub roles: MemberRoles,
    /// The org's role mapping, and the indices of the rules that matched.
    pub role_mapping: Vec<RoleRule>,
    /// Indices into `role_mapping` of the matching rules.
    pub matched_rules: Vec<usize>,
    /// The member's SCIM groups (by the org's revocation snapshot).
    pub scim_groups: Vec<String>,
}

/// A verified, admitted sign-in, before anything is recorded.
struct Authenticated {
    org: OrgConfig,
    member: Member,
    id_token: Secret,
    claims: Map<String, Value>,
    scim_groups: Vec<String>,
}

/// What [`authenticate`] saw before it stopped, for a test sign-in's report.
#[derive(Default)]
struct Trace {
    claims: Option<Map<String, Value>>,
    identity: Option<(String, String)>,
}

/// Completes a login at the redirect URI (OIDC Core 3.1.2.5 to 3.1.3.7). A test transaction
/// runs the same steps up to and including role mapping, then reports instead of recording the
/// member or creating a session; its failures after the transaction opened are in the report.
pub async fn complete_login<S, H, V, K, R>(
    ctx: &LoginContext<'_, S, H, V, K, R>,
    req: CallbackRequest<'_>,
) -> Result<Completed, LoginError>
where
    S: KvStore,
    H: HttpClient,
    V: SignatureVerifier,
    K: KvStore,
    R: Revocations,
{
    let now = ctx.clock.now();
    let origin = ctx.redirect_uri.origin().ascii_serialization();
    // The transaction this response is for: its cookie is named after the state, so logins
    // started in several tabs each find their own.
    let open = |state: &str| -> Result<AuthTransaction, LoginError> {
        let name = ctx.cookies.tx_cookie_for(state);
        let value = read_cookie(req.cookie_header, &name).ok_or(LoginError::NoTransactionCookie)?;
        open_transaction(ctx.sealer, &origin, &name, &value, state, now)
            .map_err(LoginError::Transaction)
    };
    let (code, state, iss) = match Callback::from_query(req.url) {
        Err(e) => return Err(LoginError::MalformedCallback(e)),
        // OIDC Core 3.1.2.6: the IdP refused. Its texts are shown only to the browser whose
        // live login this is.
        Ok(Callback::Error { error, description }) => {
            let live = callback_state(req.url).and_then(|s| open(&s).ok());
            return match live {
                Some(tx) => {
                    let refusal = idp_refusal(ctx, &tx, error, description).await;
                    match tx.test {
                        Some(test) => Ok(Completed::Tested(TestReport {
                            org: tx.org,
                            staged: test.staged,
                            claims: None,
                            identity: None,
                            outcome: Err(refusal),
                        })),
                        None => Err(refusal),
                    }
                }
                None => Err(LoginError::IdpRefused {
                    error: registered_error(&error).to_owned(),
                    description: None,
                }),
            };
        }
        Ok(Callback::Code { code, state, iss }) => (code, state, iss),
    };
    let tx = open(&state)?;
    // At most once (RFC 9700 4.7; OIDC Core 3.1.2.7): the org's ledger, strongly consistent,
    // records the transaction as spent before the code is exchanged, so a copied cookie with the
    // same callback URL cannot sign in twice anywhere, even at an IdP that accepts a code again.
    let spend = Command::SpendTransaction {
        id: spent_id(&state),
        until: tx.expires_at(),
    };
    match ctx
        .ledger
        .call(&tx.org, spend)
        .await
        .map_err(|e| LoginError::Transaction(TxError::Store(e)))?
    {
        Reply::Spent { first: true } => {}
        Reply::Spent { first: false } => return Err(LoginError::Transaction(TxError::Replayed)),
        Reply::Rejected { message } => return Err(LoginError::LedgerFull(message)),
        _ => {
            return Err(LoginError::Ledger(StoreError(
                "unexpected ledger reply".into(),
            )))
        }
    }
    let mut trace = Trace::default();
    if let Some(test) = &tx.test {
        let staged = test.staged.clone();
        let outcome = authenticate(
            ctx,
            &tx,
            &code,
            iss.as_deref(),
            staged.as_deref(),
            &mut trace,
        )
        .await
        .map(|a| {
            let groups: Vec<&str> = a.scim_groups.iter().map(String::as_str).collect();
            TestAdmission {
                roles: member_roles(
                    &a.org.role_mapping,
                    a.org.default_role,
                    &a.org.resource_groups,
                    &a.claims,
                    &groups,
                ),
                matched_rules: matching_rules(&a.org.role_mapping, &a.claims, &groups),
                role_mapping: a.org.role_mapping.clone(),
                member: a.member,
                scim_groups: a.scim_groups,
            }
        });
        return Ok(Completed::Tested(TestReport {
            org: tx.org,
            staged,
            claims: trace.claims.map(|mut c| {
                for k in ["nonce", "at_hash", "c_hash"] {
                    c.remove(k);
                }
                c
            }),
            identity: trace.identity,
            outcome,
        }));
    }
    let Authenticated {
        org,
        member,
        id_token,
        claims,
        ..
    } = authenticate(ctx, &tx, &code, iss.as_deref(), None, &mut trace).await?;
    // The org's ledger records the member, or refuses them when SCIM deprovisioned them (or the
    // org takes only provisioned members). It answers with the login time to record, later than
    // any revocation of this member.
    let facts = SignInFacts {
        issuer: member.issuer().clone(),
        sub: member.sub().to_owned(),
        email: member.email().clone(),
        role: member.role(),
        sid: member.sid().map(str::to_owned),
        expires_at: now.plus(org.session_ttl_secs),
        provisioning: org.provisioning,
        // Verified (OIDC Core 3.1.3.7 step 10) before it got here.
        issued_at: claims
            .get("iat")
            .and_then(serde_json::Value::as_u64)
            .map(crate::core::clock::UnixTime),
    };
    let logged_in_at = match ctx
        .ledger
        .call(&org.slug, Command::SignIn(facts))
        .await
        .map_err(LoginError::Ledger)?
    {
        Reply::SignedIn { logged_in_at, .. } => logged_in_at,
        Reply::Refused { reason } => return Err(LoginError::Refused(reason)),
        Reply::Rejected { message } => return Err(LoginError::LedgerFull(message)),
        _ => {
            return Err(LoginError::Ledger(StoreError(
                "unexpected ledger reply".into(),
            )))
        }
    };
    let session = OrgSession::new(&member, now, org.session_ttl_secs, Some(id_token))
        .logged_in_from(logged_in_at);
    // A fresh session id every login (no fixation); the old one is retired.
    let new = ctx
        .sessions
        .login(
            ctx.random,
            now,
            req.previous_session.as_ref(),
            &org.slug,
            session,
        )
        .await
        .map_err(LoginError::Session)?;
    Ok(Completed::SignedIn(LoginOutcome {
        org: org.slug,
        member,
        session: new,
        return_to: tx.return_to,
    }))
}

/// The steps shared by a login and a test sign-in, after the transaction is spent: the org (its
/// staged config when `staged` names one), discovery, RFC 9207 `iss`, the code exchange, ID
/// token verification, enrichment, identification and role mapping. Records nothing.
async fn authenticate<S, H, V, K, R>(
    ctx: &LoginContext<'_, S, H, V, K, R>,
    tx: &AuthTransaction,
    code: &Secret,
    iss: Option<&str>,
    staged: Option<&str>,
    trace: &mut Trace,
) -> Result<Authenticated, LoginError>
where
    S: KvStore,
    H: HttpClient,
    V: SignatureVerifier,
    K: KvStore,
    R: Revocations,
{
    let now = ctx.clock.now();
    // The issuer is pinned at the start: a configuration change mid-login cannot make us accept
    // tokens from another IdP. A staged test is pinned to the exact staged config it started
    // with.
    let org = match staged {
        None => OrgDirectory::new(ctx.store)
            .get(&tx.org)
            .await
            .map_err(LoginError::Directory)?,
        Some(digest) => Staging::new(ctx.store)
            .under_test(&tx.org, digest)
            .await
            .map_err(LoginError::Directory)?,
    }
    .filter(|org| org.issuer == tx.issuer)
    .ok_or(LoginError::OrgChanged)?;
    let meta = ctx
        .discovery
        .metadata(
            ctx.store,
            ctx.http,
            &ctx.clock,
            org.issuer.as_str(),
            ctx.idp_policy,
        )
        .await
        .map_err(LoginError::Discovery)?;
    // RFC 9207 2.4: the authorization response's `iss` must be our IdP's (mix-up defence).
    check_iss(iss, &meta).map_err(LoginError::IssuerMismatch)?;

    // OIDC Core 3.1.3.1: exchange the code at the token endpoint (never following redirects).
    let request = token_request(
        &meta,
        org.client_id.as_str(),
        &org.client_secret,
        code,
        &tx.pkce_verifier,
        ctx.redirect_uri,
    )
    .map_err(LoginError::NoClientAuth)?;
    let response = ctx
        .http
        .send(request, MAX_TOKEN_BODY)
        .await
        .map_err(|e| match e {
            // It answered, with more than we read: an invalid response, not an unreachable IdP.
            HttpError::TooLarge => LoginError::InvalidIdpResponse("token response too large"),
            e => LoginError::TokenEndpointUnreachable(e),
        })?;
    let tokens = token_response(&response).map_err(|e| match e {
        TokenError::Rejected { ref error, .. } if error == "invalid_grant" => {
            LoginError::GrantRejected(e)
        }
        TokenError::TooLarge => LoginError::InvalidIdpResponse("token response too large"),
        e => LoginError::TokenEndpoint(e),
    })?;

    // OIDC Core 3.1.3.7: verify the ID token (signature via the IdP's JWKS, then every claim).
    let untrusted = UntrustedIdToken::parse(tokens.id_token.expose()).map_err(|e| match e {
        IdTokenError::TooLarge => LoginError::InvalidIdpResponse("ID token too large"),
        e => LoginError::InvalidIdToken(e),
    })?;
    let verifier = profile::id_token_verifier(&org, &meta)
        .with_leeway_secs(ctx.leeway_secs)
        .with_provider_algs(&meta);
    let ports = IdTokenPorts {
        store: ctx.store,
        http: ctx.http,
        verifier: ctx.verifier,
        clock: ctx.clock,
        jwks: ctx.jwks,
    };
    let verified = verify_id_token(&ports, &verifier, &meta.jwks_uri, &untrusted, &tx.nonce)
        .await
        .map_err(|e| match e {
            VerifyError::IdToken(e) => LoginError::InvalidIdToken(e),
            VerifyError::JwksUnavailable(e) => LoginError::KeysUnavailable(e),
        })?;
    trace.claims = Some(verified.claims().clone());

    // What the ID token lacks (userinfo, OIDC Core 5.3; Entra groups overage via Graph).
    let verified = profile::enrich(
        &ports,
        &verifier,
        &org,
        &meta,
        tokens.access_token.as_ref(),
        verified,
    )
    .await
    .map_err(LoginError::Enrichment)?;
    trace.claims = Some(verified.claims().clone());

    // The user must belong to this org, or an IdP shared by several orgs could sign anyone in.
    // The org's IdP profile names the member and the email it trusts; the member's SCIM groups
    // (for `scim_group` role rules) are looked up by those, from the org's revocation
    // snapshot: the ledger's state as of at most REVOCATION_CACHE_SECS ago.
    let identity = profile::identify(&verified, &org).map_err(LoginError::Denied)?;
    trace.identity = Some((identity.sub().to_owned(), identity.email().to_owned()));
    let snapshot = ctx
        .snapshots
        .snapshot(ctx.ledger, &org.slug, now)
        .await
        .map_err(LoginError::Ledger)?;
    let groups = snapshot.groups_for(identity.sub(), identity.email());
    let scim_groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
    let member = admit_identity(&verified, identity, &org, &groups).map_err(LoginError::Denied)?;
    Ok(Authenticated {
        org,
        member,
        id_token: tokens.id_token,
        claims: verified.claims().clone(),
        scim_groups,
    })
}

/// The refusal for an IdP error response to the live transaction `tx`: Okta's groups-claim
/// limit when the org (the config the transaction started with: its staged one for a staged
/// test) uses the Okta profile and the description is Okta's text; otherwise the IdP's texts
/// as they are. The org is read only when the text matches, and a failed read leaves the plain
/// refusal.
async fn idp_refusal<S, H, V, K, R>(
    ctx: &LoginContext<'_, S, H, V, K, R>,
    tx: &AuthTransaction,
    error: String,
    description: Option<String>,
) -> LoginError
where
    S: KvStore,
    K: KvStore,
    R: Revocations,
{
    let Some(description) = description else {
        return LoginError::IdpRefused {
            error,
            description: None,
        };
    };
    if !profile::okta::is_groups_limit_error(&description) {
        return LoginError::IdpRefused {
            error,
            description: Some(description),
        };
    }
    let staged = tx.test.as_ref().and_then(|t| t.staged.as_deref());
    let org = match staged {
        None => OrgDirectory::new(ctx.store)
            .get(&tx.org)
            .await
            .ok()
            .flatten(),
        Some(digest) => Staging::new(ctx.store)
            .under_test(&tx.org, digest)
            .await
            .ok()
            .flatten(),
    };
    let okta =
        org.is_some_and(|o| o.issuer == tx.issuer && o.profile.idp == profile::IdpKind::Okta);
    if okta {
        LoginError::OktaGroupsLimit { error, description }
    } else {
        LoginError::IdpRefused {
            error,
            description: Some(description),
        }
    }
}

/// `error` if it is an error code registered for authorization responses (RFC 6749 4.1.2.1,
/// OIDC Core 3.1.2.6), else `unspecified_error`: shown without a live transaction, so it must
/// not be free text.
fn registered_error(error: &str) -> &str {
    const REGISTERED: [&str; 16] = [
        "invalid_request",
        "unauthorized_client",
        "access_denied",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "interaction_required",
        "login_required",
        "account_selection_required",
        "consent_required",
        "invalid_request_uri",
        "invalid_request_object",
        "request_not_supported",
        "request_uri_not_supported",
        "registration_not_supported",
    ];
    REGISTERED
        .iter()
        .find(|r| **r == error)
        .copied()
        .unwrap_or("unspecified_error")
}
