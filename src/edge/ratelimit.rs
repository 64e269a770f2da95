//! The rate-limit port on the Workers Rate Limiting binding: one binding per
//! [`LimitClass`], declared in `wrangler.toml` with the class's budget.

use crate::core::ratelimit::{LimitClass, LimitFuture, RateLimits};
use worker::Env;

/// The binding of each class.
pub fn binding(class: LimitClass) -> &'static str {
    match class {
        LimitClass::Login => "RL_LOGIN",
        LimitClass::AuthFailure => "RL_AUTH_FAILURE",
    }
}

/// The bindings of the worker's environment.
pub struct EdgeRateLimits<'a> {
    /// The environment holding the bindings.
    pub env: &'a Env,
}

impl RateLimits for EdgeRateLimits<'_> {
    fn allow<'a>(&'a self, class: LimitClass, key: &'a str) -> LimitFuture<'a> {
        Box::pin(async move {
            // Fails open, and says so (see the port's docs): a missing binding or an error of
            // the limiter must not take sign-in down.
            let Ok(limiter) = self.env.rate_limiter(binding(class)) else {
                worker::console_log!("rate limit binding {} missing: not limited", binding(class));
                return true;
            };
            match limiter.limit(key.to_owned()).await {
                Ok(outcome) => outcome.success,
                Err(e) => {
                    worker::console_log!(
                        "rate limiter {} failed ({e}): not limited",
                        binding(class)
                    );
                    true
                }
            }
        })
    }
}
