//! Which URLs edge-sso will talk to as an identity provider: the configured issuer and every
//! endpoint discovery returns pass through [`IdpUrlPolicy::check`].

use std::net::IpAddr;
use url::{Host, Url};

/// The rule for IdP URLs. Secure by default: https only, and never an IP literal in a loopback,
/// private, link-local or otherwise non-public range (the worker must not be turned into a
/// proxy towards internal addresses). `allow_insecure_loopback` (env
/// `ALLOW_INSECURE_LOOPBACK_IDP=true`, local development and tests only) additionally admits
/// `http://127.0.0.1:PORT`, `http://localhost:PORT` and `http://[::1]:PORT`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdpUrlPolicy {
    /// Admit plain-http loopback IdPs (never in production).
    pub allow_insecure_loopback: bool,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPolicyError(pub String);

impl std::fmt::Display for UrlPolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UrlPolicyError {}

fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

fn is_non_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10 shared address space
                || o[0] >= 224 // multicast and reserved
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || v6.to_ipv4_mapped().is_some_and(|v4| is_non_public_ip(IpAddr::V4(v4)))
        }
    }
}

impl IdpUrlPolicy {
    /// Checks one IdP URL (issuer or endpoint).
    pub fn check(&self, url: &Url) -> Result<(), UrlPolicyError> {
        let host = url
            .host()
            .ok_or_else(|| UrlPolicyError("the URL has no host".into()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlPolicyError(
                "the URL must not contain credentials".into(),
            ));
        }
        match url.scheme() {
            "https" => {}
            "http" if self.allow_insecure_loopback && is_loopback_host(&host) => return Ok(()),
            "http" => {
                return Err(UrlPolicyError(
                    "the URL must use https (plain http is allowed only for loopback IdPs with ALLOW_INSECURE_LOOPBACK_IDP=true)".into(),
                ))
            }
            other => return Err(UrlPolicyError(format!("unsupported URL scheme {other:?}"))),
        }
        let ip = match host {
            Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            Host::Domain(d) if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") => {
                if self.allow_insecure_loopback {
                    return Ok(());
                }
                return Err(UrlPolicyError("the URL must not point at localhost".into()));
            }
            Host::Domain(_) => None,
        };
        if let Some(ip) = ip {
            if is_non_public_ip(ip) && !(self.allow_insecure_loopback && ip.is_loopback()) {
                return Err(UrlPolicyError(
                    "the URL must not point at a loopback, private or link-local address".into(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: IdpUrlPolicy, s: &str) -> Result<(), UrlPolicyError> {
        policy.check(&Url::parse(s).unwrap())
    }

    const STRICT: IdpUrlPolicy = IdpUrlPolicy {
        allow_insecure_loopback: false,
    };
    const DEV: IdpUrlPolicy = IdpUrlPolicy {
        allow_insecure_loopback: true,
    };

    #[test]
    fn https_public_hosts_pass() {
        assert!(check(STRICT, "https://acme.okta.com").is_ok());
        assert!(check(STRICT, "https://login.microsoftonline.com/x/v2.0").is_ok());
        assert!(check(STRICT, "https://93.184.216.34/").is_ok());
    }

    #[test]
    fn http_refused_by_default() {
        assert!(check(STRICT, "http://acme.okta.com").is_err());
        assert!(check(STRICT, "http://127.0.0.1:9000").is_err());
        assert!(check(STRICT, "http://localhost:9000").is_err());
    }

    #[test]
    fn loopback_http_only_with_flag() {
        assert!(check(DEV, "http://127.0.0.1:9000").is_ok());
        assert!(check(DEV, "http://localhost:9000/realm").is_ok());
        assert!(check(DEV, "http://[::1]:9000").is_ok());
        assert!(check(DEV, "http://10.0.0.1:9000").is_err());
        assert!(check(DEV, "http://example.com").is_err());
    }

    #[test]
    fn non_public_literals_refused_even_over_https() {
        for u in [
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://169.254.169.254/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fe80::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://localhost/",
            "https://2130706433/", // decimal form of 127.0.0.1, normalised by the URL parser
        ] {
            assert!(check(STRICT, u).is_err(), "{u} should be refused");
        }
    }

    #[test]
    fn other_schemes_and_credentials_refused() {
        assert!(check(DEV, "ftp://127.0.0.1/").is_err());
        assert!(check(STRICT, "https://user:pw@acme.okta.com/").is_err());
    }
}
