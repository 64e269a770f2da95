//! Who may administer an org: the authorization matrix of the admin API (operator, an admin of
//! this org by session, an admin of another org, a non-admin member, an expired session, a setup
//! link fresh, used, revoked or expired), CSRF on cookie-authenticated writes, and staging.

mod common;

use common::*;
use edge_sso::app::HeaderExt;
use http::Method;
use serde_json::json;

#[test]
fn an_org_admin_administers_their_own_org_only() {
    let h = Harness::with_orgs();
    let admin = acme_session(&h, "ada@acme.com", &["hub-admins"]);
    for path in [acme_path(""), acme_path("/members"), acme_path("/audit")] {
        assert_eq!(
            console(&h, &admin, Method::GET, &path, None).status(),
            200,
            "{path}"
        );
    }
    let who = console(&h, &admin, Method::GET, "/admin/whoami", None);
    assert_eq!(
        json_body(&who),
        json!({"operator": false, "email": "ada@acme.com", "orgs": [ACME]})
    );
    // Not other orgs, not the org list, not creating, deleting or setup links.
    for (method, path) in [
        (Method::GET, format!("/admin/orgs/{GLOBEX}")),
        (Method::GET, format!("/admin/orgs/{GLOBEX}/members")),
        (Method::GET, "/admin/orgs".into()),
        (Method::DELETE, acme_path("")),
        (Method::POST, acme_path("/setup-link")),
    ] {
        let r = console(&h, &admin, method.clone(), &path, None);
        assert_eq!(r.status(), 401, "{method} {path}");
    }
    let r = console(
        &h,
        &admin,
        Method::PUT,
        "/admin/orgs/newco",
        Some(&Harness::org_body(h.acme_idp(), &["newco.com"])),
    );
    assert_eq!(
        r.status(),
        401,
        "creating an org: nobody administers it yet"
    );
    // Allowed changes apply; domains are not theirs to set.
    let mut body = Harness::org_body(h.acme_idp(), &["acme.com", "bücher.example"]);
    body.as_object_mut().unwrap().remove("client_secret");
    body["session_ttl_secs"] = json!(7200);
    let r = console(&h, &admin, Method::PUT, &acme_path(""), Some(&body));
    assert_eq!(r.status(), 200, "{}", r.text());
    let log = json_body(&h.admin(
        Method::GET,
        &acme_path("/audit?type=org.settings.sso&limit=1"),
        b"",
    ));
    assert_eq!(log["events"][0]["actor"], "ada@acme.com");
    body["domains"] = json!(["acme.com", "bücher.example", "evil.example"]);
    let r = console(&h, &admin, Method::PUT, &acme_path(""), Some(&body));
    assert_eq!(r.status(), 403);
    assert_eq!(json_body(&r)["field"], "domains");
    // Members, revoke, SCIM token.
    assert_eq!(
        console(&h, &admin, Method::POST, &acme_path("/scim-token"), None).status(),
        201
    );
    let r = console(
        &h,
        &admin,
        Method::POST,
        &acme_path("/revoke"),
        Some(&json!({"email": "someone@acme.com"})),
    );
    assert_eq!(r.status(), 200);
}

#[test]
fn members_who_are_not_admins_and_expired_sessions_get_nothing() {
    let h = Harness::with_orgs();
    let reader = acme_session(&h, "bob@acme.com", &["staff"]);
    assert_eq!(
        console(&h, &reader, Method::GET, &acme_path(""), None).status(),
        401
    );
    assert_eq!(
        console(&h, &reader, Method::GET, "/admin/whoami", None).status(),
        401
    );
    let admin = acme_session(&h, "ada@acme.com", &["hub-admins"]);
    h.clock.advance(3600);
    assert_eq!(
        console(&h, &admin, Method::GET, &acme_path(""), None).status(),
        401,
        "expired"
    );
    let r = h.request(Method::GET, &acme_path(""), &[], b"");
    assert_eq!(r.status(), 401, "nothing at all");
}

#[test]
fn cookie_authenticated_writes_must_come_from_our_origin_as_json() {
    let h = Harness::with_orgs();
    let admin = acme_session(&h, "ada@acme.com", &["hub-admins"]);
    let body = json!({"email": "x@acme.com"}).to_string();
    for (headers, what) in [
        (
            vec![
                ("origin", "https://evil.example"),
                ("content-type", "application/json"),
            ],
            "foreign Origin",
        ),
        (
            vec![
                ("sec-fetch-site", "cross-site"),
                ("origin", ORIGIN),
                ("content-type", "application/json"),
            ],
            "cross-site",
        ),
        (
            vec![
                ("sec-fetch-site", "same-site"),
                ("content-type", "application/json"),
            ],
            "same-site sibling",
        ),
        (vec![("content-type", "application/json")], "no Origin"),
        (
            vec![
                ("sec-fetch-site", "same-origin"),
                ("content-type", "text/plain"),
            ],
            "a form's content type",
        ),
        (
            vec![
                ("sec-fetch-site", "same-origin"),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            "a form",
        ),
    ] {
        let mut all = vec![("cookie", admin.as_str())];
        all.extend(headers);
        let r = h.request(Method::POST, &acme_path("/revoke"), &all, body.as_bytes());
        assert_eq!(r.status(), 403, "{what}: {}", r.text());
        assert_eq!(json_body(&r)["error"], "cross_site", "{what}");
    }
    let list = h.admin(
        Method::GET,
        &acme_path("/audit?type=org.member.revoked"),
        b"",
    );
    assert_eq!(json_body(&list)["events"], json!([]), "nothing was revoked");
}

#[test]
fn sign_in_changes_of_an_enforced_org_by_its_admin_are_staged_until_the_operator_applies_them() {
    let h = Harness::with_orgs();
    let admin = acme_session(&h, "ada@acme.com", &["hub-admins"]);
    let mut body = Harness::org_body(h.acme_idp(), &["acme.com", "bücher.example"]);
    body["client_id"] = json!("a-new-client");
    body["client_secret"] = json!("a-new-secret");
    let r = console(&h, &admin, Method::PUT, &acme_path(""), Some(&body));
    assert_eq!(r.status(), 202, "{}", r.text());
    assert_eq!(json_body(&r)["staged"]["client_id"], "a-new-client");
    let active = json_body(&console(&h, &admin, Method::GET, &acme_path(""), None));
    assert_eq!(active["client_id"], h.acme_idp().client_id, "not applied");
    assert_eq!(active["staged"]["client_id"], "a-new-client");
    assert!(active["staged"].get("client_secret").is_none());
    // Sign-in still works with the active settings.
    assert!(h.me(&h.login("carl@acme.com", None)).status() == 200);
    // The org admin cannot apply without a test sign-in; the operator can.
    let r = console(&h, &admin, Method::POST, &acme_path("/staged/apply"), None);
    assert_eq!(r.status(), 403);
    let r = h.admin(Method::POST, &acme_path("/staged/apply"), b"");
    assert_eq!(r.status(), 200, "{}", r.text());
    let now = json_body(&h.admin(Method::GET, &acme_path(""), b""));
    assert_eq!(now["client_id"], "a-new-client");
    assert!(now.get("staged").is_none());
    assert_eq!(
        h.admin(Method::DELETE, &acme_path("/staged"), b"").status(),
        404
    );
}

#[test]
fn a_setup_link_opens_one_orgs_console_until_an_admin_signs_in() {
    let h = Harness::with_orgs();
    let r = h.admin(Method::POST, &acme_path("/setup-link"), b"");
    assert_eq!(r.status(), 201, "{}", r.text());
    let url = url::Url::parse(json_body(&r)["url"].as_str().unwrap()).unwrap();
    assert_eq!(url.path(), "/admin/setup");
    let token = url
        .query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();
    h.secret(token.split_once('.').unwrap().1);
    let open = h.get(&format!("/admin/setup?{}", url.query().unwrap()), None);
    assert_eq!(open.status(), 303, "{}", open.text());
    assert_eq!(
        open.header("location"),
        Some(format!("/admin#org={ACME}").as_str())
    );
    let cookie_value = set_cookie_value(&open, "__Host-sso_setup").unwrap();
    let cookie = format!("__Host-sso_setup={cookie_value}");
    assert_eq!(
        console(&h, &cookie, Method::GET, &acme_path(""), None).status(),
        200
    );
    assert_eq!(
        console(
            &h,
            &cookie,
            Method::GET,
            &format!("/admin/orgs/{GLOBEX}"),
            None
        )
        .status(),
        401
    );
    assert_eq!(
        json_body(&console(&h, &cookie, Method::GET, "/admin/whoami", None))["orgs"],
        json!([ACME])
    );
    // A forged token does nothing.
    assert_eq!(
        h.get("/admin/setup?token=acme-corp.forged", None).status(),
        400
    );
    // The first admin sign-in ends it.
    acme_session(&h, "ada@acme.com", &["hub-admins"]);
    assert_eq!(
        console(&h, &cookie, Method::GET, &acme_path(""), None).status(),
        401,
        "used"
    );
    assert_eq!(
        h.get(&format!("/admin/setup?{}", url.query().unwrap()), None)
            .status(),
        400
    );
    // Revoked and expired links.
    let fresh = |h: &Harness| {
        let r = h.admin(Method::POST, &acme_path("/setup-link"), b"");
        let url = url::Url::parse(json_body(&r)["url"].as_str().unwrap()).unwrap();
        format!("/admin/setup?{}", url.query().unwrap())
    };
    let link = fresh(&h);
    assert_eq!(
        h.admin(Method::DELETE, &acme_path("/setup-link"), b"")
            .status(),
        204
    );
    assert_eq!(h.get(&link, None).status(), 400, "revoked");
    let link = fresh(&h);
    h.clock.advance(7 * 86_400);
    assert_eq!(h.get(&link, None).status(), 400, "expired");
}

#[test]
fn a_setup_link_opened_from_another_site_names_the_org_before_it_sets_its_cookie() {
    // A hostile page (or a link in webmail) navigating to an attacker's own org's setup link
    // must not plant that org's setup cookie: the visitor would take its console for theirs.
    let h = Harness::with_orgs();
    let r = h.admin(Method::POST, &acme_path("/setup-link"), b"");
    let url = url::Url::parse(json_body(&r)["url"].as_str().unwrap()).unwrap();
    let link = format!("/admin/setup?{}", url.query().unwrap());
    let token = url
        .query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();
    for site in ["cross-site", "same-site"] {
        let r = h.request(
            Method::GET,
            &link,
            &[("sec-fetch-site", site), ("accept", "text/html")],
            b"",
        );
        assert_eq!(r.status(), 200, "{site}: {}", r.text());
        assert_eq!(set_cookie_value(&r, "__Host-sso_setup"), None, "{site}");
        assert_eq!(r.header("cache-control"), Some("no-store"), "{site}");
        assert!(r.header("content-security-policy").is_some());
        let page = r.text();
        assert!(page.contains(&format!("<strong>{ACME}</strong>")), "{page}");
        assert!(page.contains("action=\"/admin/setup\""), "{page}");
        assert!(
            page.contains(&format!("name=\"token\" value=\"{token}\"")),
            "{page}"
        );
    }
    // The button: the same URL from our own page opens the console.
    let r = h.request(
        Method::GET,
        &link,
        &[("sec-fetch-site", "same-origin"), ("accept", "text/html")],
        b"",
    );
    assert_eq!(r.status(), 303, "{}", r.text());
    assert!(set_cookie_value(&r, "__Host-sso_setup").is_some());
    // A bad link from another site is still the error page, not a confirmation.
    let r = h.request(
        Method::GET,
        "/admin/setup?token=acme-corp.forged",
        &[("sec-fetch-site", "cross-site"), ("accept", "text/html")],
        b"",
    );
    assert_eq!(r.status(), 400);
}

#[test]
fn a_setup_link_that_does_not_open_is_a_page_for_the_browser_that_followed_it() {
    // The IT admin opens the link from an email or chat: a browser navigation, which gets the
    // error page like every other failure a browser sees (README "Routes"), not raw JSON.
    let h = Harness::with_orgs();
    let r = h.request(
        Method::GET,
        "/admin/setup?token=acme-corp.forged",
        &[("accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
        b"",
    );
    assert_eq!(r.status(), 400);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{:?}",
        r.header("content-type")
    );
    assert!(r.header("content-security-policy").is_some());
    assert!(
        r.text().contains("This setup link is not valid"),
        "{}",
        r.text()
    );
    // An API client that asks for JSON still gets it.
    let r = h.request(
        Method::GET,
        "/admin/setup?token=acme-corp.forged",
        &[("accept", "application/json")],
        b"",
    );
    assert_eq!(r.status(), 400);
    assert_eq!(json_body(&r)["error"], "invalid_request");
}

#[test]
fn deleting_an_org_forgets_its_staged_settings() {
    let h = Harness::with_orgs();
    let admin = acme_session(&h, "ada@acme.com", &["hub-admins"]);
    // Acme's admin stages a move to another IdP, and it passes its test sign-in.
    let staged_body = Harness::org_body(h.globex_idp(), &["acme.com", "bücher.example"]);
    let r = console(&h, &admin, Method::PUT, &acme_path(""), Some(&staged_body));
    assert_eq!(r.status(), 202, "{}", r.text());
    mark_staged_tested(&h, "ada@acme.com");
    // The org is deleted; later the slug is given to another customer.
    assert_eq!(h.admin(Method::DELETE, &acme_path(""), b"").status(), 204);
    let newco = Harness::org_body(h.acme_idp(), &["newco.example"]);
    assert_eq!(h.put_org(ACME, &newco).status(), 201);
    // The old org's staged settings (its IdP, its domains) are not the new org's.
    let org = json_body(&h.admin(Method::GET, &acme_path(""), b""));
    assert!(org.get("staged").is_none(), "{org}");
    assert_eq!(
        h.admin(Method::GET, &acme_path("/staged"), b"").status(),
        404
    );
    assert_eq!(
        h.admin(Method::POST, &acme_path("/staged/apply"), b"")
            .status(),
        404
    );
    let org = json_body(&h.admin(Method::GET, &acme_path(""), b""));
    assert_eq!(org["domains"], json!(["newco.example"]));
}

#[test]
fn applying_staged_settings_keeps_the_domains_the_operator_set_since() {
    let h = Harness::with_orgs();
    let admin = acme_session(&h, "ada@acme.com", &["hub-admins"]);
    let mut staged_body = Harness::org_body(h.acme_idp(), &["acme.com", "bücher.example"]);
    staged_body["client_secret"] = json!("a-new-secret");
    let r = console(&h, &admin, Method::PUT, &acme_path(""), Some(&staged_body));
    assert_eq!(r.status(), 202, "{}", r.text());
    // The operator takes bücher.example away from acme while the change waits.
    let active = Harness::org_body(h.acme_idp(), &["acme.com"]);
    assert_eq!(h.put_org(ACME, &active).status(), 200);
    // The staged settings pass their test sign-in; the org admin applies them.
    mark_staged_tested(&h, "ada@acme.com");
    let r = console(&h, &admin, Method::POST, &acme_path("/staged/apply"), None);
    assert_eq!(r.status(), 200, "{}", r.text());
    // Applied: the new secret, but not the domain the operator removed (an org admin never
    // sets domains).
    let now = json_body(&h.admin(Method::GET, &acme_path(""), b""));
    assert_eq!(now["domains"], json!(["acme.com"]), "{now}");
    let dir = edge_sso::core::directory::OrgDirectory::new(&h.store);
    let domain = edge_sso::core::email::EmailDomain::parse("bücher.example").unwrap();
    assert_eq!(
        edge_sso::core::store::block_on(dir.lookup_domain(&domain))
            .unwrap()
            .map(|c| c.slug.to_string()),
        None,
        "the removed domain does not route to acme again"
    );
    // It is free for the org the operator gives it to.
    let globex = Harness::org_body(h.globex_idp(), &["globex.com", "bücher.example"]);
    assert_eq!(h.put_org(GLOBEX, &globex).status(), 200);
}

#[test]
fn applying_staged_settings_keeps_the_changes_made_since_staging() {
    let h = Harness::with_orgs();
    let admin = acme_session(&h, "ada@acme.com", &["hub-admins"]);
    // Acme's admin stages a move to another IdP.
    let staged_body = Harness::org_body(h.globex_idp(), &["acme.com", "bücher.example"]);
    let r = console(&h, &admin, Method::PUT, &acme_path(""), Some(&staged_body));
    assert_eq!(r.status(), 202, "{}", r.text());
    // Meanwhile the operator changes the role rules and the session lifetime.
    let mut active = Harness::org_body(h.acme_idp(), &["acme.com", "bücher.example"]);
    active["role_mapping"] = json!([
        {"claim": "groups", "value": "hub-admins", "role": "admin"},
        {"claim": "groups", "value": "writers", "role": "write"},
    ]);
    active["session_ttl_secs"] = json!(900);
    assert_eq!(h.put_org(ACME, &active).status(), 200);
    // The staged settings pass their test sign-in; the org admin applies them.
    mark_staged_tested(&h, "ada@acme.com");
    let r = console(&h, &admin, Method::POST, &acme_path("/staged/apply"), None);
    assert_eq!(r.status(), 200, "{}", r.text());
    // The staged IdP, and the operator's rules and lifetime.
    let now = json_body(&h.admin(Method::GET, &acme_path(""), b""));
    assert_eq!(now["issuer"], h.globex_idp().issuer, "{now}");
    assert_eq!(now["client_id"], h.globex_idp().client_id);
    assert_eq!(now["role_mapping"], active["role_mapping"]);
    assert_eq!(now["session_ttl_secs"], 900);
    assert!(now.get("staged").is_none());
    let log = json_body(&h.admin(
        Method::GET,
        &acme_path("/audit?type=org.settings.sso&limit=1"),
        b"",
    ));
    let applied = &log["events"][0];
    assert_eq!(applied["actor"], "ada@acme.com");
    assert_eq!(
        applied["detail"]["changes"]["issuer"]["new"],
        h.globex_idp().issuer
    );
    assert!(applied["detail"]["changes"].get("role_mapping").is_none());
    assert!(applied["detail"].get("overridden").is_none(), "{applied}");
}

#[test]
fn a_setting_changed_both_in_staging_and_since_takes_the_staged_value_and_is_named() {
    let h = Harness::with_orgs();
    let admin = acme_session(&h, "ada@acme.com", &["hub-admins"]);
    // Acme's admin stages a new secret and a default role of `write`.
    let mut staged_body = Harness::org_body(h.acme_idp(), &["acme.com", "bücher.example"]);
    staged_body["client_secret"] = json!("a-new-secret");
    staged_body["default_role"] = json!("write");
    let r = console(&h, &admin, Method::PUT, &acme_path(""), Some(&staged_body));
    assert_eq!(r.status(), 202, "{}", r.text());
    // Meanwhile the operator denies members no rule matches, and shortens sessions.
    let mut active = Harness::org_body(h.acme_idp(), &["acme.com", "bücher.example"]);
    active["default_role"] = json!(null);
    active["session_ttl_secs"] = json!(900);
    assert_eq!(h.put_org(ACME, &active).status(), 200);
    // The operator applies: the staged default role wins, and the audit says it replaced one.
    let r = h.admin(Method::POST, &acme_path("/staged/apply"), b"");
    assert_eq!(r.status(), 200, "{}", r.text());
    let now = json_body(&r);
    assert_eq!(now["default_role"], "write", "{now}");
    assert_eq!(now["session_ttl_secs"], 900);
    let log = json_body(&h.admin(
        Method::GET,
        &acme_path("/audit?type=org.settings.sso&limit=1"),
        b"",
    ));
    let applied = &log["events"][0];
    assert_eq!(
        applied["detail"]["overridden"],
        json!(["default_role"]),
        "{applied}"
    );
    assert_eq!(
        applied["detail"]["changes"]["default_role"],
        json!({"old": null, "new": "write"})
    );
    assert_eq!(
        applied["detail"]["changes"]["client_secret"],
        json!({"changed": true})
    );
}

#[test]
fn staged_settings_stored_before_bases_were_kept_apply_whole() {
    use edge_sso::core::directory::OrgDirectory;
    use edge_sso::core::org::{ClientId, OrgSlug};
    use edge_sso::core::store::{block_on, KvStore};
    let h = Harness::with_orgs();
    // A record of the old form: the bare staged config (its domains those of that moment).
    let slug = OrgSlug::parse(ACME).unwrap();
    let mut legacy = block_on(OrgDirectory::new(&h.store).get(&slug))
        .unwrap()
        .unwrap();
    legacy.client_id = ClientId::parse("a-new-client").unwrap();
    let raw = serde_json::to_string(&legacy).unwrap();
    block_on(h.store.put(&format!("org-staged:{ACME}"), &raw, None)).unwrap();
    let staged = h.admin(Method::GET, &acme_path("/staged"), b"");
    assert_eq!(
        json_body(&staged)["client_id"],
        "a-new-client",
        "{}",
        staged.text()
    );
    // Since: the operator shortens sessions and takes bücher.example away.
    let mut active = Harness::org_body(h.acme_idp(), &["acme.com"]);
    active["session_ttl_secs"] = json!(900);
    assert_eq!(h.put_org(ACME, &active).status(), 200);
    // Applied as it always was: the whole staged config, with the domains as they are now.
    let r = h.admin(Method::POST, &acme_path("/staged/apply"), b"");
    assert_eq!(r.status(), 200, "{}", r.text());
    let now = json_body(&h.admin(Method::GET, &acme_path(""), b""));
    assert_eq!(now["client_id"], "a-new-client", "{now}");
    assert_eq!(now["session_ttl_secs"], 3600, "the staged copy's");
    assert_eq!(now["domains"], json!(["acme.com"]));
    assert!(now.get("staged").is_none());
}

/// What a test sign-in as `email` with acme's staged settings records (see test_login_flow).
fn mark_staged_tested(h: &Harness, email: &str) {
    use edge_sso::core::org::OrgSlug;
    use edge_sso::core::staging::Staging;
    use edge_sso::core::store::block_on;
    let slug = OrgSlug::parse(ACME).unwrap();
    let staging = Staging::new(&h.store);
    let staged = block_on(staging.get(&slug)).unwrap().expect("staged");
    // A test signs in with the staged change applied to the org's config as it is now.
    let current = block_on(edge_sso::core::directory::OrgDirectory::new(&h.store).get(&slug))
        .unwrap()
        .expect("org");
    let named = staged.test_digest(&current).unwrap();
    use edge_sso::core::clock::Clock;
    let now = h.clock.now();
    block_on(staging.mark_tested(&slug, &named, email, now)).unwrap();
}
