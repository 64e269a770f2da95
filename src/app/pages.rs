//! The pages under `www/`, embedded in the Wasm at build time and filled in with escaped text.

use crate::app::respond::html_escape;

/// The login page.
pub const INDEX_HTML: &str = include_str!("../../www/index.html");
/// The confirmation page of a sign-in started by another site.
pub const CONFIRM_HTML: &str = include_str!("../../www/confirm.html");
/// The confirmation page of a setup link opened from another site.
pub const CONFIRM_SETUP_HTML: &str = include_str!("../../www/confirm-setup.html");
/// The error page template.
pub const ERROR_HTML: &str = include_str!("../../www/error.html");
/// The admin page.
pub const ADMIN_HTML: &str = include_str!("../../www/admin.html");
/// Shared styles.
pub const STYLE_CSS: &str = include_str!("../../www/style.css");

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
/// The IdP guides are Markdown, which browsers show as text when it is labelled so.
const GUIDE: &str = "text/plain; charset=utf-8";

/// The static files served under `/www/`: name (the path after `/www/`), content type, body.
/// A fixed table, so no request path ever reaches the file system or names an unlisted file.
pub const ASSETS: &[(&str, &str, &str)] = &[
    ("style.css", CSS, STYLE_CSS),
    ("me.js", JS, include_str!("../../www/me.js")),
    (
        "console/api.js",
        JS,
        include_str!("../../www/console/api.js"),
    ),
    ("admin.js", JS, include_str!("../../www/admin.js")),
    (
        "console/sso.js",
        JS,
        include_str!("../../www/console/sso.js"),
    ),
    (
        "console/roles.js",
        JS,
        include_str!("../../www/console/roles.js"),
    ),
    (
        "console/people.js",
        JS,
        include_str!("../../www/console/people.js"),
    ),
    // The set-up guide of each IdP profile, linked from the console's SSO tab.
    (
        "docs/idp/okta.md",
        GUIDE,
        include_str!("../../docs/idp/okta.md"),
    ),
    (
        "docs/idp/entra.md",
        GUIDE,
        include_str!("../../docs/idp/entra.md"),
    ),
    (
        "docs/idp/google.md",
        GUIDE,
        include_str!("../../docs/idp/google.md"),
    ),
    (
        "docs/idp/onelogin.md",
        GUIDE,
        include_str!("../../docs/idp/onelogin.md"),
    ),
    (
        "docs/idp/keycloak.md",
        GUIDE,
        include_str!("../../docs/idp/keycloak.md"),
    ),
    (
        "docs/idp/auth0.md",
        GUIDE,
        include_str!("../../docs/idp/auth0.md"),
    ),
];

/// The asset named `name` (the path after `/www/`): its content type and body.
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, ct, body)| (*ct, *body))
}

/// The login page, with an optional error message and `return_to` carried through the form.
pub fn login_page(error: Option<&str>, return_to: Option<&str>) -> String {
    login_page_with_email(error, return_to, None)
}

/// The login page with the email the user typed kept in the field.
pub fn login_page_with_email(
    error: Option<&str>,
    return_to: Option<&str>,
    email: Option<&str>,
) -> String {
    let email_html = email
        .map(|e| format!(" value=\"{}\"", html_escape(e)))
        .unwrap_or_default();
    let error_html = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", html_escape(e)))
        .unwrap_or_default();
    let rt_html = return_to
        .filter(|r| *r != "/")
        .map(|r| {
            format!(
                "<input type=\"hidden\" name=\"return_to\" value=\"{}\">",
                html_escape(r)
            )
        })
        .unwrap_or_default();
    INDEX_HTML
        .replace("<!--ERROR-->", &error_html)
        .replace("<!--RETURN_TO-->", &rt_html)
        .replace("<!--EMAIL_VALUE-->", &email_html)
}

/// The page that asks a user sent by another site whether to sign in to org `org`: a form that
/// re-requests `/sso/start` with `fields` (name, value) from our own origin.
pub fn confirm_page(org: &str, fields: &[(&str, String)]) -> String {
    fill_confirm(CONFIRM_HTML, org, fields)
}

/// The page that asks a user sent by another site whether to open the setup console of `org`:
/// a form that re-requests `/admin/setup` with `fields` from our own origin.
pub fn confirm_setup_page(org: &str, fields: &[(&str, String)]) -> String {
    fill_confirm(CONFIRM_SETUP_HTML, org, fields)
}

fn fill_confirm(template: &str, org: &str, fields: &[(&str, String)]) -> String {
    let fields_html: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                html_escape(name),
                html_escape(value)
            )
        })
        .collect();
    template
        .replace("<!--FIELDS-->", &fields_html)
        .replace("<!--ORG-->", &html_escape(org))
}

/// The template of a test sign-in's result.
pub const TEST_LOGIN_HTML: &str = include_str!("../../www/test-login.html");

/// The result page of a test sign-in, from its JSON report (`ok`, `claims`, `identity`,
/// `member` or `refused`): every value escaped, each part as indented JSON. The report holds no
/// token.
pub fn test_result_page(report: &serde_json::Value) -> String {
    let ok = report["ok"].as_bool() == Some(true);
    let title = if ok {
        "Test sign-in: this account would be admitted"
    } else {
        "Test sign-in: this account would be refused"
    };
    let org = report["org"].as_str().unwrap_or_default();
    let which = if report["staged"].as_bool() == Some(true) {
        "the staged (not yet applied) settings"
    } else {
        "the active settings"
    };
    let mut summary = format!(
        "<p>Organisation <code>{}</code>, with {which}. Nothing was recorded and no session was created.</p>",
        html_escape(org)
    );
    if let Some(r) = report.get("refused") {
        summary.push_str(&format!(
            "<p class=\"error\" role=\"alert\">Refused by the check <code>{}</code>: {}</p><p class=\"meta\">{}</p>",
            html_escape(r["error"].as_str().unwrap_or_default()),
            html_escape(r["message"].as_str().unwrap_or_default()),
            html_escape(r["detail"].as_str().unwrap_or_default()),
        ));
    }
    if let Some(m) = report.get("member") {
        summary.push_str(&format!(
            "<p>Signed in as <strong>{}</strong> with the role <strong>{}</strong>.</p>",
            html_escape(m["email"].as_str().unwrap_or_default()),
            html_escape(m["role"].as_str().unwrap_or_default()),
        ));
    }
    match report.get("staged_tested").and_then(|v| v.as_bool()) {
        Some(true) => summary.push_str(
            "<p>The staged settings are marked as tested: an admin of this organisation may now apply them.</p>",
        ),
        Some(false) => summary.push_str(
            "<p>The staged settings are not marked as tested: only a member who would be <code>admin</code> under them can earn that.</p>",
        ),
        None => {}
    }
    let mut sections = String::new();
    for (key, heading) in [
        (
            "member",
            "Role, resource groups and the role_mapping rules that matched",
        ),
        ("identity", "Identity and email chosen"),
        (
            "claims",
            "Claims received (ID token and userinfo; nonce and hashes removed)",
        ),
    ] {
        let Some(v) = report.get(key).filter(|v| !v.is_null()) else {
            continue;
        };
        let text = serde_json::to_string_pretty(v).unwrap_or_default();
        sections.push_str(&format!(
            "<h2>{}</h2><pre>{}</pre>",
            html_escape(heading),
            html_escape(&text)
        ));
    }
    TEST_LOGIN_HTML
        .replace("<!--TITLE-->", &html_escape(title))
        .replace("<!--SUMMARY-->", &summary)
        .replace("<!--SECTIONS-->", &sections)
}

/// The error page.
pub fn error_page(title: &str, message: &str, correlation_id: &str) -> String {
    ERROR_HTML
        .replace("<!--TITLE-->", &html_escape(title))
        .replace("<!--MESSAGE-->", &html_escape(message))
        .replace("<!--CORRELATION_ID-->", &html_escape(correlation_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_guide_is_served_under_www() {
        use crate::core::profile::IdpKind;
        for k in IdpKind::ALL {
            let Some(path) = k.guide() else { continue };
            let (ct, body) = asset(path).unwrap_or_else(|| panic!("{path} not served"));
            assert_eq!(ct, GUIDE);
            assert!(body.starts_with('#'), "{path} is a Markdown guide");
        }
        assert!(asset("docs/idp/../../Cargo.toml").is_none());
        assert!(asset("docs/idp/").is_none());
    }

    #[test]
    fn login_page_escapes_error_and_return_to() {
        let p = login_page_with_email(Some("<b>x</b>"), Some("/a\"><script>"), Some("\"><i>"));
        assert!(p.contains("value=\"&quot;&gt;&lt;i&gt;\""));
        assert!(p.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(!p.contains("<b>x"));
        assert!(p.contains("/a&quot;&gt;&lt;script&gt;"));
    }

    #[test]
    fn confirm_page_names_the_org_and_escapes_the_fields() {
        let p = confirm_page(
            "acme",
            &[
                ("email", "\"><script>".into()),
                ("return_to", "/a?b=1&c=2".into()),
            ],
        );
        assert!(p.contains("<h1>Sign in to acme?</h1>"));
        assert!(p.contains("name=\"email\" value=\"&quot;&gt;&lt;script&gt;\""));
        assert!(p.contains("value=\"/a?b=1&amp;c=2\""));
        assert!(!p.contains("<script>"));
        assert!(p.contains("action=\"/sso/start\" method=\"get\""));
    }

    #[test]
    fn assets_are_listed_by_exact_name() {
        assert_eq!(asset("style.css").map(|a| a.0), Some(CSS));
        assert_eq!(asset("console/api.js").map(|a| a.0), Some(JS));
        for unknown in ["", "admin.html", "../Cargo.toml", "console/", "STYLE.CSS"] {
            assert!(asset(unknown).is_none(), "{unknown}");
        }
        // Every script the pages load is served.
        for page in [ADMIN_HTML, INDEX_HTML] {
            for src in page.split("src=\"/www/").skip(1) {
                let name = src.split('"').next().unwrap_or_default();
                assert!(asset(name).is_some(), "{name}");
            }
        }
    }

    #[test]
    fn the_admin_token_is_never_a_form_field() {
        // Before admin.js runs (a slow or failed script load, scripts off), Enter in the token
        // field submits the form natively as GET /admin?...: a named field would put the
        // ADMIN_TOKEN into the URL, the browser's history and request logs. Without a name
        // the field is not part of the form data set (HTML, "constructing the entry list").
        let input = ADMIN_HTML
            .split("<input id=\"token\"")
            .nth(1)
            .and_then(|rest| rest.split('>').next())
            .expect("the token field");
        assert!(input.contains("type=\"password\""), "{input}");
        assert!(!input.contains("name="), "{input}");
    }

    #[test]
    fn test_result_page_escapes_everything_the_idp_sent() {
        let report = serde_json::json!({
            "ok": false, "org": "acme", "staged": false,
            "claims": {"name": "<script>alert(1)</script>"},
            "identity": null,
            "refused": {"error": "no_role", "message": "<b>m</b>", "detail": "d<i>"},
        });
        let p = test_result_page(&report);
        assert!(!p.contains("<script>") && !p.contains("<b>m") && !p.contains("d<i>"));
        assert!(p.contains("&lt;script&gt;"));
        assert!(p.contains("would be refused"));
        assert!(p.contains("<code>no_role</code>"));
    }

    #[test]
    fn error_page_escapes() {
        let p = error_page("T", "<img src=x onerror=alert(1)>", "c<1>");
        assert!(!p.contains("<img"));
        assert!(p.contains("c&lt;1&gt;"));
    }
}
