//! Role mapping: from a verified ID token's claims to the member's role in the org.

use crate::core::org::{Role, RoleRule};
use serde_json::{Map, Value};

/// The role for a member with ID-token `claims`: the role of the first rule (in order) whose
/// claim is a string equal to the rule's value, or an array containing that string; otherwise
/// `default`. `None` means access is denied.
///
/// Matching is exact and case-sensitive; claim values of other JSON types (numbers, booleans,
/// objects, non-string array elements) never match, so `"1"` and `1` are different.
pub fn map_role(
    rules: &[RoleRule],
    default: Option<Role>,
    claims: &Map<String, Value>,
) -> Option<Role> {
    rules
        .iter()
        .find(|rule| match claims.get(&rule.claim) {
            Some(Value::String(s)) => *s == rule.value,
            Some(Value::Array(items)) => items
                .iter()
                .any(|v| v.as_str() == Some(rule.value.as_str())),
            _ => false,
        })
        .map(|rule| rule.role)
        .or(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(claim: &str, value: &str, role: Role) -> RoleRule {
        RoleRule {
            claim: claim.into(),
            value: value.into(),
            role,
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

    #[test]
    fn first_matching_rule_wins_in_order() {
        let c = claims(json!({"groups": ["readers", "admins"]}));
        let rules = [
            rule("groups", "readers", Role::Read),
            rule("groups", "admins", Role::Admin),
        ];
        assert_eq!(map_role(&rules, None, &c), Some(Role::Read));
        let reversed = [rules[1].clone(), rules[0].clone()];
        assert_eq!(map_role(&reversed, None, &c), Some(Role::Admin));
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
}
