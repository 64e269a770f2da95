//! Bench-only routes, compiled only with the `bench` cargo feature (scripts/bench.sh builds them
//! into build-bench/; the production build in build/ never has them).
//!
//! * `GET /__bench/floor`: a constant response straight from the fetch handler (the floor the
//!   load test compares the real routes with).
//! * `GET /__bench/kv`: the KV operations the worker made since the last call
//!   (`{"get","put","delete","list"}`), then resets them.
//! * `POST /__bench/verify` `{token, jwks, iss, aud, nonce, n, cache_keys}`: parses and fully
//!   verifies `token` `n` times (signature through WebCrypto and every claim check), exactly as
//!   the callback does, and answers `{"verified": n, "inner_ms": ..}`. The JWKS is parsed once, as the
//!   callback's JWKS cache would hold it. Timing is taken by the caller: workerd's clocks do not
//!   advance while a request runs without I/O.

use super::webcrypto::WebCryptoVerifier;
use super::WorkerClock;
use crate::core::clock::Clock;
use crate::core::jose::jwk::Jwks;
use crate::core::oidc::idtoken::{IdTokenVerifier, UntrustedIdToken};
use crate::core::secret::Secret;
use serde::Deserialize;
use worker::{Request, Response};

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
            for _ in 0..job.n {
                let token = UntrustedIdToken::parse(&job.token)
                    .map_err(|e| worker::Error::RustError(format!("parse: {e}")))?;
                verifier
                    .verify(&token, &jwks, &crypto, WorkerClock.now(), &nonce)
                    .await
                    .map_err(|e| worker::Error::RustError(format!("verify: {e}")))?;
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
