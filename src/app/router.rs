//! Maps method and path to a handler.

use super::respond::{html, AppError};
use super::{admin, pages, sso, App};
use crate::core::http::{HttpClient, HttpRequest, HttpResponse, Method};
use crate::core::jose::verify::SignatureVerifier;
use crate::core::store::KvStore;

fn asset(content_type: &str, body: &str) -> HttpResponse {
    let mut r = HttpResponse::new(200, content_type, body.as_bytes().to_vec());
    r.headers.set("cache-control", "public, max-age=300");
    r
}

pub(super) async fn route<S: KvStore, H: HttpClient, V: SignatureVerifier>(
    app: &App<'_, S, H, V>,
    req: &HttpRequest,
) -> Result<HttpResponse, AppError> {
    let path = req.url.path();
    let method = req.method;
    let get = matches!(method, Method::Get | Method::Head);
    match path {
        "/" if get => {
            let rt = req
                .query("return_to")
                .map(|r| crate::core::oidc::authorize::sanitize_return_to(&r));
            Ok(html(200, pages::login_page(None, rt.as_deref())))
        }
        "/sso/start" if get => sso::start(app, req).await,
        "/sso/callback" if get => sso::callback(app, req).await,
        "/sso/me" if get => sso::me(app, req).await,
        "/sso/logout" if method == Method::Post => sso::logout(app, req).await,
        "/admin/orgs" => admin::handle(app, req, None).await,
        p if p.starts_with("/admin/orgs/") => {
            admin::handle(app, req, Some(&p["/admin/orgs/".len()..])).await
        }
        "/healthz" if get => Ok(HttpResponse::new(200, "text/plain; charset=utf-8", "ok")),
        "/admin" if get => Ok(html(200, pages::ADMIN_HTML.to_owned())),
        "/www/style.css" if get => Ok(asset("text/css; charset=utf-8", pages::STYLE_CSS)),
        "/www/admin.js" if get => Ok(asset("text/javascript; charset=utf-8", pages::ADMIN_JS)),
        "/" | "/healthz" | "/admin" | "/www/style.css" | "/www/admin.js" | "/sso/start"
        | "/sso/callback" | "/sso/me" | "/sso/logout" => Err(AppError::new(
            405,
            "method_not_allowed",
            "This method is not allowed here.",
        )),
        _ => Err(AppError::new(
            404,
            "not_found",
            "There is nothing at this address.",
        )),
    }
}
