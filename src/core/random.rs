//! Randomness as a parameter. Production uses the platform CSPRNG (`getrandom`, which is
//! `crypto.getRandomValues` on Workers); tests use a deterministic source.

use base64ct::{Base64UrlUnpadded, Encoding};
#[cfg(any(test, feature = "testkit"))]
use std::cell::Cell;

/// The CSPRNG could not be read. Callers fail closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomError;

impl std::fmt::Display for RandomError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the random number generator failed")
    }
}

impl std::error::Error for RandomError {}

/// A source of cryptographically secure random bytes.
pub trait Random {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError>;

    /// `n` random bytes, base64url without padding (for state, nonce, ids, PKCE verifiers).
    fn token(&self, n: usize) -> Result<String, RandomError> {
        let mut buf = vec![0u8; n];
        self.fill(&mut buf)?;
        Ok(Base64UrlUnpadded::encode_string(&buf))
    }
}

/// The operating system's / runtime's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::getrandom(buf).map_err(|_| RandomError)
    }
}

#[cfg(any(test, feature = "testkit"))]
/// Deterministic bytes for tests: a counter, so every call gives different output.
#[derive(Debug, Default)]
pub struct CountingRandom(Cell<u64>);

#[cfg(any(test, feature = "testkit"))]
impl Random for CountingRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        for b in buf.iter_mut() {
            let n = self.0.get().wrapping_add(1);
            self.0.set(n);
            *b = (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8;
        }
        Ok(())
    }
}

impl<R: Random + ?Sized> Random for &R {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        (**self).fill(buf)
    }
}
