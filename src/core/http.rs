//! The core's outbound HTTP port: small buffered request/response values for the requests the
//! core makes (discovery, token, JWKS) and the [`HttpClient`] transport, whose contract is:
//! never follow redirects, cap the body, time out.
//!
//! Requests the worker *receives* are not modelled here: the app takes the `http` crate's
//! `Request`/`Response` (see `crate::app`), which carry every method and leave room for a
//! streamed body. These outbound values stay buffered on purpose: every IdP answer the core
//! reads is small and capped (`max_body`), and the core parses it whole.

use url::Url;

/// The method of an outbound request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// Header list; names are compared case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The first value of header `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Every value of header `name`.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Appends a header.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }
    /// Replaces every value of `name` with `value`.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.0.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.0.push((name.to_owned(), value.into()));
    }
}

/// An outbound HTTP request.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: Url,
    /// Headers.
    pub headers: Headers,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A GET request for `url`.
    pub fn get(url: Url) -> Self {
        HttpRequest {
            method: Method::Get,
            url,
            headers: Headers::default(),
            body: Vec::new(),
        }
    }
}

/// The response to an outbound request.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Headers,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A response with `status`, `content_type` and `body`.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        let mut headers = Headers::default();
        headers.push("content-type", content_type);
        HttpResponse {
            status,
            headers,
            body: body.into(),
        }
    }
    /// The body as UTF-8 (lossy), for tests and logs of non-secret bodies.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why an outbound request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// Connection or protocol failure.
    Network(String),
    /// No complete answer within the time limit.
    Timeout,
    /// The body was larger than the request's cap.
    TooLarge,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Network(m) => write!(f, "network error: {m}"),
            HttpError::Timeout => f.write_str("timed out"),
            HttpError::TooLarge => f.write_str("response too large"),
        }
    }
}

impl std::error::Error for HttpError {}

/// Outbound HTTP. Implementations must not follow redirects (a 3xx is returned as is), must
/// stop reading and fail with [`HttpError::TooLarge`] past `max_body` bytes, and must time out.
#[allow(async_fn_in_trait)]
pub trait HttpClient {
    /// Sends `req`, reading at most `max_body` bytes of the response body.
    async fn send(&self, req: HttpRequest, max_body: usize) -> Result<HttpResponse, HttpError>;
}

impl<T: HttpClient + ?Sized> HttpClient for &T {
    async fn send(&self, req: HttpRequest, max_body: usize) -> Result<HttpResponse, HttpError> {
        (**self).send(req, max_body).await
    }
}
