//! Worker configuration, read from environment variables (wrangler `vars` and secrets).
//! These names are a public contract: see the README's configuration table.

use crate::core::gateway::assertion::AssertionContext;
use crate::core::jose::private_jwk::EcPrivateJwk;
use crate::core::oidc::url_policy::IdpUrlPolicy;
use crate::core::seal::Sealer;
use crate::core::secret::Secret;
use url::Url;

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// `PUBLIC_ORIGIN`: the external origin (scheme, host, port). Redirect URIs and cookie
    /// security are derived from it, never from the request's Host or X-Forwarded-* headers.
    pub public_origin: Url,
    /// `ADMIN_TOKEN`: bearer token for the admin API (a wrangler secret in production).
    pub admin_token: Secret,
    /// `ALLOW_INSECURE_LOOPBACK_IDP`: the IdP URL policy.
    pub idp_policy: IdpUrlPolicy,
    /// `ORIGIN_URL`: the hub's origin behind the access gateway (an origin: https, or http on
    /// loopback for development). Without it the gateway is off and `/orgs/...` answers 404.
    pub origin_url: Option<Url>,
    /// `ASSERTION_SIGNING_KEY` (+ optional `ASSERTION_SIGNING_KEY_PREVIOUS`): the keys of the
    /// signed identity sent to the origin; required when `ORIGIN_URL` is set.
    pub assertion: Option<std::rc::Rc<AssertionKeys>>,
    /// `CLOCK_LEEWAY_SECS`: allowed clock skew for token time checks (default 60, at most 300).
    pub leeway_secs: u64,
    /// `DOH_URL`: the DNS-over-HTTPS JSON endpoint domain claims are checked through (default
    /// [`DEFAULT_DOH_URL`]); https, or http on loopback with `ALLOW_INSECURE_LOOPBACK_IDP=true`.
    pub doh_url: Url,
    /// `COOKIE_SECRET` (+ optional `COOKIE_SECRET_PREVIOUS`, which only opens): the keys that
    /// seal login transactions into their cookies. Required.
    pub cookie_sealer: Sealer,
}

/// Cloudflare's public resolver, JSON flavour.
pub const DEFAULT_DOH_URL: &str = "https://cloudflare-dns.com/dns-query";

/// The gateway's assertion keys and the `iss`/`aud` it signs for.
#[derive(Debug)]
pub struct AssertionKeys {
    /// Signs every new assertion.
    pub current: EcPrivateJwk,
    /// Still published in the JWKS during a rotation (never signs).
    pub previous: Option<EcPrivateJwk>,
    /// `iss` (PUBLIC_ORIGIN) and `aud` (the origin of ORIGIN_URL).
    pub context: AssertionContext,
}

/// A missing or malformed variable; the message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable's name.
    pub variable: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "configuration variable {}: {}",
            self.variable, self.message
        )
    }
}

/// Shortest admin token accepted.
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;

fn bad(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

impl AppConfig {
    /// Reads and validates the configuration through `get` (variable name -> value).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<AppConfig, ConfigError> {
        let origin = get("PUBLIC_ORIGIN").ok_or_else(|| bad("PUBLIC_ORIGIN", "is not set"))?;
        let public_origin = parse_public_origin(&origin)?;

        let admin = get("ADMIN_TOKEN").ok_or_else(|| bad("ADMIN_TOKEN", "is not set"))?;
        if admin.chars().count() < MIN_ADMIN_TOKEN_LEN
            || admin.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(bad(
                "ADMIN_TOKEN",
                format!("must be at least {MIN_ADMIN_TOKEN_LEN} characters without spaces"),
            ));
        }

        let allow = match get("ALLOW_INSECURE_LOOPBACK_IDP").as_deref().map(str::trim) {
            None | Some("") | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(bad(
                    "ALLOW_INSECURE_LOOPBACK_IDP",
                    "must be \"true\" or \"false\"",
                ))
            }
        };

        let origin_url = match get("ORIGIN_URL").filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(s) => Some(parse_origin_url(&s)?),
        };
        let assertion = match &origin_url {
            None => None,
            Some(origin) => {
                let key = |name: &'static str| -> Result<Option<EcPrivateJwk>, ConfigError> {
                    match get(name).filter(|s| !s.trim().is_empty()) {
                        None => Ok(None),
                        Some(json) => EcPrivateJwk::parse(json.trim()).map(Some).map_err(|e| {
                            bad(name, format!("must be a private EC P-256 JWK (JSON): {e}"))
                        }),
                    }
                };
                let current = key("ASSERTION_SIGNING_KEY")?.ok_or_else(|| {
                    bad(
                        "ASSERTION_SIGNING_KEY",
                        "is required when ORIGIN_URL is set (a private EC P-256 JWK; see the README)",
                    )
                })?;
                let previous = key("ASSERTION_SIGNING_KEY_PREVIOUS")?;
                let context = AssertionContext::new(public_origin.as_str(), origin.as_str())
                    .map_err(|e| bad("ORIGIN_URL", e.to_string()))?;
                Some(std::rc::Rc::new(AssertionKeys {
                    current,
                    previous,
                    context,
                }))
            }
        };

        let leeway_secs = match get("CLOCK_LEEWAY_SECS").filter(|s| !s.trim().is_empty()) {
            None => 60,
            Some(s) => s
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= 300)
                .ok_or_else(|| {
                    bad(
                        "CLOCK_LEEWAY_SECS",
                        "must be a whole number of seconds from 0 to 300",
                    )
                })?,
        };

        let doh_url = parse_doh_url(
            get("DOH_URL")
                .filter(|s| !s.trim().is_empty())
                .as_deref()
                .unwrap_or(DEFAULT_DOH_URL),
            allow,
        )?;
        let cookie_secret = get("COOKIE_SECRET")
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                bad(
                    "COOKIE_SECRET",
                    "is not set (a secret: base64url of at least 32 random bytes; see the README)",
                )
            })?;
        let previous = get("COOKIE_SECRET_PREVIOUS").filter(|s| !s.trim().is_empty());
        let cookie_sealer =
            Sealer::from_secrets(&cookie_secret, previous.as_deref()).map_err(|(prev, e)| {
                let name = if prev {
                    "COOKIE_SECRET_PREVIOUS"
                } else {
                    "COOKIE_SECRET"
                };
                bad(name, e.to_string())
            })?;

        Ok(AppConfig {
            doh_url,
            public_origin,
            cookie_sealer,
            admin_token: Secret::new(admin),
            idp_policy: IdpUrlPolicy {
                allow_insecure_loopback: allow,
            },
            origin_url,
            assertion,
            leeway_secs,
        })
    }

    /// Whether cookies get `Secure` and the `__Host-` prefix.
    pub fn secure_cookies(&self) -> bool {
        self.public_origin.scheme() == "https"
    }

    /// `PUBLIC_ORIGIN` + `path`.
    pub fn url(&self, path: &str) -> Url {
        // `path` is always one of our own absolute paths.
        self.public_origin
            .join(path)
            .unwrap_or_else(|_| self.public_origin.clone())
    }

    /// The origin string (`scheme://host[:port]`), for Origin header checks.
    pub fn origin_str(&self) -> String {
        self.public_origin.origin().ascii_serialization()
    }
}

/// `DOH_URL`: an absolute URL without query, fragment or credentials, admitted by the same
/// rule as IdP URLs (https to a public host; plain-http loopback only in development).
fn parse_doh_url(s: &str, allow_insecure_loopback: bool) -> Result<Url, ConfigError> {
    const V: &str = "DOH_URL";
    let u = Url::parse(s.trim()).map_err(|_| {
        bad(
            V,
            "must be an absolute URL like https://cloudflare-dns.com/dns-query",
        )
    })?;
    if u.query().is_some() || u.fragment().is_some() {
        return Err(bad(
            V,
            "must not have a query or fragment (name and type are added)",
        ));
    }
    IdpUrlPolicy {
        allow_insecure_loopback,
    }
    .check(&u)
    .map_err(|e| bad(V, e.to_string()))?;
    Ok(u)
}

/// An origin (scheme, host, optional port; no path, query or credentials): https, or http on
/// loopback only for development. `variable` names it in errors, `example` shows the form.
fn parse_origin(variable: &'static str, example: &str, s: &str) -> Result<Url, ConfigError> {
    let what = || {
        bad(
            variable,
            format!("must be an origin like {example} (scheme, host and optional port; no path, query or credentials)"),
        )
    };
    let u = Url::parse(s.trim()).map_err(|_| what())?;
    let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if !(u.scheme() == "https" || (u.scheme() == "http" && loopback)) {
        return Err(bad(
            variable,
            "must use https (http is allowed only for 127.0.0.1/localhost in development)",
        ));
    }
    if u.host().is_none()
        || u.path() != "/"
        || u.query().is_some()
        || u.fragment().is_some()
        || !u.username().is_empty()
        || u.password().is_some()
    {
        return Err(what());
    }
    Ok(u)
}

/// `ORIGIN_URL`: the hub's origin behind the gateway.
fn parse_origin_url(s: &str) -> Result<Url, ConfigError> {
    parse_origin("ORIGIN_URL", "https://hub.internal.example", s)
}

/// `PUBLIC_ORIGIN`: the origin users reach the worker at.
fn parse_public_origin(s: &str) -> Result<Url, ConfigError> {
    parse_origin("PUBLIC_ORIGIN", "https://sso.example.com", s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<AppConfig, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AppConfig::from_vars(|k| m.get(k).cloned())
    }

    const TOKEN: &str = "0123456789abcdef0123";
    const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

    /// `pairs` plus a valid COOKIE_SECRET unless `pairs` sets one.
    fn cfg_with_secret(pairs: &[(&str, &str)]) -> Result<AppConfig, ConfigError> {
        let mut all = pairs.to_vec();
        if !all.iter().any(|(k, _)| *k == "COOKIE_SECRET") {
            all.push(("COOKIE_SECRET", SECRET));
        }
        cfg(&all)
    }

    #[test]
    fn minimal_valid() {
        let c = cfg_with_secret(&[
            ("PUBLIC_ORIGIN", "https://sso.example.com"),
            ("ADMIN_TOKEN", TOKEN),
        ])
        .unwrap();
        assert!(c.secure_cookies());
        assert!(!c.idp_policy.allow_insecure_loopback);
        assert_eq!(
            c.url("/sso/callback").as_str(),
            "https://sso.example.com/sso/callback"
        );
        assert_eq!(c.leeway_secs, 60);
        assert_eq!(c.doh_url.as_str(), DEFAULT_DOH_URL);
    }

    #[test]
    fn doh_url_rules() {
        let with = |doh: &str, dev: &str| {
            cfg(&[
                ("PUBLIC_ORIGIN", "https://sso.example.com"),
                ("ADMIN_TOKEN", TOKEN),
                ("ALLOW_INSECURE_LOOPBACK_IDP", dev),
                ("DOH_URL", doh),
                (
                    "COOKIE_SECRET",
                    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
                ),
            ])
        };
        assert_eq!(
            with("https://dns.google/resolve", "false")
                .unwrap()
                .doh_url
                .as_str(),
            "https://dns.google/resolve"
        );
        assert_eq!(
            with("http://127.0.0.1:8053/dns-query", "true")
                .unwrap()
                .doh_url
                .as_str(),
            "http://127.0.0.1:8053/dns-query"
        );
        for (doh, dev) in [
            ("http://127.0.0.1:8053/dns-query", "false"),
            ("http://dns.example/dns-query", "true"),
            ("https://10.0.0.1/dns-query", "true"),
            ("https://dns.google/resolve?x=1", "false"),
            ("https://u:p@dns.google/resolve", "false"),
            ("dns.google", "false"),
        ] {
            assert_eq!(with(doh, dev).unwrap_err().variable, "DOH_URL", "{doh}");
        }
    }

    #[test]
    fn each_bad_variable_is_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("ADMIN_TOKEN", TOKEN)], "PUBLIC_ORIGIN"),
            (
                &[("PUBLIC_ORIGIN", "sso.example.com"), ("ADMIN_TOKEN", TOKEN)],
                "PUBLIC_ORIGIN",
            ),
            (
                &[
                    ("PUBLIC_ORIGIN", "http://sso.example.com"),
                    ("ADMIN_TOKEN", TOKEN),
                ],
                "PUBLIC_ORIGIN",
            ),
            (
                &[
                    ("PUBLIC_ORIGIN", "https://sso.example.com/app"),
                    ("ADMIN_TOKEN", TOKEN),
                ],
                "PUBLIC_ORIGIN",
            ),
            (
                &[
                    ("PUBLIC_ORIGIN", "https://u:p@sso.example.com"),
                    ("ADMIN_TOKEN", TOKEN),
                ],
                "PUBLIC_ORIGIN",
            ),
            (
                &[("PUBLIC_ORIGIN", "https://sso.example.com")],
                "ADMIN_TOKEN",
            ),
            (
                &[
                    ("PUBLIC_ORIGIN", "https://sso.example.com"),
                    ("ADMIN_TOKEN", "short"),
                ],
                "ADMIN_TOKEN",
            ),
            (
                &[
                    ("PUBLIC_ORIGIN", "https://sso.example.com"),
                    ("ADMIN_TOKEN", TOKEN),
                    ("ALLOW_INSECURE_LOOPBACK_IDP", "yes"),
                ],
                "ALLOW_INSECURE_LOOPBACK_IDP",
            ),
            (
                &[
                    ("PUBLIC_ORIGIN", "https://sso.example.com"),
                    ("ADMIN_TOKEN", TOKEN),
                    ("ORIGIN_URL", "ftp://x"),
                ],
                "ORIGIN_URL",
            ),
            (
                &[
                    ("PUBLIC_ORIGIN", "https://sso.example.com"),
                    ("ADMIN_TOKEN", TOKEN),
                    ("CLOCK_LEEWAY_SECS", "9999"),
                ],
                "CLOCK_LEEWAY_SECS",
            ),
        ];
        for (vars, name) in cases {
            let e = cfg_with_secret(vars).unwrap_err();
            assert_eq!(e.variable, *name, "{vars:?}");
            assert!(e.to_string().contains(name));
        }
    }

    #[test]
    fn loopback_dev_settings() {
        let c = cfg_with_secret(&[
            ("PUBLIC_ORIGIN", "http://127.0.0.1:8787"),
            ("ADMIN_TOKEN", TOKEN),
            ("ALLOW_INSECURE_LOOPBACK_IDP", "true"),
        ])
        .unwrap();
        assert!(!c.secure_cookies());
        assert!(c.idp_policy.allow_insecure_loopback);
        assert_eq!(c.origin_str(), "http://127.0.0.1:8787");
    }

    #[test]
    fn cookie_secret_is_required_and_checked() {
        let base = [
            ("PUBLIC_ORIGIN", "https://sso.example.com"),
            ("ADMIN_TOKEN", TOKEN),
        ];
        let e = cfg(&base).unwrap_err();
        assert_eq!(e.variable, "COOKIE_SECRET");
        assert!(e.to_string().contains("COOKIE_SECRET"));
        for (name, value) in [
            ("COOKIE_SECRET", "c2hvcnQ"),
            ("COOKIE_SECRET", "not base64url"),
            ("COOKIE_SECRET", "   "),
        ] {
            let mut v = base.to_vec();
            v.push((name, value));
            assert_eq!(cfg(&v).unwrap_err().variable, "COOKIE_SECRET", "{value:?}");
        }
        let mut v = base.to_vec();
        v.push(("COOKIE_SECRET", SECRET));
        v.push(("COOKIE_SECRET_PREVIOUS", "short"));
        let e = cfg(&v).unwrap_err();
        assert_eq!(e.variable, "COOKIE_SECRET_PREVIOUS");
        assert!(!e.to_string().contains(SECRET), "no secret in the message");
        v.pop();
        v.push((
            "COOKIE_SECRET_PREVIOUS",
            "HxkZGBcWFRQTEhEQDw4NDAsKCQgHBgUEAwIBAAECAwQ",
        ));
        assert!(cfg(&v).is_ok());
        assert!(!format!("{:?}", cfg(&v).unwrap()).contains(SECRET));
    }
}
