use super::*;
use serde_json::json;

const STRICT: IdpUrlPolicy = IdpUrlPolicy {
    allow_insecure_loopback: false,
};

fn slug() -> OrgSlug {
    OrgSlug::parse("acme").unwrap()
}

fn full() -> Value {
    json!({
        "domains": ["acme.com", "Acme.io"],
        "issuer": "https://acme.okta.com",
        "client_id": "0oa1",
        "client_secret": "s3cret",
        "scopes": ["openid", "email", "profile", "groups"],
        "role_mapping": [{"claim": "groups", "value": "hub-admins", "role": "admin"}],
        "default_role": "read",
        "session_ttl_secs": 3600,
        "enforced": false
    })
}

fn minimal() -> Value {
    json!({
        "domains": ["acme.com"],
        "issuer": "https://acme.okta.com",
        "client_id": "0oa1",
        "client_secret": "s3cret"
    })
}

fn parse(v: &Value) -> Result<OrgConfig, FieldError> {
    OrgConfig::from_admin_json(slug(), v.to_string().as_bytes(), &STRICT, None)
}

/// `v` with `key` set to `val` (or removed when `val` is `None`).
fn with(mut v: Value, key: &str, val: Option<Value>) -> Value {
    let m = v.as_object_mut().unwrap();
    match val {
        Some(x) => m.insert(key.into(), x),
        None => m.remove(key),
    };
    v
}

fn err_field(v: &Value) -> String {
    parse(v).unwrap_err().field
}

#[test]
fn slug_rules() {
    assert_eq!(OrgSlug::parse("acme").unwrap().as_str(), "acme");
    assert!(OrgSlug::parse("a1-b2").is_ok());
    assert!(OrgSlug::parse(&"a".repeat(48)).is_ok());
    assert_eq!(OrgSlug::parse("a"), Err(SlugError::Length));
    assert_eq!(OrgSlug::parse(""), Err(SlugError::Length));
    assert_eq!(OrgSlug::parse(&"a".repeat(49)), Err(SlugError::Length));
    assert_eq!(OrgSlug::parse("Acme"), Err(SlugError::Character));
    assert_eq!(OrgSlug::parse("ac_me"), Err(SlugError::Character));
    assert_eq!(OrgSlug::parse("ac:me"), Err(SlugError::Character));
    assert_eq!(OrgSlug::parse("-acme"), Err(SlugError::Hyphen));
    assert_eq!(OrgSlug::parse("acme-"), Err(SlugError::Hyphen));
    assert_eq!(OrgSlug::parse("ac--me"), Err(SlugError::Hyphen));
    assert!(crate::core::json::from_str::<OrgSlug>("\"Acme\"").is_err());
    assert_eq!(
        crate::core::json::from_str::<OrgSlug>("\"acme\"").unwrap(),
        slug()
    );
}

#[test]
fn role_order_and_wire_names() {
    assert!(Role::Read < Role::Contributor);
    assert!(Role::Contributor < Role::Write);
    assert!(Role::Write < Role::Admin);
    for r in Role::ALL {
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            format!("\"{}\"", r.as_str())
        );
        assert_eq!(Role::parse(r.as_str()), Some(r));
    }
    assert_eq!(Role::parse("Admin"), None);
    assert!(crate::core::json::from_str::<Role>("\"owner\"").is_err());
}

#[test]
fn full_body_parses() {
    let c = parse(&full()).unwrap();
    assert_eq!(c.slug, slug());
    let d: Vec<&str> = c.domains.iter().map(|d| d.as_str()).collect();
    assert_eq!(d, ["acme.com", "acme.io"]);
    assert_eq!(c.issuer.as_str(), "https://acme.okta.com");
    assert_eq!(c.client_id.as_str(), "0oa1");
    assert!(c.client_secret.ct_eq_str("s3cret"));
    assert_eq!(c.scopes, ["openid", "email", "profile", "groups"]);
    assert_eq!(
        c.role_mapping,
        [RoleRule::for_claim("groups", "hub-admins", Role::Admin)]
    );
    assert_eq!(c.default_role, Some(Role::Read));
    assert_eq!(c.session_ttl_secs, 3600);
    assert!(!c.enforced);
}

#[test]
fn defaults_apply() {
    let c = parse(&minimal()).unwrap();
    assert_eq!(c.scopes, ["openid", "email", "profile"]);
    assert!(c.role_mapping.is_empty());
    assert_eq!(c.default_role, None);
    assert_eq!(c.session_ttl_secs, 28_800);
    assert!(c.enforced);
    let c = parse(&with(minimal(), "default_role", Some(Value::Null))).unwrap();
    assert_eq!(c.default_role, None);
}

#[test]
fn body_too_large() {
    let big = vec![b' '; MAX_BODY_BYTES + 1];
    let e = OrgConfig::from_admin_json(slug(), &big, &STRICT, None).unwrap_err();
    assert_eq!(e.field, "body");
}

#[test]
fn body_not_json_or_not_object() {
    for b in [
        &b"not json"[..],
        b"",
        b"[]",
        b"\"x\"",
        b"null",
        b"{\"domains\":",
    ] {
        let e = OrgConfig::from_admin_json(slug(), b, &STRICT, None).unwrap_err();
        assert_eq!(e.field, "body", "{:?}", String::from_utf8_lossy(b));
    }
}

#[test]
fn unknown_field_named() {
    let e = parse(&with(minimal(), "clientSecret", Some(json!("x")))).unwrap_err();
    assert_eq!(e.field, "clientSecret");
    assert_eq!(e.message, "unknown field");
    let long = "k".repeat(200);
    let e = parse(&with(minimal(), &long, Some(json!(1)))).unwrap_err();
    assert!(e.field.chars().count() <= 65);
}

#[test]
fn duplicate_field_refused() {
    let body = br#"{"domains":["acme.com"],"issuer":"https://acme.okta.com","client_id":"a","client_secret":"b","enforced":true,"enforced":false}"#;
    let e = OrgConfig::from_admin_json(slug(), body, &STRICT, None).unwrap_err();
    assert_eq!(e.field, "enforced");
}

#[test]
fn required_fields() {
    for k in ["domains", "issuer", "client_id", "client_secret"] {
        let e = parse(&with(minimal(), k, None)).unwrap_err();
        assert_eq!(e.field, k);
        assert_eq!(e.message, "is required");
    }
}

#[test]
fn domains_rules() {
    let f = |d: Value| err_field(&with(minimal(), "domains", Some(d)));
    assert_eq!(f(json!([])), "domains");
    assert_eq!(f(json!("acme.com")), "domains");
    let many: Vec<String> = (0..51).map(|i| format!("d{i}.com")).collect();
    assert_eq!(f(json!(many)), "domains");
    assert_eq!(f(json!(["acme.com", "*.acme.com"])), "domains[1]");
    assert_eq!(f(json!(["acme.com", 7])), "domains[1]");
    assert_eq!(f(json!(["acme.com", "ACME.com"])), "domains[1]");
    assert_eq!(f(json!(["bücher.de", "xn--bcher-kva.de"])), "domains[1]");
    assert_eq!(f(json!(["acme.com."])), "domains[0]");
    let e = parse(&with(
        minimal(),
        "domains",
        Some(json!(["acme.com", "ACME.com"])),
    ))
    .unwrap_err();
    assert_eq!(e.message, "acme.com is the same domain as domains[0]");
    // Public mail domains, normalised as the lookup does.
    assert_eq!(f(json!(["acme.com", "gmail.com"])), "domains[1]");
    assert_eq!(f(json!(["Proton.ME"])), "domains[0]");
    let e = parse(&with(minimal(), "domains", Some(json!(["outlook.com"])))).unwrap_err();
    assert!(
        e.message.starts_with("outlook.com is a public mail domain"),
        "{}",
        e.message
    );
}

#[test]
fn verified_domains_are_kept_across_admin_puts_and_count() {
    let policy = IdpUrlPolicy::default();
    let slug = OrgSlug::parse("acme").unwrap();
    let mut old = OrgConfig::from_admin_json(
        slug.clone(),
        minimal().to_string().as_bytes(),
        &policy,
        None,
    )
    .unwrap();
    assert!(old.verified_domains.is_empty());
    let dns = EmailDomain::parse("dns.example").unwrap();
    assert!(!old.lists_domain(&dns));
    old.verified_domains.push(dns.clone());
    assert!(old.lists_domain(&dns));
    let new =
        OrgConfig::from_admin_json(slug, minimal().to_string().as_bytes(), &policy, Some(&old))
            .unwrap();
    assert_eq!(new.verified_domains, std::slice::from_ref(&dns));
    let all: Vec<&str> = new.all_domains().map(|d| d.as_str()).collect();
    assert_eq!(all, ["acme.com", "dns.example"]);
    // Not settable through the body.
    let body = with(minimal(), "verified_domains", Some(json!(["x.com"])));
    assert_eq!(err_field(&body), "verified_domains");
    // Stored configs without the field still read.
    let mut v = serde_json::to_value(&new).unwrap();
    v.as_object_mut().unwrap().remove("verified_domains");
    let back: OrgConfig = serde_json::from_value(v).unwrap();
    assert!(back.verified_domains.is_empty());
}

#[test]
fn issuer_rules() {
    let f = |i: Value| err_field(&with(minimal(), "issuer", Some(i)));
    for bad in [
        json!(""),
        json!(5),
        json!("acme.okta.com"),
        json!("/relative"),
        json!("http://acme.okta.com"),
        json!("https://10.0.0.1"),
        json!("https://acme.okta.com/?x=1"),
        json!("https://acme.okta.com/?"),
        json!("https://acme.okta.com/#f"),
        json!("https://user:pw@acme.okta.com"),
        json!(" https://acme.okta.com"),
        json!("https://acme.okta.com\n"),
        json!("https://ACME.okta.com"),
        json!("https:\\\\acme.okta.com"),
        json!(format!("https://acme.okta.com/{}", "a".repeat(500))),
    ] {
        assert_eq!(f(bad.clone()), "issuer", "{bad}");
    }
    for good in [
        "https://acme.okta.com",
        "https://acme.okta.com/",
        "https://login.microsoftonline.com/tid/v2.0",
        "https://acme.eu.auth0.com/",
    ] {
        let c = parse(&with(minimal(), "issuer", Some(json!(good)))).unwrap();
        assert_eq!(c.issuer.as_str(), good);
    }
}

#[test]
fn issuer_loopback_only_with_policy() {
    let body = with(
        minimal(),
        "issuer",
        Some(json!("http://127.0.0.1:9000/realms/x")),
    );
    assert!(parse(&body).is_err());
    let dev = IdpUrlPolicy {
        allow_insecure_loopback: true,
    };
    let c = OrgConfig::from_admin_json(slug(), body.to_string().as_bytes(), &dev, None).unwrap();
    assert_eq!(c.issuer.as_str(), "http://127.0.0.1:9000/realms/x");
}

#[test]
fn client_id_rules() {
    let f = |v: Value| err_field(&with(minimal(), "client_id", Some(v)));
    assert_eq!(f(json!("")), "client_id");
    assert_eq!(f(json!(1)), "client_id");
    assert_eq!(f(json!("a".repeat(257))), "client_id");
    assert_eq!(f(json!("a\u{0}b")), "client_id");
    assert!(parse(&with(minimal(), "client_id", Some(json!("a".repeat(256))))).is_ok());
}

#[test]
fn client_secret_rules() {
    let f = |v: Value| err_field(&with(minimal(), "client_secret", Some(v)));
    assert_eq!(f(json!("")), "client_secret");
    assert_eq!(f(Value::Null), "client_secret");
    assert_eq!(f(json!("a".repeat(1025))), "client_secret");
    assert_eq!(f(json!("a\nb")), "client_secret");
}

#[test]
fn client_secret_kept_on_update_when_omitted() {
    let old = parse(&minimal()).unwrap();
    let body = with(minimal(), "client_secret", None).to_string();
    let c = OrgConfig::from_admin_json(slug(), body.as_bytes(), &STRICT, Some(&old)).unwrap();
    assert!(c.client_secret.ct_eq_str("s3cret"));
    let body = with(minimal(), "client_secret", Some(json!("new"))).to_string();
    let c = OrgConfig::from_admin_json(slug(), body.as_bytes(), &STRICT, Some(&old)).unwrap();
    assert!(c.client_secret.ct_eq_str("new"));
}

#[test]
fn scopes_rules() {
    let f = |v: Value| err_field(&with(minimal(), "scopes", Some(v)));
    assert_eq!(f(json!("openid")), "scopes");
    assert_eq!(f(json!([])), "scopes");
    assert_eq!(f(json!(["email"])), "scopes");
    assert_eq!(f(json!(["openid", ""])), "scopes[1]");
    assert_eq!(f(json!(["openid", "a b"])), "scopes[1]");
    assert_eq!(f(json!(["openid", "a\"b"])), "scopes[1]");
    assert_eq!(f(json!(["openid", "a\\b"])), "scopes[1]");
    assert_eq!(f(json!(["openid", "é"])), "scopes[1]");
    assert_eq!(f(json!(["openid", 3])), "scopes[1]");
    assert_eq!(f(json!(["openid", "x".repeat(65)])), "scopes[1]");
    assert_eq!(f(json!(["openid", "openid"])), "scopes[1]");
    let many: Vec<String> = (0..21).map(|i| format!("s{i}")).collect();
    assert_eq!(f(json!(many)), "scopes");
    let ok = parse(&with(
        minimal(),
        "scopes",
        Some(json!(["openid", "api://x/.default", "x".repeat(64)])),
    ));
    assert!(ok.is_ok());
}

#[test]
fn role_mapping_rules() {
    let rule = |r: Value| err_field(&with(minimal(), "role_mapping", Some(json!([r]))));
    assert_eq!(
        err_field(&with(minimal(), "role_mapping", Some(json!({})))),
        "role_mapping"
    );
    let many: Vec<Value> = (0..51)
        .map(|_| json!({"claim": "g", "value": "v", "role": "read"}))
        .collect();
    assert_eq!(
        err_field(&with(minimal(), "role_mapping", Some(json!(many)))),
        "role_mapping"
    );
    assert_eq!(rule(json!("x")), "role_mapping[0]");
    assert_eq!(
        rule(json!({"value": "v", "role": "read"})),
        "role_mapping[0].claim"
    );
    assert_eq!(
        rule(json!({"claim": "g", "role": "read"})),
        "role_mapping[0].value"
    );
    assert_eq!(
        rule(json!({"claim": "g", "value": "v"})),
        "role_mapping[0].role"
    );
    assert_eq!(
        rule(json!({"claim": "g", "value": "v", "role": "owner"})),
        "role_mapping[0].role"
    );
    assert_eq!(
        rule(json!({"claim": "g", "value": "v", "role": "read", "x": 1})),
        "role_mapping[0].x"
    );
    assert_eq!(
        rule(json!({"claim": "", "value": "v", "role": "read"})),
        "role_mapping[0].claim"
    );
    assert_eq!(
        rule(json!({"claim": "a b", "value": "v", "role": "read"})),
        "role_mapping[0].claim"
    );
    assert_eq!(
        rule(json!({"claim": "g".repeat(65), "value": "v", "role": "read"})),
        "role_mapping[0].claim"
    );
    assert_eq!(
        rule(json!({"claim": "g", "value": "", "role": "read"})),
        "role_mapping[0].value"
    );
    assert_eq!(
        rule(json!({"claim": "g", "value": "v".repeat(257), "role": "read"})),
        "role_mapping[0].value"
    );
    assert_eq!(
        rule(json!({"claim": "g", "value": "a\u{7}", "role": "read"})),
        "role_mapping[0].value"
    );
    assert_eq!(
        rule(json!({"claim": "g", "value": 1, "role": "read"})),
        "role_mapping[0].value"
    );
    // Spaces inside a group name are fine.
    let ok = with(
        minimal(),
        "role_mapping",
        Some(json!([{"claim": "groups", "value": "Hub Admins", "role": "write"}])),
    );
    assert_eq!(
        parse(&ok).unwrap().role_mapping[0],
        RoleRule::for_claim("groups", "Hub Admins", Role::Write)
    );
}

#[test]
fn scim_group_rules_parse() {
    let body = with(
        with(
            minimal(),
            "resource_groups",
            Some(json!([{"name": "research", "paths": ["models/research-*/**"]}])),
        ),
        "role_mapping",
        Some(json!([
            {"claim": "groups", "value": "staff", "role": "read"},
            {"scim_group": "Engineering", "role": "write"},
            {"scim_group": "Research Leads", "role": "admin", "resource_group": "research"},
        ])),
    );
    let c = parse(&body).unwrap();
    assert_eq!(
        c.role_mapping,
        [
            RoleRule::for_claim("groups", "staff", Role::Read),
            RoleRule::for_scim_group("Engineering", Role::Write),
            RoleRule::for_scim_group("Research Leads", Role::Admin).in_resource_group("research"),
        ]
    );
    // Shown and stored in the shape it was given, so it can be sent back as an update.
    assert_eq!(c.redacted_json()["role_mapping"], body["role_mapping"]);
    let stored = serde_json::to_string(&c).unwrap();
    assert_eq!(
        crate::core::json::from_str::<OrgConfig>(&stored).unwrap(),
        c
    );
}

#[test]
fn scim_group_rule_errors_name_the_field() {
    let at2 = |r: Value| {
        let ok = json!({"claim": "g", "value": "v", "role": "read"});
        err_field(&with(
            minimal(),
            "role_mapping",
            Some(json!([ok.clone(), ok, r])),
        ))
    };
    let scim = "role_mapping[2].scim_group";
    for bad in [
        json!({"scim_group": "", "role": "read"}),
        json!({"scim_group": "g".repeat(MAX_SCIM_GROUP_CHARS + 1), "role": "read"}),
        json!({"scim_group": 7, "role": "read"}),
        json!({"scim_group": null, "role": "read"}),
        json!({"scim_group": ["Engineering"], "role": "read"}),
        json!({"scim_group": "Eng\u{0}", "role": "read"}),
        json!({"scim_group": "Eng\nineering", "role": "read"}),
        // Exactly one way to match.
        json!({"scim_group": "Eng", "claim": "groups", "value": "Eng", "role": "read"}),
        json!({"scim_group": "Eng", "claim": "groups", "role": "read"}),
        json!({"scim_group": "Eng", "value": "Eng", "role": "read"}),
    ] {
        assert_eq!(at2(bad.clone()), scim, "{bad}");
    }
    assert_eq!(
        at2(json!({"scim_group": "Eng"})),
        "role_mapping[2].role",
        "role is still required"
    );
    assert_eq!(
        at2(json!({"scim_group": "Eng", "role": "owner"})),
        "role_mapping[2].role"
    );
    assert_eq!(
        at2(json!({"scim_group": "Eng", "role": "read", "resource_group": "nope"})),
        "role_mapping[2].resource_group"
    );
    assert_eq!(
        at2(json!({"scim_groups": "Eng", "role": "read"})),
        "role_mapping[2].scim_groups"
    );
    assert_eq!(
        at2(json!({"role": "read"})),
        "role_mapping[2].claim",
        "neither shape: the claim rule's first field is reported"
    );
    let longest = json!({"scim_group": "g".repeat(MAX_SCIM_GROUP_CHARS), "role": "read"});
    assert!(parse(&with(minimal(), "role_mapping", Some(json!([longest])))).is_ok());
}

#[test]
fn claim_rules_store_exactly_as_before() {
    // The stored (and shown) form of claim rules predates SCIM group rules: byte-identical.
    let r = RoleRule::for_claim("groups", "a", Role::Admin);
    let text = r#"{"claim":"groups","value":"a","role":"admin"}"#;
    assert_eq!(serde_json::to_string(&r).unwrap(), text);
    assert_eq!(crate::core::json::from_str::<RoleRule>(text).unwrap(), r);
    let scoped = r.clone().in_resource_group("g");
    let text = r#"{"claim":"groups","value":"a","role":"admin","resource_group":"g"}"#;
    assert_eq!(serde_json::to_string(&scoped).unwrap(), text);
    assert_eq!(
        crate::core::json::from_str::<RoleRule>(text).unwrap(),
        scoped
    );
    let scim = RoleRule::for_scim_group("Engineering", Role::Write);
    let text = r#"{"scim_group":"Engineering","role":"write"}"#;
    assert_eq!(serde_json::to_string(&scim).unwrap(), text);
    assert_eq!(crate::core::json::from_str::<RoleRule>(text).unwrap(), scim);
    // A stored rule must be one shape or the other.
    for bad in [
        r#"{"role":"admin"}"#,
        r#"{"claim":"g","role":"admin"}"#,
        r#"{"claim":"g","value":"v","scim_group":"x","role":"admin"}"#,
    ] {
        assert!(
            crate::core::json::from_str::<RoleRule>(bad).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn default_role_rules() {
    assert_eq!(
        err_field(&with(minimal(), "default_role", Some(json!("owner")))),
        "default_role"
    );
    assert_eq!(
        err_field(&with(minimal(), "default_role", Some(json!(1)))),
        "default_role"
    );
}

#[test]
fn session_ttl_rules() {
    let f = |v: Value| err_field(&with(minimal(), "session_ttl_secs", Some(v)));
    for bad in [
        json!(299),
        json!(86_401),
        json!(-1),
        json!(300.5),
        json!("600"),
    ] {
        assert_eq!(f(bad.clone()), "session_ttl_secs", "{bad}");
    }
    for ok in [300, 86_400] {
        let c = parse(&with(minimal(), "session_ttl_secs", Some(json!(ok)))).unwrap();
        assert_eq!(c.session_ttl_secs, ok);
    }
}

#[test]
fn enforced_must_be_bool() {
    assert_eq!(
        err_field(&with(minimal(), "enforced", Some(json!("yes")))),
        "enforced"
    );
    assert_eq!(
        err_field(&with(minimal(), "enforced", Some(Value::Null))),
        "enforced"
    );
}

#[test]
fn redacted_json_hides_secret() {
    let c = parse(&full()).unwrap();
    let v = c.redacted_json();
    assert!(v.get("client_secret").is_none());
    assert_eq!(v["client_secret_set"], json!(true));
    assert_eq!(v["slug"], json!("acme"));
    assert_eq!(v["domains"], json!(["acme.com", "acme.io"]));
    assert_eq!(v["role_mapping"][0]["role"], json!("admin"));
    assert!(!v.to_string().contains("s3cret"));
    assert!(!format!("{c:?}").contains("s3cret"));
}

#[test]
fn storage_round_trip_keeps_secret() {
    let c = parse(&full()).unwrap();
    let s = serde_json::to_string(&c).unwrap();
    assert!(s.contains("\"client_secret\":\"s3cret\""));
    let back: OrgConfig = crate::core::json::from_str(&s).unwrap();
    assert_eq!(back, c);
}

#[test]
fn redacted_json_can_be_sent_back_as_update() {
    let c = parse(&full()).unwrap();
    let mut v = c.redacted_json();
    // The slug comes from the URL; the read-back fields are not accepted as input.
    for (dropped, left) in [("client_secret_set", "slug"), ("slug", "client_secret_set")] {
        assert_eq!(err_field(&with(v.clone(), dropped, None)), left);
    }
    v.as_object_mut().unwrap().remove("client_secret_set");
    v.as_object_mut().unwrap().remove("slug");
    let c2 =
        OrgConfig::from_admin_json(slug(), v.to_string().as_bytes(), &STRICT, Some(&c)).unwrap();
    assert_eq!(c2, c);
}
