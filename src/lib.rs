//! edge-sso: organisation single sign-on through any OpenID Connect identity provider, at the edge.
//!
//! * [`core`]: the platform-free protocol core (no `worker` types): domain lookup, org configs,
//!   generic JOSE ([`core::jose`]: compact JWS, JWK/JWKS, the signature verifier and signer
//!   ports), OIDC ([`core::oidc`]: authorization requests, callbacks, ID-token claim rules, the
//!   JWKS cache), sessions, role mapping. Time, randomness, storage, HTTP, signature
//!   verification and signing are injected.
//! * [`app`]: the HTTP application (routes, handlers, pages) written against the core's ports, so
//!   the whole request flow runs natively in tests.
//! * `edge` (wasm32 only): the Cloudflare Workers adapter: `worker::Request` in, `app` call,
//!   `worker::Response` out; KV, fetch and WebCrypto (verification, ES256 signing) behind the
//!   core's traits.
#![warn(missing_docs)]

pub mod app;
pub mod core;
#[cfg(target_arch = "wasm32")]
mod edge;
