//! The signature step of JWS verification, as a port. On the edge it runs through the runtime's
//! WebCrypto (`crypto.subtle.verify`, ~15x faster than Rust crypto compiled to Wasm); natively
//! ([`NativeVerifier`](super::native_verifier::NativeVerifier)) through jwt-compact's Rust
//! implementations.

use crate::core::jose::jwk::FittedKey;

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

/// Verifies a JWS signature over `signing_input` (the ASCII `header.payload`, RFC 7515 5.2).
/// The key already fits its algorithm (kty, `use`, `alg`, curve, RSA modulus >= 2048 bits):
/// a [`FittedKey`] exists only after [`PublicJwk::for_alg`](super::jwk::PublicJwk::for_alg)
/// accepted the pair, so implementations only do the crypto.
#[allow(async_fn_in_trait)]
pub trait SignatureVerifier {
    /// `Ok(())` only when `signature` is a valid `key.alg()` signature of `signing_input` by
    /// `key.jwk()`.
    async fn verify(
        &self,
        key: FittedKey<'_>,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError>;
}
