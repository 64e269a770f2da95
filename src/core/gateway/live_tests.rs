use super::*;
use crate::core::clock::UnixTime;
use crate::core::member::Member;
use crate::core::oidc::url_policy::IdpUrlPolicy;
use crate::core::org::Role;
use serde_json::{json, Value};

const STRICT: IdpUrlPolicy = IdpUrlPolicy {
    allow_insecure_loopback: false,
};

fn slug() -> OrgSlug {
    OrgSlug::parse("acme").unwrap()
}

fn config(v: Value) -> OrgConfig {
    OrgConfig::from_admin_json(slug(), v.to_string().as_bytes(), &STRICT, None).unwrap()
}

fn base() -> Value {
    json!({
        "domains": ["example.com"],
        "issuer": "https://idp.example.com",
        "client_id": "client-123",
        "client_secret": "s3cret",
        "role_mapping": [{"claim": "groups", "value": "hub-writers", "role": "write"}],
        "default_role": "read"
    })
}

fn with(mut v: Value, key: &str, val: Value) -> Value {
    v.as_object_mut().unwrap().insert(key.into(), val);
    v
}

fn session(groups: &[&str]) -> OrgSession {
    let claims = json!({ "groups": groups }).as_object().unwrap().clone();
    let member = Member::for_tests("ada", "ada@example.com", Role::Read).with_role_claims(claims);
    OrgSession::new(&member, UnixTime(1_700_000_000), 3600, None)
}

#[test]
fn current_config_decides_the_roles() {
    let cfg = config(base());
    let id = live_identity(&slug(), Some(&cfg), &session(&["hub-writers"]), &[]).unwrap();
    assert_eq!(id.roles.org, Some(Role::Write));
    assert_eq!(id.email, "ada@example.com");
    assert_eq!(id.idp, "https://idp.example.com");
    // The mapping changes: the same live session gets the new role, no new sign-in.
    let cfg = config(with(
        base(),
        "role_mapping",
        json!([{"claim": "groups", "value": "hub-writers", "role": "admin"}]),
    ));
    let id = live_identity(&slug(), Some(&cfg), &session(&["hub-writers"]), &[]).unwrap();
    assert_eq!(id.roles.org, Some(Role::Admin));
}

#[test]
fn default_role_removed_ends_sessions_it_alone_carried() {
    let mut v = base();
    v.as_object_mut().unwrap().remove("default_role");
    let cfg = config(v);
    assert_eq!(
        live_identity(&slug(), Some(&cfg), &session(&["other"]), &[]),
        Err(Stale::NoRole)
    );
    assert!(live_identity(&slug(), Some(&cfg), &session(&["hub-writers"]), &[]).is_ok());
}

#[test]
fn resource_groups_apply_live() {
    let cfg = config(with(
        with(
            base(),
            "resource_groups",
            json!([{"name": "research", "paths": ["models/research-*/**"]}]),
        ),
        "role_mapping",
        json!([
            {"claim": "groups", "value": "hub-writers", "role": "write"},
            {"claim": "groups", "value": "researchers", "role": "admin", "resource_group": "research"}
        ]),
    ));
    let id = live_identity(&slug(), Some(&cfg), &session(&["researchers"]), &[]).unwrap();
    assert_eq!(id.roles.org, Some(Role::Read));
    assert_eq!(id.roles.groups, vec![("research".to_owned(), Role::Admin)]);
}

#[test]
fn deleted_org_or_another_orgs_config_refused() {
    assert_eq!(
        live_identity(&slug(), None, &session(&[]), &[]),
        Err(Stale::OrgGone)
    );
    let other = OrgConfig::from_admin_json(
        OrgSlug::parse("other").unwrap(),
        base().to_string().as_bytes(),
        &STRICT,
        None,
    )
    .unwrap();
    assert_eq!(
        live_identity(&slug(), Some(&other), &session(&[]), &[]),
        Err(Stale::OrgGone)
    );
}

#[test]
fn issuer_client_or_domain_change_ends_the_session() {
    let s = session(&[]);
    let cfg = config(with(base(), "issuer", json!("https://idp2.example.com")));
    assert_eq!(
        live_identity(&slug(), Some(&cfg), &s, &[]),
        Err(Stale::IssuerChanged)
    );
    let cfg = config(with(base(), "client_id", json!("client-456")));
    assert_eq!(
        live_identity(&slug(), Some(&cfg), &s, &[]),
        Err(Stale::ClientChanged)
    );
    let cfg = config(with(base(), "domains", json!(["example.org"])));
    assert_eq!(
        live_identity(&slug(), Some(&cfg), &s, &[]),
        Err(Stale::DomainRemoved)
    );
}

#[test]
fn records_from_before_role_claims_keep_their_sign_in_role() {
    // Today's record format without client_id and role_claims.
    let old: OrgSession = serde_json::from_value(json!({
        "sub": "ada", "email": "ada@example.com", "role": "write", "auth_time": 1,
        "expires_at": 2_000_000_000u64, "id_token_hint": null, "sid": null,
        "issuer": "https://idp.example.com"
    }))
    .unwrap();
    let id = live_identity(&slug(), Some(&config(base())), &old, &[]).unwrap();
    assert_eq!(id.roles.org, Some(Role::Write));
}
