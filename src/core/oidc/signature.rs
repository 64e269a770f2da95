//! The signature step of JWS verification, as a port. On the edge it runs through the runtime's
//! WebCrypto (`crypto.subtle.verify`, ~15x faster than Rust crypto compiled to Wasm); natively
//! ([`NativeVerifier`]) through jwt-compact's Rust implementations.

use crate::core::oidc::jwks::PublicJwk;

/// JWS algorithms edge-sso accepts for ID tokens. `none` and HMAC are deliberately absent:
/// an ID token must be signed with the IdP's asymmetric key (OIDC Core 3.1.3.7 step 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum JwsAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (required by OIDC Core 15.1).
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl JwsAlg {
    /// Parses a JOSE `alg` value; anything not in the allow-list is `None`.
    pub fn from_name(name: &str) -> Option<JwsAlg> {
        match name {
            "RS256" => Some(JwsAlg::RS256),
            "PS256" => Some(JwsAlg::PS256),
            "ES256" => Some(JwsAlg::ES256),
            "EdDSA" => Some(JwsAlg::EdDSA),
            _ => None,
        }
    }
    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            JwsAlg::RS256 => "RS256",
            JwsAlg::PS256 => "PS256",
            JwsAlg::ES256 => "ES256",
            JwsAlg::EdDSA => "EdDSA",
        }
    }
    /// The JWK `kty` a key must have to be used with this algorithm.
    pub fn key_type(self) -> &'static str {
        match self {
            JwsAlg::RS256 | JwsAlg::PS256 => "RSA",
            JwsAlg::ES256 => "EC",
            JwsAlg::EdDSA => "OKP",
        }
    }
}

/// Why a signature could not be checked or did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    /// The key cannot be used with the algorithm (wrong type, curve, or too weak).
    UnusableKey(String),
    /// The signature does not verify.
    Invalid,
    /// The crypto backend failed.
    Backend(String),
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureError::UnusableKey(m) => write!(f, "unusable key: {m}"),
            SignatureError::Invalid => f.write_str("signature does not verify"),
            SignatureError::Backend(m) => write!(f, "crypto backend error: {m}"),
        }
    }
}

impl std::error::Error for SignatureError {}

/// Verifies a JWS signature over `signing_input` (the ASCII `header.payload`).
/// Implementations must check that `key` fits `alg` (kty, crv, RSA modulus >= 2048 bits).
#[allow(async_fn_in_trait)]
pub trait SignatureVerifier {
    /// `Ok(())` only when `signature` is a valid `alg` signature of `signing_input` by `key`.
    async fn verify(
        &self,
        alg: JwsAlg,
        key: &PublicJwk,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError>;
}

/// Smallest RSA modulus accepted (RFC 7518 3.3: "A key of size 2048 bits or larger MUST be
/// used"; jwt-compact's `StrongKey`).
pub const MIN_RSA_BITS: usize = 2048;

/// Bit length of a big-endian unsigned integer.
pub fn bit_len(bytes: &[u8]) -> usize {
    match bytes.iter().position(|b| *b != 0) {
        None => 0,
        Some(i) => (bytes.len() - i) * 8 - bytes[i].leading_zeros() as usize,
    }
}

/// Checks that `key` can be used with `alg` before any crypto runs (both backends call this):
/// key type, `use`/`alg` members, curve, the public members present, and an RSA modulus of at
/// least [`MIN_RSA_BITS`].
pub fn check_key_fits(alg: JwsAlg, key: &PublicJwk) -> Result<(), SignatureError> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    if !key.fits(alg) {
        return Err(SignatureError::UnusableKey(format!(
            "{} key does not fit {}",
            key.kty,
            alg.name()
        )));
    }
    if let (JwsAlg::RS256 | JwsAlg::PS256, Some(n)) = (alg, &key.n) {
        let n = Base64UrlUnpadded::decode_vec(n)
            .map_err(|_| SignatureError::UnusableKey("RSA modulus is not base64url".into()))?;
        let bits = bit_len(&n);
        if bits < MIN_RSA_BITS {
            return Err(SignatureError::UnusableKey(format!(
                "RSA modulus of {bits} bits (< {MIN_RSA_BITS})"
            )));
        }
    }
    Ok(())
}
