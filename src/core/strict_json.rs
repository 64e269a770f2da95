//! Duplicate object keys, refused at every depth. RFC 8259 4 leaves duplicate names'
//! meaning to the implementation, and two parsers reading one body differently is how a
//! validated value and a stored one come apart, so edge-sso's own JSON inputs have none.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// Where a body first repeats a key: a path such as `role_mapping[2].claim`, or the parse error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrictJsonError {
    /// `path` names the repeated key.
    DuplicateKey {
        /// The path of the repeated member.
        path: String,
    },
    /// Not JSON (or nested deeper than [`MAX_DEPTH`]).
    Malformed,
}

/// Deepest nesting walked (serde_json's own limit is 128).
pub const MAX_DEPTH: usize = 64;

/// Checks that no object in `body` repeats a key.
pub fn check_no_duplicate_keys(body: &[u8]) -> Result<(), StrictJsonError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let mut found = None;
    let seed = Walk {
        path: String::new(),
        depth: 0,
        found: &mut found,
    };
    let walked = seed.deserialize(&mut de).and_then(|()| de.end());
    match (found, walked) {
        (Some(path), _) => Err(StrictJsonError::DuplicateKey { path }),
        (None, Ok(())) => Ok(()),
        (None, Err(_)) => Err(StrictJsonError::Malformed),
    }
}

struct Walk<'a> {
    path: String,
    depth: usize,
    found: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(de::Error::custom("too deep"));
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            let child = Walk {
                path: format!("{}[{i}]", self.path),
                depth: self.depth + 1,
                found: &mut *self.found,
            };
            if seq.next_element_seed(child)?.is_none() {
                return Ok(());
            }
            if self.found.is_some() {
                return Err(de::Error::custom("duplicate key"));
            }
            i += 1;
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if !seen.insert(key) {
                *self.found = Some(path);
                return Err(de::Error::custom("duplicate key"));
            }
            map.next_value_seed(Walk {
                path,
                depth: self.depth + 1,
                found: &mut *self.found,
            })?;
            if self.found.is_some() {
                return Err(de::Error::custom("duplicate key"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dup(body: &str) -> Option<String> {
        match check_no_duplicate_keys(body.as_bytes()) {
            Err(StrictJsonError::DuplicateKey { path }) => Some(path),
            _ => None,
        }
    }

    #[test]
    fn duplicates_are_found_at_every_depth_with_their_path() {
        assert_eq!(dup(r#"{"a":1,"a":2}"#).as_deref(), Some("a"));
        assert_eq!(
            dup(r#"{"role_mapping":[{"claim":"g"},{"claim":"x","claim":"y"}]}"#).as_deref(),
            Some("role_mapping[1].claim")
        );
        assert_eq!(
            dup(r#"{"a":{"b":{"c":1,"c":1}}}"#).as_deref(),
            Some("a.b.c")
        );
        assert_eq!(dup(r#"[[{"k":1,"k":1}]]"#).as_deref(), Some("[0][0].k"));
    }

    #[test]
    fn bodies_without_duplicates_pass_and_garbage_is_malformed() {
        for ok in [
            r#"{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}"#,
            "[]",
            "1",
            "\"x\"",
            "null",
        ] {
            assert_eq!(check_no_duplicate_keys(ok.as_bytes()), Ok(()), "{ok}");
        }
        for bad in ["{", "{\"a\":}", "[1,]", "{} {}", ""] {
            assert_eq!(
                check_no_duplicate_keys(bad.as_bytes()),
                Err(StrictJsonError::Malformed),
                "{bad}"
            );
        }
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert_eq!(
            check_no_duplicate_keys(deep.as_bytes()),
            Err(StrictJsonError::Malformed)
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_agrees_with_serde_json_on_validity(s in ".{0,200}") {
            let ours = check_no_duplicate_keys(s.as_bytes());
            let theirs = crate::core::json::from_str::<serde_json::Value>(&s);
            // What serde_json refuses, we refuse; what we accept, it accepts.
            if theirs.is_err() {
                prop_assert!(ours.is_err());
            }
            if ours.is_ok() {
                prop_assert!(theirs.is_ok());
            }
        }

        #[test]
        fn values_serde_json_writes_have_no_duplicates(v in any::<u8>().prop_map(|n| {
            let mut m = serde_json::Map::new();
            for i in 0..(n % 8) {
                m.insert(format!("k{i}"), serde_json::json!([i, {"x": i}]));
            }
            serde_json::Value::Object(m)
        })) {
            prop_assert_eq!(check_no_duplicate_keys(v.to_string().as_bytes()), Ok(()));
        }
    }
}
