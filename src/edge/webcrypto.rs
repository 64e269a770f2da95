//! The JWS signature step through the runtime's WebCrypto (`crypto.subtle`): about 15x faster
//! than Rust RSA/ECDSA compiled to Wasm, and it keeps those crates out of the bundle.
//!
//! Imported keys are kept in a small isolate cache keyed by the algorithm and the key's RFC 7638
//! thumbprint (computed once when the JWKS was parsed; never the `kid`, which an IdP may reuse
//! for a new key): `importKey` of an RSA JWK costs about as much as the verification itself (see
//! bench/RESULTS.md).

use crate::core::jose::alg::JwsAlg;
use crate::core::jose::jwk::FittedKey;
use crate::core::jose::verify::{SignatureError, SignatureVerifier};
use js_sys::{Array, Object, Reflect};
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Most keys (thumbprints) kept per isolate (IdPs publish a handful each; the cache is cleared
/// when full, so a flood of distinct keys costs imports, never memory).
const MAX_CACHED_KEYS: usize = 32;

/// One key's imports, by algorithm (an RSA key may be imported for RS256 and for PS256).
type Imports = [Option<web_sys::CryptoKey>; JwsAlg::ALL.len()];

thread_local! {
    // Workers isolates are single-threaded.
    static KEYS: RefCell<HashMap<String, Imports>> = RefCell::new(HashMap::new());
}

/// `crypto.subtle.verify` behind the core's [`SignatureVerifier`].
pub struct WebCryptoVerifier {
    /// Reuse imported `CryptoKey`s (always on in the worker; off only to measure the import).
    pub cache_keys: bool,
}

impl WebCryptoVerifier {
    /// The verifier the worker uses: imported keys are cached in the isolate.
    pub const CACHED: WebCryptoVerifier = WebCryptoVerifier { cache_keys: true };
}

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
        key: FittedKey<'_>,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let subtle = global.crypto().map_err(backend)?.subtle();
        // The key's fit was checked when the JWKS was parsed. The algorithm fixes the import
        // parameters and the thumbprint the key material (RFC 7638), so together they name
        // exactly one CryptoKey; `use`/`alg` members were part of the fit check.
        let (alg, key) = (key.alg(), key.jwk());
        let slot = alg as usize;
        let cached = self
            .cache_keys
            .then(|| {
                KEYS.with(|keys| {
                    keys.borrow()
                        .get(key.thumbprint())
                        .and_then(|imports| imports[slot].clone())
                })
            })
            .flatten();
        let member = |v: Option<&str>| v.unwrap_or_default().to_owned();
        let import_params = cached.is_none();
        // Only the public members go to importKey: nothing else of the published JWK is trusted.
        let (jwk_import, verify) = match alg {
            JwsAlg::RS256 | JwsAlg::PS256 => {
                let name = if alg == JwsAlg::RS256 {
                    "RSASSA-PKCS1-v1_5"
                } else {
                    "RSA-PSS"
                };
                let jwk_import = import_params.then(|| {
                    (
                        obj(&[
                            ("kty", "RSA"),
                            ("n", &member(key.n())),
                            ("e", &member(key.e())),
                        ]),
                        obj(&[("name", name), ("hash", "SHA-256")]),
                    )
                });
                let verify = obj(&[("name", name)]);
                if alg == JwsAlg::PS256 {
                    // RFC 7518 3.5: the salt is as long as the hash output.
                    let _ = Reflect::set(&verify, &"saltLength".into(), &JsValue::from(32));
                }
                (jwk_import, verify)
            }
            JwsAlg::ES256 => (
                import_params.then(|| {
                    (
                        obj(&[
                            ("kty", "EC"),
                            ("crv", "P-256"),
                            ("x", &member(key.x())),
                            ("y", &member(key.y())),
                        ]),
                        obj(&[("name", "ECDSA"), ("namedCurve", "P-256")]),
                    )
                }),
                obj(&[("name", "ECDSA"), ("hash", "SHA-256")]),
            ),
            JwsAlg::EdDSA => (
                import_params.then(|| {
                    (
                        obj(&[("kty", "OKP"), ("crv", "Ed25519"), ("x", &member(key.x()))]),
                        obj(&[("name", "Ed25519")]),
                    )
                }),
                obj(&[("name", "Ed25519")]),
            ),
        };
        let crypto_key = match (cached, jwk_import) {
            (Some(k), _) => k,
            (None, None) => return Err(SignatureError::Backend("no import parameters".into())),
            (None, Some((jwk, import))) => {
                let usages = Array::of1(&JsValue::from_str("verify"));
                let promise = subtle
                    .import_key_with_object("jwk", &jwk, &import, false, &usages)
                    .map_err(|e| SignatureError::UnusableKey(backend(e).to_string()))?;
                let crypto_key: web_sys::CryptoKey = JsFuture::from(promise)
                    .await
                    .map_err(|e| SignatureError::UnusableKey(backend(e).to_string()))?
                    .unchecked_into();
                // Only keys that imported are cached; a failed import is retried next time.
                if self.cache_keys {
                    KEYS.with(|keys| {
                        let mut keys = keys.borrow_mut();
                        if keys.len() >= MAX_CACHED_KEYS && !keys.contains_key(key.thumbprint()) {
                            keys.clear();
                        }
                        keys.entry(key.thumbprint().to_owned()).or_default()[slot] =
                            Some(crypto_key.clone());
                    });
                }
                crypto_key
            }
        };
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
