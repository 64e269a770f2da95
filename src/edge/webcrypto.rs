//! The JWS signature step through the runtime's WebCrypto (`crypto.subtle`): about 15x faster
//! than Rust RSA/ECDSA compiled to Wasm, and it keeps those crates out of the bundle.

use crate::core::oidc::jwks::PublicJwk;
use crate::core::oidc::signature::{check_key_fits, JwsAlg, SignatureError, SignatureVerifier};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// `crypto.subtle.verify` behind the core's [`SignatureVerifier`].
pub struct WebCryptoVerifier;

fn obj(pairs: &[(&str, &str)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    o
}

fn backend(e: JsValue) -> SignatureError {
    SignatureError::Backend(
        e.as_string()
            .or_else(|| {
                e.dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
            })
            .unwrap_or_else(|| "WebCrypto error".into()),
    )
}

impl SignatureVerifier for WebCryptoVerifier {
    async fn verify(
        &self,
        alg: JwsAlg,
        key: &PublicJwk,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        check_key_fits(alg, key)?;
        let member = |v: &Option<String>| v.clone().unwrap_or_default();
        // Only the public members go to importKey: nothing else of the published JWK is trusted.
        let (jwk, import, verify) = match alg {
            JwsAlg::RS256 | JwsAlg::PS256 => {
                let name = if alg == JwsAlg::RS256 {
                    "RSASSA-PKCS1-v1_5"
                } else {
                    "RSA-PSS"
                };
                let jwk = obj(&[
                    ("kty", "RSA"),
                    ("n", &member(&key.n)),
                    ("e", &member(&key.e)),
                ]);
                let import = obj(&[("name", name), ("hash", "SHA-256")]);
                let verify = obj(&[("name", name)]);
                if alg == JwsAlg::PS256 {
                    // RFC 7518 3.5: the salt is as long as the hash output.
                    let _ = Reflect::set(&verify, &"saltLength".into(), &JsValue::from(32));
                }
                (jwk, import, verify)
            }
            JwsAlg::ES256 => (
                obj(&[
                    ("kty", "EC"),
                    ("crv", "P-256"),
                    ("x", &member(&key.x)),
                    ("y", &member(&key.y)),
                ]),
                obj(&[("name", "ECDSA"), ("namedCurve", "P-256")]),
                obj(&[("name", "ECDSA"), ("hash", "SHA-256")]),
            ),
            JwsAlg::EdDSA => (
                obj(&[("kty", "OKP"), ("crv", "Ed25519"), ("x", &member(&key.x))]),
                obj(&[("name", "Ed25519")]),
                obj(&[("name", "Ed25519")]),
            ),
        };
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let subtle = global.crypto().map_err(backend)?.subtle();
        let usages = Array::of1(&JsValue::from_str("verify"));
        let promise = subtle
            .import_key_with_object("jwk", &jwk, &import, false, &usages)
            .map_err(|e| SignatureError::UnusableKey(backend(e).to_string()))?;
        let crypto_key: web_sys::CryptoKey = JsFuture::from(promise)
            .await
            .map_err(|e| SignatureError::UnusableKey(backend(e).to_string()))?
            .unchecked_into();
        let promise = subtle
            .verify_with_object_and_u8_array_and_u8_array(
                &verify,
                &crypto_key,
                signature,
                signing_input,
            )
            .map_err(backend)?;
        let ok = JsFuture::from(promise).await.map_err(backend)?;
        if ok.as_bool() == Some(true) {
            Ok(())
        } else {
            Err(SignatureError::Invalid)
        }
    }
}
