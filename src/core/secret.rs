//! Secrets that never print and compare in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A secret string (client secret, admin token, state, nonce, session id, code verifier).
/// `Debug` prints `[redacted]`; the value is reached only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret value. Call sites of this are the places to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Compares with `other` in constant time (with respect to the contents).
    pub fn ct_eq_str(&self, other: &str) -> bool {
        ct_eq(self.0.as_bytes(), other.as_bytes())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Constant-time equality of two byte strings. Both sides are hashed first, so neither the
/// contents nor the length of the expected value leaks through timing.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let da = Sha256::digest(a);
    let db = Sha256::digest(b);
    da.ct_eq(&db).into()
}

/// SHA-256 of `data`, hex encoded (used to key KV entries by a secret without storing it).
pub fn sha256_hex(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    let mut s = String::with_capacity(64);
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
    }

    #[test]
    fn compares_by_content() {
        let s = Secret::new("abc");
        assert!(s.ct_eq_str("abc"));
        assert!(!s.ct_eq_str("abd"));
        assert!(!s.ct_eq_str("ab"));
        assert!(!s.ct_eq_str(""));
    }
}
