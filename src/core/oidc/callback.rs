//! The authorization response at the redirect URI (OIDC Core 3.1.2.5, 3.1.2.6; RFC 9207).

use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::issuer::issuer_matches;
use crate::core::secret::Secret;
use url::Url;

/// Longest authorization code accepted.
pub const MAX_CODE: usize = 2048;
/// Longest `state` accepted (ours are 43 characters).
pub const MAX_STATE: usize = 512;
/// Longest `iss` accepted.
pub const MAX_ISS: usize = 2048;
/// `error` is kept up to this many characters.
pub const MAX_ERROR: usize = 128;
/// `error_description` is kept up to this many characters.
pub const MAX_ERROR_DESCRIPTION: usize = 512;

/// Parameters whose repetition makes the response ambiguous, so it is refused.
const SINGLE: [&str; 6] = [
    "code",
    "state",
    "iss",
    "error",
    "error_description",
    "error_uri",
];

/// What the IdP sent back to the redirect URI.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Callback {
    /// An error response (OIDC Core 3.1.2.6, RFC 6749 4.1.2.1). The texts come from the
    /// query string: capped and stripped of control characters here, but still untrusted
    /// (HTML-escape on display).
    Error {
        /// `error` code.
        error: String,
        /// `error_description`, if any.
        description: Option<String>,
    },
    /// A successful response (OIDC Core 3.1.2.5).
    Code {
        /// The authorization code.
        code: Secret,
        /// `state`, to be checked against the transaction.
        state: String,
        /// RFC 9207 `iss`, to be checked with [`check_iss`].
        iss: Option<String>,
    },
}

/// Why the authorization response was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallbackError {
    /// A parameter appeared more than once.
    Duplicate(&'static str),
    /// No (or an empty) `code`.
    MissingCode,
    /// No (or an empty) `state`.
    MissingState,
    /// A parameter is longer than its cap.
    TooLong(&'static str),
    /// `iss` is not the expected issuer (RFC 9207 2.4).
    IssuerMismatch {
        /// The provider's issuer.
        expected: String,
        /// The response's `iss`.
        found: String,
    },
    /// The provider announces `iss` in responses but this one has none (RFC 9207 2.4).
    MissingIssuer,
}

impl std::fmt::Display for CallbackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallbackError::Duplicate(p) => write!(f, "parameter {p} repeated"),
            CallbackError::MissingCode => f.write_str("no authorization code"),
            CallbackError::MissingState => f.write_str("no state parameter"),
            CallbackError::TooLong(p) => write!(f, "parameter {p} too long"),
            CallbackError::IssuerMismatch { expected, found } => write!(
                f,
                "authorization response from issuer {found:?}, expected {expected:?}"
            ),
            CallbackError::MissingIssuer => {
                f.write_str("the identity provider promised an iss parameter but sent none")
            }
        }
    }
}

impl std::error::Error for CallbackError {}

/// Drops control characters and keeps at most `max` characters of untrusted text.
pub(crate) fn clean_text(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

impl Callback {
    /// Reads the callback's query string. An `error` wins over a `code` (fail closed).
    pub fn from_query(url: &Url) -> Result<Callback, CallbackError> {
        let mut found: [Option<String>; SINGLE.len()] = Default::default();
        for (k, v) in url.query_pairs() {
            if let Some(i) = SINGLE.iter().position(|p| *p == k) {
                if found[i].is_some() {
                    return Err(CallbackError::Duplicate(SINGLE[i]));
                }
                found[i] = Some(v.into_owned());
            }
        }
        let [code, state, iss, error, description, _error_uri] = found;

        if let Some(error) = error {
            let error = clean_text(&error, MAX_ERROR);
            return Ok(Callback::Error {
                error: if error.is_empty() {
                    "unspecified_error".to_owned()
                } else {
                    error
                },
                description: description
                    .map(|d| clean_text(&d, MAX_ERROR_DESCRIPTION))
                    .filter(|d| !d.is_empty()),
            });
        }

        let code = code
            .filter(|c| !c.is_empty())
            .ok_or(CallbackError::MissingCode)?;
        if code.len() > MAX_CODE {
            return Err(CallbackError::TooLong("code"));
        }
        let state = state
            .filter(|s| !s.is_empty())
            .ok_or(CallbackError::MissingState)?;
        if state.len() > MAX_STATE {
            return Err(CallbackError::TooLong("state"));
        }
        if iss.as_ref().is_some_and(|i| i.len() > MAX_ISS) {
            return Err(CallbackError::TooLong("iss"));
        }
        Ok(Callback::Code {
            code: Secret::new(code),
            state,
            iss,
        })
    }
}

/// RFC 9207 2.4: an `iss` in the response must be the provider's issuer (mix-up defence);
/// when the provider announces `authorization_response_iss_parameter_supported`, a response
/// without `iss` is refused.
pub fn check_iss(iss: Option<&str>, meta: &ProviderMetadata) -> Result<(), CallbackError> {
    match iss {
        Some(found) if issuer_matches(&meta.issuer, found) => Ok(()),
        Some(found) => Err(CallbackError::IssuerMismatch {
            expected: meta.issuer.clone(),
            found: clean_text(found, MAX_ISS),
        }),
        None if meta.authorization_response_iss_parameter_supported => {
            Err(CallbackError::MissingIssuer)
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::oidc::discovery::tests::{meta, ISS};

    fn parse(q: &str) -> Result<Callback, CallbackError> {
        Callback::from_query(&Url::parse(&format!("https://sso.example.net/cb?{q}")).unwrap())
    }

    #[test]
    fn code_response() {
        let iss = url::form_urlencoded::byte_serialize(ISS.as_bytes()).collect::<String>();
        match parse(&format!(
            "code=abc&state=xyz&iss={iss}&session_state=1&session_state=2"
        )) {
            Ok(Callback::Code { code, state, iss }) => {
                assert_eq!(code.expose(), "abc");
                assert_eq!(state, "xyz");
                assert_eq!(iss.as_deref(), Some(ISS));
            }
            other => panic!("{other:?}"),
        }
        match Callback::from_query(&Url::parse("https://x/cb?code=a&state=b").unwrap()) {
            Ok(Callback::Code { iss: None, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_response_is_cleaned() {
        let long = "d".repeat(MAX_ERROR_DESCRIPTION + 10);
        match parse(&format!(
            "error=access_denied%0A&error_description={long}%07&state=xyz&code=abc"
        )) {
            Ok(Callback::Error { error, description }) => {
                assert_eq!(error, "access_denied");
                assert_eq!(description.unwrap().len(), MAX_ERROR_DESCRIPTION);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse("error=").unwrap(),
            Callback::Error {
                error: "unspecified_error".into(),
                description: None
            }
        );
        let long_err = "e".repeat(MAX_ERROR + 1);
        match parse(&format!("error={long_err}")).unwrap() {
            Callback::Error { error, .. } => assert_eq!(error.len(), MAX_ERROR),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duplicates_rejected() {
        for (q, p) in [
            ("code=a&code=b&state=s", "code"),
            ("code=a&state=s&state=t", "state"),
            ("code=a&state=s&iss=x&iss=x", "iss"),
            ("error=a&error=b", "error"),
            (
                "error=a&error_description=x&error_description=y",
                "error_description",
            ),
        ] {
            assert_eq!(parse(q), Err(CallbackError::Duplicate(p)), "{q}");
        }
    }

    #[test]
    fn missing_code_or_state() {
        assert_eq!(parse("state=s"), Err(CallbackError::MissingCode));
        assert_eq!(parse("code=&state=s"), Err(CallbackError::MissingCode));
        assert_eq!(parse("code=a"), Err(CallbackError::MissingState));
        assert_eq!(parse("code=a&state="), Err(CallbackError::MissingState));
        assert_eq!(
            Callback::from_query(&Url::parse("https://x/cb").unwrap()),
            Err(CallbackError::MissingCode)
        );
    }

    #[test]
    fn caps() {
        let at = |n| "a".repeat(n);
        assert!(parse(&format!("code={}&state=s", at(MAX_CODE))).is_ok());
        assert_eq!(
            parse(&format!("code={}&state=s", at(MAX_CODE + 1))),
            Err(CallbackError::TooLong("code"))
        );
        assert!(parse(&format!("code=c&state={}", at(MAX_STATE))).is_ok());
        assert_eq!(
            parse(&format!("code=c&state={}", at(MAX_STATE + 1))),
            Err(CallbackError::TooLong("state"))
        );
        assert_eq!(
            parse(&format!("code=c&state=s&iss={}", at(MAX_ISS + 1))),
            Err(CallbackError::TooLong("iss"))
        );
    }

    #[test]
    fn debug_redacts_code() {
        let d = format!("{:?}", parse("code=supersecretcode&state=s").unwrap());
        assert!(!d.contains("supersecretcode"), "{d}");
    }

    #[test]
    fn iss_matches_or_absent() {
        let m = meta();
        assert_eq!(check_iss(Some(ISS), &m), Ok(()));
        assert_eq!(check_iss(None, &m), Ok(()));
    }

    #[test]
    fn iss_mismatch() {
        let m = meta();
        for other in [
            "https://evil.example",
            "https://idp.example.com/realms/acme/",
            "",
        ] {
            assert_eq!(
                check_iss(Some(other), &m),
                Err(CallbackError::IssuerMismatch {
                    expected: ISS.into(),
                    found: other.into()
                })
            );
        }
    }

    #[test]
    fn iss_required_when_announced() {
        let mut m = meta();
        m.authorization_response_iss_parameter_supported = true;
        assert_eq!(check_iss(None, &m), Err(CallbackError::MissingIssuer));
        assert_eq!(check_iss(Some(ISS), &m), Ok(()));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// A value for a callback parameter: short text with control and non-ASCII characters,
        /// or exactly at or just over one of the caps.
        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                4 => "[ -~\u{7}\n\u{85}é]{0,10}",
                1 => prop::sample::select(vec![MAX_ERROR, MAX_ERROR + 1, MAX_ERROR_DESCRIPTION + 1,
                                               MAX_STATE, MAX_STATE + 1, MAX_CODE, MAX_CODE + 1,
                                               MAX_ISS + 1])
                    .prop_map(|n| "é".repeat(n / 2) + &"v".repeat(n % 2)),
            ]
        }

        /// The decision written from OIDC Core 3.1.2.5/3.1.2.6 and the caps, in the order the
        /// doc comments give: a repeated single-valued parameter, then an error response, then
        /// code, state and iss.
        fn model(pairs: &[(&str, String)]) -> Result<Callback, CallbackError> {
            let mut seen: Vec<&str> = Vec::new();
            for (k, _) in pairs {
                if let Some(p) = SINGLE.iter().find(|p| *p == k) {
                    if seen.contains(p) {
                        return Err(CallbackError::Duplicate(p));
                    }
                    seen.push(p);
                }
            }
            let get = |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
            };
            let clean = |s: &str, n: usize| {
                s.chars()
                    .filter(|c| !c.is_control())
                    .take(n)
                    .collect::<String>()
            };
            if let Some(e) = get("error") {
                let e = clean(&e, MAX_ERROR);
                return Ok(Callback::Error {
                    error: if e.is_empty() {
                        "unspecified_error".into()
                    } else {
                        e
                    },
                    description: get("error_description")
                        .map(|d| clean(&d, MAX_ERROR_DESCRIPTION))
                        .filter(|d| !d.is_empty()),
                });
            }
            let code = get("code")
                .filter(|c| !c.is_empty())
                .ok_or(CallbackError::MissingCode)?;
            if code.len() > MAX_CODE {
                return Err(CallbackError::TooLong("code"));
            }
            let state = get("state")
                .filter(|c| !c.is_empty())
                .ok_or(CallbackError::MissingState)?;
            if state.len() > MAX_STATE {
                return Err(CallbackError::TooLong("state"));
            }
            let iss = get("iss");
            if iss.as_ref().is_some_and(|i| i.len() > MAX_ISS) {
                return Err(CallbackError::TooLong("iss"));
            }
            Ok(Callback::Code {
                code: Secret::new(code),
                state,
                iss,
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            /// Well-formed queries of known and unknown parameters: the parser decides as the
            /// model does.
            #[test]
            fn callback_agrees_with_a_model(
                pairs in prop::collection::vec(
                    (prop::sample::select(vec!["code", "state", "iss", "error", "error_description",
                                               "error_uri", "session_state", "Code", "state "]),
                     value()),
                    0..6),
            ) {
                let mut u = Url::parse("https://sso.example.net/sso/callback").unwrap();
                u.query_pairs_mut().extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
                prop_assert_eq!(Callback::from_query(&u), model(&pairs));
            }

            /// Any query text: no panic, and whatever is accepted is within the caps and free of
            /// control characters where it is displayed.
            #[test]
            fn any_query_stays_within_the_caps(q in prop_oneof![any::<String>(), "([a-z_]{1,6}=[ -~%]{0,8}&?){0,6}"]) {
                let Ok(u) = Url::parse(&format!("https://sso.example.net/sso/callback?{q}")) else {
                    return Ok(());
                };
                match Callback::from_query(&u) {
                    Ok(Callback::Error { error, description }) => {
                        prop_assert!(!error.is_empty() && error.chars().count() <= MAX_ERROR);
                        prop_assert!(!error.chars().any(char::is_control));
                        if let Some(d) = description {
                            prop_assert!(!d.is_empty() && d.chars().count() <= MAX_ERROR_DESCRIPTION);
                            prop_assert!(!d.chars().any(char::is_control));
                        }
                    }
                    Ok(Callback::Code { code, state, iss }) => {
                        prop_assert!(!code.expose().is_empty() && code.expose().len() <= MAX_CODE);
                        prop_assert!(!state.is_empty() && state.len() <= MAX_STATE);
                        prop_assert!(iss.is_none_or(|i| i.len() <= MAX_ISS));
                    }
                    Err(_) => {}
                }
            }
        }
    }
}
