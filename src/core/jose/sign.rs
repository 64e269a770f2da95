//! Signing compact JWS, as a port: a [`Signer`] holds one private key (WebCrypto on the edge,
//! Rust crypto natively) and [`sign_compact`] builds the token around it. For assertions
//! edge-sso issues itself (e.g. a signed identity header for an origin), whose public keys it
//! publishes as a JWKS.

use crate::core::jose::alg::JwsAlg;
use crate::core::jose::jws::signing_input;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Map, Value};

/// Why a token could not be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The claims are not a JSON object (RFC 7519 7.1 step 2: a JWT Claims Set is one).
    ClaimsNotAnObject,
    /// The signature backend failed or returned something that is not a signature of `alg`.
    Backend(String),
}

impl std::fmt::Display for SignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignError::ClaimsNotAnObject => f.write_str("JWT claims must be a JSON object"),
            SignError::Backend(m) => write!(f, "signing backend error: {m}"),
        }
    }
}

impl std::error::Error for SignError {}

/// Holds a private key and signs JWS signing inputs with it.
#[allow(async_fn_in_trait)]
pub trait Signer {
    /// The algorithm the key signs with (written into `alg`).
    fn alg(&self) -> JwsAlg;
    /// The key id published with the public key (written into `kid`, OIDC Core 10.1.1).
    fn kid(&self) -> &str;
    /// The JWS Signature of `signing_input` (RFC 7515 5.1 step 5), in JWS form: for ES256 the
    /// 64-byte `R || S` of RFC 7518 3.4, not DER.
    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// Signs `claims` as a compact JWS with the header `{"alg", "kid", "typ"}` (RFC 7515 7.1).
/// `typ` is the explicit type of the token (RFC 8725 3.11): "JWT" for a plain JWT.
pub async fn sign_compact<S: Signer>(
    signer: &S,
    typ: &str,
    claims: &Value,
) -> Result<String, SignError> {
    if !claims.is_object() {
        return Err(SignError::ClaimsNotAnObject);
    }
    let mut header = Map::new();
    header.insert("alg".into(), signer.alg().name().into());
    header.insert("kid".into(), signer.kid().into());
    header.insert("typ".into(), typ.into());
    let payload = serde_json::to_vec(claims).map_err(|e| SignError::Backend(e.to_string()))?;
    let input = signing_input(&header, &payload);
    let signature = signer.sign(input.as_bytes()).await?;
    // RFC 7518 3.4: an ES256 signature is exactly 64 bytes; a backend answering DER (or
    // nothing) must not produce a token no verifier accepts.
    if signer.alg() == JwsAlg::ES256 && signature.len() != 64 {
        return Err(SignError::Backend(format!(
            "ES256 signature of {} bytes",
            signature.len()
        )));
    }
    if signature.is_empty() {
        return Err(SignError::Backend("empty signature".into()));
    }
    Ok(format!(
        "{input}.{}",
        Base64UrlUnpadded::encode_string(&signature)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::store::block_on;

    struct Fixed(Vec<u8>);

    impl Signer for Fixed {
        fn alg(&self) -> JwsAlg {
            JwsAlg::ES256
        }
        fn kid(&self) -> &str {
            "k1"
        }
        async fn sign(&self, _: &[u8]) -> Result<Vec<u8>, SignError> {
            Ok(self.0.clone())
        }
    }

    #[test]
    fn header_has_alg_kid_and_typ() {
        let t = block_on(sign_compact(
            &Fixed(vec![7; 64]),
            "JWT",
            &serde_json::json!({"sub": "u"}),
        ))
        .unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        let header: Value =
            serde_json::from_slice(&Base64UrlUnpadded::decode_vec(parts[0]).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "ES256", "kid": "k1", "typ": "JWT"})
        );
        assert_eq!(
            Base64UrlUnpadded::decode_vec(parts[2]).unwrap(),
            vec![7; 64]
        );
    }

    #[test]
    fn claims_must_be_an_object() {
        assert_eq!(
            block_on(sign_compact(
                &Fixed(vec![7; 64]),
                "JWT",
                &serde_json::json!([1])
            )),
            Err(SignError::ClaimsNotAnObject)
        );
    }

    #[test]
    fn malformed_backend_signature_is_an_error() {
        for sig in [vec![], vec![0x30; 70]] {
            assert!(matches!(
                block_on(sign_compact(&Fixed(sig), "JWT", &serde_json::json!({}))),
                Err(SignError::Backend(_))
            ));
        }
    }
}
