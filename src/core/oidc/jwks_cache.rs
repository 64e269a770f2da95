//! The IdP signing keys, cached in two tiers: the isolate's memory (free, lost on eviction) and
//! KV (shared by every isolate, eventually consistent), refetched from the `jwks_uri` when they
//! expire or when a token names a key we do not have (key rotation, OIDC Core 10.1.1).
//!
//! An entry is named by the pair (issuer, `jwks_uri`), not by the issuer alone: two orgs can
//! share an issuer and still fetch their keys from different URIs (Entra's multi-tenant issuer
//! template `https://login.microsoftonline.com/{tenantid}/v2.0` is published by both the
//! `common` and the `organizations` discovery documents, each with its own `jwks_uri`; see
//! `core::profile::entra`). Keyed by issuer, those orgs replaced each other's entry at every
//! request: a fetch per sign-in, and each one's cooldown lost to the other.
//!
//! Refetches are rate-limited per (issuer, `jwks_uri`) ([`REFETCH_COOLDOWN_SECS`]) so a flood of
//! tokens with random `kid`s cannot turn the worker into an amplifier against the IdP; when the
//! endpoint fails, the last good keys keep serving (up to [`MAX_STALE_SECS`] past their expiry).
//! KV failures are not fatal: the cache then behaves as if KV were empty / the write never
//! happened.
//!
//! The cache only hands out keys ([`JwksCache::keys`], [`JwksCache::refetch_for_unknown_kid`]);
//! [`verify_id_token`](super::verify_id_token::verify_id_token) runs the verification with them.

use crate::core::clock::UnixTime;
use crate::core::http::{HttpClient, HttpError, HttpRequest};
use crate::core::jose::jwk::{Jwks, JwksError, MAX_JWKS_BYTES};
use crate::core::secret::sha256_hex;
use crate::core::store::KvStore;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use url::Url;

/// Shortest cache lifetime, whatever `Cache-Control` says.
pub const MIN_TTL_SECS: u64 = 300;
/// Longest cache lifetime, whatever `Cache-Control` says.
pub const MAX_TTL_SECS: u64 = 86_400;
/// Cache lifetime when the response has no usable `max-age`.
pub const DEFAULT_TTL_SECS: u64 = 3_600;
/// At most one fetch per (issuer, `jwks_uri`) in this many seconds (tracked per isolate and in
/// KV).
pub const REFETCH_COOLDOWN_SECS: u64 = 20;
/// How long past their expiry the last good keys keep serving while the endpoint fails.
pub const MAX_STALE_SECS: u64 = 7 * 86_400;
/// At most this many (issuer, `jwks_uri`) entries are kept in one isolate's memory. Pairs come
/// from org configuration, not from requests, so this is far above any real deployment's count;
/// past it, the entry least recently fetched or attempted is dropped (it costs a KV read).
pub const MAX_ISOLATE_ENTRIES: usize = 256;

/// Why the JWKS could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksFetchError {
    /// Transport failure (including a body over [`MAX_JWKS_BYTES`]).
    Http(HttpError),
    /// A 3xx answer: redirects are never followed.
    Redirect(u16),
    /// Any other status than 200.
    Status(u16),
    /// The document was refused.
    Invalid(JwksError),
    /// A fetch failed moments ago and the cooldown forbids another one yet.
    CoolingDown,
}

impl std::fmt::Display for JwksFetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwksFetchError::Http(e) => write!(f, "JWKS fetch failed: {e}"),
            JwksFetchError::Redirect(s) => write!(f, "JWKS endpoint redirected ({s})"),
            JwksFetchError::Status(s) => write!(f, "JWKS endpoint answered {s}"),
            JwksFetchError::Invalid(e) => write!(f, "JWKS refused: {e}"),
            JwksFetchError::CoolingDown => f.write_str("JWKS fetch failed recently"),
        }
    }
}

impl std::error::Error for JwksFetchError {}

/// Which key set an entry holds: the issuer the keys sign for and the URI they come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Source {
    issuer: String,
    jwks_uri: String,
}

impl Source {
    fn new(issuer: &str, jwks_uri: &Url) -> Self {
        Source {
            issuer: issuer.to_owned(),
            jwks_uri: jwks_uri.as_str().to_owned(),
        }
    }
    fn kv_key(&self) -> String {
        kv_key(&self.issuer, &self.jwks_uri)
    }
}

/// One (issuer, `jwks_uri`)'s keys as cached in the isolate.
#[derive(Debug, Clone)]
struct Entry {
    jwks_uri: String,
    /// The last good key set, if any fetch ever succeeded.
    jwks: Option<Rc<Jwks>>,
    fetched_at: UnixTime,
    expires_at: UnixTime,
    /// Last fetch attempt (success or failure), for the cooldown.
    last_attempt: UnixTime,
}

impl Entry {
    fn is_fresh(&self, now: UnixTime) -> bool {
        self.jwks.is_some() && now < self.expires_at
    }
    /// Keys good enough to verify with: fresh, or stale within [`MAX_STALE_SECS`].
    fn usable(&self, now: UnixTime) -> Option<Rc<Jwks>> {
        self.jwks
            .clone()
            .filter(|_| now < self.expires_at.plus(MAX_STALE_SECS))
    }
    fn cooling_down(&self, now: UnixTime) -> bool {
        now < self.last_attempt.plus(REFETCH_COOLDOWN_SECS)
    }
    /// When this isolate last had news of the entry: the eviction order.
    fn last_touched(&self) -> UnixTime {
        self.fetched_at.max(self.last_attempt)
    }
}

/// The KV record under [`kv_key`]`(issuer, jwks_uri)`.
#[derive(Serialize, Deserialize)]
struct StoredEntry {
    jwks_uri: String,
    /// The public JWKs as published (re-checked when read back).
    keys: Vec<serde_json::Value>,
    fetched_at: u64,
    expires_at: u64,
    last_attempt: u64,
}

/// `jwks:{sha256_hex(len(issuer) ":" issuer jwks_uri)}`. The issuer's length (in bytes, decimal)
/// prefix makes the encoding injective whatever either string holds: an issuer is configured
/// text, not a parsed URL, so a separator character could occur in it. (Keys written before the
/// pair keyed the cache were `jwks:{sha256_hex(issuer)}`: never read now, they expire by TTL.)
fn kv_key(issuer: &str, jwks_uri: &str) -> String {
    let pair = format!("{}:{issuer}{jwks_uri}", issuer.len());
    format!("jwks:{}", sha256_hex(pair.as_bytes()))
}

/// The TTL a JWKS response asks for: `Cache-Control: max-age` clamped to
/// [[`MIN_TTL_SECS`], [`MAX_TTL_SECS`]], else [`DEFAULT_TTL_SECS`].
fn ttl_from_cache_control(value: Option<&str>) -> u64 {
    let max_age = value.and_then(|v| {
        v.split(',').find_map(|d| {
            let (name, val) = d.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("max-age")
                .then(|| val.trim().trim_matches('"').parse::<u64>().ok())?
        })
    });
    max_age.map_or(DEFAULT_TTL_SECS, |s| s.clamp(MIN_TTL_SECS, MAX_TTL_SECS))
}

/// The KV store and HTTP client the cache reads through.
#[derive(Debug)]
pub struct KeyPorts<'a, S, H> {
    /// Where the keys are shared between isolates.
    pub store: &'a S,
    /// Fetches the `jwks_uri` (never following redirects).
    pub http: &'a H,
}

/// One (issuer, `jwks_uri`)'s keys as handed out by [`JwksCache::keys`], with what
/// [`JwksCache::refetch_for_unknown_kid`] needs to know about how they were obtained.
#[derive(Debug, Clone)]
pub struct IssuerKeys {
    jwks: Rc<Jwks>,
    source: Source,
    jwks_uri: Url,
    entry: Entry,
    /// Fetched (or found newer in KV) during this [`JwksCache::keys`] call.
    refreshed: bool,
}

impl IssuerKeys {
    /// The key set.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }
}

enum Refresh {
    /// New keys (fetched by us, or by another isolate and found in KV).
    Updated(Entry),
    /// The fetch failed.
    Failed(JwksFetchError),
    /// Within the cooldown: nothing was fetched.
    CoolingDown,
}

/// Isolate-level JWKS cache backed by KV. Create one per isolate (e.g. in a `thread_local!`)
/// and pass the request's KV, HTTP client and clock to each call.
#[derive(Debug, Default)]
pub struct JwksCache {
    /// At most [`MAX_ISOLATE_ENTRIES`], by (issuer, `jwks_uri`).
    entries: RefCell<HashMap<Source, Entry>>,
}

impl JwksCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// `issuer`'s keys from `jwks_uri`: cached keys when fresh (isolate, then KV), else fetched
    /// (a scheduled fetch, which does not start the cooldown). When the fetch fails, the last
    /// good keys keep serving up to [`MAX_STALE_SECS`] past their expiry; with none, the
    /// failure (or [`JwksFetchError::CoolingDown`]) is returned.
    pub async fn keys<S: KvStore, H: HttpClient>(
        &self,
        ports: &KeyPorts<'_, S, H>,
        issuer: &str,
        jwks_uri: &Url,
        now: UnixTime,
    ) -> Result<IssuerKeys, JwksFetchError> {
        let source = Source::new(issuer, jwks_uri);
        let mut entry = self.load(ports.store, &source).await;
        let mut refreshed = false;
        let mut failure = None;
        if !entry.as_ref().is_some_and(|e| e.is_fresh(now)) {
            match self
                .refresh(ports, &source, jwks_uri, now, entry.as_ref(), false)
                .await
            {
                Refresh::Updated(e) => {
                    entry = Some(e);
                    refreshed = true;
                }
                Refresh::Failed(e) => failure = Some(e),
                Refresh::CoolingDown => {}
            }
            // A failed attempt was recorded in the isolate; re-read it for the stale keys.
            if !refreshed {
                entry = self.entries.borrow().get(&source).cloned().or(entry);
            }
        }
        match entry {
            Some(entry) => match entry.usable(now) {
                Some(jwks) => Ok(IssuerKeys {
                    jwks,
                    source,
                    jwks_uri: jwks_uri.clone(),
                    entry,
                    refreshed,
                }),
                None => Err(failure.unwrap_or(JwksFetchError::CoolingDown)),
            },
            None => Err(failure.unwrap_or(JwksFetchError::CoolingDown)),
        }
    }

    /// New keys after a token named a key `keys` does not have (OIDC Core 10.1.1: the IdP may
    /// have rotated its keys). `None` when nothing new can be had: `keys` were fetched by this
    /// very call sequence already, the cooldown forbids a fetch ([`REFETCH_COOLDOWN_SECS`],
    /// which this refetch starts), or the fetch failed.
    pub async fn refetch_for_unknown_kid<S: KvStore, H: HttpClient>(
        &self,
        ports: &KeyPorts<'_, S, H>,
        keys: &IssuerKeys,
        now: UnixTime,
    ) -> Option<Rc<Jwks>> {
        if keys.refreshed {
            return None;
        }
        match self
            .refresh(
                ports,
                &keys.source,
                &keys.jwks_uri,
                now,
                Some(&keys.entry),
                true,
            )
            .await
        {
            Refresh::Updated(Entry {
                jwks: Some(jwks), ..
            }) => Some(jwks),
            _ => None,
        }
    }

    /// The pair's entry: from the isolate, else from KV (then kept in the isolate).
    async fn load<S: KvStore>(&self, store: &S, source: &Source) -> Option<Entry> {
        if let Some(e) = self.entries.borrow().get(source) {
            return Some(e.clone());
        }
        let e = load_kv(store, source).await?;
        self.keep(source, e.clone());
        Some(e)
    }

    /// Stores `entry` in the isolate, first dropping the entry least recently fetched or
    /// attempted when `source` is new and the map is full ([`MAX_ISOLATE_ENTRIES`]). An entry in
    /// its cooldown was attempted within [`REFETCH_COOLDOWN_SECS`], so it is the last to go.
    fn keep(&self, source: &Source, entry: Entry) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= MAX_ISOLATE_ENTRIES && !entries.contains_key(source) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.last_touched())
                .map(|(s, _)| s.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(source.clone(), entry);
    }

    /// Fetches new keys unless another isolate just did (KV) or the cooldown forbids it.
    /// `forced` marks a refetch for an unknown `kid`: only those and failed fetches start the
    /// cooldown, so a rotation right after a scheduled fetch is still picked up at once, while
    /// a flood of random kids gets at most one fetch per [`REFETCH_COOLDOWN_SECS`].
    async fn refresh<S: KvStore, H: HttpClient>(
        &self,
        ports: &KeyPorts<'_, S, H>,
        source: &Source,
        jwks_uri: &Url,
        now: UnixTime,
        current: Option<&Entry>,
        forced: bool,
    ) -> Refresh {
        // The isolate's own cooldown first: a flood costs no KV read. `current` is the caller's
        // copy, taken before its own awaits; the isolate's entry as it is now also counts: a
        // request of this isolate may have refetched meanwhile (its keys are used), or be
        // refetching (its attempt has started the cooldown).
        let live = self.entries.borrow().get(source).cloned();
        if let (Some(live), Some(c)) = (&live, current) {
            let replaced = match (&live.jwks, &c.jwks) {
                (Some(l), Some(c)) => !Rc::ptr_eq(l, c),
                (l, c) => l.is_some() != c.is_some(),
            };
            if replaced && live.is_fresh(now) {
                return Refresh::Updated(live.clone());
            }
        }
        if current.is_some_and(|c| c.cooling_down(now))
            || live.as_ref().is_some_and(|l| l.cooling_down(now))
        {
            return Refresh::CoolingDown;
        }
        if forced {
            // The attempt counts from its start: requests that interleave with this fetch (at
            // every await below) see the cooldown and do not fetch too.
            if let Some(c) = current {
                let mut marked = c.clone();
                marked.last_attempt = now;
                self.keep(source, marked);
            }
        }
        let mut base = current.cloned();
        if let Some(kv) = load_kv(ports.store, source).await {
            let newer = current.is_none_or(|c| kv.fetched_at > c.fetched_at);
            if newer && kv.is_fresh(now) {
                self.keep(source, kv.clone());
                return Refresh::Updated(kv);
            }
            let cooling = kv.cooling_down(now);
            if newer || kv.last_attempt > base.as_ref().map_or(UnixTime(0), |b| b.last_attempt) {
                base = Some(kv);
            }
            if cooling {
                // Another isolate tried moments ago; remember its attempt here too.
                if let Some(b) = &base {
                    self.keep(source, b.clone());
                }
                return Refresh::CoolingDown;
            }
        }
        let result = fetch_jwks(ports.http, jwks_uri).await;
        let (entry, outcome) = match result {
            Ok((jwks, ttl)) => {
                let e = Entry {
                    jwks_uri: jwks_uri.as_str().to_owned(),
                    jwks: Some(Rc::new(jwks)),
                    fetched_at: now,
                    expires_at: now.plus(ttl),
                    last_attempt: if forced {
                        now
                    } else {
                        base.as_ref().map_or(UnixTime(0), |b| b.last_attempt)
                    },
                };
                (e.clone(), Refresh::Updated(e))
            }
            Err(err) => {
                // Keep the last good keys; only the attempt time changes.
                let mut e = base.unwrap_or(Entry {
                    jwks_uri: jwks_uri.as_str().to_owned(),
                    jwks: None,
                    fetched_at: UnixTime(0),
                    expires_at: UnixTime(0),
                    last_attempt: now,
                });
                e.last_attempt = now;
                (e, Refresh::Failed(err))
            }
        };
        self.keep(source, entry.clone());
        save_kv(ports.store, source, &entry, now).await;
        outcome
    }
}

async fn load_kv<S: KvStore>(store: &S, source: &Source) -> Option<Entry> {
    let raw = store.get(&source.kv_key()).await.ok()??;
    let s: StoredEntry = crate::core::json::from_str(&raw).ok()?;
    // The key already names the URI; the record must say so too (defence in depth: a record
    // written under the wrong key is a miss, never another URI's keys).
    if s.jwks_uri != source.jwks_uri {
        return None;
    }
    Some(Entry {
        jwks_uri: s.jwks_uri,
        jwks: Jwks::from_values(&s.keys).ok().map(Rc::new),
        fetched_at: UnixTime(s.fetched_at),
        expires_at: UnixTime(s.expires_at),
        last_attempt: UnixTime(s.last_attempt),
    })
}

/// Best effort: a KV failure only costs other isolates a fetch.
async fn save_kv<S: KvStore>(store: &S, source: &Source, e: &Entry, now: UnixTime) {
    let stored = StoredEntry {
        jwks_uri: e.jwks_uri.clone(),
        keys: e
            .jwks
            .as_ref()
            .map(|j| {
                j.keys()
                    .iter()
                    .filter_map(|k| serde_json::to_value(k).ok())
                    .collect()
            })
            .unwrap_or_default(),
        fetched_at: e.fetched_at.secs(),
        expires_at: e.expires_at.secs(),
        last_attempt: e.last_attempt.secs(),
    };
    let ttl = if e.jwks.is_some() {
        e.expires_at
            .plus(MAX_STALE_SECS)
            .secs()
            .saturating_sub(now.secs())
    } else {
        REFETCH_COOLDOWN_SECS
    };
    if let Ok(json) = serde_json::to_string(&stored) {
        let _ = store.put(&source.kv_key(), &json, Some(ttl)).await;
    }
}

/// GET `jwks_uri`: 200 only (redirects are never followed), body capped at [`MAX_JWKS_BYTES`].
async fn fetch_jwks<H: HttpClient>(
    http: &H,
    jwks_uri: &Url,
) -> Result<(Jwks, u64), JwksFetchError> {
    let mut req = HttpRequest::get(jwks_uri.clone());
    req.headers
        .push("accept", "application/jwk-set+json, application/json");
    let resp = http
        .send(req, MAX_JWKS_BYTES)
        .await
        .map_err(JwksFetchError::Http)?;
    match resp.status {
        200 => {}
        300..=399 => return Err(JwksFetchError::Redirect(resp.status)),
        s => return Err(JwksFetchError::Status(s)),
    }
    if resp.body.len() > MAX_JWKS_BYTES {
        return Err(JwksFetchError::Http(HttpError::TooLarge));
    }
    let jwks = Jwks::parse(&resp.body).map_err(JwksFetchError::Invalid)?;
    Ok((
        jwks,
        ttl_from_cache_control(resp.headers.get("cache-control")),
    ))
}

#[cfg(test)]
#[path = "jwks_cache_tests.rs"]
mod tests;
