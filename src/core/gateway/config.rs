//! The gateway's part of an org's configuration: `access_rules` (which role a path and method
//! need) and `resource_groups` (paths that `role_mapping` rules can grant a role within), and
//! the `resource_group` key of a `role_mapping` rule. Validated here, called from
//! [`OrgConfig::from_admin_json`](crate::core::org::OrgConfig::from_admin_json); every error is a
//! [`FieldError`] naming the field path (`access_rules[1].path`).

use crate::core::gateway::pattern::PathPattern;
use crate::core::org::{FieldError, Role};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Most access rules per org.
pub const MAX_ACCESS_RULES: usize = 64;
/// Most methods listed by one access rule.
pub const MAX_RULE_METHODS: usize = 16;
/// Longest method name, in characters.
pub const MAX_METHOD_CHARS: usize = 32;
/// Most resource groups per org.
pub const MAX_RESOURCE_GROUPS: usize = 32;
/// Most path patterns in one resource group.
pub const MAX_GROUP_PATHS: usize = 16;
/// Longest resource group name, in characters.
pub const MAX_GROUP_NAME_CHARS: usize = 48;

/// "Requests whose path matches `path` (and whose method is one of `methods`, if given) need
/// `role`." The first matching rule of an org wins; see
/// [`required_role`](crate::core::gateway::decision::required_role).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AccessRule {
    /// Relative to `/orgs/{slug}/`.
    pub path: PathPattern,
    /// Upper-case method names; `None` matches every method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    /// The role required.
    pub role: Role,
}

impl AccessRule {
    /// Whether the rule applies to `method` at `rest`. Methods compare ASCII
    /// case-insensitively: RFC 9110 9.1 makes them case-sensitive, but an origin that reads
    /// `post` as `POST` must not see it escape a rule written for `POST`.
    pub fn matches<S: AsRef<str>>(&self, method: &str, rest: &[S]) -> bool {
        let method_ok = self
            .methods
            .as_ref()
            .is_none_or(|ms| ms.iter().any(|m| m.eq_ignore_ascii_case(method)));
        method_ok && self.path.matches(rest)
    }
}

/// A named set of paths within which `role_mapping` rules naming the group grant their role.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ResourceGroup {
    /// Slug-like (`[a-z0-9-]`, no leading, trailing or doubled hyphen), unique in the org.
    pub name: String,
    /// The group's paths (at least one).
    pub paths: Vec<PathPattern>,
}

impl ResourceGroup {
    /// Whether one of the group's patterns matches `rest`.
    pub fn covers<S: AsRef<str>>(&self, rest: &[S]) -> bool {
        self.paths.iter().any(|p| p.matches(rest))
    }
}

fn array<'a>(v: &'a Value, field: &str) -> Result<&'a Vec<Value>, FieldError> {
    v.as_array()
        .ok_or_else(|| FieldError::new(field, "must be an array"))
}

fn string<'a>(v: &'a Value, field: &str) -> Result<&'a str, FieldError> {
    v.as_str()
        .ok_or_else(|| FieldError::new(field, "must be a string"))
}

/// The object at `field`, with only `allowed` keys.
fn object<'a>(
    v: &'a Value,
    field: &str,
    allowed: &[&str],
    what: &str,
) -> Result<&'a Map<String, Value>, FieldError> {
    let obj = v
        .as_object()
        .ok_or_else(|| FieldError::new(field, format!("must be an object with {what}")))?;
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        let k: String = k.chars().take(64).collect();
        return Err(FieldError::new(format!("{field}.{k}"), "unknown field"));
    }
    Ok(obj)
}

fn required<'a>(obj: &'a Map<String, Value>, base: &str, k: &str) -> Result<&'a Value, FieldError> {
    obj.get(k)
        .ok_or_else(|| FieldError::new(format!("{base}.{k}"), "is required"))
}

fn pattern(v: &Value, field: &str) -> Result<PathPattern, FieldError> {
    PathPattern::parse(string(v, field)?).map_err(|e| FieldError::new(field, e.to_string()))
}

fn role(v: &Value, field: &str) -> Result<Role, FieldError> {
    Role::parse(string(v, field)?)
        .ok_or_else(|| FieldError::new(field, "must be one of read, contributor, write, admin"))
}

/// A method name as RFC 9110 9.1 writes it (`token`), restricted to upper case so that a rule
/// reads the way methods are registered (`GET`, `PROPFIND`).
fn is_method(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_METHOD_CHARS
        && s.bytes().all(|b| {
            b.is_ascii_uppercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
        })
}

fn parse_methods(v: &Value, field: &str) -> Result<Vec<String>, FieldError> {
    let items = array(v, field)?;
    if items.is_empty() {
        return Err(FieldError::new(
            field,
            "must list at least one method (omit it to match every method)",
        ));
    }
    if items.len() > MAX_RULE_METHODS {
        return Err(FieldError::new(
            field,
            format!("must list at most {MAX_RULE_METHODS} methods"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (j, item) in items.iter().enumerate() {
        let f = format!("{field}[{j}]");
        let m = string(item, &f)?;
        if !is_method(m) {
            return Err(FieldError::new(
                f,
                format!(
                    "must be an upper-case method name of at most {MAX_METHOD_CHARS} characters"
                ),
            ));
        }
        if out.iter().any(|o| o == m) {
            return Err(FieldError::new(f, "duplicate method"));
        }
        out.push(m.to_owned());
    }
    Ok(out)
}

/// Validates the `access_rules` field: up to [`MAX_ACCESS_RULES`] `{path, methods?, role}`
/// objects.
pub fn parse_access_rules(v: &Value) -> Result<Vec<AccessRule>, FieldError> {
    const F: &str = "access_rules";
    let items = array(v, F)?;
    if items.len() > MAX_ACCESS_RULES {
        return Err(FieldError::new(
            F,
            format!("must have at most {MAX_ACCESS_RULES} rules"),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let base = format!("{F}[{i}]");
        let obj = object(
            item,
            &base,
            &["path", "methods", "role"],
            "path, role and optional methods",
        )?;
        let path = pattern(required(obj, &base, "path")?, &format!("{base}.path"))?;
        let methods = match obj.get("methods") {
            None => None,
            Some(m) => Some(parse_methods(m, &format!("{base}.methods"))?),
        };
        let role = role(required(obj, &base, "role")?, &format!("{base}.role"))?;
        out.push(AccessRule {
            path,
            methods,
            role,
        });
    }
    Ok(out)
}

fn is_group_name(s: &str) -> bool {
    (1..=MAX_GROUP_NAME_CHARS).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// Validates the `resource_groups` field: up to [`MAX_RESOURCE_GROUPS`] `{name, paths}`
/// objects with distinct names.
pub fn parse_resource_groups(v: &Value) -> Result<Vec<ResourceGroup>, FieldError> {
    const F: &str = "resource_groups";
    let items = array(v, F)?;
    if items.len() > MAX_RESOURCE_GROUPS {
        return Err(FieldError::new(
            F,
            format!("must have at most {MAX_RESOURCE_GROUPS} groups"),
        ));
    }
    let mut out: Vec<ResourceGroup> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let base = format!("{F}[{i}]");
        let obj = object(item, &base, &["name", "paths"], "name and paths")?;
        let name_field = format!("{base}.name");
        let name = string(required(obj, &base, "name")?, &name_field)?;
        if !is_group_name(name) {
            return Err(FieldError::new(
                name_field,
                format!(
                    "must be 1 to {MAX_GROUP_NAME_CHARS} lower-case letters, digits and single inner hyphens"
                ),
            ));
        }
        if let Some(j) = out.iter().position(|g| g.name == name) {
            return Err(FieldError::new(
                name_field,
                format!("is the same name as {F}[{j}].name"),
            ));
        }
        let paths_field = format!("{base}.paths");
        let paths = array(required(obj, &base, "paths")?, &paths_field)?;
        if paths.is_empty() || paths.len() > MAX_GROUP_PATHS {
            return Err(FieldError::new(
                paths_field,
                format!("must list 1 to {MAX_GROUP_PATHS} path patterns"),
            ));
        }
        let paths = paths
            .iter()
            .enumerate()
            .map(|(j, p)| pattern(p, &format!("{paths_field}[{j}]")))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(ResourceGroup {
            name: name.to_owned(),
            paths,
        });
    }
    Ok(out)
}

/// Validates the optional `resource_group` key of role-mapping rule `base`
/// (`role_mapping[3]`): absent is `None`; otherwise it must name one of `groups`.
pub fn parse_rule_resource_group(
    v: Option<&Value>,
    base: &str,
    groups: &[ResourceGroup],
) -> Result<Option<String>, FieldError> {
    let Some(v) = v else {
        return Ok(None);
    };
    let field = format!("{base}.resource_group");
    let name = string(v, &field)?;
    if !groups.iter().any(|g| g.name == name) {
        return Err(FieldError::new(
            field,
            "must name a group defined in resource_groups",
        ));
    }
    Ok(Some(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::oidc::url_policy::IdpUrlPolicy;
    use crate::core::org::{OrgConfig, OrgSlug};
    use serde_json::json;

    fn rules_err(v: Value) -> String {
        parse_access_rules(&v).unwrap_err().field
    }

    fn groups_err(v: Value) -> String {
        parse_resource_groups(&v).unwrap_err().field
    }

    #[test]
    fn access_rules_parse() {
        let r = parse_access_rules(&json!([
            {"path": "settings/**", "methods": ["GET", "POST"], "role": "admin"},
            {"path": "**", "role": "read"}
        ]))
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].path.as_str(), "settings/**");
        assert_eq!(
            r[0].methods.as_deref(),
            Some(&["GET".to_owned(), "POST".to_owned()][..])
        );
        assert_eq!(r[0].role, Role::Admin);
        assert_eq!(r[1].methods, None);
        assert!(parse_access_rules(&json!([])).unwrap().is_empty());
    }

    #[test]
    fn access_rule_errors_name_the_field() {
        let rule = |r: Value| rules_err(json!([{"path": "**", "role": "read"}, r]));
        assert_eq!(rules_err(json!({})), "access_rules");
        assert_eq!(rules_err(Value::Null), "access_rules");
        let many: Vec<Value> = (0..=MAX_ACCESS_RULES)
            .map(|_| json!({"path": "**", "role": "read"}))
            .collect();
        assert_eq!(rules_err(json!(many)), "access_rules");
        assert_eq!(rule(json!("x")), "access_rules[1]");
        assert_eq!(rule(json!({"role": "read"})), "access_rules[1].path");
        assert_eq!(rule(json!({"path": "**"})), "access_rules[1].role");
        assert_eq!(
            rule(json!({"path": "", "role": "read"})),
            "access_rules[1].path"
        );
        assert_eq!(
            rule(json!({"path": "**/x", "role": "read"})),
            "access_rules[1].path"
        );
        assert_eq!(
            rule(json!({"path": "a/../b", "role": "read"})),
            "access_rules[1].path"
        );
        assert_eq!(
            rule(json!({"path": 1, "role": "read"})),
            "access_rules[1].path"
        );
        assert_eq!(
            rule(json!({"path": "**", "role": "owner"})),
            "access_rules[1].role"
        );
        assert_eq!(
            rule(json!({"path": "**", "role": "read", "x": 1})),
            "access_rules[1].x"
        );
        let m = |ms: Value| rule(json!({"path": "**", "role": "read", "methods": ms}));
        assert_eq!(m(json!([])), "access_rules[1].methods");
        assert_eq!(m(json!("GET")), "access_rules[1].methods");
        assert_eq!(m(Value::Null), "access_rules[1].methods");
        assert_eq!(m(json!(["GET", "get"])), "access_rules[1].methods[1]");
        assert_eq!(m(json!(["GET", "GET"])), "access_rules[1].methods[1]");
        assert_eq!(m(json!(["GET", ""])), "access_rules[1].methods[1]");
        assert_eq!(m(json!(["GET", "PO ST"])), "access_rules[1].methods[1]");
        assert_eq!(m(json!(["GET", 1])), "access_rules[1].methods[1]");
        assert_eq!(
            m(json!(["X".repeat(MAX_METHOD_CHARS + 1)])),
            "access_rules[1].methods[0]"
        );
        let many: Vec<String> = (0..=MAX_RULE_METHODS).map(|i| format!("M{i}")).collect();
        assert_eq!(m(json!(many)), "access_rules[1].methods");
        let e = parse_access_rules(&json!([{"path": "**/x", "role": "read"}])).unwrap_err();
        assert_eq!(e.message, "may use ** only as the whole last segment");
    }

    #[test]
    fn rule_matching_by_method_and_path() {
        let r = &parse_access_rules(&json!([
            {"path": "settings/**", "methods": ["POST"], "role": "admin"}
        ]))
        .unwrap()[0];
        assert!(r.matches("POST", &["settings"]));
        assert!(r.matches("post", &["settings", "x"]));
        assert!(!r.matches("GET", &["settings"]));
        assert!(!r.matches("POST", &["other"]));
    }

    #[test]
    fn resource_groups_parse() {
        let g = parse_resource_groups(&json!([
            {"name": "research", "paths": ["models/research-*/**", "datasets/research"]}
        ]))
        .unwrap();
        assert_eq!(g[0].name, "research");
        assert!(g[0].covers(&["models", "research-x"]));
        assert!(g[0].covers(&["datasets", "research"]));
        assert!(!g[0].covers(&["datasets", "research", "x"]));
        assert!(!g[0].covers::<&str>(&[]));
    }

    #[test]
    fn resource_group_errors_name_the_field() {
        let one = |g: Value| groups_err(json!([{"name": "a", "paths": ["**"]}, g]));
        assert_eq!(groups_err(json!("x")), "resource_groups");
        let many: Vec<Value> = (0..=MAX_RESOURCE_GROUPS)
            .map(|i| json!({"name": format!("g{i}"), "paths": ["**"]}))
            .collect();
        assert_eq!(groups_err(json!(many)), "resource_groups");
        assert_eq!(one(json!(1)), "resource_groups[1]");
        assert_eq!(one(json!({"paths": ["**"]})), "resource_groups[1].name");
        assert_eq!(one(json!({"name": "b"})), "resource_groups[1].paths");
        assert_eq!(
            one(json!({"name": "b", "paths": ["**"], "role": "x"})),
            "resource_groups[1].role"
        );
        for bad in ["", "A", "a_b", "-a", "a-", "a--b", "a b"] {
            assert_eq!(
                one(json!({"name": bad, "paths": ["**"]})),
                "resource_groups[1].name"
            );
        }
        let long = "a".repeat(MAX_GROUP_NAME_CHARS + 1);
        assert_eq!(
            one(json!({"name": long, "paths": ["**"]})),
            "resource_groups[1].name"
        );
        assert_eq!(
            one(json!({"name": "a", "paths": ["**"]})),
            "resource_groups[1].name"
        );
        assert_eq!(
            one(json!({"name": 5, "paths": ["**"]})),
            "resource_groups[1].name"
        );
        assert_eq!(
            one(json!({"name": "b", "paths": []})),
            "resource_groups[1].paths"
        );
        assert_eq!(
            one(json!({"name": "b", "paths": "**"})),
            "resource_groups[1].paths"
        );
        let many: Vec<String> = (0..=MAX_GROUP_PATHS).map(|i| format!("p{i}")).collect();
        assert_eq!(
            one(json!({"name": "b", "paths": many})),
            "resource_groups[1].paths"
        );
        assert_eq!(
            one(json!({"name": "b", "paths": ["x", "a/**/b"]})),
            "resource_groups[1].paths[1]"
        );
        assert_eq!(
            one(json!({"name": "b", "paths": ["x", 2]})),
            "resource_groups[1].paths[1]"
        );
        assert!(parse_resource_groups(&json!([{"name": "a-1", "paths": ["**"]}])).is_ok());
    }

    #[test]
    fn rule_resource_group_must_be_defined() {
        let groups =
            parse_resource_groups(&json!([{"name": "research", "paths": ["**"]}])).unwrap();
        assert_eq!(
            parse_rule_resource_group(None, "role_mapping[0]", &groups),
            Ok(None)
        );
        assert_eq!(
            parse_rule_resource_group(Some(&json!("research")), "role_mapping[0]", &groups),
            Ok(Some("research".into()))
        );
        for bad in [json!("other"), json!(1), Value::Null, json!("Research")] {
            let e = parse_rule_resource_group(Some(&bad), "role_mapping[2]", &groups).unwrap_err();
            assert_eq!(e.field, "role_mapping[2].resource_group", "{bad}");
        }
    }

    fn org_body(extra: Value) -> Value {
        let mut body = json!({
            "domains": ["acme.com"],
            "issuer": "https://acme.okta.com",
            "client_id": "c",
            "client_secret": "s3cret",
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    }

    fn org(extra: Value) -> Result<OrgConfig, FieldError> {
        OrgConfig::from_admin_json(
            OrgSlug::parse("acme").unwrap(),
            org_body(extra).to_string().as_bytes(),
            &IdpUrlPolicy {
                allow_insecure_loopback: false,
            },
            None,
        )
    }

    #[test]
    fn org_config_fields_absent_mean_empty() {
        let c = org(json!({})).unwrap();
        assert!(c.access_rules.is_empty());
        assert!(c.resource_groups.is_empty());
        let v = c.redacted_json();
        assert_eq!(v["access_rules"], json!([]));
        assert_eq!(v["resource_groups"], json!([]));
        assert!(v["role_mapping"].as_array().unwrap().is_empty());
    }

    #[test]
    fn org_config_parses_stores_and_echoes_gateway_fields() {
        let extra = json!({
            "access_rules": [{"path": "settings/**", "methods": ["GET", "POST"], "role": "admin"}],
            "resource_groups": [{"name": "research", "paths": ["models/research-*/**"]}],
            "role_mapping": [
                {"claim": "https://hub.example/roles", "value": "admin", "role": "admin"},
                {"claim": "realm_access.roles", "value": "r", "role": "write", "resource_group": "research"}
            ]
        });
        let c = org(extra.clone()).unwrap();
        assert_eq!(c.access_rules[0].role, Role::Admin);
        assert_eq!(c.resource_groups[0].name, "research");
        assert_eq!(c.role_mapping[0].resource_group, None);
        assert_eq!(
            c.role_mapping[1].resource_group.as_deref(),
            Some("research")
        );
        let v = c.redacted_json();
        for k in ["access_rules", "resource_groups", "role_mapping"] {
            assert_eq!(v[k], extra[k], "{k}");
        }
        let stored = serde_json::to_string(&c).unwrap();
        assert_eq!(
            crate::core::json::from_str::<OrgConfig>(&stored).unwrap(),
            c
        );
    }

    #[test]
    fn org_config_errors_name_gateway_fields() {
        let field = |extra: Value| org(extra).unwrap_err().field;
        assert_eq!(
            field(
                json!({"access_rules": [{"path": "**", "role": "read"}, {"path": "", "role": "read"}]})
            ),
            "access_rules[1].path"
        );
        assert_eq!(field(json!({"access_rules": null})), "access_rules");
        assert_eq!(field(json!({"resource_groups": null})), "resource_groups");
        assert_eq!(
            field(json!({"resource_groups": [{"name": "g", "paths": ["a/**/b"]}]})),
            "resource_groups[0].paths[0]"
        );
        assert_eq!(
            field(json!({"role_mapping": [
                {"claim": "g", "value": "v", "role": "read"},
                {"claim": "g", "value": "v", "role": "read", "resource_group": "research"}
            ]})),
            "role_mapping[1].resource_group"
        );
        assert_eq!(
            field(json!({
                "resource_groups": [{"name": "research", "paths": ["**"]}],
                "role_mapping": [{"claim": "g", "value": "v", "role": "read", "resource_group": null}]
            })),
            "role_mapping[0].resource_group"
        );
    }

    #[test]
    fn org_config_stored_before_the_gateway_still_loads() {
        let old = json!({
            "slug": "acme",
            "domains": ["acme.com"],
            "issuer": "https://acme.okta.com",
            "client_id": "c",
            "client_secret": "s",
            "scopes": ["openid"],
            "role_mapping": [{"claim": "groups", "value": "a", "role": "admin"}],
            "default_role": null,
            "session_ttl_secs": 3600,
            "enforced": true
        });
        let c: OrgConfig = serde_json::from_value(old).unwrap();
        assert!(c.access_rules.is_empty() && c.resource_groups.is_empty());
        assert_eq!(c.role_mapping[0].resource_group, None);
    }

    #[test]
    fn storage_round_trip() {
        let r = parse_access_rules(&json!([
            {"path": "a/*", "methods": ["PUT"], "role": "write"},
            {"path": "**", "role": "read"}
        ]))
        .unwrap();
        let s = serde_json::to_value(&r).unwrap();
        assert_eq!(
            s,
            json!([{"path": "a/*", "methods": ["PUT"], "role": "write"}, {"path": "**", "role": "read"}])
        );
        assert_eq!(parse_access_rules(&s).unwrap(), r);
        let back: Vec<AccessRule> = serde_json::from_value(s).unwrap();
        assert_eq!(back, r);
    }
}
