//! ID token verification (OIDC Core 3.1.3.7), with trust in the types: an [`UntrustedIdToken`]
//! is only parsed; a [`VerifiedIdToken`] exists only after the signature and every claim check
//! passed. The compact JWS handling (header policy, key fit, signature step through a
//! [`SignatureVerifier`]) is generic and lives in [`crate::core::jose`]; this module holds the
//! ID token's own rules. [`super::verify_id_token`] runs it with keys from the JWKS cache.

use crate::core::clock::UnixTime;
use crate::core::jose::alg::JwsAlg;
use crate::core::jose::jwk::{Jwks, KeySelectError, PublicJwk};
use crate::core::jose::jws::{JwsError, JwsPolicy, UntrustedJws};
use crate::core::jose::verify::{SignatureError, SignatureVerifier};
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::issuer::issuer_matches;
use crate::core::secret::Secret;
use serde_json::{Map, Value};

/// Largest ID token accepted (compact serialization), in bytes.
pub const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;
/// Largest decoded claims JSON accepted, in bytes.
pub const MAX_CLAIMS_BYTES: usize = 11 * 1024;
/// Default clock skew tolerance for `exp`, `iat` and `nbf`.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;
/// Upper bound on the leeway [`IdTokenVerifier::with_leeway_secs`] accepts.
pub const MAX_LEEWAY_SECS: u64 = 300;
/// Longest `sub` accepted (OIDC Core 2: "It MUST NOT exceed 255 ASCII characters").
pub const MAX_SUB_LEN: usize = 255;

/// Why an ID token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdTokenError {
    /// Not a well-formed compact JWS (bad base64url, header not a JSON object, claims not a
    /// JSON object, a claim of the wrong type...). The string names the part.
    Malformed(&'static str),
    /// Longer than [`MAX_ID_TOKEN_BYTES`] (or claims longer than [`MAX_CLAIMS_BYTES`]).
    TooLarge,
    /// A JWE (five parts): encrypted ID tokens are not supported (OIDC Core 3.1.3.7 step 1).
    EncryptedTokenUnsupported,
    /// `alg` is not one of RS256, PS256, ES256, EdDSA (`none` and HMAC included). Holds the
    /// name, reduced to at most 16 ASCII alphanumerics for safe logging.
    UnsupportedAlgorithm(String),
    /// `alg` is supported but not allowed by this verifier's configuration.
    DisallowedAlgorithm(JwsAlg),
    /// The header has `crit`: we understand no JWS extensions (RFC 7515 4.1.11).
    UnsupportedCritHeader,
    /// `typ` is present and not `JWT` (a logout token, access token...).
    UnsupportedType,
    /// No suitable key in the JWKS has the token's `kid`.
    UnknownKid,
    /// The token has no `kid` and no JWKS key fits its algorithm.
    NoSuitableKey,
    /// Several JWKS keys fit and no `kid` selects one.
    AmbiguousKey,
    /// The selected key cannot be used (e.g. an RSA modulus under 2048 bits).
    UnusableKey(String),
    /// The signature does not verify.
    InvalidSignature,
    /// The signature backend failed.
    SignatureBackend(String),
    /// `iss` is missing or not the configured issuer.
    InvalidIssuer,
    /// The key that verified the token is published for another issuer (Entra ID's per-key
    /// `issuer` in the JWKS, `{tenantid}` substituted with the token's `tid`) than its `iss`.
    KeyIssuerMismatch,
    /// `aud` is missing, malformed, or does not contain our client id.
    InvalidAudience,
    /// `aud` names an audience other than our client id.
    UntrustedAudience,
    /// `azp` is present and not our client id.
    InvalidAzp,
    /// `exp` is missing or not a NumericDate.
    MissingExp,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// `iat` is missing or not a NumericDate.
    MissingIat,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `nonce` is missing or not a string.
    MissingNonce,
    /// `nonce` is not the one sent in the authorization request.
    NonceMismatch,
    /// `sub` is missing, not a string, or empty.
    MissingSub,
    /// `sub` is longer than [`MAX_SUB_LEN`].
    InvalidSub,
}

impl IdTokenError {
    /// Whether refetching the JWKS could help: the token's `kid` is unknown or no key fits
    /// (the IdP may have rotated its keys since the set was cached).
    pub fn is_unknown_kid(&self) -> bool {
        matches!(self, IdTokenError::UnknownKid | IdTokenError::NoSuitableKey)
    }
}

impl std::fmt::Display for IdTokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use IdTokenError as E;
        match self {
            E::Malformed(part) => write!(f, "malformed ID token ({part})"),
            E::TooLarge => f.write_str("ID token too large"),
            E::EncryptedTokenUnsupported => f.write_str("encrypted ID tokens are not supported"),
            E::UnsupportedAlgorithm(alg) => write!(f, "unsupported algorithm {alg:?}"),
            E::DisallowedAlgorithm(alg) => write!(f, "algorithm {} not allowed", alg.name()),
            E::UnsupportedCritHeader => f.write_str("unsupported crit header"),
            E::UnsupportedType => f.write_str("token typ is not JWT"),
            E::UnknownKid => f.write_str("unknown key id"),
            E::NoSuitableKey => f.write_str("no suitable key"),
            E::AmbiguousKey => f.write_str("ambiguous key selection"),
            E::UnusableKey(m) => write!(f, "unusable key: {m}"),
            E::InvalidSignature => f.write_str("invalid signature"),
            E::SignatureBackend(m) => write!(f, "signature backend error: {m}"),
            E::InvalidIssuer => f.write_str("issuer mismatch"),
            E::KeyIssuerMismatch => {
                f.write_str("iss is not the issuer the signing key is published for")
            }
            E::InvalidAudience => f.write_str("audience does not contain the client id"),
            E::UntrustedAudience => f.write_str("untrusted additional audience"),
            E::InvalidAzp => f.write_str("azp is not the client id"),
            E::MissingExp => f.write_str("exp missing"),
            E::Expired => f.write_str("token expired"),
            E::MissingIat => f.write_str("iat missing"),
            E::IssuedInFuture => f.write_str("iat in the future"),
            E::NotYetValid => f.write_str("token not yet valid (nbf)"),
            E::MissingNonce => f.write_str("nonce missing"),
            E::NonceMismatch => f.write_str("nonce mismatch"),
            E::MissingSub => f.write_str("sub missing"),
            E::InvalidSub => f.write_str("sub too long"),
        }
    }
}

impl std::error::Error for IdTokenError {}

impl From<KeySelectError> for IdTokenError {
    fn from(e: KeySelectError) -> Self {
        match e {
            KeySelectError::UnknownKid => IdTokenError::UnknownKid,
            KeySelectError::NoSuitableKey => IdTokenError::NoSuitableKey,
            _ => IdTokenError::AmbiguousKey,
        }
    }
}

impl From<JwsError> for IdTokenError {
    fn from(e: JwsError) -> Self {
        match e {
            JwsError::Malformed(part) => IdTokenError::Malformed(part),
            JwsError::TooLarge => IdTokenError::TooLarge,
            JwsError::Encrypted => IdTokenError::EncryptedTokenUnsupported,
            JwsError::UnsupportedAlgorithm(alg) => IdTokenError::UnsupportedAlgorithm(alg),
            JwsError::UnsupportedCritHeader => IdTokenError::UnsupportedCritHeader,
            JwsError::UnsupportedType => IdTokenError::UnsupportedType,
        }
    }
}

/// The header policy for ID tokens. RFC 7519 5.1 / RFC 7515 4.1.9: `typ`, when present, is
/// "JWT" (case-insensitive, "application/" may be omitted). Anything else (e.g. "logout+jwt",
/// "at+jwt") is another kind of token that must not pass as an ID token.
pub const ID_TOKEN_POLICY: JwsPolicy<'static> = JwsPolicy {
    max_bytes: MAX_ID_TOKEN_BYTES,
    max_payload_bytes: MAX_CLAIMS_BYTES,
    typ: &["JWT"],
    typ_optional: true,
};

/// A parsed but unverified ID token. Nothing in it is trusted: only the algorithm and key id are
/// exposed (to choose a key); the claims are read only after the signature has been checked.
#[derive(Debug, Clone)]
pub struct UntrustedIdToken {
    jws: UntrustedJws,
}

impl UntrustedIdToken {
    /// Parses a compact JWS (RFC 7515 7.1) under [`ID_TOKEN_POLICY`]. OIDC Core 3.1.3.7 step 1:
    /// decrypting a JWE ID token needs keys agreed at registration; we register none, so an
    /// encrypted token is refused. Keys never come from the token (`jku`, `x5u`, `jwk`, `x5c`
    /// are ignored).
    pub fn parse(token: &str) -> Result<UntrustedIdToken, IdTokenError> {
        Ok(UntrustedIdToken {
            jws: UntrustedJws::parse(token, &ID_TOKEN_POLICY)?,
        })
    }

    /// The header's algorithm (already checked against the allow-list).
    pub fn alg(&self) -> JwsAlg {
        self.jws.alg()
    }

    /// The header's key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.jws.kid()
    }
}

/// The algorithms to accept from an IdP whose discovery document lists `advertised` in
/// `id_token_signing_alg_values_supported` (OIDC Discovery 3): those of them edge-sso supports.
/// When the IdP lists none, every supported algorithm. When it lists only algorithms edge-sso
/// does not support, none: the IdP says it never signs in a way we can check (fail closed).
pub fn allowed_algs_for(advertised: &[String]) -> Vec<JwsAlg> {
    if advertised.is_empty() {
        return JwsAlg::ALL.to_vec();
    }
    JwsAlg::ALL
        .into_iter()
        .filter(|alg| advertised.iter().any(|a| a == alg.name()))
        .collect()
}

/// Checks ID tokens for one client at one issuer. Secure by default: exact issuer, our client id
/// as the only audience, asymmetric algorithms only, 60 s leeway.
#[derive(Debug, Clone)]
pub struct IdTokenVerifier {
    issuer: String,
    client_id: String,
    leeway_secs: u64,
    allowed_algs: Vec<JwsAlg>,
    issuer_alias: Option<String>,
    tenant_template: bool,
}

/// The placeholder a templated (multi-tenant) issuer holds for the token's tenant.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

impl IdTokenVerifier {
    /// A verifier for tokens from `issuer` (compared exactly) to `client_id`, accepting RS256,
    /// PS256, ES256 and EdDSA with [`DEFAULT_LEEWAY_SECS`] of clock skew.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        IdTokenVerifier {
            issuer: issuer.into(),
            client_id: client_id.into(),
            leeway_secs: DEFAULT_LEEWAY_SECS,
            allowed_algs: JwsAlg::ALL.to_vec(),
            issuer_alias: None,
            tenant_template: false,
        }
    }

    /// Also accepts `alias` as `iss`, compared exactly (Google: "The value of iss in the ID
    /// token is equal to accounts.google.com or https://accounts.google.com"). The verified
    /// token reports the configured issuer.
    pub fn with_issuer_alias(mut self, alias: impl Into<String>) -> Self {
        self.issuer_alias = Some(alias.into());
        self
    }

    /// The configured issuer is a template holding [`TENANT_PLACEHOLDER`] once (Entra ID's
    /// multi-tenant discovery documents publish `https://login.microsoftonline.com/{tenantid}/v2.0`):
    /// the token's `tid`, which must be a GUID, is substituted and `iss` must exactly equal the
    /// result. So `iss` and `tid` name the same tenant and the issuer check is never skipped;
    /// which tenants are allowed is the caller's rule. Without this, a template issuer is
    /// compared literally and matches no real token.
    pub fn with_tenant_issuer_template(mut self) -> Self {
        self.tenant_template = true;
        self
    }

    /// Sets the clock skew tolerance, capped at [`MAX_LEEWAY_SECS`].
    pub fn with_leeway_secs(mut self, secs: u64) -> Self {
        self.leeway_secs = secs.min(MAX_LEEWAY_SECS);
        self
    }

    /// Restricts the accepted algorithms (e.g. to the IdP's `id_token_signed_response_alg`).
    pub fn with_allowed_algs(mut self, algs: &[JwsAlg]) -> Self {
        self.allowed_algs = algs.to_vec();
        self
    }

    /// Restricts the accepted algorithms to those the IdP's discovery document advertises for
    /// ID tokens (see [`allowed_algs_for`]).
    pub fn with_provider_algs(self, meta: &ProviderMetadata) -> Self {
        let algs = allowed_algs_for(&meta.id_token_signing_alg_values_supported);
        self.with_allowed_algs(&algs)
    }

    /// The algorithms accepted.
    pub fn allowed_algs(&self) -> &[JwsAlg] {
        &self.allowed_algs
    }

    /// The issuer tokens must come from.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Our client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Verifies `token` against the keys in `jwks` and the claims rules of OIDC Core 3.1.3.7
    /// (authorization code flow), at time `now`, for the nonce sent in the authorization request.
    pub async fn verify<V: SignatureVerifier>(
        &self,
        token: &UntrustedIdToken,
        jwks: &Jwks,
        verifier: &V,
        now: UnixTime,
        expected_nonce: &Secret,
    ) -> Result<VerifiedIdToken, IdTokenError> {
        // Step 1 (decryption) was handled by `UntrustedIdToken::parse`: JWEs are refused.

        // Steps 6-8 (alg allow-list, key from the issuer's JWKS, signature): see
        // [`verify_signed_payload`]; no claim is read before the signature verified.
        let (payload, key) =
            verify_signed_payload(&token.jws, &self.allowed_algs, jwks, verifier).await?;
        self.check_claims(payload, key.issuer(), now, expected_nonce)
    }

    /// Steps 2-5 and 9-11 of OIDC Core 3.1.3.7, on the claims of a token whose signature
    /// verified.
    fn check_claims(
        &self,
        payload: &[u8],
        key_issuer: Option<&str>,
        now: UnixTime,
        expected_nonce: &Secret,
    ) -> Result<VerifiedIdToken, IdTokenError> {
        let claims: Map<String, Value> =
            serde_json::from_slice(payload).map_err(|_| IdTokenError::Malformed("claims"))?;

        // Step 2: "The Issuer Identifier for the OpenID Provider ... MUST exactly match the value
        // of the iss (issuer) Claim."
        let iss = claims.get("iss").and_then(Value::as_str);
        let issuer = self.expected_issuer(&claims)?;
        let alias = self.issuer_alias.as_deref();
        if !iss.is_some_and(|iss| issuer_matches(&issuer, iss) || alias == Some(iss)) {
            return Err(IdTokenError::InvalidIssuer);
        }
        // A key the JWKS publishes for one issuer verifies only that issuer's tokens (Entra
        // ID: "the issuer ... must match the issuer value of the signing key", with the
        // token's `tid` in place of `{tenantid}`): with Entra's shared multi-tenant keys, this
        // is what ties a tenant-specific key to its own tenant.
        if let Some(key_issuer) = key_issuer {
            if !iss.is_some_and(|iss| key_issuer_matches(key_issuer, iss, &claims)) {
                return Err(IdTokenError::KeyIssuerMismatch);
            }
        }

        // Steps 3-5: our client id is the audience, nothing untrusted, `azp` ours if present.
        check_audience(&claims, &self.client_id)?;

        // Step 9: "The current time MUST be before the time represented by the exp Claim
        // (possibly allowing for some small leeway to account for clock skew)."
        let exp = claims
            .get("exp")
            .and_then(numeric_date)
            .ok_or(IdTokenError::MissingExp)?;
        if now >= exp.plus(self.leeway_secs) {
            return Err(IdTokenError::Expired);
        }

        // Step 10 (iat) and RFC 7519 4.1.5 (nbf).
        let iat = check_iat_nbf(&claims, now, self.leeway_secs)?;

        // Step 11: "If a nonce value was sent in the Authentication Request, a nonce Claim MUST
        // be present and its value checked to verify that it is the same value as the one that
        // was sent." We always send one; compared in constant time.
        let nonce = claims
            .get("nonce")
            .and_then(Value::as_str)
            .ok_or(IdTokenError::MissingNonce)?;
        if !expected_nonce.ct_eq_str(nonce) {
            return Err(IdTokenError::NonceMismatch);
        }

        // Steps 12 (acr) and 13 (auth_time with max_age) apply only when those were requested;
        // edge-sso requests neither. auth_time is exposed for callers that want it.

        // OIDC Core 2: sub is required, "MUST NOT exceed 255 ASCII characters".
        let sub = match claims.get("sub").and_then(Value::as_str) {
            Some(s) if !s.is_empty() => s.to_owned(),
            _ => return Err(IdTokenError::MissingSub),
        };
        if sub.len() > MAX_SUB_LEN {
            return Err(IdTokenError::InvalidSub);
        }

        let auth_time = match claims.get("auth_time") {
            None => None,
            Some(v) => Some(numeric_date(v).ok_or(IdTokenError::Malformed("auth_time"))?),
        };
        let sid = claims.get("sid").and_then(Value::as_str).map(str::to_owned);
        let email = claims
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let email_verified = claims
            .get("email_verified")
            .map_or(EmailVerified::Absent, EmailVerified::from_claim);

        Ok(VerifiedIdToken {
            issuer,
            sub,
            email,
            email_verified,
            expires_at: exp,
            issued_at: iat,
            auth_time,
            sid,
            claims,
        })
    }
}

impl IdTokenVerifier {
    /// The issuer `iss` must equal: the configured one, or the template with the token's
    /// `tid` substituted (see [`IdTokenVerifier::with_tenant_issuer_template`]).
    fn expected_issuer(&self, claims: &Map<String, Value>) -> Result<String, IdTokenError> {
        if !self.tenant_template {
            return Ok(self.issuer.clone());
        }
        with_token_tenant(&self.issuer, claims).ok_or(IdTokenError::InvalidIssuer)
    }
}

/// `template` (holding [`TENANT_PLACEHOLDER`] exactly once) with the token's `tid`, which must
/// be a GUID, in place of the placeholder; `None` otherwise.
fn with_token_tenant(template: &str, claims: &Map<String, Value>) -> Option<String> {
    if template.matches(TENANT_PLACEHOLDER).count() != 1 {
        return None;
    }
    let tid = claims
        .get("tid")
        .and_then(Value::as_str)
        .filter(|t| crate::core::profile::is_guid(t))?;
    Some(template.replace(TENANT_PLACEHOLDER, tid))
}

/// Whether `iss` is the issuer a key is published for (`key_issuer`, from the JWKS): exactly
/// (OIDC Core 3.1.3.7 step 2's comparison), after the token's `tid` is put in place of a
/// `{tenantid}` placeholder by the same rules as the org's templated issuer.
pub(crate) fn key_issuer_matches(key_issuer: &str, iss: &str, claims: &Map<String, Value>) -> bool {
    if key_issuer.contains(TENANT_PLACEHOLDER) {
        return with_token_tenant(key_issuer, claims).is_some_and(|k| issuer_matches(&k, iss));
    }
    issuer_matches(key_issuer, iss)
}

/// Why the signature step shared by every token kind signed by the IdP (ID tokens, logout
/// tokens) failed. Each token kind maps it onto its own error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignedJwsError {
    /// `alg` is supported but not in the caller's allow-list.
    DisallowedAlgorithm(JwsAlg),
    /// No single JWKS key fits.
    Key(KeySelectError),
    /// The signature step itself failed.
    Signature(SignatureError),
}

impl From<SignedJwsError> for IdTokenError {
    fn from(e: SignedJwsError) -> Self {
        match e {
            SignedJwsError::DisallowedAlgorithm(alg) => IdTokenError::DisallowedAlgorithm(alg),
            SignedJwsError::Key(e) => e.into(),
            SignedJwsError::Signature(SignatureError::Invalid) => IdTokenError::InvalidSignature,
            SignedJwsError::Signature(SignatureError::UnusableKey(m)) => {
                IdTokenError::UnusableKey(m)
            }
            SignedJwsError::Signature(SignatureError::Backend(m)) => {
                IdTokenError::SignatureBackend(m)
            }
        }
    }
}

/// OIDC Core 3.1.3.7 steps 6-8, for any JWS the IdP signs with its ID-token keys (Back-Channel
/// Logout 1.0 2.6 steps 2-3 say "in the same way"): the algorithm must be in `allowed_algs`,
/// the key comes from the issuer's JWKS only, selected by `kid` (OIDC Core 10.1.1), and only
/// once the signature verified is the payload handed out. Step 7: "The alg value SHOULD be
/// the default of RS256 or the algorithm sent by the Client in the
/// id_token_signed_response_alg parameter during Registration"; `none` and HMAC never reach
/// this point (step 8 does not apply: no MAC-based algorithms). Returns the payload and the
/// key that verified it (its per-key `issuer` binds the token's `iss`).
pub(crate) async fn verify_signed_payload<'t, 'k, V: SignatureVerifier>(
    jws: &'t UntrustedJws,
    allowed_algs: &[JwsAlg],
    jwks: &'k Jwks,
    verifier: &V,
) -> Result<(&'t [u8], &'k PublicJwk), SignedJwsError> {
    let alg = jws.alg();
    if !allowed_algs.contains(&alg) {
        return Err(SignedJwsError::DisallowedAlgorithm(alg));
    }
    let key = jwks.select(alg, jws.kid()).map_err(SignedJwsError::Key)?;
    let payload = jws
        .verify_signature(key, verifier)
        .await
        .map_err(SignedJwsError::Signature)?;
    Ok((payload, key))
}

/// Why [`check_audience`] refused a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AudienceError {
    /// `aud` is missing, malformed, or does not contain our client id.
    NotForUs,
    /// `aud` names another audience too.
    Untrusted,
    /// `azp` is present and not our client id.
    Azp,
}

impl From<AudienceError> for IdTokenError {
    fn from(e: AudienceError) -> Self {
        match e {
            AudienceError::NotForUs => IdTokenError::InvalidAudience,
            AudienceError::Untrusted => IdTokenError::UntrustedAudience,
            AudienceError::Azp => IdTokenError::InvalidAzp,
        }
    }
}

/// OIDC Core 3.1.3.7 steps 3-5 on verified claims. Step 3: "The Client MUST validate that the
/// aud (audience) Claim contains its client_id value ... The ID Token MUST be rejected if the ID
/// Token does not list the Client as a valid audience, or if it contains additional audiences
/// not trusted by the Client." We trust no other audience. Steps 4 and 5: with a single trusted
/// audience `azp` is optional; "If an azp (authorized party) Claim is present, the Client
/// SHOULD verify that its client_id is the Claim Value."
pub(crate) fn check_audience(
    claims: &Map<String, Value>,
    client_id: &str,
) -> Result<(), AudienceError> {
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list
            .iter()
            .map(|a| a.as_str().ok_or(AudienceError::NotForUs))
            .collect::<Result<_, _>>()?,
        _ => return Err(AudienceError::NotForUs),
    };
    if !audiences.contains(&client_id) {
        return Err(AudienceError::NotForUs);
    }
    if audiences.iter().any(|a| *a != client_id) {
        return Err(AudienceError::Untrusted);
    }
    if let Some(azp) = claims.get("azp") {
        if azp.as_str() != Some(client_id) {
            return Err(AudienceError::Azp);
        }
    }
    Ok(())
}

/// Why [`check_iat_nbf`] refused a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeClaimError {
    /// `iat` is missing or not a NumericDate.
    MissingIat,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `nbf` is not a NumericDate.
    MalformedNbf,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
}

impl From<TimeClaimError> for IdTokenError {
    fn from(e: TimeClaimError) -> Self {
        match e {
            TimeClaimError::MissingIat => IdTokenError::MissingIat,
            TimeClaimError::IssuedInFuture => IdTokenError::IssuedInFuture,
            TimeClaimError::MalformedNbf => IdTokenError::Malformed("nbf"),
            TimeClaimError::NotYetValid => IdTokenError::NotYetValid,
        }
    }
}

/// `iat` and `nbf` on verified claims; returns `iat`. OIDC Core 3.1.3.7 step 10: "The iat Claim
/// can be used to reject tokens that were issued too far away from the current time." iat is
/// required (OIDC Core 2); a token from the future (beyond `leeway_secs`) is refused. RFC 7519
/// 4.1.5: nbf is not required by OIDC, but when present it is honoured.
pub(crate) fn check_iat_nbf(
    claims: &Map<String, Value>,
    now: UnixTime,
    leeway_secs: u64,
) -> Result<UnixTime, TimeClaimError> {
    let iat = claims
        .get("iat")
        .and_then(numeric_date)
        .ok_or(TimeClaimError::MissingIat)?;
    if iat > now.plus(leeway_secs) {
        return Err(TimeClaimError::IssuedInFuture);
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = numeric_date(nbf).ok_or(TimeClaimError::MalformedNbf)?;
        if nbf > now.plus(leeway_secs) {
            return Err(TimeClaimError::NotYetValid);
        }
    }
    Ok(iat)
}

/// A JWT NumericDate (RFC 7519 2): seconds since the epoch, possibly fractional (truncated).
pub(crate) fn numeric_date(v: &Value) -> Option<UnixTime> {
    if let Some(n) = v.as_u64() {
        return Some(UnixTime(n));
    }
    let f = v.as_f64()?;
    // 2^53: beyond it f64 seconds are meaningless anyway.
    (f.is_finite() && (0.0..9_007_199_254_740_992.0).contains(&f)).then_some(UnixTime(f as u64))
}

/// What the ID token says of its `email` (OIDC Core 5.1 `email_verified`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailVerified {
    /// `true`, or the string "true".
    True,
    /// `false`, the string "false", or any other value that is not a boolean: a garbled claim
    /// is never read as verification.
    False,
    /// No `email_verified` claim (some IdPs, e.g. Entra ID, never send it).
    Absent,
}

impl EmailVerified {
    /// OIDC Core 5.1 defines a JSON boolean, but some IdPs (older Amazon Cognito, some Azure AD
    /// B2C policies) send the strings "true"/"false"; both are accepted (case-insensitively).
    fn from_claim(v: &Value) -> EmailVerified {
        match v {
            Value::Bool(true) => EmailVerified::True,
            Value::String(s) if s.eq_ignore_ascii_case("true") => EmailVerified::True,
            _ => EmailVerified::False,
        }
    }
}

/// An ID token whose signature and claims passed every check of [`IdTokenVerifier::verify`].
/// Only that function creates one.
#[derive(Debug, Clone)]
pub struct VerifiedIdToken {
    issuer: String,
    sub: String,
    email: Option<String>,
    email_verified: EmailVerified,
    expires_at: UnixTime,
    issued_at: UnixTime,
    auth_time: Option<UnixTime>,
    sid: Option<String>,
    claims: Map<String, Value>,
}

/// Claims that describe a token rather than its user: another source (userinfo, Microsoft
/// Graph) never supplies them to a verified ID token.
pub(crate) const TOKEN_CLAIMS: [&str; 12] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "azp",
    "auth_time",
    "sid",
    "jti",
    "at_hash",
];

/// Claims an IdP profile admits members by (Entra `tid`, `oid`, `xms_edov` and the groups
/// overage markers; Google `hd`): they only ever come signed in the ID token.
const PROFILE_CLAIMS: [&str; 7] = [
    "tid",
    "oid",
    "xms_edov",
    "hd",
    "hasgroups",
    "_claim_names",
    "_claim_sources",
];

impl VerifiedIdToken {
    /// The subject: the user's stable id at the issuer (at most 255 characters, non-empty).
    pub fn sub(&self) -> &str {
        &self.sub
    }
    /// The `email` claim, if a string. Not checked here: the caller checks the domain.
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }
    /// `email_verified`: from a boolean or the strings "true"/"false"; any other value is
    /// [`EmailVerified::False`].
    pub fn email_verified(&self) -> EmailVerified {
        self.email_verified
    }
    /// Every claim, for role mapping.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
    /// The issuer (equal to the configured one).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// `exp`.
    pub fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
    /// `iat`.
    pub fn issued_at(&self) -> UnixTime {
        self.issued_at
    }
    /// `auth_time`, if present.
    pub fn auth_time(&self) -> Option<UnixTime> {
        self.auth_time
    }
    /// `sid` (session id, for back-channel logout), if present.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// The token with claims from another channel its IdP answered on for this user (the
    /// userinfo endpoint after its `sub` check, Microsoft Graph with the access token) added
    /// where the ID token has none: ID-token claims win on conflict (OIDC Core 5.3.2 aside, the
    /// signed token is the stronger source). `email` and `email_verified` are one pair: taken
    /// together, and only when the ID token has no `email`, so that one source's verification
    /// never vouches for another source's address. The token-describing claims (`iss`, `sub`,
    /// `aud`, ...) and those profiles admit members by (`tid`, `oid`, `xms_edov`, `hd`, ...) are
    /// never added.
    pub(crate) fn with_extra_claims(mut self, extra: &Map<String, Value>) -> VerifiedIdToken {
        let take_email = !self.claims.contains_key("email");
        if take_email && extra.contains_key("email") {
            // The ID token's own `email_verified` said nothing about this address.
            self.claims.remove("email_verified");
        }
        for (k, v) in extra {
            let k_str = k.as_str();
            if TOKEN_CLAIMS.contains(&k_str)
                || PROFILE_CLAIMS.contains(&k_str)
                || self.claims.contains_key(k)
            {
                continue;
            }
            if (k == "email" || k == "email_verified") && !take_email {
                continue;
            }
            if k == "email_verified" && !extra.contains_key("email") {
                continue;
            }
            self.claims.insert(k.clone(), v.clone());
        }
        if take_email {
            self.email = self
                .claims
                .get("email")
                .and_then(Value::as_str)
                .map(str::to_owned);
            self.email_verified = self
                .claims
                .get("email_verified")
                .map_or(EmailVerified::Absent, EmailVerified::from_claim);
        }
        self
    }
}

/// ID-token test values on top of the JOSE test keys and signer.
#[cfg(test)]
pub(crate) mod testkit {
    pub use crate::core::jose::testkit::*;
    use serde_json::Value;

    pub const ISS: &str = "https://idp.example.com";
    pub const CLIENT_ID: &str = "client-123";
    pub const NOW: u64 = 1_700_000_000;
    pub const NONCE: &str = "nonce-Zk3x9";

    /// Claims that pass every check at [`NOW`].
    pub fn claims() -> Value {
        serde_json::json!({
            "iss": ISS,
            "aud": CLIENT_ID,
            "sub": "user-42",
            "exp": NOW + 300,
            "iat": NOW - 10,
            "nonce": NONCE,
            "email": "ada@example.org",
            "email_verified": true,
            "sid": "session-7",
            "auth_time": NOW - 20,
            "groups": ["admins"],
        })
    }

    /// An RS256 token from [`Key::RsaA`] with key id "a" and `claims`.
    pub fn token_a(claims: &Value) -> String {
        sign(
            Key::RsaA,
            &serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "a"}),
            claims,
        )
    }

    /// Claim sets built one claim at a time from values that are valid, nearly valid or wrong, each
    /// labelled with whether OIDC Core 3.1.3.7 (steps 2-5, 9-11) and section 2 accept it on its own.
    pub mod claim_model {
        use proptest::prelude::*;
        use serde_json::{Map, Value};

        /// One claim: absent (`None`) or a value, and whether it is acceptable.
        pub type Choice = (Option<Value>, bool);

        /// Picks one of `choices` for claim `name`, an acceptable one four times in five, so
        /// that most claim sets differ from an acceptable one in a single claim (the case that
        /// shows a missing check).
        pub fn claim(
            name: &'static str,
            choices: Vec<Choice>,
        ) -> impl Strategy<Value = (&'static str, Choice)> {
            let valid: Vec<Choice> = choices.iter().filter(|c| c.1).cloned().collect();
            prop_oneof![4 => prop::sample::select(valid), 1 => prop::sample::select(choices)]
                .prop_map(move |c| (name, c))
        }

        /// The claims object and whether every claim in it is acceptable.
        pub fn assemble(picks: &[(&'static str, Choice)]) -> (Vec<u8>, bool) {
            let mut m = Map::new();
            let mut ok = true;
            for (name, (v, valid)) in picks {
                if let Some(v) = v {
                    m.insert((*name).to_owned(), v.clone());
                }
                ok &= valid;
            }
            (serde_json::to_vec(&Value::Object(m)).unwrap(), ok)
        }
    }
}

#[cfg(test)]
#[path = "idtoken_tests.rs"]
mod tests;
