//! One way in for JSON text. `crate::core::json::from_str` and `serde_json::from_slice` read through
//! different reader types, so every type read both ways is compiled twice into the Wasm; edge-sso
//! reads all of its JSON through `from_slice` (a `&str` is valid UTF-8 already, and the errors
//! are the same).

use serde::Deserialize;

/// `crate::core::json::from_str`, through the slice reader.
pub fn from_str<'a, T: Deserialize<'a>>(s: &'a str) -> serde_json::Result<T> {
    serde_json::from_slice(s.as_bytes())
}
