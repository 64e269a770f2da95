//! The session id: the bearer value in the session cookie.

use super::{SESSION_ID_BYTES, SESSION_ID_LEN, SESSION_KEY_PREFIX};
use crate::core::random::{Random, RandomError};
use crate::core::secret::sha256_hex;
use base64ct::{Base64UrlUnpadded, Encoding};

/// A session id: the bearer value in the session cookie. Not `Clone`; `Debug` is redacted.
pub struct SessionId(String);

impl SessionId {
    /// The id in an inbound cookie value, if it has the shape of an id we mint: 43 base64url
    /// characters decoding (canonically) to 32 bytes. Anything else is `None`, before any store
    /// is asked.
    pub fn from_cookie(value: &str) -> Option<SessionId> {
        well_formed(value).then(|| SessionId(value.to_owned()))
    }

    /// A fresh id from the CSPRNG.
    pub(super) fn generate<R: Random + ?Sized>(random: &R) -> Result<SessionId, RandomError> {
        Ok(SessionId(random.token(SESSION_ID_BYTES)?))
    }

    /// The id, for the `Set-Cookie` header. Call sites of this are the places to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The KV key of this id's record.
    pub(super) fn key(&self) -> String {
        record_key(&self.0)
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionId([redacted])")
    }
}

/// True if `id` has the shape of an id we mint.
pub(super) fn well_formed(id: &str) -> bool {
    if id.len() != SESSION_ID_LEN {
        return false;
    }
    let mut buf = [0u8; SESSION_ID_BYTES];
    matches!(Base64UrlUnpadded::decode(id, &mut buf), Ok(b) if b.len() == SESSION_ID_BYTES)
}

/// The KV key of a session id (a digest: the bearer value is never a key).
pub(super) fn record_key(id: &str) -> String {
    format!("{SESSION_KEY_PREFIX}{}", sha256_hex(id.as_bytes()))
}
