//! Role mapping: from a verified ID token's claims and the member's SCIM groups to the
//! member's roles in the org, org-wide and per resource group (Hugging Face Hub's semantics: the most privileged matching rule wins,
//! then the org's default role).

use crate::core::gateway::config::ResourceGroup;
use crate::core::org::{Role, RoleMatch, RoleRule};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A member's roles: org-wide, and within resource groups.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct MemberRoles {
    /// The org-wide role; `None` when no org-wide rule matched and the org has no default role.
    pub org: Option<Role>,
    /// `(group name, role)` for each resource group a rule granted a role in, in the order the
    /// org lists its groups, each group at most once.
    pub groups: Vec<(String, Role)>,
}

impl MemberRoles {
    /// Whether the member has any role at all (org-wide or in some group).
    pub fn is_member(&self) -> bool {
        self.org.is_some() || !self.groups.is_empty()
    }
}

/// The claim a rule names: the top-level claim of exactly that name if there is one (names such
/// as `https://hub.example/roles` contain dots), otherwise the dot path through nested objects
/// (`realm_access.roles`, Keycloak's shape).
pub(crate) fn claim_value<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut v = claims.get(parts.next()?)?;
    for part in parts {
        v = v.as_object()?.get(part)?;
    }
    Some(v)
}

/// Whether `rule` matches a member with ID-token `claims` who is in the SCIM groups whose
/// `displayName`s are `scim_groups`.
///
/// A claim rule matches when the claim it names is a string equal to the rule's value, or an
/// array containing that string. Exact and case-sensitive; claim values of other JSON types
/// (numbers, booleans, objects, non-string array elements) never match, so `"1"` and `1`
/// differ.
///
/// A SCIM group rule matches when one of `scim_groups` is the rule's name, compared exactly
/// (case-sensitive, no trimming or Unicode normalisation). RFC 7643 8.7.1 marks `displayName`
/// as not case-exact, but two groups may differ only in case (its uniqueness is "none"), and
/// a role must not follow a look-alike group: write the name as the IdP provisions it.
fn rule_matches(rule: &RoleRule, claims: &Map<String, Value>, scim_groups: &[&str]) -> bool {
    match &rule.matches {
        RoleMatch::Claim { claim, value } => match claim_value(claims, claim) {
            Some(Value::String(s)) => s == value,
            Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(value.as_str())),
            _ => false,
        },
        RoleMatch::ScimGroup(name) => scim_groups.contains(&name.as_str()),
    }
}

/// The indices in `rules` of the rules that match a member with `claims` in the SCIM groups
/// `scim_groups` (org-wide and resource-group rules alike): what a test sign-in shows an admin.
pub fn matching_rules(
    rules: &[RoleRule],
    claims: &Map<String, Value>,
    scim_groups: &[&str],
) -> Vec<usize> {
    rules
        .iter()
        .enumerate()
        .filter(|(_, r)| rule_matches(r, claims, scim_groups))
        .map(|(i, _)| i)
        .collect()
}

/// The org-wide role for a member with ID-token `claims` in the SCIM groups named
/// `scim_groups` (their `displayName`s; empty when the org has no SCIM or the member is in no
/// group): the most privileged role among the org-wide rules (those without
/// `resource_group`) that match, otherwise `default`. `None` means no org-wide role. Rule
/// order does not matter.
pub fn map_role(
    rules: &[RoleRule],
    default: Option<Role>,
    claims: &Map<String, Value>,
    scim_groups: &[&str],
) -> Option<Role> {
    rules
        .iter()
        .filter(|r| r.resource_group.is_none() && rule_matches(r, claims, scim_groups))
        .map(|r| r.role)
        .max()
        .or(default)
}

/// The member's org-wide role ([`map_role`]) and, for each of `groups` that some matching rule
/// names, the most privileged role those rules grant. Group rules never count for the org
/// role, and rules naming a group not in `groups` are ignored. `scim_groups` are the
/// `displayName`s of the member's SCIM groups, as for [`map_role`].
pub fn member_roles(
    rules: &[RoleRule],
    default: Option<Role>,
    groups: &[ResourceGroup],
    claims: &Map<String, Value>,
    scim_groups: &[&str],
) -> MemberRoles {
    let by_group = groups
        .iter()
        .filter_map(|g| {
            rules
                .iter()
                .filter(|r| r.resource_group.as_deref() == Some(g.name.as_str()))
                .filter(|r| rule_matches(r, claims, scim_groups))
                .map(|r| r.role)
                .max()
                .map(|role| (g.name.clone(), role))
        })
        .collect();
    MemberRoles {
        org: map_role(rules, default, claims, scim_groups),
        groups: by_group,
    }
}

/// The member's role at the path whose segments after `/orgs/{slug}` are `rest`: the most
/// privileged of the org role and the roles of the member's groups (looked up by name in the
/// org's current `groups`) that cover the path. `None` means no role there.
pub fn effective_role<S: AsRef<str>>(
    roles: &MemberRoles,
    groups: &[ResourceGroup],
    rest: &[S],
) -> Option<Role> {
    let in_groups = roles
        .groups
        .iter()
        .filter(|(name, _)| groups.iter().any(|g| g.name == *name && g.covers(rest)))
        .map(|(_, role)| *role);
    roles.org.into_iter().chain(in_groups).max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::gateway::pattern::PathPattern;
    use serde_json::json;

    fn rule(claim: &str, value: &str, role: Role) -> RoleRule {
        RoleRule::for_claim(claim, value, role)
    }

    fn group_rule(claim: &str, value: &str, role: Role, group: &str) -> RoleRule {
        rule(claim, value, role).in_resource_group(group)
    }

    /// [`map_role`] of a member in no SCIM group.
    fn map_role(rules: &[RoleRule], default: Option<Role>, c: &Map<String, Value>) -> Option<Role> {
        super::map_role(rules, default, c, &[])
    }

    fn group(name: &str, paths: &[&str]) -> ResourceGroup {
        ResourceGroup {
            name: name.into(),
            paths: paths
                .iter()
                .map(|p| PathPattern::parse(p).unwrap())
                .collect(),
        }
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn string_claim_matches() {
        let rules = [rule("department", "eng", Role::Write)];
        let c = claims(json!({"department": "eng"}));
        assert_eq!(map_role(&rules, None, &c), Some(Role::Write));
        let c = claims(json!({"department": "Eng"}));
        assert_eq!(map_role(&rules, None, &c), None);
    }

    #[test]
    fn array_claim_matches() {
        let rules = [rule("groups", "hub-admins", Role::Admin)];
        let c = claims(json!({"groups": ["everyone", "hub-admins"]}));
        assert_eq!(map_role(&rules, None, &c), Some(Role::Admin));
        let c = claims(json!({"groups": ["everyone"]}));
        assert_eq!(map_role(&rules, None, &c), None);
    }

    /// Replaces the former first-match test: the most privileged match wins in any order.
    #[test]
    fn most_privileged_matching_rule_wins_in_any_order() {
        let c = claims(json!({"groups": ["readers", "admins", "writers"]}));
        let rules = [
            rule("groups", "readers", Role::Read),
            rule("groups", "admins", Role::Admin),
            rule("groups", "writers", Role::Write),
            rule("groups", "nobody", Role::Admin),
        ];
        assert_eq!(map_role(&rules, None, &c), Some(Role::Admin));
        let mut reversed = rules.clone();
        reversed.reverse();
        assert_eq!(map_role(&reversed, None, &c), Some(Role::Admin));
        let c = claims(json!({"groups": ["readers", "writers"]}));
        assert_eq!(map_role(&rules, None, &c), Some(Role::Write));
    }

    #[test]
    fn default_applies_only_when_nothing_matches() {
        let rules = [rule("groups", "readers", Role::Read)];
        let c = claims(json!({"groups": ["readers"]}));
        assert_eq!(map_role(&rules, Some(Role::Write), &c), Some(Role::Read));
        let c = claims(json!({"groups": []}));
        assert_eq!(map_role(&rules, Some(Role::Write), &c), Some(Role::Write));
    }

    #[test]
    fn non_string_values_ignored() {
        let rules = [
            rule("level", "1", Role::Admin),
            rule("flag", "true", Role::Admin),
            rule("obj", "x", Role::Admin),
            rule("groups", "1", Role::Admin),
        ];
        let c = claims(json!({
            "level": 1,
            "flag": true,
            "obj": {"x": "x"},
            "groups": [1, ["1"], {"1": "1"}, null]
        }));
        assert_eq!(map_role(&rules, Some(Role::Read), &c), Some(Role::Read));
    }

    #[test]
    fn missing_claim_falls_back_to_default() {
        let rules = [rule("groups", "admins", Role::Admin)];
        let c = claims(json!({"email": "bob@acme.com"}));
        assert_eq!(
            map_role(&rules, Some(Role::Contributor), &c),
            Some(Role::Contributor)
        );
    }

    #[test]
    fn null_default_denies() {
        let rules = [rule("groups", "admins", Role::Admin)];
        let c = claims(json!({"groups": null}));
        assert_eq!(map_role(&rules, None, &c), None);
        assert_eq!(map_role(&[], None, &Map::new()), None);
    }

    #[test]
    fn url_shaped_and_nested_claim_names() {
        let c = claims(json!({
            "https://hub.example/roles": ["admin"],
            "realm_access": {"roles": ["hub-writer"], "deep": {"x": "y"}},
            "a.b": "top",
            "a": {"b": "nested"}
        }));
        let m = |claim: &str, value: &str| map_role(&[rule(claim, value, Role::Write)], None, &c);
        assert_eq!(m("https://hub.example/roles", "admin"), Some(Role::Write));
        assert_eq!(m("realm_access.roles", "hub-writer"), Some(Role::Write));
        assert_eq!(m("realm_access.deep.x", "y"), Some(Role::Write));
        // The exact top-level name is tried first, and only it.
        assert_eq!(m("a.b", "top"), Some(Role::Write));
        assert_eq!(m("a.b", "nested"), None);
        for (claim, value) in [
            ("realm_access", "hub-writer"),
            ("realm_access.roles.0", "hub-writer"),
            ("realm_access.missing", "x"),
            ("realm_access..roles", "hub-writer"),
            (".realm_access", "x"),
            ("https://hub", "admin"),
        ] {
            assert_eq!(m(claim, value), None, "{claim}");
        }
    }

    #[test]
    fn group_rules_do_not_count_for_the_org_role() {
        let rules = [group_rule("groups", "research", Role::Admin, "research")];
        let c = claims(json!({"groups": ["research"]}));
        assert_eq!(map_role(&rules, None, &c), None);
        assert_eq!(map_role(&rules, Some(Role::Read), &c), Some(Role::Read));
    }

    #[test]
    fn member_roles_per_group() {
        let groups = [
            group("research", &["models/research-*/**"]),
            group("ops", &["settings/**"]),
            group("unused", &["**"]),
        ];
        let rules = [
            rule("groups", "staff", Role::Read),
            group_rule("groups", "ops", Role::Admin, "ops"),
            group_rule("groups", "researchers", Role::Contributor, "research"),
            group_rule("groups", "research-leads", Role::Write, "research"),
            group_rule("groups", "staff", Role::Admin, "gone"),
        ];
        let c = claims(json!({"groups": ["staff", "researchers", "research-leads"]}));
        let m = member_roles(&rules, None, &groups, &c, &[]);
        assert_eq!(
            m,
            MemberRoles {
                org: Some(Role::Read),
                groups: vec![("research".into(), Role::Write)],
            }
        );
        assert!(m.is_member());
        let e = |rest: &[&str]| effective_role(&m, &groups, rest);
        assert_eq!(e(&["models", "research-x", "files"]), Some(Role::Write));
        assert_eq!(e(&["models", "other"]), Some(Role::Read));
        assert_eq!(e(&["settings"]), Some(Role::Read));
        assert_eq!(e(&[]), Some(Role::Read));
        // A group that no longer exists (or no longer covers the path) grants nothing.
        assert_eq!(
            effective_role(&m, &groups[1..], &["models", "research-x"]),
            Some(Role::Read)
        );
    }

    #[test]
    fn group_only_member() {
        let groups = [group("research", &["models/research-*/**"])];
        let rules = [group_rule("groups", "r", Role::Write, "research")];
        let c = claims(json!({"groups": ["r"]}));
        let m = member_roles(&rules, None, &groups, &c, &[]);
        assert_eq!(m.org, None);
        assert!(m.is_member());
        assert_eq!(
            effective_role(&m, &groups, &["models", "research-1"]),
            Some(Role::Write)
        );
        assert_eq!(effective_role(&m, &groups, &["models"]), None);
        let none = member_roles(&rules, None, &groups, &Map::new(), &[]);
        assert!(!none.is_member());
        assert_eq!(
            effective_role(&none, &groups, &["models", "research-1"]),
            None
        );
    }

    #[test]
    fn group_role_below_org_role_does_not_lower_it() {
        let groups = [group("g", &["**"])];
        let rules = [
            rule("groups", "a", Role::Admin),
            group_rule("groups", "a", Role::Read, "g"),
        ];
        let m = member_roles(
            &rules,
            None,
            &groups,
            &claims(json!({"groups": ["a"]})),
            &[],
        );
        assert_eq!(effective_role(&m, &groups, &["x"]), Some(Role::Admin));
    }

    #[test]
    fn scim_group_rule_matches_by_exact_display_name() {
        let rules = [RoleRule::for_scim_group("Engineering", Role::Write)];
        let none = Map::new();
        let m = |groups: &[&str]| super::map_role(&rules, Some(Role::Read), &none, groups);
        assert_eq!(m(&["Sales", "Engineering"]), Some(Role::Write));
        for other in [
            "engineering",
            "Engineering ",
            " Engineering",
            "Eng",
            "ENGINEERING",
        ] {
            assert_eq!(m(&[other]), Some(Role::Read), "{other:?}");
        }
        assert_eq!(m(&[]), Some(Role::Read));
    }

    #[test]
    fn scim_group_rule_ignores_claims_of_that_name() {
        // A claim saying "Engineering" is not SCIM membership (the IdP user controls some
        // claims; SCIM groups come from the provisioning channel only).
        let rules = [RoleRule::for_scim_group("Engineering", Role::Admin)];
        let c = claims(json!({"groups": ["Engineering"], "scim_group": "Engineering"}));
        assert_eq!(super::map_role(&rules, None, &c, &[]), None);
    }

    #[test]
    fn claim_and_scim_group_rules_combine() {
        let rules = [
            rule("groups", "staff", Role::Read),
            RoleRule::for_scim_group("Admins", Role::Admin),
            RoleRule::for_scim_group("Writers", Role::Write),
        ];
        let c = claims(json!({"groups": ["staff"]}));
        assert_eq!(super::map_role(&rules, None, &c, &[]), Some(Role::Read));
        assert_eq!(
            super::map_role(&rules, None, &c, &["Writers"]),
            Some(Role::Write)
        );
        assert_eq!(
            super::map_role(&rules, None, &Map::new(), &["Writers", "Admins"]),
            Some(Role::Admin)
        );
    }

    #[test]
    fn resource_group_scoped_scim_group_rules() {
        let groups = [
            group("research", &["models/research-*/**"]),
            group("ops", &["settings/**"]),
        ];
        let rules = [
            RoleRule::for_scim_group("Staff", Role::Read),
            RoleRule::for_scim_group("Research", Role::Write).in_resource_group("research"),
            RoleRule::for_scim_group("Research Leads", Role::Admin).in_resource_group("research"),
            RoleRule::for_scim_group("Ops", Role::Admin).in_resource_group("ops"),
            RoleRule::for_scim_group("Research", Role::Admin).in_resource_group("gone"),
        ];
        let m = member_roles(&rules, None, &groups, &Map::new(), &["Staff", "Research"]);
        assert_eq!(
            m,
            MemberRoles {
                org: Some(Role::Read),
                groups: vec![("research".into(), Role::Write)],
            }
        );
        assert_eq!(
            effective_role(&m, &groups, &["models", "research-1", "x"]),
            Some(Role::Write)
        );
        assert_eq!(effective_role(&m, &groups, &["settings"]), Some(Role::Read));
        // Group-scoped SCIM rules never grant the org role.
        let only = member_roles(&rules, None, &groups, &Map::new(), &["Research"]);
        assert_eq!(only.org, None);
        assert_eq!(only.groups, vec![("research".to_owned(), Role::Write)]);
        assert_eq!(super::map_role(&rules, None, &Map::new(), &["Ops"]), None);
    }
}
