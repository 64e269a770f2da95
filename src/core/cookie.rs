//! Cookies: their names, `Set-Cookie` values, and strict reading of the `Cookie` header.
//!
//! On https deployments the names carry the `__Host-` prefix (RFC 6265bis 4.1.3.2): the browser
//! accepts such a cookie only if it is `Secure`, has `Path=/` and no `Domain`, so a sibling host
//! of the hub cannot set or overwrite it (cookie tossing). Reading is strict for the same reason:
//! a name sent twice means someone managed to shadow ours, and we read neither.

use url::Url;

/// Largest `Cookie` header we parse; longer headers count as carrying no cookie of ours.
pub const MAX_COOKIE_HEADER_BYTES: usize = 8 * 1024;
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

    /// Name of the login-transaction cookie (binds the callback to the browser that started it).
    pub fn tx_cookie(&self) -> &'static str {
        if self.secure {
            SECURE_TX_COOKIE
        } else {
            DEV_TX_COOKIE
        }
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

/// The value of cookie `name` in a `Cookie` request header, read strictly: `None` if the header is
/// absent or longer than [`MAX_COOKIE_HEADER_BYTES`], if `name` appears more than once (a
/// shadowing or tossed cookie: we cannot tell which is ours), or if the value is empty, too long,
/// quoted or has characters outside RFC 6265 `cookie-octet`.
pub fn read_cookie(cookie_header: Option<&str>, name: &str) -> Option<String> {
    let header = cookie_header?;
    if header.len() > MAX_COOKIE_HEADER_BYTES {
        return None;
    }
    let mut found: Option<&str> = None;
    // RFC 6265 4.2.1: cookie-string = cookie-pair *( ";" SP cookie-pair ). Pairs without "="
    // (nameless cookies) cannot be ours. Names are compared after trimming whitespace, so a
    // " name" variant counts as a second copy rather than slipping past.
    for pair in header.split(';') {
        let Some((n, v)) = pair.split_once('=') else {
            continue;
        };
        if n.trim_matches([' ', '\t']) != name {
            continue;
        }
        if found.is_some() {
            return None;
        }
        found = Some(v);
    }
    let value = found?;
    let valid = !value.is_empty()
        && name.len() + value.len() <= MAX_COOKIE_BYTES
        && value.bytes().all(is_cookie_octet);
    valid.then(|| value.to_owned())
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
    fn read_cookie_caps_header() {
        let filler = format!("f={}", "x".repeat(MAX_COOKIE_HEADER_BYTES));
        assert_eq!(read_cookie(Some(&format!("a=1; {filler}")), "a"), None);
        let fits = format!("a=1; f={}", "x".repeat(MAX_COOKIE_HEADER_BYTES - 7));
        assert_eq!(fits.len(), MAX_COOKIE_HEADER_BYTES);
        assert_eq!(read_cookie(Some(&fits), "a").as_deref(), Some("1"));
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
}
