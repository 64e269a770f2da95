//! Cookies: their names, `Set-Cookie` values, and strict reading of the `Cookie` header.
//!
//! On https deployments the names carry the `__Host-` prefix (RFC 6265bis 4.1.3.2): the browser
//! accepts such a cookie only if it is `Secure`, has `Path=/` and no `Domain`, so a sibling host
//! of the hub cannot set or overwrite it (cookie tossing). Reading is strict for the same reason:
//! a name sent twice means someone managed to shadow ours, and we read neither.
//!
//! A `Cookie` header bloated by other cookies of the site (a sibling subdomain's "cookie bomb")
//! must not make ours look absent, nor cost unbounded work: we read the pairs that lie wholly
//! within the first [`MAX_COOKIE_HEADER_BYTES`], at most [`MAX_COOKIE_PAIRS`] of them, and
//! ignore the rest.
//!
//! Login transactions each have their own cookie, `{tx prefix}_{8 hex}` named after a hash of
//! their `state` ([`CookiePolicy::tx_cookie_for`]), so sign-ins started in two tabs do not
//! overwrite each other.

use crate::core::secret::sha256_hex;
use url::Url;

/// How much of a `Cookie` header we read; pairs past it are ignored.
pub const MAX_COOKIE_HEADER_BYTES: usize = 16 * 1024;
/// Most `Cookie` pairs read; later pairs are ignored.
pub const MAX_COOKIE_PAIRS: usize = 200;
/// Hex digits of the state's hash in a transaction cookie's name (32 bits: two concurrent
/// sign-ins of one browser collide with probability 2^-32, and a collision only makes the
/// older one start again).
pub const TX_COOKIE_SUFFIX_HEX: usize = 8;
/// Largest name plus value of one cookie (RFC 6265bis 5.6, user agents' 4096-byte limit).
pub const MAX_COOKIE_BYTES: usize = 4096;
/// Largest `Max-Age` we send: user agents cap it at 400 days (RFC 6265bis 5.6.2).
pub const MAX_COOKIE_AGE_SECS: u64 = 400 * 24 * 60 * 60;

/// Session cookie name on https deployments.
pub const SECURE_SESSION_COOKIE: &str = "__Host-sso_session";
/// Login-transaction cookie name on https deployments.
pub const SECURE_TX_COOKIE: &str = "__Host-sso_tx";
/// Session cookie name on plain-http (local development) deployments.
pub const DEV_SESSION_COOKIE: &str = "sso_session";
/// Login-transaction cookie name on plain-http (local development) deployments.
pub const DEV_TX_COOKIE: &str = "sso_tx";
/// The setup link's cookie (an org's console before any SSO admin exists), on https.
pub const SECURE_SETUP_COOKIE: &str = "__Host-sso_setup";
/// The setup link's cookie on plain-http development origins.
pub const DEV_SETUP_COOKIE: &str = "sso_setup";

/// A cookie we were asked to write is not one a browser would store as meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieError {
    /// The name is empty or has characters outside RFC 9110 `token`.
    InvalidName,
    /// The value is empty or has characters outside RFC 6265 `cookie-octet`.
    InvalidValue,
    /// Name and value exceed [`MAX_COOKIE_BYTES`].
    TooLong,
    /// A `__Host-` / `__Secure-` name without `Secure`: browsers would drop it.
    PrefixNeedsSecure,
}

impl std::fmt::Display for CookieError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CookieError::InvalidName => "invalid cookie name",
            CookieError::InvalidValue => "invalid cookie value",
            CookieError::TooLong => "cookie too long",
            CookieError::PrefixNeedsSecure => "__Host-/__Secure- cookie without Secure",
        })
    }
}

impl std::error::Error for CookieError {}

/// How this deployment writes cookies: `secure` when the public origin is https.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookiePolicy {
    /// Send `Secure` and use `__Host-` names.
    pub secure: bool,
}

impl CookiePolicy {
    /// The policy for the hub's `PUBLIC_ORIGIN`: secure unless it is a valid `http:` URL
    /// (an unparsable origin gets the strict policy).
    pub fn for_public_origin(public_origin: &str) -> CookiePolicy {
        let secure = Url::parse(public_origin).map_or(true, |u| u.scheme() != "http");
        CookiePolicy { secure }
    }

    /// Name of the session cookie.
    pub fn session_cookie(&self) -> &'static str {
        if self.secure {
            SECURE_SESSION_COOKIE
        } else {
            DEV_SESSION_COOKIE
        }
    }

    /// The prefix of the login-transaction cookies (each binds a callback to the browser that
    /// started it); a transaction's own name is [`CookiePolicy::tx_cookie_for`].
    pub fn tx_cookie(&self) -> &'static str {
        if self.secure {
            SECURE_TX_COOKIE
        } else {
            DEV_TX_COOKIE
        }
    }

    /// The transaction cookie of the login whose `state` is `state`:
    /// `{tx_cookie}_{first 8 hex of SHA-256(state)}`.
    pub fn tx_cookie_for(&self, state: &str) -> String {
        let hash = sha256_hex(state.as_bytes());
        format!("{}_{}", self.tx_cookie(), &hash[..TX_COOKIE_SUFFIX_HEX])
    }

    /// Whether `name` is one of this policy's transaction cookies.
    pub fn is_tx_cookie(&self, name: &str) -> bool {
        name.strip_prefix(self.tx_cookie())
            .and_then(|rest| rest.strip_prefix('_'))
            .is_some_and(|h| {
                h.len() == TX_COOKIE_SUFFIX_HEX
                    && h.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
    }

    /// A `Set-Cookie` header value: `HttpOnly` (no script access), `SameSite=Lax` (sent on the
    /// top-level GET that returns from the IdP, not on cross-site subrequests), `Path=/`, no
    /// `Domain` (host-only), `Secure` when the policy is. `max_age: None` makes a cookie that ends
    /// with the browser session; longer ages are capped at [`MAX_COOKIE_AGE_SECS`].
    pub fn set_cookie(
        &self,
        name: &str,
        value: &str,
        max_age: Option<u64>,
    ) -> Result<String, CookieError> {
        self.check_name(name)?;
        if value.is_empty() || !value.bytes().all(is_cookie_octet) {
            return Err(CookieError::InvalidValue);
        }
        if name.len() + value.len() > MAX_COOKIE_BYTES {
            return Err(CookieError::TooLong);
        }
        let mut out = format!("{name}={value}");
        if let Some(age) = max_age {
            out.push_str(&format!("; Max-Age={}", age.min(MAX_COOKIE_AGE_SECS)));
        }
        out.push_str(&self.attributes());
        Ok(out)
    }

    /// A `Set-Cookie` header value that deletes `name` (`Max-Age=0`, the same attributes, so
    /// the browser matches and drops the cookie we set).
    pub fn clear_cookie(&self, name: &str) -> Result<String, CookieError> {
        self.check_name(name)?;
        Ok(format!("{name}=; Max-Age=0{}", self.attributes()))
    }

    fn attributes(&self) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("; Path=/; HttpOnly; SameSite=Lax{secure}")
    }

    fn check_name(&self, name: &str) -> Result<(), CookieError> {
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(CookieError::InvalidName);
        }
        // RFC 6265bis 4.1.3: prefixes are matched case-insensitively by user agents.
        let lower = name.to_ascii_lowercase();
        if !self.secure && (lower.starts_with("__host-") || lower.starts_with("__secure-")) {
            return Err(CookieError::PrefixNeedsSecure);
        }
        Ok(())
    }
}

/// The `name=value` pairs of a `Cookie` header that we read: those wholly within the first
/// [`MAX_COOKIE_HEADER_BYTES`] (a pair cut by the cap is dropped, never read shortened), at most
/// [`MAX_COOKIE_PAIRS`], names trimmed of spaces and tabs. Pairs without `=` (nameless cookies)
/// cannot be ours and are skipped (RFC 6265 4.2.1: cookie-string = cookie-pair *( ";" SP
/// cookie-pair )).
pub fn cookie_pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    let window = if header.len() > MAX_COOKIE_HEADER_BYTES {
        // Cut at the last separator inside the window: the pair it would split is not read.
        let mut end = MAX_COOKIE_HEADER_BYTES;
        while !header.is_char_boundary(end) {
            end -= 1;
        }
        let head = &header[..end];
        let cut = if header.as_bytes()[end] == b';' {
            end
        } else {
            head.rfind(';').unwrap_or(0)
        };
        &header[..cut]
    } else {
        header
    };
    window
        .split(';')
        .take(MAX_COOKIE_PAIRS)
        .filter_map(|pair| pair.split_once('='))
        .map(|(n, v)| (n.trim_matches([' ', '\t']), v))
}

/// The value of cookie `name` in a `Cookie` request header, read strictly from the pairs
/// [`cookie_pairs`] reads: `None` if the header is absent, if `name` appears more than once (a
/// shadowing or tossed cookie: we cannot tell which is ours), or if the value is empty, too
/// long, quoted or has characters outside RFC 6265 `cookie-octet`. Names are compared after
/// trimming whitespace, so a " name" variant counts as a second copy rather than slipping past.
pub fn read_cookie(cookie_header: Option<&str>, name: &str) -> Option<String> {
    let header = cookie_header?;
    let mut found: Option<&str> = None;
    for (n, v) in cookie_pairs(header) {
        if n != name {
            continue;
        }
        if found.is_some() {
            return None;
        }
        found = Some(v);
    }
    let value = found?;
    valid_value(name, value).then(|| value.to_owned())
}

/// The transaction cookies of `policy` in `cookie_header` (name, value), each read as strictly
/// as [`read_cookie`] reads one: a name sent twice, or an invalid value, is left out.
pub fn tx_cookies(policy: &CookiePolicy, cookie_header: Option<&str>) -> Vec<(String, String)> {
    let Some(header) = cookie_header else {
        return Vec::new();
    };
    let mut seen: Vec<(&str, Option<&str>)> = Vec::new();
    for (n, v) in cookie_pairs(header).filter(|(n, _)| policy.is_tx_cookie(n)) {
        match seen.iter_mut().find(|(s, _)| *s == n) {
            Some(entry) => entry.1 = None,
            None => seen.push((n, Some(v))),
        }
    }
    seen.into_iter()
        .filter_map(|(n, v)| {
            v.filter(|v| valid_value(n, v))
                .map(|v| (n.to_owned(), v.to_owned()))
        })
        .collect()
}

fn valid_value(name: &str, value: &str) -> bool {
    !value.is_empty()
        && name.len() + value.len() <= MAX_COOKIE_BYTES
        && value.bytes().all(is_cookie_octet)
}

/// RFC 6265 4.1.1 `cookie-octet`: US-ASCII except CTLs, whitespace, DQUOTE, comma, semicolon
/// and backslash.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// RFC 9110 5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECURE: CookiePolicy = CookiePolicy { secure: true };
    const DEV: CookiePolicy = CookiePolicy { secure: false };

    #[test]
    fn policy_from_public_origin() {
        assert!(CookiePolicy::for_public_origin("https://sso.example.com").secure);
        assert!(CookiePolicy::for_public_origin("HTTPS://sso.example.com").secure);
        assert!(!CookiePolicy::for_public_origin("http://localhost:8787").secure);
        assert!(CookiePolicy::for_public_origin("not a url").secure);
        assert!(CookiePolicy::for_public_origin("").secure);
    }

    #[test]
    fn names_follow_policy() {
        assert_eq!(SECURE.session_cookie(), "__Host-sso_session");
        assert_eq!(SECURE.tx_cookie(), "__Host-sso_tx");
        assert_eq!(DEV.session_cookie(), "sso_session");
        assert_eq!(DEV.tx_cookie(), "sso_tx");
    }

    #[test]
    fn set_cookie_secure() {
        let c = SECURE
            .set_cookie(SECURE.session_cookie(), "abc-_123", Some(3600))
            .unwrap();
        assert_eq!(
            c,
            "__Host-sso_session=abc-_123; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(!c.to_ascii_lowercase().contains("domain"));
    }

    #[test]
    fn set_cookie_dev_and_session_lifetime() {
        let c = DEV.set_cookie(DEV.tx_cookie(), "v", None).unwrap();
        assert_eq!(c, "sso_tx=v; Path=/; HttpOnly; SameSite=Lax");
    }

    #[test]
    fn set_cookie_caps_max_age() {
        let c = SECURE
            .set_cookie(SECURE.session_cookie(), "v", Some(u64::MAX))
            .unwrap();
        assert!(c.contains(&format!("Max-Age={MAX_COOKIE_AGE_SECS};")));
    }

    #[test]
    fn set_cookie_rejects_bad_values() {
        for bad in [
            "",
            "a;b",
            "a b",
            "a,b",
            "a\"b",
            "a\\b",
            "a\r\nSet-Cookie: x=y",
            "é",
        ] {
            assert_eq!(
                SECURE.set_cookie(SECURE.session_cookie(), bad, None),
                Err(CookieError::InvalidValue),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn set_cookie_rejects_bad_names() {
        for bad in ["", "a=b", "a b", "a;b", "a\n"] {
            assert_eq!(
                SECURE.set_cookie(bad, "v", None),
                Err(CookieError::InvalidName)
            );
            assert_eq!(SECURE.clear_cookie(bad), Err(CookieError::InvalidName));
        }
    }

    #[test]
    fn set_cookie_rejects_too_long() {
        let v = "a".repeat(MAX_COOKIE_BYTES);
        assert_eq!(SECURE.set_cookie("n", &v, None), Err(CookieError::TooLong));
        assert!(SECURE
            .set_cookie("n", &v[..MAX_COOKIE_BYTES - 1], None)
            .is_ok());
    }

    #[test]
    fn prefixed_names_need_secure() {
        for name in [SECURE_SESSION_COOKIE, "__secure-x", "__HOST-x"] {
            assert_eq!(
                DEV.set_cookie(name, "v", None),
                Err(CookieError::PrefixNeedsSecure)
            );
            assert_eq!(DEV.clear_cookie(name), Err(CookieError::PrefixNeedsSecure));
            assert!(SECURE.set_cookie(name, "v", None).is_ok());
        }
    }

    #[test]
    fn clear_cookie_matches_attributes() {
        assert_eq!(
            SECURE.clear_cookie(SECURE.tx_cookie()).unwrap(),
            "__Host-sso_tx=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert_eq!(
            DEV.clear_cookie(DEV.session_cookie()).unwrap(),
            "sso_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn read_cookie_finds_value() {
        let h = "theme=dark; __Host-sso_session=abc_-123; __Host-sso_tx=t";
        assert_eq!(
            read_cookie(Some(h), "__Host-sso_session").as_deref(),
            Some("abc_-123")
        );
        assert_eq!(read_cookie(Some(h), "__Host-sso_tx").as_deref(), Some("t"));
        assert_eq!(read_cookie(Some("a=1"), "a").as_deref(), Some("1"));
        assert_eq!(read_cookie(Some("a=1;b=2"), "b").as_deref(), Some("2"));
        // Base64 padding '=' inside a value is fine.
        assert_eq!(read_cookie(Some("a=x=="), "a").as_deref(), Some("x=="));
    }

    #[test]
    fn read_cookie_absent() {
        assert_eq!(read_cookie(None, "a"), None);
        assert_eq!(read_cookie(Some(""), "a"), None);
        assert_eq!(read_cookie(Some("b=1"), "a"), None);
        // Name matching is exact: no prefix, suffix or case variants.
        assert_eq!(read_cookie(Some("ab=1; A=2; xa=3"), "a"), None);
        assert_eq!(
            read_cookie(Some("__host-sso_session=1"), "__Host-sso_session"),
            None
        );
        // A nameless cookie whose value is our name is not our cookie.
        assert_eq!(read_cookie(Some("a"), "a"), None);
    }

    #[test]
    fn read_cookie_duplicate_name_is_none() {
        assert_eq!(read_cookie(Some("a=1; a=1"), "a"), None);
        assert_eq!(read_cookie(Some("a=1; b=2; a=3"), "a"), None);
        assert_eq!(read_cookie(Some("a=1;  a=2"), "a"), None);
        assert_eq!(read_cookie(Some("a=1; a =2"), "a"), None);
        assert_eq!(read_cookie(Some("a=1; \ta=2"), "a"), None);
        // Duplicates of other names do not matter.
        assert_eq!(
            read_cookie(Some("b=1; b=2; a=3"), "a").as_deref(),
            Some("3")
        );
    }

    #[test]
    fn read_cookie_rejects_bad_values() {
        for bad in [
            "a=",
            "a=\"quoted\"",
            "a=x y",
            "a=x,y",
            "a=x\\y",
            "a=é",
            "a=x\u{7f}",
        ] {
            assert_eq!(read_cookie(Some(bad), "a"), None, "{bad:?}");
        }
        let long = format!("a={}", "v".repeat(MAX_COOKIE_BYTES));
        assert_eq!(read_cookie(Some(&long), "a"), None);
    }

    #[test]
    fn a_cookie_bomb_does_not_hide_our_cookie() {
        // Ours first, then a bloated tail: ours is still read.
        let filler = format!("f={}", "x".repeat(MAX_COOKIE_HEADER_BYTES));
        assert_eq!(
            read_cookie(Some(&format!("a=1; {filler}")), "a").as_deref(),
            Some("1")
        );
        // Hundreds of small cookies before ours, within the byte cap: still read.
        let many: Vec<String> = (0..150).map(|i| format!("bomb{i}=x")).collect();
        let h = format!("{}; a=1", many.join("; "));
        assert_eq!(read_cookie(Some(&h), "a").as_deref(), Some("1"));
        // Past the caps, the rest is ignored (no unbounded work), never misread.
        let many: Vec<String> = (0..MAX_COOKIE_PAIRS).map(|i| format!("b{i}=x")).collect();
        let h = format!("{}; a=1", many.join("; "));
        assert_eq!(read_cookie(Some(&h), "a"), None);
        let h = format!("{filler}; a=1");
        assert_eq!(read_cookie(Some(&h), "a"), None);
        // A duplicate beyond the cap cannot be seen, so it does not void ours either.
        assert_eq!(
            read_cookie(Some(&format!("a=1; {filler}; a=2")), "a").as_deref(),
            Some("1")
        );
    }

    #[test]
    fn a_pair_cut_by_the_cap_is_not_read_shortened() {
        // `a`'s value straddles the cap: it is dropped, not read as a prefix.
        let pad = format!("f={}", "x".repeat(MAX_COOKIE_HEADER_BYTES - 8));
        let h = format!("{pad}; a=123456789");
        assert!(h.len() > MAX_COOKIE_HEADER_BYTES);
        assert_eq!(read_cookie(Some(&h), "a"), None);
        // A pair ending exactly at the cap is whole.
        let pad = format!("f={}", "x".repeat(MAX_COOKIE_HEADER_BYTES - 10));
        let h = format!("{pad}; a=1234; z=0");
        assert_eq!(h.as_bytes()[MAX_COOKIE_HEADER_BYTES], b';');
        assert_eq!(read_cookie(Some(&h), "a").as_deref(), Some("1234"));
        // Multi-byte text at the cap does not split a character.
        let pad = format!("f={}", "é".repeat(MAX_COOKIE_HEADER_BYTES));
        assert_eq!(
            read_cookie(Some(&format!("a=1; {pad}")), "a").as_deref(),
            Some("1")
        );
    }

    #[test]
    fn transaction_cookies_are_named_by_their_state() {
        let n = SECURE.tx_cookie_for("state-1");
        assert!(n.starts_with("__Host-sso_tx_"));
        assert_eq!(n.len(), "__Host-sso_tx_".len() + TX_COOKIE_SUFFIX_HEX);
        assert_eq!(n, SECURE.tx_cookie_for("state-1"));
        assert_ne!(n, SECURE.tx_cookie_for("state-2"));
        assert!(DEV.tx_cookie_for("state-1").starts_with("sso_tx_"));
        assert!(SECURE.is_tx_cookie(&n));
        for not in [
            "__Host-sso_tx",
            "__Host-sso_tx_",
            "__Host-sso_tx_0123456",
            "__Host-sso_tx_0123456G",
            "__Host-sso_tx_0123456789",
            "sso_tx_01234567",
            "__Host-sso_session",
        ] {
            assert!(!SECURE.is_tx_cookie(not), "{not}");
        }
        let a = SECURE.tx_cookie_for("a");
        let b = SECURE.tx_cookie_for("b");
        let h = format!(
            "theme=1; {a}=va; {b}=vb; {b}=again; __Host-sso_tx_zzzzzzzz=x; {}=bad value",
            SECURE.tx_cookie_for("c")
        );
        assert_eq!(tx_cookies(&SECURE, Some(&h)), vec![(a, "va".to_owned())]);
        assert!(tx_cookies(&SECURE, None).is_empty());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Arbitrary headers never panic, and the reader agrees with a simple model: the value
        /// of the only pair named `a` among the first pairs, when valid.
        #[test]
        fn read_cookie_matches_a_model(h in "[ -~\t é]{0,300}") {
            let got = read_cookie(Some(&h), "a");
            let pairs: Vec<(&str, &str)> = h
                .split(';')
                .filter_map(|p| p.split_once('='))
                .map(|(n, v)| (n.trim_matches([' ', '\t']), v))
                .filter(|(n, _)| *n == "a")
                .collect();
            let want = match pairs.as_slice() {
                [(_, v)] if valid_value("a", v) => Some(v.to_string()),
                _ => None,
            };
            proptest::prop_assert_eq!(got, want);
            let _ = tx_cookies(&SECURE, Some(&h));
        }

        #[test]
        fn bloated_headers_never_panic(n in 0usize..400, len in 0usize..200, tail in "[ -~]{0,40}") {
            let h: Vec<String> = (0..n).map(|i| format!("c{i}={}", "v".repeat(len))).collect();
            let h = format!("{}; {tail}", h.join("; "));
            let _ = read_cookie(Some(&h), "a");
            let _ = tx_cookies(&SECURE, Some(&h));
        }
    }

    #[test]
    fn round_trip() {
        let set = SECURE
            .set_cookie(SECURE.session_cookie(), "Zm9v_-bar", Some(60))
            .unwrap();
        let pair = set.split(';').next().unwrap();
        assert_eq!(
            read_cookie(Some(pair), SECURE.session_cookie()).as_deref(),
            Some("Zm9v_-bar")
        );
    }

    /// A naive reading of a `Cookie` header (RFC 6265 5.4 serialization): split at `;`, name
    /// and value at the first `=`, name trimmed; the value of the only pair named `name`, when
    /// it is a non-empty run of `cookie-octet`s that fits the cookie size limit.
    fn naive_read(header: &str, name: &str) -> Option<String> {
        let vals: Vec<&str> = header
            .split(';')
            .filter_map(|p| p.split_once('='))
            .filter(|(n, _)| n.trim_matches([' ', '\t']) == name)
            .map(|(_, v)| v)
            .collect();
        match vals.as_slice() {
            [v] if !v.is_empty()
                && name.len() + v.len() <= MAX_COOKIE_BYTES
                && v.bytes()
                    .all(|b| b.is_ascii_graphic() && !b"\",;\\".contains(&b)) =>
            {
                Some(v.to_string())
            }
            _ => None,
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn tx_a() -> String {
            SECURE.tx_cookie_for("state-a")
        }

        /// Well-formed and nearly well-formed headers: pairs of known names, look-alike names
        /// (case, whitespace, prefixes), valid and invalid values, nameless pairs.
        fn header() -> impl Strategy<Value = String> {
            let name = prop_oneof![
                Just("a".to_owned()),
                Just(" a".to_owned()),
                Just("a\t".to_owned()),
                Just("A".to_owned()),
                Just("ab".to_owned()),
                Just("b".to_owned()),
                Just(tx_a()),
                Just(SECURE.tx_cookie_for("state-b")),
                Just("__Host-sso_tx_0123abcd".to_owned()),
                Just("__Host-sso_tx_0123ABCD".to_owned()),
                Just(DEV.tx_cookie_for("state-a")),
                Just(String::new()),
            ];
            let value = prop_oneof![
                4 => "[!#-+\\--:<-\\[\\]-~]{1,12}",
                1 => prop::sample::select(vec!["", "x y", "\"q\"", "é", "v==", "a,b", "a\\b", "\u{7f}"])
                    .prop_map(str::to_owned),
            ];
            let pair = prop_oneof![
                6 => (name, value).prop_map(|(n, v)| format!("{n}={v}")),
                1 => "[a-z]{0,4}",
            ];
            (
                prop::collection::vec(pair, 0..8),
                prop::sample::select(vec!["; ", ";", ";  "]),
            )
                .prop_map(|(pairs, sep)| pairs.join(sep))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            /// On headers within the caps, the reader agrees with the naive splitter, and the
            /// transaction-cookie reader with the same rule applied to each of its names.
            #[test]
            fn readers_agree_with_a_naive_splitter(h in header()) {
                prop_assert_eq!(read_cookie(Some(&h), "a"), naive_read(&h, "a"), "{:?}", h);
                let mut names: Vec<String> = Vec::new();
                for (n, _) in h.split(';').filter_map(|p| p.split_once('=')) {
                    let n = n.trim_matches([' ', '\t']);
                    let hex = n.strip_prefix("__Host-sso_tx_").unwrap_or("");
                    if hex.len() == 8 && hex.bytes().all(|b| b"0123456789abcdef".contains(&b))
                        && !names.iter().any(|m| m == n)
                    {
                        names.push(n.to_owned());
                    }
                }
                let want: Vec<(String, String)> = names
                    .into_iter()
                    .filter_map(|n| naive_read(&h, &n).map(|v| (n, v)))
                    .collect();
                prop_assert_eq!(tx_cookies(&SECURE, Some(&h)), want, "{:?}", h);
            }

            /// What `set_cookie` writes, sent back among other cookies, reads as the value
            /// written; and what it refuses, it refuses for a reason the reader shares.
            #[test]
            fn set_cookie_round_trips(
                name in "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}",
                value in prop_oneof!["[!#-+\\--:<-\\[\\]-~]{1,40}", "[ -~]{0,8}"],
                before in any::<bool>(),
            ) {
                prop_assume!(name != "o1" && name != "o2");
                match SECURE.set_cookie(&name, &value, Some(60)) {
                    Ok(set) => {
                        let pair = set.split(';').next().unwrap();
                        prop_assert_eq!(pair, format!("{name}={value}"));
                        let h = if before { format!("{pair}; o1=x; o2=y") } else { format!("o1=x; {pair}") };
                        prop_assert_eq!(read_cookie(Some(&h), &name), Some(value));
                    }
                    Err(e) => {
                        prop_assert_eq!(e, CookieError::InvalidValue);
                        prop_assert!(value.is_empty()
                            || !value.bytes().all(|b| b.is_ascii_graphic() && !b"\",;\\".contains(&b)));
                    }
                }
            }

            /// In a bloated header our cookie is read exactly when it lies wholly within the
            /// first MAX_COOKIE_HEADER_BYTES and among the first MAX_COOKIE_PAIRS pairs; the
            /// filler after it never changes that. Half the cases pad the header so that our
            /// pair starts within a few bytes of the cap (where a cut pair would be misread).
            #[test]
            fn caps_decide_what_is_read(
                k in 0usize..260,
                len in 0usize..120,
                wide in any::<bool>(),
                aim in prop::option::of(-16isize..16),
                tail in 0usize..40,
                tail_len in 0usize..2000,
            ) {
                let fill = if wide { "é" } else { "v" };
                let mut parts: Vec<String> = (0..k).map(|i| format!("f{i}={}", fill.repeat(len))).collect();
                let start = |parts: &[String]| parts.iter().map(|p| p.len() + 2).sum::<usize>();
                if let Some(delta) = aim {
                    let target = MAX_COOKIE_HEADER_BYTES as isize + delta;
                    let pad = target - start(&parts) as isize - 4;
                    if pad >= 0 {
                        parts.push(format!("p={}", "x".repeat(pad as usize)));
                    }
                }
                let ours = parts.len();
                // Long enough that a pair read shortened would show.
                parts.push("a=123456789".into());
                let end = start(&parts) - 2;
                parts.extend((0..tail).map(|i| format!("t{i}={}", "w".repeat(tail_len))));
                let h = parts.join("; ");
                let want = (ours < MAX_COOKIE_PAIRS && end <= MAX_COOKIE_HEADER_BYTES)
                    .then(|| "123456789".to_owned());
                prop_assert_eq!(read_cookie(Some(&h), "a"), want);
                prop_assert!(cookie_pairs(&h).count() <= MAX_COOKIE_PAIRS);
            }
        }
    }
}
