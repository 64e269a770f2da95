//! Time as a parameter: every check that depends on "now" takes a [`Clock`].

use serde::{Deserialize, Serialize};
#[cfg(any(test, feature = "testkit"))]
use std::cell::Cell;

/// Whole seconds since the Unix epoch (the unit of JWT `exp`, `iat`, `nbf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub u64);

impl UnixTime {
    /// The number of seconds since the epoch.
    pub fn secs(self) -> u64 {
        self.0
    }
    /// This time plus `secs`, saturating.
    pub fn plus(self, secs: u64) -> UnixTime {
        UnixTime(self.0.saturating_add(secs))
    }
}

/// Source of the current time.
pub trait Clock {
    /// The current time.
    fn now(&self) -> UnixTime;
}

#[cfg(any(test, feature = "testkit"))]
/// A stopped clock for tests; it moves only when told to.
#[derive(Debug)]
pub struct FixedClock(Cell<u64>);

#[cfg(any(test, feature = "testkit"))]
impl FixedClock {
    /// A clock stopped at `secs` since the epoch.
    pub fn at(secs: u64) -> Self {
        FixedClock(Cell::new(secs))
    }
    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.0.set(self.0.get() + secs);
    }
    /// Sets the clock to `secs` since the epoch.
    pub fn set(&self, secs: u64) {
        self.0.set(secs);
    }
}

#[cfg(any(test, feature = "testkit"))]
impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.get())
    }
}

/// The system clock (native builds: tests, benchmarks, tools).
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[cfg(not(target_arch = "wasm32"))]
impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        UnixTime(d.as_secs())
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> UnixTime {
        (**self).now()
    }
}
