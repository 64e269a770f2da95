//! OpenID Connect relying-party protocol logic.

pub mod jwks;
pub mod signature;
