//! Sealed values: AES-256-GCM (NIST SP 800-38D) authenticated encryption of small values the
//! browser carries for us (the login transaction cookie), so a login in progress needs no
//! storage write.
//!
//! A sealed value is `base64url(version || nonce || ciphertext || tag)`: a one-byte format
//! version, a 96-bit nonce from the CSPRNG (SP 800-38D 8.2.2, random construction; at 2^32
//! seals per key the collision probability stays below 2^-32), and the 128-bit tag. The caller's
//! associated data (for cookies: the cookie's name, its purpose and the deployment's origin) is
//! authenticated but not carried, so a value sealed for one name, purpose or deployment does not
//! open under another.
//!
//! The key comes from the secret `COOKIE_SECRET` (base64url, at least 32 random bytes);
//! `COOKIE_SECRET_PREVIOUS` opens values sealed before a rotation and never seals.

use crate::core::random::Random;
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64ct::{Base64Url, Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

/// Fewest decoded bytes a cookie secret must have (256 bits).
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest cookie secret read (characters of base64url).
pub const MAX_SECRET_CHARS: usize = 1024;
/// Longest sealed value opened (characters); longer ones are refused unread.
pub const MAX_SEALED_CHARS: usize = 4096;
/// AES-GCM nonce length (96 bits, SP 800-38D 5.2.1.1).
const NONCE_BYTES: usize = 12;
/// AES-GCM tag length (128 bits).
const TAG_BYTES: usize = 16;
/// The format version, first byte of every sealed value.
const VERSION: u8 = 1;
/// Domain separation of the key derivation, so the same secret could key something else later
/// without the two uses ever sharing a key.
const KEY_LABEL: &[u8] = b"edge-sso cookie sealing key v1\0";

/// Why a cookie secret is refused (the message is for the operator; it never holds the secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealKeyError {
    /// Not base64url (RFC 4648 section 5), or longer than [`MAX_SECRET_CHARS`].
    NotBase64Url,
    /// Fewer than [`MIN_SECRET_BYTES`] bytes once decoded.
    TooShort,
}

impl std::fmt::Display for SealKeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SealKeyError::NotBase64Url => f.write_str("must be base64url (RFC 4648 section 5)"),
            SealKeyError::TooShort => write!(
                f,
                "must decode to at least {MIN_SECRET_BYTES} random bytes (e.g. `openssl rand -base64 32 | tr '+/' '-_' | tr -d '='`)"
            ),
        }
    }
}

impl std::error::Error for SealKeyError {}

/// A value could not be sealed (the CSPRNG failed). Callers fail closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealError;

impl std::fmt::Display for SealError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("could not seal the value")
    }
}

impl std::error::Error for SealError {}

/// The sealing keys: the current one seals and opens, the previous one (during a rotation) only
/// opens. `Debug` prints no key material.
#[derive(Clone)]
pub struct Sealer {
    current: Aes256Gcm,
    previous: Option<Aes256Gcm>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("previous", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

/// The AES-256 key of a cookie secret: SHA-256 of a label and the decoded secret (the secret
/// is already uniformly random; hashing fits any length of at least 32 bytes to the key size).
fn derive(secret: &str) -> Result<Aes256Gcm, SealKeyError> {
    let s = secret.trim();
    if s.len() > MAX_SECRET_CHARS {
        return Err(SealKeyError::NotBase64Url);
    }
    // Padding is optional in RFC 4648 section 5's base64url; accept both spellings.
    let raw = if s.ends_with('=') {
        Base64Url::decode_vec(s)
    } else {
        Base64UrlUnpadded::decode_vec(s)
    }
    .map_err(|_| SealKeyError::NotBase64Url)?;
    if raw.len() < MIN_SECRET_BYTES {
        return Err(SealKeyError::TooShort);
    }
    let mut h = Sha256::new();
    h.update(KEY_LABEL);
    h.update(&raw);
    let key = h.finalize();
    Aes256Gcm::new_from_slice(&key).map_err(|_| SealKeyError::TooShort)
}

impl Sealer {
    /// Keys from `current` (`COOKIE_SECRET`) and, during a rotation, `previous`
    /// (`COOKIE_SECRET_PREVIOUS`). Each error says which of the two is wrong (`false`: current).
    pub fn from_secrets(
        current: &str,
        previous: Option<&str>,
    ) -> Result<Sealer, (bool, SealKeyError)> {
        let current = derive(current).map_err(|e| (false, e))?;
        let previous = previous.map(derive).transpose().map_err(|e| (true, e))?;
        Ok(Sealer { current, previous })
    }

    /// Seals `plaintext` with the current key, authenticating `aad` along with it.
    pub fn seal(
        &self,
        random: &(impl Random + ?Sized),
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_BYTES];
        random.fill(&mut nonce).map_err(|_| SealError)?;
        let sealed = self
            .current
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SealError)?;
        let mut out = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(Base64UrlUnpadded::encode_string(&out))
    }

    /// The plaintext of `sealed` if it was sealed by the current or the previous key with this
    /// `aad`; `None` for anything else (tampered, truncated, another key, another name or
    /// purpose, another format version, not base64url, over [`MAX_SEALED_CHARS`]). Never panics.
    pub fn open(&self, aad: &[u8], sealed: &str) -> Option<Vec<u8>> {
        if sealed.len() > MAX_SEALED_CHARS {
            return None;
        }
        let bytes = Base64UrlUnpadded::decode_vec(sealed).ok()?;
        let (&version, rest) = bytes.split_first()?;
        if version != VERSION || rest.len() < NONCE_BYTES + TAG_BYTES {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
        let nonce = &Nonce::from(nonce);
        let payload = || Payload {
            msg: ciphertext,
            aad,
        };
        // GCM's tag check is constant time; trying the previous key only after the current one
        // fails reveals at most which key sealed a value, which the holder knows anyway.
        self.current.decrypt(nonce, payload()).ok().or_else(|| {
            self.previous
                .as_ref()
                .and_then(|k| k.decrypt(nonce, payload()).ok())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::random::CountingRandom;
    use proptest::prelude::*;

    const A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const B: &str = "HxkZGBcWFRQTEhEQDw4NDAsKCQgHBgUEAwIBAAECAwQ";

    fn sealer(cur: &str, prev: Option<&str>) -> Sealer {
        Sealer::from_secrets(cur, prev).unwrap()
    }

    #[test]
    fn round_trip_and_aad_binding() {
        let s = sealer(A, None);
        let r = CountingRandom::default();
        let v = s.seal(&r, b"name", b"hello").unwrap();
        assert_eq!(s.open(b"name", &v).as_deref(), Some(&b"hello"[..]));
        assert_eq!(s.open(b"other", &v), None);
        // Fresh nonce every time: the same plaintext seals differently.
        assert_ne!(s.seal(&r, b"name", b"hello").unwrap(), v);
        assert!(!format!("{s:?}").contains(A));
    }

    #[test]
    fn foreign_keys_and_rotation() {
        let r = CountingRandom::default();
        let old = sealer(B, None);
        let v = old.seal(&r, b"n", b"x").unwrap();
        assert_eq!(sealer(A, None).open(b"n", &v), None, "another key");
        let rotated = sealer(A, Some(B));
        assert_eq!(rotated.open(b"n", &v).as_deref(), Some(&b"x"[..]));
        // The previous key never seals.
        let fresh = rotated.seal(&r, b"n", b"y").unwrap();
        assert_eq!(old.open(b"n", &fresh), None);
        assert!(sealer(A, None).open(b"n", &fresh).is_some());
    }

    #[test]
    fn refuses_malformed_values() {
        let s = sealer(A, None);
        let r = CountingRandom::default();
        let v = s.seal(&r, b"n", b"x").unwrap();
        for bad in [
            String::new(),
            "!!!".to_owned(),
            v[..v.len() - 1].to_owned(),
            format!("{v}A"),
            Base64UrlUnpadded::encode_string(&[VERSION; 28]),
            "A".repeat(MAX_SEALED_CHARS + 1),
        ] {
            assert_eq!(s.open(b"n", &bad), None, "{bad:?}");
        }
        // Another format version with an otherwise valid body.
        let mut raw = Base64UrlUnpadded::decode_vec(&v).unwrap();
        raw[0] = 2;
        assert_eq!(s.open(b"n", &Base64UrlUnpadded::encode_string(&raw)), None);
    }

    #[test]
    fn secrets_are_validated() {
        assert!(Sealer::from_secrets(A, None).is_ok());
        let padded = format!("{A}=");
        assert!(Sealer::from_secrets(&padded, None).is_ok());
        assert_eq!(
            Sealer::from_secrets("c2hvcnQ", None).unwrap_err(),
            (false, SealKeyError::TooShort)
        );
        assert_eq!(
            Sealer::from_secrets("not base64url!", None).unwrap_err(),
            (false, SealKeyError::NotBase64Url)
        );
        assert_eq!(
            Sealer::from_secrets(A, Some("+/+/")).unwrap_err(),
            (true, SealKeyError::NotBase64Url)
        );
        let long = "A".repeat(MAX_SECRET_CHARS + 1);
        assert!(Sealer::from_secrets(&long, None).is_err());
    }

    #[test]
    fn a_broken_csprng_seals_nothing() {
        struct Broken;
        impl Random for Broken {
            fn fill(&self, _: &mut [u8]) -> Result<(), crate::core::random::RandomError> {
                Err(crate::core::random::RandomError)
            }
        }
        assert_eq!(sealer(A, None).seal(&Broken, b"n", b"x"), Err(SealError));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn open_never_panics(s in ".{0,600}", aad in proptest::collection::vec(any::<u8>(), 0..32)) {
            let _ = sealer(A, Some(B)).open(&aad, &s);
        }

        #[test]
        fn seal_open_round_trips(msg in proptest::collection::vec(any::<u8>(), 0..512),
                                 aad in proptest::collection::vec(any::<u8>(), 0..64)) {
            let s = sealer(A, None);
            let v = s.seal(&CountingRandom::default(), &aad, &msg).unwrap();
            prop_assert_eq!(s.open(&aad, &v), Some(msg));
        }

        #[test]
        fn any_bit_flip_is_refused(msg in proptest::collection::vec(any::<u8>(), 0..128),
                                   bit in any::<usize>()) {
            let s = sealer(A, None);
            let v = s.seal(&CountingRandom::default(), b"n", &msg).unwrap();
            let mut raw = Base64UrlUnpadded::decode_vec(&v).unwrap();
            let bit = bit % (raw.len() * 8);
            raw[bit / 8] ^= 1 << (bit % 8);
            prop_assert_eq!(s.open(b"n", &Base64UrlUnpadded::encode_string(&raw)), None);
        }
    }
}
