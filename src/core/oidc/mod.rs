//! OpenID Connect relying-party protocol logic.

pub mod authorize;
pub mod callback;
pub mod discovery;
pub mod idtoken;
pub mod issuer;
pub mod jwks;
pub mod jwks_cache;
#[cfg(not(target_arch = "wasm32"))]
pub mod native_verifier;
pub mod pkce;
pub mod signature;
pub mod token;
pub mod url_policy;
