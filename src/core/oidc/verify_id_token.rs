//! The ID-token verification sequence of the callback (OIDC Core 3.1.3.7): parse (by the
//! caller) -> the issuer's keys from the [`JwksCache`] -> signature -> claims, and once more
//! with refetched keys when the token names a key the cached set lacks (OIDC Core 10.1.1).

use crate::core::clock::Clock;
use crate::core::http::HttpClient;
use crate::core::jose::verify::SignatureVerifier;
use crate::core::oidc::idtoken::{
    IdTokenError, IdTokenVerifier, UntrustedIdToken, VerifiedIdToken,
};
use crate::core::oidc::jwks_cache::{JwksCache, JwksFetchError, KeyPorts};
use crate::core::secret::Secret;
use crate::core::store::KvStore;
use url::Url;

/// The ports [`verify_id_token`] runs on.
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
    let now = ports.clock.now();
    let kp = KeyPorts {
        store: ports.store,
        http: ports.http,
    };
    let keys = ports
        .jwks
        .keys(&kp, idv.issuer(), jwks_uri, now)
        .await
        .map_err(VerifyError::JwksUnavailable)?;
    match idv
        .verify(token, keys.jwks(), ports.verifier, now, expected_nonce)
        .await
    {
        // OIDC Core 10.1.1: the IdP may have rotated its keys; refetch once.
        Err(e) if e.is_unknown_kid() => {
            match ports.jwks.refetch_for_unknown_kid(&kp, &keys, now).await {
                Some(jwks) => idv
                    .verify(token, &jwks, ports.verifier, now, expected_nonce)
                    .await
                    .map_err(VerifyError::IdToken),
                None => Err(VerifyError::IdToken(e)),
            }
        }
        r => r.map_err(VerifyError::IdToken),
    }
}
