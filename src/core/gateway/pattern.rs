//! Path patterns of access rules and resource groups, relative to `/orgs/{slug}/`.
//!
//! A pattern is `/`-separated segments matched one for one against a [`GatedPath`]'s `rest`:
//! `*` inside a segment matches any characters of that segment (zero or more, never a `/`), and
//! a final `**` matches any remaining segments, or none (so `**` alone matches the org root).
//! Literals are compared exactly, hex digits of percent-encodings aside (`%c3` = `%C3`), so a
//! literal must be written the way a canonical path writes it: a pattern segment must itself pass
//! the gated-path segment checks.
//!
//! [`GatedPath`]: crate::core::gateway::path::GatedPath

use crate::core::gateway::path::{check_gated_segment, normalize_hex, PathRefusal};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest pattern, in bytes.
pub const MAX_PATTERN_CHARS: usize = 256;
/// Most segments in one pattern.
pub const MAX_PATTERN_SEGMENTS: usize = 32;

/// Why a string is not a [`PathPattern`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatternError {
    /// The empty pattern (the org root is matched by `**`).
    Empty,
    /// Longer than [`MAX_PATTERN_CHARS`].
    TooLong,
    /// More than [`MAX_PATTERN_SEGMENTS`] segments.
    TooManySegments,
    /// Starts with `/` (patterns are relative to `/orgs/{slug}/`).
    LeadingSlash,
    /// `**` somewhere other than as the whole last segment.
    MisplacedDoubleStar,
    /// A segment no canonical path can contain.
    Segment(PathRefusal),
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PatternError::Empty => {
                f.write_str("must not be empty (use \"**\" for every path of the org)")
            }
            PatternError::TooLong => {
                write!(f, "must be at most {MAX_PATTERN_CHARS} characters")
            }
            PatternError::TooManySegments => {
                write!(f, "must have at most {MAX_PATTERN_SEGMENTS} segments")
            }
            PatternError::LeadingSlash => {
                f.write_str("must not start with / (patterns are relative to /orgs/{slug}/)")
            }
            PatternError::MisplacedDoubleStar => {
                f.write_str("may use ** only as the whole last segment")
            }
            PatternError::Segment(r) => {
                let r = r.to_string();
                write!(
                    f,
                    "can never match a canonical path: {}",
                    r.strip_prefix("the path ").unwrap_or(&r)
                )
            }
        }
    }
}

impl std::error::Error for PatternError {}

/// A parsed path pattern. Serializes as the string it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    source: String,
    /// Each segment split at its `*`s, hex-normalized: `["a", ""]` for `a*`.
    segments: Vec<Vec<String>>,
    /// Ends with `**`.
    tail: bool,
}

impl PathPattern {
    /// Parses a pattern such as `settings/**`, `models/research-*/**` or `**`.
    pub fn parse(s: &str) -> Result<PathPattern, PatternError> {
        if s.is_empty() {
            return Err(PatternError::Empty);
        }
        if s.len() > MAX_PATTERN_CHARS {
            return Err(PatternError::TooLong);
        }
        if s.starts_with('/') {
            return Err(PatternError::LeadingSlash);
        }
        let raw: Vec<&str> = s.split('/').collect();
        if raw.len() > MAX_PATTERN_SEGMENTS {
            return Err(PatternError::TooManySegments);
        }
        let last = raw.len() - 1;
        let tail = raw[last] == "**";
        let mut segments = Vec::with_capacity(raw.len());
        for (i, seg) in raw.iter().enumerate() {
            if i == last && tail {
                break;
            }
            if seg.contains("**") {
                return Err(PatternError::MisplacedDoubleStar);
            }
            check_gated_segment(seg).map_err(PatternError::Segment)?;
            segments.push(
                normalize_hex(seg)
                    .split('*')
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            );
        }
        Ok(PathPattern {
            source: s.to_owned(),
            segments,
            tail,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern matches the segments after `/orgs/{slug}` of a canonical path.
    pub fn matches<S: AsRef<str>>(&self, rest: &[S]) -> bool {
        let n = self.segments.len();
        let count_ok = if self.tail {
            rest.len() >= n
        } else {
            rest.len() == n
        };
        count_ok
            && self
                .segments
                .iter()
                .zip(rest)
                .all(|(p, s)| glob(p, &normalize_hex(s.as_ref())))
    }
}

/// Whether `seg` matches the segment pattern whose literal parts (split at `*`) are `parts`.
/// With only `*` wildcards, matching the first part as a prefix, the last as a suffix and each
/// middle part at its leftmost position in between is exact (no backtracking needed).
fn glob(parts: &[String], seg: &str) -> bool {
    let [first, middle @ .., last] = parts else {
        return parts.first().is_some_and(|p| p == seg);
    };
    if seg.len() < first.len() + last.len() || !seg.starts_with(first.as_str()) {
        return false;
    }
    if !seg.ends_with(last.as_str()) {
        return false;
    }
    let mut rest = &seg[first.len()..seg.len() - last.len()];
    for part in middle {
        match rest.find(part.as_str()) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

impl std::fmt::Display for PathPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

impl Serialize for PathPattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for PathPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PathPattern::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> PathPattern {
        PathPattern::parse(s).unwrap()
    }

    fn segs(s: &str) -> Vec<String> {
        if s.is_empty() {
            Vec::new()
        } else {
            s.split('/').map(str::to_owned).collect()
        }
    }

    fn m(pattern: &str, rest: &str) -> bool {
        p(pattern).matches(&segs(rest))
    }

    #[test]
    fn literal_and_tail() {
        assert!(m("settings", "settings"));
        assert!(!m("settings", "settings/x"));
        assert!(!m("settings", ""));
        assert!(!m("settings", "Settings"));
        assert!(m("settings/**", "settings"));
        assert!(m("settings/**", "settings/members/x"));
        assert!(!m("settings/**", "settingsx"));
        assert!(!m("settings/**", ""));
        assert!(m("**", ""));
        assert!(m("**", "a/b/c"));
    }

    #[test]
    fn star_within_a_segment() {
        assert!(m("models/research-*/**", "models/research-x/files"));
        assert!(m("models/research-*/**", "models/research-"));
        assert!(!m("models/research-*/**", "models/research"));
        assert!(!m("models/research-*/**", "models/other"));
        assert!(m("*", "anything"));
        assert!(!m("*", ""));
        assert!(!m("*", "a/b"));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "aXbYc"));
        assert!(m("a*b*c", "abbc"));
        assert!(!m("a*b*c", "acb"));
        assert!(m("*ab*ab", "abab"));
        assert!(!m("*ab*ab", "aba"));
        assert!(!m("ab*ba", "aba"));
        assert!(m("*/x", "y/x"));
    }

    #[test]
    fn hex_case_is_ignored_literals_are_not() {
        assert!(m("caf%C3%A9/**", "caf%c3%a9/x"));
        assert!(m("caf%c3%a9", "caf%C3%A9"));
        assert!(!m("cafe", "caf%C3%A9"));
    }

    #[test]
    fn refused_patterns() {
        use PatternError as E;
        let cases: &[(&str, PatternError)] = &[
            ("", E::Empty),
            ("/settings", E::LeadingSlash),
            ("settings/", E::Segment(PathRefusal::EmptySegment)),
            ("a//b", E::Segment(PathRefusal::EmptySegment)),
            ("**/x", E::MisplacedDoubleStar),
            ("a/**/b", E::MisplacedDoubleStar),
            ("a**", E::MisplacedDoubleStar),
            ("a/b**", E::MisplacedDoubleStar),
            ("***", E::MisplacedDoubleStar),
            ("../x", E::Segment(PathRefusal::DotSegment)),
            ("a/./b", E::Segment(PathRefusal::DotSegment)),
            ("a%2fb", E::Segment(PathRefusal::EncodedSeparator)),
            ("%2e%2e", E::Segment(PathRefusal::EncodedDot)),
            ("%61", E::Segment(PathRefusal::EncodedUnreserved)),
            ("a\\b", E::Segment(PathRefusal::Backslash)),
            ("a b", E::Segment(PathRefusal::ForbiddenCharacter)),
            ("a?b", E::Segment(PathRefusal::ForbiddenCharacter)),
            ("%*", E::Segment(PathRefusal::MalformedPercent)),
            ("a\nb", E::Segment(PathRefusal::ControlCharacter)),
        ];
        for (s, want) in cases {
            assert_eq!(PathPattern::parse(s).as_ref(), Err(want), "{s:?}");
            assert!(!want.to_string().is_empty());
        }
        assert_eq!(
            PathPattern::parse(&"a".repeat(MAX_PATTERN_CHARS + 1)),
            Err(E::TooLong)
        );
        assert!(PathPattern::parse(&"a".repeat(MAX_PATTERN_CHARS)).is_ok());
        let many = vec!["a"; MAX_PATTERN_SEGMENTS + 1].join("/");
        assert_eq!(PathPattern::parse(&many), Err(E::TooManySegments));
        assert!(PathPattern::parse(&vec!["a"; MAX_PATTERN_SEGMENTS].join("/")).is_ok());
    }

    #[test]
    fn serde_round_trip() {
        let pat = p("models/caf%c3%a9-*/**");
        let json = serde_json::to_string(&pat).unwrap();
        assert_eq!(json, "\"models/caf%c3%a9-*/**\"");
        assert_eq!(
            crate::core::json::from_str::<PathPattern>(&json).unwrap(),
            pat
        );
        assert!(crate::core::json::from_str::<PathPattern>("\"a/**/b\"").is_err());
        assert_eq!(pat.to_string(), pat.as_str());
    }

    /// Reference matcher for one segment: the textbook recursive glob.
    fn naive_glob(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|k| naive_glob(rest, &s[k..])),
            Some((c, rest)) => s.first() == Some(c) && naive_glob(rest, &s[1..]),
        }
    }

    fn naive(pattern: &str, rest: &[String]) -> bool {
        let mut ps: Vec<&str> = pattern.split('/').collect();
        let tail = ps.last() == Some(&"**");
        if tail {
            ps.pop();
        }
        if (tail && rest.len() < ps.len()) || (!tail && rest.len() != ps.len()) {
            return false;
        }
        ps.iter()
            .zip(rest)
            .all(|(p, s)| naive_glob(p.as_bytes(), s.as_bytes()))
    }

    fn seg_pattern() -> impl Strategy<Value = String> {
        "[ab*]{1,5}".prop_filter("no **", |s| !s.contains("**"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Arbitrary strings never panic the parser, and what it accepts round-trips.
        #[test]
        fn parse_total_and_round_trips(s in any::<String>()) {
            if let Ok(pat) = PathPattern::parse(&s) {
                prop_assert_eq!(pat.as_str(), s.as_str());
                let _ = pat.matches(std::slice::from_ref(&s));
            }
        }

        /// Pattern-shaped noise: accepted patterns never have `**` except as the final segment,
        /// never have empty or dot segments.
        #[test]
        fn accepted_patterns_are_well_formed(
            toks in prop::collection::vec(prop::sample::select(vec![
                "a", "*", "**", "/", ".", "..", "%2e", "%41", "%C3", "-", "x"]), 0..10)
        ) {
            let s = toks.concat();
            if let Ok(pat) = PathPattern::parse(&s) {
                let segs: Vec<&str> = s.split('/').collect();
                for (i, seg) in segs.iter().enumerate() {
                    prop_assert!(!seg.is_empty() && *seg != "." && *seg != "..");
                    prop_assert!(!seg.contains("**") || (i == segs.len() - 1 && *seg == "**"));
                }
                prop_assert_eq!(pat.as_str(), s.as_str());
            }
        }

        /// The matcher agrees with the naive recursive matcher.
        #[test]
        fn matcher_agrees_with_reference(
            pat_segs in prop::collection::vec(seg_pattern(), 0..4),
            tail in any::<bool>(),
            rest in prop::collection::vec("[ab]{0,6}", 0..6),
        ) {
            let mut parts = pat_segs.clone();
            if tail { parts.push("**".into()); }
            prop_assume!(!parts.is_empty());
            let s = parts.join("/");
            let pat = PathPattern::parse(&s).unwrap();
            prop_assert_eq!(pat.matches(&rest), naive(&s, &rest), "{} vs {:?}", s, rest);
        }

        /// A literal pattern matches exactly its own segments; with `/**` every extension too.
        #[test]
        fn literal_matches_itself(
            lits in prop::collection::vec("[a-z0-9_-]{1,6}", 1..5),
            extra in prop::collection::vec("[a-z]{1,4}", 0..3),
        ) {
            let s = lits.join("/");
            prop_assert!(p(&s).matches(&lits));
            let mut longer = lits.clone();
            longer.extend(extra.iter().cloned());
            prop_assert_eq!(p(&s).matches(&longer), extra.is_empty());
            let tail = p(&format!("{s}/**"));
            prop_assert!(tail.matches(&longer));
            prop_assert!(!tail.matches(&lits[..lits.len() - 1]));
        }

        /// Percent-encodings match whatever the case of their hex digits on either side, and
        /// otherwise as the naive matcher decides on upper-cased triplets (RFC 3986 6.2.2.1);
        /// letters outside triplets stay case-sensitive.
        #[test]
        fn hex_case_never_changes_a_match(
            pat_segs in prop::collection::vec(
                prop::collection::vec(prop::sample::select(vec!["x", "Y", "*", "%c3", "%C3", "%a9", "%A9"]), 1..4)
                    .prop_map(|t| t.concat())
                    .prop_filter("no **", |s| !s.contains("**")),
                1..4),
            tail in any::<bool>(),
            rest in prop::collection::vec(
                prop::collection::vec(prop::sample::select(vec!["x", "y", "Y", "%c3", "%C3", "%a9", "%A9"]), 0..4)
                    .prop_map(|t| t.concat()),
                0..5),
        ) {
            let norm = |s: &str| s.replace("%c3", "%C3").replace("%a9", "%A9");
            let mut parts = pat_segs.clone();
            if tail { parts.push("**".into()); }
            let s = parts.join("/");
            if let Ok(pat) = PathPattern::parse(&s) {
                let rest_n: Vec<String> = rest.iter().map(|r| norm(r)).collect();
                prop_assert_eq!(pat.matches(&rest), naive(&norm(&s), &rest_n), "{} vs {:?}", s, rest);
                prop_assert_eq!(pat.matches(&rest), p(&norm(&s)).matches(&rest_n));
                prop_assert_eq!(p(pat.as_str()), pat);
            }
        }
    }
}
