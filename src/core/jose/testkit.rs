//! Test keys (from `tests/fixtures/`) and a signer that signs whatever header and payload a test
//! asks for, including headers no real signer would write. The one token signer of the unit
//! tests, `tests/` and `benches/` (feature `testkit`; never in the Wasm build).

use crate::core::jose::jwk::{Jwks, PublicJwk};
use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::alg::{Ed25519, Es256, Rsa, RsaPrivateKey};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmSignature};
use serde_json::Value;
use std::sync::OnceLock;

/// A fixture key pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// RSA 2048 (RS256, PS256).
    RsaA,
    /// Another RSA 2048 key (the "rotated" key; also signs "bad signature" tokens).
    RsaB,
    /// RSA 1024: must be refused (RFC 7518 section 3.3 asks for 2048 bits or more).
    RsaWeak,
    /// P-256 (ES256).
    P256,
    /// Ed25519 (EdDSA).
    Ed25519,
}

/// The private JWK of `key`, as JSON text.
pub fn fixture(key: Key) -> &'static str {
    match key {
        Key::RsaA => include_str!("../../../tests/fixtures/rsa2048-a.private.jwk.json"),
        Key::RsaB => include_str!("../../../tests/fixtures/rsa2048-b.private.jwk.json"),
        Key::RsaWeak => include_str!("../../../tests/fixtures/rsa1024-weak.private.jwk.json"),
        Key::P256 => include_str!("../../../tests/fixtures/p256.private.jwk.json"),
        Key::Ed25519 => include_str!("../../../tests/fixtures/ed25519.private.jwk.json"),
    }
}

fn rsa_private(key: Key) -> &'static RsaPrivateKey {
    static A: OnceLock<RsaPrivateKey> = OnceLock::new();
    static B: OnceLock<RsaPrivateKey> = OnceLock::new();
    static W: OnceLock<RsaPrivateKey> = OnceLock::new();
    let cell = match key {
        Key::RsaA => &A,
        Key::RsaB => &B,
        _ => &W,
    };
    cell.get_or_init(|| {
        let jwk: JsonWebKey<'_> = crate::core::json::from_str(fixture(key)).unwrap();
        RsaPrivateKey::try_from(&jwk).unwrap()
    })
}

/// The public JWK of `key` as JSON, with key id `kid`.
pub fn public_json(key: Key, kid: &str) -> Value {
    let mut v: serde_json::Map<String, Value> = crate::core::json::from_str(fixture(key)).unwrap();
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        v.remove(private);
    }
    v.insert("kid".into(), kid.into());
    Value::Object(v)
}

/// The public JWK of `key`, with key id `kid`.
pub fn public(key: Key, kid: &str) -> PublicJwk {
    PublicJwk::parse(&public_json(key, kid)).unwrap()
}

/// A JWKS holding `keys`.
pub fn jwks(keys: &[(Key, &str)]) -> Jwks {
    Jwks::from_keys(keys.iter().map(|(k, kid)| public(*k, kid)).collect()).unwrap()
}

/// The JWKS document (JSON bytes) holding `keys`.
pub fn jwks_json(keys: &[(Key, &str)]) -> Vec<u8> {
    let keys: Vec<Value> = keys.iter().map(|(k, kid)| public_json(*k, kid)).collect();
    serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap()
}

fn b64json(v: &Value) -> String {
    Base64UrlUnpadded::encode_string(&serde_json::to_vec(v).unwrap())
}

/// The classic algorithm confusion (RFC 8725 2.1): `payload` under `{"alg":"HS256","kid":kid}`,
/// MACed with the JSON bytes of `key`'s public JWK as the HMAC secret, as an attacker holding
/// only the IdP's published key would make it.
pub fn hs256_keyed_with_public(key: Key, kid: &str, payload: &Value) -> String {
    use jwt_compact::alg::{Hs256, Hs256Key};
    let secret = serde_json::to_vec(&public(key, kid)).unwrap();
    let input = format!(
        "{}.{}",
        b64json(&serde_json::json!({ "alg": "HS256", "kid": kid })),
        b64json(payload)
    );
    let sig = Hs256.sign(&Hs256Key::new(&secret), input.as_bytes());
    format!(
        "{input}.{}",
        Base64UrlUnpadded::encode_string(&sig.as_bytes())
    )
}

/// Signs `header` (`alg` as given there) and `payload` with `key`.
pub fn sign(key: Key, header: &Value, payload: &Value) -> String {
    let input = format!("{}.{}", b64json(header), b64json(payload));
    let alg = header["alg"].as_str().unwrap();
    let sig: Vec<u8> = match key {
        Key::RsaA | Key::RsaB | Key::RsaWeak => {
            let rsa = if alg == "PS256" {
                Rsa::ps256()
            } else {
                Rsa::rs256()
            };
            rsa.sign(rsa_private(key), input.as_bytes())
                .as_bytes()
                .into_owned()
        }
        Key::P256 => {
            let jwk: JsonWebKey<'_> = crate::core::json::from_str(fixture(key)).unwrap();
            let sk = <Es256 as Algorithm>::SigningKey::try_from(&jwk).unwrap();
            Es256.sign(&sk, input.as_bytes()).as_bytes().into_owned()
        }
        Key::Ed25519 => {
            let jwk: JsonWebKey<'_> = crate::core::json::from_str(fixture(key)).unwrap();
            let sk = <Ed25519 as Algorithm>::SigningKey::try_from(&jwk).unwrap();
            Ed25519.sign(&sk, input.as_bytes()).as_bytes().into_owned()
        }
    };
    format!("{input}.{}", Base64UrlUnpadded::encode_string(&sig))
}
