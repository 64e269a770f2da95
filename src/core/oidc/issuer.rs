//! The one place where an issuer identifier is compared with the configured one (discovery
//! `issuer`, ID token `iss`, RFC 9207 `iss` authorization response parameter). A later change
//! adds Azure AD's templated multi-tenant issuer (`{tenantid}`) with a tenant allow-list here.

/// Whether `actual` is the issuer `configured`. OIDC Discovery 4.3 and OIDC Core 3.1.3.7 step 2
/// require an exact match: simple string comparison, no normalisation (a trailing slash matters).
pub fn issuer_matches(configured: &str, actual: &str) -> bool {
    configured == actual
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_only() {
        assert!(issuer_matches("https://a.example", "https://a.example"));
        assert!(!issuer_matches("https://a.example", "https://a.example/"));
        assert!(!issuer_matches("https://a.example", "https://A.example"));
        assert!(!issuer_matches("https://a.example", ""));
    }
}
