//! Maps method and path to a handler.

use super::respond::{html, AppError};
use super::{pages, App};
use crate::core::http::{HttpClient, HttpRequest, HttpResponse, Method};
use crate::core::oidc::signature::SignatureVerifier;
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
    let _ = app;
    let path = req.url.path();
    let method = req.method;
    let get = matches!(method, Method::Get | Method::Head);
    match path {
        "/" if get => Ok(html(200, pages::login_page(None, None))),
        "/healthz" if get => Ok(HttpResponse::new(200, "text/plain; charset=utf-8", "ok")),
        "/admin" if get => Ok(html(200, pages::ADMIN_HTML.to_owned())),
        "/www/style.css" if get => Ok(asset("text/css; charset=utf-8", pages::STYLE_CSS)),
        "/www/admin.js" if get => Ok(asset("text/javascript; charset=utf-8", pages::ADMIN_JS)),
        "/" | "/healthz" | "/admin" | "/www/style.css" | "/www/admin.js" => Err(AppError::new(
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
