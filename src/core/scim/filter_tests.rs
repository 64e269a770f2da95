use super::*;
use proptest::prelude::*;

fn f(s: &str) -> Filter {
    Filter::parse(s).unwrap()
}

fn err(s: &str) -> ScimError {
    Filter::parse(s).unwrap_err()
}

#[test]
fn parses_eq_and_with_keywords_in_any_case() {
    let x = f(r#"userName EQ "a@b" AnD active eq true"#);
    assert_eq!(x.clauses.len(), 2);
    assert_eq!(
        x.clauses[0],
        Clause::Eq(AttrPath::simple("userName"), CompValue::Str("a@b".into()))
    );
    assert_eq!(
        x.clauses[1],
        Clause::Eq(AttrPath::simple("active"), CompValue::Bool(true))
    );
}

#[test]
fn parses_value_path_with_sub_attribute_and_bare_value_path() {
    let x = f(r#"emails[type eq "work"].value eq "a@b""#);
    let Clause::Eq(p, CompValue::Str(v)) = &x.clauses[0] else {
        panic!()
    };
    assert!(p.is("EMAILS") && p.sub_is(Some("Value")) && v == "a@b");
    assert_eq!(
        p.value_filter.as_ref().unwrap().eq_str("type"),
        Some("work")
    );
    let y = f(r#"members[value eq "id1"]"#);
    assert!(matches!(&y.clauses[0], Clause::Has(p) if p.is("members")));
}

#[test]
fn strips_schema_urn_prefixes() {
    let x = f(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#);
    let Clause::Eq(p, _) = &x.clauses[0] else {
        panic!()
    };
    assert!(p.is("userName"));
    assert_eq!(p.schema.as_deref(), Some(CORE_USER_SCHEMA));
    let q =
        AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department")
            .unwrap();
    assert!(q.is("department") && !q.in_schema(CORE_USER_SCHEMA));
}

#[test]
fn string_literals_use_json_escapes() {
    let x = f(r#"displayName eq "a \"q\" \\ \u00e9""#);
    assert_eq!(
        x.clauses[0],
        Clause::Eq(
            AttrPath::simple("displayName"),
            CompValue::Str("a \"q\" \\ é".into())
        )
    );
}

#[test]
fn refuses_what_is_not_supported_as_invalid_filter() {
    for bad in [
        "",
        "userName",
        r#"userName ne "x""#,
        r#"userName co "x""#,
        "userName pr",
        r#"userName eq "x" or userName eq "y""#,
        r#"not (userName eq "x")"#,
        r#"(userName eq "x")"#,
        "userName eq 12",
        "userName eq x",
        r#"userName eq "x"#,
        r#"userName eq "bad \q escape""#,
        r#"emails[type eq "work"[value eq "x"]] eq "y""#,
        r#"emails[type eq "work" eq "x""#,
        r#"1abc eq "x""#,
        r#"a.b.c eq "x""#,
        r#"urn:x:y:userName eq "x""#,
        r#"userName eq "x" and"#,
        r#"userName eq "x" userName"#,
    ] {
        let e = err(bad);
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some("invalidFilter")),
            "{bad}"
        );
    }
    let long = format!("userName eq \"{}\"", "a".repeat(MAX_FILTER_LEN));
    assert_eq!(err(&long).scim_type, Some("invalidFilter"));
    let many = vec![r#"id eq "x""#; MAX_CLAUSES + 1].join(" and ");
    assert_eq!(err(&many).scim_type, Some("invalidFilter"));
}

#[test]
fn matching_rules() {
    let vals = |p: &AttrPath| -> Vec<Val<'static>> {
        if p.is("userName") {
            vec![Val::Str("Alice@Example.com", false)]
        } else if p.is("externalId") {
            vec![Val::Str("Ext1", true)]
        } else if p.is("active") {
            vec![Val::Bool(true)]
        } else {
            Vec::new()
        }
    };
    assert!(f(r#"userName eq "alice@example.COM""#).matches(&vals));
    assert!(f(r#"externalId eq "Ext1""#).matches(&vals));
    assert!(!f(r#"externalId eq "ext1""#).matches(&vals));
    assert!(f("active eq true").matches(&vals));
    assert!(f(r#"active eq "True""#).matches(&vals));
    assert!(!f("active eq false").matches(&vals));
    assert!(f("displayName eq null").matches(&vals));
    assert!(!f(r#"userName eq "alice@example.com" and active eq false"#).matches(&vals));
}

#[test]
fn path_parse_errors_are_invalid_path() {
    for bad in [
        "",
        "a b",
        "members[value eq \"x\"",
        "emails[type eq 3]",
        "x.y.z",
    ] {
        let e = AttrPath::parse(bad).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidPath"), "{bad}");
    }
    let p = AttrPath::parse(r#"members[value eq "abc"]"#).unwrap();
    assert!(p.is("members") && p.sub_attr.is_none());
}

/// Attribute names, minus the filter grammar's keywords (RFC 7644 3.4.2.2: `and`, `or`, `not`
/// and the operators), which the parser rightly reads as keywords and not as names.
fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_-]{0,8}".prop_filter("not a keyword", |n| {
        ![
            "and", "or", "not", "eq", "ne", "co", "sw", "ew", "pr", "gt", "ge", "lt", "le", "true",
            "false", "null",
        ]
        .iter()
        .any(|k| n.eq_ignore_ascii_case(k))
    })
}

fn value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        any::<String>().prop_map(CompValue::Str),
        any::<bool>().prop_map(CompValue::Bool),
        Just(CompValue::Null),
    ]
}

fn simple_path() -> impl Strategy<Value = AttrPath> {
    (name(), proptest::option::of(name())).prop_map(|(a, s)| AttrPath {
        schema: None,
        attr: a,
        value_filter: None,
        sub_attr: s,
    })
}

fn simple_filter() -> impl Strategy<Value = Filter> {
    proptest::collection::vec((simple_path(), value()), 1..4).prop_map(|cs| Filter {
        clauses: cs.into_iter().map(|(p, v)| Clause::Eq(p, v)).collect(),
    })
}

fn clause() -> impl Strategy<Value = Clause> {
    prop_oneof![
        (simple_path(), value()).prop_map(|(p, v)| Clause::Eq(p, v)),
        (
            name(),
            simple_filter(),
            proptest::option::of(name()),
            value()
        )
            .prop_map(|(a, vf, s, v)| {
                let has_sub = s.is_some();
                let p = AttrPath {
                    schema: None,
                    attr: a,
                    value_filter: Some(Box::new(vf)),
                    sub_attr: s,
                };
                if has_sub {
                    Clause::Eq(p, v)
                } else {
                    Clause::Has(p)
                }
            }),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    proptest::collection::vec(clause(), 1..5).prop_map(|clauses| Filter { clauses })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_arbitrary_input(s in any::<String>()) {
        let _ = Filter::parse(&s);
        let _ = AttrPath::parse(&s);
    }

    #[test]
    fn never_panics_on_filter_like_input(s in r#"[a-zA-Z. \[\]"\\eqand():-]{0,60}"#) {
        let _ = Filter::parse(&s);
        let _ = AttrPath::parse(&s);
    }

    #[test]
    fn generated_filters_round_trip(x in filter()) {
        let text = x.to_string();
        prop_assert_eq!(Filter::parse(&text).unwrap(), x);
    }
}

/// A valid filter's text with a few edits (a token inserted, a character removed or replaced):
/// near-valid input that reaches deep into the parser.
fn mutated_filter() -> impl Strategy<Value = String> {
    let edit = (
        any::<prop::sample::Index>(),
        0u8..3,
        prop::sample::select(vec![
            " ",
            "and",
            " or ",
            "not ",
            "[",
            "]",
            "\"",
            "\\",
            ".",
            " eq ",
            "(",
            "é",
            "\u{a0}",
            "urn:ietf:params:scim:schemas:core:2.0:User:",
            "true",
            "null",
            "\\u00e9",
            "\\ud800",
        ]),
    );
    (filter(), prop::collection::vec(edit, 1..4)).prop_map(|(x, edits)| {
        let mut chars: Vec<char> = x.to_string().chars().collect();
        for (at, kind, tok) in edits {
            let i = at.index(chars.len() + 1);
            match kind {
                0 => {
                    chars.splice(i..i, tok.chars());
                }
                1 if i < chars.len() => {
                    chars.remove(i);
                }
                _ if i < chars.len() => chars[i] = tok.chars().next().unwrap_or(' '),
                _ => {}
            }
        }
        chars.into_iter().collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever text parses, its printed form parses to the same filter and prints the same
    /// (the pretty-print is canonical), within the clause cap.
    #[test]
    fn accepted_text_has_a_canonical_form(s in prop_oneof![mutated_filter(), any::<String>()]) {
        if let Ok(x) = Filter::parse(&s) {
            prop_assert!(!x.clauses.is_empty() && x.clauses.len() <= MAX_CLAUSES);
            let text = x.to_string();
            let again = Filter::parse(&text);
            prop_assert_eq!(again.as_ref().ok(), Some(&x), "{:?} -> {:?}", s, text);
            prop_assert_eq!(again.unwrap().to_string(), text);
        }
        if let Ok(p) = AttrPath::parse(&s) {
            prop_assert_eq!(AttrPath::parse(&p.to_string()).ok(), Some(p));
        }
    }
}
