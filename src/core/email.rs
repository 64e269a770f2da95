//! Email domains and addresses, normalised once at the edge of the system so that every later
//! comparison (domain routing, org config, ID-token `email` claim) is a plain string equality.
//!
//! Normalisation of a domain: IDNA (UTS #46, via the `url` crate's WHATWG host parser) to its
//! ASCII form, which also lower-cases it; `Bücher.DE` and `xn--bcher-kva.de` are the same
//! [`EmailDomain`]. Anything that is not a plain multi-label DNS name (IP literals, wildcards,
//! a trailing dot, percent escapes, labels outside `[a-z0-9-]`) is refused rather than repaired.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Host;

/// Longest domain name, in ASCII octets without the trailing dot (RFC 1035 2.3.4, 255 octets on
/// the wire).
pub const MAX_DOMAIN_LEN: usize = 253;
/// Longest DNS label (RFC 1035 2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Longest local part, in bytes (RFC 5321 4.5.3.1.1).
pub const MAX_LOCAL_LEN: usize = 64;
/// Longest address, in bytes (RFC 5321 4.5.3.1.3 path limit minus the angle brackets).
pub const MAX_ADDRESS_LEN: usize = 254;
/// Raw input longer than this is refused before any IDNA processing (bounds the work done on
/// untrusted input; no valid domain comes close).
const MAX_RAW_DOMAIN_LEN: usize = 1024;

/// Why a string is not an acceptable email domain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DomainError {
    /// The input is empty.
    Empty,
    /// The input contains whitespace, a control character or an invisible formatting character
    /// (which UTS #46 would otherwise drop silently).
    ForbiddenCharacter,
    /// The input contains `*`: wildcard domains are not supported.
    Wildcard,
    /// The input contains `%`: percent-escaped domains are not accepted.
    PercentEscape,
    /// The input ends with `.` (a fully-qualified name): write the domain without it.
    TrailingDot,
    /// The input is an IPv4 or IPv6 address, not a domain name.
    IpLiteral,
    /// IDNA (UTS #46) processing refused the name.
    Idna,
    /// The name has an empty label (`a..com`, `.com`).
    EmptyLabel,
    /// A label is longer than 63 characters (after conversion to ASCII).
    LabelTooLong,
    /// A label contains a character outside `a-z`, `0-9` and `-` (after conversion to ASCII).
    LabelCharacter,
    /// A label starts or ends with `-`.
    LabelHyphen,
    /// The name is longer than 253 characters (after conversion to ASCII).
    TooLong,
    /// The name has a single label (`localhost`, `com`).
    SingleLabel,
}

impl std::fmt::Display for DomainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DomainError::Empty => "the domain is empty",
            DomainError::ForbiddenCharacter => {
                "the domain must not contain spaces, control or invisible characters"
            }
            DomainError::Wildcard => "wildcard domains (\"*\") are not supported",
            DomainError::PercentEscape => "the domain must not contain percent escapes (\"%\")",
            DomainError::TrailingDot => "the domain must not end with a dot",
            DomainError::IpLiteral => "an IP address is not an email domain",
            DomainError::Idna => "the domain is not a valid (internationalised) domain name",
            DomainError::EmptyLabel => "the domain has an empty label",
            DomainError::LabelTooLong => "a label of the domain is longer than 63 characters",
            DomainError::LabelCharacter => {
                "the domain may contain only letters, digits, hyphens and dots"
            }
            DomainError::LabelHyphen => "a label of the domain starts or ends with a hyphen",
            DomainError::TooLong => "the domain is longer than 253 characters",
            DomainError::SingleLabel => "the domain needs at least two labels (like example.com)",
        })
    }
}

impl std::error::Error for DomainError {}

/// A DNS domain that email addresses can belong to, in normalised ASCII form (IDNA A-labels,
/// lower case, no trailing dot). Two `EmailDomain`s are equal exactly when they name the same
/// domain.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct EmailDomain(String);

impl EmailDomain {
    /// Parses and normalises a domain (see the module documentation for what is refused).
    pub fn parse(input: &str) -> Result<EmailDomain, DomainError> {
        if input.is_empty() {
            return Err(DomainError::Empty);
        }
        if input.len() > MAX_RAW_DOMAIN_LEN {
            return Err(DomainError::TooLong);
        }
        if input
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || is_invisible(c))
        {
            return Err(DomainError::ForbiddenCharacter);
        }
        if input.contains('*') {
            return Err(DomainError::Wildcard);
        }
        // The WHATWG host parser percent-decodes; we want the name exactly as written.
        if input.contains('%') {
            return Err(DomainError::PercentEscape);
        }
        if input.ends_with('.') {
            return Err(DomainError::TrailingDot);
        }
        // The host parser takes IPv6 only in brackets; a bare one would fail as a bad name.
        if input.starts_with('[') || input.parse::<std::net::Ipv6Addr>().is_ok() {
            return Err(DomainError::IpLiteral);
        }
        let ascii = match Host::parse(input) {
            Ok(Host::Domain(d)) => d,
            Ok(Host::Ipv4(_) | Host::Ipv6(_)) => return Err(DomainError::IpLiteral),
            // A name whose last label is numeric is parsed as IPv4 and fails as one.
            Err(url::ParseError::InvalidIpv4Address) => return Err(DomainError::IpLiteral),
            Err(_) => return Err(DomainError::Idna),
        };
        // UTS #46 maps ideographic full stops (U+3002 ...) to '.', so check again.
        if ascii.ends_with('.') {
            return Err(DomainError::TrailingDot);
        }
        let ascii = ascii.to_ascii_lowercase();
        let mut labels = 0usize;
        for label in ascii.split('.') {
            labels += 1;
            if label.is_empty() {
                return Err(DomainError::EmptyLabel);
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(DomainError::LabelTooLong);
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(DomainError::LabelCharacter);
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(DomainError::LabelHyphen);
            }
        }
        if ascii.len() > MAX_DOMAIN_LEN {
            return Err(DomainError::TooLong);
        }
        if labels < 2 {
            return Err(DomainError::SingleLabel);
        }
        Ok(EmailDomain(ascii))
    }

    /// The normalised ASCII form (`xn--bcher-kva.de`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EmailDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for EmailDomain {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EmailDomain::parse(s)
    }
}

impl Serialize for EmailDomain {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EmailDomain {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EmailDomain::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Why a string is not an acceptable email address.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmailError {
    /// The input is empty.
    Empty,
    /// The input is longer than 254 bytes (before or after normalising the domain).
    TooLong,
    /// The input contains whitespace, a control character or an invisible formatting character.
    ForbiddenCharacter,
    /// There is no ASCII `@` (look-alikes such as the fullwidth `＠` do not count).
    MissingAt,
    /// There is more than one `@`.
    MultipleAt,
    /// Nothing before the `@`.
    EmptyLocalPart,
    /// The local part is longer than 64 bytes.
    LocalPartTooLong,
    /// The local part is not a dot-atom (RFC 5322 3.2.3): a forbidden character, or a dot at
    /// the start, at the end or doubled.
    LocalPartSyntax,
    /// Nothing after the `@`.
    EmptyDomain,
    /// The domain is not acceptable.
    Domain(DomainError),
}

impl std::fmt::Display for EmailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmailError::Empty => f.write_str("the email address is empty"),
            EmailError::TooLong => f.write_str("the email address is longer than 254 bytes"),
            EmailError::ForbiddenCharacter => f.write_str(
                "the email address must not contain spaces, control or invisible characters",
            ),
            EmailError::MissingAt => f.write_str("the email address has no \"@\""),
            EmailError::MultipleAt => f.write_str("the email address has more than one \"@\""),
            EmailError::EmptyLocalPart => f.write_str("the email address has nothing before \"@\""),
            EmailError::LocalPartTooLong => {
                f.write_str("the part before \"@\" is longer than 64 bytes")
            }
            EmailError::LocalPartSyntax => {
                f.write_str("the part before \"@\" contains a character or dot that is not allowed")
            }
            EmailError::EmptyDomain => f.write_str("the email address has nothing after \"@\""),
            EmailError::Domain(e) => write!(f, "invalid email domain: {e}"),
        }
    }
}

impl std::error::Error for EmailError {}

/// Invisible formatting characters (soft hyphen, zero-width and bidi controls, BOM) that would
/// let two different addresses look the same. `char::is_control` covers only category Cc.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// RFC 5322 3.2.3 `atext`, plus any non-ASCII character (RFC 6531 3.3 `UTF8-non-ascii`).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// An email address: a dot-atom local part (case preserved, RFC 5321 2.4) and a normalised
/// [`EmailDomain`]. Quoted local parts and address literals (`user@[10.0.0.1]`) are refused.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct EmailAddress {
    /// `local@domain`, with the domain normalised.
    full: String,
    /// Byte length of the local part in `full`.
    local_len: usize,
    domain: EmailDomain,
}

impl EmailAddress {
    /// Parses an address strictly; the domain goes through [`EmailDomain::parse`], so
    /// `Bob@ACME.com` becomes `Bob@acme.com` and `bob@bücher.de` becomes `bob@xn--bcher-kva.de`.
    pub fn parse(input: &str) -> Result<EmailAddress, EmailError> {
        if input.is_empty() {
            return Err(EmailError::Empty);
        }
        if input.len() > MAX_ADDRESS_LEN {
            return Err(EmailError::TooLong);
        }
        if input
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || is_invisible(c))
        {
            return Err(EmailError::ForbiddenCharacter);
        }
        let mut parts = input.split('@');
        let (local, domain) = match (parts.next(), parts.next(), parts.next()) {
            (Some(l), Some(d), None) => (l, d),
            (Some(_), None, _) => return Err(EmailError::MissingAt),
            _ => return Err(EmailError::MultipleAt),
        };
        if local.is_empty() {
            return Err(EmailError::EmptyLocalPart);
        }
        if local.len() > MAX_LOCAL_LEN {
            return Err(EmailError::LocalPartTooLong);
        }
        if !local.chars().all(|c| c == '.' || is_atext(c))
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return Err(EmailError::LocalPartSyntax);
        }
        if domain.is_empty() {
            return Err(EmailError::EmptyDomain);
        }
        let domain = EmailDomain::parse(domain).map_err(EmailError::Domain)?;
        let full = format!("{local}@{domain}");
        if full.len() > MAX_ADDRESS_LEN {
            return Err(EmailError::TooLong);
        }
        Ok(EmailAddress {
            full,
            local_len: local.len(),
            domain,
        })
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The part before `@`, as written.
    pub fn local_part(&self) -> &str {
        &self.full[..self.local_len]
    }

    /// The normalised domain.
    pub fn domain(&self) -> &EmailDomain {
        &self.domain
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.full)
    }
}

impl std::str::FromStr for EmailAddress {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EmailAddress::parse(s)
    }
}

impl Serialize for EmailAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.full)
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EmailAddress::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[path = "email_tests.rs"]
mod tests;
