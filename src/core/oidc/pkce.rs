//! Proof Key for Code Exchange (RFC 7636), S256 only: the `plain` method offers no protection
//! when the authorization request leaks, so edge-sso never sends it (RFC 9700 2.1.1).

use crate::core::random::{Random, RandomError};
use crate::core::secret::Secret;
use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

/// Random bytes behind a verifier: 32 octets give the 43-character verifier RFC 7636 4.1
/// recommends (256 bits of entropy).
pub const VERIFIER_BYTES: usize = 32;

/// A PKCE code verifier. It is a secret and single use: not `Clone`, `Debug` prints
/// `[redacted]`, and the value is reached only through [`PkceVerifier::secret`].
#[derive(PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "Secret")]
pub struct PkceVerifier(Secret);

/// Stored inside the KV auth transaction, as the plain string.
impl serde::Serialize for PkceVerifier {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// The verifier is not a valid RFC 7636 4.1 `code-verifier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidVerifier;

impl std::fmt::Display for InvalidVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a PKCE code verifier must be 43 to 128 characters of [A-Za-z0-9-._~]")
    }
}

impl std::error::Error for InvalidVerifier {}

impl PkceVerifier {
    /// A fresh verifier: BASE64URL of 32 random octets (RFC 7636 4.1), 43 characters.
    pub fn generate(random: &impl Random) -> Result<Self, RandomError> {
        Ok(PkceVerifier(Secret::new(random.token(VERIFIER_BYTES)?)))
    }

    /// Wraps an existing verifier, checking RFC 7636 4.1:
    /// `code-verifier = 43*128unreserved`, `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`.
    pub fn new(value: Secret) -> Result<Self, InvalidVerifier> {
        let v = value.expose();
        let ok_len = (43..=128).contains(&v.len());
        let ok_chars = v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if ok_len && ok_chars {
            Ok(PkceVerifier(value))
        } else {
            Err(InvalidVerifier)
        }
    }

    /// The verifier, for the token request's `code_verifier` parameter.
    pub fn secret(&self) -> &str {
        self.0.expose()
    }

    /// The S256 challenge for this verifier.
    pub fn challenge(&self) -> PkceChallenge {
        PkceChallenge::s256(self)
    }
}

impl TryFrom<Secret> for PkceVerifier {
    type Error = InvalidVerifier;
    fn try_from(value: Secret) -> Result<Self, Self::Error> {
        PkceVerifier::new(value)
    }
}

impl std::fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PkceVerifier([redacted])")
    }
}

/// A PKCE code challenge, sent in the authorization request (public, not a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkceChallenge(String);

impl PkceChallenge {
    /// RFC 7636 4.2: `code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))`.
    pub fn s256(verifier: &PkceVerifier) -> Self {
        let digest = Sha256::digest(verifier.secret().as_bytes());
        PkceChallenge(Base64UrlUnpadded::encode_string(&digest))
    }

    /// The challenge value (`code_challenge`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The method name (`code_challenge_method`): always `S256`.
    pub fn method(&self) -> &'static str {
        "S256"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::random::CountingRandom;

    /// Returns the fixed octets of RFC 7636 Appendix B.
    struct AppendixB;
    impl Random for AppendixB {
        fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
            const OCTETS: [u8; 32] = [
                116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22,
                212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
            ];
            buf.copy_from_slice(&OCTETS);
            Ok(())
        }
    }

    struct Broken;
    impl Random for Broken {
        fn fill(&self, _: &mut [u8]) -> Result<(), RandomError> {
            Err(RandomError)
        }
    }

    #[test]
    fn rfc7636_appendix_b_vector() {
        let v = PkceVerifier::generate(&AppendixB).unwrap();
        assert_eq!(v.secret(), "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        let c = v.challenge();
        assert_eq!(c.as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert_eq!(c.method(), "S256");
    }

    #[test]
    fn generated_verifier_is_43_chars_and_valid() {
        let r = CountingRandom::default();
        let a = PkceVerifier::generate(&r).unwrap();
        let b = PkceVerifier::generate(&r).unwrap();
        assert_eq!(a.secret().len(), 43);
        assert!(PkceVerifier::new(Secret::new(a.secret())).is_ok());
        assert_ne!(a.secret(), b.secret());
    }

    #[test]
    fn random_failure_propagates() {
        assert_eq!(PkceVerifier::generate(&Broken).unwrap_err(), RandomError);
    }

    #[test]
    fn debug_is_redacted() {
        let v = PkceVerifier::generate(&AppendixB).unwrap();
        let s = format!("{v:?}");
        assert!(!s.contains("dBjft"), "{s}");
    }

    #[test]
    fn rejects_short_long_and_bad_chars() {
        assert!(PkceVerifier::new(Secret::new("a".repeat(42))).is_err());
        assert!(PkceVerifier::new(Secret::new("a".repeat(129))).is_err());
        assert!(PkceVerifier::new(Secret::new("a".repeat(128))).is_ok());
        assert!(PkceVerifier::new(Secret::new(format!("{}+", "a".repeat(42)))).is_err());
        assert!(PkceVerifier::new(Secret::new(format!("{} ", "a".repeat(42)))).is_err());
    }

    #[test]
    fn serde_round_trip_validates() {
        let v = PkceVerifier::generate(&AppendixB).unwrap();
        let json = serde_json::to_string(&v).unwrap();
        let back: PkceVerifier = crate::core::json::from_str(&json).unwrap();
        assert_eq!(back, v);
        assert!(crate::core::json::from_str::<PkceVerifier>("\"short\"").is_err());
    }
}
