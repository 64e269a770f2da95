//! The ID-token verification sequence of the callback (OIDC Core 3.1.3.7): parse (by the
//! caller) -> the issuer's keys from the [`JwksCache`] -> signature -> claims, and once more
//! with refetched keys when the token names a key the cached set lacks (OIDC Core 10.1.1).
//! [`verify_logout_token`] runs the same sequence for Back-Channel Logout tokens, and
//! [`verify_userinfo`] for signed userinfo responses (OIDC Core 5.3.2).

use crate::core::clock::{Clock, UnixTime};
use crate::core::http::HttpClient;
use crate::core::http::HttpResponse;
use crate::core::jose::jwk::Jwks;
use crate::core::jose::verify::SignatureVerifier;
use crate::core::oidc::idtoken::{
    verify_signed_payload, IdTokenError, IdTokenVerifier, UntrustedIdToken, VerifiedIdToken,
};
use crate::core::oidc::jwks_cache::{JwksCache, JwksFetchError, KeyPorts};
use crate::core::oidc::logout_token::{
    LogoutTokenError, LogoutTokenVerifier, UntrustedLogoutToken, VerifiedLogoutToken,
};
use crate::core::oidc::userinfo::{
    signed_userinfo_claims, userinfo_response, UserinfoError, UserinfoResponse,
};
use crate::core::secret::Secret;
use crate::core::store::KvStore;
use serde_json::{Map, Value};
use url::Url;

/// The ports [`verify_id_token`] and [`verify_logout_token`] run on.
pub struct IdTokenPorts<'a, S, H, V, C: ?Sized> {
    /// KV, where the keys are shared between isolates.
    pub store: &'a S,
    /// Outbound HTTP for the `jwks_uri`.
    pub http: &'a H,
    /// The signature step.
    pub verifier: &'a V,
    /// The clock.
    pub clock: &'a C,
    /// The isolate's key cache.
    pub jwks: &'a JwksCache,
}

/// Why [`verify_id_token`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token was refused (the client's fault or an attack: 400/401).
    IdToken(IdTokenError),
    /// No keys are available because the JWKS endpoint failed (the IdP's fault: 502).
    JwksUnavailable(JwksFetchError),
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyError::IdToken(e) => write!(f, "ID token refused: {e}"),
            VerifyError::JwksUnavailable(e) => write!(f, "IdP keys unavailable: {e}"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Verifies `token` (see [`IdTokenVerifier::verify`]) with `idv.issuer()`'s keys from
/// `jwks_uri`, as the [`JwksCache`] hands them out; on an unknown `kid` the set is refetched
/// once (rate-limited by the cache's cooldown). Fails with [`VerifyError::JwksUnavailable`]
/// only when no keys at all are available.
pub async fn verify_id_token<S, H, V, C>(
    ports: &IdTokenPorts<'_, S, H, V, C>,
    idv: &IdTokenVerifier,
    jwks_uri: &Url,
    token: &UntrustedIdToken,
    expected_nonce: &Secret,
) -> Result<VerifiedIdToken, VerifyError>
where
    S: KvStore,
    H: HttpClient,
    V: SignatureVerifier,
    C: Clock + ?Sized,
{
    with_issuer_keys(
        ports,
        idv.issuer(),
        jwks_uri,
        async |jwks, now| {
            idv.verify(token, jwks, ports.verifier, now, expected_nonce)
                .await
        },
        IdTokenError::is_unknown_kid,
    )
    .await
    .map_err(VerifyError::JwksUnavailable)?
    .map_err(VerifyError::IdToken)
}

/// Why [`verify_logout_token`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogoutVerifyError {
    /// The token was refused (the IdP's request is bad: 400 `invalid_request`).
    Token(LogoutTokenError),
    /// No keys are available because the JWKS endpoint failed. Back-Channel Logout 2.8 has
    /// only 200 and 400 for the RP to answer; the caller decides (the issue asks for no 5xx).
    JwksUnavailable(JwksFetchError),
}

impl std::fmt::Display for LogoutVerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogoutVerifyError::Token(e) => write!(f, "logout token refused: {e}"),
            LogoutVerifyError::JwksUnavailable(e) => write!(f, "IdP keys unavailable: {e}"),
        }
    }
}

impl std::error::Error for LogoutVerifyError {}

/// Parses and verifies a Logout Token (Back-Channel Logout 1.0 2.6, see
/// [`LogoutTokenVerifier::verify`]) with `lv.issuer()`'s keys from `jwks_uri`, exactly as
/// [`verify_id_token`] does for ID tokens: the same cache, the same one refetch on an unknown
/// `kid`. `token` is the raw `logout_token` form parameter; its length is capped before it is
/// parsed ([`MAX_LOGOUT_TOKEN_BYTES`](crate::core::oidc::logout_token::MAX_LOGOUT_TOKEN_BYTES)),
/// and a token refused at parse costs no key lookup.
pub async fn verify_logout_token<S, H, V, C>(
    ports: &IdTokenPorts<'_, S, H, V, C>,
    lv: &LogoutTokenVerifier,
    jwks_uri: &Url,
    token: &str,
) -> Result<VerifiedLogoutToken, LogoutVerifyError>
where
    S: KvStore,
    H: HttpClient,
    V: SignatureVerifier,
    C: Clock + ?Sized,
{
    let token = UntrustedLogoutToken::parse(token).map_err(LogoutVerifyError::Token)?;
    with_issuer_keys(
        ports,
        lv.issuer().as_str(),
        jwks_uri,
        async |jwks, now| lv.verify(&token, jwks, ports.verifier, now).await,
        LogoutTokenError::is_unknown_kid,
    )
    .await
    .map_err(LogoutVerifyError::JwksUnavailable)?
    .map_err(LogoutVerifyError::Token)
}

/// The claims of a userinfo response (OIDC Core 5.3.2) for the ID token `id_token`, which
/// `idv` verified: plain JSON as read by [`userinfo_response`], or a signed JWT verified
/// exactly as the ID token was (`idv`'s algorithm allow-list, the issuer's keys from the
/// [`JwksCache`] with one refetch on an unknown `kid`, the per-key `issuer`), then
/// [`signed_userinfo_claims`] (`iss` the ID token's issuer, `aud` including the client id when
/// present, `sub` the ID token's).
pub async fn verify_userinfo<S, H, V, C>(
    ports: &IdTokenPorts<'_, S, H, V, C>,
    idv: &IdTokenVerifier,
    jwks_uri: &Url,
    resp: &HttpResponse,
    id_token: &VerifiedIdToken,
) -> Result<Map<String, Value>, UserinfoError>
where
    S: KvStore,
    H: HttpClient,
    V: SignatureVerifier,
    C: Clock + ?Sized,
{
    let jws = match userinfo_response(resp, id_token.sub())? {
        UserinfoResponse::Claims(claims) => return Ok(claims),
        UserinfoResponse::Signed(jws) => jws,
    };
    with_issuer_keys(
        ports,
        idv.issuer(),
        jwks_uri,
        async |jwks, _now| {
            let (payload, key) =
                verify_signed_payload(&jws, idv.allowed_algs(), jwks, ports.verifier)
                    .await
                    .map_err(|e| UserinfoError::InvalidSignature(e.into()))?;
            signed_userinfo_claims(
                payload,
                key.issuer(),
                id_token.issuer(),
                idv.client_id(),
                id_token.sub(),
            )
        },
        |e| matches!(e, UserinfoError::InvalidSignature(e) if e.is_unknown_kid()),
    )
    .await
    .map_err(UserinfoError::KeysUnavailable)?
}

/// Runs `check` with `issuer`'s keys from the cache; when it fails with an error
/// `unknown_kid` says a rotation could explain, once more with refetched keys (OIDC Core
/// 10.1.1: the IdP may have rotated its keys; the cache's cooldown rate-limits this). The
/// outer error is only for "no keys at all".
async fn with_issuer_keys<S, H, V, C, T, E>(
    ports: &IdTokenPorts<'_, S, H, V, C>,
    issuer: &str,
    jwks_uri: &Url,
    check: impl AsyncFn(&Jwks, UnixTime) -> Result<T, E>,
    unknown_kid: impl Fn(&E) -> bool,
) -> Result<Result<T, E>, JwksFetchError>
where
    S: KvStore,
    H: HttpClient,
    C: Clock + ?Sized,
{
    let now = ports.clock.now();
    let kp = KeyPorts {
        store: ports.store,
        http: ports.http,
    };
    let keys = ports.jwks.keys(&kp, issuer, jwks_uri, now).await?;
    Ok(match check(keys.jwks(), now).await {
        Err(e) if unknown_kid(&e) => {
            match ports.jwks.refetch_for_unknown_kid(&kp, &keys, now).await {
                Some(jwks) => check(&jwks, now).await,
                None => Err(e),
            }
        }
        r => r,
    })
}
