//! An EC P-256 private JWK (RFC 7517, RFC 7518 6.2.2) to sign ES256 tokens with: parsed and
//! checked once, the private scalar kept in a [`Secret`] that never prints.

use crate::core::jose::alg::JwsAlg;
use crate::core::jose::jwk::thumbprint;
use crate::core::secret::Secret;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Map, Value};

/// Longest `kid` accepted from a configured key.
pub const MAX_KID_LEN: usize = 128;

/// The order of the P-256 group (SEC 2 2.4.2), big-endian: `d` must lie in `[1, n - 1]`.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// Why a private JWK was refused. No variant holds key material.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrivateJwkError {
    /// Not a JSON object.
    Malformed,
    /// `kty` is not "EC".
    WrongKeyType,
    /// `crv` is not "P-256".
    WrongCurve,
    /// A required member (`x`, `y`, `d`) is missing or not a string. `d` missing means a
    /// public key was given where a private one is needed.
    Missing(&'static str),
    /// A member is not base64url of the right length (32 bytes for P-256), or `d` is not a
    /// valid scalar.
    Invalid(&'static str),
    /// `use` is present and not "sig", or `alg` is present and not "ES256".
    NotForSigning,
    /// `x`/`y` is not the public key of `d` (checked by the signer that imports the key).
    Mismatch,
}

impl std::fmt::Display for PrivateJwkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrivateJwkError::Malformed => f.write_str("private JWK is not a JSON object"),
            PrivateJwkError::WrongKeyType => f.write_str("private JWK kty is not EC"),
            PrivateJwkError::WrongCurve => f.write_str("private JWK crv is not P-256"),
            PrivateJwkError::Missing(m) => write!(f, "private JWK has no {m}"),
            PrivateJwkError::Invalid(m) => write!(f, "private JWK {m} is invalid"),
            PrivateJwkError::NotForSigning => {
                f.write_str("private JWK is not an ES256 signing key")
            }
            PrivateJwkError::Mismatch => f.write_str("private JWK x/y do not match d"),
        }
    }
}

impl std::error::Error for PrivateJwkError {}

/// A P-256 private key for ES256, from its JWK. `Debug` never shows `d`; only
/// [`EcPrivateJwk::d`] (for a signer to import) reaches it.
#[derive(Clone)]
pub struct EcPrivateJwk {
    x: String,
    y: String,
    d: Secret,
    kid: String,
}

impl std::fmt::Debug for EcPrivateJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcPrivateJwk")
            .field("kid", &self.kid)
            .field("x", &self.x)
            .field("y", &self.y)
            .field("d", &self.d)
            .finish()
    }
}

/// A 32-byte base64url member.
fn coordinate(
    jwk: &Map<String, Value>,
    name: &'static str,
) -> Result<(String, Vec<u8>), PrivateJwkError> {
    let v = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or(PrivateJwkError::Missing(name))?;
    let bytes = Base64UrlUnpadded::decode_vec(v).map_err(|_| PrivateJwkError::Invalid(name))?;
    if bytes.len() != 32 {
        return Err(PrivateJwkError::Invalid(name));
    }
    Ok((v.to_owned(), bytes))
}

/// Whether the big-endian `d` lies in `[1, n - 1]`, in constant time: the borrow out of
/// `d - n` is set exactly when `d < n`.
fn valid_scalar(d: &[u8]) -> bool {
    let mut borrow = 0u16;
    let mut nonzero = 0u8;
    for (a, b) in d.iter().zip(P256_ORDER.iter()).rev() {
        let diff = u16::from(*a)
            .wrapping_sub(u16::from(*b))
            .wrapping_sub(borrow);
        borrow = (diff >> 8) & 1;
        nonzero |= *a;
    }
    (borrow == 1) & (nonzero != 0)
}

impl EcPrivateJwk {
    /// Parses a private JWK `{"kty": "EC", "crv": "P-256", "x", "y", "d"}` (optional `kid`,
    /// `use` "sig", `alg` "ES256"). Without a `kid`, the key id is its RFC 7638 thumbprint.
    pub fn parse(json: &str) -> Result<EcPrivateJwk, PrivateJwkError> {
        let jwk: Map<String, Value> =
            crate::core::json::from_str(json).map_err(|_| PrivateJwkError::Malformed)?;
        if jwk.get("kty").and_then(Value::as_str) != Some("EC") {
            return Err(PrivateJwkError::WrongKeyType);
        }
        if jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
            return Err(PrivateJwkError::WrongCurve);
        }
        match jwk.get("use") {
            None => {}
            Some(u) if u.as_str() == Some("sig") => {}
            Some(_) => return Err(PrivateJwkError::NotForSigning),
        }
        match jwk.get("alg") {
            None => {}
            Some(a) if a.as_str() == Some(JwsAlg::ES256.name()) => {}
            Some(_) => return Err(PrivateJwkError::NotForSigning),
        }
        let (x, _) = coordinate(&jwk, "x")?;
        let (y, _) = coordinate(&jwk, "y")?;
        let (d, d_bytes) = coordinate(&jwk, "d")?;
        if !valid_scalar(&d_bytes) {
            return Err(PrivateJwkError::Invalid("d"));
        }
        let kid = match jwk.get("kid") {
            None => thumbprint(&[("crv", "P-256"), ("kty", "EC"), ("x", &x), ("y", &y)]),
            Some(Value::String(k))
                if !k.is_empty()
                    && k.len() <= MAX_KID_LEN
                    && k.chars().all(|c| c.is_ascii_graphic()) =>
            {
                k.clone()
            }
            Some(_) => return Err(PrivateJwkError::Invalid("kid")),
        };
        Ok(EcPrivateJwk {
            x,
            y,
            d: Secret::new(d),
            kid,
        })
    }

    /// The key id: the JWK's `kid`, else its RFC 7638 thumbprint.
    pub fn kid(&self) -> &str {
        &self.kid
    }
    /// The public x coordinate (base64url).
    pub fn x(&self) -> &str {
        &self.x
    }
    /// The public y coordinate (base64url).
    pub fn y(&self) -> &str {
        &self.y
    }
    /// The private scalar (base64url), for a signer to import.
    pub fn d(&self) -> &Secret {
        &self.d
    }

    /// The public JWK to publish in a JWKS: `kty`, `crv`, `x`, `y`, `kid`, `alg` ES256, `use`
    /// sig. Never `d`.
    pub fn public_jwk(&self) -> Value {
        serde_json::json!({
            "kty": "EC",
            "crv": "P-256",
            "x": self.x,
            "y": self.y,
            "kid": self.kid,
            "alg": JwsAlg::ES256.name(),
            "use": "sig",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::jose::jwk::PublicJwk;
    use crate::core::jose::testkit::{fixture, Key};

    fn with(f: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut v: Map<String, Value> = crate::core::json::from_str(fixture(Key::P256)).unwrap();
        f(&mut v);
        serde_json::to_string(&v).unwrap()
    }

    #[test]
    fn parses_the_fixture_and_publishes_only_the_public_half() {
        let k = EcPrivateJwk::parse(fixture(Key::P256)).unwrap();
        let public = k.public_jwk();
        assert!(public.get("d").is_none());
        assert_eq!(public["alg"], "ES256");
        assert_eq!(public["use"], "sig");
        let parsed = PublicJwk::parse(&public).unwrap();
        // RFC 7638: without a kid, the kid is the thumbprint, the same one the JWKS side computes.
        assert_eq!(k.kid(), parsed.thumbprint());
        assert_eq!(parsed.kid(), Some(k.kid()));
        assert!(parsed.for_alg(JwsAlg::ES256).is_ok());
    }

    #[test]
    fn kid_is_kept_when_given() {
        let k = EcPrivateJwk::parse(&with(|v| {
            v.insert("kid".into(), "gw-2025".into());
        }))
        .unwrap();
        assert_eq!(k.kid(), "gw-2025");
        assert_eq!(k.public_jwk()["kid"], "gw-2025");
        for bad in [
            json_str(""),
            json_str("a b"),
            Value::from(5),
            json_str(&"k".repeat(129)),
        ] {
            assert_eq!(
                EcPrivateJwk::parse(&with(|v| {
                    v.insert("kid".into(), bad.clone());
                }))
                .unwrap_err(),
                PrivateJwkError::Invalid("kid"),
                "{bad}"
            );
        }
    }

    fn json_str(s: &str) -> Value {
        Value::from(s)
    }

    #[test]
    fn debug_never_shows_d() {
        let k = EcPrivateJwk::parse(fixture(Key::P256)).unwrap();
        let d = k.d().expose().to_owned();
        let s = format!("{k:?}");
        assert!(!s.contains(&d) && s.contains("[redacted]"), "{s}");
    }

    #[test]
    fn rejections() {
        let cases: Vec<(String, PrivateJwkError)> = vec![
            ("[]".into(), PrivateJwkError::Malformed),
            ("not json".into(), PrivateJwkError::Malformed),
            (
                with(|v| {
                    v.insert("kty".into(), "RSA".into());
                }),
                PrivateJwkError::WrongKeyType,
            ),
            (
                with(|v| {
                    v.remove("kty");
                }),
                PrivateJwkError::WrongKeyType,
            ),
            (
                with(|v| {
                    v.insert("crv".into(), "P-384".into());
                }),
                PrivateJwkError::WrongCurve,
            ),
            (fixture(Key::Ed25519).into(), PrivateJwkError::WrongKeyType),
            (
                with(|v| {
                    v.remove("d");
                }),
                PrivateJwkError::Missing("d"),
            ),
            (
                with(|v| {
                    v.remove("y");
                }),
                PrivateJwkError::Missing("y"),
            ),
            (
                with(|v| {
                    v.insert("d".into(), "not base64!".into());
                }),
                PrivateJwkError::Invalid("d"),
            ),
            (
                with(|v| {
                    v.insert("x".into(), "AQAB".into());
                }),
                PrivateJwkError::Invalid("x"),
            ),
            (
                with(|v| {
                    v.insert(
                        "d".into(),
                        Base64UrlUnpadded::encode_string(&[0; 32]).into(),
                    );
                }),
                PrivateJwkError::Invalid("d"),
            ),
            (
                with(|v| {
                    v.insert(
                        "d".into(),
                        Base64UrlUnpadded::encode_string(&P256_ORDER).into(),
                    );
                }),
                PrivateJwkError::Invalid("d"),
            ),
            (
                with(|v| {
                    v.insert("use".into(), "enc".into());
                }),
                PrivateJwkError::NotForSigning,
            ),
            (
                with(|v| {
                    v.insert("alg".into(), "ES384".into());
                }),
                PrivateJwkError::NotForSigning,
            ),
        ];
        for (json, want) in cases {
            assert_eq!(EcPrivateJwk::parse(&json).unwrap_err(), want, "{json}");
        }
    }

    #[test]
    fn scalar_range() {
        let mut below = P256_ORDER;
        below[31] -= 1;
        assert!(valid_scalar(&below));
        let mut one = [0u8; 32];
        one[31] = 1;
        assert!(valid_scalar(&one));
        assert!(!valid_scalar(&P256_ORDER));
        assert!(!valid_scalar(&[0xff; 32]));
        assert!(!valid_scalar(&[0; 32]));
    }
}
