//! IdP profiles end to end through the app (native tier): Entra ID multi-tenant sign-in with
//! its templated issuer and tenant allow-list, groups overage through a fake Microsoft Graph,
//! Google Workspace `hd`, the userinfo fallback, the generic `email_verified` rule, Okta's
//! 100-group limit explained at the callback, and the admin API's profile validation. Fixtures follow each IdP's documented discovery document
//! and ID-token shapes.

mod common;

use common::*;
use edge_sso::app::Response;
use edge_sso::core::http::HttpResponse;
use serde_json::{json, Value};

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TID: &str = "11111111-2222-3333-4444-555555555555";
const MSA_TID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
const OID: &str = "00000000-0000-0000-66f3-3332eca7ea81";
const ADMINS_GROUP: &str = "5f1c0d2e-8f7a-4b9e-a1c3-0d2e8f7a4b9e";
const ENTRA: &str = "https://login.microsoftonline.com/organizations/v2.0";
const GRAPH: &str = "https://graph.microsoft.com/v1.0/me/transitiveMemberOf?$select=id&$top=999";
/// Where Entra's overage claim source points: never called.
const CLAIM_SOURCE: &str =
    "https://graph.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/users/x/getMemberObjects";

fn entra_harness() -> Harness {
    let mut h = Harness::new();
    let idp = FakeIdp::new(ENTRA, "entra", Key::RsaA);
    // Entra's multi-tenant discovery document publishes the literal template.
    *idp.discovery_issuer.borrow_mut() =
        Some("https://login.microsoftonline.com/{tenantid}/v2.0".into());
    h.net.idps.push(idp);
    h
}

fn entra_idp(h: &Harness) -> &FakeIdp {
    h.net.idps.last().unwrap()
}

fn entra_org(h: &Harness, extra: Value) -> Value {
    let mut body = Harness::org_body(entra_idp(h), &["acme.com"]);
    body["idp"] = json!("entra");
    body["tenants"] = json!([TID]);
    body["role_mapping"] = json!([{"claim": "groups", "value": ADMINS_GROUP, "role": "admin"}]);
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// An Entra v2.0 ID token of tenant `tid` (claims as the ID token claims reference shows them).
fn entra_claims(tid: &'static str) -> impl FnOnce(&mut Value) {
    move |c: &mut Value| {
        let m = c.as_object_mut().unwrap();
        m.remove("email_verified");
        m.remove("groups");
        m.insert(
            "iss".into(),
            json!(format!("https://login.microsoftonline.com/{tid}/v2.0")),
        );
        m.insert("ver".into(), json!("2.0"));
        m.insert("tid".into(), json!(tid));
        m.insert("oid".into(), json!(OID));
        m.insert(
            "sub".into(),
            json!("AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ"),
        );
        m.insert("preferred_username".into(), json!("ada@acme.com"));
        m.insert("xms_edov".into(), json!(true));
        m.insert("groups".into(), json!([ADMINS_GROUP]));
    }
}

fn login(h: &Harness, email: &str, consent: Consent) -> Response {
    let s = h.start(email);
    let cb = h.authorize(&s, consent);
    h.callback(&cb, Some(&s.tx_cookie), None)
}

fn signed_in(h: &Harness, resp: &Response) -> Value {
    assert_eq!(resp.status(), 302, "{}", resp.text());
    let id = set_cookie_value(resp, SESSION_COOKIE).expect("session cookie");
    let me = h.me(&id);
    assert_eq!(me.status(), 200);
    json_body(&me)
}

fn refused(resp: &Response, status: u16, code: &str) {
    assert_eq!(resp.status(), status, "{}", resp.text());
    assert_no_session_cookie(resp);
    assert!(resp.text().contains(code), "{code} not in {}", resp.text());
}

#[test]
fn entra_multi_tenant_member_of_an_allowed_tenant() {
    let h = entra_harness();
    assert_eq!(h.put_org(ACME, &entra_org(&h, json!({}))).status(), 201);
    let me = signed_in(
        &h,
        &login(&h, "ada@acme.com", Consent::claims(entra_claims(TID))),
    );
    let org = &me["orgs"][ACME];
    assert_eq!(org["sub"], format!("{TID}:{OID}"));
    assert_eq!(org["email"], "ada@acme.com");
    assert_eq!(org["role"], "admin");
}

#[test]
fn entra_other_tenant_and_personal_accounts_refused() {
    let h = entra_harness();
    assert_eq!(h.put_org(ACME, &entra_org(&h, json!({}))).status(), 201);
    for (tid, why) in [
        (
            OTHER_TID,
            "tenant 11111111-2222-3333-4444-555555555555 is not allowed",
        ),
        (MSA_TID, "personal Microsoft account"),
    ] {
        let resp = login(&h, "ada@acme.com", Consent::claims(entra_claims(tid)));
        refused(&resp, 403, why);
    }
    assert_eq!(h.session_records(), 0);
}

#[test]
fn entra_tid_and_iss_disagreeing_refused() {
    let h = entra_harness();
    assert_eq!(
        h.put_org(ACME, &entra_org(&h, json!({"tenants": [TID, OTHER_TID]})))
            .status(),
        201
    );
    let resp = login(
        &h,
        "ada@acme.com",
        Consent::claims(|c| {
            entra_claims(TID)(c);
            c["tid"] = json!(OTHER_TID);
        }),
    );
    refused(&resp, 400, "ID token failed verification");
    // The template itself is no issuer.
    let resp = login(
        &h,
        "ada@acme.com",
        Consent::claims(|c| {
            entra_claims(TID)(c);
            c["iss"] = json!("https://login.microsoftonline.com/{tenantid}/v2.0");
        }),
    );
    refused(&resp, 400, "ID token failed verification");
}

#[test]
fn entra_without_xms_edov_says_which_claims_to_add() {
    let h = entra_harness();
    assert_eq!(h.put_org(ACME, &entra_org(&h, json!({}))).status(), 201);
    let resp = login(
        &h,
        "ada@acme.com",
        Consent::claims(|c| {
            entra_claims(TID)(c);
            c.as_object_mut().unwrap().remove("xms_edov");
        }),
    );
    refused(&resp, 403, "xms_edov");
    // With email_claim the org trusts its pinned tenant's upn instead.
    let body = entra_org(&h, json!({"email_claim": "preferred_username"}));
    assert_eq!(h.put_org(ACME, &body).status(), 200);
    let resp = login(
        &h,
        "ada@acme.com",
        Consent::claims(|c| {
            entra_claims(TID)(c);
            let m = c.as_object_mut().unwrap();
            m.remove("xms_edov");
            m.remove("email");
        }),
    );
    let me = signed_in(&h, &resp);
    assert_eq!(me["orgs"][ACME]["email"], "ada@acme.com");
}

fn overage(c: &mut Value) {
    entra_claims(TID)(c);
    let m = c.as_object_mut().unwrap();
    m.remove("groups");
    m.insert("_claim_names".into(), json!({"groups": "src1"}));
    m.insert(
        "_claim_sources".into(),
        json!({"src1": {"endpoint": CLAIM_SOURCE}}),
    );
}

#[test]
fn entra_groups_overage_resolved_through_graph_never_the_claim_source() {
    let h = entra_harness();
    assert_eq!(h.put_org(ACME, &entra_org(&h, json!({}))).status(), 201);
    let page = json!({"value": [
        {"@odata.type": "#microsoft.graph.group", "id": "0b0e0e0e-0000-4000-8000-000000000001"},
        {"@odata.type": "#microsoft.graph.group", "id": ADMINS_GROUP},
        {"@odata.type": "#microsoft.graph.directoryRole", "id": "62e90394-69f5-4237-9190-012177145e10"},
    ]});
    h.net.stubs.borrow_mut().push((
        GRAPH.into(),
        HttpResponse::new(200, "application/json", page.to_string()),
    ));
    let me = signed_in(&h, &login(&h, "ada@acme.com", Consent::claims(overage)));
    assert_eq!(me["orgs"][ACME]["role"], "admin");
    assert_eq!(h.net.hits(CLAIM_SOURCE), 0);
    let auth = h.net.stub_auth.borrow();
    assert_eq!(auth.len(), 1);
    assert!(auth[0]
        .1
        .as_deref()
        .is_some_and(|a| a.starts_with("Bearer at-")));
}

#[test]
fn entra_graph_refusal_names_the_permission() {
    let h = entra_harness();
    assert_eq!(h.put_org(ACME, &entra_org(&h, json!({}))).status(), 201);
    h.net.stubs.borrow_mut().push((
        GRAPH.into(),
        HttpResponse::new(
            403,
            "application/json",
            r#"{"error":{"code":"Authorization_RequestDenied"}}"#,
        ),
    ));
    let resp = login(&h, "ada@acme.com", Consent::claims(overage));
    refused(&resp, 502, "GroupMember.Read.All");
    assert_eq!(h.net.hits(CLAIM_SOURCE), 0);
}

#[test]
fn entra_admin_put_rules() {
    let h = entra_harness();
    let no_tenants = {
        let mut b = entra_org(&h, json!({}));
        b.as_object_mut().unwrap().remove("tenants");
        b
    };
    let resp = h.put_org(ACME, &no_tenants);
    assert_eq!(resp.status(), 400);
    assert_eq!(json_body(&resp)["field"], "tenants");
    let resp = h.put_org(ACME, &entra_org(&h, json!({"tenants": [MSA_TID]})));
    assert_eq!(json_body(&resp)["field"], "tenants[0]");
    let resp = h.put_org(
        ACME,
        &entra_org(
            &h,
            json!({"issuer": format!("https://sts.windows.net/{TID}/")}),
        ),
    );
    assert_eq!(resp.status(), 400);
    let v = json_body(&resp);
    assert_eq!(v["field"], "issuer");
    assert!(
        v.to_string()
            .contains(&format!("https://login.microsoftonline.com/{TID}/v2.0")),
        "{v}"
    );
    // The answer carries the profile's warnings and guide, which are not input.
    let resp = h.put_org(ACME, &entra_org(&h, json!({})));
    assert_eq!(resp.status(), 201);
    let v = json_body(&resp);
    assert_eq!(v["idp"], "entra");
    assert_eq!(v["guide"], "docs/idp/entra.md");
    assert!(
        v["warnings"].as_array().is_some_and(|w| !w.is_empty()),
        "{v}"
    );
}

#[test]
fn google_workspace_hd_required_and_listed() {
    let mut h = Harness::new();
    h.net.idps.push(FakeIdp::new(
        "https://accounts.google.com",
        "google",
        Key::RsaA,
    ));
    let idp = h.net.idps.last().unwrap();
    let mut body = Harness::org_body(idp, &["acme.com"]);
    body["idp"] = json!("google");
    assert_eq!(h.put_org(ACME, &body).status(), 201);
    // A consumer account registered on an acme.com address: no hd.
    let resp = login(&h, "ada@acme.com", Consent::default());
    refused(&resp, 403, "no Google Workspace domain");
    let resp = login(
        &h,
        "ada@acme.com",
        Consent::claims(|c| c["hd"] = json!("evil.example")),
    );
    refused(&resp, 403, "evil.example");
    let me = signed_in(
        &h,
        &login(
            &h,
            "ada@acme.com",
            Consent::claims(|c| c["hd"] = json!("acme.com")),
        ),
    );
    assert_eq!(me["orgs"][ACME]["sub"], "user-42");
    // The scheme-less legacy issuer Google may write.
    let resp = login(
        &h,
        "ada@acme.com",
        Consent::claims(|c| {
            c["hd"] = json!("acme.com");
            c["iss"] = json!("accounts.google.com");
        }),
    );
    signed_in(&h, &resp);
}

#[test]
fn generic_requires_email_verified_unless_opted_out() {
    let h = Harness::with_orgs();
    let unverified = || {
        Consent::claims(|c| {
            c.as_object_mut().unwrap().remove("email_verified");
        })
    };
    let resp = login(&h, "ada@acme.com", unverified());
    refused(&resp, 403, "email_verified_claim");
    let mut body = Harness::org_body(h.acme_idp(), &["acme.com", "bücher.example"]);
    body["email_verified_claim"] = json!("optional");
    assert_eq!(h.put_org(ACME, &body).status(), 200);
    signed_in(&h, &login(&h, "ada@acme.com", unverified()));
    // false is still refused.
    let resp = login(
        &h,
        "ada@acme.com",
        Consent::claims(|c| c["email_verified"] = json!(false)),
    );
    refused(&resp, 403, "not verified");
    // Only the generic profile may opt out.
    body["idp"] = json!("keycloak");
    let resp = h.put_org(ACME, &body);
    assert_eq!(json_body(&resp)["field"], "email_verified_claim");
}

#[test]
fn userinfo_fills_in_what_the_id_token_lacks() {
    let h = Harness::with_orgs();
    *h.acme_idp().userinfo.borrow_mut() = Some(json!({
        "sub": "user-42",
        "email": "ada@acme.com",
        "email_verified": true,
        "groups": ["hub-admins"],
    }));
    let resp = login(
        &h,
        "ada@acme.com",
        Consent::claims(|c| {
            let m = c.as_object_mut().unwrap();
            m.remove("email");
            m.remove("email_verified");
            m.remove("groups");
        }),
    );
    let me = signed_in(&h, &resp);
    assert_eq!(me["orgs"][ACME]["email"], "ada@acme.com");
    assert_eq!(me["orgs"][ACME]["role"], "admin");
    assert_eq!(h.net.hits(&h.acme_idp().userinfo_endpoint()), 1);
    // ID-token claims win: its groups stand, and a complete token needs no userinfo.
    signed_in(&h, &login(&h, "ada@acme.com", Consent::default()));
    assert_eq!(h.net.hits(&h.acme_idp().userinfo_endpoint()), 1);
}

#[test]
fn userinfo_for_another_sub_refused() {
    let h = Harness::with_orgs();
    *h.acme_idp().userinfo.borrow_mut() = Some(json!({
        "sub": "someone-else",
        "email": "ada@acme.com",
        "email_verified": true,
    }));
    let resp = login(
        &h,
        "ada@acme.com",
        Consent::claims(|c| {
            c.as_object_mut().unwrap().remove("email");
        }),
    );
    refused(&resp, 400, "userinfo answer is for another user");
    assert_eq!(h.session_records(), 0);
}

#[test]
fn admin_put_profile_rules() {
    let h = Harness::new();
    let idp = h.acme_idp();
    let put = |extra: Value| {
        let mut b = Harness::org_body(idp, &["acme.com"]);
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        h.put_org(ACME, &b)
    };
    let resp = put(json!({"idp": "azure"}));
    assert_eq!(resp.status(), 400);
    assert_eq!(json_body(&resp)["field"], "idp");
    let resp = put(json!({"idp": "onelogin", "issuer": "https://acme.onelogin.com/oidc"}));
    assert_eq!(json_body(&resp)["field"], "issuer");
    assert!(json_body(&resp)
        .to_string()
        .contains("https://acme.onelogin.com/oidc/2"));
    let resp = put(json!({"idp": "auth0", "issuer": "https://acme.us.auth0.com"}));
    assert_eq!(json_body(&resp)["field"], "issuer");
    // A pasted discovery URL is reduced to the issuer.
    let resp = put(json!({"issuer": idp.discovery_url()}));
    assert_eq!(resp.status(), 201, "{}", resp.text());
    assert_eq!(json_body(&resp)["issuer"], idp.issuer);
    // The Keycloak profile fits the acme IdP's realm issuer; sign-in works as before.
    let resp = put(json!({"idp": "keycloak"}));
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_eq!(json_body(&resp)["guide"], "docs/idp/keycloak.md");
    assert!(json_body(&resp).get("warnings").is_none());
    signed_in(&h, &login(&h, "ada@acme.com", Consent::default()));
}

#[test]
fn test_connection_reports_checks_and_stores_nothing() {
    let h = Harness::with_orgs();
    let path = format!("/admin/orgs/{ACME}/test");
    let resp = h.admin(InMethod::POST, &path, b"");
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let v = json_body(&resp);
    assert_eq!(v["ok"], true, "{v}");
    let names: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for n in [
        "discovery",
        "jwks",
        "algorithms",
        "pkce_s256",
        "iss_parameter",
        "client_auth",
        "end_session",
        "backchannel_logout",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    assert_eq!(v["provider"]["issuer"], h.acme_idp().issuer);
    // A candidate whose issuer has a trailing slash the IdP does not write: the exact value.
    let mut candidate = Harness::org_body(h.acme_idp(), &["acme.com"]);
    candidate["issuer"] = json!(format!("{}/", h.acme_idp().issuer));
    candidate.as_object_mut().unwrap().remove("client_secret");
    let resp = h.admin(InMethod::POST, &path, candidate.to_string().as_bytes());
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let v = json_body(&resp);
    assert_eq!(v["ok"], false);
    assert!(v["checks"][0]["hint"]
        .as_str()
        .unwrap()
        .contains(&h.acme_idp().issuer));
    // Nothing was stored.
    let got = json_body(&h.admin(InMethod::GET, &format!("/admin/orgs/{ACME}"), b""));
    assert_eq!(got["issuer"], h.acme_idp().issuer);
    // A bad candidate names the field; an unknown org is 404; only POST.
    let resp = h.admin(InMethod::POST, &path, br#"{"idp":"x"}"#);
    assert_eq!(resp.status(), 400);
    let resp = h.admin(InMethod::POST, "/admin/orgs/nobody/test", b"");
    assert_eq!(resp.status(), 404);
    let resp = h.admin(InMethod::GET, &path, b"");
    assert_eq!(resp.status(), 405);
}

#[test]
fn userinfo_failure_degrades_only_when_the_email_is_there() {
    let h = Harness::with_orgs();
    // Discovery lists userinfo, but it refuses every token.
    *h.acme_idp().userinfo.borrow_mut() = Some(json!({"sub": "user-42"}));
    h.net.stubs.borrow_mut().push((
        h.acme_idp().userinfo_endpoint(),
        HttpResponse::new(401, "application/json", r#"{"error":"invalid_token"}"#),
    ));
    // Only the mapped groups claim is missing: the default role applies, as without userinfo.
    let me = signed_in(
        &h,
        &login(
            &h,
            "ada@acme.com",
            Consent::claims(|c| {
                c.as_object_mut().unwrap().remove("groups");
            }),
        ),
    );
    assert_eq!(me["orgs"][ACME]["role"], "read");
    // Without the email the failure is the answer.
    let resp = login(
        &h,
        "ada@acme.com",
        Consent::claims(|c| {
            c.as_object_mut().unwrap().remove("email");
        }),
    );
    refused(&resp, 502, "userinfo");
}

const OKTA: &str = "https://acme.okta.com";
/// Okta's `error_description` for a groups claim matching more than 100 groups.
const OKTA_GROUPS_LIMIT: &str =
    "The groups claim matched too many groups and must be configured to match fewer groups";

/// A harness whose `acme` org signs in at an Okta org authorization server.
fn okta_harness() -> Harness {
    let mut h = Harness::new();
    h.net.idps.push(FakeIdp::new(OKTA, "okta", Key::RsaA));
    let mut body = Harness::org_body(h.net.idps.last().unwrap(), &["acme.com"]);
    body["idp"] = json!("okta");
    body["role_mapping"] = json!([{"claim": "groups", "value": "hub-admins", "role": "admin"}]);
    assert_eq!(h.put_org(ACME, &body).status(), 201);
    h
}

/// The callback path of an IdP error response with Okta's groups-limit text for `state`.
fn groups_limit_callback(state: &str) -> String {
    let mut u = url::Url::parse("https://x.example/sso/callback").unwrap();
    u.query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", OKTA_GROUPS_LIMIT)
        .append_pair("state", state);
    format!("/sso/callback?{}", u.query().unwrap())
}

#[test]
fn okta_groups_limit_is_explained_for_a_live_transaction() {
    let h = okta_harness();
    let s = h.start("ada@acme.com");
    let cookie = format!("{}={}", s.tx_name, s.tx_cookie);
    let resp = h.get(&groups_limit_callback(&s.params["state"]), Some(&cookie));
    refused(&resp, 403, "did not sign you in");
    let text = resp.text();
    assert!(text.contains("at most 100 groups"), "{text}");
    assert!(text.contains("groups claim filter"), "{text}");
    assert!(text.contains("app-level group filter"), "{text}");
    assert!(text.contains("match fewer groups"), "{text}");
}

#[test]
fn okta_groups_limit_not_explained_without_a_live_transaction() {
    let h = okta_harness();
    // A crafted link: neither Okta's text nor the explanation reaches the page.
    let resp = h.get(&groups_limit_callback("forged"), None);
    assert_eq!(resp.status(), 403);
    let text = resp.text();
    assert!(text.contains("access_denied"), "{text}");
    assert!(!text.contains("100 groups"), "{text}");
    assert!(!text.contains("too many groups"), "{text}");
    // A transaction of another state does not count either.
    let s = h.start("ada@acme.com");
    let cookie = format!("{}={}", s.tx_name, s.tx_cookie);
    let resp = h.get(&groups_limit_callback("forged"), Some(&cookie));
    assert!(!resp.text().contains("100 groups"));
}

#[test]
fn groups_limit_text_from_another_profile_is_shown_as_is() {
    // The same text from a generic IdP: the IdP's words, not Okta's remedy.
    let h = Harness::with_orgs();
    let s = h.start("ada@acme.com");
    let cookie = format!("{}={}", s.tx_name, s.tx_cookie);
    let resp = h.get(&groups_limit_callback(&s.params["state"]), Some(&cookie));
    refused(&resp, 403, "did not sign you in");
    let text = resp.text();
    assert!(text.contains("match fewer groups"), "{text}");
    assert!(!text.contains("groups claim filter"), "{text}");
    // Okta, another error text: as is.
    let h = okta_harness();
    let s = h.start("ada@acme.com");
    let cookie = format!("{}={}", s.tx_name, s.tx_cookie);
    let path = format!(
        "/sso/callback?error=access_denied&error_description=User%20is%20not%20assigned&state={}",
        s.params["state"]
    );
    let text = h.get(&path, Some(&cookie)).text();
    assert!(text.contains("User is not assigned"), "{text}");
    assert!(!text.contains("groups claim filter"), "{text}");
}

#[test]
fn okta_groups_limit_is_explained_in_a_test_sign_in() {
    let h = okta_harness();
    let r = h.admin(http::Method::POST, &acme_path("/test-login"), b"");
    assert_eq!(r.status(), 201, "{}", r.text());
    let url = json_body(&r)["url"].as_str().unwrap().to_owned();
    let url = url::Url::parse(&url).unwrap();
    h.secret(&query_map(&url)["test"]);
    let started = h.start_query(url.query().unwrap());
    let cookie = format!("{}={}", started.tx_name, started.tx_cookie);
    let r = h.request(
        http::Method::GET,
        &groups_limit_callback(&started.params["state"]),
        &[("cookie", &cookie), ("accept", "application/json")],
        b"",
    );
    assert_test_sign_in_refused(&r, "idp_error", "groups claim filter");
}
