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
//! by the buffer source"), and a verification with a cached key awaits exactly one promise,
//! through two callbacks made once per isolate rather than two `Closure`s per call.

use crate::core::jose::alg::JwsAlg;
use crate::core::jose::jwk::{FittedKey, PublicJwk};
use crate::core::jose::verify::{SignatureError, SignatureVerifier};
use js_sys::{Array, Object, Reflect};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use wasm_bindgen::prelude::*;
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

#[wasm_bindgen]
extern "C" {
    /// A promise, seen only for its `then`.
    type Thenable;
    /// `promise.then(on_fulfilled, on_rejected)` with plain functions.
    #[wasm_bindgen(method, js_name = then)]
    fn then_fns(this: &Thenable, ok: &js_sys::Function, err: &js_sys::Function);
    /// A function, seen only for its `bind`.
    type Bindable;
    /// `f.bind(null, id)`: a native bound function, no Rust closure per call.
    #[wasm_bindgen(method, js_name = bind)]
    fn bind_id(this: &Bindable, this_arg: &JsValue, id: u32) -> js_sys::Function;
}

/// A settled promise's outcome, or the task waiting for it.
#[derive(Default)]
struct Slot {
    outcome: Option<Result<JsValue, JsValue>>,
    waker: Option<Waker>,
}

thread_local! {
    static SLOTS: RefCell<HashMap<u32, Slot>> = RefCell::new(HashMap::new());
    static NEXT_SLOT: Cell<u32> = const { Cell::new(0) };
    // Made once per isolate and kept (into_js_value): every verification binds its slot id to
    // them instead of creating two `Closure`s as `JsFuture` does (the cost measured around
    // `crypto.subtle.verify`, bench/RESULTS.md).
    static SETTLE: (js_sys::Function, js_sys::Function) = (
        Closure::<dyn FnMut(u32, JsValue)>::new(|id, v| settle(id, Ok(v)))
            .into_js_value()
            .unchecked_into(),
        Closure::<dyn FnMut(u32, JsValue)>::new(|id, e| settle(id, Err(e)))
            .into_js_value()
            .unchecked_into(),
    );
}

/// Records slot `id`'s outcome and wakes its task (a slot whose future was dropped is gone:
/// the outcome is discarded).
fn settle(id: u32, outcome: Result<JsValue, JsValue>) {
    let waker = SLOTS.with(|slots| {
        let mut slots = slots.borrow_mut();
        let slot = slots.get_mut(&id)?;
        slot.outcome = Some(outcome);
        slot.waker.take()
    });
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// A promise awaited through the isolate's two settle callbacks (see `SETTLE`).
struct Settled {
    id: u32,
}

impl Settled {
    fn new(promise: &js_sys::Promise) -> Settled {
        let id = NEXT_SLOT.with(|n| {
            let id = n.get();
            n.set(id.wrapping_add(1));
            id
        });
        SLOTS.with(|slots| slots.borrow_mut().insert(id, Slot::default()));
        SETTLE.with(|(ok, err)| {
            let (ok, err): (&Bindable, &Bindable) = (ok.unchecked_ref(), err.unchecked_ref());
            promise.unchecked_ref::<Thenable>().then_fns(
                &ok.bind_id(&JsValue::NULL, id),
                &err.bind_id(&JsValue::NULL, id),
            )
        });
        Settled { id }
    }
}

impl Future for Settled {
    type Output = Result<JsValue, JsValue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        SLOTS.with(|slots| {
            let mut slots = slots.borrow_mut();
            let Some(slot) = slots.get_mut(&self.id) else {
                return Poll::Ready(Err(JsValue::from_str("promise slot lost")));
            };
            match slot.outcome.take() {
                Some(outcome) => {
                    slots.remove(&self.id);
                    Poll::Ready(outcome)
                }
                None => {
                    slot.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
    }
}

impl Drop for Settled {
    fn drop(&mut self) {
        SLOTS.with(|slots| slots.borrow_mut().remove(&self.id));
    }
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
        let ok = Settled::new(&promise).await.map_err(backend)?;
        if ok.as_bool() == Some(true) {
            Ok(())
        } else {
            Err(SignatureError::Invalid)
        }
    }
}
