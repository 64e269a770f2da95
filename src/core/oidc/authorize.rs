//! The start of a login: the [`AuthTransaction`] (state, nonce, PKCE verifier), the
//! authorization request URL (OIDC Core 3.1.2.1) and the single-use transaction store.

use crate::core::clock::{Clock, UnixTime};
use crate::core::oidc::discovery::ProviderMetadata;
use crate::core::oidc::issuer::IssuerUrl;
use crate::core::oidc::pkce::PkceVerifier;
use crate::core::org::{ClientId, OrgSlug};
use crate::core::random::{Random, RandomError};
use crate::core::secret::{sha256_hex, Secret};
use crate::core::store::{KvStore, StoreError};
use serde::{Deserialize, Serialize};
use url::Url;

/// How long a login may take between the redirect to the IdP and the callback.
pub const TRANSACTION_TTL_SECS: u64 = 600;
/// Random octets behind `state` and `nonce` (256 bits each).
const STATE_BYTES: usize = 32;
/// Longest `return_to` kept.
pub const MAX_RETURN_TO: usize = 1024;

/// One login in progress, stored in KV between the authorization request and the callback.
/// Not `Clone`: it is consumed once, by [`TransactionStore::take`].
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

/// Why the callback's transaction could not be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxError {
    /// No transaction for this binding cookie (never started, already used, or KV expired).
    Unknown,
    /// Older than [`TRANSACTION_TTL_SECS`].
    Expired,
    /// The callback's `state` is not the transaction's.
    StateMismatch,
    /// The stored record does not parse.
    Corrupt(String),
    /// The store failed (on `take`, including the delete: single use cannot be guaranteed).
    Store(StoreError),
}

impl std::fmt::Display for TxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TxError::Unknown => f.write_str("no login in progress for this browser"),
            TxError::Expired => f.write_str("the login took too long"),
            TxError::StateMismatch => f.write_str("the state parameter does not match"),
            TxError::Corrupt(m) => write!(f, "stored login transaction is invalid: {m}"),
            TxError::Store(e) => write!(f, "login transaction store: {e}"),
        }
    }
}

impl std::error::Error for TxError {}

/// Login transactions in KV under `tx:{sha256_hex(binding_id)}`. The binding id is a random
/// value the app keeps in an HttpOnly cookie, so a callback is accepted only in the browser
/// that started the login (RFC 9700 4.7.1), and the KV key reveals nothing usable.
///
/// Workers KV is eventually consistent: a delete may take up to ~60 s to reach other
/// locations. Single use is therefore strict within a location; across locations it is backed
/// by the binding cookie, PKCE and the IdP's single-use codes.
#[derive(Debug)]
pub struct TransactionStore<S: KvStore> {
    store: S,
}

fn tx_key(binding_id: &Secret) -> String {
    format!("tx:{}", sha256_hex(binding_id.expose().as_bytes()))
}

impl<S: KvStore> TransactionStore<S> {
    /// A transaction store over `store`.
    pub fn new(store: S) -> Self {
        TransactionStore { store }
    }

    /// Stores `tx` for the browser holding `binding_id`, for [`TRANSACTION_TTL_SECS`].
    pub async fn save(&self, tx: &AuthTransaction, binding_id: &Secret) -> Result<(), TxError> {
        let text = serde_json::to_string(tx).map_err(|e| TxError::Corrupt(e.to_string()))?;
        self.store
            .put(&tx_key(binding_id), &text, Some(TRANSACTION_TTL_SECS))
            .await
            .map_err(TxError::Store)
    }

    /// Takes the transaction of `binding_id` for a callback carrying `state_from_query`.
    /// The record is deleted before any check, so a failed attempt also burns it.
    pub async fn take(
        &self,
        binding_id: &Secret,
        state_from_query: &str,
        now: UnixTime,
    ) -> Result<AuthTransaction, TxError> {
        let key = tx_key(binding_id);
        let text = self
            .store
            .get(&key)
            .await
            .map_err(TxError::Store)?
            .ok_or(TxError::Unknown)?;
        self.store.delete(&key).await.map_err(TxError::Store)?;
        let tx: AuthTransaction =
            serde_json::from_str(&text).map_err(|e| TxError::Corrupt(e.to_string()))?;
        // KV's TTL is a floor on deletion, not an exact expiry: check the age ourselves.
        if now >= tx.created_at.plus(TRANSACTION_TTL_SECS) {
            return Err(TxError::Expired);
        }
        // RFC 6749 10.12: the state must match; compared in constant time.
        if !tx.state.ct_eq_str(state_from_query) {
            return Err(TxError::StateMismatch);
        }
        Ok(tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::clock::FixedClock;
    use crate::core::oidc::discovery::tests::meta;
    use crate::core::random::CountingRandom;
    use crate::core::store::{block_on, MemoryStore};

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

    fn stored() -> (FixedClock, Secret) {
        (FixedClock::at(1_000), Secret::new("binding-cookie-value"))
    }

    #[test]
    fn save_then_take_once() {
        let (clock, binding) = stored();
        let ts = TransactionStore::new(MemoryStore::new(&clock));
        let t = tx();
        let state = t.state.expose().to_owned();
        block_on(ts.save(&t, &binding)).unwrap();
        let key = format!("tx:{}", sha256_hex(b"binding-cookie-value"));
        assert!(block_on(ts.store.get(&key)).unwrap().is_some());
        let back = block_on(ts.take(&binding, &state, clock.now())).unwrap();
        assert_eq!(back.org.as_str(), "acme");
        assert_eq!(back.pkce_verifier, t.pkce_verifier);
        assert_eq!(
            block_on(ts.take(&binding, &state, clock.now())).unwrap_err(),
            TxError::Unknown
        );
    }

    #[test]
    fn reads_records_in_the_stored_format() {
        // A transaction as written before the slug and issuer became newtypes: plain strings.
        let verifier = "v".repeat(43);
        let json = format!(
            r#"{{"org":"acme","state":"s","nonce":"n","pkce_verifier":"{verifier}","return_to":"/x","created_at":1000,"issuer":"{ISS}"}}"#
        );
        let t: AuthTransaction = serde_json::from_str(&json).unwrap();
        assert_eq!(t.org, acme());
        assert_eq!(t.issuer, iss());
        // And it is still written that way.
        let back: serde_json::Value = serde_json::to_value(&t).unwrap();
        let want: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back, want);
        // A record whose slug or issuer no longer validates is refused as a whole.
        let bad = json.replace("\"acme\"", "\"Acme\"");
        assert!(serde_json::from_str::<AuthTransaction>(&bad).is_err());
    }

    #[test]
    fn take_unknown_binding() {
        let (clock, binding) = stored();
        let ts = TransactionStore::new(MemoryStore::new(&clock));
        let t = tx();
        block_on(ts.save(&t, &binding)).unwrap();
        assert_eq!(
            block_on(ts.take(&Secret::new("other"), t.state.expose(), clock.now())).unwrap_err(),
            TxError::Unknown
        );
    }

    #[test]
    fn take_expired_burns_it() {
        let (clock, binding) = stored();
        let ts = TransactionStore::new(MemoryStore::new(&clock));
        let t = tx();
        block_on(ts.save(&t, &binding)).unwrap();
        let late = t.created_at.plus(TRANSACTION_TTL_SECS);
        assert_eq!(
            block_on(ts.take(&binding, t.state.expose(), late)).unwrap_err(),
            TxError::Expired
        );
        assert_eq!(
            block_on(ts.take(&binding, t.state.expose(), clock.now())).unwrap_err(),
            TxError::Unknown
        );
        // One second earlier it would have been accepted.
        block_on(ts.save(&t, &binding)).unwrap();
        assert!(block_on(ts.take(&binding, t.state.expose(), UnixTime(late.0 - 1))).is_ok());
    }

    #[test]
    fn take_state_mismatch_burns_it() {
        let (clock, binding) = stored();
        let ts = TransactionStore::new(MemoryStore::new(&clock));
        let t = tx();
        block_on(ts.save(&t, &binding)).unwrap();
        assert_eq!(
            block_on(ts.take(&binding, "wrong", clock.now())).unwrap_err(),
            TxError::StateMismatch
        );
        assert_eq!(
            block_on(ts.take(&binding, t.state.expose(), clock.now())).unwrap_err(),
            TxError::Unknown
        );
        block_on(ts.save(&t, &binding)).unwrap();
        assert_eq!(
            block_on(ts.take(&binding, "", clock.now())).unwrap_err(),
            TxError::StateMismatch
        );
    }

    #[test]
    fn take_corrupt_record() {
        let (clock, binding) = stored();
        let ts = TransactionStore::new(MemoryStore::new(&clock));
        block_on(ts.store.put(&tx_key(&binding), "{}", None)).unwrap();
        assert!(matches!(
            block_on(ts.take(&binding, "s", clock.now())),
            Err(TxError::Corrupt(_))
        ));
        assert!(ts.store.snapshot().is_empty());
    }

    #[test]
    fn take_fails_closed_when_delete_fails() {
        /// Reads and writes work, deletes fail.
        struct NoDelete<'a>(&'a MemoryStore<&'a FixedClock>);
        impl KvStore for NoDelete<'_> {
            async fn get(&self, k: &str) -> Result<Option<String>, StoreError> {
                self.0.get(k).await
            }
            async fn put(&self, k: &str, v: &str, t: Option<u64>) -> Result<(), StoreError> {
                self.0.put(k, v, t).await
            }
            async fn delete(&self, _: &str) -> Result<(), StoreError> {
                Err(StoreError("down".into()))
            }
            async fn list(&self, p: &str, l: usize) -> Result<Vec<String>, StoreError> {
                self.0.list(p, l).await
            }
        }
        let (clock, binding) = stored();
        let mem = MemoryStore::new(&clock);
        let ts = TransactionStore::new(NoDelete(&mem));
        let t = tx();
        block_on(ts.save(&t, &binding)).unwrap();
        assert!(matches!(
            block_on(ts.take(&binding, t.state.expose(), clock.now())),
            Err(TxError::Store(_))
        ));
    }

    #[test]
    fn store_failures() {
        let (clock, binding) = stored();
        let ts = TransactionStore::new(MemoryStore::new(&clock));
        let t = tx();
        ts.store.fail.set(true);
        assert!(matches!(
            block_on(ts.save(&t, &binding)),
            Err(TxError::Store(_))
        ));
        assert!(matches!(
            block_on(ts.take(&binding, t.state.expose(), clock.now())),
            Err(TxError::Store(_))
        ));
    }
}
