use super::*;

fn dom(s: &str) -> Result<String, DomainError> {
    EmailDomain::parse(s).map(|d| d.as_str().to_owned())
}

#[test]
fn domain_lowercased() {
    assert_eq!(dom("ACME.Com").unwrap(), "acme.com");
    assert_eq!(dom("sub.acme.co.uk").unwrap(), "sub.acme.co.uk");
    assert_eq!(dom("a-b.c0m").unwrap(), "a-b.c0m");
}

#[test]
fn domain_idna_to_ascii() {
    assert_eq!(dom("bücher.de").unwrap(), "xn--bcher-kva.de");
    assert_eq!(dom("BÜCHER.DE").unwrap(), "xn--bcher-kva.de");
    // Fullwidth letters are mapped by UTS #46.
    assert_eq!(dom("ａｃｍｅ.com").unwrap(), "acme.com");
}

#[test]
fn domain_punycode_input_is_same_domain() {
    assert_eq!(dom("xn--bcher-kva.de").unwrap(), "xn--bcher-kva.de");
    assert_eq!(dom("XN--BCHER-KVA.de").unwrap(), "xn--bcher-kva.de");
    assert_eq!(
        EmailDomain::parse("bücher.de").unwrap(),
        EmailDomain::parse("xn--bcher-kva.de").unwrap()
    );
}

#[test]
fn domain_invalid_punycode_refused() {
    assert_eq!(dom("xn--a.de"), Err(DomainError::Idna));
}

#[test]
fn domain_empty() {
    assert_eq!(dom(""), Err(DomainError::Empty));
}

#[test]
fn domain_trailing_dot_refused() {
    assert_eq!(dom("acme.com."), Err(DomainError::TrailingDot));
    // Ideographic full stop maps to '.' under UTS #46.
    assert_eq!(dom("acme.com\u{3002}"), Err(DomainError::TrailingDot));
}

#[test]
fn domain_whitespace_and_controls_refused() {
    for s in [
        " acme.com",
        "acme.com ",
        "ac me.com",
        "acme.com\t",
        "acme.com\n",
        "acme\u{00A0}.com",
        "acme\u{0000}.com",
        "acme\u{007F}.com",
        "ac\u{00AD}me.com",
        "ac\u{200B}me.com",
    ] {
        assert_eq!(dom(s), Err(DomainError::ForbiddenCharacter), "{s:?}");
    }
}

#[test]
fn domain_wildcard_refused() {
    assert_eq!(dom("*.acme.com"), Err(DomainError::Wildcard));
}

#[test]
fn domain_percent_refused() {
    assert_eq!(dom("acme%2ecom"), Err(DomainError::PercentEscape));
}

#[test]
fn domain_ip_literals_refused() {
    assert_eq!(dom("10.0.0.1"), Err(DomainError::IpLiteral));
    assert_eq!(dom("[::1]"), Err(DomainError::IpLiteral));
    assert_eq!(dom("::1"), Err(DomainError::IpLiteral));
    assert_eq!(dom("0x7f.1"), Err(DomainError::IpLiteral));
    assert_eq!(dom("acme.123"), Err(DomainError::IpLiteral));
}

#[test]
fn domain_single_label_refused() {
    assert_eq!(dom("localhost"), Err(DomainError::SingleLabel));
    assert_eq!(dom("com"), Err(DomainError::SingleLabel));
}

#[test]
fn domain_empty_label_refused() {
    assert!(matches!(
        dom("acme..com"),
        Err(DomainError::EmptyLabel | DomainError::Idna)
    ));
    assert!(matches!(
        dom(".acme.com"),
        Err(DomainError::EmptyLabel | DomainError::Idna)
    ));
}

#[test]
fn domain_label_rules() {
    let long = "a".repeat(64);
    assert_eq!(dom(&format!("{long}.com")), Err(DomainError::LabelTooLong));
    assert!(dom(&format!("{}.com", "a".repeat(63))).is_ok());
    assert_eq!(dom("-acme.com"), Err(DomainError::LabelHyphen));
    assert_eq!(dom("acme-.com"), Err(DomainError::LabelHyphen));
    assert_eq!(dom("ac_me.com"), Err(DomainError::LabelCharacter));
}

#[test]
fn domain_url_syntax_refused() {
    for s in [
        "acme.com/x",
        "user@acme.com",
        "acme.com?x",
        "acme.com#x",
        "acme.com:443",
        "acme\\.com",
    ] {
        assert_eq!(dom(s), Err(DomainError::Idna), "{s}");
    }
}

#[test]
fn domain_too_long() {
    let l = "a".repeat(63);
    let long = format!("{l}.{l}.{l}.{l}.com"); // 4*64 + 3 = 259
    assert_eq!(dom(&long), Err(DomainError::TooLong));
    let ok = format!("{l}.{l}.{l}.{}.com", "a".repeat(57)); // 253
    assert_eq!(ok.len(), 253);
    assert!(dom(&ok).is_ok());
    assert_eq!(dom(&"a".repeat(2000)), Err(DomainError::TooLong));
}

#[test]
fn domain_serde_validates() {
    let d: EmailDomain = crate::core::json::from_str("\"ACME.com\"").unwrap();
    assert_eq!(d.as_str(), "acme.com");
    assert_eq!(serde_json::to_string(&d).unwrap(), "\"acme.com\"");
    assert!(crate::core::json::from_str::<EmailDomain>("\"*.acme.com\"").is_err());
    assert!(crate::core::json::from_str::<EmailDomain>("\"acme.com.\"").is_err());
}

fn addr(s: &str) -> Result<String, EmailError> {
    EmailAddress::parse(s).map(|a| a.as_str().to_owned())
}

#[test]
fn address_domain_normalised_local_kept() {
    let a = EmailAddress::parse("Bob@ACME.com").unwrap();
    assert_eq!(a.as_str(), "Bob@acme.com");
    assert_eq!(a.local_part(), "Bob");
    assert_eq!(a.domain().as_str(), "acme.com");
    assert_eq!(
        EmailAddress::parse("bob@acme.com").unwrap().domain(),
        a.domain()
    );
    assert_eq!(addr("bob@bücher.de").unwrap(), "bob@xn--bcher-kva.de");
    assert_eq!(
        addr("bob@xn--bcher-kva.de").unwrap(),
        "bob@xn--bcher-kva.de"
    );
    assert_eq!(
        addr("first.last+tag@acme.com").unwrap(),
        "first.last+tag@acme.com"
    );
    assert_eq!(addr("jürgen@acme.com").unwrap(), "jürgen@acme.com");
}

#[test]
fn address_empty() {
    assert_eq!(addr(""), Err(EmailError::Empty));
}

#[test]
fn address_no_at() {
    assert_eq!(addr("bob.acme.com"), Err(EmailError::MissingAt));
}

#[test]
fn address_fullwidth_at_is_not_at() {
    assert_eq!(addr("user＠acme.com"), Err(EmailError::MissingAt));
    assert_eq!(addr("user\u{FE6B}acme.com"), Err(EmailError::MissingAt));
}

#[test]
fn address_multiple_at() {
    assert_eq!(addr("a@b@acme.com"), Err(EmailError::MultipleAt));
    assert_eq!(addr("a@@acme.com"), Err(EmailError::MultipleAt));
    assert_eq!(addr("@@"), Err(EmailError::MultipleAt));
}

#[test]
fn address_empty_parts() {
    assert_eq!(addr("@acme.com"), Err(EmailError::EmptyLocalPart));
    assert_eq!(addr("bob@"), Err(EmailError::EmptyDomain));
}

#[test]
fn address_whitespace_refused() {
    for s in [
        " bob@acme.com",
        "bob@acme.com ",
        "b ob@acme.com",
        "bob\t@acme.com",
        "bob@acme.com\n",
        "bob\r\n@acme.com",
        "bob\u{00A0}@acme.com",
        "bob@acme\u{2003}.com",
    ] {
        assert_eq!(addr(s), Err(EmailError::ForbiddenCharacter), "{s:?}");
    }
}

#[test]
fn address_control_and_invisible_refused() {
    for s in [
        "bob\u{0000}@acme.com",
        "bob\u{001B}@acme.com",
        "bob\u{0085}@acme.com",
        "bob\u{200B}@acme.com",
        "bob\u{202E}@acme.com",
        "bob@acme\u{00AD}.com",
        "\u{FEFF}bob@acme.com",
    ] {
        assert_eq!(addr(s), Err(EmailError::ForbiddenCharacter), "{s:?}");
    }
}

#[test]
fn address_local_part_syntax() {
    for s in [
        ".bob@acme.com",
        "bob.@acme.com",
        "b..ob@acme.com",
        "\"bob\"@acme.com",
        "b(o)b@acme.com",
        "bob,x@acme.com",
        "b<o>b@acme.com",
        "b\\ob@acme.com",
    ] {
        assert_eq!(addr(s), Err(EmailError::LocalPartSyntax), "{s:?}");
    }
}

#[test]
fn address_too_long() {
    let local = "a".repeat(65);
    assert_eq!(
        addr(&format!("{local}@acme.com")),
        Err(EmailError::LocalPartTooLong)
    );
    assert!(addr(&format!("{}@acme.com", "a".repeat(64))).is_ok());
    let l = "a".repeat(63);
    let long = format!("{}@{l}.{l}.{l}.{}.com", "b".repeat(10), "c".repeat(57));
    assert!(long.len() > 254);
    assert_eq!(addr(&long), Err(EmailError::TooLong));
}

#[test]
fn address_too_long_after_idna() {
    // Each "ü." (3 bytes) becomes "xn--tda." (8 bytes): 139 bytes as written, 259 after.
    let domain = format!("{}de", "ü.".repeat(24));
    let input = format!("{}@{domain}", "a".repeat(64));
    assert_eq!(input.len(), 139);
    assert_eq!(addr(&input), Err(EmailError::TooLong));
}

#[test]
fn address_domain_errors_carried() {
    assert_eq!(
        addr("bob@acme.com."),
        Err(EmailError::Domain(DomainError::TrailingDot))
    );
    assert_eq!(
        addr("bob@*.acme.com"),
        Err(EmailError::Domain(DomainError::Wildcard))
    );
    assert_eq!(
        addr("bob@10.0.0.1"),
        Err(EmailError::Domain(DomainError::IpLiteral))
    );
    assert_eq!(
        addr("bob@[10.0.0.1]"),
        Err(EmailError::Domain(DomainError::IpLiteral))
    );
    assert_eq!(
        addr("bob@localhost"),
        Err(EmailError::Domain(DomainError::SingleLabel))
    );
}

#[test]
fn address_serde_validates() {
    let a: EmailAddress = crate::core::json::from_str("\"Bob@ACME.com\"").unwrap();
    assert_eq!(serde_json::to_string(&a).unwrap(), "\"Bob@acme.com\"");
    assert!(crate::core::json::from_str::<EmailAddress>("\"bob\"").is_err());
}

#[test]
fn error_messages_are_user_facing() {
    assert_eq!(
        EmailError::Domain(DomainError::TrailingDot).to_string(),
        "invalid email domain: the domain must not end with a dot"
    );
    assert_eq!(
        EmailError::MissingAt.to_string(),
        "the email address has no \"@\""
    );
}
