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

// --- Properties -----------------------------------------------------------------------------

mod props {
    use super::*;
    use proptest::prelude::*;

    /// Domain-shaped text: labels glued from tokens that are valid, nearly valid (case, hyphens,
    /// digits, IDNA look-alikes, ideographic full stops) or plainly wrong.
    fn near_domain() -> impl Strategy<Value = String> {
        let tok = prop::sample::select(vec![
            "a",
            "B",
            "z9",
            "0",
            "42",
            "-",
            "com",
            "ORG",
            "ü",
            "Ü",
            "ß",
            "ａ",
            "é",
            "\u{3002}",
            "xn--bcher-kva",
            "0x",
            "1f",
            "_",
            "*",
            "%",
            " ",
            "\u{200B}",
            "[",
            ":",
            "::1",
            ".",
        ]);
        prop::collection::vec(
            (
                prop::collection::vec(tok, 0..4),
                prop::sample::select(vec![".", ".", "", "。"]),
            ),
            0..6,
        )
        .prop_map(|labels| {
            labels
                .into_iter()
                .map(|(toks, sep)| format!("{}{sep}", toks.concat()))
                .collect()
        })
    }

    /// What an ASCII `[A-Za-z0-9.-]` domain must satisfy (RFC 1035 2.3.4 and RFC 1123 2.1
    /// labels, at least two of them, not read as IPv4 by the WHATWG host parser), written
    /// without the parser's code: `Some(lower-cased input)` when acceptable.
    fn ascii_domain_model(s: &str) -> Option<String> {
        let labels: Vec<&str> = s.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        let last = labels.last().copied().unwrap_or("");
        // WHATWG URL "ends in a number": a numeric (decimal or 0x-hex) last label is IPv4.
        let numeric = (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
            || last.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("0x"))
                && last[2..].bytes().all(|b| b.is_ascii_hexdigit());
        let ok = s.len() <= MAX_DOMAIN_LEN
            && labels.len() >= 2
            && labels.iter().all(label_ok)
            && !numeric;
        ok.then(|| s.to_ascii_lowercase())
    }

    fn ascii_domain() -> impl Strategy<Value = String> {
        let label = prop_oneof![
            "[a-zA-Z0-9]{1,8}",
            "[a-zA-Z0-9-]{0,6}",
            "[0-9]{1,3}",
            "0[xX][0-9a-fA-F]{0,2}",
            "[a-z]{60,66}",
        ];
        prop::collection::vec(label, 1..6)
            .prop_map(|l| l.join("."))
            // Punycode labels are decoded and checked by IDNA; the ASCII model does not
            // decode them.
            .prop_filter("no A-labels", |s| {
                !s.split('.')
                    .any(|l| l.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--")))
            })
    }

    /// An email local part from atext, dots and characters that are not atext.
    fn near_local() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                "a",
                "Bob",
                "0",
                ".",
                "..",
                "+tag",
                "!#$%&'*/=?^_`{|}~-",
                "é",
                "\"",
                "(",
                ",",
                " ",
                "\u{200B}",
                "\\",
                "@",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            ]),
            0..5,
        )
        .prop_map(|t| t.concat())
    }

    /// RFC 5322 3.2.3 dot-atom with RFC 6531 non-ASCII, at most 64 bytes (RFC 5321 4.5.3.1.1).
    fn local_model(l: &str) -> bool {
        let atext = |c: char| {
            c.is_ascii_alphanumeric()
                || "!#$%&'*+-/=?^_`{|}~".contains(c)
                || (!c.is_ascii() && !c.is_whitespace() && c != '\u{200B}')
        };
        !l.is_empty()
            && l.len() <= MAX_LOCAL_LEN
            && l.split('.')
                .all(|atom| !atom.is_empty() && atom.chars().all(atext))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Any input: no panic, and an accepted domain is within RFC 1035's caps, ASCII lower
        /// case, and a fixed point (its normal form parses to itself).
        #[test]
        fn domain_total_capped_and_canonical(s in prop_oneof![any::<String>(), near_domain()]) {
            if let Ok(d) = EmailDomain::parse(&s) {
                let a = d.as_str();
                prop_assert!(a.len() <= MAX_DOMAIN_LEN, "{}", a);
                prop_assert!(a.split('.').count() >= 2 && a.split('.').all(|l| l.len() <= MAX_LABEL_LEN));
                prop_assert!(a.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'));
                prop_assert_eq!(EmailDomain::parse(a), Ok(d.clone()), "{:?}", s);
            }
        }

        /// On ASCII input the parser's decision and output agree with the model.
        #[test]
        fn ascii_domains_agree_with_a_model(s in ascii_domain()) {
            let got = EmailDomain::parse(&s).ok().map(|d| d.as_str().to_owned());
            prop_assert_eq!(got, ascii_domain_model(&s), "{:?}", s);
        }

        /// Any input: no panic; an accepted address is within RFC 5321's caps, is its local
        /// part (as written) `@` its normalised domain, and parses to itself.
        #[test]
        fn address_total_capped_and_canonical(
            s in prop_oneof![any::<String>(), (near_local(), near_domain()).prop_map(|(l, d)| format!("{l}@{d}"))]
        ) {
            if let Ok(a) = EmailAddress::parse(&s) {
                prop_assert!(a.as_str().len() <= MAX_ADDRESS_LEN);
                prop_assert!(a.local_part().len() <= MAX_LOCAL_LEN);
                prop_assert_eq!(a.as_str(), format!("{}@{}", a.local_part(), a.domain()));
                prop_assert!(s.starts_with(a.local_part()));
                prop_assert_eq!(EmailAddress::parse(a.as_str()), Ok(a.clone()));
            }
        }

        /// An address is accepted exactly when its local part is a dot-atom (model), its domain
        /// is an acceptable [`EmailDomain`], and it fits in 254 bytes before and after
        /// normalising the domain.
        #[test]
        fn addresses_agree_with_a_model(
            local in near_local(),
            domain in prop_oneof![near_domain(), ascii_domain(), Just("ACME.com".to_owned()), Just("bücher.de".to_owned())],
        ) {
            let s = format!("{local}@{domain}");
            let want = match EmailDomain::parse(&domain) {
                Ok(d) if local_model(&local)
                    && s.len() <= MAX_ADDRESS_LEN
                    && local.len() + 1 + d.as_str().len() <= MAX_ADDRESS_LEN =>
                {
                    Some(format!("{local}@{d}"))
                }
                _ => None,
            };
            // The domain model is the domain parser; a domain containing `@` is not a domain
            // of this address.
            prop_assume!(!domain.contains('@'));
            prop_assert_eq!(EmailAddress::parse(&s).ok().map(|a| a.as_str().to_owned()), want, "{:?}", s);
        }
    }
}
