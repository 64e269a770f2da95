//! OpenID Connect relying-party protocol logic.

pub mod authorize;
pub mod callback;
pub mod discovery;
pub mod issuer;
pub mod jwks;
pub mod pkce;
pub mod signature;
pub mod token;
pub mod url_policy;
