//! OpenID Connect relying-party protocol logic.

pub mod authorize;
pub mod callback;
pub mod discovery;
pub mod idtoken;
pub mod issuer;
pub mod jwks_cache;
pub mod logout_token;
pub mod pkce;
pub mod token;
pub mod url_policy;
pub mod userinfo;
pub mod verify_id_token;
