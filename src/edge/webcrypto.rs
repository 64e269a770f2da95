//! The JWS signature step through the runtime's WebCrypto (`crypto.subtle`): about 15x faster
//! than Rust RSA/ECDSA compiled to Wasm, and it keeps those crates out of the bundle.
//!
//! What surrounds the `crypto.subtle.verify` call is kept to a minimum (measured in
//! bench/RESULTS.md, `/__bench/verify` parts): the `SubtleCrypto` object is looked up once per
//! isolate; each key is imported once per algorithm and kept with the algorithm object its
//! verifications use, in a small isolate cache keyed by the algorithm and the key's RFC 7638
//! thumbprint (computed once when the JWKS was parsed; never the `kid`, which an IdP may reuse
//! for a new key); the signing input and signature are handed over as views of Wasm memory
//! (WebCrypto copies its inputs before `verify` returns, WebCrypto "get a copy of the bytes held
//! by the buffer source"), and a verification with a cached key awaits exactly one promise.

use crate::core::jose::alg::JwsAlg;
use crate::core::jose::jwk::{FittedKey, PublicJwk};
use crate::core::jose::verify::{SignatureError, SignatureVerifier};
use js_sys::{Array, Object, Reflect};
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Most keys (thumbprints) kept per isolate (IdPs publish a handful each; the cache is cleared
/// when full, so a flood of distinct keys costs imports, never memory).
const MAX_CACHED_KEYS: usize = 32;

/// A key imported for one algorithm, with the `verify` algorithm object made for it.
#[derive(Clone)]
struct Imported {
    key: web_sys::CryptoKey,
    params: Object,
}

/// One key's imports, by algorithm (an RSA key may be imported for RS256 and for PS256).
type Imports = [Option<Imported>; JwsAlg::ALL.len()];

thread_local! {
    // Workers isolates are single-threaded.
    static KEYS: RefCell<HashMap<String, Imports>> = RefCell::new(HashMap::new());
    static SUBTLE: RefCell<Option<web_sys::SubtleCrypto>> = const { RefCell::new(None) };
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

/// The isolate's `crypto.subtle`, looked up once.
fn subtle() -> Result<web_sys::SubtleCrypto, SignatureError> {
    SUBTLE.with(|cell| {
        if let Some(s) = cell.borrow().as_ref() {
            return Ok(s.clone());
        }
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let s = global.crypto().map_err(backend)?.subtle();
        *cell.borrow_mut() = Some(s.clone());
        Ok(s)
    })
}

/// The `importKey` JWK and algorithm, and the `verify` algorithm, for `key` used with `alg`.
/// Only the public members go to importKey: nothing else of the published JWK is trusted.
fn import_params(alg: JwsAlg, key: &PublicJwk) -> (Object, Object, Object) {
    let member = |v: Option<&str>| v.unwrap_or_default().to_owned();
    match alg {
        JwsAlg::RS256 | JwsAlg::PS256 => {
            let name = if alg == JwsAlg::RS256 {
                "RSASSA-PKCS1-v1_5"
            } else {
                "RSA-PSS"
            };
            let jwk = obj(&[
                ("kty", "RSA"),
                ("n", &member(key.n())),
                ("e", &member(key.e())),
            ]);
            let verify = obj(&[("name", name)]);
            if alg == JwsAlg::PS256 {
                // RFC 7518 3.5: the salt is as long as the hash output.
                let _ = Reflect::set(&verify, &"saltLength".into(), &JsValue::from(32));
            }
            (jwk, obj(&[("name", name), ("hash", "SHA-256")]), verify)
        }
        JwsAlg::ES256 => (
            obj(&[
                ("kty", "EC"),
                ("crv", "P-256"),
                ("x", &member(key.x())),
                ("y", &member(key.y())),
            ]),
            obj(&[("name", "ECDSA"), ("namedCurve", "P-256")]),
            obj(&[("name", "ECDSA"), ("hash", "SHA-256")]),
        ),
        JwsAlg::EdDSA => (
            obj(&[("kty", "OKP"), ("crv", "Ed25519"), ("x", &member(key.x()))]),
            obj(&[("name", "Ed25519")]),
            obj(&[("name", "Ed25519")]),
        ),
    }
}

/// Imports `key` for `alg` (and caches it when `cache`).
async fn import(
    subtle: &web_sys::SubtleCrypto,
    alg: JwsAlg,
    key: &PublicJwk,
    cache: bool,
) -> Result<Imported, SignatureError> {
    let (jwk, import, params) = import_params(alg, key);
    let usages = Array::of1(&JsValue::from_str("verify"));
    let promise = subtle
        .import_key_with_object("jwk", &jwk, &import, false, &usages)
        .map_err(|e| SignatureError::UnusableKey(backend(e).to_string()))?;
    let crypto_key: web_sys::CryptoKey = JsFuture::from(promise)
        .await
        .map_err(|e| SignatureError::UnusableKey(backend(e).to_string()))?
        .unchecked_into();
    let imported = Imported {
        key: crypto_key,
        params,
    };
    // Only keys that imported are cached; a failed import is retried next time.
    if cache {
        KEYS.with(|keys| {
            let mut keys = keys.borrow_mut();
            if keys.len() >= MAX_CACHED_KEYS && !keys.contains_key(key.thumbprint()) {
                keys.clear();
            }
            keys.entry(key.thumbprint().to_owned()).or_default()[alg as usize] =
                Some(imported.clone());
        });
    }
    Ok(imported)
}

/// Starts `crypto.subtle.verify` on views of the Wasm memory holding the inputs: WebCrypto
/// copies them before this returns, so nothing may move them while JS holds the views.
fn start_verify(
    subtle: &web_sys::SubtleCrypto,
    imported: &Imported,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<js_sys::Promise, SignatureError> {
    subtle
        .verify_with_object_and_u8_array_and_u8_array(
            &imported.params,
            &imported.key,
            signature,
            signing_input,
        )
        .map_err(backend)
}

impl SignatureVerifier for WebCryptoVerifier {
    async fn verify(
        &self,
        key: FittedKey<'_>,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let subtle = subtle()?;
        // The key's fit was checked when the JWKS was parsed. The algorithm fixes the import
        // parameters and the thumbprint the key material (RFC 7638), so together they name
        // exactly one CryptoKey; `use`/`alg` members were part of the fit check.
        let (alg, key) = (key.alg(), key.jwk());
        // With a cached key the call starts inside the cache lookup: no handles are cloned.
        let started = if self.cache_keys {
            KEYS.with(|keys| {
                keys.borrow()
                    .get(key.thumbprint())
                    .and_then(|imports| imports[alg as usize].as_ref())
                    .map(|imported| start_verify(&subtle, imported, signing_input, signature))
            })
        } else {
            None
        };
        let promise = match started {
            Some(promise) => promise?,
            None => {
                let imported = import(&subtle, alg, key, self.cache_keys).await?;
                start_verify(&subtle, &imported, signing_input, signature)?
            }
        };
        let ok = JsFuture::from(promise).await.map_err(backend)?;
        if ok.as_bool() == Some(true) {
            Ok(())
        } else {
            Err(SignatureError::Invalid)
        }
    }
}
