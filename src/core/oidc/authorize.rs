//! The start of a login: the [`AuthTransaction`] (state, nonce, PKCE verifier), the
//! authorization request URL (OIDC Core 3.1.2.1), and the transaction sealed into its own
//! cookie ([`seal_transaction`] / [`open_transaction`]): nothing is stored until the callback,
//! which spends the transaction in the org's ledger ([`spent_id`]) before the code exchange.

use crate::core::clock::{Clock, UnixTime};
use crate::core::oidc::callback::MAX_STATE;
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::issuer::IssuerUrl;
use crate::core::oidc::pkce::PkceVerifier;
use crate::core::org::{ClientId, OrgSlug};
use crate::core::random::{Random, RandomError};
use crate::core::seal::Sealer;
use crate::core::secret::{sha256_hex, Secret};
use crate::core::store::StoreError;
use serde::{Deserialize, Serialize};
use url::Url;

/// How long a login may take between the redirect to the IdP and the callback.
pub const TRANSACTION_TTL_SECS: u64 = 600;
/// Random octets behind `state` and `nonce` (256 bits each).
const STATE_BYTES: usize = 32;
/// Longest `return_to` kept.
pub const MAX_RETURN_TO: usize = 1024;

/// One login in progress, sealed into its cookie between the authorization request and the
/// callback. Not `Clone`: it is consumed once, by the callback.
#[derive(Debug, Serialize, Deserialize)]
pub struct AuthTransaction {
    /// The organisation signing in.
    pub org: OrgSlug,
    /// `state`: binds the callback to this transaction (RFC 6749 10.12, RFC 9700 4.7).
    pub state: Secret,
    /// `nonce`: binds the ID token to this transaction (OIDC Core 3.1.2.1, 3.1.3.7 step 11).
    pub nonce: Secret,
    /// The PKCE code verifier (RFC 7636).
    pub pkce_verifier: PkceVerifier,
    /// Where to send the user afterwards: a same-origin path (see [`sanitize_return_to`]).
    pub return_to: String,
    /// When the login started.
    pub created_at: UnixTime,
    /// The issuer the request was sent to, pinned so a configuration change mid-login cannot
    /// make the callback accept tokens from another IdP.
    pub issuer: IssuerUrl,
    /// Set for an admin's test sign-in ([`crate::core::test_login`]): the callback runs every
    /// check but records nothing and creates no session. Absent in ordinary logins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestLogin>,
}

/// What a test sign-in tests, carried in its sealed transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestLogin {
    /// With the org's staged settings: the digest of the staged config the sign-in was started
    /// with ([`crate::core::staging::StagedConfig::digest`]); the callback refuses another.
    /// `None` tests the active settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staged: Option<String>,
}

/// Starts a login for `org` at `issuer`: fresh 32-byte state, nonce and PKCE verifier;
/// `return_to` is passed through [`sanitize_return_to`].
pub fn begin(
    random: &impl Random,
    clock: &impl Clock,
    org: &OrgSlug,
    issuer: &IssuerUrl,
    return_to: &str,
) -> Result<AuthTransaction, RandomError> {
    Ok(AuthTransaction {
        org: org.clone(),
        state: Secret::new(random.token(STATE_BYTES)?),
        nonce: Secret::new(random.token(STATE_BYTES)?),
        pkce_verifier: PkceVerifier::generate(random)?,
        return_to: sanitize_return_to(return_to),
        created_at: clock.now(),
        issuer: issuer.clone(),
        test: None,
    })
}

/// Parameters this module sets; same-named ones already in the endpoint URL are dropped.
const OUR_PARAMS: [&str; 9] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "login_hint",
];

/// The authorization request (OIDC Core 3.1.2.1, RFC 7636 4.3): authorization code flow with
/// PKCE S256, `state` and `nonce`. Query parameters already in the authorization endpoint are
/// kept (3.1.2.1 allows them) unless they collide with ours, which win. `scope` always starts
/// with `openid` (3.1.2.1: REQUIRED); duplicates and empty entries of `scopes` are dropped.
pub fn authorization_url(
    meta: &ProviderMetadata,
    client_id: &ClientId,
    redirect_uri: &Url,
    scopes: &[String],
    tx: &AuthTransaction,
    login_hint: Option<&str>,
) -> Url {
    let mut url = meta.authorization_endpoint.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !OUR_PARAMS.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();

    let mut scope: Vec<&str> = vec!["openid"];
    for s in scopes {
        if !s.is_empty() && !scope.contains(&s.as_str()) {
            scope.push(s);
        }
    }
    let challenge = tx.pkce_verifier.challenge();

    url.set_query(None);
    {
        let mut q = url.query_pairs_mut();
        q.extend_pairs(kept.iter());
        q.append_pair("response_type", "code")
            .append_pair("client_id", client_id.as_str())
            .append_pair("redirect_uri", redirect_uri.as_str())
            .append_pair("scope", &scope.join(" "))
            .append_pair("state", tx.state.expose())
            .append_pair("nonce", tx.nonce.expose())
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", challenge.method());
        if let Some(hint) = login_hint {
            q.append_pair("login_hint", hint);
        }
    }
    url
}

/// `return_to` if it is a same-origin absolute path, else `/`. Accepted: starts with `/`, not
/// `//` or `/\` (browsers read both as a network-path reference to another host), printable
/// ASCII only (no backslash, whitespace or control characters, which browsers strip or
/// rewrite), at most [`MAX_RETURN_TO`] bytes, and it resolves against an origin without
/// changing that origin. Guards against open redirects (RFC 9700 4.11).
pub fn sanitize_return_to(return_to: &str) -> String {
    let ok = return_to.len() <= MAX_RETURN_TO
        && return_to.starts_with('/')
        && !return_to.starts_with("//")
        && return_to
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'\\')
        && resolves_same_origin(return_to);
    if ok {
        return_to.to_owned()
    } else {
        "/".to_owned()
    }
}

fn resolves_same_origin(path: &str) -> bool {
    let Ok(base) = Url::parse("https://return-to.invalid/") else {
        return false;
    };
    match base.join(path) {
        Ok(u) => u.origin() == base.origin() && u.username().is_empty() && u.password().is_none(),
        Err(_) => false,
    }
}

/// Why the callback's transaction could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxError {
    /// No transaction cookie for this `state` (never started here, or the browser dropped it
    /// after its 10 minutes).
    Unknown,
    /// Older than [`TRANSACTION_TTL_SECS`].
    Expired,
    /// The callback's `state` is not the transaction's.
    StateMismatch,
    /// The cookie does not open: tampered, truncated, sealed by a key we do not hold (another
    /// deployment, or a secret rotated out), or for another cookie name or origin.
    Unsealable,
    /// The cookie opened but its contents do not parse (a format we no longer read).
    Corrupt(String),
    /// The transaction was already spent: a replayed callback.
    Replayed,
    /// The ledger that records spent transactions failed (single use cannot be guaranteed).
    Store(StoreError),
}

impl std::fmt::Display for TxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TxError::Unknown => f.write_str("no login in progress for this browser"),
            TxError::Expired => f.write_str("the login took too long"),
            TxError::StateMismatch => f.write_str("the state parameter does not match"),
            TxError::Unsealable => f.write_str("the transaction cookie does not open"),
            TxError::Corrupt(m) => write!(f, "login transaction is invalid: {m}"),
            TxError::Replayed => f.write_str("the login transaction was already used"),
            TxError::Store(e) => write!(f, "login transaction ledger: {e}"),
        }
    }
}

impl std::error::Error for TxError {}

/// Bound into every sealed transaction (with the cookie's name and the deployment's origin), so
/// no other sealed value of ours, and no other deployment's, opens as a transaction.
const TX_PURPOSE: &str = "edge-sso login transaction v1";

/// Most transaction cookies a browser holds at once: a new sign-in beyond it clears the oldest,
/// so the `Cookie` header stays small however many sign-ins are started.
pub const MAX_TX_COOKIES: usize = 3;

fn tx_aad(origin: &str, cookie_name: &str) -> Vec<u8> {
    format!("{TX_PURPOSE}\0{origin}\0{cookie_name}").into_bytes()
}

/// The login transaction sealed into the value of cookie `cookie_name` (AES-256-GCM, see
/// [`crate::core::seal`]): `/sso/start` stores nothing. `origin` is the deployment's public
/// origin.
pub fn seal_transaction(
    sealer: &Sealer,
    random: &(impl Random + ?Sized),
    origin: &str,
    cookie_name: &str,
    tx: &AuthTransaction,
) -> Result<String, TxError> {
    let json = serde_json::to_vec(tx).map_err(|e| TxError::Corrupt(e.to_string()))?;
    sealer
        .seal(random, &tx_aad(origin, cookie_name), &json)
        .map_err(|e| TxError::Corrupt(e.to_string()))
}

/// The transaction sealed in `value` (the cookie `cookie_name`), for a callback carrying
/// `state_from_query`. Checked in order: it opens under our keys for this name and origin, it
/// parses, it is younger than [`TRANSACTION_TTL_SECS`], and its `state` matches (constant time).
/// Single use is the caller's next step: [`spent_id`] through the org's ledger.
pub fn open_transaction(
    sealer: &Sealer,
    origin: &str,
    cookie_name: &str,
    value: &str,
    state_from_query: &str,
    now: UnixTime,
) -> Result<AuthTransaction, TxError> {
    let tx = open_any(sealer, origin, cookie_name, value)?;
    // The cookie's Max-Age is a request to the browser; the sealed time is the real bound.
    if now >= tx.created_at.plus(TRANSACTION_TTL_SECS) {
        return Err(TxError::Expired);
    }
    // RFC 6749 10.12: the state must match; compared in constant time.
    if !tx.state.ct_eq_str(state_from_query) {
        return Err(TxError::StateMismatch);
    }
    Ok(tx)
}

fn open_any(
    sealer: &Sealer,
    origin: &str,
    cookie_name: &str,
    value: &str,
) -> Result<AuthTransaction, TxError> {
    let json = sealer
        .open(&tx_aad(origin, cookie_name), value)
        .ok_or(TxError::Unsealable)?;
    serde_json::from_slice(&json).map_err(|e| TxError::Corrupt(e.to_string()))
}

/// When the transaction in cookie `cookie_name` started, if the cookie opens (used to clear the
/// oldest when a browser holds [`MAX_TX_COOKIES`]); `None` for a cookie that does not open.
pub fn transaction_started_at(
    sealer: &Sealer,
    origin: &str,
    cookie_name: &str,
    value: &str,
) -> Option<UnixTime> {
    open_any(sealer, origin, cookie_name, value)
        .ok()
        .map(|tx| tx.created_at)
}

/// The id under which the org's ledger remembers a spent transaction: a hash of its `state`,
/// so the ledger never holds the state itself.
pub fn spent_id(state: &str) -> String {
    sha256_hex(format!("edge-sso spent transaction\0{state}").as_bytes())
}

impl AuthTransaction {
    /// When this transaction stops being accepted.
    pub fn expires_at(&self) -> UnixTime {
        self.created_at.plus(TRANSACTION_TTL_SECS)
    }
}

/// The `state` of an authorization response (OIDC Core 3.1.2.5, 3.1.2.6), if it has exactly one
/// non-empty `state` no longer than [`MAX_STATE`]: which transaction cookie the callback is for.
pub fn callback_state(url: &Url) -> Option<String> {
    let mut states = url.query_pairs().filter(|(k, _)| k == "state");
    let state = states.next()?.1;
    if states.next().is_some() || state.is_empty() || state.len() > MAX_STATE {
        return None;
    }
    Some(state.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::clock::FixedClock;
    use crate::core::oidc::discovery::tests::meta;
    use crate::core::random::CountingRandom;

    const ISS: &str = "https://idp.example.com/realms/acme";

    fn acme() -> OrgSlug {
        OrgSlug::parse("acme").unwrap()
    }

    fn iss() -> IssuerUrl {
        IssuerUrl::parse(ISS).unwrap()
    }

    fn client(s: &str) -> ClientId {
        ClientId::parse(s).unwrap()
    }

    fn tx() -> AuthTransaction {
        begin(
            &CountingRandom::default(),
            &FixedClock::at(1_000),
            &acme(),
            &iss(),
            "/admin?x=1",
        )
        .unwrap()
    }

    fn params(u: &Url) -> Vec<(String, String)> {
        u.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn count(u: &Url, name: &str) -> usize {
        u.query_pairs().filter(|(k, _)| k == name).count()
    }

    #[test]
    fn begin_makes_fresh_distinct_values() {
        let t = tx();
        assert_eq!(t.org.as_str(), "acme");
        assert_eq!(t.issuer.as_str(), ISS);
        assert_eq!(t.created_at, UnixTime(1_000));
        assert_eq!(t.return_to, "/admin?x=1");
        assert_eq!(t.state.expose().len(), 43);
        assert_eq!(t.nonce.expose().len(), 43);
        assert_ne!(t.state, t.nonce);
        assert_ne!(t.state.expose(), t.pkce_verifier.secret());
    }

    #[test]
    fn begin_sanitizes_return_to() {
        let t = begin(
            &CountingRandom::default(),
            &FixedClock::at(0),
            &acme(),
            &iss(),
            "https://evil.example/",
        )
        .unwrap();
        assert_eq!(t.return_to, "/");
    }

    #[test]
    fn begin_fails_closed_on_random_failure() {
        struct Broken;
        impl Random for Broken {
            fn fill(&self, _: &mut [u8]) -> Result<(), RandomError> {
                Err(RandomError)
            }
        }
        assert!(begin(&Broken, &FixedClock::at(0), &acme(), &iss(), "/").is_err());
    }

    #[test]
    fn debug_redacts_secrets() {
        let t = tx();
        let d = format!("{t:?}");
        assert!(!d.contains(t.state.expose()));
        assert!(!d.contains(t.nonce.expose()));
        assert!(!d.contains(t.pkce_verifier.secret()));
    }

    #[test]
    fn authorization_url_has_all_parameters() {
        let t = tx();
        let redirect = Url::parse("https://sso.example.net/callback").unwrap();
        let u = authorization_url(
            &meta(),
            &client("client-1"),
            &redirect,
            &["email".into(), "openid".into(), "profile".into(), "".into()],
            &t,
            Some("jo@acme.example"),
        );
        assert!(u
            .as_str()
            .starts_with("https://idp.example.com/realms/acme/auth?"));
        let p = params(&u);
        let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("client_id"), Some("client-1"));
        assert_eq!(
            get("redirect_uri"),
            Some("https://sso.example.net/callback")
        );
        assert_eq!(get("scope"), Some("openid email profile"));
        assert_eq!(get("state"), Some(t.state.expose()));
        assert_eq!(get("nonce"), Some(t.nonce.expose()));
        assert_eq!(
            get("code_challenge"),
            Some(t.pkce_verifier.challenge().as_str())
        );
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(get("login_hint"), Some("jo@acme.example"));
        // The verifier itself never appears.
        assert!(!u.as_str().contains(t.pkce_verifier.secret()));
    }

    #[test]
    fn authorization_url_without_hint_adds_openid() {
        let t = tx();
        let redirect = Url::parse("https://sso.example.net/callback").unwrap();
        let u = authorization_url(&meta(), &client("c"), &redirect, &[], &t, None);
        assert_eq!(count(&u, "login_hint"), 0);
        assert!(params(&u).contains(&("scope".into(), "openid".into())));
    }

    #[test]
    fn authorization_url_keeps_endpoint_query_without_duplicates() {
        let t = tx();
        let mut m = meta();
        m.authorization_endpoint = Url::parse(
            "https://login.example.com/authorize?p=B2C_1_signin&state=evil&scope=x&client_id=y",
        )
        .unwrap();
        let redirect = Url::parse("https://sso.example.net/callback").unwrap();
        let u = authorization_url(&m, &client("client-1"), &redirect, &[], &t, None);
        assert!(params(&u).contains(&("p".into(), "B2C_1_signin".into())));
        for name in OUR_PARAMS.iter().filter(|n| **n != "login_hint") {
            assert_eq!(count(&u, name), 1, "{name}");
        }
        assert!(params(&u).contains(&("state".into(), t.state.expose().into())));
        assert!(params(&u).contains(&("client_id".into(), "client-1".into())));
    }

    #[test]
    fn return_to_accepts_same_origin_paths() {
        for ok in [
            "/",
            "/admin",
            "/a/b?c=d&e=f#g",
            "/%2F%2Fevil.example",
            "/a//b",
        ] {
            assert_eq!(sanitize_return_to(ok), ok);
        }
    }

    #[test]
    fn return_to_rejects_everything_else() {
        let long = format!("/{}", "a".repeat(MAX_RETURN_TO));
        for bad in [
            "",
            "admin",
            "//evil.example/",
            "/\\evil.example",
            "/a\\b",
            "https://evil.example/",
            "javascript:alert(1)",
            "/a b",
            "/a\tb",
            "/\t/evil.example",
            "/a\nb",
            "/a\u{0}b",
            "/caf\u{e9}",
            " /a",
            long.as_str(),
        ] {
            assert_eq!(sanitize_return_to(bad), "/", "{bad:?}");
        }
        assert_eq!(
            sanitize_return_to(&long[..MAX_RETURN_TO]),
            &long[..MAX_RETURN_TO]
        );
    }

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const OTHER_KEY: &str = "HxkZGBcWFRQTEhEQDw4NDAsKCQgHBgUEAwIBAAECAwQ";
    const ORIGIN: &str = "https://sso.example.net";
    const NAME: &str = "__Host-sso_tx_01234567";

    fn sealer() -> Sealer {
        Sealer::from_secrets(KEY, None).unwrap()
    }

    fn sealed(t: &AuthTransaction) -> String {
        seal_transaction(&sealer(), &CountingRandom::default(), ORIGIN, NAME, t).unwrap()
    }

    #[test]
    fn seal_then_open() {
        let t = tx();
        let v = sealed(&t);
        // Nothing of the transaction is readable in the cookie.
        for secret in [
            t.state.expose(),
            t.nonce.expose(),
            t.pkce_verifier.secret(),
            "acme",
        ] {
            assert!(!v.contains(secret));
        }
        let back = open_transaction(
            &sealer(),
            ORIGIN,
            NAME,
            &v,
            t.state.expose(),
            UnixTime(1_000),
        )
        .unwrap();
        assert_eq!(back.org.as_str(), "acme");
        assert_eq!(back.issuer, t.issuer);
        assert_eq!(back.pkce_verifier, t.pkce_verifier);
        assert_eq!(back.nonce, t.nonce);
        assert_eq!(back.return_to, "/admin?x=1");
        assert_eq!(back.expires_at(), UnixTime(1_600));
        assert_eq!(
            transaction_started_at(&sealer(), ORIGIN, NAME, &v),
            Some(UnixTime(1_000))
        );
    }

    #[test]
    fn open_refuses_each_kind_of_bad_cookie() {
        let t = tx();
        let state = t.state.expose().to_owned();
        let v = sealed(&t);
        let open = |s: &Sealer, origin: &str, name: &str, v: &str, state: &str, now: u64| {
            open_transaction(s, origin, name, v, state, UnixTime(now)).unwrap_err()
        };
        let s = sealer();
        // Tampered: one character changed.
        let mut bytes = v.clone().into_bytes();
        bytes[20] = if bytes[20] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            open(&s, ORIGIN, NAME, &tampered, &state, 1_000),
            TxError::Unsealable
        );
        // Foreign: another key, another deployment, another cookie name.
        let foreign = Sealer::from_secrets(OTHER_KEY, None).unwrap();
        assert_eq!(
            open(&foreign, ORIGIN, NAME, &v, &state, 1_000),
            TxError::Unsealable
        );
        assert_eq!(
            open(&s, "https://other.example", NAME, &v, &state, 1_000),
            TxError::Unsealable
        );
        assert_eq!(
            open(&s, ORIGIN, "__Host-sso_tx_89abcdef", &v, &state, 1_000),
            TxError::Unsealable
        );
        // Expired at exactly TRANSACTION_TTL_SECS; accepted one second before.
        assert_eq!(open(&s, ORIGIN, NAME, &v, &state, 1_600), TxError::Expired);
        assert!(open_transaction(&s, ORIGIN, NAME, &v, &state, UnixTime(1_599)).is_ok());
        // Another state.
        assert_eq!(
            open(&s, ORIGIN, NAME, &v, "wrong", 1_000),
            TxError::StateMismatch
        );
        assert_eq!(
            open(&s, ORIGIN, NAME, &v, "", 1_000),
            TxError::StateMismatch
        );
        // Sealed by us, but not a transaction.
        let junk = s
            .seal(&CountingRandom::default(), &tx_aad(ORIGIN, NAME), b"{}")
            .unwrap();
        assert!(matches!(
            open(&s, ORIGIN, NAME, &junk, &state, 1_000),
            TxError::Corrupt(_)
        ));
        assert_eq!(transaction_started_at(&s, ORIGIN, NAME, &tampered), None);
    }

    #[test]
    fn rotation_opens_cookies_sealed_with_the_previous_secret() {
        let t = tx();
        let before = seal_transaction(
            &Sealer::from_secrets(OTHER_KEY, None).unwrap(),
            &CountingRandom::default(),
            ORIGIN,
            NAME,
            &t,
        )
        .unwrap();
        let rotated = Sealer::from_secrets(KEY, Some(OTHER_KEY)).unwrap();
        assert!(open_transaction(
            &rotated,
            ORIGIN,
            NAME,
            &before,
            t.state.expose(),
            UnixTime(1_000)
        )
        .is_ok());
        // Once the previous secret is dropped, they no longer open.
        assert_eq!(
            open_transaction(
                &sealer(),
                ORIGIN,
                NAME,
                &before,
                t.state.expose(),
                UnixTime(1_000)
            )
            .unwrap_err(),
            TxError::Unsealable
        );
    }

    #[test]
    fn the_largest_transaction_fits_in_a_cookie() {
        let issuer = format!(
            "https://{}.example/",
            "i".repeat(crate::core::oidc::issuer::MAX_ISSUER_CHARS - 30)
        );
        let issuer = IssuerUrl::parse(&issuer).unwrap();
        let org = OrgSlug::parse(&"a".repeat(63)).unwrap_or_else(|_| acme());
        // `"` is allowed in return_to and doubles in JSON: the worst case.
        let rt = format!("/{}", "\"".repeat(MAX_RETURN_TO - 1));
        let t = begin(
            &CountingRandom::default(),
            &FixedClock::at(u64::MAX / 2),
            &org,
            &issuer,
            &rt,
        )
        .unwrap();
        assert_eq!(t.return_to, rt);
        let v = sealed(&t);
        assert!(
            NAME.len() + v.len() <= crate::core::cookie::MAX_COOKIE_BYTES,
            "{}",
            v.len()
        );
    }

    #[test]
    fn reads_records_in_the_stored_format() {
        // The sealed JSON: plain strings, as the KV records were before the slug and issuer
        // became newtypes.
        let verifier = "v".repeat(43);
        let json = format!(
            r#"{{"org":"acme","state":"s","nonce":"n","pkce_verifier":"{verifier}","return_to":"/x","created_at":1000,"issuer":"{ISS}"}}"#
        );
        let t: AuthTransaction = crate::core::json::from_str(&json).unwrap();
        assert_eq!(t.org, acme());
        assert_eq!(t.issuer, iss());
        // And it is still written that way.
        let back: serde_json::Value = serde_json::to_value(&t).unwrap();
        let want: serde_json::Value = crate::core::json::from_str(&json).unwrap();
        assert_eq!(back, want);
        // A record whose slug or issuer no longer validates is refused as a whole.
        let bad = json.replace("\"acme\"", "\"Acme\"");
        assert!(crate::core::json::from_str::<AuthTransaction>(&bad).is_err());
    }

    #[test]
    fn spent_ids_hide_the_state() {
        let a = spent_id("state-a");
        assert_eq!(a.len(), 64);
        assert_eq!(a, spent_id("state-a"));
        assert_ne!(a, spent_id("state-b"));
        assert!(!a.contains("state-a"));
    }

    #[test]
    fn callback_state_reads_one_state() {
        let u = |q: &str| Url::parse(&format!("https://h/sso/callback?{q}")).unwrap();
        assert_eq!(callback_state(&u("code=c&state=s1")).as_deref(), Some("s1"));
        assert_eq!(
            callback_state(&u("error=x&state=s%202")).as_deref(),
            Some("s 2")
        );
        assert_eq!(callback_state(&u("code=c")), None);
        assert_eq!(callback_state(&u("state=")), None);
        assert_eq!(callback_state(&u("state=a&state=b")), None);
        let long = "s".repeat(MAX_STATE + 1);
        assert_eq!(callback_state(&u(&format!("state={long}"))), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Arbitrary cookie values never panic the opener.
        #[test]
        fn open_transaction_never_panics(v in "[A-Za-z0-9_=-]{0,700}", state in "[ -~]{0,60}") {
            let _ = open_transaction(&sealer(), ORIGIN, NAME, &v, &state, UnixTime(1_000));
        }
    }

    /// The accept rule of [`sanitize_return_to`] written as a pattern, without the URL parser:
    /// `/`, then not `/` or `\`, then printable ASCII except `\`, at most [`MAX_RETURN_TO`]
    /// bytes.
    fn return_to_model(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() <= MAX_RETURN_TO
            && b.first() == Some(&b'/')
            && !matches!(b.get(1), Some(b'/' | b'\\'))
            && b.iter().all(|&c| (b'!'..=b'~').contains(&c) && c != b'\\')
    }

    /// `return_to`-shaped text: a prefix (same-origin, network-path, scheme, whitespace) and
    /// tokens that browsers treat specially.
    fn near_return_to() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let prefix = prop::sample::select(vec![
            "/",
            "/",
            "//",
            "/\\",
            "",
            "https:",
            "javascript:",
            " /",
            "/\t/",
            "\\",
            "%2F",
            "/.",
        ]);
        let tok = prop::sample::select(vec![
            "a",
            "..",
            ".",
            "/",
            "?",
            "#",
            "&x=1",
            "%2F",
            "%0a",
            "@",
            ":",
            "evil.example",
            "\\",
            " ",
            "\t",
            "\n",
            "\r",
            "\u{0}",
            "\u{7f}",
            "é",
            "\"",
            "~",
            "//",
            "/..//",
            "\u{3000}",
        ]);
        let pad = prop::sample::select(vec![0usize, 0, 0, 1000, MAX_RETURN_TO - 1]);
        (prefix, prop::collection::vec(tok, 0..8), pad)
            .prop_map(|(p, t, n)| format!("{p}{}{}", t.concat(), "a".repeat(n)))
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            /// The sanitizer's decision is the model's; what it returns is a fixed point,
            /// same-origin, and within the cap.
            #[test]
            fn return_to_agrees_with_a_model(s in prop_oneof![near_return_to(), any::<String>()]) {
                let out = sanitize_return_to(&s);
                let want = if return_to_model(&s) { s.clone() } else { "/".to_owned() };
                prop_assert_eq!(&out, &want, "{:?}", s);
                prop_assert_eq!(sanitize_return_to(&out), out.clone());
                prop_assert!(out.len() <= MAX_RETURN_TO && out.starts_with('/'));
                let base = Url::parse(ORIGIN).unwrap();
                prop_assert_eq!(base.join(&out).unwrap().origin(), base.origin());
            }

            /// `callback_state` reads exactly one non-empty, capped `state`, as a naive reading
            /// of the decoded pairs does.
            #[test]
            fn callback_state_agrees_with_a_model(
                pairs in prop::collection::vec(
                    (prop::sample::select(vec!["state", "code", "State", "state ", "iss"]),
                     prop_oneof!["[ -~é]{0,12}", Just("s".repeat(MAX_STATE)), Just("s".repeat(MAX_STATE + 1))]),
                    0..4),
            ) {
                let mut u = Url::parse("https://sso.example.net/sso/callback").unwrap();
                u.query_pairs_mut().extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
                let states: Vec<&String> = pairs.iter().filter(|(k, _)| *k == "state").map(|(_, v)| v).collect();
                let want = match states.as_slice() {
                    [v] if !v.is_empty() && v.len() <= MAX_STATE => Some((*v).clone()),
                    _ => None,
                };
                prop_assert_eq!(callback_state(&u), want);
            }

            /// A sealed transaction changed anywhere (a character replaced, inserted or removed,
            /// truncated, extended) never opens; the intact one opens exactly for its own state
            /// and before it expires.
            #[test]
            fn tampered_transactions_never_open(
                at in any::<prop::sample::Index>(),
                edit in 0u8..4,
                c in prop::sample::select(b"AQgw_-09azAZ=.%".to_vec()),
                state in prop_oneof![Just(None), "[ -~]{0,50}".prop_map(Some)],
                now in prop_oneof![0u64..3_000, Just(1_599u64), Just(1_600u64)],
            ) {
                let t = tx();
                let v = sealed(&t);
                let i = at.index(v.len());
                let mut m = v.clone().into_bytes();
                match edit {
                    0 => m[i] = c,
                    1 => m.insert(i, c),
                    2 => { m.remove(i); }
                    _ => m.truncate(i),
                }
                let m = String::from_utf8(m).unwrap();
                let real = t.state.expose().to_owned();
                let state = state.unwrap_or(real.clone());
                let got = open_transaction(&sealer(), ORIGIN, NAME, &m, &state, UnixTime(now));
                if m != v {
                    prop_assert_eq!(got.unwrap_err(), TxError::Unsealable, "{} -> {}", v, m);
                    prop_assert_eq!(transaction_started_at(&sealer(), ORIGIN, NAME, &m), None);
                } else {
                    let want_ok = state == real && now < 1_600;
                    prop_assert_eq!(got.is_ok(), want_ok);
                }
            }
        }
    }
}
