//! The platform-free protocol core. Nothing here knows about Cloudflare Workers: time, randomness,
//! key-value storage, outbound HTTP, signature verification and signing come in through the small
//! traits in [`clock`], [`random`], [`store`], [`http`], [`jose::verify`] and [`jose::sign`].
//!
//! [`jose`] is generic JWS/JWK handling; [`oidc`] is the relying party built on it (ID-token
//! claim rules in [`oidc::idtoken`], the verification sequence with key refetch in
//! [`oidc::verify_id_token`]).

pub mod clock;
pub mod cookie;
pub mod directory;
pub mod domains;
pub mod email;
pub mod gateway;
pub mod http;
pub mod jose;
pub mod json;
pub mod ledger;
pub mod login;
pub mod member;
pub mod oidc;
pub mod org;
pub mod org_cache;
pub mod profile;
pub mod random;
pub mod ratelimit;
pub mod roles;
pub mod scim;
pub mod seal;
pub mod secret;
pub mod session;
pub mod staging;
pub mod store;
pub mod strict_json;
pub mod test_login;
