//! JSON Web Key Sets: parsing, key selection and caching.

use crate::core::oidc::signature::JwsAlg;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};

/// A public JSON Web Key as published in an IdP's JWKS (RFC 7517), with the members
/// jwt-compact's `JsonWebKey` lacks (`kid`, `use`, `alg`). Key material stays base64url as
/// published: WebCrypto imports it as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    /// Key type: "RSA", "EC" or "OKP".
    pub kty: String,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended use ("sig" or "enc").
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Algorithm the key is meant for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// RSA modulus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// EC / OKP curve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate / OKP public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// Largest JWKS document accepted, in bytes (real IdPs publish a few KiB).
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Most `keys` entries accepted in one JWKS.
pub const MAX_JWKS_KEYS: usize = 100;

impl PublicJwk {
    /// Whether this key may verify `alg` signatures: `kty` matches, `use` is absent or "sig",
    /// `alg` is absent or equal, the curve fits (P-256 for ES256, Ed25519 for EdDSA) and the
    /// key members the type needs are present and base64url (RFC 7517 4, RFC 7518 6).
    /// Key strength (RSA modulus size) is checked by the [`SignatureVerifier`](super::signature::SignatureVerifier).
    pub fn fits(&self, alg: JwsAlg) -> bool {
        if self.kty != alg.key_type() {
            return false;
        }
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return false;
        }
        if self.alg.as_deref().is_some_and(|a| a != alg.name()) {
            return false;
        }
        let b64 = |m: &Option<String>| {
            m.as_deref()
                .is_some_and(|v| !v.is_empty() && Base64UrlUnpadded::decode_vec(v).is_ok())
        };
        match alg {
            JwsAlg::RS256 | JwsAlg::PS256 => b64(&self.n) && b64(&self.e),
            JwsAlg::ES256 => self.crv.as_deref() == Some("P-256") && b64(&self.x) && b64(&self.y),
            JwsAlg::EdDSA => self.crv.as_deref() == Some("Ed25519") && b64(&self.x),
        }
    }

    /// Whether this key fits any algorithm edge-sso accepts.
    pub fn is_usable(&self) -> bool {
        [JwsAlg::RS256, JwsAlg::PS256, JwsAlg::ES256, JwsAlg::EdDSA]
            .into_iter()
            .any(|alg| self.fits(alg))
    }
}

/// A JSON Web Key Set holding at least one key edge-sso can use. Keys it cannot use (encryption
/// keys, unknown types or curves, malformed members) are dropped when it is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwks {
    keys: Vec<PublicJwk>,
}

/// Why a JWKS document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksError {
    /// Larger than [`MAX_JWKS_BYTES`].
    TooLarge,
    /// Not a JSON object with a `keys` array (RFC 7517 5).
    Malformed,
    /// More than [`MAX_JWKS_KEYS`] entries.
    TooManyKeys,
    /// Not one key edge-sso can verify signatures with.
    NoUsableKeys,
}

impl std::fmt::Display for JwksError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JwksError::TooLarge => "JWKS too large",
            JwksError::Malformed => "JWKS is not a JSON object with a keys array",
            JwksError::TooManyKeys => "JWKS has too many keys",
            JwksError::NoUsableKeys => "JWKS has no usable signing key",
        })
    }
}

impl std::error::Error for JwksError {}

/// Why no key could be chosen for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySelectError {
    /// The token names a `kid` no suitable key has (the IdP may have rotated its keys).
    UnknownKid,
    /// The token has no `kid` and no key fits its algorithm.
    NoSuitableKey,
    /// More than one key fits and the token's `kid` does not single one out.
    AmbiguousKey,
}

impl std::fmt::Display for KeySelectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeySelectError::UnknownKid => "no suitable key with the token's kid",
            KeySelectError::NoSuitableKey => "no key fits the token's algorithm",
            KeySelectError::AmbiguousKey => "several keys fit and no kid selects one",
        })
    }
}

impl std::error::Error for KeySelectError {}

impl Jwks {
    /// Parses a JWKS document (RFC 7517 5). Entries that fail to parse or that edge-sso cannot
    /// use are skipped; a set without a single usable key is an error.
    pub fn parse(bytes: &[u8]) -> Result<Jwks, JwksError> {
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge);
        }
        let doc: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(bytes).map_err(|_| JwksError::Malformed)?;
        let entries = doc
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or(JwksError::Malformed)?;
        if entries.len() > MAX_JWKS_KEYS {
            return Err(JwksError::TooManyKeys);
        }
        let keys = entries
            .iter()
            .filter_map(|v| PublicJwk::deserialize(v).ok())
            .collect();
        Jwks::from_keys(keys)
    }

    /// A set of the usable keys among `keys` (used to restore a cached set).
    pub fn from_keys(keys: Vec<PublicJwk>) -> Result<Jwks, JwksError> {
        if keys.len() > MAX_JWKS_KEYS {
            return Err(JwksError::TooManyKeys);
        }
        let keys: Vec<PublicJwk> = keys.into_iter().filter(PublicJwk::is_usable).collect();
        if keys.is_empty() {
            return Err(JwksError::NoUsableKeys);
        }
        Ok(Jwks { keys })
    }

    /// The usable keys.
    pub fn keys(&self) -> &[PublicJwk] {
        &self.keys
    }

    /// The key to verify an `alg` token with key id `kid` (OIDC Core 10.1.1: "the Key ID MUST be
    /// used for key selection" when the JWKS has several keys). Without `kid`, only an
    /// unambiguous single suitable key is used.
    pub fn select(&self, alg: JwsAlg, kid: Option<&str>) -> Result<&PublicJwk, KeySelectError> {
        let mut suitable = self.keys.iter().filter(|k| k.fits(alg));
        let (first, second) = match kid {
            Some(kid) => {
                let mut with_kid = suitable.filter(|k| k.kid.as_deref() == Some(kid));
                let first = with_kid.next().ok_or(KeySelectError::UnknownKid)?;
                (first, with_kid.next())
            }
            None => {
                let first = suitable.next().ok_or(KeySelectError::NoSuitableKey)?;
                (first, suitable.next())
            }
        };
        match second {
            None => Ok(first),
            Some(_) => Err(KeySelectError::AmbiguousKey),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa(kid: &str) -> serde_json::Value {
        serde_json::json!({"kty": "RSA", "kid": kid, "n": "AQAB", "e": "AQAB"})
    }
    fn ec(kid: &str) -> serde_json::Value {
        serde_json::json!({"kty": "EC", "kid": kid, "crv": "P-256", "x": "AQ", "y": "AQ"})
    }
    fn okp(kid: &str) -> serde_json::Value {
        serde_json::json!({"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": "AQ"})
    }
    fn set(keys: Vec<serde_json::Value>) -> Result<Jwks, JwksError> {
        Jwks::parse(&serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap())
    }

    #[test]
    fn parses_and_skips_unusable_keys() {
        let jwks = set(vec![
            rsa("a"),
            serde_json::json!({"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}),
            serde_json::json!({"kty": "oct", "k": "c2VjcmV0"}),
            serde_json::json!({"kty": "EC", "crv": "P-384", "x": "AQ", "y": "AQ"}),
            serde_json::json!({"kty": "RSA", "n": "AQAB"}),
            serde_json::json!({"kty": "RSA", "n": "not base64!", "e": "AQAB"}),
            serde_json::json!({"kty": "RSA", "alg": "RS512", "n": "AQAB", "e": "AQAB"}),
            serde_json::json!("not an object"),
            serde_json::json!({"kty": 5}),
            ec("b"),
            okp("c"),
        ])
        .unwrap();
        let kids: Vec<_> = jwks.keys().iter().map(|k| k.kid.as_deref()).collect();
        assert_eq!(kids, vec![Some("a"), Some("b"), Some("c")]);
    }

    #[test]
    fn rejects_malformed_documents() {
        assert_eq!(Jwks::parse(b"[]"), Err(JwksError::Malformed));
        assert_eq!(Jwks::parse(b"{}"), Err(JwksError::Malformed));
        assert_eq!(Jwks::parse(b"{\"keys\": {}}"), Err(JwksError::Malformed));
        assert_eq!(Jwks::parse(b"not json"), Err(JwksError::Malformed));
    }

    #[test]
    fn rejects_oversize_document() {
        let mut doc = b"{\"keys\":[],\"pad\":\"".to_vec();
        doc.resize(MAX_JWKS_BYTES + 1, b'a');
        assert_eq!(Jwks::parse(&doc), Err(JwksError::TooLarge));
    }

    #[test]
    fn rejects_too_many_keys() {
        let keys = (0..=MAX_JWKS_KEYS).map(|i| rsa(&i.to_string())).collect();
        assert_eq!(set(keys), Err(JwksError::TooManyKeys));
    }

    #[test]
    fn rejects_set_without_usable_keys() {
        assert_eq!(set(vec![]), Err(JwksError::NoUsableKeys));
        let enc = serde_json::json!({"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"});
        assert_eq!(set(vec![enc]), Err(JwksError::NoUsableKeys));
    }

    #[test]
    fn selects_by_kid() {
        let jwks = set(vec![rsa("a"), rsa("b"), ec("c")]).unwrap();
        let k = jwks.select(JwsAlg::RS256, Some("b")).unwrap();
        assert_eq!(k.kid.as_deref(), Some("b"));
        assert_eq!(
            jwks.select(JwsAlg::RS256, Some("zz")),
            Err(KeySelectError::UnknownKid)
        );
        // A kid that names a key of the wrong type is as good as unknown.
        assert_eq!(
            jwks.select(JwsAlg::RS256, Some("c")),
            Err(KeySelectError::UnknownKid)
        );
    }

    #[test]
    fn duplicate_kid_is_ambiguous() {
        let jwks = set(vec![rsa("a"), rsa("a")]).unwrap();
        assert_eq!(
            jwks.select(JwsAlg::RS256, Some("a")),
            Err(KeySelectError::AmbiguousKey)
        );
    }

    #[test]
    fn selects_without_kid_only_when_unambiguous() {
        let jwks = set(vec![rsa("a"), ec("c")]).unwrap();
        assert_eq!(
            jwks.select(JwsAlg::ES256, None).unwrap().kid.as_deref(),
            Some("c")
        );
        assert_eq!(
            jwks.select(JwsAlg::EdDSA, None),
            Err(KeySelectError::NoSuitableKey)
        );
        let two = set(vec![rsa("a"), rsa("b")]).unwrap();
        assert_eq!(
            two.select(JwsAlg::RS256, None),
            Err(KeySelectError::AmbiguousKey)
        );
    }

    #[test]
    fn key_alg_and_use_constrain_selection() {
        let jwks = set(vec![
            serde_json::json!({"kty": "RSA", "kid": "ps", "alg": "PS256", "n": "AQAB", "e": "AQAB"}),
            serde_json::json!({"kty": "RSA", "kid": "rs", "use": "sig", "alg": "RS256", "n": "AQAB", "e": "AQAB"}),
        ])
        .unwrap();
        assert_eq!(
            jwks.select(JwsAlg::RS256, None).unwrap().kid.as_deref(),
            Some("rs")
        );
        assert_eq!(
            jwks.select(JwsAlg::RS256, Some("ps")),
            Err(KeySelectError::UnknownKid)
        );
    }

    #[test]
    fn curve_must_fit() {
        let jwks = set(vec![
            serde_json::json!({"kty": "OKP", "kid": "x", "crv": "X25519", "x": "AQ"}),
            okp("ed"),
        ])
        .unwrap();
        assert_eq!(jwks.keys().len(), 1);
        assert!(jwks.select(JwsAlg::EdDSA, Some("x")).is_err());
    }
}
