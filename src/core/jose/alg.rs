//! The JWS algorithms edge-sso accepts (RFC 7518 3), and nothing else.

/// JWS algorithms edge-sso accepts. `none` and HMAC are deliberately absent: every token we check
/// is signed with an asymmetric key published by its issuer (OIDC Core 3.1.3.7 step 7; RFC 8725
/// 3.1: "libraries MUST enable the caller to specify a supported set of algorithms").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum JwsAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (required by OIDC Core 15.1).
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl JwsAlg {
    /// Every supported algorithm, in the order keys are tried for fit.
    pub const ALL: [JwsAlg; 4] = [JwsAlg::RS256, JwsAlg::PS256, JwsAlg::ES256, JwsAlg::EdDSA];

    /// Parses a JOSE `alg` value; anything not in the allow-list is `None`.
    pub fn from_name(name: &str) -> Option<JwsAlg> {
        match name {
            "RS256" => Some(JwsAlg::RS256),
            "PS256" => Some(JwsAlg::PS256),
            "ES256" => Some(JwsAlg::ES256),
            "EdDSA" => Some(JwsAlg::EdDSA),
            _ => None,
        }
    }
    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            JwsAlg::RS256 => "RS256",
            JwsAlg::PS256 => "PS256",
            JwsAlg::ES256 => "ES256",
            JwsAlg::EdDSA => "EdDSA",
        }
    }
    /// The JWK `kty` a key must have to be used with this algorithm.
    pub fn key_type(self) -> &'static str {
        match self {
            JwsAlg::RS256 | JwsAlg::PS256 => "RSA",
            JwsAlg::ES256 => "EC",
            JwsAlg::EdDSA => "OKP",
        }
    }
    /// A bit of its own, for small sets of algorithms.
    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_nothing_else_parses() {
        for alg in JwsAlg::ALL {
            assert_eq!(JwsAlg::from_name(alg.name()), Some(alg));
        }
        for name in ["none", "HS256", "rs256", "RS384", "ES256K", ""] {
            assert_eq!(JwsAlg::from_name(name), None, "{name}");
        }
    }
}
