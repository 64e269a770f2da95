//! Header rules for the forward to the origin, as pure functions over `(name, value)` pairs so
//! the integrator can apply them to any header type.
//!
//! Requests lose hop-by-hop headers (RFC 9110 7.6.1), every `Edge-SSO-*` header (only the
//! gateway may set those, after this filter) and edge-sso's own cookies (the session token is
//! ours, not the origin's). Responses lose hop-by-hop headers and any `Set-Cookie` that would
//! set one of our cookie names (the origin must not be able to plant or overwrite a session).

use crate::core::cookie::{
    DEV_SESSION_COOKIE, DEV_TX_COOKIE, SECURE_SESSION_COOKIE, SECURE_TX_COOKIE,
};
use crate::core::gateway::decision::Identity;

/// Every cookie name edge-sso uses, on https and on plain-http deployments alike (stripping a
/// dev name on an https deployment costs nothing).
pub const EDGE_SSO_COOKIES: [&str; 6] = [
    SECURE_SESSION_COOKIE,
    SECURE_TX_COOKIE,
    DEV_SESSION_COOKIE,
    DEV_TX_COOKIE,
    crate::core::cookie::SECURE_SETUP_COOKIE,
    crate::core::cookie::DEV_SETUP_COOKIE,
];

/// Prefix of the headers the gateway sets for the origin (compared case-insensitively).
pub const EDGE_SSO_HEADER_PREFIX: &str = "Edge-SSO-";
/// The member's email, for the origin.
pub const EMAIL_HEADER: &str = "Edge-SSO-Email";
/// The org slug, for the origin.
pub const ORG_HEADER: &str = "Edge-SSO-Org";
/// The member's org-wide role, for the origin.
pub const ROLE_HEADER: &str = "Edge-SSO-Role";

/// RFC 9110 7.6.1 (and RFC 9112 for `Transfer-Encoding`, `Keep-Alive`): meaningful for one
/// connection only. `Expect` is listed too: the gateway answers `100-continue` itself or not at
/// all.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

/// Request headers a client could set to mislead the origin about where the request came from,
/// which host it was for, or which method it is: never forwarded as the client sent them.
/// `Host` comes from `ORIGIN_URL` (the platform's fetch sets it from the URL); the client's
/// address, in production, from the platform's own `CF-Connecting-IP`, which Cloudflare sets on
/// the subrequest itself. The method overrides would let the origin run another method than the
/// one the access rules judged (a `POST` an origin's middleware turns into a `DELETE`); the
/// gateway forwards every method it judges, so a client never needs them.
pub const UNTRUSTED_REQUEST_HEADERS: [&str; 13] = [
    "host",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-real-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "cf-connecting-ipv6",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// The hop-by-hop names: the fixed list plus every name listed in a `Connection` header.
fn hop_by_hop_names<K: AsRef<str>, V: AsRef<str>>(headers: &[(K, V)]) -> Vec<String> {
    let mut names: Vec<String> = HOP_BY_HOP.iter().map(|s| s.to_string()).collect();
    for (k, v) in headers {
        if k.as_ref().eq_ignore_ascii_case("connection") {
            names.extend(
                v.as_ref()
                    .split(',')
                    .map(|t| t.trim().to_ascii_lowercase())
                    .filter(|t| !t.is_empty()),
            );
        }
    }
    names
}

fn is_listed(names: &[String], name: &str) -> bool {
    names.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// `name` is one of `own`, or `own` + `_` + anything: each login transaction has its own
/// cookie, `{tx prefix}_{hash}` (see [`crate::core::cookie::CookiePolicy::tx_cookie_for`]).
fn is_own_cookie(own: &[&str], name: &str) -> bool {
    let name = name.trim_matches([' ', '\t']);
    own.iter().any(|o| {
        o.eq_ignore_ascii_case(name)
            || (name.len() > o.len()
                && name.is_char_boundary(o.len())
                && name[..o.len()].eq_ignore_ascii_case(o)
                && name.as_bytes()[o.len()] == b'_')
    })
}

/// One header name byte as a CGI-style server reads it (RFC 3875 4.1.18: `HTTP_` + the name
/// upper-cased with `-` replaced by `_`; Rack, WSGI and PHP do the same), so that `_` and `-`
/// compare equal: `Edge_SSO_Email` reaches such an origin as `HTTP_EDGE_SSO_EMAIL`, exactly as
/// the gateway's own `Edge-SSO-Email` does.
fn cgi_byte(b: u8) -> u8 {
    if b == b'_' {
        b'-'
    } else {
        b.to_ascii_lowercase()
    }
}

/// Whether header names `a` and `b` are the same to the origin: ignoring ASCII case, with `_`
/// and `-` read alike ([`cgi_byte`]).
fn same_header_name(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| cgi_byte(*x) == cgi_byte(*y))
}

fn has_edge_sso_prefix(name: &str) -> bool {
    let p = EDGE_SSO_HEADER_PREFIX;
    name.len() >= p.len() && same_header_name(&name.as_bytes()[..p.len()], p.as_bytes())
}

/// A `Cookie` header value without the cookies named in `own` (names compared after trimming
/// spaces and tabs, ignoring ASCII case, so no variant of ours slips through); `None` when no
/// cookie is left.
pub fn strip_cookies(cookie: &str, own: &[&str]) -> Option<String> {
    let kept: Vec<&str> = cookie
        .split(';')
        .map(|p| p.trim_matches([' ', '\t']))
        .filter(|p| !p.is_empty())
        .filter(|p| !is_own_cookie(own, p.split('=').next().unwrap_or("")))
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

/// Whether a `Set-Cookie` value would set a cookie named in `own`. A nameless cookie
/// (`=name=value`, or no `=` at all) counts by its value: browsers send it as the bare value,
/// which the server reads as `name=value` (RFC 6265bis 5.7 step 21 forbids this only for
/// prefixed names).
pub fn sets_own_cookie(set_cookie: &str, own: &[&str]) -> bool {
    let pair = set_cookie.split(';').next().unwrap_or("");
    let (name, value) = pair.split_once('=').unwrap_or(("", pair));
    if is_own_cookie(own, name) {
        return true;
    }
    name.trim_matches([' ', '\t']).is_empty()
        && is_own_cookie(own, value.split('=').next().unwrap_or(""))
}

fn collect<I, K, V>(headers: I) -> Vec<(K, V)>
where
    I: IntoIterator<Item = (K, V)>,
{
    headers.into_iter().collect()
}

/// The request headers to forward: without hop-by-hop headers, without any `Edge-SSO-*`
/// header, without [`UNTRUSTED_REQUEST_HEADERS`] (both also in spellings with `_` for `-`,
/// which CGI-style origins read as the same header), and with edge-sso's cookies (`own`, normally [`EDGE_SSO_COOKIES`]) removed from
/// `Cookie` (dropped when nothing is left). Order is kept. Add the gateway's own `Edge-SSO-*`
/// headers after this.
pub fn forward_request_headers<I, K, V>(headers: I, own: &[&str]) -> Vec<(String, String)>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let headers = collect(headers);
    let hop = hop_by_hop_names(&headers);
    headers
        .iter()
        .filter_map(|(k, v)| {
            let (k, v) = (k.as_ref(), v.as_ref());
            if is_listed(&hop, k)
                || has_edge_sso_prefix(k)
                || UNTRUSTED_REQUEST_HEADERS
                    .iter()
                    .any(|u| same_header_name(k.as_bytes(), u.as_bytes()))
            {
                return None;
            }
            if k.eq_ignore_ascii_case("cookie") {
                return strip_cookies(v, own).map(|c| (k.to_owned(), c));
            }
            Some((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// The response headers to pass back to the client: without hop-by-hop headers and without any
/// `Set-Cookie` that sets one of `own`.
pub fn forward_response_headers<I, K, V>(headers: I, own: &[&str]) -> Vec<(String, String)>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let headers = collect(headers);
    let hop = hop_by_hop_names(&headers);
    headers
        .iter()
        .filter(|(k, v)| {
            let (k, v) = (k.as_ref(), v.as_ref());
            let own_set_cookie = k.eq_ignore_ascii_case("set-cookie") && sets_own_cookie(v, own);
            !is_listed(&hop, k) && !own_set_cookie
        })
        .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
        .collect()
}

/// The plain identity headers for the origin: `Edge-SSO-Email`, `Edge-SSO-Org` and, when the
/// member has an org-wide role, `Edge-SSO-Role`. A value that is not visible ASCII and spaces is
/// left out rather than sent (an HTTP field value cannot carry it faithfully, RFC 9110 5.5).
pub fn identity_headers(identity: &Identity) -> Vec<(String, String)> {
    let mut out = vec![
        (EMAIL_HEADER, identity.email.clone()),
        (ORG_HEADER, identity.org.to_string()),
    ];
    if let Some(role) = identity.roles.org {
        out.push((ROLE_HEADER, role.as_str().to_owned()));
    }
    out.into_iter()
        .filter(|(_, v)| !v.is_empty() && v.bytes().all(|b| (0x20..=0x7e).contains(&b)))
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::org::{OrgSlug, Role};
    use crate::core::roles::MemberRoles;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn request_drops_hop_by_hop_and_listed() {
        let out = forward_request_headers(
            h(&[
                ("Host", "hub.example"),
                ("Connection", "keep-alive, X-Secret-Hop"),
                ("connection", "Other"),
                ("Keep-Alive", "timeout=5"),
                ("Proxy-Authorization", "Basic x"),
                ("Proxy-Authenticate", "Basic"),
                ("TE", "trailers"),
                ("Trailer", "X"),
                ("Transfer-Encoding", "chunked"),
                ("Upgrade", "websocket"),
                ("Expect", "100-continue"),
                ("x-secret-hop", "1"),
                ("Other", "2"),
                ("Accept", "text/html"),
                ("Authorization", "Bearer t"),
            ]),
            &EDGE_SSO_COOKIES,
        );
        // Host is the origin's (from ORIGIN_URL), never the client's.
        assert_eq!(
            out,
            h(&[("Accept", "text/html"), ("Authorization", "Bearer t")])
        );
    }

    #[test]
    fn request_drops_edge_sso_headers_any_case() {
        let out = forward_request_headers(
            h(&[
                ("Edge-SSO-Email", "admin@acme.com"),
                ("edge-sso-role", "admin"),
                ("EDGE-SSO-ASSERTION", "x"),
                ("Edge-SSO", "kept: no dash"),
                ("Edge-SSOx", "kept"),
                ("X-Edge-SSO-Role", "kept"),
            ]),
            &EDGE_SSO_COOKIES,
        );
        assert_eq!(
            out,
            h(&[
                ("Edge-SSO", "kept: no dash"),
                ("Edge-SSOx", "kept"),
                ("X-Edge-SSO-Role", "kept")
            ])
        );
    }

    #[test]
    fn request_drops_method_overrides() {
        let out = forward_request_headers(
            h(&[
                ("X-HTTP-Method-Override", "DELETE"),
                ("x-http-method", "DELETE"),
                ("X-Method-Override", "DELETE"),
                ("X_HTTP_Method_Override", "DELETE"),
                ("Accept", "*/*"),
            ]),
            &EDGE_SSO_COOKIES,
        );
        assert_eq!(out, h(&[("Accept", "*/*")]));
    }

    /// CGI-style servers (Rack, WSGI, PHP's `$_SERVER`) name a header `HTTP_` + upper case with
    /// `-` and `_` both read as `_`, so `Edge_SSO_Email` reaches such an origin as the gateway's
    /// `Edge-SSO-Email` would, and `X_Forwarded_For` as `X-Forwarded-For`.
    #[test]
    fn request_drops_underscore_spellings_of_our_and_untrusted_headers() {
        let out = forward_request_headers(
            h(&[
                ("Edge_SSO_Email", "admin@acme.com"),
                ("edge_sso-role", "admin"),
                ("EDGE-SSO_ASSERTION", "x"),
                ("X_Forwarded_For", "1.2.3.4"),
                ("x-real_ip", "1.2.3.4"),
                ("CF_Connecting_IP", "1.2.3.4"),
                ("True_Client_IP", "1.2.3.4"),
                ("Edge_SSOx", "kept"),
                ("X_Edge_SSO_Role", "kept"),
                ("Accept", "*/*"),
            ]),
            &EDGE_SSO_COOKIES,
        );
        assert_eq!(
            out,
            h(&[
                ("Edge_SSOx", "kept"),
                ("X_Edge_SSO_Role", "kept"),
                ("Accept", "*/*")
            ])
        );
    }

    #[test]
    fn request_strips_own_cookies() {
        let own = EDGE_SSO_COOKIES;
        assert_eq!(
            strip_cookies("a=1; __Host-sso_session=tok; b=2; sso_tx=t", &own),
            Some("a=1; b=2".into())
        );
        assert_eq!(strip_cookies("__Host-sso_session=tok", &own), None);
        assert_eq!(
            strip_cookies(" __host-SSO_session=tok ;\t__Host-sso_tx=x;", &own),
            None
        );
        assert_eq!(strip_cookies("sso_session", &own), None);
        // Each login transaction's own cookie.
        assert_eq!(
            strip_cookies("a=1; __Host-sso_tx_0a1b2c3d=v; sso_tx_ffffffff=w", &own),
            Some("a=1".into())
        );
        assert!(sets_own_cookie("__Host-sso_tx_0a1b2c3d=v; Path=/", &own));
        assert_eq!(strip_cookies("", &own), None);
        assert_eq!(strip_cookies(";;", &own), None);
        assert_eq!(
            strip_cookies("sso_sessionx=1;flag; x=__Host-sso_session=1", &own),
            Some("sso_sessionx=1; flag; x=__Host-sso_session=1".into())
        );
        let out = forward_request_headers(
            h(&[
                ("Cookie", "__Host-sso_session=tok"),
                ("cookie", "theme=dark; __Host-sso_tx=1"),
                ("Accept", "*/*"),
            ]),
            &own,
        );
        assert_eq!(out, h(&[("cookie", "theme=dark"), ("Accept", "*/*")]));
        // Other names can be passed in.
        assert_eq!(strip_cookies("a=1; b=2", &["b"]), Some("a=1".into()));
    }

    #[test]
    fn response_drops_own_set_cookie_and_hop_by_hop() {
        let out = forward_response_headers(
            h(&[
                ("Content-Type", "text/html"),
                ("Set-Cookie", "__Host-sso_session=evil; Path=/; Secure"),
                ("set-cookie", "sso_session=evil"),
                ("Set-Cookie", "=__Host-sso_session=evil; Path=/"),
                ("Set-Cookie", "__Host-sso_tx"),
                ("Set-Cookie", " __HOST-SSO_TX =x"),
                ("Set-Cookie", "theme=dark; Path=/"),
                ("Set-Cookie", "x=__Host-sso_session"),
                ("Connection", "close, X-Hop"),
                ("X-Hop", "1"),
                ("Transfer-Encoding", "chunked"),
                ("Edge-SSO-Role", "kept on responses"),
            ]),
            &EDGE_SSO_COOKIES,
        );
        assert_eq!(
            out,
            h(&[
                ("Content-Type", "text/html"),
                ("Set-Cookie", "theme=dark; Path=/"),
                ("Set-Cookie", "x=__Host-sso_session"),
                ("Edge-SSO-Role", "kept on responses"),
            ])
        );
    }

    #[test]
    fn works_over_borrowed_pairs() {
        let pairs = [("Upgrade", "h2c"), ("Accept", "*/*")];
        let out = forward_request_headers(pairs.iter().copied(), &EDGE_SSO_COOKIES);
        assert_eq!(out, h(&[("Accept", "*/*")]));
    }

    fn identity(email: &str, role: Option<Role>) -> Identity {
        Identity {
            expires_at: crate::core::clock::UnixTime(u64::MAX),
            org: OrgSlug::parse("acme").unwrap(),
            sub: "u1".into(),
            email: email.into(),
            idp: "https://acme.okta.com".into(),
            roles: MemberRoles {
                org: role,
                groups: vec![("research".into(), Role::Write)],
            },
        }
    }

    #[test]
    fn identity_headers_plain() {
        assert_eq!(
            identity_headers(&identity("bob@acme.com", Some(Role::Admin))),
            h(&[
                ("Edge-SSO-Email", "bob@acme.com"),
                ("Edge-SSO-Org", "acme"),
                ("Edge-SSO-Role", "admin")
            ])
        );
        assert_eq!(
            identity_headers(&identity("bob@acme.com", None)),
            h(&[("Edge-SSO-Email", "bob@acme.com"), ("Edge-SSO-Org", "acme")])
        );
        assert_eq!(
            identity_headers(&identity("bob@acme.com\r\nX-Admin: 1", None)),
            h(&[("Edge-SSO-Org", "acme")])
        );
        // The gateway's own headers survive only if added after the filter.
        let forwarded = forward_request_headers(
            identity_headers(&identity("bob@acme.com", Some(Role::Read))),
            &EDGE_SSO_COOKIES,
        );
        assert!(forwarded.is_empty());
    }

    #[test]
    fn host_and_forwarding_headers_from_the_client_are_not_forwarded() {
        let out = forward_request_headers(
            [
                ("Host", "evil.example"),
                ("X-Forwarded-For", "1.2.3.4"),
                ("X-Forwarded-Host", "evil.example"),
                ("x-forwarded-proto", "http"),
                ("Forwarded", "for=1.2.3.4"),
                ("X-Real-IP", "1.2.3.4"),
                ("True-Client-IP", "1.2.3.4"),
                ("CF-Connecting-IP", "1.2.3.4"),
                ("Accept", "text/html"),
            ],
            &EDGE_SSO_COOKIES,
        );
        assert_eq!(out, vec![("Accept".to_owned(), "text/html".to_owned())]);
    }
}
