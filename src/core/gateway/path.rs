//! Which request paths the gateway judges, read strictly from the raw (still percent-encoded)
//! path.
//!
//! The gateway and the origin must agree on which org a path belongs to. They can only be sure
//! to agree on paths that have a single reading: no dot segments (RFC 3986 5.2.4 would remove
//! them), no empty segments (some servers collapse `//`), no percent-encoded `/`, `\` or `.`
//! (some servers decode before routing), no backslash (WHATWG URL and several servers read it
//! as `/`), no control characters (C servers stop at `%00`). Everything else is refused, hub-wide
//! for the classes that could move a path into or out of `/orgs/`, and under `/orgs/` also for
//! spellings the origin might read differently from us (a non-canonical slug, an encoded
//! unreserved character such as `%61`). Nothing is decoded and re-encoded: the path that passes
//! is the path that is forwarded.
//!
//! workerd's URL parser already resolves `..`, `%2e%2e` and `\` before the worker sees the URL;
//! the checks here do not rely on that.

use crate::core::org::{OrgSlug, SlugError};

/// Longest path judged, in bytes; longer paths are refused.
pub const MAX_PATH_BYTES: usize = 8 * 1024;

/// The first segment of every gated path.
const ORGS: &str = "orgs";

/// Why a path was refused. Every variant is a class of non-canonical spelling; the request
/// should be answered with 400 and never forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathRefusal {
    /// Longer than [`MAX_PATH_BYTES`].
    TooLong,
    /// Does not start with `/`.
    NotAbsolute,
    /// A `.` or `..` segment.
    DotSegment,
    /// An empty segment (`//`, or a trailing `/` under `/orgs/`).
    EmptySegment,
    /// `%2F` or `%5C` (any case): an encoded path separator.
    EncodedSeparator,
    /// `%2E` (any case): an encoded dot, the material of encoded dot segments.
    EncodedDot,
    /// `%00`-`%1F` or `%7F`: an encoded control character.
    EncodedControl,
    /// `%25` followed by two hex digits: a double encoding, which a server that decodes twice
    /// would read as a different character (`%252e` -> `%2e` -> `.`).
    DoubleEncoding,
    /// Under `/orgs/`: a percent-encoded unreserved character (`%61` for `a`, RFC 3986 2.3
    /// says it must be written plainly), which would let a path escape an access rule that
    /// names the plain spelling.
    EncodedUnreserved,
    /// A `%` not followed by two hex digits.
    MalformedPercent,
    /// A backslash.
    Backslash,
    /// A raw control character (U+0000-U+001F, U+007F).
    ControlCharacter,
    /// A raw non-ASCII byte, space, `"`, `#`, `<`, `>`, `?`, `` ` ``, `{` or `}`: characters
    /// the URL parser always percent-encodes in a path (WHATWG URL, path percent-encode set), so
    /// they reach us raw only from a client that bypassed it.
    ForbiddenCharacter,
    /// A first segment that is not spelt `orgs` but that a lenient server could read as `orgs`
    /// (`ORGS`, `Orgs;x`, `orgs.`).
    DisguisedPrefix,
    /// The slug after `/orgs/` is not in canonical form ([`OrgSlug::parse`]; `Acme` is refused,
    /// not lower-cased).
    NonCanonicalSlug(SlugError),
}

impl std::fmt::Display for PathRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathRefusal::TooLong => write!(f, "the path is longer than {MAX_PATH_BYTES} bytes"),
            PathRefusal::NotAbsolute => f.write_str("the path does not start with /"),
            PathRefusal::DotSegment => f.write_str("the path has a . or .. segment"),
            PathRefusal::EmptySegment => f.write_str("the path has an empty segment"),
            PathRefusal::EncodedSeparator => f.write_str("the path has an encoded / or \\"),
            PathRefusal::EncodedDot => f.write_str("the path has an encoded ."),
            PathRefusal::EncodedControl => {
                f.write_str("the path has an encoded control character")
            }
            PathRefusal::DoubleEncoding => f.write_str("the path has a double percent-encoding"),
            PathRefusal::EncodedUnreserved => f.write_str(
                "the path percent-encodes a letter, digit, -, . , _ or ~ that must be written plainly",
            ),
            PathRefusal::MalformedPercent => {
                f.write_str("the path has a % not followed by two hex digits")
            }
            PathRefusal::Backslash => f.write_str("the path has a backslash"),
            PathRefusal::ControlCharacter => f.write_str("the path has a control character"),
            PathRefusal::ForbiddenCharacter => {
                f.write_str("the path has a character that must be percent-encoded")
            }
            PathRefusal::DisguisedPrefix => f.write_str("the path's first segment reads as orgs"),
            PathRefusal::NonCanonicalSlug(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PathRefusal {}

/// A canonical path under `/orgs/{slug}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatedPath {
    /// The org the path belongs to.
    pub slug: OrgSlug,
    /// The raw (percent-encoded) segments after the slug; empty for the org root
    /// `/orgs/{slug}`. None is empty, `.` or `..`.
    pub rest: Vec<String>,
}

impl GatedPath {
    /// The path exactly as received (canonical paths have one spelling, so it is rebuilt
    /// losslessly from the slug and segments).
    pub fn path(&self) -> String {
        let mut p = format!("/{ORGS}/{}", self.slug);
        for s in &self.rest {
            p.push('/');
            p.push_str(s);
        }
        p
    }
}

/// How the gateway treats a path that was not refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathClass {
    /// `/orgs/{slug}` or `/orgs/{slug}/...`: judged by [`crate::core::gateway::decide`].
    Gated(GatedPath),
    /// Anything else (including `/orgs` itself): not the gateway's business.
    NotGated,
}

/// Classifies a raw request path (the URL's path component as received, percent-encoded,
/// without query or fragment).
///
/// Refused anywhere in the path (these could move a path into or out of `/orgs/`): anything
/// longer than [`MAX_PATH_BYTES`], a path not starting with `/`, dot segments, empty segments
/// other than a final one, encoded `/` `\` `.` or control characters, double encodings,
/// malformed `%`, backslashes, raw control characters and characters a URL parser would have
/// encoded, and a first segment that reads as `orgs` without being spelt so. Refused under
/// `/orgs/` only: an empty final segment (`/orgs/acme/`), a non-canonical slug, and encoded
/// unreserved characters.
pub fn classify_path(raw: &str) -> Result<PathClass, PathRefusal> {
    if raw.len() > MAX_PATH_BYTES {
        return Err(PathRefusal::TooLong);
    }
    let Some(after_root) = raw.strip_prefix('/') else {
        return Err(PathRefusal::NotAbsolute);
    };
    check_characters(raw)?;
    if after_root.is_empty() {
        return Ok(PathClass::NotGated);
    }
    let segments: Vec<&str> = after_root.split('/').collect();
    let last = segments.len() - 1;
    for (i, s) in segments.iter().enumerate() {
        if *s == "." || *s == ".." {
            return Err(PathRefusal::DotSegment);
        }
        if s.is_empty() && i != last {
            return Err(PathRefusal::EmptySegment);
        }
    }
    if segments[0] != ORGS {
        if reads_as_orgs(segments[0]) {
            return Err(PathRefusal::DisguisedPrefix);
        }
        return Ok(PathClass::NotGated);
    }
    if segments.len() == 1 {
        return Ok(PathClass::NotGated);
    }
    // From here the path is under /orgs/: every segment must have one reading.
    if segments[last].is_empty() {
        return Err(PathRefusal::EmptySegment);
    }
    let slug = OrgSlug::parse(segments[1]).map_err(PathRefusal::NonCanonicalSlug)?;
    let mut rest = Vec::with_capacity(segments.len() - 2);
    for s in &segments[2..] {
        if has_encoded_unreserved(s) {
            return Err(PathRefusal::EncodedUnreserved);
        }
        rest.push((*s).to_owned());
    }
    Ok(PathClass::Gated(GatedPath { slug, rest }))
}

/// Whether `raw`'s first segment is `orgs`, or reads as `orgs` to a lenient server (see
/// [`classify_path`]'s `DisguisedPrefix`): the requests the gateway must judge, so that none of
/// them reaches another route. Cheap: looks at the first segment only.
pub fn names_orgs(raw: &str) -> bool {
    let Some(after_root) = raw.strip_prefix('/') else {
        return false;
    };
    let first = after_root.split('/').next().unwrap_or("");
    first == ORGS || reads_as_orgs(first)
}

/// Checks one segment of an access-rule pattern as if it were a segment of a gated path (`*`
/// is an ordinary character here), so that a pattern can only name segments a canonical path
/// can contain.
pub(crate) fn check_gated_segment(seg: &str) -> Result<(), PathRefusal> {
    if seg.is_empty() {
        return Err(PathRefusal::EmptySegment);
    }
    if seg == "." || seg == ".." {
        return Err(PathRefusal::DotSegment);
    }
    if seg.contains('/') {
        return Err(PathRefusal::EmptySegment);
    }
    check_characters(seg)?;
    if has_encoded_unreserved(seg) {
        return Err(PathRefusal::EncodedUnreserved);
    }
    Ok(())
}

/// The segment with the hex digits of its percent-encodings upper-cased (RFC 3986 6.2.2.1:
/// `%c3` and `%C3` are the same octet), the form in which segments are compared. Expects a
/// segment that passed the character checks.
pub(crate) fn normalize_hex(seg: &str) -> std::borrow::Cow<'_, str> {
    let b = seg.as_bytes();
    let needs = b
        .iter()
        .enumerate()
        .any(|(i, &c)| c.is_ascii_lowercase() && i >= 1 && percent_digit_at(b, i));
    if !needs {
        return std::borrow::Cow::Borrowed(seg);
    }
    let mut out = b.to_vec();
    for (i, c) in out.iter_mut().enumerate() {
        if percent_digit_at(b, i) {
            c.make_ascii_uppercase();
        }
    }
    // Only ASCII letters changed, so the bytes are still UTF-8.
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Whether byte `i` is one of the two hex digits of a `%XX` (in a string whose `%` are all
/// followed by two hex digits).
fn percent_digit_at(b: &[u8], i: usize) -> bool {
    (i >= 1 && b[i - 1] == b'%') || (i >= 2 && b[i - 2] == b'%' && b[i - 1] != b'%')
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_hex_at(b: &[u8], i: usize) -> bool {
    b.get(i).and_then(|&c| hex(c)).is_some()
}

/// The octet `%XX` at `b[i..]` encodes, if `b[i] == b'%'` and two hex digits follow.
fn encoded_at(b: &[u8], i: usize) -> Option<u8> {
    let hi = hex(*b.get(i + 1)?)?;
    let lo = hex(*b.get(i + 2)?)?;
    Some(hi << 4 | lo)
}

/// The raw-character and percent-encoding checks, over a whole path or one segment.
fn check_characters(s: &str) -> Result<(), PathRefusal> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            0x00..=0x1f | 0x7f => return Err(PathRefusal::ControlCharacter),
            b'\\' => return Err(PathRefusal::Backslash),
            b' ' | b'"' | b'#' | b'<' | b'>' | b'?' | b'`' | b'{' | b'}' | 0x80..=0xff => {
                return Err(PathRefusal::ForbiddenCharacter)
            }
            b'%' => {
                let octet = encoded_at(b, i).ok_or(PathRefusal::MalformedPercent)?;
                match octet {
                    b'/' | b'\\' => return Err(PathRefusal::EncodedSeparator),
                    b'.' => return Err(PathRefusal::EncodedDot),
                    0x00..=0x1f | 0x7f => return Err(PathRefusal::EncodedControl),
                    b'%' if is_hex_at(b, i + 3) && is_hex_at(b, i + 4) => {
                        return Err(PathRefusal::DoubleEncoding)
                    }
                    _ => {}
                }
                i += 3;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// RFC 3986 2.3 unreserved: `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Whether `s` (which passed [`check_characters`]) percent-encodes an unreserved character.
fn has_encoded_unreserved(s: &str) -> bool {
    let b = s.as_bytes();
    (0..b.len()).any(|i| b[i] == b'%' && encoded_at(b, i).is_some_and(is_unreserved))
}

/// Whether a lenient server could read first segment `seg` as `orgs`: after decoding, ignoring
/// ASCII case, a `;` path parameter (Servlet containers strip it) and trailing dots or spaces
/// (Windows file systems strip them).
fn reads_as_orgs(seg: &str) -> bool {
    let b = seg.as_bytes();
    let mut decoded = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], encoded_at(b, i)) {
            (b'%', Some(o)) => {
                decoded.push(o);
                i += 3;
            }
            (c, _) => {
                decoded.push(c);
                i += 1;
            }
        }
    }
    let end = decoded
        .iter()
        .position(|&c| c == b';')
        .unwrap_or(decoded.len());
    let mut head = &decoded[..end];
    while let [rest @ .., b'.' | b' '] = head {
        head = rest;
    }
    head.eq_ignore_ascii_case(ORGS.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn gated(p: &str) -> GatedPath {
        match classify_path(p) {
            Ok(PathClass::Gated(g)) => g,
            other => panic!("{p}: {other:?}"),
        }
    }

    fn refusal(p: &str) -> PathRefusal {
        classify_path(p).expect_err(p)
    }

    #[test]
    fn org_root_and_subpaths_are_gated() {
        let g = gated("/orgs/acme");
        assert_eq!(g.slug.as_str(), "acme");
        assert!(g.rest.is_empty());
        let g = gated("/orgs/acme/settings/members");
        assert_eq!(g.rest, ["settings", "members"]);
        let g = gated("/orgs/acme/models/a%20b/%C3%A9;v=1/x@y:z");
        assert_eq!(g.rest, ["models", "a%20b", "%C3%A9;v=1", "x@y:z"]);
        assert_eq!(g.path(), "/orgs/acme/models/a%20b/%C3%A9;v=1/x@y:z");
        // A lone %25 is a literal percent sign, harmless even to a server that decodes twice.
        assert_eq!(gated("/orgs/acme/100%25").rest, ["100%25"]);
        assert_eq!(gated("/orgs/acme/a.b/...").rest, ["a.b", "..."]);
    }

    #[test]
    fn names_orgs_reads_the_first_segment() {
        for p in [
            "/orgs",
            "/orgs/acme/x",
            "/ORGS/acme",
            "/%6frgs/a",
            "/%4Frgs/a",
            "/orgs;x/a",
            "/orgs./a",
        ] {
            assert!(names_orgs(p), "{p}");
        }
        for p in ["/", "/sso/start", "/orgsx/a", "/x/orgs/a", "orgs/a", ""] {
            assert!(!names_orgs(p), "{p}");
        }
    }

    #[test]
    fn other_paths_are_not_gated() {
        for p in [
            "/",
            "/orgs",
            "/orgsx/acme",
            "/org/acme",
            "/sso/start",
            "/docs/",
            "/api/orgs/acme",
            "/a/%C3%A9",
            "/x/%41",
        ] {
            assert_eq!(classify_path(p), Ok(PathClass::NotGated), "{p}");
        }
    }

    #[test]
    fn each_refusal_class() {
        let cases: &[(&str, PathRefusal)] = &[
            ("", PathRefusal::NotAbsolute),
            ("orgs/acme", PathRefusal::NotAbsolute),
            ("*", PathRefusal::NotAbsolute),
            ("/orgs/acme/", PathRefusal::EmptySegment),
            ("/orgs/", PathRefusal::EmptySegment),
            ("/orgs//acme", PathRefusal::EmptySegment),
            ("//orgs/acme", PathRefusal::EmptySegment),
            ("/orgs/acme//x", PathRefusal::EmptySegment),
            ("/orgs/acme/.", PathRefusal::DotSegment),
            ("/orgs/acme/../evil", PathRefusal::DotSegment),
            ("/x/../orgs/acme", PathRefusal::DotSegment),
            ("/./orgs/acme", PathRefusal::DotSegment),
            ("/orgs/acme%2fevil", PathRefusal::EncodedSeparator),
            ("/orgs/acme/%2F..", PathRefusal::EncodedSeparator),
            ("/orgs/acme/a%5cb", PathRefusal::EncodedSeparator),
            ("/orgs/acme/a%5Cb", PathRefusal::EncodedSeparator),
            ("/orgs/acme/%2e%2e/evil", PathRefusal::EncodedDot),
            ("/orgs/acme/%2E", PathRefusal::EncodedDot),
            ("/x/a%2eb", PathRefusal::EncodedDot),
            ("/orgs/acme/%00", PathRefusal::EncodedControl),
            ("/orgs/acme/%1f", PathRefusal::EncodedControl),
            ("/orgs/acme/%7F", PathRefusal::EncodedControl),
            ("/orgs/acme/%0a", PathRefusal::EncodedControl),
            ("/x/%252e%252e/orgs/evil", PathRefusal::DoubleEncoding),
            ("/orgs/acme/%2541", PathRefusal::DoubleEncoding),
            ("/orgs/acme/%61", PathRefusal::EncodedUnreserved),
            ("/orgs/acme/settings%7E", PathRefusal::EncodedUnreserved),
            ("/orgs/acme/%5F", PathRefusal::EncodedUnreserved),
            ("/orgs/acme/%", PathRefusal::MalformedPercent),
            ("/orgs/acme/%4", PathRefusal::MalformedPercent),
            ("/orgs/acme/%zz", PathRefusal::MalformedPercent),
            ("/orgs/acme/%%41", PathRefusal::MalformedPercent),
            ("/orgs/acme\\..\\evil", PathRefusal::Backslash),
            ("\\orgs\\acme", PathRefusal::NotAbsolute),
            ("/x\\orgs", PathRefusal::Backslash),
            ("/orgs/acme/a\u{0}", PathRefusal::ControlCharacter),
            ("/orgs/acme/a\tb", PathRefusal::ControlCharacter),
            ("/orgs/acme/a\u{7f}", PathRefusal::ControlCharacter),
            ("/orgs/acme/\r\nX: y", PathRefusal::ControlCharacter),
            ("/orgs/acme/a b", PathRefusal::ForbiddenCharacter),
            ("/orgs/acme/é", PathRefusal::ForbiddenCharacter),
            ("/orgs/acme/a?b", PathRefusal::ForbiddenCharacter),
            ("/orgs/acme/a#b", PathRefusal::ForbiddenCharacter),
            ("/orgs/acme/<x>", PathRefusal::ForbiddenCharacter),
            ("/ORGS/acme", PathRefusal::DisguisedPrefix),
            ("/Orgs/acme", PathRefusal::DisguisedPrefix),
            ("/%6frgs/acme", PathRefusal::DisguisedPrefix),
            ("/orgs;x/acme", PathRefusal::DisguisedPrefix),
            ("/orgs./acme", PathRefusal::DisguisedPrefix),
            ("/orgs%20/acme", PathRefusal::DisguisedPrefix),
            ("/orgs;", PathRefusal::DisguisedPrefix),
            (
                "/orgs/Acme",
                PathRefusal::NonCanonicalSlug(SlugError::Character),
            ),
            (
                "/orgs/%61cme",
                PathRefusal::NonCanonicalSlug(SlugError::Character),
            ),
            (
                "/orgs/acme;x",
                PathRefusal::NonCanonicalSlug(SlugError::Character),
            ),
            ("/orgs/a", PathRefusal::NonCanonicalSlug(SlugError::Length)),
            (
                "/orgs/-acme/x",
                PathRefusal::NonCanonicalSlug(SlugError::Hyphen),
            ),
        ];
        for (p, want) in cases {
            assert_eq!(&refusal(p), want, "{p:?}");
            assert!(!want.to_string().is_empty());
        }
        let long = format!("/orgs/acme/{}", "a".repeat(MAX_PATH_BYTES));
        assert_eq!(refusal(&long), PathRefusal::TooLong);
        let just = format!("/orgs/acme/{}", "a".repeat(MAX_PATH_BYTES - 11));
        assert_eq!(just.len(), MAX_PATH_BYTES);
        assert!(classify_path(&just).is_ok());
    }

    #[test]
    fn hex_case_is_normalized_for_comparison() {
        assert_eq!(normalize_hex("a%c3%a9b"), "a%C3%A9b");
        assert_eq!(normalize_hex("abc"), "abc");
        assert!(matches!(
            normalize_hex("%C3"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(normalize_hex("%25ab"), "%25ab");
        assert_eq!(normalize_hex("%3b%3B"), "%3B%3B");
    }

    #[test]
    fn pattern_segments_checked_like_gated_ones() {
        assert!(check_gated_segment("research-*").is_ok());
        assert!(check_gated_segment("%C3%A9").is_ok());
        assert_eq!(check_gated_segment(""), Err(PathRefusal::EmptySegment));
        assert_eq!(check_gated_segment(".."), Err(PathRefusal::DotSegment));
        assert_eq!(check_gated_segment("%2e"), Err(PathRefusal::EncodedDot));
        assert_eq!(
            check_gated_segment("%61"),
            Err(PathRefusal::EncodedUnreserved)
        );
        assert_eq!(
            check_gated_segment("a b"),
            Err(PathRefusal::ForbiddenCharacter)
        );
    }

    /// What a lenient origin might make of a raw path: decode percent-encodings (twice, as a
    /// misconfigured stack would), read `\` as `/`, drop empty and `.` segments, resolve `..`,
    /// strip `;` parameters and trailing dots and spaces, ignore case. Returns the org slug it
    /// would route to, if it reads the path as under `/orgs/`.
    fn lenient_origin_org(raw: &str) -> Option<String> {
        fn decode(s: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            let mut i = 0;
            while i < s.len() {
                if let (b'%', Some(o)) = (s[i], encoded_at(s, i)) {
                    out.push(o);
                    i += 3;
                } else {
                    out.push(s[i]);
                    i += 1;
                }
            }
            out
        }
        let once = decode(raw.as_bytes());
        let twice = decode(&once);
        let mut orgs = Vec::new();
        for bytes in [raw.as_bytes().to_vec(), once, twice] {
            let text = String::from_utf8_lossy(&bytes).replace('\\', "/");
            let text = text.split(['\0', '?', '#']).next().unwrap_or("").to_owned();
            let mut stack: Vec<String> = Vec::new();
            for seg in text.split('/') {
                let seg = seg.split(';').next().unwrap_or("");
                match seg {
                    "" | "." => {}
                    ".." => {
                        stack.pop();
                    }
                    _ => stack.push(seg.trim_end_matches(['.', ' ']).to_ascii_lowercase()),
                }
            }
            if stack.first().map(String::as_str) == Some(ORGS) && stack.len() >= 2 {
                orgs.push(stack[1].clone());
            }
        }
        orgs.sort();
        orgs.dedup();
        match orgs.len() {
            0 => None,
            1 => orgs.pop(),
            _ => Some("<ambiguous>".into()),
        }
    }

    fn token() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "/", "orgs", "ORGS", "acme", "evil", ".", "..", "%2e", "%2E", "%2f", "%2F", "%5c",
            "\\", "%25", "2e", "%6f", "%61", "%41", ";", "x", "-", "%00", "%", "%20", " ", "é",
            "*", "%C3%A9", "%c3", "?", "~", "@",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Every path the classifier gates, or refuses as a disguised `/orgs`, is one
        /// [`names_orgs`] sends to the gate (nothing under `/orgs` escapes to another route).
        #[test]
        fn names_orgs_covers_every_gated_or_disguised_path(
            toks in prop::collection::vec(token(), 0..12)
        ) {
            let raw: String = toks.concat();
            let raw = if raw.starts_with('/') { raw } else { format!("/{raw}") };
            if matches!(
                classify_path(&raw),
                Ok(PathClass::Gated(_)) | Err(PathRefusal::DisguisedPrefix)
            ) {
                prop_assert!(names_orgs(&raw), "{raw}");
            }
        }

        /// No input panics, and whatever passes is judged as the origin would route it: a
        /// gated path names the org a lenient origin would see, and a path that is not gated
        /// is not under `/orgs/{slug}` for the origin either.
        #[test]
        fn passes_only_what_the_origin_reads_the_same(
            toks in prop::collection::vec(token(), 0..12)
        ) {
            let raw: String = toks.concat();
            let raw = if raw.starts_with('/') { raw } else { format!("/{raw}") };
            match classify_path(&raw) {
                Ok(PathClass::Gated(g)) => {
                    prop_assert_eq!(g.path(), raw.clone());
                    prop_assert_eq!(lenient_origin_org(&raw), Some(g.slug.to_string()));
                    for s in &g.rest {
                        prop_assert!(!s.is_empty() && s != "." && s != "..");
                    }
                }
                Ok(PathClass::NotGated) => {
                    prop_assert_eq!(lenient_origin_org(&raw), None, "{}", raw);
                }
                Err(_) => {}
            }
        }

        /// Arbitrary strings never panic the classifier.
        #[test]
        fn arbitrary_input_never_panics(raw in any::<String>()) {
            let _ = classify_path(&raw);
            let _ = check_gated_segment(&raw);
        }

        /// Canonical gated paths built from safe segments are accepted with their slug and
        /// segments intact.
        #[test]
        fn canonical_paths_accepted(
            slug in "[a-z0-9]{2,10}",
            rest in prop::collection::vec("[A-Za-z0-9_~@:;=!$&'()*+,-]{1,8}|[a-z]{0,3}(%[89A-Fa-f][0-9A-Fa-f]){1,2}", 0..6)
        ) {
            let raw = format!("/orgs/{slug}{}", rest.iter().map(|s| format!("/{s}")).collect::<String>());
            let want = GatedPath { slug: OrgSlug::parse(&slug).unwrap(), rest: rest.clone() };
            prop_assert_eq!(classify_path(&raw), Ok(PathClass::Gated(want)));
        }

        /// Splicing a dot segment, an encoded separator or a double slash anywhere into a
        /// gated path gets it refused.
        #[test]
        fn spliced_traversal_refused(
            rest in prop::collection::vec("[a-z]{1,5}", 0..5),
            at in 0usize..6,
            bad in prop::sample::select(vec!["/..", "/.", "/", "%2f", "%2F..", "%5C", "/%2e%2e", "\\", "%00", "%252f"]),
        ) {
            let mut raw = String::from("/orgs/acme");
            let at = at.min(rest.len());
            for (i, s) in rest.iter().enumerate() {
                if i == at { raw.push_str(bad); }
                raw.push('/');
                raw.push_str(s);
            }
            if at == rest.len() { raw.push_str(bad); }
            prop_assert!(classify_path(&raw).is_err(), "{}", raw);
        }
    }
}
