//! Rate limits as a port: "may client `key` make one more request of `class` now?" On the edge
//! the Workers Rate Limiting binding answers (per location, eventually consistent, cheap);
//! natively, [`MemoryRateLimits`] with fixed windows on the injected clock.
//!
//! Keys are the client's address as the platform reports it (`CF-Connecting-IP`, which
//! Cloudflare sets and overwrites at its edge), never a forwarded header.

#[cfg(any(test, feature = "testkit"))]
use crate::core::clock::Clock;
#[cfg(any(test, feature = "testkit"))]
use std::cell::{Cell, RefCell};
#[cfg(any(test, feature = "testkit"))]
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

/// What is being limited. Each class is its own budget (on the edge, its own binding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitClass {
    /// Sign-in and sign-out routes: `/sso/start`, `/sso/callback`, `/sso/logout`, and
    /// back-channel logout posts.
    Login,
    /// Failed admin or SCIM authentications (a correct token is never counted).
    AuthFailure,
}

impl LimitClass {
    /// The class's budget: requests per window, and the window in seconds (what `Retry-After`
    /// says). The edge's bindings in `wrangler.toml` declare the same numbers.
    pub const fn budget(self) -> (u32, u64) {
        match self {
            LimitClass::Login => (60, 60),
            LimitClass::AuthFailure => (10, 60),
        }
    }
}

/// The future a [`RateLimits`] check returns (boxed so the port is object-safe).
pub type LimitFuture<'a> = Pin<Box<dyn Future<Output = bool> + 'a>>;

/// The port: `true` when the request may proceed. Implementations fail open (a limiter that
/// cannot answer lets the request through and says so in the log): a rate limit is a brake on
/// abuse, not an access decision, and every access decision behind it fails closed on its own.
pub trait RateLimits {
    /// Counts one request of `class` by `key`; whether it is within the budget.
    fn allow<'a>(&'a self, class: LimitClass, key: &'a str) -> LimitFuture<'a>;
}

/// No limits (tools, benches).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoLimits;

impl RateLimits for NoLimits {
    fn allow<'a>(&'a self, _: LimitClass, _: &'a str) -> LimitFuture<'a> {
        Box::pin(async { true })
    }
}

/// Fixed windows in memory on an injected clock, for native tests.
#[cfg(any(test, feature = "testkit"))]
pub struct MemoryRateLimits<C: Clock> {
    clock: C,
    windows: RefCell<HashMap<(LimitClass, String), (u64, u32)>>,
    /// When set, the class's budget is this many requests instead (tests that hit the limit).
    pub budget_override: Cell<Option<u32>>,
}

#[cfg(any(test, feature = "testkit"))]
impl<C: Clock> MemoryRateLimits<C> {
    /// Empty windows on `clock`.
    pub fn new(clock: C) -> Self {
        MemoryRateLimits {
            clock,
            windows: RefCell::default(),
            budget_override: Cell::new(None),
        }
    }
}

#[cfg(any(test, feature = "testkit"))]
impl<C: Clock> RateLimits for MemoryRateLimits<C> {
    fn allow<'a>(&'a self, class: LimitClass, key: &'a str) -> LimitFuture<'a> {
        let (limit, period) = class.budget();
        let limit = self.budget_override.get().unwrap_or(limit);
        let window = self.clock.now().secs() / period;
        let mut windows = self.windows.borrow_mut();
        let entry = windows
            .entry((class, key.to_owned()))
            .or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        let ok = entry.1 <= limit;
        Box::pin(async move { ok })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::clock::FixedClock;
    use crate::core::store::block_on;

    #[test]
    fn a_window_allows_its_budget_per_key_and_resets() {
        let clock = FixedClock::at(600);
        let rl = MemoryRateLimits::new(&clock);
        let (limit, period) = LimitClass::AuthFailure.budget();
        for _ in 0..limit {
            assert!(block_on(rl.allow(LimitClass::AuthFailure, "1.2.3.4")));
        }
        assert!(!block_on(rl.allow(LimitClass::AuthFailure, "1.2.3.4")));
        assert!(
            block_on(rl.allow(LimitClass::AuthFailure, "5.6.7.8")),
            "per key"
        );
        assert!(
            block_on(rl.allow(LimitClass::Login, "1.2.3.4")),
            "per class"
        );
        clock.advance(period);
        assert!(
            block_on(rl.allow(LimitClass::AuthFailure, "1.2.3.4")),
            "a new window"
        );
    }
}
