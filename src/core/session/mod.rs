//! Browser sessions: one random id per browser cookie, one KV record per id, one entry per org.
//!
//! * The cookie holds a [`SessionId`]: 32 bytes from the CSPRNG, base64url (43 characters). An
//!   inbound cookie value becomes one only through [`SessionId::from_cookie`], which checks its
//!   shape before any store is asked.
//! * KV holds `sess:{sha256_hex(id)}` -> JSON [`SessionRecord`]. The bearer value itself is never
//!   a KV key, so a leaked key listing does not leak live sessions.
//! * A record maps org slugs to [`OrgSession`]s, each with its own expiry: one browser can be
//!   signed in to several orgs of the hub at once. An org session is made only from an admitted
//!   [`crate::core::member::Member`].
//! * Every login mints a new id (OWASP Session Management Cheat Sheet, "Renew the Session ID After
//!   Any Privilege Level Change"; no session fixation). The still-valid org sessions of the id the
//!   browser brought are carried over into the new record and the old record is deleted, so a
//!   copy of the old cookie is dead after the login. Because a record can only ever shrink after it
//!   is written (logout of one org rewrites it without that org; nothing extends it), a cached
//!   copy can never grant more than KV does, only for longer (see [`SESSION_CACHE_SECS`]).
//! * Every org session [`SessionStore`] hands out, from its isolate cache or from KV, is first
//!   checked against a [`Revocations`] port (members, IdP sessions or whole orgs revoked), so a
//!   revocation is not delayed by the cache.
//! * Carry-over trusts whatever the browser's cookie points to. An attacker who could plant a
//!   cookie of their own (cookie tossing from a sibling host) would get their org session merged
//!   into the victim's. The `__Host-` prefix ([`crate::core::cookie`]) is what rules that out on
//!   https deployments.

mod cache;
mod id;
mod record;
mod revocation;
mod store;

#[cfg(test)]
mod revocation_tests;
#[cfg(test)]
mod tests;

pub use cache::SessionCache;
pub use id::SessionId;
pub use record::{OrgSession, SessionRecord};
#[cfg(any(test, feature = "testkit"))]
pub use revocation::MemoryRevocations;
pub use revocation::{NoRevocations, Revocations};
pub use store::{NewSession, SessionError, SessionStore};

/// Random bytes in a session id (256 bits, OWASP asks for at least 64 bits of entropy).
pub const SESSION_ID_BYTES: usize = 32;
/// Length of a session id in base64url without padding.
pub const SESSION_ID_LEN: usize = 43;
/// Prefix of session records' KV keys.
pub const SESSION_KEY_PREFIX: &str = "sess:";
/// Largest session record we write or read back; larger values read from KV count as absent.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// Most org sessions one record holds; logging into one more evicts the oldest login.
pub const MAX_ORGS_PER_SESSION: usize = 16;
/// How long an isolate may answer from its [`SessionCache`] without asking KV.
///
/// Revocation trade-off: a logout that happens at another isolate or location is seen here
/// after at most `SESSION_CACHE_SECS` plus KV's own propagation delay (up to ~60 s, see
/// [`crate::core::store`]). A logout at this isolate invalidates the local cache at once, and
/// [`Revocations`] are consulted on every cache hit.
pub const SESSION_CACHE_SECS: u64 = 10;
/// Most entries a [`SessionCache`] holds (bounded memory per isolate).
pub const SESSION_CACHE_MAX_ENTRIES: usize = 1024;
