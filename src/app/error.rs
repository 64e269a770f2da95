//! The one table of public errors: every error a client can receive has an [`ErrorCode`] with
//! its wire string (the JSON `error` member), HTTP status and default message, and every core
//! error becomes an [`AppError`] through the `From` impls below (the only place that decides
//! which core failure is whose fault).
//!
//! The wire strings are a public contract (API clients branch on them): add codes, never rename.

use super::config::ConfigError;
use crate::core::cookie::CookieError;
use crate::core::directory::DirectoryError;
use crate::core::ledger::Refusal;
use crate::core::login::LoginError;
use crate::core::member::Denial;
use crate::core::oidc::authorize::TxError;
use crate::core::oidc::callback::CallbackError;
use crate::core::oidc::discovery::DiscoveryError;
use crate::core::oidc::idtoken::IdTokenError;
use crate::core::oidc::token::TokenError;
use crate::core::oidc::userinfo::UserinfoError;
use crate::core::oidc::verify_id_token::VerifyError;
use crate::core::org::{FieldError, SlugError};
use crate::core::profile::EnrichError;
use crate::core::session::SessionError;
use crate::core::store::StoreError;
use http::{HeaderName, HeaderValue, StatusCode};
use std::borrow::Cow;

/// Declares [`ErrorCode`] and its table from one list, so that [`ErrorCode::ALL`] can never miss
/// a variant.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $name:ident => ($wire:literal, $status:ident, $message:literal), )*) => {
        /// A public error: its wire string, HTTP status and default message come from one table.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $name, )*
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name),*];

            /// `(wire string, status, default message)`.
            const fn spec(self) -> (&'static str, StatusCode, &'static str) {
                match self {
                    $( ErrorCode::$name => ($wire, StatusCode::$status, $message), )*
                }
            }
        }
    };
}

error_codes! {
    // -- the request itself
    /// A request the worker cannot read (malformed URL, unreadable body, bad header).
    BadRequest => ("bad_request", BAD_REQUEST, "This request cannot be read."),
    /// A request body over the cap.
    TooLarge => ("too_large", PAYLOAD_TOO_LARGE, "The request body is too large."),
    /// No route at this path.
    NotFound => ("not_found", NOT_FOUND, "There is nothing at this address."),
    /// A known path with a method it does not take (the response names the allowed ones).
    MethodNotAllowed => ("method_not_allowed", METHOD_NOT_ALLOWED, "This method is not allowed here."),
    /// A query parameter combination the endpoint does not take.
    InvalidRequest => ("invalid_request", BAD_REQUEST, "This request is not valid."),
    /// An admin body field or query parameter that failed validation (the error names it).
    InvalidField => ("invalid_field", BAD_REQUEST, "A field of this request is not valid."),

    // -- admin API
    /// Too many requests from this client (the answer carries `Retry-After`).
    RateLimited => ("rate_limited", TOO_MANY_REQUESTS, "Too many requests; try again in a minute."),
    /// No or a wrong admin bearer token.
    Unauthorized => ("unauthorized", UNAUTHORIZED, "A valid admin token is required (Authorization: Bearer <ADMIN_TOKEN>)."),
    /// The caller is authenticated but may not do this (an org admin outside their powers).
    Forbidden => ("forbidden", FORBIDDEN, "You may not do this."),
    /// No organisation has this slug.
    UnknownOrg => ("unknown_org", NOT_FOUND, "No organisation has this slug."),
    /// Another organisation already claims one of the domains.
    DomainClaimed => ("domain_claimed", CONFLICT, "A domain is already claimed by another organisation."),
    /// The org has no claim on this domain (`/admin/orgs/{slug}/domains/{domain}`).
    UnknownClaim => ("unknown_claim", NOT_FOUND, "This organisation has not claimed this domain."),

    // -- sign-in
    /// The typed email cannot be used for home realm discovery.
    InvalidEmail => ("invalid_email", BAD_REQUEST, "Enter your work email address."),
    /// No organisation uses SSO for the email's domain (the same answer for every such domain).
    UnknownDomain => ("unknown_domain", NOT_FOUND, "No organisation uses single sign-on for this email domain."),
    /// The login transaction is gone, expired, or belongs to another browser.
    LoginExpired => ("login_expired", BAD_REQUEST, "This sign-in has expired, was already used, or was started in another browser or tab. Please start again."),
    /// The authorization response is malformed or not for this browser/IdP.
    InvalidCallback => ("invalid_callback", BAD_REQUEST, "This sign-in response is not valid for this browser. Please start again."),
    /// The ID token failed verification (OIDC Core 3.1.3.7).
    InvalidIdToken => ("invalid_id_token", BAD_REQUEST, "The identity provider's ID token failed verification."),
    /// The IdP refused the sign-in in its authorization response (OIDC Core 3.1.2.6).
    IdpError => ("idp_error", FORBIDDEN, "Your identity provider did not sign you in."),
    /// The ID token has no email.
    EmailMissing => ("email_missing", FORBIDDEN, "Your identity provider did not share your email address (request the email scope and claim)."),
    /// The IdP says the email is not verified.
    EmailUnverified => ("email_unverified", FORBIDDEN, "Your identity provider says this email address is not verified."),
    /// The ID token's email is not usable.
    EmailInvalid => ("email_invalid", FORBIDDEN, "Your identity provider sent an email address edge-sso cannot use."),
    /// The ID token's email is outside the organisation's domains.
    EmailDomainMismatch => ("email_domain_mismatch", FORBIDDEN, "This email is not in a domain of this organisation."),
    /// The IdP profile refuses this account (Entra tenant not allowed or a personal Microsoft
    /// account, Google account outside the org's Workspace domains, an identifying claim missing).
    IdpAccountRefused => ("idp_account_refused", FORBIDDEN, "Your identity provider account is not one this organisation accepts."),
    /// The role mapping grants this account no role.
    NoRole => ("no_role", FORBIDDEN, "You signed in, but your organisation grants your account no role here. Ask your administrator for access."),
    /// SCIM deactivated or deleted this member.
    Deprovisioned => ("deprovisioned", FORBIDDEN, "Your account in this organisation has been deactivated by its identity provider. Ask your administrator."),
    /// The org takes only SCIM-provisioned members, and this one is not.
    NotProvisioned => ("not_provisioned", FORBIDDEN, "Your account has not been provisioned to this organisation yet. Ask your administrator to assign you the application."),
    /// The sign-in's IdP session was logged out (back-channel) before the sign-in completed.
    IdpSessionEnded => ("idp_session_ended", FORBIDDEN, "You were signed out at your identity provider while this sign-in was completing. Sign in again."),
    /// No valid session cookie.
    Unauthenticated => ("unauthenticated", UNAUTHORIZED, "No valid session: sign in first."),
    /// A state-changing request from another site (CSRF).
    CrossSite => ("cross_site", FORBIDDEN, "Sign-out must come from this site."),

    // -- the worker's or an upstream's fault
    /// An unexpected internal failure.
    InternalError => ("internal_error", INTERNAL_SERVER_ERROR, "The sign-in could not be completed."),
    /// A missing or invalid variable or binding (the message names it).
    ConfigurationError => ("configuration_error", INTERNAL_SERVER_ERROR, "The worker is misconfigured. See the README's configuration table."),
    /// The IdP could not be reached, is misconfigured, or answered with an error.
    IdpUnavailable => ("idp_unavailable", BAD_GATEWAY, "Your organisation's identity provider could not be reached or is misconfigured."),
    /// The IdP offers no client authentication method edge-sso supports.
    IdpUnsupported => ("idp_unsupported", BAD_GATEWAY, "Your organisation's identity provider supports no client authentication method edge-sso offers."),
    /// KV (or the CSPRNG) failed.
    StorageUnavailable => ("storage_unavailable", SERVICE_UNAVAILABLE, "Storage is unavailable; try again."),
    /// A gated path that is not in canonical form (never forwarded).
    InvalidPath => ("invalid_path", BAD_REQUEST, "This address is not in canonical form (no dot segments, empty segments or encoded separators)."),
    /// An enforced org's resource without a session of that org.
    SsoRequired => ("sso_required", UNAUTHORIZED, "This organisation requires single sign-on: sign in with your organisation's identity provider."),
    /// A session whose role is below what the method and path need.
    InsufficientRole => ("insufficient_role", FORBIDDEN, "Your role in this organisation does not allow this."),
    /// The hub's origin behind the gateway did not answer.
    OriginUnavailable => ("origin_unavailable", BAD_GATEWAY, "The service behind single sign-on could not be reached; try again."),
}

impl ErrorCode {
    /// The wire string (the JSON `error` member).
    pub const fn wire(self) -> &'static str {
        self.spec().0
    }
    /// The HTTP status.
    pub const fn status(self) -> StatusCode {
        self.spec().1
    }
    /// The message shown when the call site gives none.
    pub const fn default_message(self) -> &'static str {
        self.spec().2
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.wire())
    }
}

/// An error the application answers with: a code from the table, an optional message that
/// replaces the code's default, the offending field (admin API), a detail that goes only to the
/// log, and headers the error response must carry (`Set-Cookie`, `Allow`, `Retry-After`,
/// `WWW-Authenticate`, ...).
#[derive(Debug, Clone)]
pub struct AppError {
    /// The code (status and wire string).
    pub code: ErrorCode,
    /// Short message safe to show to the client.
    pub message: Cow<'static, str>,
    /// The request field at fault, when there is one.
    pub field: Option<String>,
    /// Detail for the log only (never sent to the client; never a secret).
    pub log_detail: Option<String>,
    /// Extra response headers, appended in order (so several `Set-Cookie`s are kept). A list
    /// rather than a `HeaderMap` keeps the error small on the `Result` path.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Extra members of the JSON error body (`login_url`, `required_role`); pages ignore them.
    /// Boxed: errors travel on every `Result` path and must stay small.
    #[allow(clippy::box_collection)]
    pub extra: Option<Box<Vec<(&'static str, String)>>>,
}

impl AppError {
    /// An error with `code` and its default message.
    pub fn new(code: ErrorCode) -> Self {
        AppError {
            code,
            message: Cow::Borrowed(code.default_message()),
            field: None,
            log_detail: None,
            headers: Vec::new(),
            extra: None,
        }
    }
    /// Adds a member to the JSON error body.
    pub fn extra(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra
            .get_or_insert_with(Default::default)
            .push((name, value.into()));
        self
    }
    /// Replaces the default message.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Cow::Owned(message.into());
        self
    }
    /// Names the offending field.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    /// Adds a detail for the log.
    pub fn log(mut self, detail: impl Into<String>) -> Self {
        self.log_detail = Some(detail.into());
        self
    }
    /// Adds a header to the error response.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

impl From<ErrorCode> for AppError {
    fn from(code: ErrorCode) -> Self {
        AppError::new(code)
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

// ---------------------------------------------------------------------------------------------
// Core errors. Store and IdP failures are 5xx (not the client's fault; the detail is logged),
// refusals of what the client sent are 4xx.

impl From<&ConfigError> for AppError {
    /// The message names the variable: the operator sees what to fix (nothing secret is in it).
    fn from(e: &ConfigError) -> Self {
        AppError::new(ErrorCode::ConfigurationError)
            .message(format!(
                "The worker is misconfigured: {e}. See the README's configuration table."
            ))
            .log(e.to_string())
    }
}

/// A storage failure (KV, a corrupt record, the CSPRNG): 503, detail logged.
pub fn storage(e: impl std::fmt::Display) -> AppError {
    AppError::new(ErrorCode::StorageUnavailable).log(e.to_string())
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        storage(e)
    }
}

impl From<SessionError> for AppError {
    fn from(e: SessionError) -> Self {
        storage(e)
    }
}

impl From<DirectoryError> for AppError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::DomainClaimed { domain } => AppError::new(ErrorCode::DomainClaimed)
                .message(format!(
                    "The domain {domain} is already claimed by another organisation."
                ))
                .field("domains"),
            other => storage(other),
        }
    }
}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        AppError::new(ErrorCode::InvalidField)
            .message(e.to_string())
            .field(e.field)
    }
}

impl From<SlugError> for AppError {
    /// A slug in an admin path (`/admin/orgs/{slug}`).
    fn from(e: SlugError) -> Self {
        AppError::new(ErrorCode::InvalidField)
            .message(format!("slug: {e}"))
            .field("slug")
    }
}

impl From<CookieError> for AppError {
    /// We built a cookie a browser would not store: our bug, not the client's.
    fn from(e: CookieError) -> Self {
        AppError::new(ErrorCode::InternalError).log(e.to_string())
    }
}

impl From<DiscoveryError> for AppError {
    fn from(e: DiscoveryError) -> Self {
        AppError::new(ErrorCode::IdpUnavailable).log(format!("discovery: {e}"))
    }
}

impl From<TxError> for AppError {
    fn from(e: TxError) -> Self {
        match e {
            TxError::Store(e) => storage(e),
            TxError::Unknown | TxError::Expired | TxError::Replayed => {
                AppError::new(ErrorCode::LoginExpired).log(format!("transaction: {e}"))
            }
            // Tampered, or sealed by another deployment or a rotated-out key: the browser
            // cannot finish this sign-in, but it can start again.
            TxError::Unsealable => AppError::new(ErrorCode::LoginExpired)
                .message("This sign-in cannot be completed: its sign-in cookie is not valid here. Please start again.")
                .log(format!("transaction: {e}")),
            other => AppError::new(ErrorCode::InvalidCallback).log(format!("transaction: {other}")),
        }
    }
}

impl From<CallbackError> for AppError {
    fn from(e: CallbackError) -> Self {
        match e {
            // RFC 9207 2.4: a response from another IdP (mix-up defence); the detail is logged.
            CallbackError::IssuerMismatch { .. } | CallbackError::MissingIssuer => {
                AppError::new(ErrorCode::InvalidCallback)
                    .message("The sign-in response came from an unexpected identity provider.")
                    .log(e.to_string())
            }
            e => AppError::new(ErrorCode::InvalidCallback)
                .message(format!("The sign-in response is malformed: {e}.")),
        }
    }
}

impl From<TokenError> for AppError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::NoSupportedAuthMethod(_) => {
                AppError::new(ErrorCode::IdpUnsupported).log(e.to_string())
            }
            // RFC 6749 5.2: the code was refused (used, expired, or not ours): start again.
            TokenError::Rejected { ref error, .. } if error == "invalid_grant" => {
                AppError::new(ErrorCode::LoginExpired)
                    .message("Your identity provider did not accept this sign-in (it may have been used already). Please start again.")
                    .log(format!("token endpoint: {e}"))
            }
            e => AppError::new(ErrorCode::IdpUnavailable)
                .message("Your organisation's identity provider answered with an error.")
                .log(format!("token endpoint: {e}")),
        }
    }
}

impl From<IdTokenError> for AppError {
    fn from(e: IdTokenError) -> Self {
        AppError::new(ErrorCode::InvalidIdToken).log(format!("id token: {e}"))
    }
}

impl From<VerifyError> for AppError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::IdToken(e) => e.into(),
            e => AppError::new(ErrorCode::IdpUnavailable)
                .message("Your organisation's identity provider keys could not be fetched.")
                .log(e.to_string()),
        }
    }
}

/// The one place where a failed login becomes a status, a code and a message for the user.
impl From<LoginError> for AppError {
    fn from(e: LoginError) -> AppError {
        match e {
            LoginError::MalformedCallback(e) | LoginError::IssuerMismatch(e) => e.into(),
            // OIDC Core 3.1.2.6: the IdP refused; show its reason (escaped by the page renderer).
            LoginError::IdpRefused { error, description } => {
                let mut msg = format!("Your identity provider did not sign you in ({error})");
                if let Some(d) = description {
                    msg.push_str(": ");
                    msg.push_str(&d);
                }
                msg.push('.');
                AppError::new(ErrorCode::IdpError).message(msg)
            }
            // Okta issues no token to a user whose groups claim matches more than 100 groups.
            LoginError::OktaGroupsLimit { error, description } => AppError::new(ErrorCode::IdpError).message(format!(
                "Your identity provider did not sign you in ({error}): {description}. Okta puts at most 100 groups in a token, and this account matches more. An Okta administrator of your organisation can fix it: narrow the app's groups claim filter (Applications > this app > Sign On > OpenID Connect ID Token > Groups claim filter, e.g. \"Starts with\" the prefix of the groups role mapping reads), limit the groups to those assigned to the app (app-level group filter), or remove the account from groups it does not need here."
            )),
            LoginError::NoTransactionCookie => AppError::new(ErrorCode::LoginExpired).message(
                "No sign-in is in progress in this browser (cookies may be blocked). Please start again.",
            ),
            LoginError::Transaction(e) => e.into(),
            LoginError::Directory(e) => e.into(),
            LoginError::OrgChanged => AppError::new(ErrorCode::LoginExpired).message(
                "Your organisation's sign-in settings changed during sign-in. Please start again.",
            ),
            LoginError::Discovery(e) => e.into(),
            LoginError::NoClientAuth(e) | LoginError::GrantRejected(e) | LoginError::TokenEndpoint(e) => e.into(),
            LoginError::TokenEndpointUnreachable(e) => AppError::new(ErrorCode::IdpUnavailable)
                .message("Your organisation's identity provider could not be reached.")
                .log(format!("token endpoint: {e}")),
            LoginError::InvalidIdpResponse(what) => AppError::new(ErrorCode::IdpUnavailable)
                .message("Your organisation's identity provider sent an invalid response.")
                .log(format!("invalid IdP response: {what}")),
            LoginError::InvalidIdToken(e) => e.into(),
            LoginError::KeysUnavailable(e) => AppError::new(ErrorCode::IdpUnavailable)
                .message("Your organisation's identity provider keys could not be fetched.")
                .log(format!("IdP keys unavailable: {e}")),
            LoginError::Denied(d) => d.into(),
            LoginError::Enrichment(EnrichError::Userinfo(UserinfoError::SubMismatch)) => {
                AppError::new(ErrorCode::InvalidIdToken)
                    .message("The identity provider's userinfo answer is for another user.")
            }
            LoginError::Enrichment(e) => AppError::new(ErrorCode::IdpUnavailable)
                .message(format!("Your organisation's identity provider could not complete the sign-in: {e}."))
                .log(e.to_string()),
            LoginError::Refused(Refusal::Deprovisioned) => AppError::new(ErrorCode::Deprovisioned),
            LoginError::Refused(Refusal::NotProvisioned) => AppError::new(ErrorCode::NotProvisioned),
            LoginError::Refused(Refusal::IdpSessionEnded) => AppError::new(ErrorCode::IdpSessionEnded),
            LoginError::LedgerFull(m) => AppError::new(ErrorCode::StorageUnavailable).message(m),
            LoginError::Ledger(e) => e.into(),
            LoginError::Session(e) => e.into(),
        }
    }
}

impl From<Denial> for AppError {
    fn from(d: Denial) -> AppError {
        match d {
            Denial::EmailMissing => ErrorCode::EmailMissing.into(),
            Denial::EmailUnverified => ErrorCode::EmailUnverified.into(),
            Denial::EmailInvalid(e) => AppError::new(ErrorCode::EmailInvalid).message(format!(
                "Your identity provider sent an email address edge-sso cannot use: {e}."
            )),
            Denial::DomainMismatch(email) => {
                AppError::new(ErrorCode::EmailDomainMismatch).message(format!(
                    "The email {} is not in a domain of this organisation.",
                    email.as_str()
                ))
            }
            Denial::NoRole => ErrorCode::NoRole.into(),
            d @ (Denial::EmailVerifiedMissing | Denial::EntraEmailUntrusted(_)) => {
                AppError::new(ErrorCode::EmailUnverified).message(format!("Sign-in refused: {d}."))
            }
            d @ (Denial::ClaimMissing(_)
            | Denial::TenantNotAllowed(_)
            | Denial::ConsumerAccount
            | Denial::HostedDomainMissing
            | Denial::HostedDomainNotAllowed(_)) => AppError::new(ErrorCode::IdpAccountRefused)
                .message(format!("Sign-in refused: {d}.")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn wire_strings_are_unique_and_statuses_are_errors() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            assert!(
                seen.insert(code.wire()),
                "duplicate wire string {}",
                code.wire()
            );
            let s = code.status().as_u16();
            assert!((400..600).contains(&s), "{code:?} has status {s}");
            assert!(!code.default_message().is_empty());
            assert!(code
                .wire()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }

    #[test]
    fn statuses_clients_rely_on() {
        // Pinned by the native and e2e tiers; listed here so a table edit is caught early.
        for (code, wire, status) in [
            (ErrorCode::Unauthorized, "unauthorized", 401),
            (ErrorCode::Unauthenticated, "unauthenticated", 401),
            (ErrorCode::UnknownOrg, "unknown_org", 404),
            (ErrorCode::UnknownDomain, "unknown_domain", 404),
            (ErrorCode::DomainClaimed, "domain_claimed", 409),
            (ErrorCode::MethodNotAllowed, "method_not_allowed", 405),
            (ErrorCode::TooLarge, "too_large", 413),
            (ErrorCode::LoginExpired, "login_expired", 400),
            (ErrorCode::InvalidCallback, "invalid_callback", 400),
            (ErrorCode::IdpError, "idp_error", 403),
            (ErrorCode::ConfigurationError, "configuration_error", 500),
        ] {
            assert_eq!(code.wire(), wire);
            assert_eq!(code.status(), status);
        }
    }

    #[test]
    fn builder_keeps_headers_and_overrides() {
        let e = AppError::new(ErrorCode::MethodNotAllowed)
            .header(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"))
            .message("no")
            .field("f");
        assert_eq!(e.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(e.message, "no");
        assert_eq!(e.headers[0].1, "GET, HEAD");
        assert_eq!(
            AppError::from(ErrorCode::NotFound).message,
            ErrorCode::NotFound.default_message()
        );
    }

    #[test]
    fn core_errors_map_to_their_codes() {
        let claimed: AppError = DirectoryError::Store(StoreError("kv down".into())).into();
        assert_eq!(claimed.code, ErrorCode::StorageUnavailable);
        assert!(claimed.log_detail.unwrap().contains("kv down"));
        let tx: AppError = TxError::Expired.into();
        assert_eq!(tx.code, ErrorCode::LoginExpired);
        let tx: AppError = TxError::StateMismatch.into();
        assert_eq!(tx.code, ErrorCode::InvalidCallback);
        let grant: AppError = TokenError::Rejected {
            error: "invalid_grant".into(),
            description: None,
        }
        .into();
        assert_eq!(grant.code, ErrorCode::LoginExpired);
        let other: AppError = TokenError::Status(500).into();
        assert_eq!(other.status(), StatusCode::BAD_GATEWAY);
        let slug: AppError = SlugError::Hyphen.into();
        assert_eq!(slug.field.as_deref(), Some("slug"));
        let config: AppError = (&ConfigError {
            variable: "PUBLIC_ORIGIN",
            message: "is not set".into(),
        })
            .into();
        assert_eq!(config.status(), 500);
        assert_eq!(config.code.wire(), "configuration_error");
        assert!(config.message.contains("PUBLIC_ORIGIN"));
    }
}
