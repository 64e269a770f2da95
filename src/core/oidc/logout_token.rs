//! Logout Token verification (OpenID Connect Back-Channel Logout 1.0, section 2.6), on the
//! same JOSE pieces and the same key, algorithm, issuer, audience and time rules as ID tokens
//! (section 2.6 steps 2-4: "in the same way" as for ID Tokens): see
//! [`super::idtoken`]. An [`UntrustedLogoutToken`] is only parsed; a [`VerifiedLogoutToken`]
//! comes only out of [`LogoutTokenVerifier::verify`], which
//! [`super::verify_id_token::verify_logout_token`] runs with keys from the JWKS cache.
//!
//! Replay (step 8, the `jti`) is the caller's: [`VerifiedLogoutToken::remember_until`] says
//! how long a `jti` must be remembered for a replay to be refused.

use crate::core::clock::UnixTime;
use crate::core::jose::alg::JwsAlg;
use crate::core::jose::jwk::{Jwks, KeySelectError};
use crate::core::jose::jws::{JwsError, JwsPolicy, UntrustedJws};
use crate::core::jose::verify::{SignatureError, SignatureVerifier};
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::idtoken::{
    allowed_algs_for, check_audience, check_iat_nbf, key_issuer_matches, numeric_date,
    verify_signed_payload, AudienceError, SignedJwsError, TimeClaimError, DEFAULT_LEEWAY_SECS,
    MAX_CLAIMS_BYTES, MAX_LEEWAY_SECS, MAX_SUB_LEN,
};
use crate::core::oidc::issuer::IssuerUrl;
use serde_json::{Map, Value};

/// Largest Logout Token accepted (compact serialization), in bytes; checked before parsing.
pub const MAX_LOGOUT_TOKEN_BYTES: usize = 16 * 1024;
/// Longest `sid` accepted. OIDC Front-Channel Logout 1.0 3 defines it as an opaque string;
/// IdPs send UUIDs or similar, so 255 (the `sub` bound of OIDC Core 2) is plenty.
pub const MAX_SID_LEN: usize = 255;
/// Longest `jti` accepted (it is stored to refuse replays, so it is bounded like `sid`).
pub const MAX_JTI_LEN: usize = 255;
/// How old a Logout Token without `exp` may be. Section 2.4 makes `exp` REQUIRED, but older
/// Keycloak releases send none; such a token is accepted only while its `iat` is younger
/// than this, which also bounds how long its `jti` must be remembered.
pub const MAX_AGE_WITHOUT_EXP_SECS: u64 = 120;
/// The `events` member that makes a JWT a Logout Token (section 2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The header policy for Logout Tokens. Section 2.4 recommends explicit typing with
/// `logout+jwt` (RFC 8725 3.11), yet many IdPs send `JWT` or no `typ`; those three are
/// accepted, compared case-insensitively with an optional `application/` prefix (RFC 7515
/// 4.1.9). Anything else (`at+jwt`, `secevent+jwt`...) is another kind of token.
pub const LOGOUT_TOKEN_POLICY: JwsPolicy<'static> = JwsPolicy {
    max_bytes: MAX_LOGOUT_TOKEN_BYTES,
    max_payload_bytes: MAX_CLAIMS_BYTES,
    typ: &["JWT", "logout+jwt"],
    typ_optional: true,
};

/// Why a Logout Token was refused: one variant per rule. [`Display`](std::fmt::Display) is a
/// short English reason, safe to return to the IdP as `error_description`: it never echoes any
/// part of the token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogoutTokenError {
    /// Not a well-formed compact JWS, or claims that are not a JSON object. The string names
    /// the part (one of ours, not the token's).
    Malformed(&'static str),
    /// Longer than [`MAX_LOGOUT_TOKEN_BYTES`] (or claims longer than the claims cap).
    TooLarge,
    /// A JWE (five parts): encrypted Logout Tokens are not supported (section 2.6 step 1
    /// needs keys agreed at registration; we register none).
    EncryptedTokenUnsupported,
    /// `alg` is not one of [`JwsAlg`] (`none` and HMAC included).
    UnsupportedAlgorithm,
    /// `alg` is supported but not one the IdP's discovery document allows for ID tokens.
    DisallowedAlgorithm(JwsAlg),
    /// The header has `crit` (RFC 7515 4.1.11).
    UnsupportedCritHeader,
    /// `typ` is present and neither `JWT` nor `logout+jwt`.
    UnsupportedType,
    /// No suitable key in the issuer's JWKS has the token's `kid`.
    UnknownKid,
    /// The token has no `kid` and no key of the issuer fits its algorithm.
    NoSuitableKey,
    /// Several keys fit and no `kid` selects one.
    AmbiguousKey,
    /// The selected key cannot be used (e.g. an RSA modulus under 2048 bits).
    UnusableKey,
    /// The signature does not verify.
    InvalidSignature,
    /// The signature backend failed (the message is the backend's, for logs only).
    SignatureBackend(String),
    /// `iss` is missing or not the org's issuer.
    InvalidIssuer,
    /// `aud` is missing, malformed, or does not contain the client id.
    InvalidAudience,
    /// `aud` names an audience other than the client id.
    UntrustedAudience,
    /// `azp` is present and not the client id.
    InvalidAzp,
    /// `iat` is missing or not a NumericDate.
    MissingIat,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `nbf` is present and not a NumericDate.
    MalformedNbf,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `exp` is present and not a NumericDate.
    MalformedExp,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// No `exp`, and `iat` is [`MAX_AGE_WITHOUT_EXP_SECS`] old or older.
    StaleWithoutExp,
    /// Neither `sub` nor `sid` (section 2.4: at least one is REQUIRED).
    MissingSubAndSid,
    /// `sub` is present and not a non-empty string of at most [`MAX_SUB_LEN`] bytes.
    InvalidSub,
    /// `sid` is present and not a non-empty string of at most [`MAX_SID_LEN`] bytes.
    InvalidSid,
    /// No `events` claim.
    MissingEvents,
    /// `events` is not a JSON object.
    EventsNotObject,
    /// `events` has no [`BACKCHANNEL_LOGOUT_EVENT`] member.
    MissingLogoutEvent,
    /// The [`BACKCHANNEL_LOGOUT_EVENT`] member is not a JSON object.
    LogoutEventNotObject,
    /// A `nonce` claim is present (section 2.4 prohibits it, so that an ID Token can never
    /// pass as a Logout Token).
    NoncePresent,
    /// `jti` is missing, not a string, or empty.
    MissingJti,
    /// `jti` is longer than [`MAX_JTI_LEN`] bytes.
    InvalidJti,
}

impl LogoutTokenError {
    /// Whether refetching the JWKS could help: the token's `kid` is unknown or no key fits
    /// (the IdP may have rotated its keys since the set was cached).
    pub fn is_unknown_kid(&self) -> bool {
        matches!(
            self,
            LogoutTokenError::UnknownKid | LogoutTokenError::NoSuitableKey
        )
    }
}

impl std::fmt::Display for LogoutTokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use LogoutTokenError as E;
        match self {
            E::Malformed(part) => write!(f, "malformed logout token ({part})"),
            E::TooLarge => f.write_str("logout token too large"),
            E::EncryptedTokenUnsupported => {
                f.write_str("encrypted logout tokens are not supported")
            }
            E::UnsupportedAlgorithm => f.write_str("unsupported signing algorithm"),
            E::DisallowedAlgorithm(alg) => {
                write!(f, "signing algorithm {} not allowed", alg.name())
            }
            E::UnsupportedCritHeader => f.write_str("unsupported crit header"),
            E::UnsupportedType => f.write_str("typ is not JWT or logout+jwt"),
            E::UnknownKid => f.write_str("unknown key id"),
            E::NoSuitableKey => f.write_str("no suitable signing key"),
            E::AmbiguousKey => f.write_str("ambiguous signing key"),
            E::UnusableKey => f.write_str("signing key cannot be used"),
            E::InvalidSignature => f.write_str("invalid signature"),
            E::SignatureBackend(_) => f.write_str("signature could not be checked"),
            E::InvalidIssuer => f.write_str("issuer mismatch"),
            E::InvalidAudience => f.write_str("audience does not contain the client id"),
            E::UntrustedAudience => f.write_str("untrusted additional audience"),
            E::InvalidAzp => f.write_str("azp is not the client id"),
            E::MissingIat => f.write_str("iat missing"),
            E::IssuedInFuture => f.write_str("iat in the future"),
            E::MalformedNbf => f.write_str("nbf is not a NumericDate"),
            E::NotYetValid => f.write_str("token not yet valid (nbf)"),
            E::MalformedExp => f.write_str("exp is not a NumericDate"),
            E::Expired => f.write_str("token expired"),
            E::StaleWithoutExp => f.write_str("token without exp is too old"),
            E::MissingSubAndSid => f.write_str("neither sub nor sid"),
            E::InvalidSub => f.write_str("sub is not a valid string"),
            E::InvalidSid => f.write_str("sid is not a valid string"),
            E::MissingEvents => f.write_str("events missing"),
            E::EventsNotObject => f.write_str("events is not an object"),
            E::MissingLogoutEvent => f.write_str("events lacks the back-channel logout event"),
            E::LogoutEventNotObject => {
                f.write_str("back-channel logout event value is not an object")
            }
            E::NoncePresent => f.write_str("nonce is not allowed in a logout token"),
            E::MissingJti => f.write_str("jti missing"),
            E::InvalidJti => f.write_str("jti too long"),
        }
    }
}

impl std::error::Error for LogoutTokenError {}

impl From<JwsError> for LogoutTokenError {
    fn from(e: JwsError) -> Self {
        match e {
            JwsError::Malformed(part) => LogoutTokenError::Malformed(part),
            JwsError::TooLarge => LogoutTokenError::TooLarge,
            JwsError::Encrypted => LogoutTokenError::EncryptedTokenUnsupported,
            JwsError::UnsupportedAlgorithm(_) => LogoutTokenError::UnsupportedAlgorithm,
            JwsError::UnsupportedCritHeader => LogoutTokenError::UnsupportedCritHeader,
            JwsError::UnsupportedType => LogoutTokenError::UnsupportedType,
        }
    }
}

impl From<SignedJwsError> for LogoutTokenError {
    fn from(e: SignedJwsError) -> Self {
        match e {
            SignedJwsError::DisallowedAlgorithm(alg) => LogoutTokenError::DisallowedAlgorithm(alg),
            SignedJwsError::Key(KeySelectError::UnknownKid) => LogoutTokenError::UnknownKid,
            SignedJwsError::Key(KeySelectError::NoSuitableKey) => LogoutTokenError::NoSuitableKey,
            SignedJwsError::Key(_) => LogoutTokenError::AmbiguousKey,
            SignedJwsError::Signature(SignatureError::Invalid) => {
                LogoutTokenError::InvalidSignature
            }
            SignedJwsError::Signature(SignatureError::UnusableKey(_)) => {
                LogoutTokenError::UnusableKey
            }
            SignedJwsError::Signature(SignatureError::Backend(m)) => {
                LogoutTokenError::SignatureBackend(m)
            }
        }
    }
}

impl From<AudienceError> for LogoutTokenError {
    fn from(e: AudienceError) -> Self {
        match e {
            AudienceError::NotForUs => LogoutTokenError::InvalidAudience,
            AudienceError::Untrusted => LogoutTokenError::UntrustedAudience,
            AudienceError::Azp => LogoutTokenError::InvalidAzp,
        }
    }
}

impl From<TimeClaimError> for LogoutTokenError {
    fn from(e: TimeClaimError) -> Self {
        match e {
            TimeClaimError::MissingIat => LogoutTokenError::MissingIat,
            TimeClaimError::IssuedInFuture => LogoutTokenError::IssuedInFuture,
            TimeClaimError::MalformedNbf => LogoutTokenError::MalformedNbf,
            TimeClaimError::NotYetValid => LogoutTokenError::NotYetValid,
        }
    }
}

/// A parsed but unverified Logout Token: only the algorithm and key id are exposed (to choose
/// a key); the claims are read only after the signature has been checked.
#[derive(Debug, Clone)]
pub struct UntrustedLogoutToken {
    jws: UntrustedJws,
}

impl UntrustedLogoutToken {
    /// Parses a compact JWS under [`LOGOUT_TOKEN_POLICY`]: the length is capped before
    /// anything else, a JWE is refused, keys never come from the token (`jku`, `x5u`, `jwk`,
    /// `x5c` are ignored).
    pub fn parse(token: &str) -> Result<UntrustedLogoutToken, LogoutTokenError> {
        Ok(UntrustedLogoutToken {
            jws: UntrustedJws::parse(token, &LOGOUT_TOKEN_POLICY)?,
        })
    }

    /// The header's algorithm (already checked against the supported set).
    pub fn alg(&self) -> JwsAlg {
        self.jws.alg()
    }

    /// The header's key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.jws.kid()
    }
}

/// A Logout Token whose signature and claims passed every check of
/// [`LogoutTokenVerifier::verify`]. The `jti` has not been checked for replay: that is the
/// caller's, until [`VerifiedLogoutToken::remember_until`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogoutToken {
    /// `sub`: end all of this subject's sessions at the issuer (when there is no `sid`).
    pub sub: Option<String>,
    /// `sid`: end the sessions created from this IdP session.
    pub sid: Option<String>,
    /// `jti`: the token's unique id (non-empty, at most [`MAX_JTI_LEN`] bytes).
    pub jti: String,
    /// `iat`.
    pub iat: UnixTime,
    /// Until when the `jti` must be remembered to refuse a replay: `exp`, or `iat` +
    /// [`MAX_AGE_WITHOUT_EXP_SECS`] when `exp` is absent, plus the leeway (after it, the token
    /// is refused as expired or stale anyway).
    pub remember_until: UnixTime,
}

/// Checks Logout Tokens for one client at one issuer, with the ID-token rules for keys,
/// algorithms, `iss`, `aud` and time. Secure by default: exact issuer, the client id as the
/// only audience, asymmetric algorithms only, 60 s leeway.
#[derive(Debug, Clone)]
pub struct LogoutTokenVerifier {
    issuer: IssuerUrl,
    client_id: String,
    leeway_secs: u64,
    allowed_algs: Vec<JwsAlg>,
}

impl LogoutTokenVerifier {
    /// A verifier for tokens from `issuer` (compared exactly, [`IssuerUrl::matches`]) to
    /// `client_id`, accepting RS256, PS256, ES256 and EdDSA with [`DEFAULT_LEEWAY_SECS`].
    pub fn new(issuer: IssuerUrl, client_id: impl Into<String>) -> Self {
        LogoutTokenVerifier {
            issuer,
            client_id: client_id.into(),
            leeway_secs: DEFAULT_LEEWAY_SECS,
            allowed_algs: JwsAlg::ALL.to_vec(),
        }
    }

    /// Sets the clock skew tolerance, capped at [`MAX_LEEWAY_SECS`].
    pub fn with_leeway_secs(mut self, secs: u64) -> Self {
        self.leeway_secs = secs.min(MAX_LEEWAY_SECS);
        self
    }

    /// Restricts the accepted algorithms.
    pub fn with_allowed_algs(mut self, algs: &[JwsAlg]) -> Self {
        self.allowed_algs = algs.to_vec();
        self
    }

    /// Restricts the accepted algorithms to those the IdP's discovery document advertises for
    /// ID tokens (see [`allowed_algs_for`]): Logout Tokens are signed like ID tokens (section
    /// 2.6 step 3).
    pub fn with_provider_algs(self, meta: &ProviderMetadata) -> Self {
        let algs = allowed_algs_for(&meta.id_token_signing_alg_values_supported);
        self.with_allowed_algs(&algs)
    }

    /// The issuer tokens must come from.
    pub fn issuer(&self) -> &IssuerUrl {
        &self.issuer
    }

    /// The client id tokens must be addressed to.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The algorithms accepted.
    pub fn allowed_algs(&self) -> &[JwsAlg] {
        &self.allowed_algs
    }

    /// Verifies `token` against the keys in `jwks` and the rules of Back-Channel Logout 1.0
    /// 2.6, at time `now`.
    pub async fn verify<V: SignatureVerifier>(
        &self,
        token: &UntrustedLogoutToken,
        jwks: &Jwks,
        verifier: &V,
        now: UnixTime,
    ) -> Result<VerifiedLogoutToken, LogoutTokenError> {
        // Step 1 (decryption) was handled by `UntrustedLogoutToken::parse`: JWEs are refused.
        // Steps 2-3: "Validate the Logout Token signature [and the alg Header Parameter] in the
        // same way that an ID Token signature is validated". No claim is read before.
        let (payload, key) =
            verify_signed_payload(&token.jws, &self.allowed_algs, jwks, verifier).await?;
        self.check_claims(payload, key.issuer(), now)
    }

    /// Steps 4-7 of section 2.6 on the claims of a token whose signature verified.
    fn check_claims(
        &self,
        payload: &[u8],
        key_issuer: Option<&str>,
        now: UnixTime,
    ) -> Result<VerifiedLogoutToken, LogoutTokenError> {
        let claims: Map<String, Value> =
            serde_json::from_slice(payload).map_err(|_| LogoutTokenError::Malformed("claims"))?;

        // Step 4: "Validate the iss, aud, iat, and exp Claims in the same way they are
        // validated in ID Tokens."
        let iss = claims.get("iss").and_then(Value::as_str);
        if !iss.is_some_and(|iss| self.issuer.matches(iss)) {
            return Err(LogoutTokenError::InvalidIssuer);
        }
        // As for ID tokens: a key published for one issuer (a per-key `issuer` in the JWKS)
        // verifies only that issuer's tokens.
        if key_issuer.is_some_and(|k| !iss.is_some_and(|iss| key_issuer_matches(k, iss, &claims))) {
            return Err(LogoutTokenError::InvalidIssuer);
        }
        check_audience(&claims, &self.client_id)?;
        let iat = check_iat_nbf(&claims, now, self.leeway_secs)?;
        // exp is REQUIRED (2.4), but older Keycloak omits it: such a token is accepted only
        // while young, so that a captured one cannot be replayed later.
        let remember_until = match claims.get("exp") {
            Some(exp) => {
                let exp = numeric_date(exp).ok_or(LogoutTokenError::MalformedExp)?;
                if now >= exp.plus(self.leeway_secs) {
                    return Err(LogoutTokenError::Expired);
                }
                exp.plus(self.leeway_secs)
            }
            None => {
                let until = iat.plus(MAX_AGE_WITHOUT_EXP_SECS);
                if now >= until {
                    return Err(LogoutTokenError::StaleWithoutExp);
                }
                until.plus(self.leeway_secs)
            }
        };

        // Step 5: "Verify that the Logout Token contains a sub Claim, a sid Claim, or both."
        let sub = bounded_string(&claims, "sub", MAX_SUB_LEN, LogoutTokenError::InvalidSub)?;
        let sid = bounded_string(&claims, "sid", MAX_SID_LEN, LogoutTokenError::InvalidSid)?;
        if sub.is_none() && sid.is_none() {
            return Err(LogoutTokenError::MissingSubAndSid);
        }

        // Step 6: "Verify that the Logout Token contains an events Claim whose value is JSON
        // object containing the member name http://schemas.openid.net/event/backchannel-logout."
        // 2.4: its value is "a JSON object, which SHOULD be {}"; other members are allowed.
        let events = match claims.get("events") {
            None => return Err(LogoutTokenError::MissingEvents),
            Some(Value::Object(events)) => events,
            Some(_) => return Err(LogoutTokenError::EventsNotObject),
        };
        match events.get(BACKCHANNEL_LOGOUT_EVENT) {
            None => return Err(LogoutTokenError::MissingLogoutEvent),
            Some(Value::Object(_)) => {}
            Some(_) => return Err(LogoutTokenError::LogoutEventNotObject),
        }

        // Step 7: "Verify that the Logout Token does not contain a nonce Claim."
        if claims.contains_key("nonce") {
            return Err(LogoutTokenError::NoncePresent);
        }

        // 2.4: jti is REQUIRED; step 8 (replay) is the caller's, with `remember_until`.
        let jti = match claims.get("jti").and_then(Value::as_str) {
            Some(j) if !j.is_empty() => j,
            _ => return Err(LogoutTokenError::MissingJti),
        };
        if jti.len() > MAX_JTI_LEN {
            return Err(LogoutTokenError::InvalidJti);
        }

        Ok(VerifiedLogoutToken {
            sub,
            sid,
            jti: jti.to_owned(),
            iat,
            remember_until,
        })
    }
}

/// Claim `name` when present: a non-empty string of at most `max` bytes, else `invalid`.
fn bounded_string(
    claims: &Map<String, Value>,
    name: &str,
    max: usize,
    invalid: LogoutTokenError,
) -> Result<Option<String>, LogoutTokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= max => Ok(Some(s.clone())),
        Some(_) => Err(invalid),
    }
}

#[cfg(test)]
#[path = "logout_token_tests.rs"]
mod tests;
