//! The login use case: from the authorization response at the redirect URI to an org session.
//!
//! [`complete_login`] runs the whole sequence with no knowledge of HTTP status codes or user
//! messages: take the single-use transaction, find the org, discover its IdP, check the RFC 9207
//! `iss`, exchange the code, verify the ID token, [`admit`] the member and store the session.
//! Every way it can fail is one [`LoginError`] variant; the web layer maps those to responses in
//! one place.

use crate::core::clock::Clock;
use crate::core::directory::{DirectoryError, OrgDirectory};
use crate::core::http::{HttpClient, HttpError};
use crate::core::jose::verify::SignatureVerifier;
use crate::core::ledger::{Command, LedgerPort, Refusal, Reply, SignInFacts, SnapshotCache};
use crate::core::member::{admit_identity, Denial, Member};
use crate::core::oidc::authorize::{TransactionStore, TxError};
use crate::core::oidc::callback::{check_iss, Callback, CallbackError};
use crate::core::oidc::discovery::{DiscoveryCache, DiscoveryError};
use crate::core::oidc::idtoken::{IdTokenError, UntrustedIdToken};
use crate::core::oidc::jwks_cache::{JwksCache, JwksFetchError};
use crate::core::oidc::token::{token_request, token_response, TokenError, MAX_TOKEN_BODY};
use crate::core::oidc::url_policy::IdpUrlPolicy;
use crate::core::oidc::verify_id_token::{verify_id_token, IdTokenPorts, VerifyError};
use crate::core::org::OrgSlug;
use crate::core::profile::{self, EnrichError};
use crate::core::random::Random;
use crate::core::secret::Secret;
use crate::core::session::{
    NewSession, OrgSession, Revocations, SessionError, SessionId, SessionStore,
};
use crate::core::store::{KvStore, StoreError};
use url::Url;

/// The ports and settings a login needs.
pub struct LoginContext<'a, S, H, V, K: KvStore, R: Revocations> {
    /// Key-value storage (transactions, the org directory, the discovery and JWKS caches).
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
}

/// What the browser brought to the redirect URI.
pub struct CallbackRequest<'a> {
    /// The redirect URI as requested, with the authorization response in its query.
    pub url: &'a Url,
    /// The transaction binding cookie's value, if the browser sent it.
    pub binding: Option<Secret>,
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
    /// The IdP sent an error response (OIDC Core 3.1.2.6). Texts are untrusted.
    IdpRefused {
        /// `error`.
        error: String,
        /// `error_description`, if any.
        description: Option<String>,
    },
    /// The browser sent no transaction binding cookie.
    NoTransactionCookie,
    /// The transaction could not be taken (unknown, expired, state mismatch, store failure).
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
            LoginError::NoTransactionCookie => f.write_str("no transaction cookie"),
            LoginError::Transaction(e) => write!(f, "transaction: {e}"),
            LoginError::Directory(e) => write!(f, "directory: {e}"),
            LoginError::OrgChanged => f.write_str("the org or its issuer changed during login"),
            LoginError::Discovery(e) => write!(f, "discovery: {e}"),
            LoginError::IssuerMismatch(e) => e.fmt(f),
            LoginError::NoClientAuth(e) => e.fmt(f),
            LoginError::TokenEndpointUnreachable(e) => write!(f, "token endpoint: {e}"),
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

/// Completes a login at the redirect URI (OIDC Core 3.1.2.5 to 3.1.3.7).
pub async fn complete_login<S, H, V, K, R>(
    ctx: &LoginContext<'_, S, H, V, K, R>,
    req: CallbackRequest<'_>,
) -> Result<LoginOutcome, LoginError>
where
    S: KvStore,
    H: HttpClient,
    V: SignatureVerifier,
    K: KvStore,
    R: Revocations,
{
    let now = ctx.clock.now();
    let (code, state, iss) = match Callback::from_query(req.url) {
        Err(e) => return Err(LoginError::MalformedCallback(e)),
        // OIDC Core 3.1.2.6: the IdP refused.
        Ok(Callback::Error { error, description }) => {
            return Err(LoginError::IdpRefused { error, description })
        }
        Ok(Callback::Code { code, state, iss }) => (code, state, iss),
    };
    let binding = req.binding.ok_or(LoginError::NoTransactionCookie)?;
    // Single use: the transaction is deleted before any check (RFC 9700 4.7; OIDC Core 3.1.2.7).
    let tx = TransactionStore::new(ctx.store)
        .take(&binding, &state, now)
        .await
        .map_err(LoginError::Transaction)?;
    // The issuer is pinned at the start: a configuration change mid-login cannot make us accept
    // tokens from another IdP.
    let org = OrgDirectory::new(ctx.store)
        .get(&tx.org)
        .await
        .map_err(LoginError::Directory)?
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
    check_iss(iss.as_deref(), &meta).map_err(LoginError::IssuerMismatch)?;

    // OIDC Core 3.1.3.1: exchange the code at the token endpoint (never following redirects).
    let request = token_request(
        &meta,
        org.client_id.as_str(),
        &org.client_secret,
        &code,
        &tx.pkce_verifier,
        ctx.redirect_uri,
    )
    .map_err(LoginError::NoClientAuth)?;
    let response = ctx
        .http
        .send(request, MAX_TOKEN_BODY)
        .await
        .map_err(LoginError::TokenEndpointUnreachable)?;
    let tokens = token_response(&response).map_err(|e| match e {
        TokenError::Rejected { ref error, .. } if error == "invalid_grant" => {
            LoginError::GrantRejected(e)
        }
        e => LoginError::TokenEndpoint(e),
    })?;

    // OIDC Core 3.1.3.7: verify the ID token (signature via the IdP's JWKS, then every claim).
    let untrusted =
        UntrustedIdToken::parse(tokens.id_token.expose()).map_err(LoginError::InvalidIdToken)?;
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

    // What the ID token lacks (userinfo, OIDC Core 5.3; Entra groups overage via Graph).
    let verified = profile::enrich(
        ctx.http,
        &org,
        &meta,
        tokens.access_token.as_ref(),
        verified,
    )
    .await
    .map_err(LoginError::Enrichment)?;

    // The user must belong to this org, or an IdP shared by several orgs could sign anyone in.
    // The org's IdP profile names the member and the email it trusts; the member's SCIM groups
    // (for `scim_group` role rules) are looked up by those, from the org's revocation
    // snapshot: the ledger's state as of at most REVOCATION_CACHE_SECS ago.
    let identity = profile::identify(&verified, &org).map_err(LoginError::Denied)?;
    let snapshot = ctx
        .snapshots
        .snapshot(ctx.ledger, &org.slug, now)
        .await
        .map_err(LoginError::Ledger)?;
    let groups = snapshot.groups_for(identity.sub(), identity.email());
    let member = admit_identity(&verified, identity, &org, &groups).map_err(LoginError::Denied)?;
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
    let session = OrgSession::new(
        &member,
        now,
        org.session_ttl_secs,
        Some(tokens.id_token.clone()),
    )
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
    Ok(LoginOutcome {
        org: org.slug,
        member,
        session: new,
        return_to: tx.return_to,
    })
}
