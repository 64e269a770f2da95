//! A compact set of domain names: each name's 40-bit SHA-256 prefix, sorted, the gaps
//! Golomb-Rice coded. ~14,000 public mail domains take ~48 KB instead of ~200 KB of text (and
//! ~75 KB of gzip, the Wasm's own compression), and a membership test decodes it once in a few
//! tens of microseconds.
//!
//! The set is exact for its members. A name that is not a member collides with one with
//! probability about n / 2^40 (~1.3e-8 for 14,000 names): for the public mail domain check that
//! means one organisation's domain in ~80 million would be refused as public, never the
//! reverse, so it fails closed.
//!
//! `build.rs` includes this file too (`#[path]`), so the encoder that writes the set and the
//! decoder that reads it are the same code.

#![allow(dead_code)]

use sha2::{Digest, Sha256};

/// Bits of SHA-256 kept per name.
pub const KEY_BITS: u32 = 40;

/// The set's key of `name`: the first [`KEY_BITS`] bits of SHA-256 of its bytes.
pub fn key(name: &str) -> u64 {
    let d = Sha256::digest(name.as_bytes());
    let mut k = 0u64;
    for b in &d[..(KEY_BITS / 8) as usize] {
        k = (k << 8) | u64::from(*b);
    }
    k
}

/// Encodes strictly increasing `keys` with Rice parameter `k`: `[n: u32 LE][k: u8]`, then per key
/// the gap to the previous one (the first from 0) as its quotient `gap >> k` in unary (ones and
/// a zero) and its low `k` bits, most significant bit first.
pub fn encode(keys: &[u64], k: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + keys.len() * (usize::from(k) + 2) / 8);
    out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
    out.push(k);
    let mut w = BitWriter {
        out,
        acc: 0,
        used: 0,
    };
    let mut prev = 0u64;
    for &key in keys {
        let gap = key - prev;
        prev = key;
        for _ in 0..(gap >> k) {
            w.bit(true);
        }
        w.bit(false);
        for i in (0..k).rev() {
            w.bit((gap >> i) & 1 == 1);
        }
    }
    w.finish()
}

/// The best Rice parameter for `keys`: of the three around log2 of the mean gap (where the
/// optimum lies for gaps of uniformly spread keys), the one giving the shortest encoding.
pub fn best_parameter(keys: &[u64]) -> u8 {
    let Some(&last) = keys.last() else { return 1 };
    let mean = (last / keys.len() as u64).max(1);
    let guess = (63 - mean.leading_zeros()).clamp(1, 40) as u8;
    [guess.saturating_sub(1).max(1), guess, (guess + 1).min(40)]
        .into_iter()
        .min_by_key(|&k| encode(keys, k).len())
        .unwrap_or(guess)
}

struct BitWriter {
    out: Vec<u8>,
    acc: u8,
    used: u8,
}

impl BitWriter {
    fn bit(&mut self, one: bool) {
        self.acc = (self.acc << 1) | u8::from(one);
        self.used += 1;
        if self.used == 8 {
            self.out.push(self.acc);
            self.acc = 0;
            self.used = 0;
        }
    }
    fn finish(mut self) -> Vec<u8> {
        if self.used > 0 {
            self.out.push(self.acc << (8 - self.used));
        }
        self.out
    }
}

/// How many keys `set` (as [`encode`] wrote it) holds; 0 for a malformed header.
pub fn len(set: &[u8]) -> usize {
    set.get(..4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

/// Whether `set` (as [`encode`] wrote it) holds `key`. A truncated or malformed set answers
/// for the keys decoded before the damage (the set is compiled in, never read from input).
pub fn contains(set: &[u8], key: u64) -> bool {
    keys(set).find(|&v| v >= key) == Some(key)
}

/// The keys of `set` in increasing order, up to any damage.
pub fn keys(set: &[u8]) -> impl Iterator<Item = u64> + '_ {
    Decoder {
        bits: set.get(5..).unwrap_or_default(),
        k: set.get(4).copied().unwrap_or(1),
        left: len(set),
        pos: 0,
        value: 0,
    }
}

struct Decoder<'a> {
    bits: &'a [u8],
    k: u8,
    left: usize,
    pos: usize,
    value: u64,
}

impl Decoder<'_> {
    fn bit(&mut self) -> Option<bool> {
        let byte = self.bits.get(self.pos / 8)?;
        let b = (byte >> (7 - self.pos % 8)) & 1 == 1;
        self.pos += 1;
        Some(b)
    }
}

impl Iterator for Decoder<'_> {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        if self.left == 0 {
            return None;
        }
        let mut q = 0u64;
        while self.bit()? {
            q += 1;
        }
        let mut r = 0u64;
        for _ in 0..self.k {
            r = (r << 1) | u64::from(self.bit()?);
        }
        self.left -= 1;
        self.value = self
            .value
            .checked_add(q.checked_shl(u32::from(self.k))? | r)?;
        Some(self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set_of(names: &[&str]) -> Vec<u8> {
        let mut keys: Vec<u64> = names.iter().map(|n| key(n)).collect();
        keys.sort_unstable();
        keys.dedup();
        encode(&keys, best_parameter(&keys))
    }

    #[test]
    fn members_are_found_and_others_are_not() {
        let set = set_of(&["a.com", "b.com", "c.org", "zz.net"]);
        assert_eq!(len(&set), 4);
        for d in ["a.com", "b.com", "c.org", "zz.net"] {
            assert!(contains(&set, key(d)), "{d}");
        }
        for d in ["", "a", "a.co", "a.comm", "zzz.net"] {
            assert!(!contains(&set, key(d)), "{d:?}");
        }
        assert!(!contains(&set_of(&[]), key("a.com")));
        assert!(!contains(&[], key("a.com")));
    }

    #[test]
    fn keys_are_40_bits_of_sha256() {
        assert_eq!(key("gmail.com") >> KEY_BITS, 0);
        assert_eq!(
            key("gmail.com"),
            u64::from_str_radix(&crate::core::secret::sha256_hex(b"gmail.com")[..10], 16).unwrap()
        );
    }

    proptest! {
        /// The decoder agrees with a sorted-vector model for any keys and any parameter.
        #[test]
        fn agrees_with_a_sorted_vector(bits in 8u32..=40,
                                       raw in proptest::collection::vec(any::<u64>(), 0..200),
                                       raw_probes in proptest::collection::vec(any::<u64>(), 0..50),
                                       slack in 0u32..4) {
            // Keys of `bits` bits and a parameter at most `slack` below the largest gap's
            // magnitude, so that the unary quotients stay short.
            let mask = (1u64 << bits) - 1;
            let mut keys: Vec<u64> = raw.iter().map(|x| x & mask).collect();
            let probes: Vec<u64> = raw_probes.iter().map(|x| x & mask).collect();
            let k = (bits.saturating_sub(slack + 4)).clamp(1, 40) as u8;
            keys.sort_unstable();
            keys.dedup();
            let set = encode(&keys, k);
            for &x in keys.iter().chain(&probes) {
                prop_assert_eq!(contains(&set, x), keys.binary_search(&x).is_ok());
            }
            let best = encode(&keys, best_parameter(&keys));
            for &x in keys.iter().chain(&probes) {
                prop_assert_eq!(contains(&best, x), keys.binary_search(&x).is_ok());
            }
            // A truncated set never panics and never claims a key it did not decode.
            for cut in [0, 3, 5, set.len() / 2] {
                let short = &set[..cut.min(set.len())];
                for &x in &probes {
                    prop_assert!(!contains(short, x) || keys.binary_search(&x).is_ok());
                }
            }
        }
    }
}
