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
fn admin_revoke_by_an_email_with_an_international_domain_as_people_write_it() {
    // Sessions hold the address with its domain normalised (`xn--bcher-kva.example`); the
    // operator writes it as the people it names do.
    let h = Harness::with_orgs();
    let id = h.login("ann@bücher.example", None);
    assert!(signed_in_to_acme(&h, &id));
    let r = revoke(&h, &json!({ "email": "Ann@BÜCHER.example" }));
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(json_body(&r), json!({ "revoked": 1 }));
    assert!(!signed_in_to_acme(&h, &id), "the session is revoked");
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

// =============================================================================================
// SCIM

/// Signs `email` in with `edit` applied to the ID token's claims; the response.
fn sign_in_with(h: &Harness, email: &str, edit: impl FnOnce(&mut Value) + 'static) -> Response {
    let started = h.start(email);
    let cb = h.authorize(&started, Consent::claims(edit));
    h.callback(&cb, Some(&started.tx_cookie), None)
}

fn session_of(resp: &Response) -> String {
    assert_eq!(resp.status(), 302, "{}", resp.text());
    set_cookie_value(resp, SESSION_COOKIE).expect("session cookie")
}

fn scim_token(h: &Harness, slug: &str) -> String {
    let r = h.admin(
        InMethod::POST,
        &format!("/admin/orgs/{slug}/scim-token"),
        b"",
    );
    assert_eq!(r.status(), 201);
    let t = json_body(&r)["token"].as_str().unwrap().to_owned();
    h.secret(&t);
    t
}

fn scim(h: &Harness, token: &str, method: InMethod, path: &str, body: Option<Value>) -> Response {
    let auth = format!("Bearer {token}");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    h.request(
        method,
        &format!("/scim/v2/{ACME}{path}"),
        &[
            ("authorization", &auth),
            ("content-type", "application/scim+json"),
        ],
        body.as_bytes(),
    )
}

/// Creates SCIM user `user_name` (`externalId` `external_id`) in [`ACME`]; its SCIM id.
fn create_user(h: &Harness, token: &str, user_name: &str, external_id: &str) -> String {
    let body = scim_user(user_name, external_id);
    let r = scim(h, token, InMethod::POST, "/Users", Some(body));
    assert_eq!(r.status(), 201, "{}", r.text());
    json_body(&r)["id"].as_str().unwrap().to_owned()
}

/// A SCIM PATCH of user `id` with `operations`.
fn patch_user(h: &Harness, token: &str, id: &str, operations: Value) -> Response {
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": operations,
    });
    scim(
        h,
        token,
        InMethod::PATCH,
        &format!("/Users/{id}"),
        Some(patch),
    )
}

fn scim_user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "externalId": external_id,
        "active": true,
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
    })
}

/// Anonymous requests for a slug no org has never reach a Durable Object (on the edge, calling
/// one creates it): SCIM answers them as a wrong token, the setup link as an invalid one.
#[test]
fn requests_for_an_org_that_does_not_exist_never_reach_a_ledger() {
    let h = Harness::with_orgs();
    let calls = h.ledger.calls.get();
    let r = h.request(
        InMethod::GET,
        "/scim/v2/no-such-org/Users",
        &[("authorization", "Bearer guess")],
        b"",
    );
    assert_eq!(r.status(), 401);
    assert_eq!(
        json_body(&r)["detail"],
        "A valid SCIM bearer token for this organisation is required.",
        "the same answer as a wrong token of an org that exists"
    );
    let r = h.get("/admin/setup?token=no-such-org.guess", None);
    assert_eq!(r.status(), 400);
    let r = h.request(
        InMethod::GET,
        "/admin/orgs/no-such-org",
        &[("cookie", "__Host-sso_setup=no-such-org.guess")],
        b"",
    );
    assert_eq!(r.status(), 401, "{}", r.text());
    assert_eq!(h.ledger.calls.get(), calls, "no ledger was asked");
    // An org that exists still is.
    let r = h.request(
        InMethod::GET,
        &format!("/scim/v2/{ACME}/Users"),
        &[("authorization", "Bearer guess")],
        b"",
    );
    assert_eq!(r.status(), 401);
    assert_eq!(h.ledger.calls.get(), calls + 1);
}

#[test]
fn scim_needs_the_orgs_own_token_and_answers_in_the_scim_error_schema() {
    let h = Harness::with_orgs();
    let acme = scim_token(&h, ACME);
    let globex = scim_token(&h, GLOBEX);
    for (auth, what) in [
        (None, "no token"),
        (Some("Bearer wrong-token".to_owned()), "wrong token"),
        (Some(format!("Bearer {globex}")), "another org's token"),
        (Some(format!("Basic {acme}")), "not a bearer token"),
    ] {
        let mut headers = vec![];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        let r = h.request(
            InMethod::GET,
            &format!("/scim/v2/{ACME}/Users"),
            &headers,
            b"",
        );
        assert_eq!(r.status(), 401, "{what}");
        assert_eq!(
            r.header("content-type"),
            Some("application/scim+json"),
            "{what}"
        );
        let v = json_body(&r);
        assert_eq!(
            v["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert_eq!(v["status"], "401");
    }
    let ok = scim(&h, &acme, InMethod::GET, "/ServiceProviderConfig", None);
    assert_eq!(ok.status(), 200);
    // A disabled token stops working.
    h.admin(
        InMethod::DELETE,
        &format!("/admin/orgs/{ACME}/scim-token"),
        b"",
    );
    assert_eq!(scim(&h, &acme, InMethod::GET, "/Users", None).status(), 401);
}

#[test]
fn entra_deactivation_ends_the_session_and_refuses_sign_in_until_reactivated() {
    let h = Harness::with_orgs();
    let token = scim_token(&h, ACME);
    // Entra: look the user up, create it.
    let r = scim(
        &h,
        &token,
        InMethod::GET,
        "/Users?filter=userName+eq+%22ada%40acme.com%22",
        None,
    );
    assert_eq!(json_body(&r)["totalResults"], 0);
    let r = scim(
        &h,
        &token,
        InMethod::POST,
        "/Users",
        Some(scim_user("ada@acme.com", "ada")),
    );
    assert_eq!(r.status(), 201, "{}", r.text());
    let id = json_body(&r)["id"].as_str().unwrap().to_owned();
    assert!(r.header("location").unwrap().ends_with(&id));
    let session = h.login("ada@acme.com", None);
    assert!(signed_in_to_acme(&h, &session));
    let list = h.admin(InMethod::GET, &format!("/admin/orgs/{ACME}/members"), b"");
    let members = json_body(&list)["members"].clone();
    assert_eq!(
        members.as_array().unwrap().len(),
        1,
        "SCIM user and sign-in are one member: {members}"
    );
    assert_eq!(members[0]["source"], "scim");
    // Entra deactivates.
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    });
    let r = scim(
        &h,
        &token,
        InMethod::PATCH,
        &format!("/Users/{id}"),
        Some(patch),
    );
    assert_eq!(r.status(), 200, "{}", r.text());
    assert!(!signed_in_to_acme(&h, &session));
    let r = sign_in_with(&h, "ada@acme.com", |_| {});
    assert_eq!(r.status(), 403, "{}", r.text());
    assert!(r.text().contains("deactivated"));
    // Reactivated: signing in works again; the old session stays dead.
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "True"}],
    });
    scim(
        &h,
        &token,
        InMethod::PATCH,
        &format!("/Users/{id}"),
        Some(patch),
    );
    h.clock.advance(1);
    let again = session_of(&sign_in_with(&h, "ada@acme.com", |_| {}));
    assert!(signed_in_to_acme(&h, &again));
    assert!(!signed_in_to_acme(&h, &session));
    // Entra deletes: ended and refused again.
    let r = scim(&h, &token, InMethod::DELETE, &format!("/Users/{id}"), None);
    assert_eq!(r.status(), 204);
    assert!(!signed_in_to_acme(&h, &again));
    assert_eq!(sign_in_with(&h, "ada@acme.com", |_| {}).status(), 403);
}

#[test]
fn okta_deactivation_by_a_pathless_replace_ends_the_session() {
    let h = Harness::with_orgs();
    let token = scim_token(&h, ACME);
    let id = create_user(&h, &token, "ada@acme.com", "user-42");
    let session = h.login("ada@acme.com", None);
    let disable = json!([{"op": "replace", "value": {"active": false}}]);
    assert_eq!(patch_user(&h, &token, &id, disable).status(), 200);
    assert!(!signed_in_to_acme(&h, &session));
    let list = h.admin(InMethod::GET, &format!("/admin/orgs/{ACME}/members"), b"");
    assert_eq!(json_body(&list)["members"][0]["active"], false);
}

#[test]
fn deactivating_a_scim_user_with_an_international_domain_ends_the_session() {
    // The IdP writes the domain as people do; sessions carry it IDNA-normalised. The
    // externalId is not the OIDC subject (Entra's object id and pairwise `sub`), so the
    // user is matched by email.
    let h = Harness::with_orgs();
    let token = scim_token(&h, ACME);
    let id = create_user(&h, &token, "ann@bücher.example", "object-id-1");
    let session = h.login("ann@bücher.example", None);
    assert!(signed_in_to_acme(&h, &session));
    let disable = json!([{"op": "replace", "value": {"active": false}}]);
    let r = patch_user(&h, &token, &id, disable);
    assert_eq!(r.status(), 200, "{}", r.text());
    assert!(!signed_in_to_acme(&h, &session), "deprovisioned");
    let r = sign_in_with(&h, "ann@bücher.example", |_| {});
    assert_eq!(r.status(), 403, "{}", r.text());
}

#[test]
fn deactivating_a_scim_user_whose_email_changes_in_the_same_patch_ends_the_session() {
    // A common offboarding step: the account is renamed to an archive address and disabled in
    // one update. The externalId is not the OIDC subject (Entra's default mapping), so the
    // session is known by the subject its sign-in recorded, not by the SCIM user's new email.
    let h = Harness::with_orgs();
    let token = scim_token(&h, ACME);
    let id = create_user(&h, &token, "ann@acme.com", "object-id-1");
    let session = h.login("ann@acme.com", None);
    assert!(signed_in_to_acme(&h, &session));
    let rename_and_disable = json!([
        {"op": "replace", "path": "emails", "value": [
            {"value": "ann.archived@acme.com", "type": "work", "primary": true},
        ]},
        {"op": "replace", "value": {"active": false}},
    ]);
    let r = patch_user(&h, &token, &id, rename_and_disable);
    assert_eq!(r.status(), 200, "{}", r.text());
    assert!(!signed_in_to_acme(&h, &session), "deprovisioned");
    let r = sign_in_with(&h, "ann@acme.com", |_| {});
    assert_eq!(r.status(), 403, "{}", r.text());
}

#[test]
fn with_provisioning_scim_only_provisioned_users_sign_in() {
    let h = Harness::with_orgs();
    let mut acme = Harness::org_body(h.acme_idp(), &["acme.com"]);
    acme["provisioning"] = json!("scim");
    h.put_org(ACME, &acme);
    let token = scim_token(&h, ACME);
    scim(
        &h,
        &token,
        InMethod::POST,
        "/Users",
        Some(scim_user("ada@acme.com", "okta-00u1")),
    );
    let s = session_of(&sign_in_with(&h, "ada@acme.com", |_| {}));
    assert!(signed_in_to_acme(&h, &s));
    let r = sign_in_with(&h, "bob@acme.com", |c| c["sub"] = json!("user-7"));
    assert_eq!(r.status(), 403);
    assert!(r.text().contains("provisioned"));
}

#[test]
fn a_scim_group_role_rule_applies_to_live_sessions_without_a_new_sign_in() {
    let h = Harness::with_orgs();
    let mut acme = Harness::org_body(h.acme_idp(), &["acme.com"]);
    acme["role_mapping"] = json!([{"scim_group": "Engineering", "role": "write"}]);
    h.put_org(ACME, &acme);
    let token = scim_token(&h, ACME);
    let r = scim(
        &h,
        &token,
        InMethod::POST,
        "/Users",
        Some(scim_user("ada@acme.com", "user-42")),
    );
    let uid = json_body(&r)["id"].as_str().unwrap().to_owned();
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Engineering",
        "members": [{"value": uid}],
    });
    let r = scim(&h, &token, InMethod::POST, "/Groups", Some(group));
    assert_eq!(r.status(), 201, "{}", r.text());
    let gid = json_body(&r)["id"].as_str().unwrap().to_owned();
    let s = h.login("ada@acme.com", None);
    let role = |h: &Harness| json_body(&h.me(&s))["orgs"][ACME]["role"].clone();
    assert_eq!(role(&h), "write");
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}],
    });
    assert_eq!(
        scim(
            &h,
            &token,
            InMethod::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch)
        )
        .status(),
        200
    );
    assert_eq!(role(&h), "read", "the default role once out of the group");
}

// =============================================================================================
// Back-channel logout

fn logout_claims(h: &Harness, sub: Option<&str>, sid: Option<&str>, jti: &str) -> Value {
    let idp = h.acme_idp();
    let mut c = json!({
        "iss": idp.issuer,
        "aud": idp.client_id,
        "iat": T0,
        "exp": T0 + 120,
        "jti": jti,
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    });
    if let Some(s) = sub {
        c["sub"] = json!(s);
    }
    if let Some(s) = sid {
        c["sid"] = json!(s);
    }
    c
}

fn backchannel(h: &Harness, slug: &str, token: &str) -> Response {
    let body = format!("logout_token={token}");
    h.request(
        InMethod::POST,
        &format!("/sso/backchannel-logout/{slug}"),
        &[("content-type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
}

#[test]
fn a_backchannel_logout_with_sid_ends_that_idp_session_only_and_a_replay_does_nothing() {
    let h = Harness::with_orgs();
    let s1 = session_of(&sign_in_with(&h, "ada@acme.com", |c| {
        c["sid"] = json!("idp-s1")
    }));
    let s2 = session_of(&sign_in_with(&h, "ada@acme.com", |c| {
        c["sid"] = json!("idp-s2")
    }));
    let idp = h.acme_idp();
    let token = idp.key.sign(
        &idp.kid,
        &logout_claims(&h, Some("user-42"), Some("idp-s1"), "j-1"),
    );
    let r = backchannel(&h, ACME, &token);
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(!signed_in_to_acme(&h, &s1));
    assert!(signed_in_to_acme(&h, &s2));
    h.clock.advance(5);
    let s3 = session_of(&sign_in_with(&h, "ada@acme.com", |c| {
        c["sid"] = json!("idp-s1")
    }));
    assert_eq!(
        backchannel(&h, ACME, &token).status(),
        200,
        "a replay is answered 200"
    );
    assert!(signed_in_to_acme(&h, &s3), "but ends nothing made since");
}

/// The user signs out at the IdP while the code of a sign-in is on its way: the logout token
/// (issued no earlier than the ID token) arrives first, and the callback opens no session.
#[test]
fn a_sign_in_overtaken_by_the_logout_of_its_idp_session_opens_no_session() {
    let h = Harness::with_orgs();
    let started = h.start("ada@acme.com");
    let cb = h.authorize(&started, Consent::claims(|c| c["sid"] = json!("idp-s9")));
    let idp = h.acme_idp();
    let token = idp.key.sign(
        &idp.kid,
        &logout_claims(&h, None, Some("idp-s9"), "j-overtaken"),
    );
    assert_eq!(backchannel(&h, ACME, &token).status(), 200);
    let r = h.callback(&cb, Some(&started.tx_cookie), None);
    assert_eq!(r.status(), 403, "{}", r.text());
    assert!(
        r.text().contains("signed out at your identity provider"),
        "{}",
        r.text()
    );
    assert_no_session_cookie(&r);
    // Signing in again (a later ID token) works.
    h.clock.advance(1);
    let s = session_of(&sign_in_with(&h, "ada@acme.com", |c| {
        c["sid"] = json!("idp-s9")
    }));
    assert!(signed_in_to_acme(&h, &s));
}

#[test]
fn a_backchannel_logout_with_only_sub_ends_every_session_of_the_member() {
    let h = Harness::with_orgs();
    let s1 = session_of(&sign_in_with(&h, "ada@acme.com", |c| c["sid"] = json!("a")));
    let s2 = session_of(&sign_in_with(&h, "ada@acme.com", |c| c["sid"] = json!("b")));
    let idp = h.acme_idp();
    let token = idp
        .key
        .sign(&idp.kid, &logout_claims(&h, Some("user-42"), None, "j-2"));
    assert_eq!(backchannel(&h, ACME, &token).status(), 200);
    assert!(!signed_in_to_acme(&h, &s1));
    assert!(!signed_in_to_acme(&h, &s2));
}

#[test]
fn a_bad_backchannel_logout_request_is_400_invalid_request_and_ends_nothing() {
    let h = Harness::with_orgs();
    let s = session_of(&sign_in_with(&h, "ada@acme.com", |c| c["sid"] = json!("a")));
    let idp = h.acme_idp();
    let good = logout_claims(&h, Some("user-42"), Some("a"), "j-3");
    let mut nonce = good.clone();
    nonce["nonce"] = json!("n");
    let mut aud = good.clone();
    aud["aud"] = json!("someone-else");
    let other_org = h.globex_idp().key.sign(&h.globex_idp().kid, &good);
    for (body, what) in [
        (String::new(), "no token"),
        (
            format!("logout_token={}", idp.key.sign(&idp.kid, &nonce)),
            "nonce present",
        ),
        (
            format!("logout_token={}", idp.key.sign(&idp.kid, &aud)),
            "wrong audience",
        ),
        (format!("logout_token={other_org}"), "another IdP's key"),
        ("logout_token=a&logout_token=b".into(), "two tokens"),
        ("logout_token=not.a.jwt".into(), "garbage"),
    ] {
        let r = h.request(
            InMethod::POST,
            &format!("/sso/backchannel-logout/{ACME}"),
            &[("content-type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        );
        assert_eq!(r.status(), 400, "{what}: {}", r.text());
        assert_eq!(json_body(&r)["error"], "invalid_request", "{what}");
        assert!(json_body(&r)["error_description"].is_string(), "{what}");
    }
    let token = idp.key.sign(&idp.kid, &good);
    let r = backchannel(&h, "nobody", &token);
    assert_eq!(r.status(), 400, "unknown org");
    let r = h.request(
        InMethod::POST,
        &format!("/sso/backchannel-logout/{ACME}"),
        &[("content-type", "application/json")],
        format!("{{\"logout_token\":\"{token}\"}}").as_bytes(),
    );
    assert_eq!(r.status(), 400, "not a form");
    assert!(signed_in_to_acme(&h, &s));
}

// =============================================================================================
// Audit log

fn audit(h: &Harness, query: &str) -> Value {
    let r = h.admin(
        InMethod::GET,
        &format!("/admin/orgs/{ACME}/audit{query}"),
        b"",
    );
    assert_eq!(r.status(), 200, "{}", r.text());
    json_body(&r)
}

#[test]
fn the_audit_log_records_each_offboarding_event_newest_first_without_secrets() {
    let h = Harness::with_orgs();
    let mut acme = Harness::org_body(h.acme_idp(), &["acme.com", "bücher.example"]);
    acme["session_ttl_secs"] = json!(7200);
    assert_eq!(h.put_org(ACME, &acme).status(), 200);
    let token = scim_token(&h, ACME);
    h.login("ada@acme.com", None);
    revoke(&h, &json!({ "email": "ada@acme.com" }));
    let id = create_user(&h, &token, "bob@acme.com", "bob");
    let disable = json!([{"op": "replace", "value": {"active": false}}]);
    patch_user(&h, &token, &id, disable);
    let idp = h.acme_idp();
    let lt = idp.key.sign(
        &idp.kid,
        &logout_claims(&h, Some("user-42"), None, "j-audit"),
    );
    assert_eq!(backchannel(&h, ACME, &lt).status(), 200);

    let log = audit(&h, "");
    let events: Vec<&str> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "org.sso_logout.backchannel",
            "org.member.deprovisioned",
            "org.scim.user.created",
            "org.member.revoked",
            "org.sso_login",
            "org.scim.token.minted",
            "org.settings.sso",
            "org.created",
        ]
    );
    let by = |name: &str| {
        log["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(by("org.sso_login")["actor"], "ada@acme.com");
    assert_eq!(by("org.member.revoked")["actor"], "operator");
    assert_eq!(by("org.member.revoked")["detail"]["revoked"], 1);
    assert_eq!(by("org.member.deprovisioned")["actor"], "scim");
    assert_eq!(by("org.sso_logout.backchannel")["actor"], "idp");
    let settings = by("org.settings.sso");
    assert_eq!(
        settings["detail"]["changes"]["session_ttl_secs"],
        json!({"old": 3600, "new": 7200})
    );
    assert!(
        settings["detail"]["changes"].get("client_secret").is_none(),
        "unchanged"
    );
    for e in log["events"].as_array().unwrap() {
        assert!(e["cid"].as_str().is_some_and(|c| !c.is_empty()), "{e}");
        assert!(e["at"].is_u64(), "{e}");
    }
    // A rotated secret is recorded as changed, never by value.
    acme["client_secret"] = json!("a-rotated-client-secret-value");
    assert_eq!(h.put_org(ACME, &acme).status(), 200);
    let rotated = audit(&h, "?type=org.settings.sso&limit=1");
    assert_eq!(
        rotated["events"][0]["detail"]["changes"],
        json!({"client_secret": {"changed": true}})
    );
    let text = format!("{log}{rotated}");
    for secret in ["a-rotated-client-secret-value", &idp.client_secret, &token] {
        assert!(!text.contains(secret), "a secret in the audit log");
    }
    // Filtered by family, paged by cursor.
    let scim_only = audit(&h, "?type=org.scim");
    assert_eq!(scim_only["events"].as_array().unwrap().len(), 2);
    let page = audit(&h, "?limit=4");
    assert_eq!(page["events"].as_array().unwrap().len(), 4);
    let next = page["next_cursor"].as_u64().unwrap();
    let rest = audit(&h, &format!("?limit=200&cursor={next}"));
    assert_eq!(rest["events"].as_array().unwrap().len(), 5);
    assert_eq!(
        rest["events"][0]["event"], "org.member.revoked",
        "the rotation came first"
    );
    for bad in ["?limit=0", "?cursor=x", "?type=ORG", "?type="] {
        let r = h.admin(
            InMethod::GET,
            &format!("/admin/orgs/{ACME}/audit{bad}"),
            b"",
        );
        assert_eq!(r.status(), 400, "{bad}");
    }
}

#[test]
fn a_refused_sign_in_is_audited_with_its_reason() {
    let h = Harness::with_orgs();
    let token = scim_token(&h, ACME);
    let r = scim(
        &h,
        &token,
        InMethod::POST,
        "/Users",
        Some(scim_user("ada@acme.com", "user-42")),
    );
    let id = json_body(&r)["id"].as_str().unwrap().to_owned();
    scim(&h, &token, InMethod::DELETE, &format!("/Users/{id}"), None);
    assert_eq!(sign_in_with(&h, "ada@acme.com", |_| {}).status(), 403);
    let log = audit(&h, "?type=org.sso_login_denied");
    assert_eq!(log["events"][0]["detail"]["reason"], "deprovisioned");
    assert_eq!(log["events"][0]["actor"], "ada@acme.com");
}
