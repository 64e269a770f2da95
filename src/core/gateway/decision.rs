//! The gateway's decision for one gated request: forward it, send the browser to sign in, ask an
//! API client to sign in, or refuse for want of a role. Pure: the caller looks up the org's
//! config and the member's session and passes them in.

use crate::core::gateway::config::AccessRule;
use crate::core::gateway::path::GatedPath;
use crate::core::oidc::authorize::MAX_RETURN_TO;
use crate::core::org::{OrgConfig, OrgSlug, Role};
use crate::core::roles::{effective_role, MemberRoles};
use serde::{Deserialize, Serialize};

/// Who a signed-in member is, as the gateway tells the origin.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Identity {
    /// The org the member's session belongs to.
    pub org: OrgSlug,
    /// The IdP's `sub` for the member.
    pub sub: String,
    /// The member's email address.
    pub email: String,
    /// The IdP's issuer identifier.
    pub idp: String,
    /// The member's roles, as mapped at sign-in.
    pub roles: MemberRoles,
    /// When the member's org session ends (nothing said about them may outlive it).
    pub expires_at: crate::core::clock::UnixTime,
}

/// Everything [`decide`] looks at.
#[derive(Clone, Copy, Debug)]
pub struct DecisionInput<'a> {
    /// The request's path ([`crate::core::gateway::path::classify_path`]).
    pub path: &'a GatedPath,
    /// The request's raw query, without `?` (`None` when the URL has none).
    pub query: Option<&'a str>,
    /// The request method, as received.
    pub method: &'a str,
    /// Whether the request is a browser navigation ([`is_navigation`]).
    pub navigation: bool,
    /// The config stored for `path.slug`; `None` when there is no such org.
    pub org: Option<&'a OrgConfig>,
    /// The member of a valid session of that org; `None` without one. A session of another org
    /// counts as none.
    pub identity: Option<&'a Identity>,
}

/// What to do with a gated request.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Decision {
    /// Forward to the origin, telling it who the member is when there is one (attach the
    /// assertion and identity headers only then).
    Forward {
        /// The member, if the request carries a valid session of the org.
        identity: Option<Identity>,
    },
    /// A browser navigation without a session: redirect it to `location` (a same-origin path).
    LoginRedirect {
        /// `/sso/start?org={slug}&return_to={path and query, percent-encoded}`.
        location: String,
    },
    /// Any other request without a session: answer 401 with a pointer to `login_url`.
    SsoRequired {
        /// `/sso/start?org={slug}`.
        login_url: String,
    },
    /// A session whose role at this path is below `required`: answer 403.
    InsufficientRole {
        /// The role the request needs.
        required: Role,
    },
}

/// The role `method` at `rest` needs: that of the first access rule matching both, otherwise
/// `read` for `GET`, `HEAD` and `OPTIONS` (RFC 9110 9.2.1 safe methods; `TRACE` is left out
/// because it echoes the request) and `write` for every other method. The safe methods compare
/// exactly: an unusual spelling such as `get` needs `write`. A `HEAD` needs at least what a
/// `GET` of the path needs: it is a `GET` without the body (RFC 9110 9.3.2), and many origins
/// answer it by running the `GET` handler, so a rule for `GET` covers it too.
pub fn required_role<S: AsRef<str>>(rules: &[AccessRule], method: &str, rest: &[S]) -> Role {
    let by_rules = |method: &str| match rules.iter().find(|r| r.matches(method, rest)) {
        Some(r) => r.role,
        None if matches!(method, "GET" | "HEAD" | "OPTIONS") => Role::Read,
        None => Role::Write,
    };
    match method {
        "HEAD" => by_rules("HEAD").max(by_rules("GET")),
        _ => by_rules(method),
    }
}

/// Whether the request is a browser navigation, to be answered with a redirect to sign in
/// rather than 401: `Sec-Fetch-Mode: navigate` (Fetch Metadata, W3C); or, from a client that
/// sends no `Sec-Fetch-*` header at all, a `GET` or `HEAD` whose `Accept` lists `text/html`
/// (with a non-zero `q`). `header` returns a request header by name.
pub fn is_navigation<F, V>(method: &str, header: F) -> bool
where
    F: Fn(&str) -> Option<V>,
    V: AsRef<str>,
{
    if let Some(mode) = header("Sec-Fetch-Mode") {
        return mode.as_ref().trim().eq_ignore_ascii_case("navigate");
    }
    let fetch_metadata = ["Sec-Fetch-Site", "Sec-Fetch-Dest", "Sec-Fetch-User"];
    if fetch_metadata.iter().any(|h| header(h).is_some()) {
        return false;
    }
    matches!(method, "GET" | "HEAD") && header("Accept").is_some_and(|a| accepts_html(a.as_ref()))
}

/// Whether an `Accept` value lists `text/html` with a non-zero weight (RFC 9110 12.5.1).
fn accepts_html(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("text/html") {
            return false;
        }
        !parts.any(|p| {
            let p = p.trim();
            let q = p
                .strip_prefix("q=")
                .or_else(|| p.strip_prefix("Q="))
                .map(str::trim);
            q.is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
        })
    })
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for a query parameter value.
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where to come back to after signing in: the path and query, if `/sso/start` will accept
/// them back (at most [`MAX_RETURN_TO`] bytes of printable ASCII without backslash, as
/// `sanitize_return_to` requires), else the path alone, else the org root.
fn return_to(path: &GatedPath, query: Option<&str>) -> String {
    let p = path.path();
    let acceptable = |s: &str| {
        s.len() <= MAX_RETURN_TO && s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'\\')
    };
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        let full = format!("{p}?{q}");
        if acceptable(&full) {
            return full;
        }
    }
    if acceptable(&p) {
        return p;
    }
    format!("/orgs/{}", path.slug)
}

/// The methods named by `_method` parameters of `query`, upper-cased as origins read them
/// (method-override, Laravel): at most a few, the rest ignored (each only raises what the
/// request needs).
fn query_method_overrides(query: Option<&str>) -> Vec<String> {
    const MAX: usize = 4;
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "_method")
        .map(|(_, v)| v.trim().to_ascii_uppercase())
        .take(MAX)
        .collect()
}

/// What a request at `rest` needs under any of `methods` ([`required_role`]; `read` is the
/// least), and the member's [`effective_role`] there.
fn reading<S: AsRef<str>>(
    org: &OrgConfig,
    identity: &Identity,
    methods: &[&str],
    rest: &[S],
) -> (Role, Option<Role>) {
    let required = methods
        .iter()
        .map(|m| required_role(&org.access_rules, m, rest))
        .fold(Role::Read, Role::max);
    (
        required,
        effective_role(&identity.roles, &org.resource_groups, rest),
    )
}

/// `rest` with each segment's `;` path parameters cut off (`settings;x` -> `settings`), as
/// Servlet containers (Tomcat, Jetty, Spring) route a path before matching it; `None` when no
/// segment has any. A request must be allowed under this reading too, or `settings;x/members`
/// would escape a rule for `settings/**` at such an origin.
fn without_path_parameters(rest: &[String]) -> Option<Vec<&str>> {
    rest.iter().any(|s| s.contains(';')).then(|| {
        rest.iter()
            .map(|s| s.split(';').next().unwrap_or(""))
            .collect()
    })
}

/// Decides what to do with a gated request:
///
/// 1. Unknown org, or an org whose `enforced` is false: forward, with the identity when there is
///    a session.
/// 2. No session: a navigation is redirected to sign in and back; anything else gets
///    [`Decision::SsoRequired`].
/// 3. A session: forward if the member's [`effective_role`] at the path is at least the
///    [`required_role`], else [`Decision::InsufficientRole`]; for a path with `;` path
///    parameters, under both the path as written and the path without them.
///
/// Fails closed on inconsistent input: a config whose slug is not the path's counts as an
/// enforced org, and an identity of another org as no session.
pub fn decide(input: &DecisionInput<'_>) -> Decision {
    let path = input.path;
    let identity = input.identity.filter(|i| i.org == path.slug);
    let enforced_org = match input.org {
        None => None,
        Some(org) if org.slug == path.slug && !org.enforced => None,
        Some(org) => Some(org),
    };
    let Some(org) = enforced_org else {
        return Decision::Forward {
            identity: identity.cloned(),
        };
    };
    let Some(identity) = identity.filter(|_| org.slug == path.slug) else {
        let login_url = format!("/sso/start?org={}", path.slug);
        return if input.navigation {
            Decision::LoginRedirect {
                location: format!(
                    "{login_url}&return_to={}",
                    encode_component(&return_to(path, input.query))
                ),
            }
        } else {
            Decision::SsoRequired { login_url }
        };
    };
    // The request must be allowed however the origin may read it: as the method it was sent
    // with and as the one a `_method` query parameter names (Express's method-override,
    // Laravel); at the path as written and with `;` path parameters cut off, as Servlet
    // containers route it. It needs the most any reading needs; the member has the least role
    // any reading gives.
    let overrides = query_method_overrides(input.query);
    let methods: Vec<&str> = std::iter::once(input.method)
        .chain(overrides.iter().map(String::as_str))
        .collect();
    let (mut required, mut role) = reading(org, identity, &methods, &path.rest);
    if let Some(lenient) = without_path_parameters(&path.rest) {
        let (lenient_required, lenient_role) = reading(org, identity, &methods, &lenient);
        required = required.max(lenient_required);
        role = role.min(lenient_role);
    }
    match role {
        Some(role) if role >= required => Decision::Forward {
            identity: Some(identity.clone()),
        },
        _ => Decision::InsufficientRole { required },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::gateway::path::{classify_path, PathClass};
    use crate::core::oidc::authorize::sanitize_return_to;
    use crate::core::oidc::url_policy::IdpUrlPolicy;
    use serde_json::{json, Value};
    use std::collections::HashMap;

    fn org(extra: Value) -> OrgConfig {
        let mut body = json!({
            "domains": ["acme.com"],
            "issuer": "https://acme.okta.com",
            "client_id": "c",
            "client_secret": "s",
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        OrgConfig::from_admin_json(
            OrgSlug::parse("acme").unwrap(),
            body.to_string().as_bytes(),
            &IdpUrlPolicy {
                allow_insecure_loopback: false,
            },
            None,
        )
        .unwrap()
    }

    fn gated(p: &str) -> GatedPath {
        match classify_path(p).unwrap() {
            PathClass::Gated(g) => g,
            PathClass::NotGated => panic!("{p}"),
        }
    }

    fn member(org: Option<Role>, groups: &[(&str, Role)]) -> Identity {
        Identity {
            expires_at: crate::core::clock::UnixTime(u64::MAX),
            org: OrgSlug::parse("acme").unwrap(),
            sub: "u1".into(),
            email: "bob@acme.com".into(),
            idp: "https://acme.okta.com".into(),
            roles: MemberRoles {
                org,
                groups: groups.iter().map(|(g, r)| (g.to_string(), *r)).collect(),
            },
        }
    }

    struct Case<'a> {
        path: &'a str,
        method: &'a str,
        navigation: bool,
        org: Option<&'a OrgConfig>,
        identity: Option<&'a Identity>,
        query: Option<&'a str>,
    }

    fn run(c: Case<'_>) -> Decision {
        let g = gated(c.path);
        decide(&DecisionInput {
            path: &g,
            query: c.query,
            method: c.method,
            navigation: c.navigation,
            org: c.org,
            identity: c.identity,
        })
    }

    fn case<'a>(
        path: &'a str,
        method: &'a str,
        org: &'a OrgConfig,
        id: Option<&'a Identity>,
    ) -> Case<'a> {
        Case {
            path,
            method,
            navigation: false,
            org: Some(org),
            identity: id,
            query: None,
        }
    }

    #[test]
    fn unknown_org_and_unenforced_org_forward() {
        let m = member(Some(Role::Read), &[]);
        assert_eq!(
            run(Case {
                org: None,
                ..case("/orgs/acme", "POST", &org(json!({})), None)
            }),
            Decision::Forward { identity: None }
        );
        let open = org(json!({"enforced": false}));
        assert_eq!(
            run(case("/orgs/acme/settings", "DELETE", &open, None)),
            Decision::Forward { identity: None }
        );
        assert_eq!(
            run(case("/orgs/acme/settings", "DELETE", &open, Some(&m))),
            Decision::Forward {
                identity: Some(m.clone())
            }
        );
    }

    #[test]
    fn no_session_navigation_redirects_others_need_sso() {
        let o = org(json!({}));
        let g = gated("/orgs/acme/models/x");
        let d = decide(&DecisionInput {
            path: &g,
            query: Some("tab=files&q=a%20b"),
            method: "GET",
            navigation: true,
            org: Some(&o),
            identity: None,
        });
        let Decision::LoginRedirect { location } = d else {
            panic!("{d:?}")
        };
        assert_eq!(
            location,
            "/sso/start?org=acme&return_to=%2Forgs%2Facme%2Fmodels%2Fx%3Ftab%3Dfiles%26q%3Da%2520b"
        );
        assert_eq!(
            run(case("/orgs/acme", "GET", &o, None)),
            Decision::SsoRequired {
                login_url: "/sso/start?org=acme".into()
            }
        );
        assert_eq!(
            run(Case {
                navigation: true,
                ..case("/orgs/acme", "POST", &o, None)
            }),
            Decision::LoginRedirect {
                location: "/sso/start?org=acme&return_to=%2Forgs%2Facme".into()
            }
        );
    }

    #[test]
    fn return_to_survives_sanitize_or_falls_back() {
        let g = gated("/orgs/acme/a%20b");
        // Round trip through the form decoding /sso/start applies, then its sanitizer.
        let back = |q: Option<&str>| {
            let rt = return_to(&g, q);
            let enc = encode_component(&rt);
            let decoded: String = url::form_urlencoded::parse(format!("r={enc}").as_bytes())
                .next()
                .unwrap()
                .1
                .into_owned();
            assert_eq!(decoded, rt);
            sanitize_return_to(&decoded)
        };
        assert_eq!(back(Some("x=%2B1+2")), "/orgs/acme/a%20b?x=%2B1+2");
        assert_eq!(back(None), "/orgs/acme/a%20b");
        assert_eq!(back(Some("")), "/orgs/acme/a%20b");
        assert_eq!(back(Some("x=\u{e9}")), "/orgs/acme/a%20b");
        assert_eq!(back(Some(&"q".repeat(MAX_RETURN_TO))), "/orgs/acme/a%20b");
        let long = gated(&format!("/orgs/acme/{}", "a".repeat(MAX_RETURN_TO)));
        assert_eq!(return_to(&long, None), "/orgs/acme");
    }

    /// Origins with method-override middleware run the `_method` of the query instead: the
    /// request must be allowed as that method too (the override headers are never forwarded).
    #[test]
    fn a_query_method_override_needs_what_that_method_needs() {
        let o = org(json!({
            "access_rules": [{"path": "models/**", "methods": ["DELETE"], "role": "admin"}]
        }));
        let writer = member(Some(Role::Write), &[]);
        for q in [
            "_method=DELETE",
            "_method=delete",
            "a=1&_method=%44ELETE",
            "_method=+DELETE",
        ] {
            let mut c = case("/orgs/acme/models/x", "POST", &o, Some(&writer));
            c.query = Some(q);
            assert_eq!(
                run(c),
                Decision::InsufficientRole {
                    required: Role::Admin
                },
                "{q}"
            );
        }
        // Both at once: a `;` parameter does not hide the path from the overridden method.
        let mut c = case("/orgs/acme/models;x/y", "POST", &o, Some(&writer));
        c.query = Some("_method=DELETE");
        assert_eq!(
            run(c),
            Decision::InsufficientRole {
                required: Role::Admin
            }
        );
        let mut c = case("/orgs/acme/models/x", "POST", &o, Some(&writer));
        c.query = Some("method=DELETE");
        assert!(matches!(run(c), Decision::Forward { .. }));
        // An override never lowers what the request needs.
        let reader = member(Some(Role::Read), &[]);
        let mut c = case("/orgs/acme/models/x", "POST", &o, Some(&reader));
        c.query = Some("_method=GET");
        assert_eq!(
            run(c),
            Decision::InsufficientRole {
                required: Role::Write
            }
        );
    }

    /// RFC 9110 9.3.2: HEAD is GET without the body, and origins often run the GET handler
    /// for it: a rule for GET covers HEAD, and a rule for HEAD alone can only ask more.
    #[test]
    fn a_head_needs_what_a_get_of_the_path_needs() {
        let o = org(json!({
            "access_rules": [
                {"path": "settings/**", "methods": ["GET"], "role": "admin"},
                {"path": "reports/**", "methods": ["HEAD"], "role": "write"},
                {"path": "**", "methods": ["HEAD"], "role": "read"}
            ]
        }));
        let reader = member(Some(Role::Read), &[]);
        for (path, needs) in [
            ("/orgs/acme/settings/x", Role::Admin),
            ("/orgs/acme/reports/x", Role::Write),
        ] {
            assert_eq!(
                run(case(path, "HEAD", &o, Some(&reader))),
                Decision::InsufficientRole { required: needs },
                "{path}"
            );
        }
        assert!(matches!(
            run(case("/orgs/acme/models/x", "HEAD", &o, Some(&reader))),
            Decision::Forward { .. }
        ));
        // GET is not raised by a HEAD rule.
        assert!(matches!(
            run(case("/orgs/acme/reports/x", "GET", &o, Some(&reader))),
            Decision::Forward { .. }
        ));
    }

    #[test]
    fn default_requirements_by_method() {
        let o = org(json!({}));
        let reader = member(Some(Role::Read), &[]);
        let writer = member(Some(Role::Write), &[]);
        for m in ["GET", "HEAD", "OPTIONS"] {
            assert!(matches!(
                run(case("/orgs/acme/x", m, &o, Some(&reader))),
                Decision::Forward { .. }
            ));
        }
        for m in ["POST", "PUT", "PATCH", "DELETE", "TRACE", "get", "PROPFIND"] {
            assert_eq!(
                run(case("/orgs/acme/x", m, &o, Some(&reader))),
                Decision::InsufficientRole {
                    required: Role::Write
                },
                "{m}"
            );
            assert!(matches!(
                run(case("/orgs/acme/x", m, &o, Some(&writer))),
                Decision::Forward { .. }
            ));
        }
        let contributor = member(Some(Role::Contributor), &[]);
        assert_eq!(
            run(case("/orgs/acme", "POST", &o, Some(&contributor))),
            Decision::InsufficientRole {
                required: Role::Write
            }
        );
    }

    #[test]
    fn access_rules_first_match_wins() {
        let o = org(json!({"access_rules": [
            {"path": "settings/**", "methods": ["GET", "POST"], "role": "admin"},
            {"path": "settings/profile", "role": "read"},
            {"path": "discussions/*", "methods": ["POST"], "role": "contributor"},
            {"path": "**", "methods": ["DELETE"], "role": "admin"}
        ]}));
        let writer = member(Some(Role::Write), &[]);
        let admin = member(Some(Role::Admin), &[]);
        let contributor = member(Some(Role::Contributor), &[]);
        let need = |p: &str, m: &str, who: &Identity| run(case(p, m, &o, Some(who)));
        assert_eq!(
            need("/orgs/acme/settings", "GET", &writer),
            Decision::InsufficientRole {
                required: Role::Admin
            }
        );
        assert_eq!(
            need("/orgs/acme/settings/profile", "post", &writer),
            Decision::InsufficientRole {
                required: Role::Admin
            }
        );
        assert!(matches!(
            need("/orgs/acme/settings/profile", "PUT", &contributor),
            Decision::Forward { .. }
        ));
        assert!(matches!(
            need("/orgs/acme/settings/x", "GET", &admin),
            Decision::Forward { .. }
        ));
        assert!(matches!(
            need("/orgs/acme/discussions/7", "POST", &contributor),
            Decision::Forward { .. }
        ));
        assert_eq!(
            need("/orgs/acme/discussions/7/x", "POST", &contributor),
            Decision::InsufficientRole {
                required: Role::Write
            }
        );
        assert_eq!(
            need("/orgs/acme", "DELETE", &writer),
            Decision::InsufficientRole {
                required: Role::Admin
            }
        );
    }

    /// Servlet containers (Tomcat, Jetty, Spring) route `settings;x` as `settings`: a `;` path
    /// parameter must not move a request out of the rule, or into the resource group, that the
    /// origin will apply.
    #[test]
    fn path_parameters_escape_no_rule_and_enter_no_group() {
        let o = org(json!({
            "access_rules": [{"path": "settings/**", "role": "admin"}],
            "resource_groups": [{"name": "public", "paths": ["models/*-public/**"]}],
            "role_mapping": [{"claim": "groups", "value": "p", "role": "write", "resource_group": "public"}]
        }));
        let reader = member(Some(Role::Read), &[("public", Role::Write)]);
        for p in [
            "/orgs/acme/settings;x",
            "/orgs/acme/settings;jsessionid=1/members",
            "/orgs/acme/settings;/members",
        ] {
            assert_eq!(
                run(case(p, "GET", &o, Some(&reader))),
                Decision::InsufficientRole {
                    required: Role::Admin
                },
                "{p}"
            );
        }
        // The group covers `x-public` but the origin reads `secret;-public` as `secret`.
        assert!(matches!(
            run(case(
                "/orgs/acme/models/x-public/f",
                "PUT",
                &o,
                Some(&reader)
            )),
            Decision::Forward { .. }
        ));
        assert_eq!(
            run(case(
                "/orgs/acme/models/secret;-public/f",
                "PUT",
                &o,
                Some(&reader)
            )),
            Decision::InsufficientRole {
                required: Role::Write
            }
        );
        // Path parameters that change nothing are still forwarded.
        assert!(matches!(
            run(case("/orgs/acme/models/a;v=1", "GET", &o, Some(&reader))),
            Decision::Forward { .. }
        ));
        assert!(matches!(
            run(case(
                "/orgs/acme/models/x-public/f;v=1",
                "PUT",
                &o,
                Some(&reader)
            )),
            Decision::Forward { .. }
        ));
    }

    #[test]
    fn resource_group_roles_apply_within_their_paths() {
        let o = org(json!({
            "resource_groups": [{"name": "research", "paths": ["models/research-*/**"]}],
            "role_mapping": [{"claim": "groups", "value": "r", "role": "write", "resource_group": "research"}]
        }));
        let m = member(Some(Role::Read), &[("research", Role::Write)]);
        assert!(matches!(
            run(case("/orgs/acme/models/research-1/x", "PUT", &o, Some(&m))),
            Decision::Forward { .. }
        ));
        assert_eq!(
            run(case("/orgs/acme/models/other", "PUT", &o, Some(&m))),
            Decision::InsufficientRole {
                required: Role::Write
            }
        );
        let group_only = member(None, &[("research", Role::Read)]);
        assert!(matches!(
            run(case(
                "/orgs/acme/models/research-1",
                "GET",
                &o,
                Some(&group_only)
            )),
            Decision::Forward { .. }
        ));
        assert_eq!(
            run(case("/orgs/acme", "GET", &o, Some(&group_only))),
            Decision::InsufficientRole {
                required: Role::Read
            }
        );
        let nobody = member(None, &[]);
        assert_eq!(
            run(case("/orgs/acme", "GET", &o, Some(&nobody))),
            Decision::InsufficientRole {
                required: Role::Read
            }
        );
    }

    #[test]
    fn inconsistent_input_fails_closed() {
        let o = org(json!({"enforced": false}));
        let mut other = member(Some(Role::Admin), &[]);
        other.org = OrgSlug::parse("evil").unwrap();
        // An identity of another org is no identity.
        assert_eq!(
            run(case("/orgs/acme", "GET", &o, Some(&other))),
            Decision::Forward { identity: None }
        );
        let enforced = org(json!({}));
        assert!(matches!(
            run(case("/orgs/acme", "GET", &enforced, Some(&other))),
            Decision::SsoRequired { .. }
        ));
        // A config of another org counts as enforced, even when it is not.
        let mut mismatched = o.clone();
        mismatched.slug = OrgSlug::parse("evil").unwrap();
        let m = member(Some(Role::Admin), &[]);
        assert!(matches!(
            run(case("/orgs/acme", "GET", &mismatched, None)),
            Decision::SsoRequired { .. }
        ));
        assert!(matches!(
            run(case("/orgs/acme", "GET", &mismatched, Some(&m))),
            Decision::SsoRequired { .. }
        ));
    }

    fn nav(method: &str, headers: &[(&str, &str)]) -> bool {
        let h: HashMap<String, String> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        is_navigation(method, |name: &str| {
            h.get(&name.to_ascii_lowercase()).map(String::as_str)
        })
    }

    #[test]
    fn navigation_detection() {
        assert!(nav("GET", &[("Sec-Fetch-Mode", "navigate")]));
        assert!(nav(
            "POST",
            &[
                ("Sec-Fetch-Mode", "navigate"),
                ("Sec-Fetch-Site", "same-origin")
            ]
        ));
        assert!(!nav(
            "GET",
            &[("Sec-Fetch-Mode", "cors"), ("Accept", "text/html")]
        ));
        assert!(!nav("GET", &[("Sec-Fetch-Mode", "no-cors")]));
        // Other fetch metadata without a mode: a browser request that is not a navigation.
        assert!(!nav(
            "GET",
            &[("Sec-Fetch-Dest", "image"), ("Accept", "text/html")]
        ));
        // No fetch metadata: fall back to Accept.
        assert!(nav(
            "GET",
            &[("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")]
        ));
        assert!(nav("HEAD", &[("Accept", "TEXT/HTML; charset=utf-8")]));
        assert!(!nav("POST", &[("Accept", "text/html")]));
        assert!(!nav("GET", &[("Accept", "application/json")]));
        assert!(!nav("GET", &[("Accept", "*/*")]));
        assert!(!nav("GET", &[("Accept", "text/html;q=0")]));
        assert!(!nav("GET", &[("Accept", "text/html; q=0.000")]));
        assert!(nav("GET", &[("Accept", "text/html;q=0.1")]));
        assert!(!nav("GET", &[]));
        // Owned values work too.
        assert!(is_navigation("GET", |n: &str| (n == "Sec-Fetch-Mode")
            .then(|| "navigate".to_string())));
    }
}
