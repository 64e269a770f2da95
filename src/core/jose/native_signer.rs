//! [`Signer`] for ES256 on jwt-compact's Rust crypto (`p256`, deterministic RFC 6979 nonces),
//! for native builds: tests, tools. The edge signs through WebCrypto instead.

use crate::core::jose::alg::JwsAlg;
use crate::core::jose::private_jwk::{EcPrivateJwk, PrivateJwkError};
use crate::core::jose::sign::{SignError, Signer};
use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::alg::{Es256, SecretBytes};
use jwt_compact::jwk::{JsonWebKey, JwkError};
use jwt_compact::{Algorithm, AlgorithmSignature};
use std::borrow::Cow;

/// Signs ES256 with a P-256 key held in memory.
pub struct NativeEs256Signer {
    key: <Es256 as Algorithm>::SigningKey,
    kid: String,
}

impl std::fmt::Debug for NativeEs256Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeEs256Signer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl NativeEs256Signer {
    /// A signer for `jwk`. Fails if `x`/`y` are not the public key of `d`.
    pub fn new(jwk: &EcPrivateJwk) -> Result<NativeEs256Signer, PrivateJwkError> {
        let decode = |v: &str, name| {
            Base64UrlUnpadded::decode_vec(v).map_err(|_| PrivateJwkError::Invalid(name))
        };
        let ec = JsonWebKey::EllipticCurve {
            curve: Cow::Borrowed("P-256"),
            x: Cow::Owned(decode(jwk.x(), "x")?),
            y: Cow::Owned(decode(jwk.y(), "y")?),
            secret: Some(SecretBytes::owned(decode(jwk.d().expose(), "d")?)),
        };
        // jwt-compact checks that the public members are the public key of `d`.
        let key = <Es256 as Algorithm>::SigningKey::try_from(&ec).map_err(|e| match e {
            JwkError::MismatchedKeys => PrivateJwkError::Mismatch,
            _ => PrivateJwkError::Invalid("key"),
        })?;
        Ok(NativeEs256Signer {
            key,
            kid: jwk.kid().to_owned(),
        })
    }
}

impl Signer for NativeEs256Signer {
    fn alg(&self) -> JwsAlg {
        JwsAlg::ES256
    }
    fn kid(&self) -> &str {
        &self.kid
    }
    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        Ok(Es256.sign(&self.key, signing_input).as_bytes().into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::jose::jwk::PublicJwk;
    use crate::core::jose::jws::{JwsPolicy, UntrustedJws};
    use crate::core::jose::native_verifier::NativeVerifier;
    use crate::core::jose::sign::sign_compact;
    use crate::core::jose::testkit::{fixture, Key};
    use crate::core::jose::verify::SignatureError;
    use crate::core::store::block_on;
    use serde_json::json;

    const POLICY: JwsPolicy<'static> = JwsPolicy {
        max_bytes: 4096,
        max_payload_bytes: 2048,
        typ: &["JWT"],
        typ_optional: false,
    };

    /// The public coordinates of another P-256 key (d = 7...7).
    fn other_xy() -> (String, String) {
        let sk = <Es256 as Algorithm>::SigningKey::from_slice(&[7; 32]).unwrap();
        let jwk = JsonWebKey::from(&sk);
        let JsonWebKey::EllipticCurve { x, y, .. } = &jwk else {
            unreachable!("a P-256 key is an EC JWK")
        };
        (
            Base64UrlUnpadded::encode_string(x),
            Base64UrlUnpadded::encode_string(y),
        )
    }

    fn setup() -> (NativeEs256Signer, PublicJwk) {
        let jwk = EcPrivateJwk::parse(fixture(Key::P256)).unwrap();
        let signer = NativeEs256Signer::new(&jwk).unwrap();
        (signer, PublicJwk::parse(&jwk.public_jwk()).unwrap())
    }

    #[test]
    fn round_trip_with_the_native_verifier() {
        let (signer, public) = setup();
        let claims = json!({"sub": "user-42", "email": "ada@example.org"});
        let token = block_on(sign_compact(&signer, "JWT", &claims)).unwrap();
        let jws = UntrustedJws::parse(&token, &POLICY).unwrap();
        assert_eq!(jws.alg(), JwsAlg::ES256);
        assert_eq!(jws.kid(), Some(public.thumbprint()));
        let payload = block_on(jws.verify_signature(&public, &NativeVerifier)).unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(payload).unwrap(),
            claims
        );
    }

    #[test]
    fn tampered_signature_fails() {
        let (signer, public) = setup();
        let token = block_on(sign_compact(&signer, "JWT", &json!({"sub": "u"}))).unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        let mut sig = Base64UrlUnpadded::decode_vec(sig).unwrap();
        sig[10] ^= 1;
        let forged = format!("{input}.{}", Base64UrlUnpadded::encode_string(&sig));
        let jws = UntrustedJws::parse(&forged, &POLICY).unwrap();
        assert_eq!(
            block_on(jws.verify_signature(&public, &NativeVerifier)).unwrap_err(),
            SignatureError::Invalid
        );
        // Another key's signature does not verify either.
        let (x, y) = other_xy();
        let other =
            PublicJwk::parse(&json!({"kty": "EC", "crv": "P-256", "x": x, "y": y})).unwrap();
        let jws = UntrustedJws::parse(&token, &POLICY).unwrap();
        assert_eq!(
            block_on(jws.verify_signature(&other, &NativeVerifier)).unwrap_err(),
            SignatureError::Invalid
        );
    }

    #[test]
    fn mismatched_public_members_are_refused() {
        let mut v: serde_json::Map<String, serde_json::Value> =
            crate::core::json::from_str(fixture(Key::P256)).unwrap();
        let (x, y) = other_xy();
        v.insert("x".into(), x.into());
        v.insert("y".into(), y.into());
        let jwk = EcPrivateJwk::parse(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(
            NativeEs256Signer::new(&jwk).unwrap_err(),
            PrivateJwkError::Mismatch
        );
    }

    #[test]
    fn debug_hides_the_key() {
        let (signer, _) = setup();
        let s = format!("{signer:?}");
        assert!(s.contains("kid") && !s.contains("SigningKey"), "{s}");
    }
}
