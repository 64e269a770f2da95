//! Abuse resistance through the app on its native ports: rate limits per client address, and
//! the deployment's response policy on edge-sso's own pages.

mod common;

use common::*;
use edge_sso::app::{HeaderExt, Response};
use edge_sso::core::ratelimit::LimitClass;
use http::Method;

fn from(h: &Harness, ip: &str, method: Method, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut all = vec![("cf-connecting-ip", ip)];
    all.extend_from_slice(headers);
    h.request(method, path, &all, b"")
}

fn real_budgets(h: &Harness) {
    h.limits.budget_override.set(None);
}

#[test]
fn sign_in_routes_are_limited_per_client_address_with_retry_after() {
    let h = Harness::with_orgs();
    real_budgets(&h);
    let (limit, period) = LimitClass::Login.budget();
    let json = [("accept", "application/json")];
    for i in 0..limit {
        let r = from(
            &h,
            "203.0.113.7",
            Method::GET,
            "/sso/start?email=ada@acme.com",
            &json,
        );
        assert_eq!(r.status(), 302, "request {i}");
    }
    let r = from(
        &h,
        "203.0.113.7",
        Method::GET,
        "/sso/start?email=ada@acme.com",
        &json,
    );
    assert_eq!(r.status(), 429);
    assert_eq!(r.header("retry-after"), Some(period.to_string().as_str()));
    assert_eq!(json_body(&r)["error"], "rate_limited");
    // A browser gets the page; the callback and logout share the budget.
    let r = from(
        &h,
        "203.0.113.7",
        Method::GET,
        "/sso/start?email=ada@acme.com",
        &[],
    );
    assert_eq!(r.status(), 429);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert_eq!(
        from(
            &h,
            "203.0.113.7",
            Method::GET,
            "/sso/callback?code=x&state=y",
            &json
        )
        .status(),
        429
    );
    assert_eq!(
        from(
            &h,
            "203.0.113.7",
            Method::POST,
            "/sso/backchannel-logout/acme-corp",
            &json
        )
        .status(),
        429
    );
    // Another client is not affected; the window ends.
    assert_eq!(
        from(
            &h,
            "198.51.100.1",
            Method::GET,
            "/sso/start?email=ada@acme.com",
            &json
        )
        .status(),
        302
    );
    h.clock.advance(period);
    assert_eq!(
        from(
            &h,
            "203.0.113.7",
            Method::GET,
            "/sso/start?email=ada@acme.com",
            &json
        )
        .status(),
        302
    );
}

#[test]
fn failed_admin_authentications_are_limited_and_a_right_token_never_counts() {
    let h = Harness::with_orgs();
    real_budgets(&h);
    let (limit, _) = LimitClass::AuthFailure.budget();
    let ok = format!("Bearer {ADMIN_TOKEN}");
    for _ in 0..3 * limit {
        let r = from(
            &h,
            "203.0.113.9",
            Method::GET,
            "/admin/orgs",
            &[("authorization", &ok)],
        );
        assert_eq!(r.status(), 200);
    }
    for i in 0..limit {
        let r = from(
            &h,
            "203.0.113.9",
            Method::GET,
            "/admin/orgs",
            &[("authorization", "Bearer wrong")],
        );
        assert_eq!(r.status(), 401, "attempt {i}");
    }
    let r = from(
        &h,
        "203.0.113.9",
        Method::GET,
        "/admin/orgs",
        &[("authorization", "Bearer wrong")],
    );
    assert_eq!(r.status(), 429);
    assert!(r.header("retry-after").is_some());
    // SCIM failures share the budget and answer in the SCIM error schema.
    let r = from(
        &h,
        "203.0.113.9",
        Method::GET,
        "/scim/v2/acme-corp/Users",
        &[("authorization", "Bearer nope")],
    );
    assert_eq!(r.status(), 429);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    assert_eq!(json_body(&r)["status"], "429");
    assert!(r.header("retry-after").is_some());
    let r = from(
        &h,
        "198.51.100.2",
        Method::GET,
        "/admin/orgs",
        &[("authorization", "Bearer wrong")],
    );
    assert_eq!(r.status(), 401, "another client");
}

#[test]
fn an_ipv6_client_is_limited_per_64_prefix_not_per_address() {
    // A single IPv6 client (one home line, one VM) holds at least a /64: 2^64 addresses it may
    // send from. Keyed by the whole address, every budget would be one fresh address away.
    let h = Harness::with_orgs();
    real_budgets(&h);
    let (limit, _) = LimitClass::AuthFailure.budget();
    // A wrong admin token from `ip`: its status.
    let guess = |ip: &str| {
        let wrong = [("authorization", "Bearer wrong")];
        from(&h, ip, Method::GET, "/admin/orgs", &wrong).status()
    };
    for i in 0..limit {
        let ip = format!("2001:db8:1:2::{:x}", i + 1);
        assert_eq!(guess(&ip), 401, "attempt {i} from {ip}");
    }
    // Another address of the same /64, however it is written, shares the spent budget.
    for ip in [
        "2001:db8:1:2:ffff:ffff:ffff:ffff",
        "2001:0DB8:0001:0002:0:0:0:abc",
    ] {
        assert_eq!(guess(ip), 429, "{ip}");
    }
    // The neighbouring /64 and IPv4 clients are other clients.
    for ip in ["2001:db8:1:3::1", "203.0.113.10"] {
        assert_eq!(guess(ip), 401, "{ip}");
    }
}

#[test]
fn under_cloudflare_pseudo_ipv4_an_ipv6_client_is_still_limited_per_64_prefix() {
    // "Pseudo IPv4: Overwrite headers": CF-Connecting-IP is a Class E address hashed from the
    // client's IPv6 address (a fresh one per address), CF-Connecting-IPv6 the real address.
    let h = Harness::with_orgs();
    real_budgets(&h);
    let (limit, _) = LimitClass::AuthFailure.budget();
    let guess = |pseudo: &str, v6: Option<&str>| {
        let mut headers = vec![("authorization", "Bearer wrong")];
        if let Some(v6) = v6 {
            headers.push(("cf-connecting-ipv6", v6));
        }
        from(&h, pseudo, Method::GET, "/admin/orgs", &headers).status()
    };
    for i in 0..limit {
        let pseudo = format!("240.0.{}.{}", i / 200, i % 200 + 1);
        let v6 = format!("2001:db8:7:7::{:x}", i + 1);
        assert_eq!(guess(&pseudo, Some(&v6)), 401, "attempt {i}");
    }
    assert_eq!(
        guess("250.1.2.3", Some("2001:db8:7:7:aaaa::1")),
        429,
        "the same /64 behind another pseudo address"
    );
    assert_eq!(
        guess("250.1.2.4", Some("2001:db8:7:8::1")),
        401,
        "another /64"
    );
    // A real IPv4 client cannot choose its key by sending the header: its address counts.
    for i in 0..limit {
        assert_eq!(
            guess("198.51.100.77", Some(&format!("2001:db8:9:{i:x}::1"))),
            401,
            "attempt {i}"
        );
    }
    assert_eq!(guess("198.51.100.77", Some("2001:db8:a::1")), 429);
}

#[test]
fn own_pages_carry_hsts_coop_corp_and_the_production_csp() {
    let h = Harness::with_orgs();
    for path in ["/", "/nope", "/sso/me", "/admin"] {
        let r = h.get(path, None);
        assert_eq!(
            r.header("strict-transport-security"),
            Some("max-age=63072000"),
            "{path}"
        );
        assert_eq!(
            r.header("cross-origin-opener-policy"),
            Some("same-origin"),
            "{path}"
        );
        assert_eq!(
            r.header("cross-origin-resource-policy"),
            Some("same-origin"),
            "{path}"
        );
        if let Some(csp) = r.header("content-security-policy") {
            assert!(
                !csp.contains("127.0.0.1") && !csp.contains("localhost"),
                "{path}: {csp}"
            );
        }
    }
}

#[test]
fn admin_and_scim_apis_answer_no_cors() {
    let h = Harness::with_orgs();
    for path in [
        "/admin/orgs",
        "/admin/orgs/acme-corp",
        "/scim/v2/acme-corp/Users",
    ] {
        let r = h.request(
            Method::OPTIONS,
            path,
            &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "PUT"),
            ],
            b"",
        );
        assert!(r.status().as_u16() >= 400, "{path}: {}", r.status());
        assert!(r.header("access-control-allow-origin").is_none(), "{path}");
    }
}

#[test]
fn changing_the_issuer_or_client_id_needs_a_new_client_secret() {
    let h = Harness::with_orgs();
    let mut body = Harness::org_body(h.acme_idp(), &["acme.com"]);
    body.as_object_mut().unwrap().remove("client_secret");
    let unchanged = h.put_org(ACME, &body);
    assert_eq!(
        unchanged.status(),
        200,
        "same client: the stored secret is kept"
    );
    for (field, value) in [
        ("client_id", "another-client"),
        ("issuer", "https://login.globex.test"),
    ] {
        let mut moved = body.clone();
        moved[field] = serde_json::json!(value);
        let r = h.put_org(ACME, &moved);
        assert_eq!(r.status(), 400, "{field}: {}", r.text());
        assert_eq!(json_body(&r)["field"], "client_secret", "{field}");
        moved["client_secret"] = serde_json::json!("a-new-secret");
        assert_eq!(
            h.put_org(ACME, &moved).status(),
            200,
            "{field} with a new secret"
        );
    }
}

#[test]
fn a_key_repeated_at_any_depth_of_an_admin_body_is_400_naming_it() {
    let h = Harness::with_orgs();
    let body = br#"{"domains":["acme.com"],"issuer":"https://idp.acme.test/realms/acme","client_id":"acme","client_secret":"s","role_mapping":[{"claim":"groups","value":"a","value":"b","role":"admin"}]}"#;
    let r = h.admin(Method::PUT, &format!("/admin/orgs/{ACME}"), body);
    assert_eq!(r.status(), 400, "{}", r.text());
    assert_eq!(json_body(&r)["field"], "role_mapping[0].value");
    let r = h.admin(
        Method::POST,
        &format!("/admin/orgs/{ACME}/revoke"),
        br#"{"email":"a@acme.com","email":"b@acme.com"}"#,
    );
    assert_eq!(r.status(), 400);
    assert_eq!(json_body(&r)["field"], "email");
}
