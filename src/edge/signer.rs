//! ES256 signing through the runtime's WebCrypto, behind the core's [`Signer`]: the private JWK
//! is imported once per isolate (`{name: ECDSA, namedCurve: P-256}`, usage `sign`, not
//! extractable) and signs with `{name: ECDSA, hash: SHA-256}`, whose result is the raw
//! `R || S` JWS form (RFC 7518 3.4; ~40 us per signature in workerd).
//!
//! Nothing calls it yet: it is for the gateway's signed per-request assertion. Until then the
//! items below carry `#[allow(dead_code)]`.

use crate::core::jose::alg::JwsAlg;
use crate::core::jose::private_jwk::EcPrivateJwk;
use crate::core::jose::sign::{SignError, Signer};
use crate::core::secret::sha256_hex;
use js_sys::{Array, Object, Reflect, Uint8Array};
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Most imported signing keys kept per isolate (a deployment has one or two, during rotation).
const MAX_CACHED_KEYS: usize = 8;

thread_local! {
    // Workers isolates are single-threaded.
    static KEYS: RefCell<HashMap<String, web_sys::CryptoKey>> = RefCell::new(HashMap::new());
}

/// Signs ES256 with a P-256 private key through `crypto.subtle.sign`.
pub struct WebCryptoEs256Signer {
    jwk: EcPrivateJwk,
    /// Names the imported key in the isolate cache: a digest of the whole private JWK, so a
    /// changed key never meets a stale import (and the cache holds no key material as a name).
    cache_key: String,
}

impl std::fmt::Debug for WebCryptoEs256Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebCryptoEs256Signer")
            .field("kid", &self.jwk.kid())
            .finish_non_exhaustive()
    }
}

#[allow(dead_code)] // `jwk()` is for tooling; the gateway uses `new` and the Signer impl
impl WebCryptoEs256Signer {
    /// A signer for `jwk`. WebCrypto checks the key when it is first imported (at the first
    /// signature); a key that does not import fails every [`Signer::sign`].
    pub fn new(jwk: EcPrivateJwk) -> Self {
        let cache_key =
            sha256_hex(format!("{}.{}.{}", jwk.x(), jwk.y(), jwk.d().expose()).as_bytes());
        WebCryptoEs256Signer { jwk, cache_key }
    }

    /// The key (for its public JWK).
    pub fn jwk(&self) -> &EcPrivateJwk {
        &self.jwk
    }
}

fn obj(pairs: &[(&str, &str)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    o
}

/// A backend error, without the JS message (it could quote the key being imported).
fn backend(what: &str) -> impl Fn(JsValue) -> SignError + '_ {
    move |e: JsValue| {
        let name = e
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.name()))
            .unwrap_or_else(|| "error".into());
        SignError::Backend(format!("WebCrypto {what}: {name}"))
    }
}

impl WebCryptoEs256Signer {
    async fn crypto_key(
        &self,
        subtle: &web_sys::SubtleCrypto,
    ) -> Result<web_sys::CryptoKey, SignError> {
        if let Some(k) = KEYS.with(|keys| keys.borrow().get(&self.cache_key).cloned()) {
            return Ok(k);
        }
        let jwk = obj(&[
            ("kty", "EC"),
            ("crv", "P-256"),
            ("x", self.jwk.x()),
            ("y", self.jwk.y()),
            ("d", self.jwk.d().expose()),
        ]);
        let params = obj(&[("name", "ECDSA"), ("namedCurve", "P-256")]);
        let usages = Array::of1(&JsValue::from_str("sign"));
        let promise = subtle
            .import_key_with_object("jwk", &jwk, &params, false, &usages)
            .map_err(backend("importKey"))?;
        let key: web_sys::CryptoKey = JsFuture::from(promise)
            .await
            .map_err(backend("importKey"))?
            .unchecked_into();
        KEYS.with(|keys| {
            let mut keys = keys.borrow_mut();
            if keys.len() >= MAX_CACHED_KEYS {
                keys.clear();
            }
            keys.insert(self.cache_key.clone(), key.clone());
        });
        Ok(key)
    }
}

impl Signer for WebCryptoEs256Signer {
    fn alg(&self) -> JwsAlg {
        JwsAlg::ES256
    }
    fn kid(&self) -> &str {
        self.jwk.kid()
    }
    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let subtle = global.crypto().map_err(backend("crypto"))?.subtle();
        let key = self.crypto_key(&subtle).await?;
        let params = obj(&[("name", "ECDSA"), ("hash", "SHA-256")]);
        let promise = subtle
            .sign_with_object_and_u8_array(&params, &key, signing_input)
            .map_err(backend("sign"))?;
        let signature = JsFuture::from(promise).await.map_err(backend("sign"))?;
        // WebCrypto's ECDSA signature is already IEEE P1363 `R || S` (64 bytes), the JWS form.
        Ok(Uint8Array::new(&signature).to_vec())
    }
}
