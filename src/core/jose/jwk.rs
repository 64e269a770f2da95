//! JSON Web Keys and Key Sets (RFC 7517), checked once when parsed: a [`PublicJwk`] exists only
//! for a key edge-sso can verify signatures with, and knows which algorithms it fits, whether it
//! is strong enough, and its RFC 7638 thumbprint. Verification then only looks these up.

use crate::core::jose::alg::JwsAlg;
use crate::core::jose::verify::SignatureError;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Largest JWKS document accepted, in bytes (real IdPs publish a few KiB).
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Most `keys` entries accepted in one JWKS.
pub const MAX_JWKS_KEYS: usize = 100;
/// Longest per-key `issuer` accepted, in characters (the longest issuer an org may configure,
/// [`MAX_ISSUER_CHARS`](crate::core::oidc::issuer::MAX_ISSUER_CHARS)).
pub const MAX_JWK_ISSUER_CHARS: usize = 512;
/// Smallest RSA modulus accepted (RFC 7518 3.3: "A key of size 2048 bits or larger MUST be
/// used"; jwt-compact's `StrongKey`).
pub const MIN_RSA_BITS: usize = 2048;

/// Bit length of a big-endian unsigned integer.
pub fn bit_len(bytes: &[u8]) -> usize {
    match bytes.iter().position(|b| *b != 0) {
        None => 0,
        Some(i) => (bytes.len() - i) * 8 - bytes[i].leading_zeros() as usize,
    }
}

/// The members of a published JWK that edge-sso reads; everything else (`x5c`, private
/// members...) is dropped at parse. Key material stays base64url as published: WebCrypto
/// imports it as is. `issuer` is not an RFC 7517 member: Microsoft Entra ID publishes it on
/// each key ("issuer": "https://login.microsoftonline.com/{tenantid}/v2.0") to say which
/// issuer the key signs for; it is kept so that verification can hold tokens to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    use_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
}

impl RawJwk {
    /// Whether the key's shape fits `alg`: `kty` matches, `use` is absent or "sig", `alg` is
    /// absent or equal, the curve fits (P-256 for ES256, Ed25519 for EdDSA) and the members the
    /// type needs are present, non-empty and base64url (RFC 7517 4, RFC 7518 6, RFC 8037 2).
    fn shape_fits(&self, alg: JwsAlg) -> bool {
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
}

/// The RFC 7638 thumbprint (SHA-256, base64url) of a key given its required members in
/// lexicographic order (RFC 7638 3.2; RFC 8037 2 for OKP). Members are base64url or fixed
/// names, so no JSON escaping can occur; they are still written through serde_json.
pub(crate) fn thumbprint(members: &[(&str, &str)]) -> String {
    let mut json = String::from("{");
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&serde_json::Value::from(*name).to_string());
        json.push(':');
        json.push_str(&serde_json::Value::from(*value).to_string());
    }
    json.push('}');
    Base64UrlUnpadded::encode_string(&Sha256::digest(json.as_bytes()))
}

/// A public JSON Web Key edge-sso can verify signatures with, as published in an issuer's JWKS
/// (RFC 7517). Only [`PublicJwk::parse`] (or deserializing, which calls it) makes one, and it
/// runs the key checks once: which algorithms the key fits, whether an RSA modulus has at least
/// [`MIN_RSA_BITS`], and the key's thumbprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawJwk", into = "RawJwk")]
pub struct PublicJwk {
    raw: RawJwk,
    /// The [`JwsAlg::bit`]s of the algorithms the key's shape fits (never 0).
    fits: u8,
    /// Why the key cannot be used although its shape fits (an RSA modulus that is too short).
    /// Such keys stay in the set so that a token naming one is refused as [`UnusableKey`]
    /// rather than sent to refetch keys.
    ///
    /// [`UnusableKey`]: SignatureError::UnusableKey
    weak: Option<String>,
    /// RFC 7638 thumbprint of the public members.
    thumbprint: String,
}

/// Why a JWK was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwkError {
    /// Not a JSON object with a string `kty` (RFC 7517 4.1).
    Malformed,
    /// Fits no algorithm edge-sso accepts (encryption key, unknown type or curve, missing or
    /// malformed members, `alg` we do not support).
    Unsupported,
    /// Has an `issuer` that is empty, longer than [`MAX_JWK_ISSUER_CHARS`], or holds whitespace
    /// or control characters. The key is dropped rather than kept without its restriction
    /// (fail closed).
    InvalidIssuer,
}

impl std::fmt::Display for JwkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JwkError::Malformed => "JWK is not an object with a kty",
            JwkError::Unsupported => "JWK fits no supported signature algorithm",
            JwkError::InvalidIssuer => "JWK issuer is not a usable issuer string",
        })
    }
}

impl std::error::Error for JwkError {}

impl TryFrom<RawJwk> for PublicJwk {
    type Error = JwkError;

    fn try_from(raw: RawJwk) -> Result<Self, JwkError> {
        let fits = JwsAlg::ALL
            .into_iter()
            .filter(|alg| raw.shape_fits(*alg))
            .fold(0, |bits, alg| bits | alg.bit());
        if fits == 0 {
            return Err(JwkError::Unsupported);
        }
        if let Some(issuer) = &raw.issuer {
            let usable = !issuer.is_empty()
                && issuer.chars().count() <= MAX_JWK_ISSUER_CHARS
                && !issuer.chars().any(|c| c.is_whitespace() || c.is_control());
            if !usable {
                return Err(JwkError::InvalidIssuer);
            }
        }
        // The shape check guarantees the members below are present and base64url.
        let m = |v: &Option<String>| v.clone().unwrap_or_default();
        let (weak, thumbprint) = match raw.kty.as_str() {
            "RSA" => {
                let n = Base64UrlUnpadded::decode_vec(&m(&raw.n)).unwrap_or_default();
                let bits = bit_len(&n);
                let weak = (bits < MIN_RSA_BITS)
                    .then(|| format!("RSA modulus of {bits} bits (< {MIN_RSA_BITS})"));
                let tp = thumbprint(&[("e", &m(&raw.e)), ("kty", "RSA"), ("n", &m(&raw.n))]);
                (weak, tp)
            }
            "EC" => {
                let members = [
                    ("crv", m(&raw.crv)),
                    ("kty", "EC".to_owned()),
                    ("x", m(&raw.x)),
                    ("y", m(&raw.y)),
                ];
                let members: Vec<(&str, &str)> =
                    members.iter().map(|(k, v)| (*k, v.as_str())).collect();
                (None, thumbprint(&members))
            }
            _ => {
                let tp = thumbprint(&[("crv", &m(&raw.crv)), ("kty", "OKP"), ("x", &m(&raw.x))]);
                (None, tp)
            }
        };
        Ok(PublicJwk {
            raw,
            fits,
            weak,
            thumbprint,
        })
    }
}

impl From<PublicJwk> for RawJwk {
    fn from(k: PublicJwk) -> RawJwk {
        k.raw
    }
}

/// A key paired with an algorithm it fits: what a [`SignatureVerifier`] is handed. Only
/// [`PublicJwk::for_alg`] makes one.
///
/// [`SignatureVerifier`]: super::verify::SignatureVerifier
#[derive(Debug, Clone, Copy)]
pub struct FittedKey<'a> {
    alg: JwsAlg,
    jwk: &'a PublicJwk,
}

impl<'a> FittedKey<'a> {
    /// The algorithm.
    pub fn alg(&self) -> JwsAlg {
        self.alg
    }
    /// The key.
    pub fn jwk(&self) -> &'a PublicJwk {
        self.jwk
    }
}

impl PublicJwk {
    /// Parses one JWK (RFC 7517 4) and checks it (see [`PublicJwk`]).
    pub fn parse(value: &serde_json::Value) -> Result<PublicJwk, JwkError> {
        let raw = RawJwk::deserialize(value).map_err(|_| JwkError::Malformed)?;
        PublicJwk::try_from(raw)
    }

    /// Whether the key's shape fits `alg` (type, `use`, `alg`, curve, members). Key strength is
    /// checked by [`PublicJwk::for_alg`].
    pub fn fits(&self, alg: JwsAlg) -> bool {
        self.fits & alg.bit() != 0
    }

    /// The key for verifying `alg` signatures, when it fits and is strong enough: the result of
    /// the checks made at parse, no work is repeated.
    pub fn for_alg(&self, alg: JwsAlg) -> Result<FittedKey<'_>, SignatureError> {
        if !self.fits(alg) {
            return Err(SignatureError::UnusableKey(format!(
                "{} key does not fit {}",
                self.raw.kty,
                alg.name()
            )));
        }
        if let Some(weak) = &self.weak {
            return Err(SignatureError::UnusableKey(weak.clone()));
        }
        Ok(FittedKey { alg, jwk: self })
    }

    /// The RFC 7638 JWK thumbprint (base64url SHA-256 of the required public members): a stable
    /// identity of the key material, computed once at parse.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }
    /// Key type: "RSA", "EC" or "OKP".
    pub fn kty(&self) -> &str {
        &self.raw.kty
    }
    /// Key id.
    pub fn kid(&self) -> Option<&str> {
        self.raw.kid.as_deref()
    }
    /// RSA modulus (base64url).
    pub fn n(&self) -> Option<&str> {
        self.raw.n.as_deref()
    }
    /// RSA public exponent (base64url).
    pub fn e(&self) -> Option<&str> {
        self.raw.e.as_deref()
    }
    /// EC / OKP curve.
    pub fn crv(&self) -> Option<&str> {
        self.raw.crv.as_deref()
    }
    /// EC x coordinate / OKP public key (base64url).
    pub fn x(&self) -> Option<&str> {
        self.raw.x.as_deref()
    }
    /// EC y coordinate (base64url).
    pub fn y(&self) -> Option<&str> {
        self.raw.y.as_deref()
    }
    /// The issuer the key signs for, when the JWKS says (Entra ID's per-key `issuer`, possibly
    /// holding the `{tenantid}` placeholder). Tokens it verified must carry this `iss`.
    pub fn issuer(&self) -> Option<&str> {
        self.raw.issuer.as_deref()
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
        Jwks::from_values(entries)
    }

    /// A set of the usable keys among the JSON values `entries` (a `keys` array, or a cached
    /// copy of one); entries that do not parse as a usable [`PublicJwk`] are skipped.
    pub fn from_values(entries: &[serde_json::Value]) -> Result<Jwks, JwksError> {
        if entries.len() > MAX_JWKS_KEYS {
            return Err(JwksError::TooManyKeys);
        }
        Jwks::from_keys(
            entries
                .iter()
                .filter_map(|v| PublicJwk::parse(v).ok())
                .collect(),
        )
    }

    /// A set of already checked keys.
    pub fn from_keys(keys: Vec<PublicJwk>) -> Result<Jwks, JwksError> {
        if keys.len() > MAX_JWKS_KEYS {
            return Err(JwksError::TooManyKeys);
        }
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
                let mut with_kid = suitable.filter(|k| k.kid() == Some(kid));
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
        let kids: Vec<_> = jwks.keys().iter().map(|k| k.kid()).collect();
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
        assert_eq!(k.kid(), Some("b"));
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
        assert_eq!(jwks.select(JwsAlg::ES256, None).unwrap().kid(), Some("c"));
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
        assert_eq!(jwks.select(JwsAlg::RS256, None).unwrap().kid(), Some("rs"));
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

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 3.1.
        let key = PublicJwk::parse(&serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }))
        .unwrap();
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn thumbprint_ignores_kid_use_and_alg_but_not_key_material() {
        let a = PublicJwk::parse(&ec("a")).unwrap();
        let b = PublicJwk::parse(&serde_json::json!(
            {"kty": "EC", "kid": "b", "use": "sig", "alg": "ES256", "crv": "P-256", "x": "AQ", "y": "AQ"}
        ))
        .unwrap();
        let c = PublicJwk::parse(&serde_json::json!(
            {"kty": "EC", "kid": "a", "crv": "P-256", "x": "AQ", "y": "Ag"}
        ))
        .unwrap();
        assert_eq!(a.thumbprint(), b.thumbprint());
        assert_ne!(a.thumbprint(), c.thumbprint());
        let okp = PublicJwk::parse(&okp("c")).unwrap();
        let rsa = PublicJwk::parse(&rsa("c")).unwrap();
        assert_ne!(okp.thumbprint(), rsa.thumbprint());
    }

    #[test]
    fn key_fit_is_decided_at_parse() {
        let ec = PublicJwk::parse(&ec("ec")).unwrap();
        assert!(ec.for_alg(JwsAlg::ES256).is_ok());
        assert_eq!(
            ec.for_alg(JwsAlg::RS256).unwrap_err(),
            SignatureError::UnusableKey("EC key does not fit RS256".into())
        );
        let rsa = PublicJwk::parse(&rsa("a")).unwrap();
        assert!(rsa.fits(JwsAlg::RS256) && rsa.fits(JwsAlg::PS256));
        assert_eq!(
            rsa.for_alg(JwsAlg::EdDSA).unwrap_err(),
            SignatureError::UnusableKey("RSA key does not fit EdDSA".into())
        );
        let fitted = PublicJwk::parse(&serde_json::json!(
            {"kty": "RSA", "alg": "PS256", "n": "AQAB", "e": "AQAB"}
        ))
        .unwrap();
        assert!(fitted.for_alg(JwsAlg::RS256).is_err());
    }

    #[test]
    fn short_rsa_modulus_is_kept_but_unusable() {
        // "AQAB" is a 17-bit modulus: selectable (a token naming it is refused as unusable,
        // not sent to refetch the keys), never handed to a verifier.
        let weak = PublicJwk::parse(&rsa("w")).unwrap();
        assert!(weak.fits(JwsAlg::RS256));
        assert_eq!(
            weak.for_alg(JwsAlg::RS256).unwrap_err(),
            SignatureError::UnusableKey("RSA modulus of 17 bits (< 2048)".into())
        );
        let strong = serde_json::json!({
            "kty": "RSA",
            "n": Base64UrlUnpadded::encode_string(&[0x80; 256]),
            "e": "AQAB"
        });
        let strong = PublicJwk::parse(&strong).unwrap();
        assert_eq!(strong.for_alg(JwsAlg::RS256).unwrap().alg(), JwsAlg::RS256);
        let short = serde_json::json!({
            "kty": "RSA",
            "n": Base64UrlUnpadded::encode_string(&[0x7f; 256]),
            "e": "AQAB"
        });
        assert!(PublicJwk::parse(&short)
            .unwrap()
            .for_alg(JwsAlg::RS256)
            .is_err());
    }

    #[test]
    fn unusable_jwks_entries_do_not_parse() {
        assert_eq!(
            PublicJwk::parse(&serde_json::json!("x")),
            Err(JwkError::Malformed)
        );
        assert_eq!(
            PublicJwk::parse(&serde_json::json!({"kty": "oct", "k": "AQ"})),
            Err(JwkError::Unsupported)
        );
        // Deserializing runs the same checks.
        let enc = serde_json::json!({"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"});
        assert!(serde_json::from_value::<PublicJwk>(enc).is_err());
    }

    #[test]
    fn serializes_only_public_members() {
        let mut v = ec("e");
        v["d"] = "AQ".into();
        v["x5c"] = serde_json::json!(["AAAA"]);
        let k = PublicJwk::parse(&v).unwrap();
        let out = serde_json::to_value(&k).unwrap();
        assert_eq!(out, ec("e"));
        assert_eq!(serde_json::from_value::<PublicJwk>(out).unwrap(), k);
    }

    #[test]
    fn per_key_issuer_is_kept_and_checked() {
        // Entra ID's JWKS: each key names the issuer it signs for.
        let tpl = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let mut v = rsa("e");
        v["issuer"] = tpl.into();
        let k = PublicJwk::parse(&v).unwrap();
        assert_eq!(k.issuer(), Some(tpl));
        // Kept through the cache's serialized form, and not part of the thumbprint.
        let out = serde_json::to_value(&k).unwrap();
        assert_eq!(out["issuer"], tpl);
        assert_eq!(serde_json::from_value::<PublicJwk>(out).unwrap(), k);
        assert_eq!(
            k.thumbprint(),
            PublicJwk::parse(&rsa("e")).unwrap().thumbprint()
        );
        assert_eq!(PublicJwk::parse(&rsa("e")).unwrap().issuer(), None);
        // A key whose issuer cannot be used is dropped, never kept without its restriction.
        for bad in [
            serde_json::json!(""),
            serde_json::json!(" https://a.example"),
            serde_json::json!("https://a.example/\n"),
            serde_json::json!(format!(
                "https://a.example/{}",
                "x".repeat(MAX_JWK_ISSUER_CHARS)
            )),
        ] {
            let mut v = rsa("e");
            v["issuer"] = bad.clone();
            assert_eq!(PublicJwk::parse(&v), Err(JwkError::InvalidIssuer), "{bad}");
        }
        for bad in [
            serde_json::json!(5),
            serde_json::json!(["x"]),
            serde_json::json!({}),
        ] {
            let mut v = rsa("e");
            v["issuer"] = bad.clone();
            assert_eq!(PublicJwk::parse(&v), Err(JwkError::Malformed), "{bad}");
        }
        // In a set, such a key is skipped like any unusable entry.
        let mut bad = rsa("bad");
        bad["issuer"] = 5.into();
        let jwks = set(vec![bad, rsa("good")]).unwrap();
        assert_eq!(jwks.keys().len(), 1);
        assert_eq!(jwks.keys()[0].kid(), Some("good"));
    }

    proptest::proptest! {
        /// Any JSON value as a key's `issuer` (untrusted input) parses without panicking: a
        /// usable string is kept exactly and survives the cache's round trip; anything else
        /// drops the key.
        #[test]
        fn arbitrary_issuer_member(issuer in proptest::prelude::any::<String>(), n in 0u8..3) {
            let value = match n {
                0 => serde_json::Value::from(issuer.clone()),
                1 => serde_json::json!([issuer.clone()]),
                _ => serde_json::json!({"issuer": issuer.clone()}),
            };
            let mut v = ec("p");
            v["issuer"] = value;
            match PublicJwk::parse(&v) {
                Ok(k) => {
                    proptest::prop_assert_eq!(n, 0);
                    proptest::prop_assert_eq!(k.issuer(), Some(issuer.as_str()));
                    proptest::prop_assert!(!issuer.is_empty());
                    proptest::prop_assert!(issuer.chars().count() <= MAX_JWK_ISSUER_CHARS);
                    let back: PublicJwk = serde_json::from_value(serde_json::to_value(&k).unwrap()).unwrap();
                    proptest::prop_assert_eq!(back, k);
                }
                Err(e) => proptest::prop_assert!(
                    n != 0 || e == JwkError::InvalidIssuer,
                    "{e:?}"
                ),
            }
        }
    }

    #[test]
    fn bit_length() {
        assert_eq!(bit_len(&[]), 0);
        assert_eq!(bit_len(&[0, 0]), 0);
        assert_eq!(bit_len(&[0, 1]), 1);
        assert_eq!(bit_len(&[0x80, 0]), 16);
        assert_eq!(bit_len(&[0, 0x7f, 0]), 15);
    }
}
