//! Bench-only routes, compiled only with the `bench` cargo feature (scripts/bench.sh builds them
//! into build-bench/; the production build in build/ never has them).
//!
//! * `GET /__bench/floor`: a constant response straight from the fetch handler (the floor the
//!   load test compares the real routes with).
//! * `GET /__bench/kv`: the KV operations the worker made since the last call
//!   (`{"get","put","delete","list"}`), then resets them.
//! * `POST /__bench/verify` `{token, jwks, iss, aud, nonce, n, cache_keys, part}`: parses and
//!   fully verifies `token` `n` times (signature through WebCrypto and every claim check), exactly
//!   as the callback does, and answers `{"verified": n, "inner_ms": ..}`. The JWKS is parsed once,
//!   as the callback's JWKS cache would hold it. Timing is taken by the caller: workerd's clocks
//!   do not advance while a request runs without I/O. `part` runs only a piece of the work, for
//!   the cost breakdown in bench/run.mjs: `parse` (compact JWS: base64url, header JSON), `no_crypto`
//!   (everything but the signature: parse, key selection, claim checks, with a verifier that
//!   accepts any signature), `signature` (only [`WebCryptoVerifier`] on the pre-selected key:
//!   key cache, parameters, the promise) and `subtle` (a bare `crypto.subtle.verify` from Rust
//!   with a key and parameters made once: the floor of the call itself).

use super::webcrypto::WebCryptoVerifier;
use super::WorkerClock;
use crate::core::clock::Clock;
use crate::core::jose::alg::JwsAlg;
use crate::core::jose::jwk::{FittedKey, Jwks};
use crate::core::jose::verify::{SignatureError, SignatureVerifier};
use crate::core::oidc::idtoken::{IdTokenVerifier, UntrustedIdToken};
use crate::core::secret::Secret;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Deserialize;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::{Request, Response};

/// Which piece of the verification a `/__bench/verify` job runs (see the module docs).
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Part {
    #[default]
    Full,
    Parse,
    NoCrypto,
    Signature,
    Subtle,
}

/// Accepts every signature: the `no_crypto` part only (bench builds; never a real verifier).
struct AcceptAnySignature;

impl SignatureVerifier for AcceptAnySignature {
    async fn verify(&self, _: FittedKey<'_>, _: &[u8], _: &[u8]) -> Result<(), SignatureError> {
        Ok(())
    }
}

#[derive(Deserialize)]
struct VerifyJob {
    token: String,
    jwks: serde_json::Value,
    iss: String,
    aud: String,
    nonce: String,
    n: u32,
    #[serde(default = "yes")]
    cache_keys: bool,
    #[serde(default)]
    part: Part,
}

fn bench_err(what: &str, e: impl std::fmt::Display) -> worker::Error {
    worker::Error::RustError(format!("{what}: {e}"))
}

/// The token's signing input and decoded signature, and its key from `jwks` fitted to its alg.
fn split<'j>(token: &str, jwks: &'j Jwks) -> worker::Result<(Vec<u8>, Vec<u8>, FittedKey<'j>)> {
    let parsed = UntrustedIdToken::parse(token).map_err(|e| bench_err("parse", e))?;
    let dot = token.rfind('.').unwrap_or(0);
    let signature =
        Base64UrlUnpadded::decode_vec(&token[dot + 1..]).map_err(|e| bench_err("signature", e))?;
    let key = jwks
        .select(parsed.alg(), parsed.kid())
        .map_err(|e| bench_err("key", e))?
        .for_alg(parsed.alg())
        .map_err(|e| bench_err("key", e))?;
    Ok((token.as_bytes()[..dot].to_vec(), signature, key))
}

/// `part: subtle`: `n` bare `crypto.subtle.verify` calls from Rust, key and parameters made once.
async fn subtle_only(
    key: FittedKey<'_>,
    input: &[u8],
    signature: &[u8],
    n: u32,
) -> worker::Result<()> {
    use js_sys::{Array, Object, Reflect};
    use wasm_bindgen::JsValue;
    let set = |o: &Object, k: &str, v: JsValue| {
        let _ = Reflect::set(o, &JsValue::from_str(k), &v);
    };
    let (jwk, import, params) = (Object::new(), Object::new(), Object::new());
    let jwk_members: &[(&str, Option<&str>)] = match key.alg() {
        JwsAlg::RS256 | JwsAlg::PS256 => &[
            ("kty", Some("RSA")),
            ("n", key.jwk().n()),
            ("e", key.jwk().e()),
        ],
        JwsAlg::ES256 => &[
            ("kty", Some("EC")),
            ("crv", Some("P-256")),
            ("x", key.jwk().x()),
            ("y", key.jwk().y()),
        ],
        JwsAlg::EdDSA => &[
            ("kty", Some("OKP")),
            ("crv", Some("Ed25519")),
            ("x", key.jwk().x()),
        ],
    };
    for (k, v) in jwk_members {
        set(&jwk, k, JsValue::from_str(v.unwrap_or_default()));
    }
    match key.alg() {
        JwsAlg::RS256 => {
            set(&import, "name", "RSASSA-PKCS1-v1_5".into());
            set(&import, "hash", "SHA-256".into());
            set(&params, "name", "RSASSA-PKCS1-v1_5".into());
        }
        JwsAlg::PS256 => {
            set(&import, "name", "RSA-PSS".into());
            set(&import, "hash", "SHA-256".into());
            set(&params, "name", "RSA-PSS".into());
            set(&params, "saltLength", 32.into());
        }
        JwsAlg::ES256 => {
            set(&import, "name", "ECDSA".into());
            set(&import, "namedCurve", "P-256".into());
            set(&params, "name", "ECDSA".into());
            set(&params, "hash", "SHA-256".into());
        }
        JwsAlg::EdDSA => {
            set(&import, "name", "Ed25519".into());
            set(&params, "name", "Ed25519".into());
        }
    }
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let subtle = global.crypto()?.subtle();
    let usages = Array::of1(&JsValue::from_str("verify"));
    let crypto_key: web_sys::CryptoKey =
        JsFuture::from(subtle.import_key_with_object("jwk", &jwk, &import, false, &usages)?)
            .await?
            .unchecked_into();
    for _ in 0..n {
        let ok = JsFuture::from(subtle.verify_with_object_and_u8_array_and_u8_array(
            &params,
            &crypto_key,
            signature,
            input,
        )?)
        .await?;
        if ok.as_bool() != Some(true) {
            return Err(bench_err("subtle", "signature does not verify"));
        }
    }
    Ok(())
}

fn yes() -> bool {
    true
}

/// Answers a `/__bench/` request.
pub async fn handle(mut req: Request) -> worker::Result<Response> {
    match req.path().as_str() {
        "/__bench/floor" => Response::ok("ok"),
        "/__bench/kv" => {
            use super::kv::counts;
            let c = counts::take();
            Response::ok(format!(
                "{{\"get\":{},\"put\":{},\"delete\":{},\"list\":{}}}",
                c[counts::GET],
                c[counts::PUT],
                c[counts::DELETE],
                c[counts::LIST]
            ))
        }
        "/__bench/verify" => {
            let job: VerifyJob = req.json().await?;
            let jwks = Jwks::parse(&serde_json::to_vec(&job.jwks)?)
                .map_err(|e| worker::Error::RustError(format!("jwks: {e}")))?;
            let verifier = IdTokenVerifier::new(job.iss, job.aud);
            let crypto = WebCryptoVerifier {
                cache_keys: job.cache_keys,
            };
            let nonce = Secret::new(job.nonce);
            let started = js_sys::Date::now();
            match job.part {
                Part::Full | Part::NoCrypto | Part::Parse => {
                    for _ in 0..job.n {
                        let token = UntrustedIdToken::parse(&job.token)
                            .map_err(|e| bench_err("parse", e))?;
                        let verified = match job.part {
                            Part::Parse => continue,
                            Part::NoCrypto => {
                                verifier
                                    .verify(
                                        &token,
                                        &jwks,
                                        &AcceptAnySignature,
                                        WorkerClock.now(),
                                        &nonce,
                                    )
                                    .await
                            }
                            _ => {
                                verifier
                                    .verify(&token, &jwks, &crypto, WorkerClock.now(), &nonce)
                                    .await
                            }
                        };
                        verified.map_err(|e| bench_err("verify", e))?;
                    }
                }
                Part::Signature => {
                    let (input, signature, key) = split(&job.token, &jwks)?;
                    for _ in 0..job.n {
                        crypto
                            .verify(key, &input, &signature)
                            .await
                            .map_err(|e| bench_err("signature", e))?;
                    }
                }
                Part::Subtle => {
                    let (input, signature, key) = split(&job.token, &jwks)?;
                    subtle_only(key, &input, &signature, job.n).await?;
                }
            }
            // Reported to show whether the isolate's clock moved (workerd may freeze it).
            let inner_ms = js_sys::Date::now() - started;
            Response::ok(format!(
                "{{\"verified\":{},\"inner_ms\":{inner_ms}}}",
                job.n
            ))
        }
        _ => Response::error("no such bench route", 404),
    }
}
