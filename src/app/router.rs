//! Maps method and path to a handler: a `matchit` table of paths (with parameters), each with
//! the methods it takes and the [`RouteGroup`] whose response policy applies.
//!
//! A known path with a method it does not take is a 405 naming the allowed methods in `Allow`
//! (RFC 9110 15.5.6); an unknown path is a 404. Adding the access gateway means adding a
//! [`RouteGroup`] variant with its own policy and inserting its paths into [`table`]; dispatch
//! stays a `match` on [`Endpoint`], so handlers are plain `async fn`s with no boxing.

use super::error::{AppError, ErrorCode};
use super::respond::{harden, html, with_body};
use super::{admin, backchannel, pages, scim, sso, App, Request, RequestExt, Response};
use crate::core::http::HttpClient;
use crate::core::jose::verify::SignatureVerifier;
use crate::core::store::KvStore;
use http::header::{ALLOW, CACHE_CONTROL};
use http::{HeaderValue, Method, StatusCode};
use std::sync::OnceLock;

/// A group of routes sharing a response policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteGroup {
    /// The app's own pages and API: every response (errors included) is hardened by
    /// [`harden`]: CSP on HTML, `no-store` unless the handler chose otherwise, `X-Frame-Options:
    /// DENY`, `nosniff`, `Referrer-Policy: no-referrer`. Unmatched paths answer in this group.
    App,
    // A later `Gateway` group passes proxied upstream responses through untouched.
}

impl RouteGroup {
    /// Applies the group's response policy.
    pub fn finish(self, resp: Response) -> Response {
        match self {
            RouteGroup::App => harden(resp),
        }
    }
}

/// What a route runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    LoginPage,
    SsoStart,
    SsoCallback,
    SsoMe,
    SsoLogout,
    BackchannelLogout,
    /// `/scim/v2/{slug}[/...]`, every method.
    Scim,
    AdminList,
    /// `/admin/orgs/{slug}[/...]`, every method: the admin module routes the sub-resource.
    AdminOrg,
    AdminPage,
    AdminWhoami,
    AdminSetup,
    Healthz,
    Jwks,
    /// `/www/{file}`: one of [`pages::ASSETS`].
    Asset,
}

/// One path: its group and, per method, its endpoint.
#[derive(Debug)]
struct Route {
    group: RouteGroup,
    methods: Vec<(Method, Endpoint)>,
    /// The `Allow` header value for a 405.
    allow: HeaderValue,
    /// Set when one endpoint takes every method.
    any: Option<Endpoint>,
}

impl Route {
    fn new(group: RouteGroup, methods: Vec<(Method, Endpoint)>) -> Self {
        let names: Vec<&str> = methods.iter().map(|(m, _)| m.as_str()).collect();
        let allow = HeaderValue::from_str(&names.join(", "))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        Route {
            group,
            methods,
            allow,
            any: None,
        }
    }
    /// A path whose handler takes every method (and answers 405 itself).
    fn any(group: RouteGroup, endpoint: Endpoint) -> Self {
        Route {
            group,
            methods: Vec::new(),
            allow: HeaderValue::from_static(""),
            any: Some(endpoint),
        }
    }
    fn endpoint(&self, method: &Method) -> Option<Endpoint> {
        if self.any.is_some() {
            return self.any;
        }
        self.methods
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, e)| *e)
    }
}

/// `GET` and `HEAD` (which answers as GET; the platform drops the body).
fn get(e: Endpoint) -> Vec<(Method, Endpoint)> {
    vec![(Method::GET, e), (Method::HEAD, e)]
}

/// The route table, built once per isolate.
fn table() -> &'static matchit::Router<Route> {
    static TABLE: OnceLock<matchit::Router<Route>> = OnceLock::new();
    TABLE.get_or_init(|| {
        use Endpoint::*;
        let app = RouteGroup::App;
        let routes: Vec<(&str, Route)> = vec![
            ("/", Route::new(app, get(LoginPage))),
            ("/sso/start", Route::new(app, get(SsoStart))),
            ("/sso/callback", Route::new(app, get(SsoCallback))),
            ("/sso/me", Route::new(app, get(SsoMe))),
            (
                "/sso/logout",
                Route::new(app, vec![(Method::POST, SsoLogout)]),
            ),
            (
                "/sso/backchannel-logout/:slug",
                Route::new(app, vec![(Method::POST, BackchannelLogout)]),
            ),
            ("/scim/v2/:slug", Route::any(app, Scim)),
            ("/scim/v2/:slug/*rest", Route::any(app, Scim)),
            (
                "/admin/orgs",
                Route::new(app, vec![(Method::GET, AdminList)]),
            ),
            // A catch-all, so that `a/b` reaches the slug validator (a 400 naming the field),
            // as a slug with `%2F` does.
            ("/admin/orgs/*slug", Route::any(app, AdminOrg)),
            ("/admin", Route::new(app, get(AdminPage))),
            ("/admin/whoami", Route::new(app, get(AdminWhoami))),
            ("/admin/setup", Route::new(app, get(AdminSetup))),
            ("/healthz", Route::new(app, get(Healthz))),
            ("/.well-known/jwks.json", Route::new(app, get(Jwks))),
            ("/www/*file", Route::new(app, get(Asset))),
        ];
        let mut table = matchit::Router::new();
        for (path, route) in routes {
            // The table is static: a conflict is caught by the router tests.
            let inserted = table.insert(path, route);
            debug_assert!(inserted.is_ok(), "route {path}: {inserted:?}");
        }
        table
    })
}

fn asset(content_type: &'static str, body: &str) -> Response {
    let mut r = with_body(StatusCode::OK, content_type, body);
    r.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

/// Routes `req`: the matched route's group (whose policy the caller applies) and the handler's
/// answer.
pub(super) async fn route<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
) -> (RouteGroup, Result<Response, AppError>) {
    let Ok(matched) = table().at(req.path()) else {
        return (RouteGroup::App, Err(ErrorCode::NotFound.into()));
    };
    let route = matched.value;
    let Some(endpoint) = route.endpoint(req.method()) else {
        let err = AppError::new(ErrorCode::MethodNotAllowed).header(ALLOW, route.allow.clone());
        return (route.group, Err(err));
    };
    let slug = matched.params.get("slug").unwrap_or_default();
    let rest = matched
        .params
        .get("rest")
        .or_else(|| matched.params.get("file"))
        .unwrap_or_default();
    (route.group, call(app, req, endpoint, slug, rest).await)
}

async fn call<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &Request,
    endpoint: Endpoint,
    slug: &str,
    rest: &str,
) -> Result<Response, AppError> {
    use crate::core::ratelimit::LimitClass;
    if matches!(
        endpoint,
        Endpoint::SsoStart
            | Endpoint::SsoCallback
            | Endpoint::SsoLogout
            | Endpoint::BackchannelLogout
    ) {
        // Sign-in and sign-out routes, back-channel logout included: a 429 with Retry-After
        // over the client's budget, before any storage or IdP is touched.
        app.rate_limit(req, LimitClass::Login).await?;
    }
    match endpoint {
        Endpoint::LoginPage => {
            let rt = req
                .query("return_to")
                .map(|r| crate::core::oidc::authorize::sanitize_return_to(&r));
            Ok(html(StatusCode::OK, pages::login_page(None, rt.as_deref())))
        }
        Endpoint::SsoStart => sso::start(app, req).await,
        Endpoint::SsoCallback => sso::callback(app, req).await,
        Endpoint::SsoMe => sso::me(app, req).await,
        Endpoint::SsoLogout => sso::logout(app, req).await,
        Endpoint::BackchannelLogout => Ok(backchannel::logout(app, req, slug).await),
        Endpoint::Scim => Ok(scim::handle(app, req, slug, rest).await),
        Endpoint::AdminList => admin::list(app, req).await,
        Endpoint::AdminOrg => admin::dispatch(app, req, slug).await,
        Endpoint::AdminWhoami => super::admin_auth::whoami(app, req).await,
        Endpoint::AdminSetup => super::admin_auth::open_setup_link(app, req).await,
        Endpoint::AdminPage => Ok(html(StatusCode::OK, pages::ADMIN_HTML.to_owned())),
        Endpoint::Jwks => super::gateway::jwks(app),
        Endpoint::Healthz => Ok(with_body(StatusCode::OK, "text/plain; charset=utf-8", "ok")),
        // `rest` is the file name after `/www/`.
        Endpoint::Asset => match pages::asset(rest) {
            Some((content_type, body)) => Ok(asset(content_type, body)),
            None => Err(ErrorCode::NotFound.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(path: &str) -> Option<(&'static Route, Option<String>)> {
        let m = table().at(path).ok()?;
        Some((m.value, m.params.get("slug").map(str::to_owned)))
    }

    #[test]
    fn table_builds_and_matches() {
        assert_eq!(
            at("/").unwrap().0.endpoint(&Method::GET),
            Some(Endpoint::LoginPage)
        );
        assert_eq!(
            at("/sso/logout").unwrap().0.endpoint(&Method::POST),
            Some(Endpoint::SsoLogout)
        );
        let (r, slug) = at("/admin/orgs/acme").unwrap();
        assert_eq!(r.endpoint(&Method::PUT), Some(Endpoint::AdminOrg));
        assert_eq!(slug.as_deref(), Some("acme"));
        assert_eq!(at("/admin/orgs/a/b").unwrap().1.as_deref(), Some("a/b"));
        assert_eq!(
            at("/admin/orgs").unwrap().0.endpoint(&Method::GET),
            Some(Endpoint::AdminList)
        );
        assert_eq!(
            at("/www/console/api.js").unwrap().0.endpoint(&Method::GET),
            Some(Endpoint::Asset)
        );
        for unknown in [
            "/nope",
            "/sso",
            "/sso/start/",
            "/healthz/",
            "/admin/orgs/",
            "//",
        ] {
            assert!(at(unknown).is_none(), "{unknown}");
        }
    }

    #[test]
    fn allow_lists_the_methods() {
        // The admin catch-all answers 405 itself, per sub-resource (see app::tests).
        let (r, _) = at("/admin/orgs/x").unwrap();
        assert_eq!(r.endpoint(&Method::PATCH), Some(Endpoint::AdminOrg));
        let (r, _) = at("/sso/start").unwrap();
        assert_eq!(r.allow, "GET, HEAD");
        assert_eq!(r.endpoint(&Method::OPTIONS), None);
        assert_eq!(r.endpoint(&Method::HEAD), Some(Endpoint::SsoStart));
    }
}
