//! Offboarding through the app on its native ports: admin revoke, the member list, the SCIM
//! token, org deletion and provisioning, against the in-memory ledger (the Durable Object's
//! logic, through its wire and row formats).

mod common;

use common::*;
use edge_sso::app::{HeaderExt, Response};
use http::Method as InMethod;
use serde_json::{json, Value};

fn revoke(h: &Harness, body: &Value) -> Response {
    h.admin(
        InMethod::POST,
        &format!("/admin/orgs/{ACME}/revoke"),
        body.to_string().as_bytes(),
    )
}

fn signed_in_to_acme(h: &Harness, id: &str) -> bool {
    let me = h.me(id);
    me.status() == 200 && json_body(&me)["orgs"].get(ACME).is_some()
}

#[test]
fn admin_revoke_by_email_ends_the_members_sessions_at_once_and_a_new_sign_in_works() {
    let h = Harness::with_orgs();
    let id = h.login("ada@acme.com", None);
    assert!(signed_in_to_acme(&h, &id));
    let r = revoke(&h, &json!({ "email": "ADA@acme.com" }));
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(json_body(&r), json!({ "revoked": 1 }));
    assert!(
        !signed_in_to_acme(&h, &id),
        "this isolate sees the revocation at once"
    );
    // Signing in again (the same second) gives a live session.
    let again = h.login("ada@acme.com", None);
    assert!(signed_in_to_acme(&h, &again));
}

#[test]
fn admin_revoke_by_sub_and_all() {
    let h = Harness::with_orgs();
    let a = h.login("ada@acme.com", None);
    let r = revoke(&h, &json!({ "sub": "user-42" }));
    assert_eq!(json_body(&r), json!({ "revoked": 1 }));
    assert!(!signed_in_to_acme(&h, &a));
    let b = h.login("ada@acme.com", None);
    h.clock.advance(1);
    let r = revoke(&h, &json!({ "all": true }));
    assert_eq!(json_body(&r), json!({ "revoked": 1 }));
    assert!(!signed_in_to_acme(&h, &b));
}

#[test]
fn a_revoke_body_that_is_not_exactly_one_selector_is_400_naming_the_field() {
    let h = Harness::with_orgs();
    let id = h.login("ada@acme.com", None);
    for (body, field) in [
        (json!({}), "body"),
        (json!([]), "body"),
        (json!({ "email": "a@acme.com", "sub": "x" }), "body"),
        (json!({ "email": 1 }), "email"),
        (json!({ "email": "" }), "email"),
        (json!({ "email": "not-an-email" }), "email"),
        (json!({ "sub": "" }), "sub"),
        (json!({ "sub": "x".repeat(400) }), "sub"),
        (json!({ "all": false }), "all"),
        (json!({ "all": "true" }), "all"),
        (json!({ "everyone": true }), "everyone"),
    ] {
        let r = revoke(&h, &body);
        assert_eq!(r.status(), 400, "{body}: {}", r.text());
        assert_eq!(json_body(&r)["error"], "invalid_field", "{body}");
        assert_eq!(json_body(&r)["field"], field, "{body}");
    }
    let r = h.admin(
        InMethod::POST,
        &format!("/admin/orgs/{ACME}/revoke"),
        b"{not json",
    );
    assert_eq!(r.status(), 400);
    assert!(signed_in_to_acme(&h, &id), "nothing was revoked");
}

#[test]
fn revoke_needs_the_admin_token_and_an_existing_org() {
    let h = Harness::with_orgs();
    let r = h.request(
        InMethod::POST,
        &format!("/admin/orgs/{ACME}/revoke"),
        &[("content-type", "application/json")],
        br#"{"all":true}"#,
    );
    assert_eq!(r.status(), 401);
    let r = h.admin(
        InMethod::POST,
        "/admin/orgs/nobody/revoke",
        br#"{"all":true}"#,
    );
    assert_eq!(r.status(), 404);
    assert_eq!(json_body(&r)["error"], "unknown_org");
}

#[test]
fn members_are_listed_with_role_source_last_login_and_live_sessions_in_pages() {
    let h = Harness::with_orgs();
    h.login("ada@acme.com", None);
    let list = h.admin(InMethod::GET, &format!("/admin/orgs/{ACME}/members"), b"");
    assert_eq!(list.status(), 200, "{}", list.text());
    let v = json_body(&list);
    let m = &v["members"][0];
    assert_eq!(m["email"], "ada@acme.com");
    assert_eq!(m["sub"], "user-42");
    assert_eq!(m["active"], true);
    assert_eq!(m["source"], "sso");
    assert_eq!(m["last_login"], T0);
    assert_eq!(m["sessions"], 1);
    assert!(m["id"].is_string());
    assert_eq!(v["next_cursor"], Value::Null);
    for bad in ["limit=0", "limit=201", "limit=x", "cursor="] {
        let r = h.admin(
            InMethod::GET,
            &format!("/admin/orgs/{ACME}/members?{bad}"),
            b"",
        );
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(json_body(&r)["error"], "invalid_field");
    }
}

#[test]
fn the_scim_token_is_shown_once_and_can_be_replaced_or_disabled() {
    let h = Harness::with_orgs();
    let r = h.admin(
        InMethod::POST,
        &format!("/admin/orgs/{ACME}/scim-token"),
        b"",
    );
    assert_eq!(r.status(), 201, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let v = json_body(&r);
    let token = v["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 43);
    assert_eq!(v["base_url"], format!("{ORIGIN}/scim/v2/{ACME}"));
    h.secret(&token);
    let r = h.admin(
        InMethod::POST,
        &format!("/admin/orgs/{ACME}/scim-token"),
        b"",
    );
    assert_ne!(json_body(&r)["token"], token, "minting again replaces it");
    let r = h.admin(
        InMethod::DELETE,
        &format!("/admin/orgs/{ACME}/scim-token"),
        b"",
    );
    assert_eq!(r.status(), 204);
    h.assert_logs_clean();
}

#[test]
fn deleting_an_org_revokes_every_session_of_it_and_recreating_it_does_not_revive_them() {
    let h = Harness::with_orgs();
    let id = h.login("ada@acme.com", None);
    let r = h.admin(InMethod::DELETE, &format!("/admin/orgs/{ACME}"), b"");
    assert_eq!(r.status(), 204);
    let acme = Harness::org_body(h.acme_idp(), &["acme.com"]);
    assert_eq!(h.put_org(ACME, &acme).status(), 201);
    assert!(!signed_in_to_acme(&h, &id));
    let list = h.admin(InMethod::GET, &format!("/admin/orgs/{ACME}/members"), b"");
    assert_eq!(json_body(&list)["members"], json!([]));
}

#[test]
fn with_provisioning_scim_an_unprovisioned_member_is_refused_403_not_provisioned() {
    let h = Harness::with_orgs();
    let mut acme = Harness::org_body(h.acme_idp(), &["acme.com", "bücher.example"]);
    acme["provisioning"] = json!("scim");
    assert_eq!(h.put_org(ACME, &acme).status(), 200);
    let started = h.start("ada@acme.com");
    let cb = h.authorize(&started, Consent::default());
    let resp = h.callback(&cb, Some(&started.tx_cookie), None);
    assert_eq!(resp.status(), 403, "{}", resp.text());
    assert!(resp.text().contains("not been provisioned"));
    assert_no_session_cookie(&resp);
    acme["provisioning"] = json!("everyone");
    let r = h.put_org(ACME, &acme);
    assert_eq!(r.status(), 400);
    assert_eq!(json_body(&r)["field"], "provisioning");
}

#[test]
fn an_unreachable_ledger_fails_closed_for_sign_in_and_sessions() {
    let h = Harness::with_orgs();
    let id = h.login("ada@acme.com", None);
    h.clock.advance(60);
    h.ledger.fail.set(true);
    assert!(!signed_in_to_acme(&h, &id));
    let started = h.start("ada@acme.com");
    let cb = h.authorize(&started, Consent::default());
    let resp = h.callback(&cb, Some(&started.tx_cookie), None);
    assert_eq!(resp.status(), 503, "{}", resp.text());
    assert_no_session_cookie(&resp);
}
