//! Compact JWS (RFC 7515 7.1) parsed into an untrusted value: only the algorithm and key id are
//! readable (to choose a key); the payload is handed out only once the signature verified.
//! What a header may hold is the caller's [`JwsPolicy`]: each kind of token has its own `typ`.

use crate::core::jose::alg::JwsAlg;
use crate::core::jose::jwk::PublicJwk;
use crate::core::jose::verify::{SignatureError, SignatureVerifier};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Map, Value};

/// What a compact JWS may look like for one kind of token.
#[derive(Debug, Clone, Copy)]
pub struct JwsPolicy<'a> {
    /// Largest compact serialization accepted, in bytes.
    pub max_bytes: usize,
    /// Largest decoded payload accepted, in bytes.
    pub max_payload_bytes: usize,
    /// The `typ` values accepted, compared case-insensitively with any `application/` prefix
    /// removed (RFC 7515 4.1.9: the prefix "SHOULD be omitted"; media types are
    /// case-insensitive, RFC 2045 5.1). Empty: any `typ` is refused.
    pub typ: &'a [&'a str],
    /// Whether a token without `typ` is accepted.
    pub typ_optional: bool,
}

/// Why a compact JWS was refused before any key was involved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwsError {
    /// Not a well-formed compact JWS (bad base64url, header not a JSON object...). The string
    /// names the part.
    Malformed(&'static str),
    /// Longer than the policy's `max_bytes`, or a payload longer than `max_payload_bytes`.
    TooLarge,
    /// A JWE (five parts): encrypted tokens are not supported.
    Encrypted,
    /// `alg` is not one of [`JwsAlg`] (`none` and HMAC included). Holds the name, reduced to at
    /// most 16 ASCII alphanumerics for safe logging.
    UnsupportedAlgorithm(String),
    /// The header has `crit`: we understand no JWS extensions (RFC 7515 4.1.11).
    UnsupportedCritHeader,
    /// `typ` is not one the policy accepts (or missing where it is required).
    UnsupportedType,
}

impl std::fmt::Display for JwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwsError::Malformed(part) => write!(f, "malformed JWS ({part})"),
            JwsError::TooLarge => f.write_str("JWS too large"),
            JwsError::Encrypted => f.write_str("encrypted tokens are not supported"),
            JwsError::UnsupportedAlgorithm(alg) => write!(f, "unsupported algorithm {alg:?}"),
            JwsError::UnsupportedCritHeader => f.write_str("unsupported crit header"),
            JwsError::UnsupportedType => f.write_str("unexpected typ"),
        }
    }
}

impl std::error::Error for JwsError {}

/// A parsed, unverified compact JWS. Nothing in it is trusted: only the algorithm and key id
/// are exposed; [`UntrustedJws::verify_signature`] is the only way to the payload.
#[derive(Clone)]
pub struct UntrustedJws {
    alg: JwsAlg,
    kid: Option<String>,
    /// `BASE64URL(header) '.' BASE64URL(payload)`: the JWS signing input (RFC 7515 5.2 step 8).
    signing_input: Vec<u8>,
    signature: Vec<u8>,
    /// Decoded payload bytes, handed out only after the signature verified.
    payload: Vec<u8>,
}

impl std::fmt::Debug for UntrustedJws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UntrustedJws")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn b64(part: &str, what: &'static str) -> Result<Vec<u8>, JwsError> {
    decode_b64url(part).ok_or(JwsError::Malformed(what))
}

/// The 6-bit value of a base64url character (RFC 4648 5), or 0xff.
const B64URL: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Unpadded base64url (RFC 7515 2), strictly: only the alphabet, no padding, no dangling
/// character, zero trailing bits (the same inputs `base64ct`'s `Base64UrlUnpadded` accepts).
/// Table-driven rather than constant-time: a JWS is public data, and this is most of the Wasm
/// time of parsing a token (bench/RESULTS.md).
fn decode_b64url(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    let mut chunks = s.chunks_exact(4);
    for c in &mut chunks {
        let (a, b, c, d) = (
            B64URL[c[0] as usize],
            B64URL[c[1] as usize],
            B64URL[c[2] as usize],
            B64URL[c[3] as usize],
        );
        if (a | b | c | d) & 0xc0 != 0 {
            return None;
        }
        let n = (u32::from(a) << 18) | (u32::from(b) << 12) | (u32::from(c) << 6) | u32::from(d);
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    let rest: Vec<u8> = chunks
        .remainder()
        .iter()
        .map(|&c| B64URL[c as usize])
        .collect();
    if rest.iter().any(|v| v & 0xc0 != 0) {
        return None;
    }
    match rest[..] {
        [] => {}
        [a, b] => {
            // 12 bits for one byte: the low 4 must be zero.
            if b & 0x0f != 0 {
                return None;
            }
            out.push((a << 2) | (b >> 4));
        }
        [a, b, c] => {
            // 18 bits for two bytes: the low 2 must be zero.
            if c & 0x03 != 0 {
                return None;
            }
            out.push((a << 2) | (b >> 4));
            out.push((b << 4) | (c >> 2));
        }
        _ => return None,
    }
    Some(out)
}

/// Whether `typ` is one of `accepted` (see [`JwsPolicy::typ`]).
fn typ_accepted(typ: &str, accepted: &[&str]) -> bool {
    let bare = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    accepted.iter().any(|a| a.eq_ignore_ascii_case(bare))
}

impl UntrustedJws {
    /// Parses a compact JWS (RFC 7515 7.1) and checks its header against `policy`. `jku`,
    /// `x5u`, `jwk` and `x5c` are ignored: keys never come from the token itself.
    pub fn parse(token: &str, policy: &JwsPolicy<'_>) -> Result<UntrustedJws, JwsError> {
        if token.len() > policy.max_bytes {
            return Err(JwsError::TooLarge);
        }
        let parts: Vec<&str> = token.split('.').collect();
        match parts.len() {
            3 => {}
            // RFC 7516 7.1: five parts is a JWE.
            5 => return Err(JwsError::Encrypted),
            _ => return Err(JwsError::Malformed("not three parts")),
        }
        let header: Map<String, Value> = serde_json::from_slice(&b64(parts[0], "header")?)
            .map_err(|_| JwsError::Malformed("header"))?;

        let alg_name = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(JwsError::Malformed("alg"))?;
        let alg = JwsAlg::from_name(alg_name).ok_or_else(|| {
            JwsError::UnsupportedAlgorithm(
                alg_name
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(16)
                    .collect(),
            )
        })?;
        // RFC 7515 4.1.11: a recipient that does not understand a listed extension MUST reject
        // the JWS; we implement none.
        if header.contains_key("crit") {
            return Err(JwsError::UnsupportedCritHeader);
        }
        // RFC 8725 3.11: explicit typing keeps one kind of JWT from passing as another.
        match header.get("typ") {
            None if policy.typ_optional => {}
            None => return Err(JwsError::UnsupportedType),
            Some(typ) => {
                let typ = typ.as_str().ok_or(JwsError::UnsupportedType)?;
                if !typ_accepted(typ, policy.typ) {
                    return Err(JwsError::UnsupportedType);
                }
            }
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => return Err(JwsError::Malformed("kid")),
        };
        let payload = b64(parts[1], "payload")?;
        if payload.len() > policy.max_payload_bytes {
            return Err(JwsError::TooLarge);
        }
        let signature = b64(parts[2], "signature")?;
        if signature.is_empty() {
            return Err(JwsError::Malformed("signature"));
        }
        let signing_input = token.as_bytes()[..parts[0].len() + 1 + parts[1].len()].to_vec();
        Ok(UntrustedJws {
            alg,
            kid,
            signing_input,
            signature,
            payload,
        })
    }

    /// The header's algorithm (already checked against the allow-list).
    pub fn alg(&self) -> JwsAlg {
        self.alg
    }

    /// The header's key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Checks the signature with `key` (which must fit the token's `alg`, RFC 7515 5.2 step 8)
    /// and only then hands out the payload bytes.
    pub async fn verify_signature<V: SignatureVerifier>(
        &self,
        key: &PublicJwk,
        verifier: &V,
    ) -> Result<&[u8], SignatureError> {
        let key = key.for_alg(self.alg)?;
        verifier
            .verify(key, &self.signing_input, &self.signature)
            .await?;
        Ok(&self.payload)
    }
}

/// The JWS signing input `BASE64URL(UTF8(header)) '.' BASE64URL(payload)` (RFC 7515 5.1 steps
/// 2-6), for a header given as JSON.
pub fn signing_input(header: &Map<String, Value>, payload: &[u8]) -> String {
    // Serializing a map of JSON values cannot fail.
    let header = serde_json::to_vec(header).unwrap_or_default();
    format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(&header),
        Base64UrlUnpadded::encode_string(payload)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The table decoder accepts and decodes exactly what base64ct's strict decoder does.
        #[test]
        fn b64url_decoder_agrees_with_base64ct(s in "[A-Za-z0-9_=+/.-]{0,40}") {
            prop_assert_eq!(decode_b64url(&s), Base64UrlUnpadded::decode_vec(&s).ok());
        }

        #[test]
        fn b64url_decoder_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let encoded = Base64UrlUnpadded::encode_string(&bytes);
            prop_assert_eq!(decode_b64url(&encoded), Some(bytes));
        }
    }

    #[test]
    fn b64url_decoder_refuses_non_canonical_tails() {
        for bad in [
            "A",
            "AB",
            "AAB",
            "AAAAA",
            "QQ=",
            "QR",
            "QUF",
            "Zm9v!",
            "Zm9v\u{e9}",
        ] {
            assert_eq!(
                decode_b64url(bad),
                Base64UrlUnpadded::decode_vec(bad).ok(),
                "{bad}"
            );
        }
        assert_eq!(decode_b64url("QQ"), Some(b"A".to_vec()));
        assert_eq!(decode_b64url("QUE"), Some(b"AA".to_vec()));
        assert_eq!(decode_b64url(""), Some(Vec::new()));
    }

    const ANY: JwsPolicy<'static> = JwsPolicy {
        max_bytes: 1024,
        max_payload_bytes: 512,
        typ: &["JWT"],
        typ_optional: true,
    };

    fn token(header: Value, payload: &[u8]) -> String {
        format!(
            "{}.{}",
            signing_input(header.as_object().unwrap(), payload),
            "c2ln"
        )
    }

    #[test]
    fn typ_is_the_callers_choice() {
        let logout = JwsPolicy {
            typ: &["logout+jwt"],
            typ_optional: false,
            ..ANY
        };
        let t = token(
            serde_json::json!({"alg": "ES256", "typ": "logout+jwt"}),
            b"{}",
        );
        assert!(UntrustedJws::parse(&t, &logout).is_ok());
        assert_eq!(
            UntrustedJws::parse(&t, &ANY).unwrap_err(),
            JwsError::UnsupportedType
        );
        let t = token(
            serde_json::json!({"alg": "ES256", "typ": "Application/Logout+JWT"}),
            b"{}",
        );
        assert!(UntrustedJws::parse(&t, &logout).is_ok());
        let untyped = token(serde_json::json!({"alg": "ES256"}), b"{}");
        assert!(UntrustedJws::parse(&untyped, &ANY).is_ok());
        assert_eq!(
            UntrustedJws::parse(&untyped, &logout).unwrap_err(),
            JwsError::UnsupportedType
        );
        // A prefix alone or a near miss is not a match.
        for typ in ["application/", "JWTX", "application/jwt+x", "application"] {
            let t = token(serde_json::json!({"alg": "ES256", "typ": typ}), b"{}");
            assert_eq!(
                UntrustedJws::parse(&t, &ANY).unwrap_err(),
                JwsError::UnsupportedType,
                "{typ}"
            );
        }
    }

    #[test]
    fn signing_input_is_header_dot_payload() {
        let t = token(serde_json::json!({"alg": "RS256", "kid": "k"}), b"hi");
        let jws = UntrustedJws::parse(&t, &ANY).unwrap();
        assert_eq!(jws.signing_input, t.rsplit_once('.').unwrap().0.as_bytes());
        assert_eq!(jws.signature, b"sig");
        assert_eq!((jws.alg(), jws.kid()), (JwsAlg::RS256, Some("k")));
    }

    #[test]
    fn payload_cap_is_the_policys() {
        let t = token(serde_json::json!({"alg": "RS256"}), &[b'x'; 513]);
        assert_eq!(
            UntrustedJws::parse(&t, &ANY).unwrap_err(),
            JwsError::TooLarge
        );
    }

    #[test]
    fn non_ascii_typ_does_not_panic() {
        let t = token(
            serde_json::json!({"alg": "RS256", "typ": "applicatioé/jwt"}),
            b"{}",
        );
        assert_eq!(
            UntrustedJws::parse(&t, &ANY).unwrap_err(),
            JwsError::UnsupportedType
        );
    }

    mod props {
        use super::*;
        use serde_json::json;

        /// A header parameter: absent, or one of valid, near-valid and wrong-typed values.
        fn param(values: Vec<Value>) -> impl Strategy<Value = Option<Value>> {
            prop_oneof![1 => Just(None), 3 => prop::sample::select(values).prop_map(Some)]
        }

        /// How the three parts are damaged, if at all.
        #[derive(Debug, Clone, Copy)]
        enum Damage {
            None,
            /// Part `i` is not base64url.
            NotBase64(usize),
            /// The signature is dropped (two parts).
            TwoParts,
            /// One extra part (four parts).
            FourParts,
            /// Two extra parts (five: a JWE).
            FiveParts,
        }

        fn damage() -> impl Strategy<Value = Damage> {
            prop_oneof![
                6 => Just(Damage::None),
                1 => (0usize..3).prop_map(Damage::NotBase64),
                1 => Just(Damage::TwoParts),
                1 => Just(Damage::FourParts),
                1 => Just(Damage::FiveParts),
            ]
        }

        type Header = (Option<Value>, Option<Value>, Option<Value>, Option<Value>);

        fn header() -> impl Strategy<Value = Header> {
            (
                param(vec![
                    json!("RS256"),
                    json!("PS256"),
                    json!("ES256"),
                    json!("EdDSA"),
                    json!("none"),
                    json!("HS256"),
                    json!("rs256"),
                    json!("RS256 "),
                    json!(1),
                ]),
                param(vec![
                    json!("JWT"),
                    json!("jwt"),
                    json!("application/JWT"),
                    json!("logout+jwt"),
                    json!("JWTX"),
                    json!("application/"),
                    json!(null),
                    json!(5),
                ]),
                prop_oneof![3 => Just(None), 1 => Just(Some(json!(["exp"])))],
                param(vec![json!("k1"), json!(""), json!(7), json!(null)]),
            )
        }

        /// What RFC 7515 7.1 and the policy make of such a token, in the order the parser's
        /// documentation gives.
        fn model(
            (alg, typ, crit, kid): &Header,
            payload: &[u8],
            sig: &[u8],
            damage: Damage,
            len: usize,
        ) -> Result<(JwsAlg, Option<String>), JwsError> {
            if len > ANY.max_bytes {
                return Err(JwsError::TooLarge);
            }
            match damage {
                Damage::FiveParts => return Err(JwsError::Encrypted),
                Damage::TwoParts | Damage::FourParts => {
                    return Err(JwsError::Malformed("not three parts"))
                }
                Damage::NotBase64(0) => return Err(JwsError::Malformed("header")),
                _ => {}
            }
            let alg_name = alg
                .as_ref()
                .and_then(Value::as_str)
                .ok_or(JwsError::Malformed("alg"))?;
            let alg = match alg_name {
                "RS256" => JwsAlg::RS256,
                "PS256" => JwsAlg::PS256,
                "ES256" => JwsAlg::ES256,
                "EdDSA" => JwsAlg::EdDSA,
                other => {
                    return Err(JwsError::UnsupportedAlgorithm(
                        other.chars().filter(char::is_ascii_alphanumeric).collect(),
                    ))
                }
            };
            if crit.is_some() {
                return Err(JwsError::UnsupportedCritHeader);
            }
            match typ {
                None => {}
                Some(Value::String(t))
                    if ["jwt", "application/jwt"].contains(&t.to_ascii_lowercase().as_str()) => {}
                Some(_) => return Err(JwsError::UnsupportedType),
            }
            let kid = match kid {
                None => None,
                Some(Value::String(k)) => Some(k.clone()),
                Some(_) => return Err(JwsError::Malformed("kid")),
            };
            if let Damage::NotBase64(1) = damage {
                return Err(JwsError::Malformed("payload"));
            }
            if payload.len() > ANY.max_payload_bytes {
                return Err(JwsError::TooLarge);
            }
            if matches!(damage, Damage::NotBase64(2)) || sig.is_empty() {
                return Err(JwsError::Malformed("signature"));
            }
            Ok((alg, kid))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            /// Generated headers, payloads and damage: the parser decides as the model does, and
            /// what it accepts carries exactly the signing input, payload and signature sent.
            #[test]
            fn parse_agrees_with_a_model(
                h in header(),
                payload in prop::collection::vec(any::<u8>(), 0..700),
                sig in prop::collection::vec(any::<u8>(), 0..8),
                damage in damage(),
            ) {
                let mut m = Map::new();
                for (k, v) in [("alg", &h.0), ("typ", &h.1), ("crit", &h.2), ("kid", &h.3)] {
                    if let Some(v) = v {
                        m.insert(k.into(), v.clone());
                    }
                }
                m.insert("jku".into(), json!("https://evil.example/jwks"));
                let input = signing_input(&m, &payload);
                let mut parts: Vec<String> = input.split('.').map(str::to_owned).collect();
                parts.push(Base64UrlUnpadded::encode_string(&sig));
                match damage {
                    Damage::NotBase64(i) => {
                        let mid = parts[i].len() / 2;
                        parts[i].insert(mid, '+');
                    }
                    Damage::TwoParts => { parts.pop(); }
                    Damage::FourParts => parts.push("e30".into()),
                    Damage::FiveParts => parts.extend(["e30".to_owned(), "e30".to_owned()]),
                    Damage::None => {}
                }
                let t = parts.join(".");
                let got = UntrustedJws::parse(&t, &ANY);
                let want = model(&h, &payload, &sig, damage, t.len());
                match (got, want) {
                    (Ok(jws), Ok((alg, kid))) => {
                        prop_assert_eq!((jws.alg(), jws.kid()), (alg, kid.as_deref()));
                        prop_assert_eq!(jws.signing_input, input.into_bytes());
                        prop_assert_eq!(jws.payload, payload);
                        prop_assert_eq!(jws.signature, sig);
                    }
                    (got, want) => prop_assert_eq!(got.map(|_| ()).unwrap_err(), want.unwrap_err()),
                }
            }

            /// Any text: no panic; an accepted token has a payload within the policy's cap.
            #[test]
            fn any_text_is_answered_within_the_caps(
                s in prop_oneof![any::<String>(), "[A-Za-z0-9_.=+/-]{0,80}",
                                 "eyJhbGciOiJSUzI1NiJ9\\.[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,12}"]
            ) {
                if let Ok(jws) = UntrustedJws::parse(&s, &ANY) {
                    prop_assert!(jws.payload.len() <= ANY.max_payload_bytes && !jws.signature.is_empty());
                    prop_assert!(s.len() <= ANY.max_bytes);
                }
            }
        }
    }
}
