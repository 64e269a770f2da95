//! The token request (RFC 6749 4.1.3, OIDC Core 3.1.3.1, RFC 7636 4.5) and the parsing of its
//! response (RFC 6749 5.1, 5.2; OIDC Core 3.1.3.3).

use crate::core::http::{HttpRequest, HttpResponse, Method};
use crate::core::oidc::callback::clean_text;
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::pkce::PkceVerifier;
use crate::core::secret::Secret;
use base64ct::{Base64, Encoding};
use serde::Deserialize;
use url::{form_urlencoded, Url};

/// Largest token response accepted.
pub const MAX_TOKEN_BODY: usize = 64 * 1024;

/// How the client authenticates at the token endpoint (RFC 6749 2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic (`client_secret_basic`), the default.
    Basic,
    /// Credentials in the form body (`client_secret_post`).
    Post,
}

/// The tokens of a successful response. `Debug` prints no token.
#[derive(Debug)]
pub struct TokenResponse {
    /// The ID token (compact JWS), still unverified.
    pub id_token: Secret,
    /// The access token, if any.
    pub access_token: Option<Secret>,
    /// `expires_in` of the access token, if given.
    pub expires_in: Option<u64>,
}

/// Why the token exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The provider lists neither `client_secret_basic` nor `client_secret_post`.
    NoSupportedAuthMethod(Vec<String>),
    /// The token endpoint answered with a redirect (not followed).
    Redirect,
    /// An unexpected status without an OAuth error body.
    Status(u16),
    /// The response is larger than [`MAX_TOKEN_BODY`].
    TooLarge,
    /// The response is not a JSON object of the expected shape.
    Json(String),
    /// A 200 response without an ID token (OIDC Core 3.1.3.3).
    MissingIdToken,
    /// `token_type` is not `Bearer`.
    BadTokenType(String),
    /// The provider refused the request (RFC 6749 5.2). Texts are capped and stripped of
    /// control characters but untrusted.
    Rejected {
        /// `error` code, such as `invalid_grant`.
        error: String,
        /// `error_description`, if any.
        description: Option<String>,
    },
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::NoSupportedAuthMethod(m) => write!(
                f,
                "the token endpoint supports neither client_secret_basic nor client_secret_post (it lists {m:?})"
            ),
            TokenError::Redirect => f.write_str("the token endpoint answered with a redirect"),
            TokenError::Status(s) => write!(f, "the token endpoint answered with HTTP {s}"),
            TokenError::TooLarge => f.write_str("token response too large"),
            TokenError::Json(m) => write!(f, "token response is not valid: {m}"),
            TokenError::MissingIdToken => f.write_str("token response has no id_token"),
            TokenError::BadTokenType(t) => write!(f, "token_type {t:?} is not Bearer"),
            TokenError::Rejected { error, description } => match description {
                Some(d) => write!(f, "token request rejected: {error}: {d}"),
                None => write!(f, "token request rejected: {error}"),
            },
        }
    }
}

impl std::error::Error for TokenError {}

/// Picks the client authentication method: `client_secret_basic` unless the provider lists its
/// methods without it but with `client_secret_post`; neither is an error.
pub fn client_auth(meta: &ProviderMetadata) -> Result<ClientAuth, TokenError> {
    let methods = &meta.token_endpoint_auth_methods_supported;
    if methods.iter().any(|m| m == "client_secret_basic") {
        Ok(ClientAuth::Basic)
    } else if methods.iter().any(|m| m == "client_secret_post") {
        Ok(ClientAuth::Post)
    } else {
        Err(TokenError::NoSupportedAuthMethod(methods.clone()))
    }
}

fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The token request for `code`. The body and the `Authorization` header hold secrets: never
/// log the returned request.
pub fn token_request(
    meta: &ProviderMetadata,
    client_id: &str,
    client_secret: &Secret,
    code: &Secret,
    verifier: &PkceVerifier,
    redirect_uri: &Url,
) -> Result<HttpRequest, TokenError> {
    let auth = client_auth(meta)?;
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "authorization_code")
        .append_pair("code", code.expose())
        .append_pair("redirect_uri", redirect_uri.as_str())
        .append_pair("code_verifier", verifier.secret());
    let mut req = HttpRequest::get(meta.token_endpoint.clone());
    req.method = Method::Post;
    req.headers
        .push("content-type", "application/x-www-form-urlencoded");
    req.headers.push("accept", "application/json");
    match auth {
        // RFC 6749 2.3.1: the id and secret are form-urlencoded, then joined by ':' and
        // base64-encoded (a ':' in the id would otherwise be ambiguous).
        ClientAuth::Basic => {
            let pair = format!(
                "{}:{}",
                form_encode(client_id),
                form_encode(client_secret.expose())
            );
            let value = format!("Basic {}", Base64::encode_string(pair.as_bytes()));
            req.headers.push("authorization", value);
        }
        ClientAuth::Post => {
            form.append_pair("client_id", client_id)
                .append_pair("client_secret", client_secret.expose());
        }
    }
    req.body = form.finish().into_bytes();
    Ok(req)
}

#[derive(Deserialize)]
struct RawSuccess {
    id_token: Option<String>,
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct RawError {
    error: String,
    error_description: Option<String>,
}

/// Parses the token endpoint's answer.
pub fn token_response(resp: &HttpResponse) -> Result<TokenResponse, TokenError> {
    if resp.body.len() > MAX_TOKEN_BODY {
        return Err(TokenError::TooLarge);
    }
    match resp.status {
        200 => {}
        300..=399 => return Err(TokenError::Redirect),
        // RFC 6749 5.2: usually 400, 401 for invalid_client.
        s @ 400..=499 => {
            return match serde_json::from_slice::<RawError>(&resp.body) {
                Ok(e) => Err(TokenError::Rejected {
                    error: clean_text(&e.error, 128),
                    description: e
                        .error_description
                        .map(|d| clean_text(&d, 512))
                        .filter(|d| !d.is_empty()),
                }),
                Err(_) => Err(TokenError::Status(s)),
            }
        }
        s => return Err(TokenError::Status(s)),
    }
    // serde_json quotes a value only on a type mismatch; the token members are strings, so a
    // well-typed token is never quoted in the error.
    let raw: RawSuccess =
        serde_json::from_slice(&resp.body).map_err(|e| TokenError::Json(e.to_string()))?;
    // RFC 6750 / RFC 6749 7.1: edge-sso only understands Bearer (compared case-insensitively).
    if let Some(t) = &raw.token_type {
        if !t.eq_ignore_ascii_case("bearer") {
            return Err(TokenError::BadTokenType(clean_text(t, 64)));
        }
    }
    let id_token = raw
        .id_token
        .filter(|t| !t.is_empty())
        .ok_or(TokenError::MissingIdToken)?;
    Ok(TokenResponse {
        id_token: Secret::new(id_token),
        access_token: raw.access_token.map(Secret::new),
        expires_in: raw.expires_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::oidc::discovery::tests::meta;

    fn verifier() -> PkceVerifier {
        PkceVerifier::new(Secret::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).unwrap()
    }

    fn redirect() -> Url {
        Url::parse("https://sso.example.net/callback").unwrap()
    }

    fn form(req: &HttpRequest) -> Vec<(String, String)> {
        form_urlencoded::parse(&req.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn request(m: &ProviderMetadata, id: &str, secret: &str) -> Result<HttpRequest, TokenError> {
        token_request(
            m,
            id,
            &Secret::new(secret),
            &Secret::new("the-code"),
            &verifier(),
            &redirect(),
        )
    }

    #[test]
    fn basic_request() {
        let req = request(&meta(), "client-1", "s3cret").unwrap();
        assert_eq!(req.method, Method::Post);
        assert_eq!(req.url, meta().token_endpoint);
        assert_eq!(
            req.headers.get("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(req.headers.get("accept"), Some("application/json"));
        assert_eq!(
            req.headers.get("authorization"),
            Some(format!("Basic {}", Base64::encode_string(b"client-1:s3cret")).as_str())
        );
        assert_eq!(
            form(&req),
            vec![
                ("grant_type".into(), "authorization_code".into()),
                ("code".into(), "the-code".into()),
                (
                    "redirect_uri".into(),
                    "https://sso.example.net/callback".into()
                ),
                (
                    "code_verifier".into(),
                    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()
                ),
            ]
        );
    }

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        // RFC 6749 2.3.1: "client:id" / "p%ss:w rd" become "client%3Aid:p%25ss%3Aw+rd".
        let req = request(&meta(), "client:id", "p%ss:w rd").unwrap();
        let header = req.headers.get("authorization").unwrap();
        let decoded = Base64::decode_vec(header.strip_prefix("Basic ").unwrap()).unwrap();
        assert_eq!(decoded, b"client%3Aid:p%25ss%3Aw+rd");
    }

    #[test]
    fn post_only_when_basic_is_not_listed() {
        let mut m = meta();
        m.token_endpoint_auth_methods_supported =
            vec!["private_key_jwt".into(), "client_secret_post".into()];
        let req = request(&m, "client-1", "p%ss:w rd").unwrap();
        assert_eq!(req.headers.get("authorization"), None);
        let f = form(&req);
        assert!(f.contains(&("client_id".into(), "client-1".into())));
        assert!(f.contains(&("client_secret".into(), "p%ss:w rd".into())));

        m.token_endpoint_auth_methods_supported =
            vec!["client_secret_post".into(), "client_secret_basic".into()];
        assert_eq!(client_auth(&m), Ok(ClientAuth::Basic));
    }

    #[test]
    fn no_supported_method() {
        let mut m = meta();
        m.token_endpoint_auth_methods_supported = vec!["private_key_jwt".into()];
        assert!(matches!(
            request(&m, "c", "s"),
            Err(TokenError::NoSupportedAuthMethod(_))
        ));
        m.token_endpoint_auth_methods_supported = vec![];
        assert!(request(&m, "c", "s").is_err());
    }

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse::new(status, "application/json", body)
    }

    #[test]
    fn success() {
        let r = token_response(&resp(
            200,
            r#"{"access_token":"at-123","token_type":"bearer","expires_in":300,"id_token":"a.b.c","refresh_token":"rt"}"#,
        ))
        .unwrap();
        assert_eq!(r.id_token.expose(), "a.b.c");
        assert_eq!(r.access_token.as_ref().unwrap().expose(), "at-123");
        assert_eq!(r.expires_in, Some(300));
        let d = format!("{r:?}");
        assert!(!d.contains("a.b.c") && !d.contains("at-123"), "{d}");

        let r = token_response(&resp(200, r#"{"id_token":"a.b.c"}"#)).unwrap();
        assert!(r.access_token.is_none());
    }

    #[test]
    fn missing_id_token() {
        for body in [
            r#"{"access_token":"x","token_type":"Bearer"}"#,
            r#"{"id_token":""}"#,
            r#"{"id_token":null}"#,
        ] {
            assert!(
                matches!(
                    token_response(&resp(200, body)),
                    Err(TokenError::MissingIdToken)
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn id_token_not_a_string() {
        assert!(matches!(
            token_response(&resp(200, r#"{"id_token":5}"#)),
            Err(TokenError::Json(_))
        ));
        assert!(matches!(
            token_response(&resp(200, "not json")),
            Err(TokenError::Json(_))
        ));
        assert!(matches!(
            token_response(&resp(200, "[]")),
            Err(TokenError::Json(_))
        ));
    }

    #[test]
    fn bad_token_type() {
        assert_eq!(
            token_response(&resp(200, r#"{"id_token":"a.b.c","token_type":"DPoP"}"#)).unwrap_err(),
            TokenError::BadTokenType("DPoP".into())
        );
    }

    #[test]
    fn rejected_with_oauth_error() {
        assert_eq!(
            token_response(&resp(
                400,
                r#"{"error":"invalid_grant","error_description":"Code expired\n"}"#
            ))
            .unwrap_err(),
            TokenError::Rejected {
                error: "invalid_grant".into(),
                description: Some("Code expired".into())
            }
        );
        assert_eq!(
            token_response(&resp(401, r#"{"error":"invalid_client"}"#)).unwrap_err(),
            TokenError::Rejected {
                error: "invalid_client".into(),
                description: None
            }
        );
    }

    #[test]
    fn client_error_without_oauth_body_is_status() {
        assert_eq!(
            token_response(&resp(400, "<html>bad</html>")).unwrap_err(),
            TokenError::Status(400)
        );
    }

    #[test]
    fn redirect_and_other_statuses() {
        assert_eq!(
            token_response(&resp(302, "")).unwrap_err(),
            TokenError::Redirect
        );
        for s in [201, 204, 500, 503] {
            assert_eq!(
                token_response(&resp(s, r#"{"error":"server_error"}"#)).unwrap_err(),
                TokenError::Status(s)
            );
        }
    }

    #[test]
    fn too_large() {
        let body = format!(r#"{{"id_token":"{}"}}"#, "a".repeat(MAX_TOKEN_BODY));
        assert_eq!(
            token_response(&resp(200, &body)).unwrap_err(),
            TokenError::TooLarge
        );
    }
}
