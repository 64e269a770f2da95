//! Generic JOSE, with no OIDC in it: what any signed token edge-sso reads or writes needs.
//!
//! * [`alg`]: the accepted JWS algorithms ([`JwsAlg`](alg::JwsAlg)).
//! * [`jws`]: compact JWS parsed into an untrusted value under a caller's header policy
//!   (accepted `typ`, size caps), and the signing input.
//! * [`jwk`]: public JWKs and JWKS, checked once at parse (key type, `use`, `alg`, curve, RSA
//!   modulus >= 2048 bits), each with its RFC 7638 thumbprint.
//! * [`verify`]: the [`SignatureVerifier`](verify::SignatureVerifier) port (WebCrypto on the
//!   edge, [`native_verifier`] natively).
//! * [`sign`]: the [`Signer`](sign::Signer) port and [`sign_compact`](sign::sign_compact);
//!   [`private_jwk`] holds the ES256 private key format, [`native_signer`] a native signer.
//!
//! Token kinds (ID tokens, later logout tokens and assertions) put their claim rules on top.

pub mod alg;
pub mod jwk;
pub mod jws;
#[cfg(all(not(target_arch = "wasm32"), any(test, feature = "testkit")))]
pub mod native_signer;
#[cfg(all(not(target_arch = "wasm32"), any(test, feature = "testkit")))]
pub mod native_verifier;
pub mod private_jwk;
pub mod sign;
#[cfg(all(not(target_arch = "wasm32"), any(test, feature = "testkit")))]
pub mod testkit;
pub mod verify;
