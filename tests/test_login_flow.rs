//! Test sign-in (issue "IdP profiles" 6, issue "Console" 3): an admin's one-time link runs the
//! whole sign-in against the org's IdP, with its active or staged settings, and shows the
//! claims, identity, role and matched rules (or the check that refused) instead of a session;
//! a staged test that admits an admin lets the org's admins apply the staged settings.

mod common;

use common::*;
use edge_sso::app::Response;
use http::Method;
use serde_json::{json, Value};

/// A one-time test sign-in link with acme's staged settings, made by the org admin `admin`.
fn staged_link(h: &Harness, admin: &str) -> String {
    let r = console(
        h,
        admin,
        Method::POST,
        &acme_path("/test-login"),
        Some(&json!({"staged": true})),
    );
    link_path(&r)
}

/// The `/sso/start?...` path and query of a minted link (checked to be ours).
fn link_path(resp: &Response) -> String {
    assert_eq!(resp.status(), 201, "{}", resp.text());
    let body = json_body(resp);
    let url = url::Url::parse(body["url"].as_str().unwrap()).unwrap();
    assert_eq!(url.origin().ascii_serialization(), ORIGIN);
    assert_eq!(url.path(), "/sso/start");
    let q = query_map(&url);
    assert_eq!(q["org"], ACME);
    assert!(body["expires_at"].as_u64().is_some());
    format!("/sso/start?{}", url.query().unwrap())
}

/// The operator mints a test link for acme.
fn mint(h: &Harness, body: &[u8]) -> String {
    let r = h.admin(Method::POST, &acme_path("/test-login"), body);
    let path = link_path(&r);
    let token = query_map(&url::Url::parse(&format!("{ORIGIN}{path}")).unwrap())["test"].clone();
    h.secret(&token);
    path
}

/// Runs a test sign-in through `path` with `consent`; the callback's response.
fn run(h: &Harness, path: &str, consent: Consent, accept_json: bool) -> Response {
    let started = h.start_query(path.trim_start_matches("/sso/start?"));
    let cb = h.authorize(&started, consent);
    let cookie = format!("{}={}", started.tx_name, started.tx_cookie);
    let p = format!("{}?{}", cb.path(), cb.query().unwrap_or(""));
    let mut headers = vec![("cookie", cookie.as_str())];
    if accept_json {
        headers.push(("accept", "application/json"));
    }
    h.request(Method::GET, &p, &headers, b"")
}

fn groups(g: &'static [&'static str]) -> Consent {
    Consent::claims(move |c| c["groups"] = json!(g))
}

/// Nothing a token-bearing party handed out appears in `text`.
fn assert_no_secrets(h: &Harness, text: &str) {
    for s in h.all_secrets() {
        assert!(!text.contains(&s), "a secret is on the page");
    }
    for idp in [h.acme_idp(), h.globex_idp()] {
        for s in idp.secrets.borrow().iter() {
            assert!(!text.contains(s.as_str()), "an IdP secret is on the page");
        }
        assert!(!text.contains(&idp.client_secret));
    }
}

fn members(h: &Harness) -> Value {
    json_body(&h.admin(Method::GET, &acme_path("/members"), b""))["members"].clone()
}

#[test]
fn a_test_sign_in_shows_claims_identity_and_role_and_records_nothing() {
    let h = Harness::with_orgs();
    let path = mint(&h, b"");
    let resp = run(&h, &path, groups(&["hub-admins", "staff"]), false);
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_no_session_cookie(&resp);
    let page = resp.text();
    assert!(page.contains("would be admitted"), "{page}");
    assert!(page.contains("ada@acme.com"));
    assert!(
        page.contains("&quot;role&quot;: &quot;admin&quot;"),
        "{page}"
    );
    assert!(page.contains("hub-admins"), "the matched rule");
    assert!(page.contains("user-42"), "the claims");
    assert!(!page.contains("&quot;nonce&quot;"), "nonce removed");
    assert_no_secrets(&h, &page);
    assert_eq!(members(&h), json!([]), "no member recorded");
    assert!(h.session_records() == 0, "no session");
    // Used once.
    let again = h.get(&path, None);
    assert_eq!(again.status(), 400, "{}", again.text());
    assert!(again.text().contains("already used"));
    h.assert_logs_clean();
}

#[test]
fn the_json_variant_names_the_matched_rules_and_resource_groups() {
    let h = Harness::with_orgs();
    let path = mint(&h, br#"{"staged": false}"#);
    let resp = run(&h, &path, groups(&["hub-admins"]), true);
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let r = json_body(&resp);
    assert_eq!(r["ok"], true);
    assert_eq!(r["staged"], false);
    assert_eq!(r["identity"]["email"], "ada@acme.com");
    assert_eq!(r["member"]["role"], "admin");
    assert_eq!(r["member"]["matched_rules"][0]["index"], 0);
    assert_eq!(
        r["member"]["matched_rules"][0]["rule"]["value"],
        "hub-admins"
    );
    assert_eq!(r["claims"]["sub"], "user-42");
    assert!(r["claims"].get("nonce").is_none());
    assert!(r.get("staged_tested").is_none());
    assert_no_secrets(&h, &resp.text());
}

#[test]
fn a_refused_test_sign_in_says_which_check_refused() {
    let h = Harness::with_orgs();
    let path = mint(&h, b"");
    let consent = Consent::claims(|c| c["email"] = json!("eve@evil.example"));
    let resp = run(&h, &path, consent, false);
    assert_eq!(resp.status(), 200);
    assert_no_session_cookie(&resp);
    let page = resp.text();
    assert!(page.contains("would be refused"), "{page}");
    assert!(page.contains("email_domain_mismatch"), "{page}");
    assert!(page.contains("eve@evil.example"), "the claims received");
    let path = mint(&h, b"");
    let consent = Consent::claims(|c| c["email_verified"] = json!(false));
    let r = json_body(&run(&h, &path, consent, true));
    assert_eq!(r["ok"], false);
    assert_eq!(r["refused"]["error"], "email_unverified");
    assert!(r.get("member").is_none());
    assert_eq!(members(&h), json!([]));
}

#[test]
fn a_link_expires_is_for_one_org_and_only_admins_mint_it() {
    let h = Harness::with_orgs();
    let path = mint(&h, b"");
    h.clock.advance(600);
    let r = h.get(&path, None);
    assert_eq!(r.status(), 400);
    assert!(r.text().contains("expired"), "{}", r.text());
    // Another org's slug with this org's token.
    let path = mint(&h, b"");
    let r = h.get(&path.replace(ACME, GLOBEX), None);
    assert_eq!(r.status(), 400);
    // A forged token.
    let r = h.get(&format!("/sso/start?org={ACME}&test=forged"), None);
    assert_eq!(r.status(), 400);
    // Not with an email.
    let r = h.get(&format!("{path}&email=ada@acme.com"), None);
    assert_eq!(r.status(), 400);
    // Org admins of this org mint; members and other orgs do not.
    let admin = acme_session(&h, "ada@acme.com", &["hub-admins"]);
    link_path(&console(
        &h,
        &admin,
        Method::POST,
        &acme_path("/test-login"),
        None,
    ));
    let reader = acme_session(&h, "bob@acme.com", &["staff"]);
    let r = console(&h, &reader, Method::POST, &acme_path("/test-login"), None);
    assert_eq!(r.status(), 401);
    let r = console(
        &h,
        &admin,
        Method::POST,
        &format!("/admin/orgs/{GLOBEX}/test-login"),
        None,
    );
    assert_eq!(r.status(), 401);
    // No staged settings to test; a bad body.
    let r = h.admin(
        Method::POST,
        &acme_path("/test-login"),
        br#"{"staged": true}"#,
    );
    assert_eq!(r.status(), 404);
    let r = h.admin(
        Method::POST,
        &acme_path("/test-login"),
        br#"{"staged": "yes"}"#,
    );
    assert_eq!(r.status(), 400);
    assert_eq!(json_body(&r)["field"], "staged");
}

#[test]
fn a_staged_test_as_admin_lets_the_org_admin_apply_and_any_change_voids_it() {
    let h = Harness::with_orgs();
    let admin = acme_session(&h, "ada@acme.com", &["hub-admins"]);
    // The org admin moves acme to another IdP: staged.
    let staged_body = Harness::org_body(h.globex_idp(), &["acme.com", "bücher.example"]);
    let r = console(&h, &admin, Method::PUT, &acme_path(""), Some(&staged_body));
    assert_eq!(r.status(), 202, "{}", r.text());
    let apply = |h: &Harness| console(h, &admin, Method::POST, &acme_path("/staged/apply"), None);
    assert_eq!(apply(&h).status(), 403);
    // A non-admin under the staged settings: admitted, not enough.
    let r = json_body(&run(&h, &staged_link(&h, &admin), groups(&["staff"]), true));
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["staged"], true);
    assert_eq!(r["member"]["role"], "read");
    assert_eq!(r["staged_tested"], false);
    assert_eq!(apply(&h).status(), 403);
    // An admin under them (at the staged IdP): marked.
    let resp = run(&h, &staged_link(&h, &admin), groups(&["hub-admins"]), false);
    assert_no_session_cookie(&resp);
    assert!(resp.text().contains("marked as tested"), "{}", resp.text());
    let staged = json_body(&console(
        &h,
        &admin,
        Method::GET,
        &acme_path("/staged"),
        None,
    ));
    assert_eq!(staged["tested_by"], "ada@acme.com");
    let org = json_body(&console(&h, &admin, Method::GET, &acme_path(""), None));
    assert_eq!(org["staged"]["tested_by"], "ada@acme.com");
    // A later change to the staged config voids the mark.
    let r = console(&h, &admin, Method::PUT, &acme_path(""), Some(&staged_body));
    assert_eq!(r.status(), 202);
    assert_eq!(apply(&h).status(), 403, "changed since the test");
    run(&h, &staged_link(&h, &admin), groups(&["hub-admins"]), true);
    let r = apply(&h);
    assert_eq!(r.status(), 200, "{}", r.text());
    let now = json_body(&h.admin(Method::GET, &acme_path(""), b""));
    assert_eq!(now["client_id"], h.globex_idp().client_id);
    assert!(now.get("staged").is_none());
    assert_eq!(
        members(&h).as_array().map(Vec::len),
        Some(1),
        "only ada's real sign-in"
    );
    let log = json_body(&h.admin(
        Method::GET,
        &acme_path("/audit?type=org.settings.sso.tested"),
        b"",
    ));
    assert_eq!(log["events"].as_array().map(Vec::len), Some(2));
}

#[test]
fn a_staged_test_holds_only_for_the_config_that_applying_it_writes() {
    // Applying merges the staged change onto the config as it is then (core::staging::merge),
    // so the mark must name that merged config: a test with the staged copy's own role rules
    // proves nothing about the rules the apply keeps from the current config.
    let h = Harness::with_orgs();
    // At the old IdP, ada is in both groups.
    let admin = acme_session(&h, "ada@acme.com", &["hub-admins", "old-idp-admins"]);
    let staged_body = Harness::org_body(h.globex_idp(), &["acme.com", "bücher.example"]);
    let r = console(&h, &admin, Method::PUT, &acme_path(""), Some(&staged_body));
    assert_eq!(r.status(), 202, "{}", r.text());
    let apply = |h: &Harness| console(h, &admin, Method::POST, &acme_path("/staged/apply"), None);
    // Ada passes the staged test as admin (the rules then: hub-admins is admin).
    let r = json_body(&run(
        &h,
        &staged_link(&h, &admin),
        groups(&["hub-admins"]),
        true,
    ));
    assert_eq!(r["staged_tested"], true, "{r}");
    // Then the active role rules change (not a sign-in change: applied at once): admin now
    // takes a group of the old IdP, which nobody has at the staged one. Applying would keep
    // these rules.
    let mut active = Harness::org_body(h.acme_idp(), &["acme.com", "bücher.example"]);
    active["role_mapping"] =
        json!([{"claim": "groups", "value": "old-idp-admins", "role": "admin"}]);
    assert_eq!(h.put_org(ACME, &active).status(), 200);
    // The mark was earned with other rules than the apply would write: void.
    let r = apply(&h);
    assert_eq!(r.status(), 403, "{}", r.text());
    let staged = json_body(&console(
        &h,
        &admin,
        Method::GET,
        &acme_path("/staged"),
        None,
    ));
    assert!(staged.get("tested_by").is_none(), "{staged}");
    // A new test runs with what the apply would write: hub-admins is no longer admin there.
    let r = json_body(&run(
        &h,
        &staged_link(&h, &admin),
        groups(&["hub-admins"]),
        true,
    ));
    assert_eq!(r["member"]["role"], "read", "{r}");
    assert_eq!(r["staged_tested"], false);
    assert_eq!(apply(&h).status(), 403);
    // Whoever is admin under the merged config earns the mark, and the apply writes exactly it.
    let r = json_body(&run(
        &h,
        &staged_link(&h, &admin),
        groups(&["old-idp-admins"]),
        true,
    ));
    assert_eq!(r["staged_tested"], true, "{r}");
    let r = apply(&h);
    assert_eq!(r.status(), 200, "{}", r.text());
    let now = json_body(&h.admin(Method::GET, &acme_path(""), b""));
    assert_eq!(now["client_id"], h.globex_idp().client_id);
    assert_eq!(now["role_mapping"], active["role_mapping"]);
}

#[test]
fn a_staged_test_refuses_a_staged_config_changed_during_the_sign_in() {
    let h = Harness::with_orgs();
    let admin = acme_session(&h, "ada@acme.com", &["hub-admins"]);
    let mut body = Harness::org_body(h.acme_idp(), &["acme.com", "bücher.example"]);
    body["client_secret"] = json!("staged-secret-one");
    assert_eq!(
        console(&h, &admin, Method::PUT, &acme_path(""), Some(&body)).status(),
        202
    );
    let r = h.admin(
        Method::POST,
        &acme_path("/test-login"),
        br#"{"staged": true}"#,
    );
    let path = link_path(&r);
    let started = h.start_query(path.trim_start_matches("/sso/start?"));
    body["client_secret"] = json!("staged-secret-two");
    assert_eq!(
        console(&h, &admin, Method::PUT, &acme_path(""), Some(&body)).status(),
        202
    );
    let cb = h.authorize(&started, groups(&["hub-admins"]));
    let p = format!("{}?{}", cb.path(), cb.query().unwrap());
    let cookie = format!("{}={}", started.tx_name, started.tx_cookie);
    let r = h.request(
        Method::GET,
        &p,
        &[("cookie", &cookie), ("accept", "application/json")],
        b"",
    );
    let r = json_body(&r);
    assert_eq!(r["ok"], false);
    assert_eq!(r["refused"]["error"], "login_expired", "{r}");
}

#[test]
fn an_idp_error_in_a_test_sign_in_is_reported_with_its_text() {
    let h = Harness::with_orgs();
    let path = mint(&h, b"");
    let started = h.start_query(path.trim_start_matches("/sso/start?"));
    let state = &started.params["state"];
    let cb = format!(
        "/sso/callback?error=access_denied&error_description=User%20not%20assigned&state={state}"
    );
    let cookie = format!("{}={}", started.tx_name, started.tx_cookie);
    let r = h.request(
        Method::GET,
        &cb,
        &[("cookie", &cookie), ("accept", "application/json")],
        b"",
    );
    assert_test_sign_in_refused(&r, "idp_error", "User not assigned");
}

#[test]
fn a_test_link_opened_from_another_site_asks_first_and_is_not_spent() {
    let h = Harness::with_orgs();
    let path = mint(&h, b"");
    let r = h.request(Method::GET, &path, &[("sec-fetch-site", "cross-site")], b"");
    assert_eq!(r.status(), 200);
    let page = r.text();
    assert!(page.contains("name=\"test\""), "{page}");
    // Confirmed from our page: the link still works, once.
    let resp = run(&h, &path, groups(&["staff"]), true);
    assert_eq!(json_body(&resp)["member"]["role"], "read");
    assert_eq!(h.get(&path, None).status(), 400);
}
