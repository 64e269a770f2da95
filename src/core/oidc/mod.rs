//! OpenID Connect relying-party protocol logic.

pub mod issuer;
pub mod jwks;
pub mod signature;
pub mod url_policy;
