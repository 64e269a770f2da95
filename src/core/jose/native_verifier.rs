//! [`SignatureVerifier`] on jwt-compact's Rust crypto (`rsa`, `p256`, `ed25519-compact`), for
//! native builds: tests, benchmarks, tools. The edge uses WebCrypto instead.

use crate::core::jose::alg::JwsAlg;
use crate::core::jose::jwk::{FittedKey, PublicJwk};
use crate::core::jose::verify::{SignatureError, SignatureVerifier};
use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::alg::{Ed25519, Es256, Rsa, RsaPublicKey};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmSignature};
use std::borrow::Cow;

/// Verifies JWS signatures with jwt-compact's algorithms.
#[derive(Debug, Default, Clone, Copy)]
pub struct NativeVerifier;

fn member(jwk: &PublicJwk, value: Option<&str>, name: &str) -> Result<Vec<u8>, SignatureError> {
    let v = value
        .ok_or_else(|| SignatureError::UnusableKey(format!("{} key without {name}", jwk.kty())))?;
    Base64UrlUnpadded::decode_vec(v)
        .map_err(|_| SignatureError::UnusableKey(format!("{name} is not base64url")))
}

fn check<A: Algorithm>(
    alg: &A,
    key: &A::VerifyingKey,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    // Fixed-length signatures are length-checked first: some `try_from_slice` impls assume it.
    if A::Signature::LENGTH.is_some_and(|len| len.get() != signature.len()) {
        return Err(SignatureError::Invalid);
    }
    let sig = A::Signature::try_from_slice(signature).map_err(|_| SignatureError::Invalid)?;
    if alg.verify_signature(&sig, key, signing_input) {
        Ok(())
    } else {
        Err(SignatureError::Invalid)
    }
}

impl SignatureVerifier for NativeVerifier {
    async fn verify(
        &self,
        key: FittedKey<'_>,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        // The key's fit (type, curve, RSA modulus >= 2048 bits) was checked when it was parsed.
        let (alg, key) = (key.alg(), key.jwk());
        let unusable = |e: jwt_compact::jwk::JwkError| SignatureError::UnusableKey(e.to_string());
        match alg {
            JwsAlg::RS256 | JwsAlg::PS256 => {
                let n = member(key, key.n(), "n")?;
                let e = member(key, key.e(), "e")?;
                // The parse-time check gave jwt-compact's StrongKey semantics, without its
                // exact-size list (2048, 3072, 4096): any modulus of at least 2048 bits (rsa caps
                // it at 4096).
                let jwk = JsonWebKey::Rsa {
                    modulus: Cow::Owned(n),
                    public_exponent: Cow::Owned(e),
                    private_parts: None,
                };
                let public = RsaPublicKey::try_from(&jwk).map_err(unusable)?;
                // Never `Rsa::with_name` on token input: it panics on unknown names.
                let rsa = match alg {
                    JwsAlg::PS256 => Rsa::ps256(),
                    _ => Rsa::rs256(),
                };
                check(&rsa, &public, signing_input, signature)
            }
            JwsAlg::ES256 => {
                let jwk = JsonWebKey::EllipticCurve {
                    curve: Cow::Borrowed("P-256"),
                    x: Cow::Owned(member(key, key.x(), "x")?),
                    y: Cow::Owned(member(key, key.y(), "y")?),
                    secret: None,
                };
                let public =
                    <Es256 as Algorithm>::VerifyingKey::try_from(&jwk).map_err(unusable)?;
                check(&Es256, &public, signing_input, signature)
            }
            JwsAlg::EdDSA => {
                let jwk = JsonWebKey::KeyPair {
                    curve: Cow::Borrowed("Ed25519"),
                    x: Cow::Owned(member(key, key.x(), "x")?),
                    secret: None,
                };
                let public =
                    <Ed25519 as Algorithm>::VerifyingKey::try_from(&jwk).map_err(unusable)?;
                check(&Ed25519, &public, signing_input, signature)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::jose::testkit::{public, Key};
    use crate::core::store::block_on;

    fn verify(alg: JwsAlg, key: &PublicJwk, sig: &[u8]) -> Result<(), SignatureError> {
        block_on(NativeVerifier.verify(key.for_alg(alg)?, b"a.b", sig))
    }

    #[test]
    fn wrong_length_signatures_are_invalid_not_panics() {
        for (alg, key) in [
            (JwsAlg::ES256, public(Key::P256, "ec")),
            (JwsAlg::EdDSA, public(Key::Ed25519, "ed")),
            (JwsAlg::RS256, public(Key::RsaA, "a")),
        ] {
            for len in [1, 63, 65, 255] {
                assert_eq!(
                    verify(alg, &key, &vec![0; len]),
                    Err(SignatureError::Invalid)
                );
            }
        }
    }

    #[test]
    fn invalid_curve_point_is_unusable() {
        let mut ec = serde_json::to_value(public(Key::P256, "ec")).unwrap();
        ec["y"] = ec["x"].clone();
        let ec = PublicJwk::parse(&ec).unwrap();
        assert!(matches!(
            verify(JwsAlg::ES256, &ec, &[0; 64]),
            Err(SignatureError::UnusableKey(_))
        ));
    }

    #[test]
    fn fixture_keys_fit_as_expected() {
        // The fit checks themselves are tested in jwk.rs; these are the fixture keys' verdicts.
        let ec = public(Key::P256, "ec");
        assert!(matches!(
            verify(JwsAlg::RS256, &ec, &[0; 256]),
            Err(SignatureError::UnusableKey(_))
        ));
        assert_eq!(
            verify(JwsAlg::RS256, &public(Key::RsaWeak, "w"), &[0; 128]),
            Err(SignatureError::UnusableKey(
                "RSA modulus of 1024 bits (< 2048)".into()
            ))
        );
    }
}
