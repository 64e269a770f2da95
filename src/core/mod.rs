//! The platform-free protocol core. Nothing here knows about Cloudflare Workers: time, randomness,
//! key-value storage, outbound HTTP and signature verification come in through the small traits in
//! [`clock`], [`random`], [`store`], [`http`] and [`oidc::signature`].

pub mod clock;
pub mod cookie;
pub mod directory;
pub mod email;
pub mod gateway;
pub mod http;
pub mod login;
pub mod member;
pub mod oidc;
pub mod org;
pub mod random;
pub mod roles;
pub mod secret;
pub mod session;
pub mod store;
