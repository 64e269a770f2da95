//! Unit tests of staging: the three-way merge at apply and the stored record.

use super::*;
use crate::core::clock::FixedClock;
use crate::core::email::EmailDomain;
use crate::core::oidc::url_policy::IdpUrlPolicy;
use crate::core::org::{MAX_BODY_BYTES, MAX_ROLE_RULES};
use crate::core::store::{block_on, MemoryStore};
use serde_json::{json, Value};

const STRICT: IdpUrlPolicy = IdpUrlPolicy {
    allow_insecure_loopback: false,
};

fn slug() -> OrgSlug {
    OrgSlug::parse("acme").unwrap()
}

fn body() -> Value {
    json!({
        "domains": ["acme.com"],
        "issuer": "https://acme.okta.com",
        "client_id": "0oa1",
        "client_secret": "s3cret",
        "role_mapping": [{"claim": "groups", "value": "hub-admins", "role": "admin"}],
        "default_role": "read",
        "session_ttl_secs": 3600,
    })
}

/// The config of admin body `v` (secret kept from `existing` when `v` has none).
fn cfg_with(v: &Value, existing: Option<&OrgConfig>) -> OrgConfig {
    OrgConfig::from_admin_json(slug(), v.to_string().as_bytes(), &STRICT, existing).unwrap()
}

fn cfg(v: &Value) -> OrgConfig {
    cfg_with(v, None)
}

/// `body()` with `changes` (an object) laid over it.
fn changed(changes: Value) -> Value {
    let mut v = body();
    for (k, x) in changes.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

#[test]
fn apply_keeps_the_changes_made_since_staging() {
    let base = cfg(&body());
    let staged = cfg(&changed(json!({
        "issuer": "https://acme-new.okta.com",
        "client_secret": "new-secret",
    })));
    let current = cfg(&changed(json!({
        "role_mapping": [{"claim": "groups", "value": "ops", "role": "admin"}],
        "session_ttl_secs": 900,
        "enforced": false,
    })));
    let (merged, overridden) = merge(&base, &staged, &current);
    assert_eq!(merged.issuer.as_str(), "https://acme-new.okta.com");
    assert!(merged.client_secret.ct_eq_str("new-secret"));
    assert_eq!(merged.role_mapping, current.role_mapping);
    assert_eq!(merged.session_ttl_secs, 900);
    assert!(!merged.enforced);
    assert_eq!(overridden, Vec::<&str>::new());
    // Nothing changed since: the staged config itself.
    assert_eq!(merge(&base, &staged, &base), (staged.clone(), vec![]));
    // Nothing staged: the current config itself.
    assert_eq!(merge(&base, &base, &current), (current.clone(), vec![]));
}

#[test]
fn a_field_changed_both_ways_takes_the_staged_value_and_is_named() {
    let base = cfg(&body());
    let staged = cfg(&changed(json!({
        "issuer": "https://acme-new.okta.com",
        "client_secret": "new-secret",
        "default_role": null,
        "scopes": ["openid", "email"],
    })));
    let current = cfg(&changed(json!({
        "default_role": "write",
        // The same change made both ways: nothing is lost, nothing named.
        "scopes": ["openid", "email"],
        "session_ttl_secs": 600,
    })));
    let (merged, overridden) = merge(&base, &staged, &current);
    assert_eq!(merged.default_role, None);
    assert_eq!(merged.scopes, ["openid", "email"]);
    assert_eq!(merged.session_ttl_secs, 600);
    assert_eq!(overridden, ["default_role"]);
}

#[test]
fn the_sign_in_settings_move_as_one() {
    // Staged: a new secret only. Since: the operator moved the org to another client, with
    // its own secret, and changed the profile.
    let base = cfg(&body());
    let staged = cfg(&changed(json!({"client_secret": "rotated"})));
    let current = cfg(&changed(json!({
        "issuer": "https://other.okta.com",
        "client_id": "0oa2",
        "client_secret": "other-secret",
        "idp": "okta",
    })));
    let (merged, overridden) = merge(&base, &staged, &current);
    // The staged secret never goes to a client it was not issued for: the tested unit wins.
    assert_eq!(merged.issuer, base.issuer);
    assert_eq!(merged.client_id, base.client_id);
    assert!(merged.client_secret.ct_eq_str("rotated"));
    assert_eq!(merged.profile, base.profile);
    assert_eq!(
        overridden,
        ["issuer", "client_id", "client_secret", "profile"]
    );
    // A secret changed since (not staged) is named when the staged one replaces it.
    let current = cfg(&changed(json!({"client_secret": "operator-secret"})));
    let (merged, overridden) = merge(&base, &staged, &current);
    assert!(merged.client_secret.ct_eq_str("rotated"));
    assert_eq!(overridden, ["client_secret"]);
}

#[test]
fn role_rules_move_with_the_resource_groups_they_name() {
    let groups = json!([{"name": "ops", "paths": ["ops/**"]}]);
    let base = cfg(&changed(json!({"resource_groups": groups})));
    // Staged: a rule granting admin within `ops` (and a new client).
    let staged = cfg(&changed(json!({
        "client_secret": "new-secret",
        "resource_groups": groups,
        "role_mapping": [
            {"claim": "groups", "value": "hub-admins", "role": "admin"},
            {"claim": "groups", "value": "ops", "role": "admin", "resource_group": "ops"},
        ],
    })));
    // Since: the operator removed the group `ops`.
    let current = cfg(&body());
    let (merged, overridden) = merge(&base, &staged, &current);
    // Never a rule naming a group that is not there.
    assert_eq!(merged.role_mapping, staged.role_mapping);
    assert_eq!(merged.resource_groups, staged.resource_groups);
    assert_eq!(overridden, ["resource_groups"]);
}

#[test]
fn domains_are_always_the_current_ones() {
    let base = cfg(&body());
    let mut staged = cfg(&changed(json!({"client_secret": "new-secret"})));
    staged
        .domains
        .push(EmailDomain::parse("staged.example").unwrap());
    staged
        .verified_domains
        .push(EmailDomain::parse("gone.example").unwrap());
    let mut current = cfg(&changed(json!({"domains": ["acme.com", "acme.io"]})));
    current
        .verified_domains
        .push(EmailDomain::parse("proven.example").unwrap());
    let (merged, overridden) = merge(&base, &staged, &current);
    assert_eq!(merged.domains, current.domains);
    assert_eq!(merged.verified_domains, current.verified_domains);
    assert!(merged.client_secret.ct_eq_str("new-secret"));
    assert!(overridden.is_empty());
}

#[test]
fn the_record_keeps_its_base_and_any_change_to_it_is_a_new_version() {
    let store = MemoryStore::new(FixedClock::at(1_000));
    let staging = Staging::new(&store);
    let base = cfg(&body());
    let staged = cfg(&changed(json!({"client_secret": "new-secret"})));
    block_on(staging.put(&base, &staged)).unwrap();
    let got = block_on(staging.get(&slug())).unwrap().unwrap();
    assert_eq!(got.config, staged);
    assert_eq!(got.base.as_ref(), Some(&base));
    let named = got.test_digest(&base).unwrap();
    block_on(staging.mark_tested(&slug(), &named, "ada@acme.com", UnixTime(1))).unwrap();
    assert!(block_on(staging.tested(&slug(), &got, &base))
        .unwrap()
        .is_some());
    // The same staged config against another base is another version: the mark is void.
    let other_base = cfg(&changed(json!({"session_ttl_secs": 600})));
    block_on(staging.put(&other_base, &staged)).unwrap();
    let again = block_on(staging.get(&slug())).unwrap().unwrap();
    assert_ne!(again.digest, got.digest);
    assert!(block_on(staging.tested(&slug(), &again, &base))
        .unwrap()
        .is_none());
}

#[test]
fn a_test_mark_names_the_staged_version_applied_to_the_current_config() {
    // The test signs in with what applying would write: the staged change merged onto the
    // current config. Its mark holds for exactly that, so a change to the current config
    // since (role rules the merge keeps, say) voids it.
    let store = MemoryStore::new(FixedClock::at(1_000));
    let staging = Staging::new(&store);
    let base = cfg(&body());
    block_on(crate::core::directory::OrgDirectory::new(&store).put(base.clone())).unwrap();
    let staged = cfg(&changed(json!({"client_secret": "new-secret"})));
    block_on(staging.put(&base, &staged)).unwrap();
    let got = block_on(staging.get(&slug())).unwrap().unwrap();
    let named = got.test_digest(&base).unwrap();
    assert_ne!(named, got.digest);
    assert_eq!(
        block_on(staging.under_test(&slug(), &named)).unwrap(),
        Some(got.applied(&base).0)
    );
    block_on(staging.mark_tested(&slug(), &named, "ada@acme.com", UnixTime(1))).unwrap();
    // Since: the role rules change in the active config.
    let current = cfg(&changed(json!({"role_mapping": [
        {"claim": "groups", "value": "other-admins", "role": "admin"}
    ]})));
    assert_ne!(got.test_digest(&current).unwrap(), named);
    assert!(block_on(staging.tested(&slug(), &got, &current))
        .unwrap()
        .is_none());
    block_on(crate::core::directory::OrgDirectory::new(&store).put(current.clone())).unwrap();
    assert_eq!(block_on(staging.under_test(&slug(), &named)).unwrap(), None);
    // A test under the current config names what applying writes now.
    let (applied, _) = got.applied(&current);
    assert_eq!(applied.role_mapping, current.role_mapping);
    assert_eq!(applied.client_secret.expose(), "new-secret");
    let renamed = got.test_digest(&current).unwrap();
    assert_eq!(
        block_on(staging.under_test(&slug(), &renamed)).unwrap(),
        Some(applied)
    );
}

#[test]
fn a_record_staged_before_bases_reads_without_one() {
    let store = MemoryStore::new(FixedClock::at(1_000));
    let staged = cfg(&changed(json!({"client_secret": "new-secret"})));
    let raw = serde_json::to_string(&staged).unwrap();
    block_on(store.put("org-staged:acme", &raw, None)).unwrap();
    let got = block_on(Staging::new(&store).get(&slug()))
        .unwrap()
        .unwrap();
    assert_eq!(got.config, staged);
    assert!(got.base.is_none());
}

#[test]
fn records_that_are_not_this_orgs_read_as_none() {
    let store = MemoryStore::new(FixedClock::at(1_000));
    let staging = Staging::new(&store);
    let put_raw = |raw: &str| block_on(store.put("org-staged:acme", raw, None)).unwrap();
    let read = || block_on(staging.get(&slug())).unwrap();
    let beta = {
        let mut c = cfg(&body());
        c.slug = OrgSlug::parse("beta").unwrap();
        c
    };
    let acme = cfg(&body());
    // Unreadable.
    put_raw("{\"config\": 1}");
    assert!(read().is_none());
    // Another org's config, bare or as the staged one or the base of a record.
    put_raw(&serde_json::to_string(&beta).unwrap());
    assert!(read().is_none());
    put_raw(&encode(&acme, &beta).unwrap());
    assert!(read().is_none());
    put_raw(&encode(&beta, &acme).unwrap());
    assert!(read().is_none());
    // Larger than any record of ours.
    let mut big = serde_json::to_string(&acme).unwrap();
    big.push_str(&" ".repeat(MAX_STORED));
    put_raw(&big);
    assert!(read().is_none());
    // Ours again.
    put_raw(&encode(&acme, &acme).unwrap());
    assert!(read().is_some());
}

/// A 244-byte domain, distinct per `i`.
fn long_domain(i: usize) -> EmailDomain {
    let l = |c: &str| c.repeat(63);
    EmailDomain::parse(&format!(
        "{}.{}.{}.{}.d{i:02}.example",
        l("a"),
        l("b"),
        l("c"),
        "e".repeat(40)
    ))
    .unwrap()
}

#[test]
fn a_record_of_two_largest_configs_fits_the_read_cap() {
    // The largest admin body: rules with the longest claims and values, up to the body cap.
    let mut rules = Vec::new();
    let mut v = body();
    for i in 0..MAX_ROLE_RULES {
        let value = format!("{i:02}{}", "v".repeat(254));
        rules.push(json!({"claim": "c".repeat(64), "value": value, "role": "admin"}));
        let mut next = v.clone();
        next["role_mapping"] = json!(rules);
        if next.to_string().len() > MAX_BODY_BYTES {
            break;
        }
        v = next;
    }
    let raw_body = v.to_string();
    assert!(raw_body.len() > MAX_BODY_BYTES - 512, "{}", raw_body.len());
    let mut big = cfg(&v);
    // Plus what no body carries: the most DNS-verified domains, and as many hosted domains.
    big.verified_domains = (0..crate::core::domains::MAX_CLAIMS_PER_ORG)
        .map(long_domain)
        .collect();
    big.profile.hosted_domains = big.verified_domains.clone();
    let record = encode(&big, &big).unwrap();
    // Under 100 KiB (as MAX_STORED's reasoning says), well inside the cap (which leaves room
    // for fields yet to come).
    assert!(record.len() < 100 * 1024, "{}", record.len());
    assert!(record.len() < MAX_STORED);
}

#[test]
fn a_merged_config_gets_what_a_put_of_it_would_add() {
    // An Okta org authorization server sends `groups` only when asked for the scope, so a PUT
    // whose role rules read `groups` adds it (profile::okta). Staged: a move to Okta, with
    // rules that read `department`. Since: rules that read `groups`, under the generic IdP
    // (nothing added). The merge must not make an Okta config reading groups without the scope.
    let base = cfg(&changed(json!({
        "issuer": "https://idp.acme.example",
        "role_mapping": [{"claim": "department", "value": "it", "role": "admin"}],
    })));
    let staged = cfg_with(
        &changed(json!({
            "idp": "okta",
            "issuer": "https://acme.okta.com",
            "client_id": "0oa2",
            "client_secret": "okta-secret",
            "role_mapping": [{"claim": "department", "value": "it", "role": "admin"}],
        })),
        Some(&base),
    );
    assert!(!staged.scopes.iter().any(|s| s == "groups"));
    let current = cfg_with(
        &changed(json!({
            "issuer": "https://idp.acme.example",
            "role_mapping": [{"claim": "groups", "value": "hub-admins", "role": "admin"}],
        })),
        Some(&base),
    );
    let (merged, _) = merge(&base, &staged, &current);
    assert_eq!(merged.role_mapping, current.role_mapping);
    assert_eq!(merged.issuer.as_str(), "https://acme.okta.com");
    assert_eq!(merged.scopes, ["openid", "email", "profile", "groups"]);
}
