//! Directory tests: Okta's and Entra's documented request sequences, one test per error kind,
//! case rules, uniqueness, pagination and the changes each write reports.

use super::*;
use crate::core::random::{CountingRandom, RandomError};
use serde_json::{json, Value};

const BASE: &str = "https://sso.example/scim/v2/acme";
use super::PATCH_SCHEMA as PATCH;

struct Dir {
    d: ScimDirectory,
    rng: CountingRandom,
    now: u64,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            d: ScimDirectory::default(),
            rng: CountingRandom::default(),
            now: 1_700_000_000,
        }
    }
    fn call(&mut self, method: &str, path: &str, query: Option<&str>, body: &str) -> ScimOutcome {
        self.now += 1;
        let req = ScimRequest {
            method: method.into(),
            path: path.into(),
            query: query.map(str::to_owned),
            body: body.as_bytes().to_vec(),
        };
        self.d.handle(&req, BASE, UnixTime(self.now), &self.rng)
    }
    fn ok(
        &mut self,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: Value,
    ) -> (u16, Value, Vec<ScimChange>) {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let o = self.call(method, path, query, &body);
        (
            o.response.status,
            o.response.body.unwrap_or(Value::Null),
            o.changes,
        )
    }
    fn user(&mut self, user_name: &str) -> String {
        let (s, v, _) = self.ok(
            "POST",
            "/Users",
            None,
            json!({"schemas": [filter::CORE_USER_SCHEMA], "userName": user_name}),
        );
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }
    fn group(&mut self, name: &str, members: &[&str]) -> String {
        let m: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
        let (s, v, _) = self.ok(
            "POST",
            "/Groups",
            None,
            json!({"displayName": name, "members": m}),
        );
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }
    fn patch(&mut self, path: &str, ops: Value) -> (u16, Value, Vec<ScimChange>) {
        self.ok(
            "PATCH",
            path,
            None,
            json!({"schemas": [PATCH], "Operations": ops}),
        )
    }
}

fn assert_error(v: &Value, status: &str, scim_type: Option<&str>) {
    assert_eq!(v["schemas"], json!([ERROR_SCHEMA]), "{v}");
    assert_eq!(v["status"], json!(status), "{v}");
    assert_eq!(v.get("scimType").and_then(Value::as_str), scim_type, "{v}");
    assert!(v["detail"].is_string());
}

fn q(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[test]
fn okta_sequence() {
    let mut d = Dir::new();
    // 1. Okta looks the user up first.
    let query = format!(
        "filter={}&startIndex=1&count=100",
        q(r#"userName eq "jane@acme.com""#)
    );
    let (s, v, c) = d.ok("GET", "/Users", Some(&query), Value::Null);
    assert_eq!(s, 200);
    assert_eq!(v["totalResults"], json!(0));
    assert_eq!(v["Resources"], json!([]));
    assert_eq!(
        v["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert!(c.is_empty());
    // 2. Create, as Okta's documentation shows the body (password included, never stored).
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "jane@acme.com",
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "emails": [{"primary": true, "value": "jane@acme.com", "type": "work"}],
        "displayName": "Jane Doe",
        "locale": "en-US",
        "externalId": "00u1abcd",
        "groups": [],
        "password": "hunter2",
        "active": true
    });
    let o = d.call("POST", "/Users", None, &body.to_string());
    assert_eq!(o.response.status, 201);
    let v = o.response.body.unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 22);
    assert_eq!(
        o.response.location.as_deref(),
        Some(format!("{BASE}/Users/{id}").as_str())
    );
    assert_eq!(v["meta"]["resourceType"], json!("User"));
    assert_eq!(v["meta"]["location"], json!(format!("{BASE}/Users/{id}")));
    assert_eq!(v["meta"]["version"], json!("W/\"1\""));
    assert_eq!(v["meta"]["created"], json!("2023-11-14T22:13:22Z"));
    assert_eq!(v["name"], json!({"givenName": "Jane", "familyName": "Doe"}));
    assert!(v.get("password").is_none());
    assert_eq!(
        o.changes,
        vec![ScimChange::User {
            id: id.clone(),
            before: None
        }]
    );
    assert!(!serde_json::to_string(&d.d).unwrap().contains("hunter2"));
    // 3. Get by id.
    let (s, v, _) = d.ok("GET", &format!("/Users/{id}"), None, Value::Null);
    assert_eq!((s, v["userName"].clone()), (200, json!("jane@acme.com")));
    // 4. Deactivate the Okta way (path-less value, `id`-free).
    let (s, v, c) = d.patch(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "value": {"active": false}}]),
    );
    assert_eq!(
        (s, v["active"].clone(), v["meta"]["version"].clone()),
        (200, json!(false), json!("W/\"2\""))
    );
    let [ScimChange::User {
        before: Some(b), ..
    }] = c.as_slice()
    else {
        panic!("{c:?}")
    };
    assert!(b.active && !d.d.users[&id].active);
    // 5. Reactivate.
    let (s, v, c) = d.patch(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "value": {"active": true}}]),
    );
    assert_eq!((s, v["active"].clone(), c.len()), (200, json!(true), 1));
    // 6. Full replace: created and id kept, displayName gone.
    let created = d.d.users[&id].created;
    let put = json!({"schemas": [filter::CORE_USER_SCHEMA], "id": id, "userName": "jane@acme.com",
        "name": {"givenName": "Janet", "familyName": "Doe"}, "active": true,
        "emails": [{"value": "janet@acme.com", "type": "work", "primary": true}]});
    let (s, v, c) = d.ok("PUT", &format!("/Users/{id}"), None, put.clone());
    assert_eq!(s, 200);
    assert_eq!(v["name"]["givenName"], json!("Janet"));
    assert!(v.get("displayName").is_none() && v.get("externalId").is_none());
    assert_eq!(d.d.users[&id].created, created);
    assert_eq!(c.len(), 1);
    // The same PUT again changes nothing and reports nothing.
    let (s, _, c) = d.ok("PUT", &format!("/Users/{id}"), None, put);
    assert_eq!((s, c.len()), (200, 0));
}

#[test]
fn entra_sequence() {
    let mut d = Dir::new();
    let query = format!("filter={}", q(r#"userName eq "Jo@Contoso.com""#));
    let (_, v, _) = d.ok("GET", "/Users", Some(&query), Value::Null);
    assert_eq!(v["totalResults"], json!(0));
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "jo",
        "userName": "Jo@Contoso.com",
        "active": true,
        "addresses": [],
        "displayName": "Jo Smith",
        "emails": [{"primary": true, "type": "work", "value": "Jo@Contoso.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Jo Smith", "familyName": "Smith", "givenName": "Jo"},
        "roles": [],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Eng"}
    });
    let (s, v, _) = d.ok("POST", "/Users", None, body);
    assert_eq!(s, 201);
    let uid = v["id"].as_str().unwrap().to_owned();
    // Found again whatever the case of the filter's value and attribute name.
    let query = format!("filter={}", q(r#"USERNAME eq "jo@contoso.com""#));
    let (_, v, _) = d.ok("GET", "/Users", Some(&query), Value::Null);
    assert_eq!(
        (v["totalResults"].clone(), v["Resources"][0]["id"].clone()),
        (json!(1), json!(uid))
    );
    // Entra's PATCH: capitalised op, booleans as strings, attributes it maps but we do not store.
    let (s, v, c) = d.patch(&format!("/Users/{uid}"), json!([
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": "title", "value": "Engineer"},
        {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Ops"},
        {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555"},
    ]));
    assert_eq!((s, v["active"].clone()), (200, json!(false)), "{v}");
    assert!(matches!(c.as_slice(), [ScimChange::User { before: Some(b), .. }] if b.active));
    // Groups: look up with members excluded, create, add and remove members.
    let query = format!(
        "excludedAttributes=members&filter={}",
        q(r#"displayName eq "Engineering""#)
    );
    let (s, v, _) = d.ok("GET", "/Groups", Some(&query), Value::Null);
    assert_eq!((s, v["totalResults"].clone()), (200, json!(0)));
    let (s, v, c) = d.ok(
        "POST",
        "/Groups",
        None,
        json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "externalId": "g1",
        "displayName": "Engineering", "members": []}),
    );
    assert_eq!(s, 201);
    let gid = v["id"].as_str().unwrap().to_owned();
    assert_eq!(c, vec![ScimChange::Group { id: gid.clone() }]);
    let (_, v, _) = d.ok("GET", "/Groups", Some(&query), Value::Null);
    assert_eq!(v["totalResults"], json!(1));
    assert!(v["Resources"][0].get("members").is_none());
    assert_eq!(v["Resources"][0]["displayName"], json!("Engineering"));
    let (s, v, c) = d.patch(
        &format!("/Groups/{gid}"),
        json!([
        {"op": "Add", "path": "members", "value": [{"value": uid}]}]),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["members"][0]["value"], json!(uid));
    assert_eq!(v["members"][0]["display"], json!("Jo Smith"));
    assert_eq!(c, vec![ScimChange::Group { id: gid.clone() }]);
    assert_eq!(d.d.groups_of(&uid), vec!["Engineering"]);
    let (s, _, c) = d.patch(
        &format!("/Groups/{gid}"),
        json!([
        {"op": "Remove", "path": "members", "value": [{"value": uid}]}]),
    );
    assert_eq!((s, c.len()), (200, 1));
    assert!(d.d.groups_of(&uid).is_empty());
    // Back in, then the user is deleted: it leaves the group.
    d.patch(
        &format!("/Groups/{gid}"),
        json!([{"op": "Add", "path": "members", "value": [{"value": uid}]}]),
    );
    let (s, v, c) = d.ok("DELETE", &format!("/Users/{uid}"), None, Value::Null);
    assert_eq!((s, v), (204, Value::Null));
    assert!(matches!(&c[0], ScimChange::UserDeleted { before } if before.id == uid));
    assert_eq!(c[1], ScimChange::Group { id: gid.clone() });
    assert!(d.d.groups[&gid].members.is_empty());
    let (s, v, _) = d.ok("GET", &format!("/Users/{uid}"), None, Value::Null);
    assert_eq!(s, 404);
    assert_error(&v, "404", None);
}

#[test]
fn okta_group_member_forms_and_rename() {
    let mut d = Dir::new();
    let a = d.user("a@x");
    let b = d.user("b@x");
    let g = d.group("Sales", &[&a]);
    let (s, v, _) = d.patch(
        &format!("/Groups/{g}"),
        json!([
        {"op": "add", "path": "members", "value": [{"value": b, "display": "b@x"}, {"value": a}]}]),
    );
    assert_eq!(s, 200);
    assert_eq!(v["members"].as_array().unwrap().len(), 2);
    let (s, _, _) = d.patch(
        &format!("/Groups/{g}"),
        json!([
        {"op": "remove", "path": format!("members[value eq \"{a}\"]")}]),
    );
    assert_eq!(s, 200);
    assert_eq!(d.d.groups[&g].members, vec![b.clone()]);
    // Removing again is idempotent and reports nothing.
    let (s, _, c) = d.patch(
        &format!("/Groups/{g}"),
        json!([
        {"op": "remove", "path": format!("members[value eq \"{a}\"]")}]),
    );
    assert_eq!((s, c.len()), (200, 0));
    // Okta renames with a path-less value that repeats the id.
    let (s, v, _) = d.patch(
        &format!("/Groups/{g}"),
        json!([
        {"op": "replace", "value": {"id": g, "displayName": "Sales EMEA"}}]),
    );
    assert_eq!((s, v["displayName"].clone()), (200, json!("Sales EMEA")));
    let (s, v, _) = d.patch(
        &format!("/Groups/{g}"),
        json!([
        {"op": "replace", "path": "displayName", "value": "Sales"}]),
    );
    assert_eq!((s, v["displayName"].clone()), (200, json!("Sales")));
    // Replace all members, then remove all.
    d.patch(
        &format!("/Groups/{g}"),
        json!([{"op": "replace", "path": "members", "value": [{"value": a}]}]),
    );
    assert_eq!(d.d.groups[&g].members, vec![a.clone()]);
    d.patch(
        &format!("/Groups/{g}"),
        json!([{"op": "remove", "path": "members"}]),
    );
    assert!(d.d.groups[&g].members.is_empty());
    // GET by id honours excludedAttributes; PUT replaces; DELETE reports.
    let (_, v, _) = d.ok(
        "GET",
        &format!("/Groups/{g}"),
        Some("excludedAttributes=members"),
        Value::Null,
    );
    assert!(v.get("members").is_none() && v["id"] == json!(g));
    let (s, v, c) = d.ok(
        "PUT",
        &format!("/Groups/{g}"),
        None,
        json!({"displayName": "Sales", "members": [{"value": b}]}),
    );
    assert_eq!(
        (s, v["members"][0]["value"].clone(), c.len()),
        (200, json!(b), 1)
    );
    let (s, _, c) = d.ok("DELETE", &format!("/Groups/{g}"), None, Value::Null);
    assert_eq!(
        (s, c),
        (204, vec![ScimChange::GroupDeleted { id: g.clone() }])
    );
    let (s, _, _) = d.ok("DELETE", &format!("/Groups/{g}"), None, Value::Null);
    assert_eq!(s, 404);
}

#[test]
fn patch_paths_on_users() {
    let mut d = Dir::new();
    let id = d.user("u@x");
    let p = format!("/Users/{id}");
    let (s, v, _) = d.patch(
        &p,
        json!([
            {"op": "add", "path": "emails[type eq \"work\"].value", "value": "u@work"},
            {"op": "replace", "path": "name.givenName", "value": "U"},
            {"op": "replace", "path": "displayName", "value": "You"},
            {"op": "replace", "path": "externalId", "value": "sub-1"},
            {"op": "replace", "path": "userName", "value": "u2@x"},
        ]),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["emails"],
        json!([{"value": "u@work", "type": "work", "primary": false}])
    );
    assert_eq!(v["name"], json!({"givenName": "U"}));
    assert_eq!(
        (
            v["displayName"].clone(),
            v["externalId"].clone(),
            v["userName"].clone()
        ),
        (json!("You"), json!("sub-1"), json!("u2@x"))
    );
    // Replace the work email in place, then add a home one, then filter on it.
    d.patch(
        &p,
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@work"},
        {"op": "add", "path": "emails", "value": [{"value": "me@home", "type": "home"}]}]),
    );
    assert_eq!(d.d.users[&id].emails.len(), 2);
    assert_eq!(d.d.users[&id].emails[0].value, "new@work");
    let query = format!(
        "filter={}",
        q(r#"emails[type eq "work"].value eq "NEW@work""#)
    );
    let (_, v, _) = d.ok("GET", "/Users", Some(&query), Value::Null);
    assert_eq!(v["totalResults"], json!(1));
    let query = format!(
        "filter={}",
        q(r#"emails.value eq "me@home" and externalId eq "sub-1""#)
    );
    let (_, v, _) = d.ok("GET", "/Users", Some(&query), Value::Null);
    assert_eq!(v["totalResults"], json!(1));
    let query = format!(
        "filter={}",
        q(r#"emails[type eq "work"].value eq "me@home""#)
    );
    let (_, v, _) = d.ok("GET", "/Users", Some(&query), Value::Null);
    assert_eq!(v["totalResults"], json!(0));
    // Remove by filter, remove optional attributes, remove the whole name.
    d.patch(
        &p,
        json!([{"op": "remove", "path": "emails[type eq \"home\"]"},
        {"op": "remove", "path": "displayName"}, {"op": "remove", "path": "name"}]),
    );
    let u = &d.d.users[&id];
    assert_eq!(
        (u.emails.len(), u.display_name.clone(), u.name.clone()),
        (1, None, None)
    );
    // Path-less with a name object merges it; unknown keys are ignored.
    let (s, v, _) = d.patch(&p, json!([{"op": "add", "value": {"name": {"familyName": "F"}, "nickName": "n", "bogus": 1, "name.givenName": "G"}}]));
    assert_eq!(
        (s, v["name"].clone()),
        (200, json!({"givenName": "G", "familyName": "F"}))
    );
    // Booleans in any case.
    for (val, want) in [
        (json!("TRUE"), true),
        (json!("false"), false),
        (json!(true), true),
    ] {
        d.patch(
            &p,
            json!([{"op": "replace", "path": "active", "value": val}]),
        );
        assert_eq!(d.d.users[&id].active, want);
    }
}

#[test]
fn patch_is_atomic() {
    let mut d = Dir::new();
    let id = d.user("u@x");
    let before = d.d.users[&id].clone();
    let (s, v, c) = d.patch(
        &format!("/Users/{id}"),
        json!([
        {"op": "replace", "path": "active", "value": false},
        {"op": "replace", "path": "active", "value": "maybe"}]),
    );
    assert_eq!((s, c.len()), (400, 0));
    assert_error(&v, "400", Some("invalidValue"));
    assert_eq!(d.d.users[&id], before);
}

/// method, path, query, body, expected status, expected scimType.
type Case<'a> = (
    &'a str,
    String,
    Option<&'a str>,
    String,
    &'a str,
    Option<&'a str>,
);

#[test]
fn error_kinds() {
    let mut d = Dir::new();
    let id = d.user("u@x");
    let g = d.group("G", &[]);
    let u = format!("/Users/{id}");
    let gp = format!("/Groups/{g}");
    let cases: Vec<Case> = vec![
        (
            "GET",
            "/Users".into(),
            Some("filter=userName%20co%20%22x%22"),
            String::new(),
            "400",
            Some("invalidFilter"),
        ),
        (
            "GET",
            "/Users".into(),
            Some("filter=title%20eq%20%22x%22"),
            String::new(),
            "400",
            Some("invalidFilter"),
        ),
        (
            "GET",
            "/Groups".into(),
            Some("filter=userName%20eq%20%22x%22"),
            String::new(),
            "400",
            Some("invalidFilter"),
        ),
        (
            "GET",
            "/Users".into(),
            Some("startIndex=abc"),
            String::new(),
            "400",
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users".into(),
            None,
            "{not json".into(),
            "400",
            Some("invalidSyntax"),
        ),
        (
            "POST",
            "/Users".into(),
            None,
            "[1]".into(),
            "400",
            Some("invalidSyntax"),
        ),
        (
            "POST",
            "/Users".into(),
            None,
            "".into(),
            "400",
            Some("invalidSyntax"),
        ),
        (
            "POST",
            "/Users".into(),
            None,
            r#"{"displayName":"x"}"#.into(),
            "400",
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users".into(),
            None,
            r#"{"userName":""}"#.into(),
            "400",
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users".into(),
            None,
            r#"{"userName":5}"#.into(),
            "400",
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users".into(),
            None,
            format!(r#"{{"userName":"{}"}}"#, "a".repeat(MAX_STRING_CHARS + 1)),
            "400",
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users".into(),
            None,
            r#"{"userName":"v","active":"yes"}"#.into(),
            "400",
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users".into(),
            None,
            r#"{"userName":"v","emails":[{"type":"work"}]}"#.into(),
            "400",
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users".into(),
            None,
            r#"{"userName":"U@X"}"#.into(),
            "409",
            Some("uniqueness"),
        ),
        (
            "POST",
            "/Groups".into(),
            None,
            r#"{"displayName":"g"}"#.into(),
            "409",
            Some("uniqueness"),
        ),
        (
            "POST",
            "/Groups".into(),
            None,
            r#"{"members":[]}"#.into(),
            "400",
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Groups".into(),
            None,
            r#"{"displayName":"h","members":[{"value":"nobody"}]}"#.into(),
            "400",
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Groups".into(),
            None,
            r#"{"displayName":"h","members":[{"value":"x","type":"Group"}]}"#.into(),
            "400",
            Some("invalidValue"),
        ),
        (
            "PATCH",
            u.clone(),
            None,
            r#"{"Operations":[]}"#.into(),
            "400",
            Some("invalidSyntax"),
        ),
        (
            "PATCH",
            u.clone(),
            None,
            format!(r#"{{"schemas":["{PATCH}"]}}"#),
            "400",
            Some("invalidSyntax"),
        ),
        (
            "PATCH",
            u.clone(),
            None,
            format!(
                r#"{{"schemas":["{PATCH}"],"Operations":[{{"op":"move","path":"active","value":true}}]}}"#
            ),
            "400",
            Some("invalidSyntax"),
        ),
        (
            "PATCH",
            u.clone(),
            None,
            format!(r#"{{"schemas":["{PATCH}"],"Operations":[{{"op":"remove"}}]}}"#),
            "400",
            Some("noTarget"),
        ),
        (
            "PATCH",
            u.clone(),
            None,
            format!(r#"{{"schemas":["{PATCH}"],"Operations":[{{"op":"add","path":"active"}}]}}"#),
            "400",
            Some("invalidValue"),
        ),
        (
            "PATCH",
            u.clone(),
            None,
            format!(r#"{{"schemas":["{PATCH}"],"Operations":[{{"op":"replace","value":false}}]}}"#),
            "400",
            Some("invalidValue"),
        ),
        (
            "PATCH",
            u.clone(),
            None,
            format!(
                r#"{{"schemas":["{PATCH}"],"Operations":[{{"op":"replace","path":"favouriteColour","value":"red"}}]}}"#
            ),
            "400",
            Some("invalidPath"),
        ),
        (
            "PATCH",
            u.clone(),
            None,
            format!(
                r#"{{"schemas":["{PATCH}"],"Operations":[{{"op":"replace","path":"name.nickname","value":"red"}}]}}"#
            ),
            "400",
            Some("invalidPath"),
        ),
        (
            "PATCH",
            u.clone(),
            None,
            format!(
                r#"{{"schemas":["{PATCH}"],"Operations":[{{"op":"replace","path":"active[x eq 1]","value":true}}]}}"#
            ),
            "400",
            Some("invalidPath"),
        ),
        (
            "PATCH",
            u.clone(),
            None,
            format!(
                r#"{{"schemas":["{PATCH}"],"Operations":[{{"op":"replace","path":"emails[type eq \"work\"].type","value":"home"}}]}}"#
            ),
            "400",
            Some("noTarget"),
        ),
        (
            "PATCH",
            u.clone(),
            None,
            format!(
                r#"{{"schemas":["{PATCH}"],"Operations":[{{"op":"replace","path":"id","value":"other"}}]}}"#
            ),
            "400",
            Some("mutability"),
        ),
        (
            "PATCH",
            u.clone(),
            None,
            format!(
                r#"{{"schemas":["{PATCH}"],"Operations":[{{"op":"remove","path":"userName"}}]}}"#
            ),
            "400",
            Some("invalidValue"),
        ),
        (
            "PATCH",
            u.clone(),
            None,
            format!(
                r#"{{"schemas":["{PATCH}"],"Operations":[{{"op":"replace","path":"displayName","value":{{}}}}]}}"#
            ),
            "400",
            Some("invalidValue"),
        ),
        (
            "PATCH",
            gp.clone(),
            None,
            format!(
                r#"{{"schemas":["{PATCH}"],"Operations":[{{"op":"add","path":"members","value":[{{"value":"ghost"}}]}}]}}"#
            ),
            "400",
            Some("invalidValue"),
        ),
        (
            "PATCH",
            gp.clone(),
            None,
            format!(
                r#"{{"schemas":["{PATCH}"],"Operations":[{{"op":"remove","path":"members[display eq \"x\"]"}}]}}"#
            ),
            "400",
            Some("invalidPath"),
        ),
        (
            "PATCH",
            gp.clone(),
            None,
            format!(
                r#"{{"schemas":["{PATCH}"],"Operations":[{{"op":"remove","path":"displayName"}}]}}"#
            ),
            "400",
            Some("invalidValue"),
        ),
        (
            "GET",
            "/Users/nope".into(),
            None,
            String::new(),
            "404",
            None,
        ),
        (
            "PUT",
            "/Users/nope".into(),
            None,
            r#"{"userName":"z"}"#.into(),
            "404",
            None,
        ),
        (
            "PATCH",
            "/Groups/nope".into(),
            None,
            String::new(),
            "404",
            None,
        ),
        (
            "DELETE",
            "/Users/nope".into(),
            None,
            String::new(),
            "404",
            None,
        ),
        ("GET", "/Bulk".into(), None, String::new(), "404", None),
        ("GET", "/Users/a/b".into(), None, String::new(), "404", None),
        ("GET", "".into(), None, String::new(), "404", None),
        (
            "GET",
            "/Schemas/urn:nope".into(),
            None,
            String::new(),
            "404",
            None,
        ),
        (
            "GET",
            "/ResourceTypes/Device".into(),
            None,
            String::new(),
            "404",
            None,
        ),
        ("DELETE", "/Users".into(), None, String::new(), "405", None),
        ("POST", u.clone(), None, String::new(), "405", None),
        (
            "PUT",
            "/ServiceProviderConfig".into(),
            None,
            String::new(),
            "405",
            None,
        ),
    ];
    let snapshot = serde_json::to_value(&d.d).unwrap();
    for (m, path, query, body, status, t) in cases {
        let o = d.call(m, &path, query, &body);
        let v = o.response.body.clone().unwrap();
        assert_eq!(
            o.response.status.to_string(),
            status,
            "{m} {path} {body}: {v}"
        );
        assert_error(&v, status, t);
        assert!(o.changes.is_empty());
    }
    assert_eq!(
        serde_json::to_value(&d.d).unwrap(),
        snapshot,
        "failed requests change nothing"
    );
}

#[test]
fn limits_are_too_many() {
    let mut d = Dir::new();
    let id = d.user("u@x");
    let op = json!({"op": "replace", "path": "active", "value": true});
    let (s, v, _) = d.patch(
        &format!("/Users/{id}"),
        Value::Array(vec![op; MAX_OPERATIONS + 1]),
    );
    assert_eq!(s, 400);
    assert_error(&v, "400", Some("tooMany"));
    let g = d.group("G", &[]);
    let many: Vec<Value> = (0..=MAX_MEMBERS_PER_REQUEST)
        .map(|_| json!({"value": id}))
        .collect();
    let (_, v, _) = d.patch(
        &format!("/Groups/{g}"),
        json!([{"op": "add", "path": "members", "value": many}]),
    );
    assert_error(&v, "400", Some("tooMany"));
    let emails: Vec<Value> = (0..=MAX_EMAILS)
        .map(|i| json!({"value": format!("{i}@x")}))
        .collect();
    let (_, v, _) = d.ok(
        "POST",
        "/Users",
        None,
        json!({"userName": "e", "emails": emails}),
    );
    assert_error(&v, "400", Some("tooMany"));
    // Directory caps: fill with cheap records rather than MAX_USERS requests.
    for i in 0..MAX_USERS {
        let mut u = d.d.users[&id].clone();
        u.id = format!("fill{i}");
        u.user_name = format!("fill{i}");
        d.d.users.insert(u.id.clone(), u);
    }
    let (_, v, _) = d.ok("POST", "/Users", None, json!({"userName": "one-more"}));
    assert_error(&v, "400", Some("tooMany"));
    for i in 0..MAX_GROUPS {
        let mut gr = d.d.groups[&g].clone();
        gr.id = format!("g{i}");
        gr.display_name = format!("g{i}");
        d.d.groups.insert(gr.id.clone(), gr);
    }
    let (_, v, _) = d.ok("POST", "/Groups", None, json!({"displayName": "one-more"}));
    assert_error(&v, "400", Some("tooMany"));
}

#[test]
fn uniqueness_on_write_paths() {
    let mut d = Dir::new();
    let a = d.user("a@x");
    let b = d.user("b@x");
    d.patch(
        &format!("/Users/{a}"),
        json!([{"op": "add", "path": "externalId", "value": "ext"}]),
    );
    let (_, v, _) = d.ok(
        "POST",
        "/Users",
        None,
        json!({"userName": "c@x", "externalId": "ext"}),
    );
    assert_error(&v, "409", Some("uniqueness"));
    // externalId is case-exact: another case is another id.
    let (s, _, _) = d.ok(
        "POST",
        "/Users",
        None,
        json!({"userName": "c@x", "externalId": "EXT"}),
    );
    assert_eq!(s, 201);
    let (_, v, _) = d.ok(
        "PUT",
        &format!("/Users/{b}"),
        None,
        json!({"userName": "A@X"}),
    );
    assert_error(&v, "409", Some("uniqueness"));
    let (_, v, _) = d.patch(
        &format!("/Users/{b}"),
        json!([{"op": "replace", "path": "userName", "value": "a@X"}]),
    );
    assert_error(&v, "409", Some("uniqueness"));
    // A user may keep its own name in another case.
    let (s, v, _) = d.ok(
        "PUT",
        &format!("/Users/{a}"),
        None,
        json!({"userName": "A@x", "externalId": "ext"}),
    );
    assert_eq!((s, v["userName"].clone()), (200, json!("A@x")));
    d.group("Eng", &[]);
    let g2 = d.group("Ops", &[]);
    let (_, v, _) = d.patch(
        &format!("/Groups/{g2}"),
        json!([{"op": "replace", "path": "displayName", "value": "ENG"}]),
    );
    assert_error(&v, "409", Some("uniqueness"));
}

#[test]
fn pagination_is_stable_and_capped() {
    let mut d = Dir::new();
    let ids: Vec<String> = (0..5).map(|i| d.user(&format!("u{i}@x"))).collect();
    let (_, v, _) = d.ok("GET", "/Users", Some("startIndex=2&count=2"), Value::Null);
    assert_eq!(
        (
            v["totalResults"].clone(),
            v["startIndex"].clone(),
            v["itemsPerPage"].clone()
        ),
        (json!(5), json!(2), json!(2))
    );
    let got: Vec<&str> = v["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[1].as_str(), ids[2].as_str()]);
    let (_, v, _) = d.ok("GET", "/Users", Some("startIndex=-3&count=0"), Value::Null);
    assert_eq!(
        (
            v["totalResults"].clone(),
            v["startIndex"].clone(),
            v["Resources"].clone()
        ),
        (json!(5), json!(1), json!([]))
    );
    let (_, v, _) = d.ok(
        "GET",
        "/Users",
        Some("startIndex=99&count=99999999999999999999999"),
        Value::Null,
    );
    assert_eq!(
        (v["totalResults"].clone(), v["itemsPerPage"].clone()),
        (json!(5), json!(0))
    );
    let (_, v, _) = d.ok("GET", "/Users", Some("count=-1"), Value::Null);
    assert_eq!(v["itemsPerPage"], json!(0));
    for i in 5..(MAX_RESULTS + 3) {
        d.user(&format!("u{i}@x"));
    }
    let (_, v, _) = d.ok("GET", "/Users", None, Value::Null);
    assert_eq!(
        (v["itemsPerPage"].clone(), v["totalResults"].clone()),
        (json!(MAX_RESULTS), json!(MAX_RESULTS + 3))
    );
    // attributes / excludedAttributes on users keep id and schemas.
    let (_, v, _) = d.ok(
        "GET",
        "/Users",
        Some("count=1&attributes=userName"),
        Value::Null,
    );
    let keys: Vec<&String> = v["Resources"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["id", "schemas", "userName"]);
    let (_, v, _) = d.ok(
        "GET",
        "/Users",
        Some("count=1&excludedAttributes=emails,meta,id"),
        Value::Null,
    );
    assert!(v["Resources"][0].get("emails").is_none() && v["Resources"][0].get("id").is_some());
}

#[test]
fn discovery_documents() {
    let mut d = Dir::new();
    let (s, v, _) = d.ok("GET", "/ServiceProviderConfig", None, Value::Null);
    assert_eq!(s, 200);
    assert_eq!(v["patch"]["supported"], json!(true));
    assert_eq!(
        v["filter"],
        json!({"supported": true, "maxResults": MAX_RESULTS})
    );
    for k in ["bulk", "sort", "etag", "changePassword"] {
        assert_eq!(v[k]["supported"], json!(false), "{k}");
    }
    assert_eq!(
        v["authenticationSchemes"][0]["type"],
        json!("oauthbearertoken")
    );
    let (_, v, _) = d.ok("GET", "/ResourceTypes", None, Value::Null);
    assert_eq!(v["totalResults"], json!(2));
    assert_eq!(v["Resources"][0]["endpoint"], json!("/Users"));
    let (s, v, _) = d.ok("GET", "/ResourceTypes/Group", None, Value::Null);
    assert_eq!(
        (s, v["schema"].clone()),
        (200, json!(filter::CORE_GROUP_SCHEMA))
    );
    let (_, v, _) = d.ok("GET", "/Schemas", None, Value::Null);
    assert_eq!(v["totalResults"], json!(2));
    let (s, v, _) = d.ok(
        "GET",
        "/schemas/urn%3Aietf%3Aparams%3Ascim%3Aschemas%3Acore%3A2.0%3AUser",
        None,
        Value::Null,
    );
    assert_eq!((s, v["id"].clone()), (200, json!(filter::CORE_USER_SCHEMA)));
}

#[test]
fn user_for_and_groups_of() {
    let mut d = Dir::new();
    let (_, v, _) = d.ok(
        "POST",
        "/Users",
        None,
        json!({"userName": "first", "externalId": "sub-1",
        "emails": [{"value": "Shared@Acme.com", "type": "home"}]}),
    );
    let a = v["id"].as_str().unwrap().to_owned();
    let (_, v, _) = d.ok(
        "POST",
        "/Users",
        None,
        json!({"userName": "second",
        "emails": [{"value": "shared@acme.com", "type": "work"}]}),
    );
    let b = v["id"].as_str().unwrap().to_owned();
    let c = d.user("Carol@Acme.com");
    assert_eq!(d.d.user_for("sub-1", "x@y").map(|u| &u.id), Some(&a));
    assert_eq!(d.d.user_for("SUB-1", "nobody@y").map(|u| &u.id), None);
    // Work address beats a home one, whatever the case.
    assert_eq!(
        d.d.user_for("other", "SHARED@acme.com").map(|u| &u.id),
        Some(&b)
    );
    assert_eq!(d.d.user_for("", "carol@acme.com").map(|u| &u.id), Some(&c));
    assert_eq!(d.d.user_for("", ""), None);
    // Inactive users are still found (the caller refuses them).
    d.patch(
        &format!("/Users/{c}"),
        json!([{"op": "replace", "value": {"active": false}}]),
    );
    assert!(!d.d.user_for("", "carol@acme.com").unwrap().active);
    let g1 = d.group("Eng", &[&a, &c]);
    d.group("Ops", &[&c]);
    let mut gs = d.d.groups_of(&c);
    gs.sort();
    assert_eq!(gs, vec!["Eng", "Ops"]);
    assert_eq!(d.d.groups_of(&a), vec!["Eng"]);
    assert!(d.d.groups_of(&b).is_empty());
    let query = format!("filter={}", q(&format!(r#"members[value eq "{a}"]"#)));
    let (_, v, _) = d.ok("GET", "/Groups", Some(&query), Value::Null);
    assert_eq!(
        (v["totalResults"].clone(), v["Resources"][0]["id"].clone()),
        (json!(1), json!(g1))
    );
    let query = format!(
        "filter={}",
        q(&format!(r#"displayName eq "eng" and members eq "{c}""#))
    );
    let (_, v, _) = d.ok("GET", "/Groups", Some(&query), Value::Null);
    assert_eq!(v["totalResults"], json!(1));
}

#[test]
fn put_without_active_keeps_it() {
    let mut d = Dir::new();
    let id = d.user("u@x");
    d.patch(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "path": "active", "value": false}]),
    );
    let (s, v, _) = d.ok(
        "PUT",
        &format!("/Users/{id}"),
        None,
        json!({"userName": "u@x", "displayName": "U"}),
    );
    assert_eq!((s, v["active"].clone()), (200, json!(false)));
}

struct FailingRandom;
impl Random for FailingRandom {
    fn fill(&self, _: &mut [u8]) -> Result<(), RandomError> {
        Err(RandomError)
    }
}

#[test]
fn failed_csprng_is_the_only_500() {
    let mut d = ScimDirectory::default();
    let req = ScimRequest {
        method: "POST".into(),
        path: "/Users".into(),
        query: None,
        body: br#"{"userName":"x"}"#.to_vec(),
    };
    let o = d.handle(&req, BASE, UnixTime(1), &FailingRandom);
    assert_eq!(o.response.status, 500);
    assert_error(o.response.body.as_ref().unwrap(), "500", None);
    assert!(o.changes.is_empty() && d.users.is_empty());
}

#[test]
fn stored_form_round_trips() {
    let mut d = Dir::new();
    let a = d.user("a@x");
    d.group("G", &[&a]);
    let s = serde_json::to_string(&d.d).unwrap();
    let back: ScimDirectory = crate::core::json::from_str(&s).unwrap();
    assert_eq!(back.users, d.d.users);
    assert_eq!(back.groups, d.d.groups);
}

#[test]
fn rfc3339_dates() {
    assert_eq!(rfc3339(UnixTime(0)), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(UnixTime(951_782_400)), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(UnixTime(4_102_444_799)), "2099-12-31T23:59:59Z");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn handle_never_panics_or_5xx(method in "(GET|POST|PUT|PATCH|DELETE|get)", path in "(/Users|/Groups|/Users/[a-z]{0,3}|/Schemas|/[ -~]{0,12})", query in proptest::option::of("[ -~]{0,40}"), body in proptest::collection::vec(any::<u8>(), 0..80)) {
            let mut d = Dir::new();
            let id = d.user("u@x");
            d.group("G", &[&id]);
            let req = ScimRequest { method, path, query, body };
            let o = d.d.handle(&req, BASE, UnixTime(5), &d.rng);
            prop_assert!(o.response.status < 500);
        }

        #[test]
        fn patch_bodies_never_panic(ops in proptest::collection::vec((("(add|Replace|remove|x)"), proptest::option::of("(active|emails|emails\\[type eq \"work\"\\]\\.value|members|members\\[value eq \"a\"\\]|name\\.givenName|userName|[a-z]{1,5})"), proptest::option::of(prop_oneof![Just(json!(true)), Just(json!("False")), Just(json!([{"value":"a"}])), Just(json!({"active": false})), Just(json!("s")), Just(json!(null)), Just(json!(3))])), 0..5)) {
            let mut d = Dir::new();
            let id = d.user("u@x");
            let g = d.group("G", &[]);
            let ops: Vec<Value> = ops.into_iter().map(|(op, path, value)| {
                let mut o = json!({"op": op});
                if let Some(p) = path { o["path"] = json!(p); }
                if let Some(v) = value { o["value"] = v; }
                o
            }).collect();
            for target in [format!("/Users/{id}"), format!("/Groups/{g}")] {
                let (s, _, _) = d.patch(&target, Value::Array(ops.clone()));
                prop_assert!(s < 500);
            }
        }
    }

    /// A `PatchOp` body as Okta and Entra send them (RFC 7644 3.5.2), with a few bytes changed.
    fn mutated_patch_body() -> impl Strategy<Value = Vec<u8>> {
        let valid = prop::sample::select(vec![
            json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]}),
            json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
            json!({"schemas": [PATCH], "Operations": [{"op": "Remove", "path": "members", "value": [{"value": "id1"}]}]}),
            json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "emails[type eq \"work\"].value", "value": "a@b"}]}),
            json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": "members[value eq \"id1\"]"}]}),
        ]);
        let edit = (
            any::<prop::sample::Index>(),
            prop::sample::select(b"{}[]\",:\\ 0aA\x00\xff".to_vec()),
            0u8..3,
        );
        (valid, prop::collection::vec(edit, 0..4)).prop_map(|(v, edits)| {
            let mut b = serde_json::to_vec(&v).unwrap();
            for (at, c, kind) in edits {
                let i = at.index(b.len() + 1);
                match kind {
                    0 => b.insert(i, c),
                    1 if i < b.len() => {
                        b.remove(i);
                    }
                    _ if i < b.len() => b[i] = c,
                    _ => {}
                }
            }
            b
        })
    }

    /// An `active` update in either dialect, and what it sets (`None`: refused).
    fn active_op() -> impl Strategy<Value = (Value, Option<bool>)> {
        let v = prop::sample::select(vec![
            (json!(true), Some(true)),
            (json!(false), Some(false)),
            (json!("True"), Some(true)),
            (json!("false"), Some(false)),
            (json!("FALSE"), Some(false)),
            (json!("yes"), None),
            (json!(1), None),
            (json!(null), None),
        ]);
        (v, 0u8..3).prop_map(|((v, set), style)| {
            let op = match style {
                0 => json!({"op": "Replace", "path": "active", "value": v}),
                1 => json!({"op": "add", "path": "ACTIVE", "value": v}),
                _ => json!({"op": "replace", "value": {"active": v}}),
            };
            (op, set)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Any body, and near-valid ones: the parser answers without panicking, and what it
        /// accepts is within the operation cap and well-formed (remove has a path; add and
        /// replace a value; a path-less value is an object).
        #[test]
        fn patch_parse_is_total_and_capped(
            body in prop_oneof![mutated_patch_body(), prop::collection::vec(any::<u8>(), 0..64)]
        ) {
            if let Ok(ops) = patch::parse(&body) {
                prop_assert!(ops.len() <= MAX_OPERATIONS);
                for op in &ops {
                    match op.op {
                        patch::PatchKind::Remove => prop_assert!(op.path.is_some()),
                        _ => {
                            prop_assert!(op.value.is_some());
                            if op.path.is_none() {
                                prop_assert!(op.value.as_ref().is_some_and(Value::is_object));
                            }
                        }
                    }
                }
            }
        }

        /// The operation cap is exact.
        #[test]
        fn operation_cap_is_exact(n in prop_oneof![0usize..4, (MAX_OPERATIONS - 1)..(MAX_OPERATIONS + 2)]) {
            let ops = vec![json!({"op": "replace", "path": "active", "value": true}); n];
            let body = serde_json::to_vec(&json!({"schemas": [PATCH], "Operations": ops})).unwrap();
            prop_assert_eq!(patch::parse(&body).map(|o| o.len()).ok(), (n <= MAX_OPERATIONS).then_some(n));
        }

        /// `active` updates in Okta's and Entra's dialects, applied in order: the user ends
        /// as the last one says, or, when any is refused, the whole request fails and the
        /// user is unchanged (RFC 7644 3.5.2).
        #[test]
        fn active_updates_agree_with_a_model(ops in prop::collection::vec(active_op(), 1..5)) {
            let mut d = Dir::new();
            let id = d.user("u@x");
            let before = d.d.users[&id].active;
            let refused = ops.iter().any(|(_, set)| set.is_none());
            let want = if refused { before } else { ops.last().and_then(|(_, s)| *s).unwrap() };
            let (status, _, _) = d.patch(&format!("/Users/{id}"), Value::Array(ops.into_iter().map(|(o, _)| o).collect()));
            prop_assert_eq!(status == 200, !refused, "{}", status);
            prop_assert_eq!(d.d.users[&id].active, want);
        }
    }
}
