//! OpenID Connect Discovery 1.0: the request for an issuer's configuration document, the
//! validation of the answer, and a two-level cache (isolate memory, then KV).

use crate::core::clock::{Clock, UnixTime};
use crate::core::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use crate::core::oidc::issuer::discovery_issuer_matches;
use crate::core::oidc::url_policy::IdpUrlPolicy;
use crate::core::secret::sha256_hex;
use crate::core::store::{KvStore, StoreError};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use url::Url;

/// Largest discovery document accepted (real ones are 2 to 10 KiB).
pub const MAX_DISCOVERY_BODY: usize = 64 * 1024;
/// How long a validated document is reused before it is fetched again.
pub const DISCOVERY_TTL_SECS: u64 = 3600;
/// Isolate-memory cache bound; past it the map is cleared (issuers are few, this is a backstop).
const MEMORY_CACHE_MAX: usize = 256;

/// An OpenID Provider's configuration, validated: the issuer matched the configured one and
/// every endpoint passed the [`IdpUrlPolicy`]. Only [`discovery_response`] and
/// [`parse_metadata`] build one from JSON. It serializes back to a discovery document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderMetadata {
    /// `issuer`.
    pub issuer: String,
    /// `authorization_endpoint`.
    #[serde(serialize_with = "ser_url")]
    pub authorization_endpoint: Url,
    /// `token_endpoint`.
    #[serde(serialize_with = "ser_url")]
    pub token_endpoint: Url,
    /// `jwks_uri`.
    #[serde(serialize_with = "ser_url")]
    pub jwks_uri: Url,
    /// `end_session_endpoint` (RP-Initiated Logout 1.0).
    #[serde(
        serialize_with = "ser_opt_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_session_endpoint: Option<Url>,
    /// `userinfo_endpoint`.
    #[serde(
        serialize_with = "ser_opt_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub userinfo_endpoint: Option<Url>,
    /// `token_endpoint_auth_methods_supported`; Discovery 3 default: `["client_secret_basic"]`.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `authorization_response_iss_parameter_supported` (RFC 9207 3); default false.
    pub authorization_response_iss_parameter_supported: bool,
    /// `id_token_signing_alg_values_supported` (empty when absent).
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `code_challenge_methods_supported` (RFC 8414 2), when listed; always holds `S256` then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// `response_types_supported`, when listed; always holds `code` then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_types_supported: Option<Vec<String>>,
    /// `backchannel_logout_supported` (Back-Channel Logout 1.0 2.1); default false.
    pub backchannel_logout_supported: bool,
}

fn ser_url<S: serde::Serializer>(u: &Url, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(u.as_str())
}

fn ser_opt_url<S: serde::Serializer>(u: &Option<Url>, s: S) -> Result<S::Ok, S::Error> {
    match u {
        Some(u) => s.serialize_str(u.as_str()),
        None => s.serialize_none(),
    }
}

/// The document as received; members are optional here so that `null` and absence are treated
/// alike and a missing required member gets a precise error. Unknown members are ignored.
#[derive(Deserialize)]
struct RawMetadata {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    jwks_uri: Option<String>,
    end_session_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    authorization_response_iss_parameter_supported: Option<bool>,
    id_token_signing_alg_values_supported: Option<Vec<String>>,
    code_challenge_methods_supported: Option<Vec<String>>,
    response_types_supported: Option<Vec<String>>,
    backchannel_logout_supported: Option<bool>,
}

/// Why discovery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The request could not be made.
    Http(HttpError),
    /// The provider answered with a status other than 200.
    Status(u16),
    /// The provider answered with a redirect; redirects are not followed.
    Redirect,
    /// The document is larger than [`MAX_DISCOVERY_BODY`].
    TooLarge,
    /// The document is not a JSON object of the expected shape.
    Json(String),
    /// The document's `issuer` is not the configured issuer (Discovery 4.3).
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The document's issuer.
        found: String,
    },
    /// The issuer or an endpoint is missing, not an absolute URL, or refused by the URL policy.
    BadEndpoint {
        /// The metadata member (`issuer`, `token_endpoint`, ...).
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The provider lacks something edge-sso requires (authorization code flow, PKCE S256).
    Unsupported(String),
    /// The KV cache could not be read.
    Store(StoreError),
}

impl std::fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiscoveryError::Http(e) => write!(f, "discovery request failed: {e}"),
            DiscoveryError::Status(s) => write!(f, "discovery document answered with HTTP {s}"),
            DiscoveryError::Redirect => f.write_str(
                "the discovery URL answered with a redirect; redirects are not followed, configure the exact issuer",
            ),
            DiscoveryError::TooLarge => write!(
                f,
                "discovery document larger than {MAX_DISCOVERY_BODY} bytes"
            ),
            DiscoveryError::Json(m) => write!(f, "discovery document is not valid: {m}"),
            DiscoveryError::IssuerMismatch { expected, found } => write!(
                f,
                "discovery document issuer {found:?} does not match the configured issuer {expected:?}"
            ),
            DiscoveryError::BadEndpoint { name, reason } => write!(f, "{name}: {reason}"),
            DiscoveryError::Unsupported(m) => write!(f, "identity provider unsupported: {m}"),
            DiscoveryError::Store(e) => write!(f, "discovery cache: {e}"),
        }
    }
}

impl std::error::Error for DiscoveryError {}

fn bad(name: &'static str, reason: impl Into<String>) -> DiscoveryError {
    DiscoveryError::BadEndpoint {
        name,
        reason: reason.into(),
    }
}

/// The discovery request for `issuer`. OIDC Discovery 4: the document lives at the issuer with
/// one trailing `/` removed, followed by `/.well-known/openid-configuration`. An issuer is an
/// https URL without query or fragment (Discovery 3, OIDC Core 1.2); the URL policy itself is
/// applied by [`DiscoveryCache::metadata`] and [`discovery_response`].
pub fn discovery_request(issuer: &str) -> Result<HttpRequest, DiscoveryError> {
    let parsed = Url::parse(issuer).map_err(|e| bad("issuer", e.to_string()))?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("issuer", "an issuer has no query or fragment"));
    }
    let base = issuer.strip_suffix('/').unwrap_or(issuer);
    let url = Url::parse(&format!("{base}/.well-known/openid-configuration"))
        .map_err(|e| bad("issuer", e.to_string()))?;
    let mut req = HttpRequest::get(url);
    req.headers.push("accept", "application/json");
    Ok(req)
}

/// Validates the provider's answer to [`discovery_request`]: 200 only, at most
/// [`MAX_DISCOVERY_BODY`] bytes, then [`parse_metadata`].
pub fn discovery_response(
    configured_issuer: &str,
    policy: &IdpUrlPolicy,
    resp: &HttpResponse,
) -> Result<ProviderMetadata, DiscoveryError> {
    match resp.status {
        200 => {}
        300..=399 => return Err(DiscoveryError::Redirect),
        s => return Err(DiscoveryError::Status(s)),
    }
    parse_metadata(configured_issuer, policy, &resp.body)
}

/// Parses and validates a discovery document (also used on KV cache reads).
pub fn parse_metadata(
    configured_issuer: &str,
    policy: &IdpUrlPolicy,
    body: &[u8],
) -> Result<ProviderMetadata, DiscoveryError> {
    if body.len() > MAX_DISCOVERY_BODY {
        return Err(DiscoveryError::TooLarge);
    }
    // Deserializing into a struct accepts only a JSON object.
    let raw: RawMetadata =
        serde_json::from_slice(body).map_err(|e| DiscoveryError::Json(e.to_string()))?;

    // Discovery 4.3: the issuer value returned MUST be identical to the issuer URL used to
    // retrieve the configuration; this also stops one provider impersonating another. (Entra
    // ID's multi-tenant authorities publish their `{tenantid}` template instead.)
    let issuer = raw
        .issuer
        .ok_or_else(|| DiscoveryError::Json("missing issuer".into()))?;
    if !discovery_issuer_matches(configured_issuer, &issuer) {
        return Err(DiscoveryError::IssuerMismatch {
            expected: configured_issuer.to_owned(),
            found: issuer,
        });
    }
    endpoint(policy, "issuer", Some(issuer.clone()))?;

    // RFC 9700 2.1.1 / RFC 7636: PKCE with S256 is mandatory here. A provider that lists its
    // methods without S256 would ignore or reject our challenge; one that lists none is tried.
    if let Some(methods) = &raw.code_challenge_methods_supported {
        if !methods.iter().any(|m| m == "S256") {
            return Err(DiscoveryError::Unsupported(
                "code_challenge_methods_supported lacks S256; edge-sso requires PKCE with S256"
                    .into(),
            ));
        }
    }
    if let Some(types) = &raw.response_types_supported {
        if !types.iter().any(|t| t == "code") {
            return Err(DiscoveryError::Unsupported(
                "response_types_supported lacks \"code\" (authorization code flow)".into(),
            ));
        }
    }

    Ok(ProviderMetadata {
        issuer,
        authorization_endpoint: required(
            policy,
            "authorization_endpoint",
            raw.authorization_endpoint,
        )?,
        token_endpoint: required(policy, "token_endpoint", raw.token_endpoint)?,
        jwks_uri: required(policy, "jwks_uri", raw.jwks_uri)?,
        end_session_endpoint: endpoint(policy, "end_session_endpoint", raw.end_session_endpoint)?,
        userinfo_endpoint: endpoint(policy, "userinfo_endpoint", raw.userinfo_endpoint)?,
        token_endpoint_auth_methods_supported: raw
            .token_endpoint_auth_methods_supported
            .unwrap_or_else(|| vec!["client_secret_basic".to_owned()]),
        authorization_response_iss_parameter_supported: raw
            .authorization_response_iss_parameter_supported
            .unwrap_or(false),
        id_token_signing_alg_values_supported: raw
            .id_token_signing_alg_values_supported
            .unwrap_or_default(),
        code_challenge_methods_supported: raw.code_challenge_methods_supported,
        response_types_supported: raw.response_types_supported,
        backchannel_logout_supported: raw.backchannel_logout_supported.unwrap_or(false),
    })
}

fn required(
    policy: &IdpUrlPolicy,
    name: &'static str,
    value: Option<String>,
) -> Result<Url, DiscoveryError> {
    endpoint(policy, name, value)?.ok_or_else(|| bad(name, "missing"))
}

/// An optional endpoint: absolute URL (parsing fails on relative references), no fragment
/// (RFC 6749 3.1, 3.2), accepted by the URL policy.
fn endpoint(
    policy: &IdpUrlPolicy,
    name: &'static str,
    value: Option<String>,
) -> Result<Option<Url>, DiscoveryError> {
    let Some(value) = value else { return Ok(None) };
    let url = Url::parse(&value).map_err(|e| bad(name, format!("not an absolute URL: {e}")))?;
    if url.fragment().is_some() {
        return Err(bad(name, "must not contain a fragment"));
    }
    policy.check(&url).map_err(|e| bad(name, e.0))?;
    Ok(Some(url))
}

/// The KV record: a validated document and when it was fetched.
#[derive(Serialize, Deserialize)]
struct Stored {
    fetched_at: UnixTime,
    metadata: serde_json::Value,
}

/// Discovery documents cached per isolate (memory) and across isolates (KV, key
/// `disc:{sha256_hex(issuer)}`), both for at most [`DISCOVERY_TTL_SECS`]. What comes back
/// from KV is parsed and validated again before use.
#[derive(Debug, Default)]
pub struct DiscoveryCache {
    memory: RefCell<HashMap<String, (ProviderMetadata, UnixTime)>>,
}

fn fresh(fetched_at: UnixTime, now: UnixTime) -> bool {
    fetched_at <= now && now < fetched_at.plus(DISCOVERY_TTL_SECS)
}

/// The KV key for `issuer`'s document.
pub fn discovery_key(issuer: &str) -> String {
    format!("disc:{}", sha256_hex(issuer.as_bytes()))
}

impl DiscoveryCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The validated configuration of `issuer`: from memory, else from KV, else fetched.
    /// A KV record that no longer validates is ignored and replaced. A failed KV write is
    /// not an error (the document is valid; the next isolate fetches it again).
    pub async fn metadata(
        &self,
        store: &impl KvStore,
        http: &impl HttpClient,
        clock: &impl Clock,
        issuer: &str,
        policy: &IdpUrlPolicy,
    ) -> Result<ProviderMetadata, DiscoveryError> {
        let now = clock.now();
        if let Some((meta, at)) = self.memory.borrow().get(issuer) {
            if fresh(*at, now) {
                return Ok(meta.clone());
            }
        }
        let key = discovery_key(issuer);
        if let Some(text) = store.get(&key).await.map_err(DiscoveryError::Store)? {
            if let Some((meta, at)) = Self::from_kv(&text, issuer, policy, now) {
                self.remember(issuer, meta.clone(), at);
                return Ok(meta);
            }
        }

        let req = discovery_request(issuer)?;
        policy.check(&req.url).map_err(|e| bad("issuer", e.0))?;
        let resp = http
            .send(req, MAX_DISCOVERY_BODY)
            .await
            .map_err(|e| match e {
                HttpError::TooLarge => DiscoveryError::TooLarge,
                e => DiscoveryError::Http(e),
            })?;
        let meta = discovery_response(issuer, policy, &resp)?;
        if let Ok(metadata) = serde_json::to_value(&meta) {
            let record = Stored {
                fetched_at: now,
                metadata,
            };
            if let Ok(text) = serde_json::to_string(&record) {
                let _ = store.put(&key, &text, Some(DISCOVERY_TTL_SECS)).await;
            }
        }
        self.remember(issuer, meta.clone(), now);
        Ok(meta)
    }

    fn from_kv(
        text: &str,
        issuer: &str,
        policy: &IdpUrlPolicy,
        now: UnixTime,
    ) -> Option<(ProviderMetadata, UnixTime)> {
        if text.len() > MAX_DISCOVERY_BODY {
            return None;
        }
        let stored: Stored = crate::core::json::from_str(text).ok()?;
        if !fresh(stored.fetched_at, now) {
            return None;
        }
        let body = serde_json::to_vec(&stored.metadata).ok()?;
        let meta = parse_metadata(issuer, policy, &body).ok()?;
        Some((meta, stored.fetched_at))
    }

    fn remember(&self, issuer: &str, meta: ProviderMetadata, at: UnixTime) {
        let mut map = self.memory.borrow_mut();
        if map.len() >= MEMORY_CACHE_MAX && !map.contains_key(issuer) {
            map.clear();
        }
        map.insert(issuer.to_owned(), (meta, at));
    }
}

#[cfg(test)]
#[path = "discovery_tests.rs"]
pub(crate) mod tests;
